/*
 * engine.h - signature databases and the compiled engine.
 *
 * A kh_engine holds one signature set: ClamAV-format hash signatures (.hdb, .hsb), body
 * signatures (.ndb), logical signatures (.ldb), allow-lists (.fp, .sfp), ignore lists (.ign2), YARA rules (.yar,
 * .yara, compiled .yarc) and ClamAV's signed containers of those (.cvd, .cld, .cud). Lifecycle:
 *
 *   kh_engine_create -> kh_engine_load (any number of files or directories)
 *                    -> kh_engine_compile -> (scan with kh_scanner, see scan.h)
 *                    -> kh_engine_release
 *
 * After kh_engine_compile the engine is immutable and may be shared by any number of threads,
 * each with its own kh_scanner. The engine is reference counted: kh_engine_retain adds a
 * reference, kh_engine_release drops one; the last release frees it. Scanners hold a reference,
 * so a new engine can replace an old one while scans with the old one finish.
 */
#ifndef KHIEN_ENGINE_H
#define KHIEN_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kh_engine kh_engine;

typedef enum kh_diag_level {
    KH_DIAG_ERROR = 0, /* a line or file was rejected; the rest loads */
    KH_DIAG_SKIP = 1,  /* a valid line that this version cannot use yet (counted, not loaded) */
    KH_DIAG_INFO = 2,  /* progress: cache hits, compile times */
} kh_diag_level;

/* Diagnostics callback. file is the database file (borrowed, may be NULL), line is 1-based
 * (0 = whole file), msg is a borrowed, NUL-terminated English sentence. */
typedef void (*kh_diag_fn)(void *ud, kh_diag_level level, const char *file, unsigned line,
                           const char *msg);

typedef struct kh_engine_opts {
    const char *cache_dir; /* compiled-database cache directory (copied); NULL = no cache */
    const char *trust_dir; /* publisher keys (copied): *.cvdkey for ClamAV .cvd headers;
                              NULL = none, .cvd signatures are then reported unverified */
    kh_diag_fn diag;       /* may be NULL */
    void *diag_ud;
} kh_engine_opts;

typedef struct kh_engine_stats {
    uint32_t hash_sigs;     /* .hdb/.hsb entries loaded */
    uint32_t body_sigs;     /* .ndb entries loaded */
    uint32_t logical_sigs;  /* .ldb logical signatures loaded */
    uint32_t yara_rules;    /* YARA rules loaded (fast path and libyara together) */
    uint32_t yara_fast;     /* of those, hex-only rules run in the Vectorscan pass */
    uint32_t fp_sigs;       /* .fp/.sfp allow-list entries */
    uint32_t ignored;       /* signatures dropped by .ign2 */
    uint32_t rejected;      /* malformed lines */
    uint32_t skipped;       /* valid lines not usable by this version */
    uint32_t files;         /* database files read */
    uint32_t containers;    /* .cvd/.cld/.cud files loaded */
    int cache_hit;          /* 1 if the compiled body database came from the cache */
    double compile_seconds; /* time spent in kh_engine_compile */
    uint32_t section_sigs;  /* .mdb/.msb PE section hash entries loaded */
} kh_engine_stats;

/* Fill *out with defaults (no cache, no diagnostics callback). */
KH_API void kh_engine_opts_default(kh_engine_opts *out);

/* Create an empty engine. opts may be NULL for defaults; its strings are copied.
 * Returns KH_OK, KH_ENOMEM. *out_engine is owned by the caller (release it). */
KH_API kh_err kh_engine_create(const kh_engine_opts *opts, kh_engine **out_engine);

/* Load signatures from path: a database file (by extension: .hdb .hsb .ndb .ldb .fp .sfp .ign2
 * .yar .yara .yarc .cvd .cld .cud) or a
 * directory (its files of known extensions, in name order, not recursive). Malformed lines are
 * reported through the diag callback with file and line, and skipped. Returns KH_OK when the
 * path was read (even if some lines were rejected), KH_ENOENT, KH_EACCES, KH_EIO, KH_EFORMAT (a
 * file of unknown extension named directly), KH_ESTATE (already compiled), KH_ENOMEM. */
KH_API kh_err kh_engine_load(kh_engine *engine, const char *path);

/* Load one database from memory, as if read from a file called name (its extension picks the
 * format). data is borrowed. Same returns as kh_engine_load. */
KH_API kh_err kh_engine_load_mem(kh_engine *engine, const char *name, const void *data,
                                 size_t len);

/* Compile what was loaded. Body signatures go into one Vectorscan database, taken from the
 * cache directory when a database for the same signature set is there, else compiled and
 * stored. Returns KH_OK, KH_ENOSIGS (nothing loaded), KH_EMATCHER, KH_ENOMEM, KH_ESTATE. */
KH_API kh_err kh_engine_compile(kh_engine *engine);

/* Copy counters into *out. */
KH_API void kh_engine_get_stats(const kh_engine *engine, kh_engine_stats *out);

KH_API void kh_engine_retain(kh_engine *engine);
/* Drop one reference; NULL is accepted. */
KH_API void kh_engine_release(kh_engine *engine);

/* ---- reloading while scans run ----
 * A slot holds the engine in use. Scanning threads acquire it (a reference of their own) for
 * each scan or batch; replacing it makes new acquisitions see the new engine at once, while
 * scans that hold the old one finish with it; the old engine is freed when the last of them
 * releases it. So a database update never leaves a gap in protection. */
typedef struct kh_engine_slot kh_engine_slot;

/* initial is retained (the caller keeps its own reference). KH_OK, KH_ENOMEM, KH_EINVAL. */
KH_API kh_err kh_engine_slot_create(kh_engine *initial, kh_engine_slot **out_slot);
/* The current engine with a new reference: release it with kh_engine_release. */
KH_API kh_engine *kh_engine_slot_acquire(kh_engine_slot *slot);
/* Put next (retained) in the slot and drop the slot's reference to the previous one. */
KH_API void kh_engine_slot_replace(kh_engine_slot *slot, kh_engine *next);
/* How many times the engine was replaced: a scanner made on generation g is stale after. */
KH_API uint64_t kh_engine_slot_generation(kh_engine_slot *slot);
/* Free the slot (its reference to the engine is dropped); NULL accepted. */
KH_API void kh_engine_slot_destroy(kh_engine_slot *slot);

#ifdef __cplusplus
}
#endif
#endif
