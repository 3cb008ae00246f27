/*
 * fmt_tnef.c - MS-TNEF (winmail.dat, application/ms-tnef): the attachments inside.
 *
 * Outlook wraps a message's attachments in TNEF when it sends "rich text" mail, so a mail
 * attachment named winmail.dat may hold the real attachments. A TNEF stream is a signature
 * (0x223E9F78, little-endian), a 16-bit key, and a sequence of attributes: level (1 message,
 * 2 attachment), a 32-bit id (type << 16 | tag), a 32-bit length, the data, a 16-bit checksum.
 * attAttachRendData (0x9002) starts an attachment, attAttachTitle (0x8010) gives its name and
 * attAttachData (0x800F) its bytes. The attachment's MAPI properties (attAttachment, 0x9005)
 * may add the long file name (PR_ATTACH_LONG_FILENAME, preferred to the 8.3 title) and, when
 * there is no attAttachData, the bytes (PR_ATTACH_DATA_OBJ); the message's own MAPI block is
 * skipped. Each attachment is handed out when the next starts
 * or the stream ends, under its title (or "attachment-N"); its bytes point into the input, so
 * nothing is copied or allocated. Checksums are ignored; an attribute whose length runs past
 * the end is cut to what is there and ends the walk.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define MAX_ATTACH 100000

#define ATT_ATTACH_DATA 0x800f
#define ATT_ATTACH_TITLE 0x8010
#define ATT_ATTACH_REND 0x9002
#define ATT_ATTACHMENT 0x9005

int khi_tnef_detect(const uint8_t *data, size_t len)
{
    return len >= 6 && khi_le32(data) == 0x223e9f78;
}

typedef struct att {
    const uint8_t *data;
    size_t len;
    int have_data;
    char name[256];
} att;

/* Hand out the attachment collected so far, if it has bytes; returns non-zero to stop. */
static int flush(att *a, unsigned *count, khi_part_fn cb, void *ud)
{
    int stop = 0;
    if (a->have_data) {
        (*count)++;
        char fallback[32];
        const char *name = a->name;
        if (!name[0]) {
            khi_snprintf(fallback, sizeof(fallback), "attachment-%u", *count);
            name = fallback;
        }
        stop = cb(ud, a->data, a->len, name) || *count >= MAX_ATTACH;
    }
    memset(a, 0, sizeof(*a));
    return stop;
}

static void set_name(att *a, const uint8_t *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof(a->name) && p[i]; i++)
        a->name[k++] = (p[i] < 0x20 || p[i] == '/' || p[i] == 0x7f) ? '_' : (char)p[i];
    a->name[k] = '\0';
}

/* The size of one value of a fixed-size MAPI property type; 0 for variable or unknown types. */
static size_t fixed_size(uint16_t type)
{
    switch (type) {
    case 0x0002: /* PT_SHORT, padded */
    case 0x0003: /* PT_LONG */
    case 0x0004: /* PT_FLOAT */
    case 0x000a: /* PT_ERROR */
    case 0x000b: /* PT_BOOLEAN, padded */
        return 4;
    case 0x0005: /* PT_DOUBLE */
    case 0x0006: /* PT_CURRENCY */
    case 0x0007: /* PT_APPTIME */
    case 0x0014: /* PT_I8 */
    case 0x0040: /* PT_SYSTIME */
        return 8;
    case 0x0048: /* PT_CLSID */
        return 16;
    default:
        return 0;
    }
}

/* A UTF-16LE file name into a->name as UTF-8 (BMP only; surrogates become '_'). */
static void set_name_utf16(att *a, const uint8_t *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i + 1 < n && k + 4 < sizeof(a->name); i += 2) {
        unsigned c = (unsigned)p[i] | (unsigned)p[i + 1] << 8;
        if (!c)
            break;
        if (c < 0x20 || c == '/' || c == 0x7f || (c >= 0xd800 && c <= 0xdfff)) {
            a->name[k++] = '_';
        } else if (c < 0x80) {
            a->name[k++] = (char)c;
        } else if (c < 0x800) {
            a->name[k++] = (char)(0xc0 | c >> 6);
            a->name[k++] = (char)(0x80 | (c & 0x3f));
        } else {
            a->name[k++] = (char)(0xe0 | c >> 12);
            a->name[k++] = (char)(0x80 | (c >> 6 & 0x3f));
            a->name[k++] = (char)(0x80 | (c & 0x3f));
        }
    }
    a->name[k] = '\0';
}

/* The MAPI properties of an attachment (attAttachment): PR_ATTACH_LONG_FILENAME (0x3707)
 * replaces the title, PR_ATTACH_DATA_OBJ (0x3701) gives the bytes when attAttachData did not.
 * Stops at the first property it cannot size. */
static void mapi_props(att *a, const uint8_t *p, size_t n)
{
    if (n < 4)
        return;
    uint32_t count = khi_le32(p);
    size_t off = 4;
    for (uint32_t i = 0; i < count && n - off >= 4; i++) {
        uint16_t type = (uint16_t)(p[off] | p[off + 1] << 8);
        uint16_t id = (uint16_t)(p[off + 2] | p[off + 3] << 8);
        off += 4;
        if (id >= 0x8000) { /* named property: GUID, kind, then an id (0) or a name (1) */
            if (n - off < 24)
                return;
            uint32_t kind = khi_le32(p + off + 16), v = khi_le32(p + off + 20);
            off += 24;
            if (kind == 1) {
                size_t nl = ((size_t)v + 3) & ~(size_t)3;
                if (v > n - off || nl > n - off)
                    return;
                off += nl;
            }
        }
        int multi = (type & 0x1000) != 0;
        type &= 0x0fff;
        size_t fs = fixed_size(type);
        uint32_t nvals = 1;
        if (multi || !fs) {
            if (n - off < 4)
                return;
            nvals = khi_le32(p + off);
            off += 4;
        }
        for (uint32_t v = 0; v < nvals; v++) {
            if (fs) {
                if (n - off < fs)
                    return;
                off += fs;
                continue;
            }
            if (type != 0x001e && type != 0x001f && type != 0x0102 && type != 0x000d)
                return; /* unknown type: its size is unknown */
            if (n - off < 4)
                return;
            uint32_t vl = khi_le32(p + off);
            off += 4;
            if (vl > n - off)
                return;
            const uint8_t *val = p + off;
            if (v == 0 && id == 0x3707 && type == 0x001e)
                set_name(a, val, vl);
            else if (v == 0 && id == 0x3707 && type == 0x001f)
                set_name_utf16(a, val, vl);
            else if (v == 0 && id == 0x3701 && !a->have_data) {
                size_t skip = type == 0x000d && vl >= 16 ? 16 : 0; /* PT_OBJECT: IID first */
                a->data = val + skip;
                a->len = vl - skip;
                a->have_data = 1;
            }
            size_t padded = ((size_t)vl + 3) & ~(size_t)3;
            off += padded < n - off ? padded : n - off;
        }
    }
}

kh_err khi_tnef_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    if (!khi_tnef_detect(data, len))
        return KH_OK;
    att a;
    memset(&a, 0, sizeof(a));
    unsigned count = 0;
    size_t off = 6;
    while (len - off >= 9) {
        uint8_t level = data[off];
        uint32_t id = khi_le32(data + off + 1), n = khi_le32(data + off + 5);
        off += 9;
        size_t avail = len - off, dl = n < avail ? n : avail;
        const uint8_t *p = data + off;
        if (level == 2) {
            uint16_t tag = (uint16_t)(id & 0xffff);
            if (tag == ATT_ATTACH_REND) {
                if (flush(&a, &count, cb, ud))
                    return KH_OK;
            } else if (tag == ATT_ATTACH_TITLE) {
                set_name(&a, p, dl);
            } else if (tag == ATT_ATTACH_DATA) {
                a.data = p;
                a.len = dl;
                a.have_data = 1;
            } else if (tag == ATT_ATTACHMENT) {
                mapi_props(&a, p, dl);
            }
        } else if (level != 1) {
            break; /* not an attribute: junk or the end of a damaged stream */
        }
        if (dl < n || avail - dl < 2)
            break;
        off += dl + 2;
    }
    flush(&a, &count, cb, ud);
    return KH_OK;
}
