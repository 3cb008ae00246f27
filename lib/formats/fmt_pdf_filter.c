/*
 * fmt_pdf_filter.c - the PDF stream filters: Flate, ASCIIHex, ASCII85, LZW, RunLength, and
 * the TIFF and PNG predictors of Flate and LZW.
 *
 * Malicious PDFs hide their payload (JavaScript, an embedded executable, an exploit's shell
 * code) in compressed streams, often behind a chain of filters, and often damaged on purpose
 * so that a strict decoder gives up while Acrobat still reads what it can. So every decoder
 * here is tolerant: it keeps what it decoded before a bad byte or the end of the input and
 * says so (KHI_PDF_CORRUPT) rather than failing; fmt_pdf.c hands that output out.
 *
 * Bounds: every decoder writes through one growable buffer that never grows past out->max,
 * which the caller sets from the per-stream cap, what is left of the per-file cap and the
 * ratio limit; reaching it ends the decoding with KHI_PDF_FULL. FlateDecode is zlib's format
 * (with a fallback to raw deflate for streams whose zlib header is damaged), hence the zlib
 * dependency: libarchive reads gzip files but not bare zlib streams. The predictors work in
 * place on the decoded rows (a PNG row's filter byte is dropped), so they need no memory.
 */
#include "formats/fmt_pdf.h"
#include "core/core.h"

#include <string.h>
#include <zlib.h>

void khi_pdf_parms_default(khi_pdf_parms *p)
{
    p->predictor = 1;
    p->colors = 1;
    p->bpc = 8;
    p->columns = 1;
    p->early_change = 1;
}

khi_pdf_filter khi_pdf_filter_by_name(const char *name, size_t len)
{
    static const struct {
        const char *name;
        khi_pdf_filter f;
    } names[] = {{"FlateDecode", KHI_PDF_F_FLATE},  {"Fl", KHI_PDF_F_FLATE},
                 {"ASCIIHexDecode", KHI_PDF_F_AHX}, {"AHx", KHI_PDF_F_AHX},
                 {"ASCII85Decode", KHI_PDF_F_A85},  {"A85", KHI_PDF_F_A85},
                 {"LZWDecode", KHI_PDF_F_LZW},      {"LZW", KHI_PDF_F_LZW},
                 {"RunLengthDecode", KHI_PDF_F_RL}, {"RL", KHI_PDF_F_RL}};
    for (size_t i = 0; i < KHI_ARRAY_LEN(names); i++)
        if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0)
            return names[i].f;
    return KHI_PDF_F_OTHER;
}

/* Make room for at least one more byte (up to max). Returns 0, 1 when full, -1 out of memory. */
static int grow(khi_pdf_out *o)
{
    if (o->len < o->cap)
        return 0;
    if (o->cap >= o->max)
        return 1;
    size_t nc = o->cap ? o->cap * 2 : 4096;
    if (nc > o->max || nc < o->cap)
        nc = o->max;
    uint8_t *nd = khi_realloc(o->data, nc);
    if (!nd)
        return -1;
    o->data = nd;
    o->cap = nc;
    return 0;
}

/* Append n bytes; returns 0, 1 when max was reached (what fitted is kept), -1 out of memory. */
static int put(khi_pdf_out *o, const uint8_t *p, size_t n)
{
    while (n) {
        int g = grow(o);
        if (g)
            return g;
        size_t k = o->cap - o->len < n ? o->cap - o->len : n;
        memcpy(o->data + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

static int put1(khi_pdf_out *o, uint8_t c)
{
    return put(o, &c, 1);
}

/* put()'s result as a status; sets *nomem on -1. */
static khi_pdf_status put_status(int r, int *nomem)
{
    if (r < 0)
        *nomem = 1;
    return KHI_PDF_FULL;
}

static khi_pdf_status flate(const uint8_t *in, size_t in_len, khi_pdf_out *o, int raw, int *nomem)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, raw ? -15 : 15) != Z_OK) {
        *nomem = 1;
        return KHI_PDF_CORRUPT;
    }
    khi_pdf_status st = KHI_PDF_CORRUPT;
    zs.next_in = (Bytef *)(uintptr_t)in;
    size_t left = in_len;
    for (;;) {
        int g = grow(o);
        if (g) {
            st = put_status(g, nomem);
            if (g > 0) { /* full: does the stream end right here? */
                uint8_t probe;
                zs.next_out = &probe;
                zs.avail_out = 1;
                if (inflate(&zs, Z_NO_FLUSH) == Z_STREAM_END && zs.avail_out == 1)
                    st = KHI_PDF_OK;
            }
            break;
        }
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        zs.avail_in = chunk;
        size_t room = o->cap - o->len;
        zs.next_out = o->data + o->len;
        zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        uInt out_before = zs.avail_out;
        int ret = inflate(&zs, Z_NO_FLUSH);
        o->len += out_before - zs.avail_out;
        left -= chunk - zs.avail_in;
        if (ret == Z_STREAM_END) {
            st = KHI_PDF_OK;
            break;
        }
        if (ret != Z_OK && !(ret == Z_BUF_ERROR && zs.avail_out == 0))
            break; /* corrupt data, a dictionary we do not have, or the input ran out */
    }
    inflateEnd(&zs);
    return st;
}

static khi_pdf_status ahx(const uint8_t *in, size_t n, khi_pdf_out *o, int *nomem)
{
    khi_pdf_status st = KHI_PDF_CORRUPT; /* until '>' */
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c == '>') {
            st = KHI_PDF_OK;
            break;
        }
        int v = khi_hexval(c);
        if (v < 0)
            continue; /* white space; other junk is skipped as readers do */
        if (hi < 0) {
            hi = v;
            continue;
        }
        int r = put1(o, (uint8_t)(hi << 4 | v));
        hi = -1;
        if (r)
            return put_status(r, nomem);
    }
    if (hi >= 0) {
        int r = put1(o, (uint8_t)(hi << 4));
        if (r)
            return put_status(r, nomem);
    }
    return st;
}

static khi_pdf_status a85(const uint8_t *in, size_t n, khi_pdf_out *o, int *nomem)
{
    khi_pdf_status st = KHI_PDF_CORRUPT; /* until "~>" */
    uint32_t v = 0;
    int k = 0;
    size_t i = 0;
    if (n >= 2 && in[0] == '<' && in[1] == '~')
        i = 2;
    for (; i < n; i++) {
        uint8_t c = in[i];
        uint8_t b[4];
        if (c == '~') {
            st = KHI_PDF_OK;
            break;
        }
        if (c == 'z' && k == 0) {
            memset(b, 0, 4);
            int r = put(o, b, 4);
            if (r)
                return put_status(r, nomem);
            continue;
        }
        if (c < '!' || c > 'u')
            continue;                     /* white space and junk */
        v = v * 85 + (uint32_t)(c - '!'); /* wraps on the invalid groups above "s8W-!" */
        if (++k == 5) {
            b[0] = (uint8_t)(v >> 24);
            b[1] = (uint8_t)(v >> 16);
            b[2] = (uint8_t)(v >> 8);
            b[3] = (uint8_t)v;
            int r = put(o, b, 4);
            if (r)
                return put_status(r, nomem);
            v = 0;
            k = 0;
        }
    }
    if (k == 1) {
        st = KHI_PDF_CORRUPT;
    } else if (k > 1) {
        for (int j = k; j < 5; j++)
            v = v * 85 + 84;
        uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        int r = put(o, b, (size_t)(k - 1));
        if (r)
            return put_status(r, nomem);
    }
    return st;
}

static khi_pdf_status rl(const uint8_t *in, size_t n, khi_pdf_out *o, int *nomem)
{
    size_t i = 0;
    while (i < n) {
        uint8_t l = in[i++];
        int r = 0;
        if (l == 128)
            return KHI_PDF_OK;
        if (l < 128) {
            size_t k = (size_t)l + 1 < n - i ? (size_t)l + 1 : n - i;
            r = put(o, in + i, k);
            i += k;
            if (!r && k < (size_t)l + 1)
                return KHI_PDF_CORRUPT;
        } else {
            if (i >= n)
                return KHI_PDF_CORRUPT;
            for (int j = 0; j < 257 - l && !r; j++)
                r = put1(o, in[i]);
            i++;
        }
        if (r)
            return put_status(r, nomem);
    }
    return KHI_PDF_CORRUPT; /* no EOD */
}

static khi_pdf_status lzw(const uint8_t *in, size_t n, int early, khi_pdf_out *o, int *nomem)
{
    uint16_t prefix[4096];
    uint8_t suffix[4096], first[4096];
    uint8_t stack[4096];
    for (unsigned c = 0; c < 256; c++) {
        prefix[c] = 0xffff;
        suffix[c] = (uint8_t)c;
        first[c] = (uint8_t)c;
    }
    unsigned next = 258, bits = 9, prev = 0xffff;
    uint32_t acc = 0;
    unsigned nacc = 0;
    size_t i = 0;
    for (;;) {
        while (nacc < bits && i < n) {
            acc = acc << 8 | in[i++];
            nacc += 8;
        }
        if (nacc < bits)
            return KHI_PDF_CORRUPT; /* no EOD */
        unsigned code = (acc >> (nacc - bits)) & ((1u << bits) - 1);
        nacc -= bits;
        if (code == 256) {
            next = 258;
            bits = 9;
            prev = 0xffff;
            continue;
        }
        if (code == 257)
            return KHI_PDF_OK;
        if (prev == 0xffff) {
            if (code > 255)
                return KHI_PDF_CORRUPT;
            int r = put1(o, (uint8_t)code);
            if (r)
                return put_status(r, nomem);
            prev = code;
            continue;
        }
        if (code > next || (code == next && next >= 4096))
            return KHI_PDF_CORRUPT;
        /* the string of code (or of prev plus its first byte, for the code being defined) */
        size_t sp = sizeof(stack);
        unsigned c = code == next ? prev : code;
        if (code == next)
            stack[--sp] = first[prev];
        while (c != 0xffff && sp > 0) {
            stack[--sp] = suffix[c];
            c = prefix[c];
        }
        int r = put(o, stack + sp, sizeof(stack) - sp);
        if (r)
            return put_status(r, nomem);
        if (next < 4096) {
            prefix[next] = (uint16_t)prev;
            suffix[next] = stack[sp];
            first[next] = first[prev];
            next++;
            if (next + (unsigned)early >= (1u << bits) && bits < 12)
                bits++;
        }
        prev = code;
    }
}

/* The predictor of /DecodeParms over the decoded rows, in place (o->len may shrink). */
static void predict(const khi_pdf_parms *p, khi_pdf_out *o)
{
    if (p->predictor < 2 || p->colors < 1 || p->colors > 32 || p->columns < 1 ||
        p->columns > (1L << 24) ||
        (p->bpc != 1 && p->bpc != 2 && p->bpc != 4 && p->bpc != 8 && p->bpc != 16))
        return;
    size_t bitsrow = (size_t)p->colors * (size_t)p->bpc * (size_t)p->columns;
    size_t rowlen = (bitsrow + 7) / 8;
    size_t bpp = ((size_t)p->colors * (size_t)p->bpc + 7) / 8;
    uint8_t *d = o->data;
    if (p->predictor == 2) { /* TIFF: each sample adds the one to its left */
        if (p->bpc != 8 && p->bpc != 16)
            return;
        size_t step = (size_t)p->colors * (p->bpc / 8);
        for (size_t r = 0; r < o->len; r += rowlen) {
            size_t end = o->len - r < rowlen ? o->len - r : rowlen;
            if (p->bpc == 8) {
                for (size_t j = step; j < end; j++)
                    d[r + j] = (uint8_t)(d[r + j] + d[r + j - step]);
            } else {
                for (size_t j = step; j + 1 < end; j += 2) {
                    unsigned v = ((unsigned)d[r + j] << 8 | d[r + j + 1]) +
                                 ((unsigned)d[r + j - step] << 8 | d[r + j - step + 1]);
                    d[r + j] = (uint8_t)(v >> 8);
                    d[r + j + 1] = (uint8_t)v;
                }
            }
        }
        return;
    }
    if (p->predictor < 10)
        return;
    /* PNG: every row starts with its filter type; rows are decoded in place, see above */
    size_t w = 0;
    for (size_t r = 0; r < o->len; r += rowlen + 1) {
        uint8_t type = d[r];
        size_t avail = o->len - r - 1 < rowlen ? o->len - r - 1 : rowlen;
        uint8_t *out = d + w;
        const uint8_t *up = w >= rowlen ? d + w - rowlen : NULL;
        for (size_t j = 0; j < avail; j++) {
            unsigned x = d[r + 1 + j];
            unsigned a = j >= bpp ? out[j - bpp] : 0;
            unsigned b = up ? up[j] : 0;
            unsigned c = up && j >= bpp ? up[j - bpp] : 0;
            switch (type) {
            case 1:
                x += a;
                break;
            case 2:
                x += b;
                break;
            case 3:
                x += (a + b) / 2;
                break;
            case 4: {
                int pa = (int)b - (int)c, pb = (int)a - (int)c, pc = pa + pb;
                pa = pa < 0 ? -pa : pa;
                pb = pb < 0 ? -pb : pb;
                pc = pc < 0 ? -pc : pc;
                x += (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
                break;
            }
            default:
                break;
            }
            out[j] = (uint8_t)x;
        }
        w += avail;
        if (r + 1 + rowlen >= o->len)
            break;
    }
    o->len = w;
}

kh_err khi_pdf_decode(khi_pdf_filter f, const khi_pdf_parms *parms, const uint8_t *in,
                      size_t in_len, khi_pdf_out *out, khi_pdf_status *out_status)
{
    khi_pdf_parms def;
    if (!parms) {
        khi_pdf_parms_default(&def);
        parms = &def;
    }
    int nomem = 0;
    khi_pdf_status st = KHI_PDF_CORRUPT;
    switch (f) {
    case KHI_PDF_F_FLATE:
        st = flate(in, in_len, out, 0, &nomem);
        if (st == KHI_PDF_CORRUPT && out->len == 0 && !nomem)
            st = flate(in, in_len, out, 1, &nomem); /* a damaged zlib header: try raw deflate */
        break;
    case KHI_PDF_F_AHX:
        st = ahx(in, in_len, out, &nomem);
        break;
    case KHI_PDF_F_A85:
        st = a85(in, in_len, out, &nomem);
        break;
    case KHI_PDF_F_LZW:
        st = lzw(in, in_len, parms->early_change ? 1 : 0, out, &nomem);
        break;
    case KHI_PDF_F_RL:
        st = rl(in, in_len, out, &nomem);
        break;
    default:
        break;
    }
    if (nomem) {
        khi_free(out->data);
        out->data = NULL;
        out->len = out->cap = 0;
        return KH_ENOMEM;
    }
    if ((f == KHI_PDF_F_FLATE || f == KHI_PDF_F_LZW) && out->data)
        predict(parms, out);
    *out_status = st;
    return KH_OK;
}
