/*
 * fmt_ole2_vba.c - VBA projects inside OLE2 files: the MS-OVBA decompressor and the `dir`
 * stream's module records.
 *
 * A VBA project is a storage named VBA. Its `dir` stream, compressed, lists the modules; each
 * module's source code is the tail of the stream named by MODULESTREAMNAME, starting at
 * MODULEOFFSET and compressed the same way. Macro viruses live in that source, so it is what
 * must reach the signatures, as text. fmt_ole2.c finds the storages and streams; this file
 * only knows the two byte formats of [MS-OVBA]:
 *
 * - CompressedContainer (2.4.1): a signature byte 0x01, then chunks. A chunk has a 16-bit
 *   header (size - 3 in bits 0-11, signature 0b011 in bits 12-14, "compressed" in bit 15) and
 *   decompresses to at most 4096 bytes. An uncompressed chunk is 4096 raw bytes. A compressed
 *   one is token sequences: a flag byte, then eight tokens, a literal byte for each 0 bit, a
 *   16-bit copy token for each 1 bit. A copy token splits into offset and length bits by how
 *   far the chunk has decompressed so far (4 to 12 offset bits).
 * - The dir stream (2.3.4.2): records of a 16-bit id, a 32-bit size and the data, with one
 *   exception (PROJECTVERSION, whose size field says 4 but 6 bytes follow). Sub-records such as
 *   MODULESTREAMNAME's Unicode name are records of their own, so one loop reads them all.
 *
 * Damage never fails a call: decompression stops at the first thing that cannot be right (a
 * chunk signature other than 3, a copy reaching before its chunk, the end of the data) and
 * returns what came out before it, and says so. Output is capped by the caller (max), since a
 * chunk of about twenty bytes can decompress to 4096.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define CHUNK_MAX 4096

/* Room for n more bytes in *buf (capacity *cap), never past max. */
static kh_err reserve(uint8_t **buf, size_t *cap, size_t used, size_t n, size_t max)
{
    if (used + n <= *cap)
        return KH_OK;
    size_t nc = *cap ? *cap : CHUNK_MAX;
    while (nc < used + n && nc < max)
        nc = nc > max / 2 ? max : nc * 2;
    if (nc > max)
        nc = max;
    uint8_t *nb = khi_realloc(*buf, nc ? nc : 1);
    if (!nb)
        return KH_ENOMEM;
    *buf = nb;
    *cap = nc;
    return KH_OK;
}

/* One compressed chunk's tokens from d[*pos, end) onto out + start; returns 0 on damage. */
static int chunk_tokens(const uint8_t *d, size_t *pos, size_t end, uint8_t *out, size_t start,
                        size_t *used, size_t room)
{
    size_t p = *pos, o = *used;
    int ok = 1;
    while (p < end && o - start < room) {
        uint8_t flags = d[p++];
        for (int bit = 0; bit < 8 && p < end && o - start < room; bit++) {
            if (!(flags >> bit & 1)) {
                out[o++] = d[p++];
                continue;
            }
            if (end - p < 2) {
                ok = 0; /* half a copy token */
                p = end;
                break;
            }
            uint16_t tok = khi_le16(d + p);
            p += 2;
            size_t diff = o - start;
            unsigned bits = 4;
            while (bits < 12 && ((size_t)1 << bits) < diff)
                bits++;
            size_t n = (size_t)(tok & (0xffffu >> bits)) + 3;
            size_t back = (size_t)(tok >> (16 - bits)) + 1;
            if (back > diff) {
                ok = 0; /* before the chunk: not a valid stream */
                p = end;
                break;
            }
            if (n > room - (o - start))
                n = room - (o - start);
            for (size_t i = 0; i < n; i++, o++)
                out[o] = out[o - back]; /* may overlap: byte by byte, as the spec says */
        }
    }
    *pos = p;
    *used = o;
    return ok;
}

kh_err khi_ovba_decompress(const uint8_t *data, size_t len, size_t max, uint8_t **out_buf,
                           size_t *out_len, int *out_damaged)
{
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0, pos = 1;
    int damaged = 0;
    kh_err err = KH_OK;
    *out_buf = NULL;
    *out_len = 0;
    if (out_damaged)
        *out_damaged = 0;
    if (len < 1 || data[0] != 0x01)
        return KH_EFORMAT;
    while (used < max) {
        if (len - pos < 2) {
            if (pos < len)
                damaged = 1; /* a lone byte where a chunk header should be */
            break;
        }
        uint16_t hdr = khi_le16(data + pos);
        if ((hdr >> 12 & 7) != 3) {
            damaged = 1;
            break;
        }
        size_t csize = (size_t)(hdr & 0xfff) + 3;
        size_t end = csize <= len - pos ? pos + csize : len;
        if (end < pos + csize)
            damaged = 1; /* the last chunk is cut short */
        pos += 2;
        size_t room = max - used < CHUNK_MAX ? max - used : CHUNK_MAX;
        err = reserve(&buf, &cap, used, room, max);
        if (err != KH_OK)
            goto out;
        if (!(hdr & 0x8000)) { /* raw chunk: 4096 bytes whatever the size field says */
            size_t avail = len - pos < CHUNK_MAX ? len - pos : CHUNK_MAX;
            if (avail < CHUNK_MAX)
                damaged = 1;
            memcpy(buf + used, data + pos, avail < room ? avail : room);
            used += avail < room ? avail : room;
            pos += avail;
            continue;
        }
        if (!chunk_tokens(data, &pos, end, buf, used, &used, room)) {
            damaged = 1;
            break;
        }
        pos = end;
    }
    *out_buf = buf;
    *out_len = used;
    buf = NULL;
    if (out_damaged)
        *out_damaged = damaged;
out:
    khi_free(buf);
    return err;
}

/* A name from the dir stream into out as UTF-8: MBCS (the project's code page, unknown here:
 * bytes past ASCII become '_') or UTF-16LE. Control characters and '/' become '_'. */
static void dir_name(const uint8_t *p, size_t n, int utf16, char *out, size_t out_len)
{
    size_t k = 0;
    if (!utf16) {
        for (size_t i = 0; i < n && k + 1 < out_len; i++)
            out[k++] = (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '/') ? '_' : (char)p[i];
        out[k] = '\0';
        return;
    }
    khi_utf16le_to_utf8(p, n, out, out_len);
}

typedef struct module {
    int open;
    char name[128];
    char stream[128];
    char stream_u[256];
    uint32_t offset;
} module;

void khi_vba_dir_modules(const uint8_t *dir, size_t len, khi_vba_module_fn cb, void *ud)
{
    module m;
    memset(&m, 0, sizeof(m));
    size_t pos = 0;
    while (len - pos >= 6) {
        uint16_t id = khi_le16(dir + pos);
        size_t size = khi_le32(dir + pos + 2);
        pos += 6;
        if (id == 0x0009)
            size = 6; /* PROJECTVERSION: Reserved (4) is its size field, then 6 bytes */
        if (size > len - pos)
            break;
        const uint8_t *v = dir + pos;
        pos += size;
        switch (id) {
        case 0x0019: /* MODULENAME: a new module starts */
            memset(&m, 0, sizeof(m));
            m.open = 1;
            dir_name(v, size, 0, m.name, sizeof(m.name));
            break;
        case 0x001a: /* MODULESTREAMNAME */
            dir_name(v, size, 0, m.stream, sizeof(m.stream));
            break;
        case 0x0032: /* its Unicode form */
            dir_name(v, size, 1, m.stream_u, sizeof(m.stream_u));
            break;
        case 0x0031: /* MODULEOFFSET */
            if (size >= 4)
                m.offset = khi_le32(v);
            break;
        case 0x002b: /* module terminator */
            if (m.open) {
                const char *s = m.stream_u[0] ? m.stream_u : m.stream[0] ? m.stream : m.name;
                if (s[0] && cb(ud, s, m.offset))
                    return;
            }
            memset(&m, 0, sizeof(m));
            break;
        default:
            break;
        }
    }
}
