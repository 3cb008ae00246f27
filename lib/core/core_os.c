/*
 * core_os.c - the OS wrappers: whole-file reads, atomic writes, mkdir -p, clocks.
 *
 * This is the one file of libkhien that reads errno (besides the scan file opener, which
 * keeps its own for the exact message); everything else sees kh_err. Atomic writes follow the
 * usual temp file + fsync + rename + fsync(dir) sequence so that a crash leaves either the old
 * or the new file, never half of one.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

kh_err khi_errno_to_kh(int e)
{
    switch (e) {
    case 0:
        return KH_OK;
    case ENOENT:
    case ENOTDIR:
        return KH_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return KH_EACCES;
    case ENOMEM:
        return KH_ENOMEM;
    case EEXIST:
        return KH_EEXIST;
    case EINVAL:
        return KH_EINVAL;
    default:
        return KH_EIO;
    }
}

kh_err khi_file_read_all(const char *path, size_t limit, char **out_data, size_t *out_len,
                         char *errbuf, size_t errbuf_len)
{
    kh_err err = KH_OK;
    char *data = NULL;
    size_t len = 0, cap = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        khi_snprintf(errbuf, errbuf_len, "%s: %s", path, strerror(e));
        return khi_errno_to_kh(e);
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        khi_snprintf(errbuf, errbuf_len, "%s: is a directory", path);
        err = KH_EINVAL;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nd = khi_realloc(data, ncap + 1);
            if (!nd) {
                err = KH_ENOMEM;
                goto out;
            }
            data = nd;
            cap = ncap;
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            khi_snprintf(errbuf, errbuf_len, "%s: %s", path, strerror(e));
            err = khi_errno_to_kh(e);
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (limit && len > limit) {
            khi_snprintf(errbuf, errbuf_len, "%s: larger than %zu bytes", path, limit);
            err = KH_ELIMIT;
            goto out;
        }
    }
    if (!data) {
        data = khi_malloc(1);
        if (!data) {
            err = KH_ENOMEM;
            goto out;
        }
    }
    data[len] = '\0';
    *out_data = data;
    *out_len = len;
    data = NULL;
out:
    khi_free(data);
    close(fd);
    return err;
}

kh_err khi_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    kh_err err = KH_OK;
    khi_buf tmp;
    khi_buf_init(&tmp);
    int fd = -1;
    if (khi_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) != KH_OK)
        return KH_ENOMEM;
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        err = khi_errno_to_kh(errno);
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = khi_errno_to_kh(errno);
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        err = khi_errno_to_kh(errno);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = khi_errno_to_kh(errno);
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path) != 0) {
        err = khi_errno_to_kh(errno);
        goto out;
    }
    {
        char *dcopy = khi_strdup(path);
        if (dcopy) {
            int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            khi_free(dcopy);
        }
    }
out:
    if (fd >= 0)
        close(fd);
    if (err != KH_OK && tmp.data)
        unlink(tmp.data);
    khi_buf_cleanup(&tmp);
    return err;
}

size_t khi_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

kh_err khi_mkdir_p(const char *path, unsigned mode)
{
    char *p = khi_strdup(path);
    kh_err err = KH_OK;
    if (!p)
        return KH_ENOMEM;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                err = khi_errno_to_kh(errno);
                break;
            }
            p[i] = c;
        }
    }
    khi_free(p);
    return err;
}

double khi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
