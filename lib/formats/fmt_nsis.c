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
 * are decoded (liblzma, zlib); bzip2 is reported as not supported.
 *
 * The script header is handed out as "header", each file as "file-N". The files' names live
 * in the script's entries (not parsed yet): a file's bytes still come out whole and alone,
 * so hash and body signatures match them.
 *
 * Bounds: each block and the solid stream are cut at KHI_FMT_MAX_PART, all blocks together at
 * KHI_INST_MAX_TOTAL; the LZMA dictionary
 * allocated is at most 64 MiB (and never more than the output can use); at most 65536 blocks.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <lzma.h>
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
    return m == M_LZMA ? lzma_decode(in, n, max, out) : khi_inflate(in, n, 1, max, out);
}

typedef struct nsis {
    const khi_parts_cb *cb;
    unsigned nblocks;
    size_t total; /* bytes decompressed so far (KHI_INST_MAX_TOTAL) */
} nsis;

static int hand_out(nsis *ns, const uint8_t *d, size_t n)
{
    char name[32];
    if (ns->nblocks == 0)
        khi_snprintf(name, sizeof(name), "header");
    else
        khi_snprintf(name, sizeof(name), "file-%u", ns->nblocks);
    ns->nblocks++;
    return n ? ns->cb->part(ns->cb->ud, d, n, name) : 0;
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
    size_t pos = 0;
    while (n - pos >= 4 && ns->nblocks < NSIS_MAX_BLOCKS) {
        size_t bl = khi_le32(d + pos) & 0x7fffffff;
        pos += 4;
        if (bl > n - pos)
            bl = n - pos; /* cut by the output bound or damage: what is there is scanned */
        if (hand_out(ns, d + pos, bl))
            return KH_ECANCELED;
        pos += bl;
    }
    return KH_OK;
}

kh_err khi_nsis_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    if (len < FH_LEN || memcmp(data + 4, fh_magic, sizeof(fh_magic)) != 0)
        return KH_OK;
    nsis ns = {cb, 0, 0};
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
    if (m == M_BZIP2)
        return khi_fwarnf(cb, KHI_FWARN_DAMAGED, NULL,
                          "NSIS installer compressed with bzip2: not supported yet, not scanned")
                   ? KH_ECANCELED
                   : KH_OK;
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
        return err;
    }
    size_t pos = 0;
    while (n - pos >= 4 && ns.nblocks < NSIS_MAX_BLOCKS && err == KH_OK) {
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
            if (hand_out(&ns, p + pos, bl))
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
            else if (report(&ns, dr, "block", out.len) ||
                     hand_out(&ns, (const uint8_t *)out.data, out.len))
                err = KH_ECANCELED;
        }
        pos += bl;
    }
    khi_buf_cleanup(&out);
    return err;
}
