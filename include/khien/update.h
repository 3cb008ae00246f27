/*
 * update.h - signed signature packages, deltas, installed databases and mirrors.
 *
 * A package (.kpkg) is a tar.gz whose first two members are manifest.json (format, version,
 * publisher, key id, and name, size and SHA-256 of every file) and manifest.sig (an Ed25519
 * signature of the manifest's exact bytes, hex); the signature files follow. A delta (.kdelta)
 * carries the new version's signed manifest plus line patches against the previous version;
 * what it produces is checked against that manifest, so a delta can never install anything
 * the publisher did not sign. Trusted public keys are files NAME.pub in a trust directory.
 *
 * An installed database directory holds versions/N/ (files + manifest) and "current", a symlink
 * switched atomically: a crash at any point leaves the old version in use. The previous version
 * is kept for rollback. Scanners load DIR/current.
 */
#ifndef KHIEN_UPDATE_H
#define KHIEN_UPDATE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Make NAME.key (secret, mode 0600) and NAME.pub in dir. Refuses to overwrite (KH_EEXIST).
 * errbuf (may be NULL) receives a reason. */
KH_API kh_err kh_key_generate(const char *dir, const char *name, char *errbuf, size_t errbuf_len);

/* Build a package of every signature file in src_dir (regular files with a known database
 * extension) as version, signed with the secret key file. */
KH_API kh_err kh_pkg_pack(const char *src_dir, uint64_t version, const char *key_path,
                          const char *out_path, char *errbuf, size_t errbuf_len);

/* Build a delta that turns package old_path into package new_path, signed with key_path. */
KH_API kh_err kh_pkg_diff(const char *old_path, const char *new_path, const char *key_path,
                          const char *out_path, char *errbuf, size_t errbuf_len);

typedef struct kh_pkg_info {
    int is_delta;
    uint64_t version;      /* the version the package (or delta) installs */
    uint64_t from_version; /* deltas: the version they apply to */
    uint32_t files;
    char publisher[64];
    char key_id[17];
} kh_pkg_info;

/* Check a package or delta completely (signature against trust_dir, every file's size and
 * hash; for a delta, its own structure). Returns KH_OK, KH_ECRYPTO (unknown key, bad
 * signature), KH_EFORMAT (tampered, truncated, malformed), KH_ENOENT, KH_EIO, KH_ENOMEM. */
KH_API kh_err kh_pkg_verify(const char *path, const char *trust_dir, kh_pkg_info *out_info,
                            char *errbuf, size_t errbuf_len);

typedef struct kh_db_state {
    uint64_t version;  /* 0 = nothing installed */
    uint64_t previous; /* version kept for rollback, 0 = none */
    char path[4096];   /* DIR/current resolved, "" when nothing installed */
} kh_db_state;

KH_API kh_err kh_db_state_get(const char *db_dir, kh_db_state *out);

typedef enum kh_install_kind { KH_INSTALL_NONE = 0, KH_INSTALL_FULL, KH_INSTALL_DELTA } kh_install_kind;

typedef struct kh_install_result {
    uint64_t from_version, to_version;
    kh_install_kind kind;
} kh_install_result;

/* Verify and install a package or delta file into db_dir (created if missing). Refused:
 * unknown key or bad signature (KH_ECRYPTO), tampered or truncated (KH_EFORMAT), a version not
 * newer than the installed one (KH_ESTATE: rollback), a delta for another base version
 * (KH_ESTATE). On any refusal or failure the installed version stays in use. */
KH_API kh_err kh_db_install(const char *db_dir, const char *pkg_path, const char *trust_dir,
                            kh_install_result *out, char *errbuf, size_t errbuf_len);

/* Switch back to the kept previous version. KH_ESTATE when there is none. */
KH_API kh_err kh_db_rollback(const char *db_dir, kh_install_result *out, char *errbuf,
                             size_t errbuf_len);

typedef struct kh_update_opts {
    const char *const *mirrors; /* base URLs, tried in order */
    size_t nmirrors;
    const char *db_dir;
    const char *trust_dir;
    const char *proxy;     /* NULL: libcurl's defaults (http_proxy...) */
    long connect_timeout;  /* seconds, 0 = 20 */
    long stall_timeout;    /* seconds without progress before giving up, 0 = 60 */
} kh_update_opts;

typedef struct kh_update_result {
    int up_to_date;
    kh_install_result install;
    char mirror[512]; /* the mirror used */
    unsigned deltas;  /* how many deltas were applied */
    int fell_back;    /* a delta failed or was missing, the full package was used */
} kh_update_result;

/* Bring db_dir to the newest version a mirror offers: each mirror's latest.json, then the
 * chain of deltas from the installed version when there is one, else the full package.
 * Downloads resume where an earlier attempt stopped. */
KH_API kh_err kh_update_run(const kh_update_opts *opts, kh_update_result *out, char *errbuf,
                            size_t errbuf_len);

/* Add verified packages and deltas to a mirror directory and rewrite its latest.json. */
KH_API kh_err kh_mirror_add(const char *mirror_dir, const char *const *paths, size_t npaths,
                            const char *trust_dir, char *errbuf, size_t errbuf_len);

/* Copy what upstream's latest.json lists into mirror_dir (verified), then its latest.json. */
KH_API kh_err kh_mirror_sync(const char *upstream_url, const char *mirror_dir,
                             const kh_update_opts *opts, char *errbuf, size_t errbuf_len);

#ifdef __cplusplus
}
#endif
#endif
