/*
 * fmt_binhex.c - BinHex 4.0 (.hqx): the Macintosh mail encoding, down to the data fork.
 *
 * A BinHex file is a line "(This file must be converted with BinHex 4.0)", then text between
 * two colons in which every character carries 6 bits (newlines and other white space are
 * skipped). The decoded bytes are run-length encoded (0x90 n repeats the previous byte n-1 more
 * times; 0x90 0x00 is a literal 0x90), and the expanded stream is a header (name length, name,
 * version, type, creator, flags, data and resource fork lengths, CRC), the data fork with its
 * CRC, and the resource fork with its CRC. Malware travels in the data fork, which is handed
 * out under the file name of the header; a non-empty resource fork is handed out as
 * "<name>.rsrc". CRCs are not checked: a damaged file is scanned for what it holds, and fork
 * lengths beyond the data are cut to what was decoded.
 *
 * Bounds: the 6-bit decoding gives at most 3/4 of the input; run-length expansion can multiply
 * that by 255, so the expanded stream is capped at 64 MiB (KHI_BINHEX_MAX_OUT) and decoding
 * stops there with the data so far; the buffer never exceeds 64 MiB. One pass over the input, no
 * recursion.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define KHI_BINHEX_MAX_OUT ((64u << 20) - 1) /* the buffer (plus its NUL) stays within 64 MiB */

static const char magic[] = "(This file must be converted with BinHex";
static const char alphabet[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/* Offset of the magic line within the first 4 KiB (text before it, like a mail header, is
 * allowed), or -1. */
static long find_magic(const uint8_t *d, size_t len)
{
    size_t lim = len < 4096 ? len : 4096, n = sizeof(magic) - 1;
    for (size_t i = 0; i + n <= lim; i++)
        if (d[i] == '(' && memcmp(d + i, magic, n) == 0 && (i == 0 || d[i - 1] == '\n'))
            return (long)i;
    return -1;
}

int khi_binhex_detect(const uint8_t *data, size_t len)
{
    return find_magic(data, len) >= 0;
}

typedef struct rle {
    khi_buf out;
    int last, have_last, marker;
    int full;
} rle;

static kh_err rle_put(rle *s, uint8_t b)
{
    if (s->full)
        return KH_OK;
    if (s->marker) {
        s->marker = 0;
        if (b == 0) {
            s->last = 0x90;
            s->have_last = 1;
            return khi_buf_append(&s->out, "\x90", 1);
        }
        if (!s->have_last)
            return KH_OK;
        size_t n = (size_t)b - 1, room = KHI_BINHEX_MAX_OUT - s->out.len;
        if (n > room) {
            n = room;
            s->full = 1;
        }
        kh_err err = khi_buf_reserve(&s->out, n);
        if (err != KH_OK)
            return err;
        memset(s->out.data + s->out.len, s->last, n);
        s->out.len += n;
        return KH_OK;
    }
    if (b == 0x90) {
        s->marker = 1;
        return KH_OK;
    }
    if (s->out.len >= KHI_BINHEX_MAX_OUT) {
        s->full = 1;
        return KH_OK;
    }
    s->last = b;
    s->have_last = 1;
    return khi_buf_append(&s->out, &b, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

kh_err khi_binhex_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    long m = find_magic(data, len);
    if (m < 0)
        return KH_OK;
    int8_t val[256];
    memset(val, -1, sizeof(val));
    for (int i = 0; alphabet[i]; i++)
        val[(unsigned char)alphabet[i]] = (int8_t)i;
    size_t i = (size_t)m;
    while (i < len && data[i] != '\n' && data[i] != '\r')
        i++;
    while (i < len && data[i] != ':')
        i++;
    if (i >= len)
        return KH_OK;
    i++;
    rle s;
    memset(&s, 0, sizeof(s));
    khi_buf_init(&s.out);
    kh_err err = KH_OK;
    uint32_t acc = 0;
    int bits = 0;
    for (; i < len && data[i] != ':' && !s.full; i++) {
        int v = val[data[i]];
        if (v < 0)
            continue; /* white space and junk */
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            err = rle_put(&s, (uint8_t)(acc >> bits));
            if (err != KH_OK)
                goto out;
        }
    }
    const uint8_t *o = (const uint8_t *)s.out.data;
    size_t n = s.out.len;
    if (n < 1 || n < 1u + o[0] + 1 + 4 + 4 + 2 + 4 + 4 + 2)
        goto out;
    char name[72];
    size_t nl = o[0] < 63 ? o[0] : 63, k = 0;
    for (size_t j = 0; j < nl; j++) {
        uint8_t c = o[1 + j];
        name[k++] = (c < 0x20 || c == '/' || c == 0x7f) ? '_' : (char)c;
    }
    name[k] = '\0';
    if (!k)
        khi_snprintf(name, sizeof(name), "data");
    size_t h = 1 + (size_t)o[0] + 1 + 4 + 4 + 2;
    uint64_t dlen = be32(o + h), rlen = be32(o + h + 4);
    h += 4 + 4 + 2;
    size_t avail = n - h;
    size_t dl = dlen < avail ? (size_t)dlen : avail;
    if (cb(ud, o + h, dl, name))
        goto out;
    size_t roff = h + dl + 2;
    if (rlen && roff < n) {
        size_t rl = rlen < n - roff ? (size_t)rlen : n - roff;
        char rname[80];
        khi_snprintf(rname, sizeof(rname), "%s.rsrc", name);
        cb(ud, o + roff, rl, rname);
    }
out:
    khi_buf_cleanup(&s.out);
    return err;
}
