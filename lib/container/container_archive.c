/*
 * container_archive.c - archives and compressed streams through libarchive, within limits.
 *
 * Every format libarchive reads (zip, 7z, rar, cab, tar, cpio, iso9660, lha, ar, xar and the
 * gzip/bzip2/xz/zstd/lzma/compress/lz4/lzip filters) is read from memory. Members are taken out
 * one at a time into a sink that holds small members in memory and moves large ones to an
 * unlinked temporary file, so memory stays bounded whatever the archive claims.
 *
 * The limits are checked while bytes come out, never after: a member larger than
 * max_filesize, an archive that inflates past max_ratio times its own size (past
 * ratio_min_bytes), more than max_scansize bytes or max_files members under one top-level file
 * stop that member or container with a warning naming the limit. Encrypted members and damaged
 * archives are warnings too; nothing is skipped silently.
 */
#include "container/container.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPILL_BYTES KHI_INMEM_MAX /* members past this go to a temporary file */
#define READ_CHUNK (256u * 1024u)

typedef struct sink {
    khi_buf mem;
    int fd; /* temporary file once spilled, else -1 */
    uint64_t len;
    const char *tmp_dir;
} sink;

static void sink_init(sink *s, const char *tmp_dir)
{
    khi_buf_init(&s->mem);
    s->fd = -1;
    s->len = 0;
    s->tmp_dir = tmp_dir;
}

static void sink_reset(sink *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    khi_buf_truncate(&s->mem, 0);
    s->len = 0;
}

static void sink_cleanup(sink *s)
{
    sink_reset(s);
    khi_buf_cleanup(&s->mem);
}

static int open_tmp(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[4096];
    khi_snprintf(path, sizeof(path), "%s/khien-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static kh_err sink_write(sink *s, const void *p, size_t n)
{
    if (s->fd < 0 && s->mem.len + n > SPILL_BYTES) {
        s->fd = open_tmp(s->tmp_dir);
        if (s->fd < 0 || write_all(s->fd, s->mem.data, s->mem.len) != 0)
            return KH_EIO;
        khi_buf_truncate(&s->mem, 0);
    }
    s->len += n;
    if (s->fd >= 0)
        return write_all(s->fd, p, n) == 0 ? KH_OK : KH_EIO;
    return khi_buf_append(&s->mem, p, n);
}

/* The member: in memory, or the temporary file (valid until sink_reset). */
static void sink_view(sink *s, khi_member *m)
{
    m->len = s->len;
    m->fd = s->fd;
    m->data = s->fd < 0 ? (const uint8_t *)(s->mem.data ? s->mem.data : "") : NULL;
}

typedef struct walk {
    struct archive *a;
    khi_budget *b;
    const khi_container_cb *cb;
    uint64_t container_len;
    uint64_t local; /* bytes taken out of this container */
    sink s;
    uint8_t *buf; /* READ_CHUNK bytes */
    int stop;     /* no more members from this container */
    char name[1024];
} walk;

static int warn(walk *w, khi_cwarn what, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int warn(walk *w, khi_cwarn what, const char *member, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return w->cb->warn(w->cb->ud, what, member, detail);
}

/* libarchive's reason; some readers stop on a header that runs past the end of the data
 * without giving one (a cpio name size larger than the input, for one) */
static const char *errstr(struct archive *a)
{
    const char *e = archive_error_string(a);
    return e ? e : "libarchive gave no reason; the data may be truncated or a header size wrong";
}

enum { TAKE_OK, TAKE_SKIP, TAKE_STOP_CONTAINER, TAKE_CANCEL, TAKE_NOMEM };

/* Account for n more bytes of the current member and store them, checking every limit
 * before the bytes are kept. */
static int feed(walk *w, const uint8_t *buf, size_t n)
{
    const kh_limits *L = w->b->limits;
    uint64_t un = (uint64_t)n;
    if (L->max_filesize && w->s.len + un > L->max_filesize)
        return warn(w, KHI_CWARN_MAXFILESIZE, w->name,
                    "member is larger than the %llu-byte limit (max-filesize); not scanned",
                    (unsigned long long)L->max_filesize) ? TAKE_CANCEL : TAKE_SKIP;
    if (L->max_scansize && w->b->extracted + un > L->max_scansize) {
        w->b->extracted = L->max_scansize;
        return warn(w, KHI_CWARN_MAXSCANSIZE, w->name,
                    "more than %llu bytes extracted from this file (max-scansize); rest not scanned",
                    (unsigned long long)L->max_scansize) ? TAKE_CANCEL : TAKE_STOP_CONTAINER;
    }
    w->b->extracted += un;
    w->local += un;
    if (L->max_ratio && w->local > L->ratio_min_bytes &&
        w->local / (w->container_len ? w->container_len : 1) >= L->max_ratio)
        return warn(w, KHI_CWARN_MAXRATIO, w->name,
                    "container of %llu bytes expands past %llu bytes, a ratio over %u:1 "
                    "(max-ratio); likely a decompression bomb, rest not scanned",
                    (unsigned long long)w->container_len, (unsigned long long)w->local,
                    L->max_ratio) ? TAKE_CANCEL : TAKE_STOP_CONTAINER;
    kh_err err = sink_write(&w->s, buf, n);
    if (err == KH_ENOMEM)
        return TAKE_NOMEM;
    if (err != KH_OK)
        return warn(w, KHI_CWARN_DAMAGED, w->name,
                    "cannot store member in a temporary file under %s", w->b->tmp_dir)
                   ? TAKE_CANCEL : TAKE_SKIP;
    return TAKE_OK;
}

/* Read the rest of the current entry's data into the sink. */
static int take(walk *w, struct archive_entry *e)
{
    for (;;) {
        la_ssize_t n = archive_read_data(w->a, w->buf, READ_CHUNK);
        if (n == 0)
            return TAKE_OK;
        if (n < 0) {
            if (n == ARCHIVE_WARN)
                continue;
            int enc = archive_entry_is_data_encrypted(e) || strstr(errstr(w->a), "ncrypt") ||
                      strstr(errstr(w->a), "assphrase");
            if (warn(w, enc ? KHI_CWARN_ENCRYPTED : KHI_CWARN_DAMAGED, w->name,
                     enc ? "member is encrypted: %s" : "member cannot be fully read: %s",
                     errstr(w->a)))
                return TAKE_CANCEL;
            if (w->s.len)
                return TAKE_OK; /* scan what could be read */
            return n == ARCHIVE_FATAL ? TAKE_STOP_CONTAINER : TAKE_SKIP;
        }
        int rc = feed(w, w->buf, (size_t)n);
        if (rc != TAKE_OK)
            return rc;
    }
}

static void member_name(walk *w, struct archive_entry *e, int stream, const char *stream_name,
                        unsigned index)
{
    const char *p = archive_entry_pathname_utf8(e);
    if (!p)
        p = archive_entry_pathname(e);
    if (stream && stream_name && (!p || strcmp(p, "data") == 0))
        p = stream_name;
    /* no name, or only slashes (the ar symbol table is called "/"): name it by position */
    if (!p || !*p || strspn(p, "/") == strlen(p))
        khi_snprintf(w->name, sizeof(w->name), "#%u", index);
    else
        khi_snprintf(w->name, sizeof(w->name), "%s", p);
}

#define HEAD_BYTES (36u * 1024u) /* enough for every magic, iso9660's at 32769 included */

/* A reader on data (or, data NULL, on the file fd from its start) with every filter and the
 * archive formats, or with only the raw format. *out_opened says whether libarchive recognised
 * the data. NULL only when out of memory. */
static struct archive *open_reader(const uint8_t *data, int fd, uint64_t len, int raw,
                                   int *out_opened)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_all(a);
    if (raw) {
        archive_read_support_format_raw(a);
    } else {
        /* Named formats only: "all" would include mtree, which bids on plain text and whose
         * entries can point at files on this machine, and warc/empty, which hold no files. */
        archive_read_support_format_7zip(a);
        archive_read_support_format_ar(a);
        archive_read_support_format_cab(a);
        archive_read_support_format_cpio(a);
        archive_read_support_format_iso9660(a);
        archive_read_support_format_lha(a);
        archive_read_support_format_rar(a);
        archive_read_support_format_rar5(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_xar(a);
        archive_read_support_format_zip(a);
    }
    if (data)
        *out_opened = archive_read_open_memory(a, data, (size_t)len) == ARCHIVE_OK;
    else
        *out_opened = lseek(fd, 0, SEEK_SET) == 0 &&
                      archive_read_open_fd(a, fd, 256 * 1024) == ARCHIVE_OK;
    return a;
}

/* Hand the member in the sink to the caller after take(); sets w->stop when the walk of
 * this container is over. */
static kh_err deliver(walk *w, int t)
{
    if (t == TAKE_NOMEM)
        return KH_ENOMEM;
    if (t == TAKE_CANCEL)
        return KH_ECANCELED;
    if (t == TAKE_STOP_CONTAINER)
        w->stop = 1;
    if (t != TAKE_OK)
        return KH_OK;
    khi_member m;
    m.name = w->name;
    sink_view(&w->s, &m);
    return w->cb->member(w->cb->ud, &m) ? KH_ECANCELED : KH_OK;
}

kh_err khi_container_walk(const uint8_t *data, int fd, uint64_t len, int stream,
                          const char *stream_name, khi_budget *b, const khi_container_cb *cb)
{
    kh_err err = KH_OK;
    const kh_limits *L = b->limits;
    walk w;
    memset(&w, 0, sizeof(w));
    w.b = b;
    w.cb = cb;
    w.container_len = len;
    sink_init(&w.s, b->tmp_dir);
    w.buf = khi_malloc(READ_CHUNK);
    if (!w.buf) {
        err = KH_ENOMEM;
        goto out;
    }
    int opened = 0;
    if (stream) {
        /* Decompress the head first and let the caller's type detection decide: libarchive's
         * own bidders would, for example, take a stream of zeros for an empty tar. */
        w.a = open_reader(data, fd, len, 1, &opened);
        struct archive_entry *e = NULL;
        size_t head = 0;
        la_ssize_t n = 0;
        if (!w.a) {
            err = KH_ENOMEM;
            goto out;
        }
        if (opened && archive_read_next_header(w.a, &e) == ARCHIVE_OK) {
            while (head < HEAD_BYTES) {
                n = archive_read_data(w.a, w.buf + head, HEAD_BYTES - head);
                if (n <= 0)
                    break;
                head += (size_t)n;
            }
        }
        if (e && !cb->is_archive(cb->ud, w.buf, head)) {
            member_name(&w, e, 1, stream_name, 0);
            b->files++;
            if (n < 0 && warn(&w, KHI_CWARN_DAMAGED, w.name, "compressed stream is damaged: %s",
                              errstr(w.a))) {
                err = KH_ECANCELED;
                goto out;
            }
            int t = feed(&w, w.buf, head);
            if (t == TAKE_OK && head == HEAD_BYTES)
                t = take(&w, e);
            err = deliver(&w, t);
            goto out;
        }
        archive_read_free(w.a);
    }
    w.a = open_reader(data, fd, len, 0, &opened);
    if (!w.a) {
        err = KH_ENOMEM;
        goto out;
    }
    if (!opened) {
        if (warn(&w, KHI_CWARN_DAMAGED, NULL, "cannot open as an archive: %s", errstr(w.a)))
            err = KH_ECANCELED;
        goto out;
    }
    for (unsigned index = 0;; index++) {
        struct archive_entry *e = NULL;
        int r = archive_read_next_header(w.a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r == ARCHIVE_FATAL || (r != ARCHIVE_OK && r != ARCHIVE_WARN && !e)) {
            int enc = archive_read_has_encrypted_entries(w.a) > 0;
            if (warn(&w, enc ? KHI_CWARN_ENCRYPTED : KHI_CWARN_DAMAGED, NULL,
                     enc ? "archive is encrypted: %s" : "archive is damaged: %s", errstr(w.a)))
                err = KH_ECANCELED;
            break;
        }
        if (r == ARCHIVE_RETRY)
            continue;
        /* ar archives made with "ar D" store no file type bits: treat "none" as a file */
        unsigned ft = archive_entry_filetype(e);
        if ((ft != AE_IFREG && ft != 0) || archive_entry_hardlink(e))
            continue;
        member_name(&w, e, stream, stream_name, index);
        if (cb->skip && cb->skip(cb->ud, w.name))
            continue;
        if (L->max_files && b->files >= L->max_files) {
            if (warn(&w, KHI_CWARN_MAXFILES, w.name,
                     "more than %u members in this file (max-files); rest not scanned",
                     L->max_files))
                err = KH_ECANCELED;
            break;
        }
        b->files++;
        if (archive_entry_is_data_encrypted(e) > 0) {
            if (warn(&w, KHI_CWARN_ENCRYPTED, w.name, "member is encrypted; not scanned"))
                err = KH_ECANCELED;
            if (err)
                break;
            continue;
        }
        if (L->max_filesize && archive_entry_size_is_set(e) &&
            (uint64_t)archive_entry_size(e) > L->max_filesize) {
            if (warn(&w, KHI_CWARN_MAXFILESIZE, w.name,
                     "member is %lld bytes, over the %llu-byte limit (max-filesize); not scanned",
                     (long long)archive_entry_size(e), (unsigned long long)L->max_filesize)) {
                err = KH_ECANCELED;
                break;
            }
            continue;
        }
        sink_reset(&w.s);
        err = deliver(&w, take(&w, e));
        if (err != KH_OK || w.stop)
            break;
    }
out:
    sink_cleanup(&w.s);
    khi_free(w.buf);
    if (w.a)
        archive_read_free(w.a);
    return err;
}
