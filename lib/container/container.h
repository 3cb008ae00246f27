/*
 * container.h - opening containers and handing their members back (internal).
 *
 * lib/container knows how to take members out of archives and compressed streams, within
 * the bomb limits; it never calls a matcher. Each member goes back to the caller (lib/scan)
 * through the member callback, which scans it like any other object.
 */
#ifndef KHI_CONTAINER_H
#define KHI_CONTAINER_H

#include <khien/scan.h>
#include "core/core.h"

/* Objects up to this size are held in memory; larger ones are read from a file descriptor. */
#define KHI_INMEM_MAX (1u * 1024u * 1024u)

typedef struct khi_member {
    const uint8_t *data; /* in memory, borrowed for the callback; NULL when fd is used */
    int fd;              /* or an unlinked temporary file holding the bytes, else -1 */
    uint64_t len;
    const char *name; /* path inside the container, borrowed */
} khi_member;

typedef enum khi_cwarn {
    KHI_CWARN_ENCRYPTED = 0,
    KHI_CWARN_MAXFILESIZE,
    KHI_CWARN_MAXSCANSIZE,
    KHI_CWARN_MAXFILES,
    KHI_CWARN_MAXRATIO,
    KHI_CWARN_DAMAGED,
} khi_cwarn;

typedef struct khi_container_cb {
    /* non-zero return: stop the walk (KH_ECANCELED) */
    int (*member)(void *ud, const khi_member *m);
    /* member may be NULL (the container as a whole); detail is an English sentence */
    int (*warn)(void *ud, khi_cwarn what, const char *member, const char *detail);
    /* For bare compressed streams: is this head of the decompressed content an archive
     * (tar, cpio...) to walk member by member? Otherwise the content is one member. */
    int (*is_archive)(void *ud, const uint8_t *head, size_t len);
    void *ud;
    /* May be NULL. Non-zero: another reader has taken this member already (ZIP members of
     * methods libarchive cannot decompress, see fmt_zipx.c); the walk skips it silently. */
    int (*skip)(void *ud, const char *member);
} khi_container_cb;

/* Counters shared by every container under one top-level object. */
typedef struct khi_budget {
    const kh_limits *limits;
    const char *tmp_dir;
    uint64_t extracted; /* bytes taken out so far */
    uint32_t files;     /* members taken out so far */
} khi_budget;

/* Walk the container held in data, or (data NULL) in the file fd; len is its size. stream is
 * 1 for a bare compressed stream (gzip, xz...) whose single member is then called stream_name.
 * Returns KH_OK (problems inside the container are warnings), KH_ECANCELED, KH_ENOMEM. */
kh_err khi_container_walk(const uint8_t *data, int fd, uint64_t len, int stream,
                          const char *stream_name, khi_budget *budget, const khi_container_cb *cb);

#endif
