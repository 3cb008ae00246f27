/*
 * watch.h - real-time protection's eyes: files written under chosen directories, as they are
 * closed.
 *
 * Two ways to see them on Linux. fanotify (FAN_CLOSE_WRITE on the mounts holding the chosen
 * directories, filtered to paths under them) sees every writer, needs CAP_SYS_ADMIN and does
 * not need a watch per directory; inotify (IN_CLOSE_WRITE and IN_MOVED_TO on every directory,
 * recursively, new directories added as they appear) works for anyone who can read the tree.
 * KH_WATCH_AUTO takes fanotify where the kernel and the process's rights permit it, else
 * inotify. Files written into a directory in the moment before inotify watched it are found by
 * listing the new directory, so nothing written under a watched path is missed.
 */
#ifndef KHIEN_WATCH_H
#define KHIEN_WATCH_H

#include <stddef.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kh_watch kh_watch;

typedef enum kh_watch_mode { KH_WATCH_AUTO = 0, KH_WATCH_FANOTIFY, KH_WATCH_INOTIFY } kh_watch_mode;

/* Watch the n directories (absolute paths) and everything below them. At most max_dirs
 * directories are watched by inotify (0 = 65536); the rest are counted (kh_watch_skipped).
 * Returns KH_OK, KH_ENOENT (a path does not exist), KH_EACCES (fanotify asked for and not
 * permitted), KH_EINVAL, KH_ENOMEM, KH_EIO, with a reason in errbuf. */
KH_API kh_err kh_watch_open(const char *const *paths, size_t n, kh_watch_mode mode, size_t max_dirs,
                            kh_watch **out_watch, char *errbuf, size_t errbuf_len);
/* "fanotify" or "inotify". */
KH_API const char *kh_watch_method(const kh_watch *w);
/* Wait up to timeout_ms (-1: for ever) for the next file written and closed (or moved in)
 * under a watched path; its path goes to path. 1 a file, 0 nothing in time, -1 error. */
KH_API int kh_watch_next(kh_watch *w, int timeout_ms, char *path, size_t path_len);
/* Directories not watched because of max_dirs, and events lost by the kernel's queue. */
KH_API size_t kh_watch_skipped(const kh_watch *w);
KH_API size_t kh_watch_overflows(const kh_watch *w);
KH_API void kh_watch_close(kh_watch *w);

#ifdef __cplusplus
}
#endif
#endif
