/*
 * scan_quarantine.c - moving detected files out of the way, and back.
 *
 * Each entry is two files in the quarantine directory: ID.json, the record (written first,
 * atomically), and ID.data, the file itself (moved in second, mode 0400). A crash between the
 * two leaves a record without data, which list reports as damaged; it never leaves a file that
 * is in neither place. Moves use rename(2) and fall back to copy + fsync + unlink across file
 * systems, with O_EXCL so that nothing that exists is ever overwritten.
 */
#include <khien/quarantine.h>
#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static kh_err sha256_file(int fd, char out_hex[65])
{
    uint8_t buf[65536], dig[32];
    unsigned dl = 0;
    kh_err err = KH_OK;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return KH_ENOMEM;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = khi_errno_to_kh(errno);
            goto out;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    EVP_DigestFinal_ex(ctx, dig, &dl);
    khi_hex_encode(dig, 32, out_hex);
out:
    EVP_MD_CTX_free(ctx);
    return err;
}

/* Copy src to a new file dst (O_EXCL), fsync it, keep mode. */
static kh_err copy_file(const char *src, const char *dst, unsigned mode)
{
    kh_err err = KH_OK;
    char buf[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return khi_errno_to_kh(errno);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (out < 0) {
        err = khi_errno_to_kh(errno);
        close(in);
        return err;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = khi_errno_to_kh(errno);
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                err = khi_errno_to_kh(errno);
                goto done;
            }
            off += w;
        }
    }
done:
    if (err == KH_OK && fsync(out) != 0)
        err = khi_errno_to_kh(errno);
    close(out);
    close(in);
    if (err != KH_OK)
        unlink(dst);
    return err;
}

/* Move src to dst without overwriting anything. */
static kh_err move_file(const char *src, const char *dst, unsigned mode)
{
    if (access(dst, F_OK) == 0)
        return KH_EEXIST;
    if (rename(src, dst) == 0)
        return KH_OK;
    if (errno != EXDEV)
        return khi_errno_to_kh(errno);
    kh_err err = copy_file(src, dst, mode);
    if (err == KH_OK && unlink(src) != 0) {
        err = khi_errno_to_kh(errno);
        unlink(dst);
    }
    return err;
}

static kh_err entry_path(const char *dir, const char *id, const char *ext, khi_buf *out)
{
    khi_buf_truncate(out, 0);
    return khi_buf_printf(out, "%s/%s.%s", dir, id, ext);
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (khi_hexval((unsigned char)id[i]) < 0)
            return 0;
    return 1;
}

kh_err kh_quarantine_put(const char *dir, const char *path, const char *signature, char *out_id,
                         size_t out_id_len, char *errbuf, size_t errbuf_len)
{
    kh_err err = KH_OK;
    char abs[PATH_MAX], hex[65], id[33];
    khi_buf rec, data;
    khi_buf_init(&rec);
    khi_buf_init(&data);
    json_t *j = NULL;
    char *text = NULL;
    int fd = -1;
    struct stat st;
    if (!dir || !path || !signature || !out_id || out_id_len < 33)
        return KH_EINVAL;
    if (!realpath(path, abs) || lstat(abs, &st) != 0) {
        int e = errno;
        khi_snprintf(errbuf, errbuf_len, "%s: %s", path, strerror(e));
        return khi_errno_to_kh(e);
    }
    if (!S_ISREG(st.st_mode)) {
        khi_snprintf(errbuf, errbuf_len, "%s: not a regular file", path);
        return KH_ENOTREG;
    }
    fd = open(abs, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (err = sha256_file(fd, hex)) != KH_OK) {
        if (fd < 0)
            err = khi_errno_to_kh(errno);
        khi_snprintf(errbuf, errbuf_len, "%s: cannot read: %s", path, kh_strerror(err));
        goto out;
    }
    err = khi_mkdir_p(dir, 0700);
    if (err != KH_OK) {
        khi_snprintf(errbuf, errbuf_len, "%s: cannot create quarantine directory: %s", dir,
                     kh_strerror(err));
        goto out;
    }
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        err = KH_EIO;
        khi_snprintf(errbuf, errbuf_len, "no randomness for an entry id");
        goto out;
    }
    khi_hex_encode(rnd, sizeof(rnd), id);
    /* a path that is not UTF-8 (a name from an older system's code page) is kept byte for byte
     * in hex: JSON strings hold UTF-8 only */
    json_t *orig = json_string(abs);
    char *orig_hex = NULL;
    if (!orig && (orig_hex = khi_malloc(2 * strlen(abs) + 1)) != NULL)
        khi_hex_encode((const uint8_t *)abs, strlen(abs), orig_hex);
    j = json_pack("{s:s, s:o, s:s, s:s, s:I, s:i, s:i, s:i, s:I}", "id", id, orig ? "original_path" : "original_path_hex",
                  orig ? orig : json_string(orig_hex ? orig_hex : ""), "sha256", hex, "signature", signature,
                  "size", (json_int_t)st.st_size, "mode", (int)(st.st_mode & 07777), "uid", (int)st.st_uid, "gid",
                  (int)st.st_gid, "time", (json_int_t)time(NULL));
    khi_free(orig_hex);
    text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (!text || entry_path(dir, id, "json", &rec) != KH_OK || entry_path(dir, id, "data", &data) != KH_OK) {
        err = KH_ENOMEM;
        goto out;
    }
    err = khi_file_write_atomic(rec.data, text, strlen(text), 0600);
    if (err != KH_OK) {
        khi_snprintf(errbuf, errbuf_len, "%s: cannot write record: %s", rec.data, kh_strerror(err));
        goto out;
    }
    err = move_file(abs, data.data, 0400);
    if (err != KH_OK) {
        unlink(rec.data);
        khi_snprintf(errbuf, errbuf_len, "%s: cannot move into %s: %s", path, dir, kh_strerror(err));
        goto out;
    }
    chmod(data.data, 0400);
    khi_snprintf(out_id, out_id_len, "%s", id);
out:
    if (fd >= 0)
        close(fd);
    free(text);
    json_decref(j);
    khi_buf_cleanup(&rec);
    khi_buf_cleanup(&data);
    return err;
}

typedef struct qrec {
    json_t *j;
    char *raw_path; /* decoded original_path_hex, when the record has one */
    kh_qentry e;
} qrec;

static void qrec_free(qrec *q)
{
    json_decref(q->j);
    khi_free(q->raw_path);
    q->j = NULL;
    q->raw_path = NULL;
}

static int parse_record(const char *path, qrec *q)
{
    json_error_t je;
    q->j = json_load_file(path, 0, &je);
    if (!q->j)
        return -1;
    json_int_t size = 0, tm = 0;
    int mode = 0;
    const char *hexpath = NULL;
    q->raw_path = NULL;
    q->e.original_path = NULL;
    if (json_unpack(q->j, "{s:s, s?s, s?s, s:s, s:s, s:I, s:i, s:I}", "id", &q->e.id, "original_path",
                    &q->e.original_path, "original_path_hex", &hexpath, "sha256", &q->e.sha256, "signature",
                    &q->e.signature, "size", &size, "mode", &mode, "time", &tm) != 0 ||
        !valid_id(q->e.id)) {
        qrec_free(q);
        return -1;
    }
    if (!q->e.original_path && hexpath) {
        size_t n = strlen(hexpath) / 2;
        if (strlen(hexpath) % 2 || !(q->raw_path = khi_malloc(n + 1)) ||
            khi_hex_decode(hexpath, n, (uint8_t *)q->raw_path) != 0 || memchr(q->raw_path, 0, n)) {
            qrec_free(q);
            return -1;
        }
        q->raw_path[n] = '\0';
        q->e.original_path = q->raw_path;
    }
    if (!q->e.original_path) {
        qrec_free(q);
        return -1;
    }
    q->e.size = (uint64_t)size;
    q->e.mode = (unsigned)mode & 07777;
    q->e.time = (time_t)tm;
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const qrec *x = a, *y = b;
    if (x->e.time != y->e.time)
        return x->e.time < y->e.time ? -1 : 1;
    return strcmp(x->e.id, y->e.id);
}

kh_err kh_quarantine_list(const char *dir, kh_qentry_fn cb, void *ud, unsigned *out_damaged)
{
    kh_err err = KH_OK;
    qrec *recs = NULL;
    size_t n = 0, cap = 0;
    unsigned damaged = 0;
    khi_buf p;
    khi_buf_init(&p);
    DIR *d = opendir(dir);
    if (!d)
        return khi_errno_to_kh(errno);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l != 37 || strcmp(de->d_name + 32, ".json") != 0)
            continue;
        khi_buf_truncate(&p, 0);
        if (khi_buf_printf(&p, "%s/%s", dir, de->d_name) != KH_OK) {
            err = KH_ENOMEM;
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            qrec *nr = khi_reallocarray(recs, nc, sizeof(*nr));
            if (!nr) {
                err = KH_ENOMEM;
                goto out;
            }
            recs = nr;
            cap = nc;
        }
        memset(&recs[n], 0, sizeof(recs[n]));
        if (parse_record(p.data, &recs[n]) != 0) {
            damaged++;
            continue;
        }
        khi_buf_truncate(&p, 0);
        if (khi_buf_printf(&p, "%s/%s.data", dir, recs[n].e.id) != KH_OK) {
            qrec_free(&recs[n]);
            err = KH_ENOMEM;
            goto out;
        }
        if (access(p.data, F_OK) != 0) {
            qrec_free(&recs[n]);
            damaged++;
            continue;
        }
        n++;
    }
    if (n)
        qsort(recs, n, sizeof(*recs), cmp_rec);
    for (size_t i = 0; i < n; i++)
        if (cb && cb(ud, &recs[i].e)) {
            err = KH_ECANCELED;
            break;
        }
out:
    for (size_t i = 0; i < n; i++)
        qrec_free(&recs[i]);
    khi_free(recs);
    khi_buf_cleanup(&p);
    closedir(d);
    if (out_damaged)
        *out_damaged = damaged;
    return err;
}

kh_err kh_quarantine_restore(const char *dir, const char *id, const char *dest, char *errbuf,
                             size_t errbuf_len)
{
    kh_err err = KH_OK;
    qrec q;
    memset(&q, 0, sizeof(q));
    khi_buf rec, data;
    khi_buf_init(&rec);
    khi_buf_init(&data);
    if (!dir || !id)
        return KH_EINVAL;
    if (!valid_id(id)) {
        khi_snprintf(errbuf, errbuf_len, "'%s' is not a quarantine id (32 hex digits)", id);
        return KH_ENOENT;
    }
    if (entry_path(dir, id, "json", &rec) != KH_OK || entry_path(dir, id, "data", &data) != KH_OK) {
        err = KH_ENOMEM;
        goto out;
    }
    if (access(rec.data, F_OK) != 0) {
        khi_snprintf(errbuf, errbuf_len, "no quarantine entry %s in %s", id, dir);
        err = KH_ENOENT;
        goto out;
    }
    if (parse_record(rec.data, &q) != 0) {
        khi_snprintf(errbuf, errbuf_len, "%s: damaged record", rec.data);
        err = KH_EFORMAT;
        goto out;
    }
    const char *to = dest ? dest : q.e.original_path;
    err = move_file(data.data, to, 0600);
    if (err != KH_OK) {
        khi_snprintf(errbuf, errbuf_len, "cannot restore to %s: %s%s", to, kh_strerror(err),
                     err == KH_EEXIST ? " (a file is there; choose another place with --to)" : "");
        goto out;
    }
    chmod(to, q.e.mode);
    unlink(rec.data);
out:
    qrec_free(&q);
    khi_buf_cleanup(&rec);
    khi_buf_cleanup(&data);
    return err;
}

kh_err kh_quarantine_delete(const char *dir, const char *id)
{
    kh_err err = KH_OK;
    khi_buf rec, data;
    khi_buf_init(&rec);
    khi_buf_init(&data);
    if (!dir || !id || !valid_id(id))
        return KH_ENOENT;
    if (entry_path(dir, id, "json", &rec) != KH_OK || entry_path(dir, id, "data", &data) != KH_OK) {
        err = KH_ENOMEM;
        goto out;
    }
    if (access(rec.data, F_OK) != 0) {
        err = KH_ENOENT;
        goto out;
    }
    if (unlink(data.data) != 0 && errno != ENOENT) {
        err = khi_errno_to_kh(errno);
        goto out;
    }
    if (unlink(rec.data) != 0)
        err = khi_errno_to_kh(errno);
out:
    khi_buf_cleanup(&rec);
    khi_buf_cleanup(&data);
    return err;
}
