/*
 * fmt_nsis.c - NSIS (Nullsoft Scriptable Install System) installers.
 *
 * The installer's data follows its stub, usually as the PE overlay, starting with a 28-byte
 * "first header": flags, 0xDEADBEEF, "NullsoftInst", the size of the decompressed script
 * header and the size of all the data from the first header on (a CRC-32 may end it). The
 * data is a list of blocks, each a 32-bit length and that many bytes: the script header
 * first, then the files in the order the script installs them. Compression is chosen when the
 * installer is built:
 *
 *   - one block at a time: a length with bit 31 set is a compressed block (else stored);
 *   - solid: the whole data is one compressed stream, which decompresses to the same list of
 *     length-prefixed blocks, all stored.
 *
 * The method is not written down; like NSIS's own readers, it is told by the first bytes: an
 * LZMA stream starts with its 5-byte properties (0x5D and a dictionary size), a bzip2 one with
 * '1' (NSIS's bzip2 drops the "BZh" header), anything else is raw deflate. LZMA and deflate
 * are decoded by liblzma and zlib, NSIS's bzip2 by fmt_bzip2.c.
 *
 * The script header is handed out as "header", each file under the name the script extracts
 * it to ("File" commands: entries of opcode EW_EXTRACTFILE, 20, whose third parameter is the
 * file's position among the data blocks after the header, the second its name in the string
 * table), its base name only; a block no entry names is "file-N". Strings are ANSI (NSIS 2
 * and 3: codes 0xFC-0xFF, 0xFC escaping the next byte, the others a variable, shell folder or
 * language string taking two bytes: shown as '_') or UTF-16LE (Unicode NSIS 3: the table
 * starts with an empty UTF-16 string; codes 1-4 take one unit).
 *
 * Bounds: each block and the solid stream are cut at KHI_FMT_MAX_PART, all blocks together at
 * KHI_INST_MAX_TOTAL; the LZMA dictionary
 * allocated is at most 64 MiB (and never more than the output can use); at most 65536 blocks.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <lzma.h>
#include <stdlib.h>
#include <string.h>

#define FH_LEN 28
#define NSIS_MAX_BLOCKS 65536
#define NSIS_MAX_DICT ((uint32_t)64 << 20)

static const uint8_t fh_magic[16] = {0xef, 0xbe, 0xad, 0xde, 'N', 'u', 'l', 'l',
                                     's',  'o',  'f',  't',  'I', 'n', 's', 't'};

size_t khi_nsis_find(const uint8_t *data, size_t len)
{
    size_t lim = len > 65536 ? 65536 : len;
    size_t pos = 4;
    while (pos < lim) {
        const uint8_t *p = memmem(data + pos, lim - pos, fh_magic, sizeof(fh_magic));
        if (!p)
            break;
        size_t at = (size_t)(p - data) - 4;
        if (len - at >= FH_LEN)
            return at;
        pos = at + 5;
    }
    return SIZE_MAX;
}

typedef enum method { M_DEFLATE, M_LZMA, M_BZIP2 } method;

static int is_lzma(const uint8_t *p, size_t n)
{
    if (n < 5 || p[0] != 0x5d)
        return 0;
    uint32_t dict = khi_le32(p + 1);
    return dict >= 4096 && (dict & (dict - 1)) == 0;
}

static method method_of(const uint8_t *p, size_t n)
{
    if (is_lzma(p, n))
        return M_LZMA;
    if (n >= 2 && p[0] == 0x31 && p[1] < 14)
        return M_BZIP2;
    return M_DEFLATE;
}

static void *xz_alloc(void *opaque, size_t nmemb, size_t size)
{
    (void)opaque;
    return khi_reallocarray(NULL, nmemb, size);
}

static void xz_free(void *opaque, void *p)
{
    (void)opaque;
    khi_free(p);
}

/* An NSIS LZMA stream (5 bytes of properties, then LZMA data without a size) into out, at
 * most max bytes. Returns as khi_inflate. */
static kh_err lzma_decode(const uint8_t *in, size_t n, size_t max, khi_buf *out)
{
    if (n < 5)
        return KH_EFORMAT;
    const lzma_allocator al = {xz_alloc, xz_free, NULL};
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1, NULL}, {LZMA_VLI_UNKNOWN, NULL}};
    if (lzma_properties_decode(&f[0], &al, in, 5) != LZMA_OK)
        return KH_EFORMAT;
    lzma_options_lzma *o = f[0].options;
    uint32_t cap = max < NSIS_MAX_DICT ? (uint32_t)max : NSIS_MAX_DICT;
    if (o->dict_size > cap)
        o->dict_size = cap < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : cap;
    lzma_stream s = LZMA_STREAM_INIT;
    s.allocator = &al;
    lzma_ret lr = lzma_raw_decoder(&s, f);
    xz_free(NULL, f[0].options);
    if (lr != LZMA_OK)
        return lr == LZMA_MEM_ERROR ? KH_ENOMEM : KH_EFORMAT;
    kh_err err = KH_OK;
    uint8_t tmp[16384];
    s.next_in = in + 5;
    s.avail_in = n - 5;
    for (;;) {
        s.next_out = tmp;
        s.avail_out = sizeof(tmp);
        lr = lzma_code(&s, LZMA_RUN);
        size_t got = sizeof(tmp) - s.avail_out;
        if (got > max - out->len)
            got = max - out->len;
        if (got && khi_buf_append(out, tmp, got) != KH_OK) {
            err = KH_ENOMEM;
            break;
        }
        if (lr == LZMA_STREAM_END)
            break;
        if (lr == LZMA_MEM_ERROR) {
            err = KH_ENOMEM;
            break;
        }
        if (lr != LZMA_OK) {
            err = KH_EFORMAT;
            break;
        }
        if (out->len >= max) {
            err = KH_ELIMIT;
            break;
        }
        if (!s.avail_in && s.avail_out) { /* all input used: the data ended without a marker */
            break;
        }
    }
    lzma_end(&s);
    return err;
}

static kh_err decode(method m, const uint8_t *in, size_t n, size_t max, khi_buf *out)
{
    if (m == M_BZIP2)
        return khi_nsis_bzip2(in, n, max, out);
    return m == M_LZMA ? lzma_decode(in, n, max, out) : khi_inflate(in, n, 1, max, out);
}

typedef struct fname {
    uint32_t pos; /* among the data blocks after the header */
    char name[128];
} fname;

typedef struct nsis {
    const khi_parts_cb *cb;
    unsigned nblocks;
    size_t total; /* bytes decompressed so far (KHI_INST_MAX_TOTAL) */
    fname *names; /* sorted by pos */
    size_t nnames;
} nsis;

#define NSIS_MAX_NAMES 65536
#define EW_EXTRACTFILE 20

/* String off of the table s (n bytes) as the base name of a file, UTF-8 for Unicode. */
static void nsis_string(const uint8_t *s, size_t n, uint32_t off, int unicode, char *out, size_t out_len)
{
    uint8_t u16[2 * 128];
    size_t k = 0, o = 0;
    out[0] = '\0';
    if (unicode) {
        if ((uint64_t)off * 2 >= n)
            return;
        for (size_t i = (size_t)off * 2; i + 1 < n; i += 2) {
            unsigned c = khi_le16(s + i);
            if (c == 0)
                break;
            if (c >= 1 && c <= 4) { /* lang, shell, var: one unit; skip: the next unit as is */
                i += 2;
                if (c != 4 || i + 1 >= n)
                    c = '_';
                else
                    c = khi_le16(s + i);
            }
            if (c == '\\' || c == '/') {
                k = 0;
                continue;
            }
            if (k + 2 <= sizeof(u16)) {
                u16[k] = (uint8_t)c;
                u16[k + 1] = (uint8_t)(c >> 8);
                k += 2;
            }
        }
        khi_utf16le_to_utf8(u16, k, out, out_len);
        return;
    }
    for (size_t i = off; i < n && s[i]; i++) {
        uint8_t c = s[i];
        if (c >= 0xfd) { /* var, shell, lang: two bytes */
            i += 2;
            c = '_';
        } else if (c == 0xfc) {
            if (++i >= n)
                break;
            c = s[i];
        }
        if (c == '\\' || c == '/') {
            o = 0;
            continue;
        }
        if (o + 1 < out_len)
            out[o++] = c < 0x20 || c == 0x7f ? '_' : (char)c;
    }
    out[o] = '\0';
}

static int fname_cmp(const void *a, const void *b)
{
    const fname *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The names of the files the script header h (n bytes) extracts, by data position. The header
 * starts with flags and eight (offset, count) pairs; the third pair is the entries (seven
 * 32-bit words each: the opcode and six parameters), the fourth the string table. */
static kh_err read_names(nsis *ns, const uint8_t *h, size_t n)
{
    if (n < 4 + 8 * 8)
        return KH_OK;
    uint32_t ent = khi_le32(h + 4 + 16), nent = khi_le32(h + 4 + 20), str = khi_le32(h + 4 + 24);
    if (ent >= n || str >= n || nent > (n - ent) / 28)
        return KH_OK;
    int unicode = n - str >= 2 && h[str] == 0 && h[str + 1] == 0;
    for (uint32_t i = 0; i < nent && ns->nnames < NSIS_MAX_NAMES; i++) {
        const uint8_t *e = h + ent + (size_t)i * 28;
        if (khi_le32(e) != EW_EXTRACTFILE)
            continue;
        fname f;
        f.pos = khi_le32(e + 12);
        nsis_string(h + str, n - str, khi_le32(e + 8), unicode, f.name, sizeof(f.name));
        if (!f.name[0])
            continue;
        if ((ns->nnames & (ns->nnames - 1)) == 0) { /* grow at powers of two */
            fname *nn = khi_reallocarray(ns->names, ns->nnames ? ns->nnames * 2 : 8, sizeof(*nn));
            if (!nn)
                return KH_ENOMEM;
            ns->names = nn;
        }
        ns->names[ns->nnames++] = f;
    }
    if (ns->nnames)
        qsort(ns->names, ns->nnames, sizeof(*ns->names), fname_cmp);
    return KH_OK;
}

static const char *name_at(const nsis *ns, size_t pos)
{
    fname key;
    key.pos = (uint32_t)pos;
    const fname *f = pos <= UINT32_MAX && ns->nnames
                         ? bsearch(&key, ns->names, ns->nnames, sizeof(*ns->names), fname_cmp)
                         : NULL;
    return f ? f->name : NULL;
}

/* A block: the header (the first, whose names are read first), else a file at data position
 * pos. Returns 1 to stop. */
static int hand_out(nsis *ns, const uint8_t *d, size_t n, size_t pos, kh_err *err)
{
    char name[32];
    const char *nm = name;
    if (ns->nblocks == 0) {
        khi_snprintf(name, sizeof(name), "header");
        *err = read_names(ns, d, n);
        if (*err != KH_OK)
            return 1;
    } else {
        nm = name_at(ns, pos);
        if (!nm) {
            khi_snprintf(name, sizeof(name), "file-%u", ns->nblocks);
            nm = name;
        }
    }
    ns->nblocks++;
    return n ? ns->cb->part(ns->cb->ud, d, n, nm) : 0;
}

/* A decode result other than KH_OK as a warning; 1 when the walk must stop. */
static int report(nsis *ns, kh_err err, const char *what, size_t got)
{
    if (err == KH_EFORMAT)
        return khi_fwarnf(ns->cb, KHI_FWARN_DAMAGED, NULL,
                          "NSIS %s damaged or cut short: %zu bytes decoded", what, got);
    if (err == KH_ELIMIT)
        return khi_fwarnf(ns->cb, KHI_FWARN_TOOBIG, NULL,
                          "NSIS %s larger than %zu bytes: its head scanned", what,
                          KHI_FMT_MAX_PART);
    return 0;
}

/* The length-prefixed blocks of a decompressed solid stream. */
static kh_err solid_blocks(nsis *ns, const uint8_t *d, size_t n)
{
    size_t pos = 0, data0 = 0; /* data positions count from the end of the header's block */
    kh_err err = KH_OK;
    while (n - pos >= 4 && ns->nblocks < NSIS_MAX_BLOCKS) {
        size_t at = pos, bl = khi_le32(d + pos) & 0x7fffffff;
        pos += 4;
        if (bl > n - pos)
            bl = n - pos; /* cut by the output bound or damage: what is there is scanned */
        if (hand_out(ns, d + pos, bl, at - data0, &err))
            return err != KH_OK ? err : KH_ECANCELED;
        pos += bl;
        if (ns->nblocks == 1)
            data0 = pos;
    }
    return KH_OK;
}

kh_err khi_nsis_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    if (len < FH_LEN || memcmp(data + 4, fh_magic, sizeof(fh_magic)) != 0)
        return KH_OK;
    nsis ns = {cb, 0, 0, NULL, 0};
    uint32_t total = khi_le32(data + 24);
    size_t end = total >= FH_LEN && total <= len ? total : len;
    const uint8_t *p = data + FH_LEN;
    size_t n = end - FH_LEN;
    int solid = 1;
    method m;
    if (is_lzma(p, n)) {
        m = M_LZMA;
    } else if (n >= 4 && (khi_le32(p) & 0x80000000u) && (khi_le32(p) & 0x7fffffff) <= n - 4) {
        solid = 0;
        m = method_of(p + 4, n - 4);
    } else if (n >= 4 && !(khi_le32(p) & 0x80000000u) && khi_le32(p) == khi_le32(data + 20) &&
               khi_le32(p) <= n - 4) {
        solid = 0; /* the script header stored: the installer was built without compression */
        m = M_DEFLATE;
    } else {
        m = method_of(p, n);
    }
    khi_buf out;
    khi_buf_init(&out);
    kh_err err = KH_OK;
    if (solid) {
        kh_err dr = decode(m, p, n, KHI_FMT_MAX_PART, &out);
        if (dr == KH_ENOMEM)
            err = dr;
        else if (report(&ns, dr, "solid data", out.len))
            err = KH_ECANCELED;
        else
            err = solid_blocks(&ns, (const uint8_t *)out.data, out.len);
        khi_buf_cleanup(&out);
        khi_free(ns.names);
        return err;
    }
    size_t pos = 0, data0 = 0;
    while (n - pos >= 4 && ns.nblocks < NSIS_MAX_BLOCKS && err == KH_OK) {
        size_t at = pos;
        if (ns.nblocks == 1)
            data0 = pos;
        uint32_t w = khi_le32(p + pos);
        size_t bl = w & 0x7fffffff;
        if (bl > n - pos - 4) {
            /* the CRC-32 that ends the data looks like a block too long for what is left */
            if (n - pos > 4 && report(&ns, KH_EFORMAT, "block list", pos))
                err = KH_ECANCELED;
            break;
        }
        pos += 4;
        if (!(w & 0x80000000u)) {
            if (hand_out(&ns, p + pos, bl, at - data0, &err) && err == KH_OK)
                err = KH_ECANCELED;
        } else {
            if (ns.total >= KHI_INST_MAX_TOTAL) {
                if (khi_fwarnf(
                        cb, KHI_FWARN_TOTAL, NULL,
                        "NSIS installer decompresses to more than %zu bytes: rest not scanned",
                        KHI_INST_MAX_TOTAL))
                    err = KH_ECANCELED;
                break;
            }
            khi_buf_truncate(&out, 0);
            kh_err dr = decode(m, p + pos, bl, KHI_FMT_MAX_PART, &out);
            ns.total += out.len;
            if (dr == KH_ENOMEM)
                err = dr;
            else if (report(&ns, dr, "block", out.len))
                err = KH_ECANCELED;
            else if (hand_out(&ns, (const uint8_t *)out.data, out.len, at - data0, &err) && err == KH_OK)
                err = KH_ECANCELED;
        }
        pos += bl;
    }
    khi_buf_cleanup(&out);
    khi_free(ns.names);
    return err;
}
