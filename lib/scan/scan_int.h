/*
 * scan_int.h - the engine and scanner objects as lib/scan sees them (internal).
 */
#ifndef KHI_SCAN_INT_H
#define KHI_SCAN_INT_H

#include <stdatomic.h>
#include <khien/engine.h>
#include <khien/scan.h>
#include "core/core.h"
#include "match/match.h"
#include "sigdb/sigdb.h"

struct kh_engine {
    atomic_int refs;
    int compiled;
    char *cache_dir;
    kh_diag_fn diag;
    void *diag_ud;
    khi_sigdb db;           /* parsed signatures; names live here */
    khi_hashmatch *hashes;  /* NULL when there are no hash signatures */
    khi_hashmatch *sects;   /* .mdb/.msb PE section hashes; NULL when there are none */
    khi_hsmatch *bodies;    /* NULL when there are no body signatures */
    khi_yaramatch *yara;    /* NULL when no YARA rule needs libyara */
    kh_engine_stats stats;
    uint32_t targets;       /* bit t set: a usable body signature has ClamAV target type t */
    khi_hsmatch *views;     /* the signatures of target types 3 and 7 alone, or NULL */
    uint32_t *view_ids;     /* views' signature k is db.bodies[view_ids[k]] */
};

struct kh_scanner {
    kh_engine *engine; /* one reference */
    kh_scan_opts opts;
    char *tmp_dir;
    khi_hsscratch *scratch;
    khi_hsscratch *vscratch; /* for engine->views */
    khi_yarascan *yscan;
    uint8_t *buf; /* top-level read buffer */
    size_t bufcap;
    uint8_t *chunk; /* streaming: one chunk, reused (a stream ends before its children start) */
    uint32_t *ldb_counts;  /* matches per body signature id (logical subsignatures only) */
    uint8_t *ldb_touched;  /* per logical signature: has a subsignature matched this object */
    uint32_t *ldb_list;    /* the touched ones */
    size_t nldb_list;
};

/* Scan one top-level object, in memory (data) or in a file (data NULL, fd) of len bytes
 * (scan_object.c). */
kh_err khi_scan_top(kh_scanner *sc, const uint8_t *data, int fd, uint64_t len, const char *name,
                    kh_event_fn cb, void *ud, kh_scan_result *res);

#endif
