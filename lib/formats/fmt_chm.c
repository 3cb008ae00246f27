/*
 * fmt_chm.c - Microsoft Compiled HTML Help (.chm, "ITSF") through libmspack.
 *
 * A CHM file is a small file system: a directory of names with (section, offset, length), an
 * uncompressed section and an LZX-compressed one whose reset table lets a reader start at
 * frame boundaries. libmspack (Debian's libmspack, written for exactly these Microsoft
 * formats) parses the directory and decompresses LZX, but it works on files through a
 * "system" of callbacks. Here that system is in memory: the "file name" handed to libmspack
 * is a pointer to a descriptor (starting with a NUL, so it is also an empty string) that says
 * either "read the CHM bytes" or "write into this buffer", so nothing touches the disk.
 *
 * Members of the uncompressed section are handed out where they lie in the input (a member
 * running past the end is cut there, with a warning); the others are extracted in the order of
 * their offsets (libmspack then decompresses the LZX section once, front to back), and all are
 * handed out under their path without its leading '/'. The
 * "::DataSpace/..." system files (the compressed section itself, its reset table) are not
 * handed out: their content is what the other members are made of. A member and the sum of
 * members stop at KHI_FMT_MAX_PART bytes; a damaged file or member is a warning and what was
 * decoded is still scanned.
 */
#include "formats/formats.h"

#include <mspack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct memdesc {
    char nul; /* 0: libmspack may treat the "file name" as a string */
    int write;
    const uint8_t *data; /* read: the CHM file */
    size_t len;
    khi_buf *out; /* write: the member, up to cap bytes */
    size_t cap;
    int over; /* a write went past cap */
} memdesc;

typedef struct memfile {
    memdesc *desc;
    uint64_t pos;
} memfile;

typedef struct memsys {
    struct mspack_system sys; /* first: libmspack passes &sys back */
} memsys;

static struct mspack_file *mem_open(struct mspack_system *self, const char *filename, int mode)
{
    (void)self;
    memdesc *desc = (memdesc *)(uintptr_t)filename;
    if (!desc || (mode == MSPACK_SYS_OPEN_READ) == desc->write)
        return NULL;
    memfile *f = khi_malloc(sizeof(*f));
    if (f) {
        f->desc = desc;
        f->pos = 0;
    }
    return (struct mspack_file *)f;
}

static void mem_close(struct mspack_file *file)
{
    khi_free(file);
}

static int mem_read(struct mspack_file *file, void *buf, int bytes)
{
    memfile *f = (memfile *)file;
    if (f->desc->write || bytes < 0)
        return -1;
    size_t n = (size_t)bytes;
    if (f->pos >= f->desc->len)
        return 0;
    if (n > f->desc->len - f->pos)
        n = (size_t)(f->desc->len - f->pos);
    memcpy(buf, f->desc->data + f->pos, n);
    f->pos += n;
    return (int)n;
}

static int mem_write(struct mspack_file *file, void *buf, int bytes)
{
    memfile *f = (memfile *)file;
    memdesc *d = f->desc;
    if (!d->write || bytes < 0)
        return -1;
    size_t n = (size_t)bytes;
    if (n > d->cap - d->out->len) {
        n = d->cap - d->out->len;
        d->over = 1;
    }
    if (khi_buf_append(d->out, buf, n) != KH_OK || d->over)
        return -1;
    return bytes;
}

static int mem_seek(struct mspack_file *file, off_t offset, int mode)
{
    memfile *f = (memfile *)file;
    uint64_t base = mode == MSPACK_SYS_SEEK_START ? 0
                    : mode == MSPACK_SYS_SEEK_CUR ? f->pos
                                                  : (uint64_t)f->desc->len;
    uint64_t mag = offset < 0 ? (uint64_t)0 - (uint64_t)offset : (uint64_t)offset; /* off_t's minimum too */
    if (f->desc->write || (offset < 0 && mag > base) || (offset >= 0 && mag > f->desc->len - base))
        return -1;
    f->pos = offset < 0 ? base - mag : base + mag;
    return 0;
}

static off_t mem_tell(struct mspack_file *file)
{
    return (off_t)((memfile *)file)->pos;
}

static void mem_message(struct mspack_file *file, const char *format, ...)
{
    (void)file;
    (void)format; /* the library never prints: errors come back as codes */
}

static void *mem_alloc(struct mspack_system *self, size_t bytes)
{
    (void)self;
    return khi_malloc(bytes);
}

static void mem_free(void *p)
{
    khi_free(p);
}

static void mem_copy(void *src, void *dest, size_t bytes)
{
    memmove(dest, src, bytes);
}

int khi_chm_detect(const uint8_t *data, size_t len)
{
    return len >= 0x38 && memcmp(data, "ITSF", 4) == 0;
}

static int by_offset(const void *pa, const void *pb)
{
    const struct mschmd_file *a = *(const struct mschmd_file *const *)pa;
    const struct mschmd_file *b = *(const struct mschmd_file *const *)pb;
    if (a->section->id != b->section->id)
        return a->section->id < b->section->id ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static const char *mspack_reason(int e)
{
    switch (e) {
    case MSPACK_ERR_READ:
    case MSPACK_ERR_SEEK:
        return "it is truncated";
    case MSPACK_ERR_SIGNATURE:
        return "a header signature is wrong";
    case MSPACK_ERR_DATAFORMAT:
        return "its structure is damaged";
    case MSPACK_ERR_DECRUNCH:
        return "its LZX data is damaged";
    default:
        return "libmspack could not read it";
    }
}

static int warn(const khi_parts_cb *cb, khi_fwarn what, const char *part, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int warn(const khi_parts_cb *cb, khi_fwarn what, const char *part, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return cb->warn(cb->ud, what, part, detail);
}

/* A member of the uncompressed section: its bytes in the input, as far as they go. */
static int member_plain(const uint8_t *data, size_t len, const struct mschmd_file *f, const char *name,
                        const khi_parts_cb *cb)
{
    uint64_t start = (uint64_t)f->section->chm->sec0.offset + (uint64_t)f->offset;
    uint64_t want = (uint64_t)f->length;
    if (f->section->chm->sec0.offset < 0 || f->offset < 0 || start > len || want > len - start) {
        size_t have = start > len ? 0 : (size_t)(len - start);
        if (warn(cb, KHI_FWARN_DAMAGED, name,
                 "CHM member of %llu bytes runs past the end of the file; its %zu bytes there scanned",
                 (unsigned long long)want, have))
            return 1;
        want = have;
    }
    return cb->part(cb->ud, data + (start > len ? len : start), (size_t)want, name);
}

/* Extract one member into out and hand it out; non-zero return stops the walk. */
static int member(struct mschm_decompressor *d, struct mschmd_file *f, const char *name, khi_buf *out,
                  size_t *total, const khi_parts_cb *cb, kh_err *err)
{
    size_t left = KHI_FMT_MAX_PART - *total;
    memdesc wd = {0, 1, NULL, 0, out, 0, 0};
    wd.cap = (uint64_t)f->length < left ? (size_t)f->length : left;
    khi_buf_truncate(out, 0);
    int e = d->extract(d, f, (const char *)&wd);
    *total += out->len;
    int stop = 0;
    if (e == MSPACK_ERR_NOMEMORY || (e == MSPACK_ERR_WRITE && !wd.over)) {
        *err = KH_ENOMEM;
        return 1;
    }
    if (wd.over || (uint64_t)f->length > left)
        stop = warn(cb, KHI_FWARN_TOOBIG, name,
                    "CHM member of %lld bytes passes the %zu bytes read from one help file; "
                    "only its first %zu bytes scanned",
                    (long long)f->length, KHI_FMT_MAX_PART, out->len);
    else if (e != MSPACK_ERR_OK)
        stop = warn(cb, KHI_FWARN_DAMAGED, name, "CHM member cannot be fully read: %s", mspack_reason(e));
    if (!stop && (out->len || e == MSPACK_ERR_OK))
        stop = cb->part(cb->ud, (const uint8_t *)(out->data ? out->data : ""), out->len, name);
    return stop;
}

kh_err khi_chm_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    memsys ms = {{mem_open, mem_close, mem_read, mem_write, mem_seek, mem_tell, mem_message,
                  mem_alloc, mem_free, mem_copy, NULL}};
    memdesc rd = {0, 0, data, len, NULL, 0, 0};
    struct mschm_decompressor *d = NULL;
    struct mschmd_header *chm = NULL;
    struct mschmd_file **list = NULL;
    khi_buf out;
    khi_buf_init(&out);
    kh_err err = KH_OK;
    if (!khi_chm_detect(data, len))
        return KH_OK;
    d = mspack_create_chm_decompressor(&ms.sys);
    if (!d)
        return KH_ENOMEM;
    chm = d->open(d, (const char *)&rd);
    if (!chm) {
        int e = d->last_error(d);
        if (e == MSPACK_ERR_NOMEMORY || e == MSPACK_ERR_OPEN)
            err = KH_ENOMEM;
        else if (warn(cb, KHI_FWARN_DAMAGED, NULL, "CHM file cannot be opened: %s", mspack_reason(e)))
            err = KH_ECANCELED;
        goto out;
    }
    size_t n = 0, total = 0;
    for (struct mschmd_file *f = chm->files; f; f = f->next)
        n++;
    list = khi_malloc((n ? n : 1) * sizeof(*list));
    if (!list) {
        err = KH_ENOMEM;
        goto out;
    }
    n = 0;
    for (struct mschmd_file *f = chm->files; f; f = f->next)
        if (f->length > 0 && strncmp(f->filename, "::", 2) != 0)
            list[n++] = f;
    qsort(list, n, sizeof(*list), by_offset);
    for (size_t i = 0; i < n && total < KHI_FMT_MAX_PART; i++) {
        struct mschmd_file *f = list[i];
        const char *name = f->filename[0] == '/' && f->filename[1] ? f->filename + 1 : f->filename;
        if (f->section->id == 0 ? member_plain(data, len, f, name, cb)
                                : member(d, f, name, &out, &total, cb, &err)) {
            if (err == KH_OK)
                err = KH_ECANCELED;
            break;
        }
    }
out:
    khi_free(list);
    khi_buf_cleanup(&out);
    if (chm)
        d->close(d, chm);
    mspack_destroy_chm_decompressor(d);
    return err;
}
