/*
 * update_int.h - what the files of lib/update share (internal).
 */
#ifndef KHI_UPDATE_INT_H
#define KHI_UPDATE_INT_H

#include <jansson.h>
#include <sodium.h>
#include <khien/update.h>
#include "core/core.h"

#define KHI_PKG_FORMAT "khien-db-1"
#define KHI_DELTA_FORMAT "khien-delta-1"
#define KHI_MAX_MANIFEST (4u << 20)
#define KHI_MAX_PKG_FILE (1024ull << 20)
#define KHI_MAX_FILES 4096

/* ---- keys (update_key.c) ---- */
typedef struct khi_seckey {
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    char name[64];
    char key_id[17];
} khi_seckey;

kh_err khi_init_sodium(void);
void khi_key_id(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], char out[17]);
kh_err khi_seckey_load(const char *path, khi_seckey *out, char *err, size_t err_len);
/* Find the trusted key with this id in dir. KH_ENOENT when none. */
kh_err khi_trust_find(const char *dir, const char *key_id, uint8_t pk[crypto_sign_PUBLICKEYBYTES],
                      char name[64]);

/* ---- manifests and packages (update_pkg.c) ---- */
typedef struct khi_mfile {
    const char *name; /* borrowed from the manifest's JSON */
    uint64_t size;
    uint8_t sha256[32];
} khi_mfile;

typedef struct khi_manifest {
    json_t *j;
    char *raw; /* the signed bytes (owned) */
    size_t rawlen;
    uint64_t version;
    khi_mfile *files;
    size_t nfiles;
    const char *publisher;
    const char *key_id;
    char sig[2 * crypto_sign_BYTES + 1]; /* the signature as read, hex */
} khi_manifest;

void khi_manifest_cleanup(khi_manifest *m);
/* Parse and check a manifest and its signature against trust_dir. */
/* pk, when not NULL, is the one key accepted (a publisher reading its own packages). */
kh_err khi_manifest_verify(const char *raw, size_t rawlen, const char *sig_hex, size_t sig_len,
                           const char *trust_dir, const uint8_t *pk, khi_manifest *out, char *err,
                           size_t err_len);
const khi_mfile *khi_manifest_find(const khi_manifest *m, const char *name);
/* SHA-256 of the manifest's bytes, hex. */
void khi_manifest_digest(const khi_manifest *m, char out[65]);
/* Build and sign a manifest for the files (names and paths) into out (raw + signature hex). */
kh_err khi_manifest_build(const char *const *names, const char *const *paths, size_t n,
                          uint64_t version, const khi_seckey *key, khi_buf *out_raw,
                          char out_sig[2 * crypto_sign_BYTES + 1], char *err, size_t err_len);
/* A file name a package may carry: plain name, known database extension. */
int khi_pkg_name_ok(const char *name);

/* Open a package or delta: reads and verifies the manifest (and, for a delta, delta.json);
 * then calls the reader over the remaining members. */
typedef struct khi_pkg_reader khi_pkg_reader;
kh_err khi_pkg_open(const char *path, const char *trust_dir, const uint8_t *pk,
                    khi_pkg_reader **out, khi_manifest *out_manifest, json_t **out_delta,
                    char *err, size_t err_len);
/* Read all members of a full package against its manifest, into dir when not NULL. */
kh_err khi_pkg_extract(khi_pkg_reader *r, const khi_manifest *m, const char *dir, char *err,
                       size_t err_len);
/* Check a delta's members without its base (structure and the full files it carries). */
kh_err khi_delta_check(khi_pkg_reader *r, const khi_manifest *m, json_t *delta, char *err,
                       size_t err_len);
/* Apply a delta: old_dir holds the installed version (its manifest.json included), new files
 * go to new_dir and are checked against m. */
kh_err khi_delta_install(khi_pkg_reader *r, const khi_manifest *m, json_t *delta,
                         const char *old_dir, uint64_t old_version, const char *new_dir,
                         char *err, size_t err_len);
/* Next member: its name and a callback per chunk; NULL name at the end. */
kh_err khi_pkg_next(khi_pkg_reader *r, const char **out_name, int *out_end, char *err,
                    size_t err_len);
/* Read the current member's data; returns bytes read, 0 at its end, -1 on error. */
long khi_pkg_read(khi_pkg_reader *r, void *buf, size_t len);
void khi_pkg_close(khi_pkg_reader *r);

/* Package writing (tar + gzip, written to tmp and renamed to path by close). */
struct archive;
struct archive *khi_pkg_writer_open(const char *tmp);
kh_err khi_pkg_add_member(struct archive *a, const char *name, const void *data, size_t len);
kh_err khi_pkg_writer_close(struct archive *a, const char *tmp, const char *path, kh_err err);

/* ---- deltas (update_delta.c) ---- */
/* Line patch turning old into new, appended to out. */
kh_err khi_delta_make(const char *old, size_t oldlen, const char *new_, size_t newlen, khi_buf *out);
/* Apply patch to old, writing to fd; at most limit bytes. */
kh_err khi_delta_apply(const char *old, size_t oldlen, const char *patch, size_t patchlen, int fd,
                       uint64_t limit, char *err, size_t err_len);

/* ---- files ---- */
kh_err khi_sha256_file(const char *path, uint8_t out[32], uint64_t *out_size);
kh_err khi_rm_rf(const char *path);
kh_err khi_fsync_dir(const char *path);

#endif
