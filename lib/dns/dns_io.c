/*
 * dns_io.c - byte sources for DNS logs and lists: plain files and standard input through
 * read(2), compressed files (gzip, zstd, xz, bzip2) through libarchive's raw reader, and
 * memory.
 *
 * The first bytes decide: a known compression magic opens the file with libarchive (which the
 * project links already, so no zlib/libzstd of its own); anything else is read as it is, with
 * no copy beyond the caller's block buffer.
 *
 * A plain file that is followed (khien dns watch) can be rotated under the reader: copied and
 * truncated in place (logrotate copytruncate: the size drops below the offset read) or renamed
 * and replaced by a new file at the same path (logrotate's default). khi_dns_in_rotation tells
 * which, from the offset, fstat of the open file and stat of the path; khi_dns_in_reopen moves
 * to the new file.
 */
#include "dns/dns_int.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct khi_dns_in {
    int fd;
    int own_fd;
    struct archive *ar;
    unsigned char head[8];
    size_t head_len, head_off;
    const unsigned char *mem;
    size_t mem_len, mem_off;
    int is_mem;
};

static int compressed_magic(const unsigned char *b, size_t n)
{
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return 1; /* gzip */
    if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
        return 1; /* zstd */
    if (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
        return 1; /* xz */
    if (n >= 3 && memcmp(b, "BZh", 3) == 0)
        return 1; /* bzip2 */
    return 0;
}

static ssize_t read_retry(int fd, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

kh_err khi_dns_in_open(const char *path, khi_dns_in **out)
{
    *out = NULL;
    khi_dns_in *in = khi_calloc(1, sizeof(*in));
    if (!in)
        return KH_ENOMEM;
    kh_err err = KH_OK;
    if (strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            err = khi_errno_to_kh(errno);
            khi_free(in);
            return err;
        }
        in->own_fd = 1;
    }
    /* peek at the magic */
    while (in->head_len < sizeof(in->head)) {
        ssize_t r = read_retry(in->fd, in->head + in->head_len, sizeof(in->head) - in->head_len);
        if (r < 0) {
            err = khi_errno_to_kh(errno);
            goto out;
        }
        if (r == 0)
            break;
        in->head_len += (size_t)r;
    }
    if (compressed_magic(in->head, in->head_len)) {
        if (in->fd == STDIN_FILENO || lseek(in->fd, 0, SEEK_SET) != 0) {
            err = KH_EINVAL; /* compressed standard input: not supported (pipe through zcat) */
            goto out;
        }
        in->head_len = 0;
        in->ar = archive_read_new();
        if (!in->ar) {
            err = KH_ENOMEM;
            goto out;
        }
        archive_read_support_filter_all(in->ar);
        archive_read_support_format_raw(in->ar);
        struct archive_entry *e;
        if (archive_read_open_fd(in->ar, in->fd, 1 << 16) != ARCHIVE_OK ||
            archive_read_next_header(in->ar, &e) != ARCHIVE_OK) {
            err = KH_EARCHIVE;
            goto out;
        }
    }
out:
    if (err != KH_OK) {
        khi_dns_in_close(in);
        return err;
    }
    *out = in;
    return KH_OK;
}

kh_err khi_dns_in_open_mem(const void *data, size_t len, khi_dns_in **out)
{
    khi_dns_in *in = khi_calloc(1, sizeof(*in));
    if (!in)
        return KH_ENOMEM;
    in->fd = -1;
    in->is_mem = 1;
    in->mem = data;
    in->mem_len = len;
    *out = in;
    return KH_OK;
}

kh_err khi_dns_in_read(khi_dns_in *in, void *buf, size_t cap, size_t *out_n)
{
    *out_n = 0;
    if (cap == 0)
        return KH_OK;
    if (in->is_mem) {
        size_t n = in->mem_len - in->mem_off;
        if (n > cap)
            n = cap;
        memcpy(buf, in->mem + in->mem_off, n);
        in->mem_off += n;
        *out_n = n;
        return KH_OK;
    }
    if (in->head_off < in->head_len) {
        size_t n = in->head_len - in->head_off;
        if (n > cap)
            n = cap;
        memcpy(buf, in->head + in->head_off, n);
        in->head_off += n;
        *out_n = n;
        return KH_OK;
    }
    if (in->ar) {
        la_ssize_t r = archive_read_data(in->ar, buf, cap);
        if (r < 0)
            return KH_EARCHIVE;
        *out_n = (size_t)r;
        return KH_OK;
    }
    ssize_t r = read_retry(in->fd, buf, cap);
    if (r < 0)
        return khi_errno_to_kh(errno);
    *out_n = (size_t)r;
    return KH_OK;
}

kh_err khi_dns_in_seek_end(khi_dns_in *in)
{
    if (in->is_mem || in->ar || !in->own_fd)
        return KH_EINVAL;
    if (lseek(in->fd, 0, SEEK_END) < 0)
        return khi_errno_to_kh(errno);
    in->head_len = in->head_off = 0;
    return KH_OK;
}

kh_err khi_dns_in_seek(khi_dns_in *in, uint64_t off)
{
    if (in->is_mem || in->ar || !in->own_fd || off > (uint64_t)INT64_MAX)
        return KH_EINVAL;
    if (lseek(in->fd, (off_t)off, SEEK_SET) < 0)
        return khi_errno_to_kh(errno);
    in->head_len = in->head_off = 0;
    return KH_OK;
}

kh_err khi_dns_in_size(khi_dns_in *in, uint64_t *out_size)
{
    struct stat st;
    if (in->is_mem || in->ar || !in->own_fd)
        return KH_EINVAL;
    if (fstat(in->fd, &st) != 0)
        return khi_errno_to_kh(errno);
    if (!S_ISREG(st.st_mode))
        return KH_EINVAL;
    *out_size = (uint64_t)st.st_size;
    return KH_OK;
}

kh_err khi_dns_in_rotation(khi_dns_in *in, const char *path, int *out_what)
{
    *out_what = KHI_DNS_ROT_NONE;
    if (in->is_mem || in->ar || !in->own_fd)
        return KH_EINVAL;
    struct stat fst, pst;
    if (fstat(in->fd, &fst) != 0)
        return khi_errno_to_kh(errno);
    off_t pos = lseek(in->fd, 0, SEEK_CUR);
    if (pos < 0)
        return khi_errno_to_kh(errno);
    if (S_ISREG(fst.st_mode) && fst.st_size < pos) {
        if (lseek(in->fd, 0, SEEK_SET) < 0)
            return khi_errno_to_kh(errno);
        in->head_len = in->head_off = 0;
        *out_what = KHI_DNS_ROT_TRUNCATED;
        return KH_OK;
    }
    /* a new file at the path, with something in it: the writer has moved on to it */
    if (stat(path, &pst) == 0 && S_ISREG(pst.st_mode) &&
        (pst.st_ino != fst.st_ino || pst.st_dev != fst.st_dev) && pst.st_size > 0)
        *out_what = KHI_DNS_ROT_REPLACED;
    return KH_OK;
}

kh_err khi_dns_in_reopen(khi_dns_in *in, const char *path)
{
    if (in->is_mem || in->ar || !in->own_fd)
        return KH_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return khi_errno_to_kh(errno);
    close(in->fd);
    in->fd = fd;
    in->head_len = in->head_off = 0;
    return KH_OK;
}

void khi_dns_in_close(khi_dns_in *in)
{
    if (!in)
        return;
    if (in->ar)
        archive_read_free(in->ar);
    if (in->own_fd && in->fd >= 0)
        close(in->fd);
    khi_free(in);
}

kh_err khi_dns_read_all(const char *path, size_t limit, char **out_data, size_t *out_len)
{
    *out_data = NULL;
    *out_len = 0;
    khi_dns_in *in = NULL;
    kh_err err = khi_dns_in_open(path, &in);
    if (err != KH_OK)
        return err;
    khi_buf b;
    khi_buf_init(&b);
    for (;;) {
        err = khi_buf_reserve(&b, 1 << 20);
        if (err != KH_OK)
            goto out;
        size_t n = 0;
        err = khi_dns_in_read(in, b.data + b.len, b.cap - b.len - 1, &n);
        if (err != KH_OK)
            goto out;
        if (n == 0)
            break;
        b.len += n;
        if (b.len > limit) {
            err = KH_ELIMIT;
            goto out;
        }
    }
    err = khi_buf_reserve(&b, 0);
    if (err != KH_OK)
        goto out;
    b.data[b.len] = '\0';
    *out_data = b.data;
    *out_len = b.len;
    b.data = NULL;
out:
    khi_buf_cleanup(&b);
    khi_dns_in_close(in);
    return err;
}
