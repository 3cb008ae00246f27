/*
 * match.h - the matchers: bytes in, signature ids out (internal).
 *
 * lib/match knows nothing of files, formats or archives. The hash matcher answers "which
 * digests does an object of this size need" and "is this digest a signature"; the Vectorscan
 * matcher runs every body signature over a buffer in one pass and checks offsets.
 */
#ifndef KHI_MATCH_H
#define KHI_MATCH_H

#include "sigdb/sigdb.h"

/* ---- hash signatures (match_hash.c) ---- */
typedef struct khi_hashmatch khi_hashmatch;

/* Build from sigs (borrowed during the call; names must outlive the matcher). */
kh_err khi_hashmatch_create(const khi_hashsig *sigs, size_t n, khi_hashmatch **out);
void khi_hashmatch_destroy(khi_hashmatch *m);
/* Bit (1 << khi_hash_type) set for each digest that could match an object of this size. */
unsigned khi_hashmatch_types_for_size(const khi_hashmatch *m, uint64_t size);
/* The first signature (allow-list when fp) with this digest and size, or NULL. */
const khi_hashsig *khi_hashmatch_find(const khi_hashmatch *m, int fp, unsigned type,
                                      const uint8_t *digest, uint64_t size);
/* 1 if any allow-list entry exists (then an object must be hashed to the end before its
 * detections count). */
int khi_hashmatch_has_fp(const khi_hashmatch *m);

/* Incremental digests of the types in a mask, for objects read in chunks. */
typedef struct khi_digests {
    void *ctx[KHI_HASH_TYPES]; /* EVP_MD_CTX */
    unsigned types;
} khi_digests;
kh_err khi_digests_init(khi_digests *d, unsigned types);
kh_err khi_digests_update(khi_digests *d, const void *data, size_t len);
/* out[t] receives digest type t for each type in the mask. */
kh_err khi_digests_final(khi_digests *d, uint8_t out[KHI_HASH_TYPES][32]);
void khi_digests_cleanup(khi_digests *d);

/* Digest of data with OpenSSL EVP; out holds up to 32 bytes. */
kh_err khi_digest(unsigned type, const void *data, size_t len, uint8_t *out);
size_t khi_digest_len(unsigned type);

/* ---- body signatures on Vectorscan (match_hs.c) ---- */
/* Where an executable's parts lie in the object, for the offsets relative to them (EP+n,
 * Sx+n, SL+n, SEx). lib/scan builds it from a parsed PE; lib/match only does arithmetic. */
typedef struct khi_exe_span {
    uint64_t raw, size; /* a section's raw data: file offset and size */
} khi_exe_span;
typedef struct khi_exe_layout {
    uint64_t ep; /* the entry point's file offset; UINT64_MAX when it maps to no byte */
    uint32_t nsect;
    const khi_exe_span *sect; /* nsect entries, borrowed */
} khi_exe_layout;

typedef struct khi_hsmatch khi_hsmatch;
typedef struct khi_hsscratch khi_hsscratch;

/* Compile sigs (borrowed) into one database, or load it from cache_dir (NULL = no cache).
 * Signatures that Vectorscan rejects are reported through diag and never match.
 * *out_cache_hit says where the database came from. */
kh_err khi_hsmatch_create(const khi_bodysig *sigs, size_t n, const char *cache_dir,
                          kh_diag_fn diag, void *diag_ud, int *out_cache_hit,
                          uint32_t *out_rejected, khi_hsmatch **out);
void khi_hsmatch_destroy(khi_hsmatch *m);

/* 1 if signature id was rejected by Vectorscan (it never matches). */
int khi_hsmatch_rejected(const khi_hsmatch *m, uint32_t id);

kh_err khi_hsscratch_create(const khi_hsmatch *m, khi_hsscratch **out);
void khi_hsscratch_destroy(khi_hsscratch *s);

/* Called with the id (index into sigs) of each signature that matches; return non-zero to
 * stop the scan. A signature is reported at most once per call. */
typedef int (*khi_hs_hit_fn)(void *ud, uint32_t sig_id);

/* Scan data (len < 4 GiB) for an object whose ClamAV target type is target (0 = none known).
 * target | KHI_TARGET_ONLY: only the signatures of exactly that target may fire (a normalised
 * view, which the signatures of other targets do not look at).
 * exe (borrowed for the call) is the object's executable layout, or NULL when it has none:
 * signatures with offsets relative to it then never match. Returns KH_OK (also when cb
 * stopped it), KH_EMATCHER. */
#define KHI_TARGET_ONLY 0x10000u
kh_err khi_hsmatch_scan(const khi_hsmatch *m, khi_hsscratch *s, const uint8_t *data, size_t len,
                        unsigned target, const khi_exe_layout *exe, khi_hs_hit_fn cb, void *ud);

/* Stream mode, for objects read in chunks. read_at gives bytes of the object at an offset
 * (for the few signatures whose start must be verified); it returns how many it read. */
typedef size_t (*khi_read_fn)(void *ud, uint64_t off, uint8_t *buf, size_t len);
typedef struct khi_hsstream khi_hsstream;

/* exe as for khi_hsmatch_scan, borrowed until the stream is closed. */
kh_err khi_hsstream_open(const khi_hsmatch *m, khi_hsscratch *s, uint64_t size, unsigned target,
                         const khi_exe_layout *exe, khi_hs_hit_fn cb, void *ud,
                         khi_read_fn read_at, void *read_ud, khi_hsstream **out);
/* Feed the next chunk (< 4 GiB). KH_OK, KH_EMATCHER, KH_ENOMEM. */
kh_err khi_hsstream_feed(khi_hsstream *h, const uint8_t *data, size_t len);
/* 1 once cb asked to stop: later chunks need not be fed. */
int khi_hsstream_stopped(const khi_hsstream *h);
/* End the stream (reporting end-of-data matches) and free it; NULL accepted. */
kh_err khi_hsstream_close(khi_hsstream *h);

/* ---- logical signatures (match_ldb.c) ---- */
/* Evaluate l with counts[k] = matches of its subsignature k. 1 = the signature matches. */
int khi_ldb_eval(const khi_ldb *l, const uint32_t *counts);

/* ---- YARA rules that need libyara (match_yara.c) ---- */
typedef struct khi_yaramatch khi_yaramatch;
typedef struct khi_yarascan khi_yarascan;

/* Compile src (its texts may be rewritten: broken rules are blanked out after being reported).
 * *out_rejected counts the rules or files dropped. */
kh_err khi_yaramatch_create(khi_yarasrc *src, size_t n, kh_diag_fn diag, void *diag_ud,
                            uint32_t *out_rejected, khi_yaramatch **out);
void khi_yaramatch_destroy(khi_yaramatch *m);
uint32_t khi_yaramatch_count(const khi_yaramatch *m);

/* Called per matching rule; meta is borrowed for the call. Non-zero: stop. */
typedef int (*khi_yara_hit_fn)(void *ud, const char *rule, const kh_meta *meta, size_t nmeta);

/* One per thread. KH_ELIMIT when libyara's limit of concurrent scanners is reached. */
kh_err khi_yarascan_create(const khi_yaramatch *m, khi_yarascan **out);
void khi_yarascan_destroy(khi_yarascan *s);
/* KH_OK, KH_ELIMIT (timeout), KH_ENOMEM, KH_EMATCHER. */
kh_err khi_yarascan_run(khi_yarascan *s, const uint8_t *data, size_t len, khi_yara_hit_fn cb,
                        void *ud);
/* The same on a file (libyara maps it itself). */
kh_err khi_yarascan_run_fd(khi_yarascan *s, int fd, khi_yara_hit_fn cb, void *ud);

#endif
