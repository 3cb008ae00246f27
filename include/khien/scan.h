/*
 * scan.h - scanning files and buffers with a compiled engine.
 *
 * A kh_scanner is one thread's scanning context: it holds the matcher scratch space and
 * buffers, and a reference to its engine. Scanners are cheap; make one per worker thread and
 * never share one between threads at the same time.
 *
 * A scan walks the object and everything inside it (archive members, compressed streams),
 * recursively and within kh_limits, and reports each finding through a kh_event callback.
 * Objects inside others are named by their layered path: "a.zip//dir/b.exe".
 */
#ifndef KHIEN_SCAN_H
#define KHIEN_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kh_scanner kh_scanner;

/* Bounds against archive bombs and runaway work. 0 means "no limit" for every field. */
typedef struct kh_limits {
    uint32_t max_depth;      /* container nesting (the file itself is depth 0); default 16 */
    uint64_t max_filesize;   /* largest member extracted and scanned; default 100 MiB */
    uint64_t max_scansize;   /* bytes extracted from one top-level file in all; default 400 MiB */
    uint32_t max_files;      /* members taken from one top-level file; default 10000 */
    uint32_t max_ratio;      /* extracted / compressed bytes of one container; default 250 */
    uint64_t ratio_min_bytes;/* the ratio is checked only past this many bytes; default 16 MiB */
    uint32_t max_scantime;   /* milliseconds for one top-level file and all its layers, checked
                                before each object and each 1 MiB read; default 120000 */
} kh_limits;

KH_API void kh_limits_default(kh_limits *out);

enum {
    KH_SCAN_ALLMATCH = 1u << 0,        /* keep going after the first detection */
    KH_SCAN_NO_ARCHIVE = 1u << 1,      /* do not open containers */
    KH_SCAN_ALERT_ENCRYPTED = 1u << 2, /* an encrypted member is a detection, not a warning */
    KH_SCAN_ALERT_EXCEEDS = 1u << 3,   /* any limit hit is a detection, not a warning */
    KH_SCAN_DESCRIBE = 1u << 4,        /* also report KH_EVENT_INFO events describing objects */
};

typedef struct kh_scan_opts {
    kh_limits limits;
    unsigned flags;      /* KH_SCAN_* */
    const char *tmp_dir; /* where large members spill to disk (copied); NULL = $TMPDIR or /tmp */
} kh_scan_opts;

KH_API void kh_scan_opts_default(kh_scan_opts *out);

typedef enum kh_event_kind {
    KH_EVENT_DETECTION = 0, /* a signature or heuristic matched */
    KH_EVENT_WARNING = 1,   /* something inside was not fully scanned (limit, encryption, damage) */
    KH_EVENT_INFO = 2,      /* a description of an object, not a finding (KH_SCAN_DESCRIBE only):
                               name says what is described ("PE"), sig_kind means nothing */
} kh_event_kind;

typedef enum kh_sig_kind {
    KH_SIG_HASH = 0,      /* .hdb/.hsb whole-object hash */
    KH_SIG_BODY = 1,      /* .ndb body pattern */
    KH_SIG_HEURISTIC = 2, /* Heuristics.*: limits, encryption */
    KH_SIG_YARA = 3,      /* a YARA rule (named YARA.<rule>) */
} kh_sig_kind;

/* One metadata item of a rule (YARA "meta:" section: author, description, reference...). */
typedef struct kh_meta {
    const char *key;
    const char *value; /* integers and booleans as text */
} kh_meta;

/* A Windows executable's headers (KH_EVENT_INFO named "PE"), one per PE object or layer. */
typedef struct kh_pe_info {
    int pe32plus;         /* 0: PE32, 1: PE32+ (64-bit) */
    int dll;              /* the COFF header's IMAGE_FILE_DLL flag is set */
    uint16_t machine;     /* COFF Machine: 0x14c i386, 0x8664 AMD64, 0xaa64 ARM64, ... */
    uint16_t nsections;   /* NumberOfSections */
    uint32_t entry_point; /* AddressOfEntryPoint, an RVA */
} kh_pe_info;

typedef struct kh_event {
    kh_event_kind kind;
    kh_sig_kind sig_kind;
    const char *object; /* layered path of the object, borrowed for the callback only */
    const char *name;   /* signature or heuristic name, borrowed */
    const char *detail; /* English explanation for warnings and heuristics, or NULL; borrowed */
    uint32_t depth;     /* 0 = the scanned file itself */
    const kh_meta *meta; /* rule metadata (YARA), borrowed; NULL when nmeta is 0 */
    size_t nmeta;
    const kh_pe_info *pe; /* KH_EVENT_INFO "PE": the object's headers, borrowed; else NULL */
} kh_event;

/* Called for each event. Return 0 to go on, non-zero to stop this scan (KH_ECANCELED). */
typedef int (*kh_event_fn)(void *ud, const kh_event *ev);

typedef enum kh_verdict {
    KH_VERDICT_CLEAN = 0,
    KH_VERDICT_INFECTED = 1,
    KH_VERDICT_ERROR = 2, /* the object itself could not be read */
} kh_verdict;

typedef struct kh_scan_result {
    kh_verdict verdict;
    uint32_t detections;
    uint32_t warnings;
    uint32_t objects;       /* objects scanned: the file plus every layer inside */
    uint64_t size;          /* size of the top-level object */
    uint64_t bytes_scanned; /* bytes given to the matchers, all layers */
    char error[256];        /* English reason when verdict is KH_VERDICT_ERROR, else "" */
    uint32_t flags;         /* KH_RESULT_* bits: what was found in the file, any layer */
} kh_scan_result;

/* kh_scan_result.flags */
enum {
    KH_RESULT_MACROS = 1u << 0, /* an Office document or OLE2 file holds a VBA project */
};

/* Create a scanner on a compiled engine (retains it). opts may be NULL for defaults; it is
 * copied. Returns KH_OK, KH_ESTATE (engine not compiled), KH_EMATCHER, KH_ENOMEM. */
KH_API kh_err kh_scanner_create(kh_engine *engine, const kh_scan_opts *opts,
                                kh_scanner **out_scanner);
/* Free a scanner; NULL accepted. Releases its engine reference. */
KH_API void kh_scanner_destroy(kh_scanner *scanner);

/* Scan the regular file at path (symlinks are not followed). cb may be NULL. The result is
 * always filled in. Returns KH_OK when the file was scanned (clean or not), else the reason it
 * could not be: KH_ENOENT, KH_EACCES, KH_ENOTREG, KH_EIO, KH_ENOMEM, KH_ECANCELED. */
KH_API kh_err kh_scan_file(kh_scanner *scanner, const char *path, kh_event_fn cb, void *ud,
                           kh_scan_result *out_result);

/* Scan an open file descriptor (borrowed, not closed); name is used in events. */
KH_API kh_err kh_scan_fd(kh_scanner *scanner, int fd, const char *name, kh_event_fn cb,
                         void *ud, kh_scan_result *out_result);

/* Scan a buffer (borrowed) as if it were a file called name. */
KH_API kh_err kh_scan_mem(kh_scanner *scanner, const void *data, size_t len, const char *name,
                          kh_event_fn cb, void *ud, kh_scan_result *out_result);

#ifdef __cplusplus
}
#endif
#endif
