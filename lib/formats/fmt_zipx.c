/*
 * fmt_zipx.c - the members of a ZIP file that libarchive cannot decompress: methods 6
 * (Implode, PKZIP 1.x) and 9 (Deflate64, Windows' "compressed folders" past 2 GiB).
 *
 * libarchive reads every other member, and reports these as damaged. Rather than fork its
 * ZIP reader, this pre-pass reads the end of central directory record, walks the central
 * directory (the authoritative list, as PKZIP and libarchive's seeking reader use it), and for
 * each member of method 6 or 9 reads its local header and compressed bytes and decodes them
 * (fmt_zipdec.c). Members of other methods are not touched, so a ZIP file without such
 * members costs one read of its directory. ZIP64 end records are not followed (these methods
 * come from tools that predate ZIP64, or cap members below 4 GiB).
 *
 * Bounds: the directory is read only when it is at most 16 MiB, a member's compressed bytes
 * only when at most KHI_FMT_MAX_PART, and the output stops at the declared size and at
 * KHI_FMT_MAX_PART. A CRC mismatch, damaged data, an encrypted member and a cut output are
 * warnings; what was decoded is still handed out.
 */
#include "formats/formats.h"

#include <stdio.h>
#include <string.h>

#define CD_MAX ((size_t)16 << 20)
#define EOCD_SCAN (65535u + 22u)

typedef struct zwalk {
    khi_read_fn rd;
    void *rd_ud;
    uint64_t len;
    const khi_parts_cb *cb;
    char name[512];
} zwalk;

static int warn(zwalk *z, khi_fwarn what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int warn(zwalk *z, khi_fwarn what, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return z->cb->warn(z->cb->ud, what, z->name, detail);
}

/* Offset and size of the central directory, from the end record; 0 when there is none (or
 * no memory to look: libarchive then reports what it finds). */
static int find_cd(zwalk *z, uint64_t *out_off, uint64_t *out_size)
{
    size_t n = z->len < EOCD_SCAN ? (size_t)z->len : EOCD_SCAN;
    uint64_t base = z->len - n;
    int found = 0;
    uint8_t *tail = n < 22 ? NULL : khi_malloc(n);
    if (!tail || z->rd(z->rd_ud, base, tail, n) != n)
        goto out;
    for (size_t i = n - 22 + 1; i-- > 0 && !found;) {
        if (memcmp(tail + i, "PK\x05\x06", 4) != 0)
            continue;
        uint64_t size = khi_le32(tail + i + 12), off = khi_le32(tail + i + 16);
        if (off + size <= base + i) {
            *out_off = off;
            *out_size = size;
            found = 1;
        }
    }
out:
    khi_free(tail);
    return found;
}

/* Decode one member at local header offset lho; returns non-zero to stop the walk. */
static int member(zwalk *z, const uint8_t *cd, kh_err *err)
{
    unsigned flags = khi_le16(cd + 8), method = khi_le16(cd + 10);
    uint32_t crc = khi_le32(cd + 16);
    uint64_t csize = khi_le32(cd + 20), usize = khi_le32(cd + 24), lho = khi_le32(cd + 42);
    const char *mname = method == 6 ? "implode" : "deflate64";
    uint8_t lh[30];
    uint8_t *in = NULL;
    khi_buf out;
    khi_buf_init(&out);
    int stop = 0;
    if (flags & 1) {
        stop = warn(z, KHI_FWARN_ENCRYPTED, "%s member is encrypted; not scanned", mname);
        goto out;
    }
    if (lho > z->len || z->len - lho < 30 || z->rd(z->rd_ud, lho, lh, 30) != 30 ||
        memcmp(lh, "PK\x03\x04", 4) != 0) {
        stop = warn(z, KHI_FWARN_DAMAGED, "%s member's local header is missing; not scanned", mname);
        goto out;
    }
    uint64_t data = lho + 30 + khi_le16(lh + 26) + khi_le16(lh + 28);
    int cut = 0;
    if (data > z->len || csize > z->len - data) {
        cut = 1; /* truncated archive: decode what is there */
        csize = data > z->len ? 0 : z->len - data;
    }
    if (csize > KHI_FMT_MAX_PART) {
        stop = warn(z, KHI_FWARN_TOOBIG, "%s member of %llu compressed bytes, over %zu; not scanned",
                    mname, (unsigned long long)csize, KHI_FMT_MAX_PART);
        goto out;
    }
    in = khi_malloc(csize ? (size_t)csize : 1);
    if (!in) {
        *err = KH_ENOMEM;
        goto out;
    }
    if (z->rd(z->rd_ud, data, in, (size_t)csize) != csize)
        cut = 1;
    int big = usize > KHI_FMT_MAX_PART;
    size_t cap = big ? KHI_FMT_MAX_PART : (size_t)usize;
    kh_err d = method == 6 ? khi_implode_decode(in, (size_t)csize, flags, cap, &out)
                           : khi_deflate64_decode(in, (size_t)csize, cap, &out);
    if (d == KH_ENOMEM) {
        *err = d;
        goto out;
    }
    if (big)
        stop = warn(z, KHI_FWARN_TOOBIG, "%s member declares %llu bytes: only the first %zu scanned",
                    mname, (unsigned long long)usize, KHI_FMT_MAX_PART);
    else if (d == KH_EFORMAT || cut)
        stop = warn(z, KHI_FWARN_DAMAGED, "%s data is damaged or truncated after %zu of %llu bytes",
                    mname, out.len, (unsigned long long)usize);
    else if (d == KH_ELIMIT)
        stop = warn(z, KHI_FWARN_DAMAGED, "%s data runs past the declared %llu bytes; cut there",
                    mname, (unsigned long long)usize);
    else if (out.len != usize || khi_crc32(0, out.data, out.len) != crc)
        stop = warn(z, KHI_FWARN_DAMAGED, "%s member's CRC-32 or size does not match; scanned anyway",
                    mname);
    if (!stop && z->cb->part(z->cb->ud, (const uint8_t *)(out.data ? out.data : ""), out.len, z->name))
        stop = 1;
out:
    khi_free(in);
    khi_buf_cleanup(&out);
    return stop || *err != KH_OK;
}

kh_err khi_zipx_walk(khi_read_fn rd, void *rd_ud, uint64_t len, const khi_parts_cb *cb)
{
    zwalk z = {rd, rd_ud, len, cb, ""};
    uint64_t off, size;
    kh_err err = KH_OK;
    uint8_t *cd = NULL;
    if (!find_cd(&z, &off, &size) || size > CD_MAX || size < 46)
        return KH_OK; /* no directory: libarchive says what is wrong */
    cd = khi_malloc((size_t)size);
    if (!cd)
        return KH_ENOMEM;
    if (rd(rd_ud, off, cd, (size_t)size) != size)
        goto out;
    for (size_t p = 0; p + 46 <= size && memcmp(cd + p, "PK\x01\x02", 4) == 0;) {
        size_t nlen = khi_le16(cd + p + 28), next = p + 46 + nlen + khi_le16(cd + p + 30) + khi_le16(cd + p + 32);
        unsigned method = khi_le16(cd + p + 10);
        if (next > size)
            break;
        if ((method == 6 || method == 9) && nlen && cd[p + 46 + nlen - 1] != '/') {
            khi_snprintf(z.name, sizeof(z.name), "%.*s", (int)nlen, (const char *)cd + p + 46);
            if (member(&z, cd + p, &err)) {
                if (err == KH_OK)
                    err = KH_ECANCELED;
                break;
            }
        }
        p = next;
    }
out:
    khi_free(cd);
    return err;
}
