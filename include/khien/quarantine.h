/*
 * quarantine.h - a store for detected files, out of the user's way but never lost.
 *
 * A quarantine directory holds, per entry ID, "ID.data" (the file's bytes, mode 0400) and
 * "ID.json" (original path, SHA-256, signature, size, mode, owner, time). Putting a file there
 * moves it (rename when on the same file system, else copy, fsync and unlink); restoring moves
 * it back. The directory is created with mode 0700.
 */
#ifndef KHIEN_QUARANTINE_H
#define KHIEN_QUARANTINE_H

#include <stdint.h>
#include <time.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kh_qentry {
    const char *id;            /* entry id (hex), borrowed */
    const char *original_path; /* absolute path the file had, borrowed */
    const char *sha256;        /* hex digest of the content, borrowed */
    const char *signature;     /* what detected it, borrowed */
    uint64_t size;
    unsigned mode; /* permission bits it had */
    time_t time;   /* when it was quarantined */
} kh_qentry;

/* Move the file at path into the quarantine directory dir (created if missing), recording
 * signature. The new entry id is written to out_id (at least 33 bytes). Returns KH_OK,
 * KH_ENOENT, KH_EACCES, KH_ENOTREG, KH_EIO, KH_ENOMEM. errbuf (may be NULL) receives a reason. */
KH_API kh_err kh_quarantine_put(const char *dir, const char *path, const char *signature,
                                char *out_id, size_t out_id_len, char *errbuf, size_t errbuf_len);

typedef int (*kh_qentry_fn)(void *ud, const kh_qentry *entry);

/* Call cb for each entry in dir, oldest first. A damaged record is skipped and counted in
 * *out_damaged (may be NULL). Returns KH_OK, KH_ENOENT, KH_EIO, KH_ENOMEM, KH_ECANCELED. */
KH_API kh_err kh_quarantine_list(const char *dir, kh_qentry_fn cb, void *ud,
                                 unsigned *out_damaged);

/* Move entry id back to its original path, or to dest when dest is not NULL. An existing file
 * there is not overwritten (KH_EEXIST). Original mode is restored. Returns KH_OK, KH_ENOENT
 * (no such entry), KH_EEXIST, KH_EACCES, KH_EIO, KH_EFORMAT (damaged record), KH_ENOMEM. */
KH_API kh_err kh_quarantine_restore(const char *dir, const char *id, const char *dest,
                                    char *errbuf, size_t errbuf_len);

/* Delete entry id for good. Returns KH_OK, KH_ENOENT, KH_EIO. */
KH_API kh_err kh_quarantine_delete(const char *dir, const char *id);

#ifdef __cplusplus
}
#endif
#endif
