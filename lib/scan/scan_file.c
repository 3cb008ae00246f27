/*
 * scan_file.c - the entry points: a path, a file descriptor or a buffer.
 *
 * Small files are read with read() into the scanner's own buffer (kept between scans) rather
 * than mapped, so a file that another process truncates while it is scanned gives a short
 * read, not a SIGBUS. Files larger than READ_WHOLE_MAX are not held in memory at all: the
 * pipeline reads them in chunks from the descriptor. A file over max_filesize is not read; that
 * is reported as a limit event, as for archive members.
 */
#include "scan/scan_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files up to this size are read whole and matched in block mode; larger ones are streamed
 * from their descriptor. Small enough to keep a scanner's memory low, large enough that most
 * files take the faster block path. */
#define READ_WHOLE_MAX (1u << 20)

static void result_init(kh_scan_result *res)
{
    memset(res, 0, sizeof(*res));
    res->verdict = KH_VERDICT_CLEAN;
}

static kh_err fail(kh_scan_result *res, kh_err err, const char *why)
{
    res->verdict = KH_VERDICT_ERROR;
    khi_snprintf(res->error, sizeof(res->error), "%s", why);
    return err;
}

kh_err kh_scan_mem(kh_scanner *sc, const void *data, size_t len, const char *name,
                   kh_event_fn cb, void *ud, kh_scan_result *res)
{
    if (!res)
        return KH_EINVAL;
    result_init(res);
    if (!sc || (!data && len))
        return fail(res, KH_EINVAL, "invalid argument");
    res->size = len;
    return khi_scan_top(sc, data ? data : (const void *)"", -1, len, name, cb, ud, res);
}

static int over_limit(kh_scanner *sc, uint64_t size, const char *name, kh_event_fn cb, void *ud,
                      kh_scan_result *res)
{
    uint64_t lim = sc->opts.limits.max_filesize;
    if (!lim || size <= lim)
        return 0;
    char detail[200];
    khi_snprintf(detail, sizeof(detail),
                 "file is %llu bytes, over the %llu-byte limit (max-filesize); not scanned",
                 (unsigned long long)size, (unsigned long long)lim);
    kh_event ev = {(sc->opts.flags & KH_SCAN_ALERT_EXCEEDS) ? KH_EVENT_DETECTION : KH_EVENT_WARNING,
                   KH_SIG_HEURISTIC, name, "Heuristics.Limits.Exceeded.MaxFileSize", detail, 0, NULL, 0, NULL};
    if (ev.kind == KH_EVENT_DETECTION) {
        res->detections++;
        res->verdict = KH_VERDICT_INFECTED;
    } else {
        res->warnings++;
    }
    if (cb)
        cb(ud, &ev);
    return 1;
}

kh_err kh_scan_fd(kh_scanner *sc, int fd, const char *name, kh_event_fn cb, void *ud,
                  kh_scan_result *res)
{
    char why[256];
    if (!res)
        return KH_EINVAL;
    result_init(res);
    if (!sc || fd < 0)
        return fail(res, KH_EINVAL, "invalid argument");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        khi_snprintf(why, sizeof(why), "cannot stat: %s", strerror(e));
        return fail(res, khi_errno_to_kh(e), why);
    }
    if (!S_ISREG(st.st_mode))
        return fail(res, KH_ENOTREG, "not a regular file");
    res->size = (uint64_t)st.st_size;
    if (over_limit(sc, (uint64_t)st.st_size, name, cb, ud, res))
        return KH_OK;
    if ((uint64_t)st.st_size > READ_WHOLE_MAX)
        return khi_scan_top(sc, NULL, fd, (uint64_t)st.st_size, name, cb, ud, res);
    size_t want = (size_t)st.st_size;
    if (sc->bufcap < want + 1) {
        uint8_t *nb = khi_realloc(sc->buf, want + 1);
        if (!nb)
            return fail(res, KH_ENOMEM, "out of memory reading the file");
        sc->buf = nb;
        sc->bufcap = want + 1;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, sc->buf + got, want - got, (off_t)got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            khi_snprintf(why, sizeof(why), "read error: %s", strerror(e));
            return fail(res, khi_errno_to_kh(e), why);
        }
        if (n == 0)
            break; /* truncated meanwhile: scan what is there */
        got += (size_t)n;
    }
    kh_err err = khi_scan_top(sc, sc->buf, -1, got, name, cb, ud, res);
    res->size = got;
    return err;
}

kh_err kh_scan_file(kh_scanner *sc, const char *path, kh_event_fn cb, void *ud,
                    kh_scan_result *res)
{
    char why[256];
    if (!res)
        return KH_EINVAL;
    result_init(res);
    if (!sc || !path)
        return fail(res, KH_EINVAL, "invalid argument");
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        khi_snprintf(why, sizeof(why), "cannot open: %s", strerror(e));
        return fail(res, khi_errno_to_kh(e), why);
    }
    kh_err err = kh_scan_fd(sc, fd, path, cb, ud, res);
    close(fd);
    return err;
}
