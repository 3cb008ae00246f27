/*
 * watch.c - files written under chosen directories, with fanotify or inotify (see watch.h).
 *
 * Both kernels' interfaces are read the same way: poll the descriptor, read a buffer of
 * events, turn each into a path (fanotify: the event's file descriptor through /proc/self/fd;
 * inotify: the watched directory's path and the entry's name) and queue the paths of files in
 * a bounded ring that kh_watch_next hands out one at a time. With inotify, a directory that
 * appears (made or moved in) is watched at once and listed, and its files queued, which covers
 * the files written between its creation and the watch. A full ring or the kernel's overflow
 * loses paths: they are counted, never silently.
 */
#include <khien/watch.h>
#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING 4096
#define MAX_DEPTH 64
#define IN_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

struct kh_watch {
    int fd;
    int fan; /* 1 fanotify, 0 inotify */
    char **roots;
    size_t nroots;
    char **bywd; /* inotify: watched directory's path by watch descriptor */
    size_t nwd, ndirs, max_dirs, skipped, overflows;
    char *ring[RING];
    size_t head, count;
    char buf[65536] __attribute__((aligned(8)));
};

static void push(kh_watch *w, const char *path)
{
    if (w->count == RING) {
        w->overflows++;
        return;
    }
    char *p = khi_strdup(path);
    if (!p) {
        w->overflows++;
        return;
    }
    w->ring[(w->head + w->count++) % RING] = p;
}

/* inotify: watch dir and the directories below it; with list, queue the files found too. */
static kh_err add_tree(kh_watch *w, const char *dir, int depth, int list)
{
    if (depth > MAX_DEPTH)
        return KH_OK;
    if (w->ndirs >= w->max_dirs) {
        w->skipped++;
        return KH_OK;
    }
    int wd = inotify_add_watch(w->fd, dir, IN_MASK);
    if (wd < 0)
        return errno == ENOENT || errno == ENOTDIR ? KH_OK : errno == ENOSPC ? (w->skipped++, KH_OK) : KH_EIO;
    if ((size_t)wd >= w->nwd) {
        size_t n = (size_t)wd * 2 + 16;
        char **g = khi_realloc(w->bywd, n * sizeof(*g));
        if (!g)
            return KH_ENOMEM;
        memset(g + w->nwd, 0, (n - w->nwd) * sizeof(*g));
        w->bywd = g;
        w->nwd = n;
    }
    if (!w->bywd[wd]) {
        if (!(w->bywd[wd] = khi_strdup(dir)))
            return KH_ENOMEM;
        w->ndirs++;
    }
    DIR *d = opendir(dir);
    if (!d)
        return KH_OK;
    struct dirent *de;
    kh_err e = KH_OK;
    while (e == KH_OK && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char child[PATH_MAX];
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", dir, de->d_name) >= sizeof(child))
            continue;
        struct stat st;
        if (lstat(child, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            e = add_tree(w, child, depth + 1, list);
        else if (list && S_ISREG(st.st_mode))
            push(w, child);
    }
    closedir(d);
    return e;
}

/* fanotify marks whole mounts: keep the paths under a chosen directory only */
static int under_root(const kh_watch *w, const char *path)
{
    for (size_t i = 0; i < w->nroots; i++) {
        size_t n = strlen(w->roots[i]);
        if (!strncmp(path, w->roots[i], n) && (path[n] == '/' || path[n] == '\0' || (n == 1 && path[0] == '/')))
            return 1;
    }
    return 0;
}

static kh_err open_fanotify(kh_watch *w, char *errbuf, size_t errbuf_len)
{
    w->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
    if (w->fd < 0) {
        khi_snprintf(errbuf, errbuf_len, "fanotify not available: %s", strerror(errno));
        return errno == EPERM ? KH_EACCES : KH_EIO;
    }
    for (size_t i = 0; i < w->nroots; i++)
        if (fanotify_mark(w->fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, w->roots[i]) != 0) {
            khi_snprintf(errbuf, errbuf_len, "fanotify cannot watch %s: %s", w->roots[i], strerror(errno));
            int err = errno;
            close(w->fd);
            w->fd = -1;
            return err == EPERM ? KH_EACCES : err == ENOENT ? KH_ENOENT : KH_EIO;
        }
    w->fan = 1;
    return KH_OK;
}

kh_err kh_watch_open(const char *const *paths, size_t n, kh_watch_mode mode, size_t max_dirs, kh_watch **out,
                     char *errbuf, size_t errbuf_len)
{
    if (!n || !paths || !out)
        return KH_EINVAL;
    kh_watch *w = khi_calloc(1, sizeof(*w));
    if (!w || !(w->roots = khi_calloc(n, sizeof(char *)))) {
        khi_free(w);
        return KH_ENOMEM;
    }
    w->fd = -1;
    w->max_dirs = max_dirs ? max_dirs : 65536;
    kh_err e = KH_OK;
    for (size_t i = 0; i < n && e == KH_OK; i++) {
        struct stat st;
        size_t len = paths[i] ? strlen(paths[i]) : 0;
        while (len > 1 && paths[i][len - 1] == '/')
            len--;
        if (!len || paths[i][0] != '/') {
            khi_snprintf(errbuf, errbuf_len, "'%s' is not an absolute path", paths[i] ? paths[i] : "");
            e = KH_EINVAL;
        } else if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            khi_snprintf(errbuf, errbuf_len, "%s: not a directory that exists", paths[i]);
            e = KH_ENOENT;
        } else if (!(w->roots[i] = khi_strndup(paths[i], len))) {
            e = KH_ENOMEM;
        } else {
            w->nroots++;
        }
    }
    if (e == KH_OK && mode != KH_WATCH_INOTIFY) {
        e = open_fanotify(w, errbuf, errbuf_len);
        if (e != KH_OK && mode == KH_WATCH_AUTO)
            e = KH_OK; /* inotify below */
    }
    if (e == KH_OK && !w->fan) {
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
            khi_snprintf(errbuf, errbuf_len, "inotify: %s", strerror(errno));
            e = KH_EIO;
        }
        for (size_t i = 0; e == KH_OK && i < w->nroots; i++)
            if ((e = add_tree(w, w->roots[i], 0, 0)) != KH_OK)
                khi_snprintf(errbuf, errbuf_len, "inotify cannot watch %s: %s", w->roots[i], kh_strerror(e));
    }
    if (e != KH_OK) {
        kh_watch_close(w);
        return e;
    }
    *out = w;
    return KH_OK;
}

const char *kh_watch_method(const kh_watch *w)
{
    return w->fan ? "fanotify" : "inotify";
}

size_t kh_watch_skipped(const kh_watch *w)
{
    return w->skipped;
}

size_t kh_watch_overflows(const kh_watch *w)
{
    return w->overflows;
}

static void read_fanotify(kh_watch *w, ssize_t got)
{
    const struct fanotify_event_metadata *m = (const void *)w->buf;
    for (; FAN_EVENT_OK(m, got); m = FAN_EVENT_NEXT(m, got)) {
        if (m->vers != FANOTIFY_METADATA_VERSION)
            break;
        if (m->mask & FAN_Q_OVERFLOW)
            w->overflows++;
        if (m->fd < 0)
            continue;
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
        ssize_t n = readlink(link, path, sizeof(path) - 1);
        close(m->fd);
        if (n <= 0)
            continue;
        path[n] = '\0';
        if (under_root(w, path))
            push(w, path);
    }
}

static kh_err read_inotify(kh_watch *w, ssize_t got)
{
    kh_err e = KH_OK;
    for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= got;) {
        const struct inotify_event *ev = (const void *)(w->buf + off);
        off += (ssize_t)sizeof(*ev) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
            w->overflows++;
            continue;
        }
        const char *dir = ev->wd >= 0 && (size_t)ev->wd < w->nwd ? w->bywd[ev->wd] : NULL;
        if (!dir)
            continue;
        if (ev->mask & IN_IGNORED) { /* the directory went away */
            khi_free(w->bywd[ev->wd]);
            w->bywd[ev->wd] = NULL;
            w->ndirs--;
            continue;
        }
        if (!ev->len)
            continue;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ev->name) >= sizeof(path))
            continue;
        if (ev->mask & IN_ISDIR) {
            if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                e = add_tree(w, path, 1, 1);
        } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
            push(w, path);
        }
        if (e == KH_ENOMEM)
            return e;
    }
    return KH_OK;
}

int kh_watch_next(kh_watch *w, int timeout_ms, char *path, size_t path_len)
{
    while (!w->count) {
        struct pollfd p = {w->fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            return 0;
        if (r <= 0)
            return r < 0 ? -1 : 0;
        ssize_t got = read(w->fd, w->buf, sizeof(w->buf));
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0)
            return -1;
        if (w->fan)
            read_fanotify(w, got);
        else if (read_inotify(w, got) != KH_OK)
            return -1;
        timeout_ms = 0; /* events were read: do not wait again for one that was filtered out */
        if (!w->count)
            return 0;
    }
    char *p = w->ring[w->head];
    w->head = (w->head + 1) % RING;
    w->count--;
    khi_snprintf(path, path_len, "%s", p);
    khi_free(p);
    return 1;
}

void kh_watch_close(kh_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->nroots; i++)
        khi_free(w->roots[i]);
    khi_free(w->roots);
    for (size_t i = 0; i < w->nwd; i++)
        khi_free(w->bywd[i]);
    khi_free(w->bywd);
    for (; w->count; w->count--, w->head = (w->head + 1) % RING)
        khi_free(w->ring[w->head]);
    khi_free(w);
}
