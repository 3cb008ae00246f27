/*
 * fmt_sis.c - Symbian OS installation files (.sis, EPOC release 3/5 and 6).
 *
 * A SIS file starts with four UIDs: the application's, 0x1000006D (release 3/5) or
 * 0x10003A12 (release 6), 0x10000419, and a checksum. A fixed header follows: the counts of
 * languages, files and dependencies, the options (bit 0 Unicode names, bit 3 "not
 * compressed", which only release 6 knows of) and the offsets of the tables. The file table
 * is a list of records, each a 32-bit type:
 *
 *   0 one file, 1 a file per language: type, details, source name (length, offset),
 *     destination name (length, offset), then per language the data's length, per language
 *     its offset, and in release 6 per language the original length and a MIME type
 *     (length, offset); a record of type 0 has one "language"
 *   2 options: a count, per option and language a string (length, offset), 16 bytes of flags
 *   3 if, 4 else-if: an expression (its size, then its bytes); 5 else, 6 end-if: nothing
 *
 * Release 6 data is zlib-compressed unless the options say otherwise. Each file's data (each
 * language's copy) is a part named by the base name of its destination path (else its source
 * path), as UTF-8. A component (an embedded .sis) comes out as a part and is walked in turn.
 *
 * Bounds: names are at most 512 bytes, a record's offsets and lengths are checked against
 * the file, each output is at most KHI_FMT_MAX_PART and its declared original length, all
 * together at most KHI_INST_MAX_TOTAL (records may point at the same data); at
 * most 64 languages and 65535 records (the header's 16-bit counts).
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define SIS_UID2_R5 0x1000006Du
#define SIS_UID2_R6 0x10003A12u
#define SIS_UID3 0x10000419u
#define SIS_HDR 0x44
#define SIS_MAX_LANGS 64

int khi_sis_detect(const uint8_t *data, size_t len)
{
    if (len < SIS_HDR)
        return 0;
    uint32_t uid2 = khi_le32(data + 4);
    return (uid2 == SIS_UID2_R5 || uid2 == SIS_UID2_R6) && khi_le32(data + 8) == SIS_UID3;
}

typedef struct sis {
    const uint8_t *d;
    size_t len, pos;
    int r6, unicode, compressed;
    unsigned nlangs;
    const khi_parts_cb *cb;
    size_t total; /* bytes inflated so far (records may share data) */
} sis;

/* Reads a u32 at the cursor; -1 when the file ends first. */
static int rd(sis *s, uint32_t *out)
{
    if (s->len - s->pos < 4)
        return -1;
    *out = khi_le32(s->d + s->pos);
    s->pos += 4;
    return 0;
}

/* The base name of the string (n bytes at off) as UTF-8 in out; "" when it does not fit. */
static void name_of(const sis *s, uint32_t n, uint32_t off, char *out, size_t out_len)
{
    out[0] = 0;
    if (!n || off > s->len || n > s->len - off || n > 512)
        return;
    char full[520];
    if (s->unicode) {
        khi_utf16le_to_utf8(s->d + off, n, full, sizeof(full));
    } else {
        memcpy(full, s->d + off, n);
        full[n] = 0;
    }
    const char *base = full;
    for (const char *c = full; *c; c++)
        if (*c == '\\' || *c == '/' || *c == ':')
            base = c + 1;
    khi_snprintf(out, out_len, "%s", base);
}

/* One language's copy of a file. */
static kh_err one_file(sis *s, const char *name, uint32_t clen, uint32_t off, uint32_t olen)
{
    if (!clen)
        return KH_OK;
    if (off > s->len || clen > s->len - off)
        return khi_fwarnf(s->cb, KHI_FWARN_DAMAGED, name, "SIS file data lies outside the file")
                   ? KH_ECANCELED
                   : KH_OK;
    if (!s->compressed)
        return s->cb->part(s->cb->ud, s->d + off, clen, name) ? KH_ECANCELED : KH_OK;
    if (s->total >= KHI_INST_MAX_TOTAL)
        return khi_fwarnf(s->cb, KHI_FWARN_TOTAL, name,
                          "SIS file inflates to more than %zu bytes in all: rest not scanned",
                          KHI_INST_MAX_TOTAL)
                   ? KH_ECANCELED
                   : KH_ELIMIT;
    size_t want = olen && olen < KHI_FMT_MAX_PART ? olen : KHI_FMT_MAX_PART;
    khi_buf out;
    khi_buf_init(&out);
    kh_err err = KH_OK;
    kh_err zr = khi_inflate(s->d + off, clen, 0, want, &out);
    s->total += out.len;
    if (zr == KH_ENOMEM)
        err = zr;
    else if (zr == KH_EFORMAT && khi_fwarnf(s->cb, KHI_FWARN_DAMAGED, name,
                                            "SIS file data damaged: %zu bytes inflated", out.len))
        err = KH_ECANCELED;
    else if (zr == KH_ELIMIT && (!olen || olen > KHI_FMT_MAX_PART) &&
             khi_fwarnf(s->cb, KHI_FWARN_TOOBIG, name,
                        "SIS file larger than %zu bytes: its head scanned", KHI_FMT_MAX_PART))
        err = KH_ECANCELED;
    if (err == KH_OK && out.len && s->cb->part(s->cb->ud, (const uint8_t *)out.data, out.len, name))
        err = KH_ECANCELED;
    khi_buf_cleanup(&out);
    return err;
}

/* A file record (type 0 with one language, type 1 with nlangs). */
static kh_err file_record(sis *s, unsigned nl, unsigned idx)
{
    uint32_t f[6], clen[SIS_MAX_LANGS], off[SIS_MAX_LANGS], olen[SIS_MAX_LANGS] = {0}, mime[2];
    for (int i = 0; i < 6; i++)
        if (rd(s, &f[i]))
            return KH_EFORMAT;
    for (unsigned i = 0; i < nl; i++)
        if (rd(s, &clen[i]))
            return KH_EFORMAT;
    for (unsigned i = 0; i < nl; i++)
        if (rd(s, &off[i]))
            return KH_EFORMAT;
    if (s->r6) {
        for (unsigned i = 0; i < nl; i++)
            if (rd(s, &olen[i]))
                return KH_EFORMAT;
        if (rd(s, &mime[0]) || rd(s, &mime[1]))
            return KH_EFORMAT;
    }
    char name[300];
    name_of(s, f[4], f[5], name, sizeof(name));
    if (!name[0])
        name_of(s, f[2], f[3], name, sizeof(name));
    if (!name[0])
        khi_snprintf(name, sizeof(name), "file-%u", idx + 1);
    for (unsigned i = 0; i < nl; i++) {
        char lname[320];
        if (nl > 1)
            khi_snprintf(lname, sizeof(lname), "%s.lang%u", name, i + 1);
        else
            khi_snprintf(lname, sizeof(lname), "%s", name);
        kh_err err = one_file(s, lname, clen[i], off[i], olen[i]);
        if (err != KH_OK)
            return err;
    }
    return KH_OK;
}

kh_err khi_sis_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    if (!khi_sis_detect(data, len))
        return KH_OK;
    sis s = {data, len, 0, khi_le32(data + 4) == SIS_UID2_R6, 0, 0, khi_le16(data + 0x12), cb, 0};
    unsigned nfiles = khi_le16(data + 0x14);
    uint16_t options = khi_le16(data + 0x24);
    s.unicode = options & 1;
    s.compressed = s.r6 && !(options & 8);
    s.pos = khi_le32(data + 0x34);
    if (s.nlangs == 0 || s.nlangs > SIS_MAX_LANGS || s.pos > len)
        return khi_fwarnf(cb, KHI_FWARN_DAMAGED, NULL, "SIS header damaged (%u languages)",
                          s.nlangs)
                   ? KH_ECANCELED
                   : KH_OK;
    kh_err err = KH_OK;
    for (unsigned i = 0; i < nfiles && err == KH_OK; i++) {
        uint32_t type, n;
        if (rd(&s, &type)) {
            err = KH_EFORMAT;
            break;
        }
        switch (type) {
        case 0:
        case 1:
            err = file_record(&s, type ? s.nlangs : 1, i);
            break;
        case 2: /* options: n * nlangs strings, then 16 bytes */
            if (rd(&s, &n) || n > 65535 ||
                (uint64_t)n * s.nlangs * 8 + 16 > (uint64_t)(len - s.pos))
                err = KH_EFORMAT;
            else
                s.pos += (size_t)n * s.nlangs * 8 + 16;
            break;
        case 3:
        case 4:
            if (rd(&s, &n) || n > len - s.pos)
                err = KH_EFORMAT;
            else
                s.pos += n;
            break;
        case 5:
        case 6:
            break;
        default:
            err = KH_EFORMAT;
            break;
        }
    }
    if (err == KH_ELIMIT)
        err = KH_OK; /* the sum cap, already reported */
    if (err == KH_EFORMAT)
        err = khi_fwarnf(cb, KHI_FWARN_DAMAGED, NULL, "SIS file table damaged or cut short")
                  ? KH_ECANCELED
                  : KH_OK;
    return err;
}
