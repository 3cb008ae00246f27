/*
 * fmt_arj.c - ARJ archives (Robert Jung's ARJ, 1990s DOS and still made by arj on Linux).
 *
 * An ARJ file is a chain of headers, each "0x60 0xEA", a 16-bit basic header size (0 ends the
 * archive, at most 2600), the basic header and its CRC-32, then extended headers (16-bit size,
 * data, CRC-32) until a size of 0. The first header describes the archive; each later one a
 * file, whose compressed bytes follow it. In the basic header: first-header size, versions,
 * host OS, flags (bit 0: garbled, i.e. encrypted), method, file type (0 binary, 1 text, 3
 * directory...), time, compressed and original sizes, the file's CRC-32, and at the end of the
 * first header the NUL-terminated name.
 *
 * Methods 1 to 3 are one decoder (they differ only in how hard the compressor looked for
 * matches): LZ77 with a 26 KiB window and static Huffman codes sent per block, the scheme of
 * Okumura's ar002 that LHA's -lh5- also uses, with 510 literal/length symbols, 17 position
 * slots and a 19-symbol code for the code lengths. Method 4 has no Huffman codes: lengths and
 * positions are Elias-gamma-like unary prefixes and raw bits. Both read bits highest first.
 * Decoding writes into one buffer holding the whole file, so positions point into the output.
 *
 * Bounds: a file is decoded to its declared size and at most KHI_FMT_MAX_PART, Huffman code
 * lengths are at most 16 and every table count is checked against its array; input that
 * runs out reads as zero bits for a few bytes (as unarj does), then is damage. Nothing is
 * trusted from the file before its header CRC-32 matches.
 */
#include "formats/formats.h"

#include <stdio.h>
#include <string.h>

#define HDR_MAX 2600
#define NC 510 /* 256 literals + lengths 3..256 */
#define NP 17  /* position slots */
#define NT 19  /* code-length symbols */
#define MAXBITS 16

int khi_arj_detect(const uint8_t *d, size_t len)
{
    if (len < 8 || d[0] != 0x60 || d[1] != 0xea)
        return 0;
    size_t h = khi_le16(d + 2);
    return h >= 30 && h <= HDR_MAX && len >= 4 + h + 4 && d[4] <= h &&
           khi_crc32(0, d + 4, h) == khi_le32(d + 4 + h);
}

/* ---- bits, highest first ---- */

typedef struct bitin {
    const uint8_t *in;
    size_t len, pos;
    uint32_t buf;
    int cnt;
    size_t over; /* zero bytes read past the end */
} bitin;

static unsigned peek16(bitin *s)
{
    while (s->cnt <= 24) {
        uint8_t b = 0;
        if (s->pos < s->len)
            b = s->in[s->pos++];
        else
            s->over++;
        s->buf = s->buf << 8 | b;
        s->cnt += 8;
    }
    return (s->buf >> (s->cnt - 16)) & 0xffff;
}

static unsigned getbits(bitin *s, int n)
{
    if (n == 0)
        return 0;
    unsigned v = peek16(s) >> (16 - n);
    s->cnt -= n;
    return v;
}

/* ---- canonical Huffman codes (lengths up to 16), or one symbol sent without bits ---- */

typedef struct huff {
    int single; /* >= 0: every code is this symbol, 0 bits */
    uint16_t count[MAXBITS + 1];
    uint16_t symbol[NC];
} huff;

static int huff_build(huff *h, const uint8_t *lens, int n)
{
    uint16_t offs[MAXBITS + 1];
    h->single = -1;
    memset(h->count, 0, sizeof(h->count));
    for (int i = 0; i < n; i++)
        h->count[lens[i]]++;
    int left = 1;
    for (int l = 1; l <= MAXBITS; l++) {
        left = (left << 1) - h->count[l];
        if (left < 0)
            return -1;
    }
    offs[1] = 0;
    for (int l = 1; l < MAXBITS; l++)
        offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
    for (int i = 0; i < n; i++)
        if (lens[i])
            h->symbol[offs[lens[i]]++] = (uint16_t)i;
    return 0;
}

static int decode(bitin *s, const huff *h)
{
    if (h->single >= 0)
        return h->single;
    int code = 0, first = 0, index = 0;
    for (int l = 1; l <= MAXBITS; l++) {
        code |= (int)getbits(s, 1);
        int count = h->count[l];
        if (code - count < first)
            return h->symbol[index + (code - first)];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}

typedef struct lzh {
    bitin s;
    huff pt, c;
    unsigned blocksize;
} lzh;

/* The lengths of the code-length code (nn NT, nbit 5, special 3) or of positions (NP, 5). */
static int read_pt_len(lzh *z, int nn, int nbit, int i_special)
{
    uint8_t lens[NT];
    int n = (int)getbits(&z->s, nbit);
    if (n == 0) {
        int c = (int)getbits(&z->s, nbit);
        z->pt.single = c;
        return c < nn ? 0 : -1;
    }
    if (n > nn)
        return -1;
    int i = 0;
    while (i < n) {
        int c = (int)(peek16(&z->s) >> 13);
        if (c == 7) {
            unsigned mask = 1u << 12;
            while (mask & peek16(&z->s)) {
                mask >>= 1;
                c++;
            }
            if (c > MAXBITS)
                return -1;
        }
        getbits(&z->s, c < 7 ? 3 : c - 3);
        lens[i++] = (uint8_t)c;
        if (i == i_special) {
            int zeros = (int)getbits(&z->s, 2);
            while (zeros-- > 0 && i < nn)
                lens[i++] = 0;
        }
    }
    while (i < nn)
        lens[i++] = 0;
    return huff_build(&z->pt, lens, nn);
}

static int read_c_len(lzh *z)
{
    uint8_t lens[NC];
    int n = (int)getbits(&z->s, 9);
    if (n == 0) {
        int c = (int)getbits(&z->s, 9);
        z->c.single = c;
        return c < NC ? 0 : -1;
    }
    if (n > NC)
        return -1;
    int i = 0;
    while (i < n) {
        int c = decode(&z->s, &z->pt);
        if (c < 0)
            return -1;
        if (c <= 2) {
            int zeros = c == 0 ? 1 : c == 1 ? (int)getbits(&z->s, 4) + 3 : (int)getbits(&z->s, 9) + 20;
            if (zeros > NC - i)
                return -1;
            while (zeros-- > 0)
                lens[i++] = 0;
        } else {
            lens[i++] = (uint8_t)(c - 2);
        }
    }
    while (i < NC)
        lens[i++] = 0;
    return huff_build(&z->c, lens, NC);
}

static kh_err copy_back(khi_buf *out, size_t dist, size_t n)
{
    if (dist > out->len)
        return KH_EFORMAT;
    if (khi_buf_reserve(out, n) != KH_OK)
        return KH_ENOMEM;
    uint8_t *d = (uint8_t *)out->data;
    for (size_t i = 0; i < n; i++, out->len++)
        d[out->len] = d[out->len - dist];
    return KH_OK;
}

static kh_err put_byte(khi_buf *out, uint8_t c)
{
    if (out->len + 1 >= out->cap && khi_buf_reserve(out, out->len < 4096 ? 4096 : out->len) != KH_OK)
        return KH_ENOMEM;
    out->data[out->len++] = (char)c;
    return KH_OK;
}

/* Methods 1-3. KH_OK when want bytes came out, KH_EFORMAT on damage (out keeps the rest). */
static kh_err decode_lzh(const uint8_t *in, size_t in_len, size_t want, khi_buf *out)
{
    lzh *z = khi_calloc(1, sizeof(*z));
    if (!z)
        return KH_ENOMEM;
    kh_err err = KH_OK;
    z->s = (bitin){in, in_len, 0, 0, 0, 0};
    while (out->len < want && err == KH_OK) {
        if (z->s.over > 2) {
            err = KH_EFORMAT;
            break;
        }
        if (z->blocksize == 0) {
            z->blocksize = getbits(&z->s, 16);
            if (z->blocksize == 0)
                z->blocksize = 65536; /* unarj's 16-bit counter wraps */
            if (read_pt_len(z, NT, 5, 3) != 0 || read_c_len(z) != 0 || read_pt_len(z, NP, 5, -1) != 0) {
                err = KH_EFORMAT;
                break;
            }
        }
        z->blocksize--;
        int c = decode(&z->s, &z->c);
        if (c < 0) {
            err = KH_EFORMAT;
        } else if (c < 256) {
            err = put_byte(out, (uint8_t)c);
        } else {
            size_t n = (size_t)c - 253;
            int p = decode(&z->s, &z->pt);
            if (p < 0) {
                err = KH_EFORMAT;
                break;
            }
            size_t dist = p == 0 ? 0 : ((size_t)1 << (p - 1)) + getbits(&z->s, p - 1);
            if (n > want - out->len)
                n = want - out->len;
            err = copy_back(out, dist + 1, n);
        }
    }
    khi_free(z);
    return err;
}

/* Method 4: a unary prefix of up to stop - start ones selects the width of the raw bits. */
static size_t gamma_read(bitin *s, int start, int stop)
{
    size_t plus = 0, pwr = (size_t)1 << start;
    int width = start;
    for (; width < stop; width++) {
        if (!getbits(s, 1))
            break;
        plus += pwr;
        pwr <<= 1;
    }
    return plus + getbits(s, width);
}

static kh_err decode_fastest(const uint8_t *in, size_t in_len, size_t want, khi_buf *out)
{
    bitin s = {in, in_len, 0, 0, 0, 0};
    kh_err err = KH_OK;
    while (out->len < want && err == KH_OK) {
        if (s.over > 2)
            return KH_EFORMAT;
        size_t c = gamma_read(&s, 0, 7);
        if (c == 0) {
            err = put_byte(out, (uint8_t)getbits(&s, 8));
            continue;
        }
        size_t n = c + 2, dist = gamma_read(&s, 9, 13) + 1;
        if (n > want - out->len)
            n = want - out->len;
        err = copy_back(out, dist, n);
    }
    return err;
}

/* ---- the archive ---- */

typedef struct arj {
    const uint8_t *d;
    size_t len;
    const khi_parts_cb *cb;
    char name[512];
} arj;

static int warn(arj *a, khi_fwarn what, const char *part, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int warn(arj *a, khi_fwarn what, const char *part, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return a->cb->warn(a->cb->ud, what, part, detail);
}

/* The header at *pos: its basic header in *out_h (size *out_hlen, 0 at the end of the
 * archive) and *pos moved past its extended headers. -1 when damaged. */
static int read_header(arj *a, size_t *pos, const uint8_t **out_h, size_t *out_hlen)
{
    size_t p = *pos;
    if (a->len - p < 4 || a->d[p] != 0x60 || a->d[p + 1] != 0xea)
        return -1;
    size_t h = khi_le16(a->d + p + 2);
    *out_hlen = h;
    *out_h = a->d + p + 4;
    if (h == 0) {
        *pos = p + 4;
        return 0;
    }
    if (h < 30 || h > HDR_MAX || a->len - p - 4 < h + 4 || a->d[p + 4] > h ||
        khi_crc32(0, a->d + p + 4, h) != khi_le32(a->d + p + 4 + h))
        return -1;
    p += 4 + h + 4;
    for (;;) {
        if (a->len - p < 2)
            return -1;
        size_t e = khi_le16(a->d + p);
        p += 2;
        if (e == 0)
            break;
        if (a->len - p < e + 4)
            return -1;
        p += e + 4;
    }
    *pos = p;
    return 0;
}

/* One file whose header is h and data starts at *pos; non-zero return stops the walk. */
static int file(arj *a, const uint8_t *h, size_t hlen, size_t *pos, unsigned index, kh_err *err)
{
    unsigned flags = h[4], method = h[5], type = h[6];
    size_t csize = khi_le32(h + 12), usize = khi_le32(h + 16);
    uint32_t crc = khi_le32(h + 20);
    size_t first = h[0];
    size_t nlen = first < hlen ? strnlen((const char *)h + first, hlen - first) : 0;
    if (nlen)
        khi_snprintf(a->name, sizeof(a->name), "%.*s", (int)nlen, (const char *)h + first);
    else
        khi_snprintf(a->name, sizeof(a->name), "#%u", index);
    const uint8_t *data = a->d + *pos;
    int cut = csize > a->len - *pos;
    if (cut)
        csize = a->len - *pos;
    *pos += csize;
    if (type != 0 && type != 1)
        return 0; /* directory, volume or chapter label */
    if (flags & 1)
        return warn(a, KHI_FWARN_ENCRYPTED, a->name, "ARJ member is garbled (encrypted); not scanned");
    if (method > 4)
        return warn(a, KHI_FWARN_DAMAGED, a->name, "ARJ method %u is not known; not scanned", method);
    int big = usize > KHI_FMT_MAX_PART;
    size_t want = big ? KHI_FMT_MAX_PART : usize;
    khi_buf out;
    khi_buf_init(&out);
    kh_err d = KH_OK;
    const uint8_t *bytes = data;
    size_t n = csize < want ? csize : want;
    if (method == 0) {
        cut |= csize < want;
    } else {
        d = method == 4 ? decode_fastest(data, csize, want, &out) : decode_lzh(data, csize, want, &out);
        if (d == KH_ENOMEM) {
            *err = d;
            khi_buf_cleanup(&out);
            return 1;
        }
        bytes = (const uint8_t *)(out.data ? out.data : "");
        n = out.len;
    }
    int stop = 0;
    if (big)
        stop = warn(a, KHI_FWARN_TOOBIG, a->name, "ARJ member declares %zu bytes: only the first %zu scanned",
                    usize, KHI_FMT_MAX_PART);
    else if (cut || d != KH_OK)
        stop = warn(a, KHI_FWARN_DAMAGED, a->name,
                    "ARJ member (method %u) is damaged or truncated after %zu of %zu bytes", method, n,
                    usize);
    else if (khi_crc32(0, bytes, n) != crc)
        stop = warn(a, KHI_FWARN_DAMAGED, a->name, "ARJ member's CRC-32 does not match; scanned anyway");
    if (!stop)
        stop = a->cb->part(a->cb->ud, bytes, n, a->name);
    khi_buf_cleanup(&out);
    return stop;
}

kh_err khi_arj_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    arj a = {data, len, cb, ""};
    size_t pos = 0, hlen;
    const uint8_t *h;
    kh_err err = KH_OK;
    if (!khi_arj_detect(data, len))
        return KH_OK;
    if (read_header(&a, &pos, &h, &hlen) != 0)
        return warn(&a, KHI_FWARN_DAMAGED, NULL, "ARJ main header is damaged") ? KH_ECANCELED : KH_OK;
    for (unsigned index = 0;; index++) {
        if (read_header(&a, &pos, &h, &hlen) != 0) {
            if (warn(&a, KHI_FWARN_DAMAGED, NULL,
                     "ARJ header at offset %zu is damaged or truncated; rest not scanned", pos))
                err = KH_ECANCELED;
            break;
        }
        if (hlen == 0)
            break;
        if (file(&a, h, hlen, &pos, index, &err)) {
            if (err == KH_OK)
                err = KH_ECANCELED;
            break;
        }
    }
    return err;
}
