/*
 * fmt_zipdec.c - the two ZIP compression methods libarchive does not decompress: Deflate64
 * (method 9, "enhanced deflating") and PKWARE Implode (method 6).
 *
 * Deflate64 is Deflate with a 64 KiB window: length code 285 means a base of 3 plus 16 extra
 * bits instead of 258, and the distance codes 30 and 31 (32769-49152 and 49153-65536, 14
 * extra bits each) become valid. Implode (APPNOTE.TXT 5.3) sends two or three Shannon-Fano
 * trees as run-length lists of code lengths, then a bit stream, lowest bit first, of a flag
 * bit (1 literal, 0 match), literals coded with the literal tree or as 8 raw bits, and
 * matches as 6 (4 KiB window) or 7 (8 KiB) raw low distance bits, the coded high 6 bits, and
 * a coded length (63 continues with 8 raw bits) plus 2 or 3. Its codes are canonical Huffman
 * codes whose bits are sent inverted.
 *
 * Both decoders write into one growing buffer that holds the whole member, so back
 * references point into the output itself and no window is kept. The decoding of a code is
 * bit by bit over counts per length (as zlib's puff does): slower than a lookup table, but
 * without tables to size and check, and these methods are rare. The output never passes the
 * caller's cap; a reference before the start of the output is damage in Deflate64 and zeros in
 * Implode (whose window starts zeroed).
 */
#include "formats/formats.h"

#include <string.h>

#define MAXBITS 16

typedef struct bitin {
    const uint8_t *in;
    size_t len, pos;
    uint32_t buf; /* bits not yet used, lowest first */
    int cnt;
} bitin;

/* n (<= 16) bits, lowest first, or -1 when the input ends. */
static int32_t getbits(bitin *s, int n)
{
    while (s->cnt < n) {
        if (s->pos >= s->len)
            return -1;
        s->buf |= (uint32_t)s->in[s->pos++] << s->cnt;
        s->cnt += 8;
    }
    int32_t v = (int32_t)(s->buf & ((1u << n) - 1));
    s->buf >>= n;
    s->cnt -= n;
    return v;
}

typedef struct huff {
    uint16_t count[MAXBITS + 1]; /* codes of each length */
    uint16_t symbol[288];        /* symbols ordered by length, then value */
} huff;

/* Canonical codes from lengths. Returns 0 complete, > 0 incomplete, < 0 over-subscribed. */
static int huff_build(huff *h, const uint8_t *lens, int n)
{
    uint16_t offs[MAXBITS + 1];
    memset(h->count, 0, sizeof(h->count));
    for (int i = 0; i < n; i++)
        h->count[lens[i]]++;
    if (h->count[0] == n)
        return 0; /* no codes: decoding any fails */
    int left = 1;
    for (int len = 1; len <= MAXBITS; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0)
            return left;
    }
    offs[1] = 0;
    for (int len = 1; len < MAXBITS; len++)
        offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
    for (int i = 0; i < n; i++)
        if (lens[i])
            h->symbol[offs[lens[i]]++] = (uint16_t)i;
    return left;
}

/* One symbol; invert flips every bit read (Implode). -1 on end of input or an unused code. */
static int decode(bitin *s, const huff *h, int invert)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        int32_t b = getbits(s, 1);
        if (b < 0)
            return -1;
        code |= (int)b ^ invert;
        int count = h->count[len];
        if (code - count < first)
            return h->symbol[index + (code - first)];
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static kh_err put_byte(khi_buf *out, uint8_t c)
{
    if (out->len + 1 >= out->cap && khi_buf_reserve(out, out->len < 4096 ? 4096 : out->len) != KH_OK)
        return KH_ENOMEM;
    out->data[out->len++] = (char)c;
    return KH_OK;
}

/* Copy n bytes from dist back (dist > len gives zeros for the part before the start). */
static kh_err copy_back(khi_buf *out, size_t dist, size_t n)
{
    if (khi_buf_reserve(out, n) != KH_OK)
        return KH_ENOMEM;
    uint8_t *d = (uint8_t *)out->data;
    for (size_t i = 0; i < n; i++, out->len++)
        d[out->len] = dist > out->len ? 0 : d[out->len - dist];
    return KH_OK;
}

/* ---- Deflate64 ---- */

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 3};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 16};
static const uint16_t dist_base[32] = {
    1,    2,    3,    4,    5,    7,     9,     13,    17,    25,    33,    49,    65,    97,    129,   193,
    257,  385,  513,  769,  1025, 1537,  2049,  3073,  4097,  6145,  8193,  12289, 16385, 24577, 32769, 49153};
static const uint8_t dist_extra[32] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,  6,
                                       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14};

static kh_err codes(bitin *s, const huff *lit, const huff *dist, size_t max_out, khi_buf *out)
{
    for (;;) {
        int sym = decode(s, lit, 0);
        if (sym < 0)
            return KH_EFORMAT;
        if (sym < 256) {
            if (out->len >= max_out)
                return KH_ELIMIT;
            if (put_byte(out, (uint8_t)sym) != KH_OK)
                return KH_ENOMEM;
            continue;
        }
        if (sym == 256)
            return KH_OK;
        sym -= 257;
        if (sym >= 29)
            return KH_EFORMAT;
        int32_t e = getbits(s, len_extra[sym]);
        int dsym = decode(s, dist, 0);
        if (e < 0 || dsym < 0)
            return KH_EFORMAT;
        size_t n = (size_t)len_base[sym] + (size_t)e;
        int32_t de = getbits(s, dist_extra[dsym]);
        if (de < 0)
            return KH_EFORMAT;
        size_t d = (size_t)dist_base[dsym] + (size_t)de;
        if (d > out->len)
            return KH_EFORMAT;
        int limit = 0;
        if (n > max_out - out->len) {
            n = max_out - out->len;
            limit = 1;
        }
        if (copy_back(out, d, n) != KH_OK)
            return KH_ENOMEM;
        if (limit)
            return KH_ELIMIT;
    }
}

static kh_err stored(bitin *s, size_t max_out, khi_buf *out)
{
    s->buf = 0;
    s->cnt = 0; /* to a byte boundary: the bits left are the rest of the last byte */
    if (s->len - s->pos < 4)
        return KH_EFORMAT;
    const uint8_t *p = s->in + s->pos;
    unsigned n = p[0] | (unsigned)p[1] << 8;
    if ((p[2] | (unsigned)p[3] << 8) != (~n & 0xffff))
        return KH_EFORMAT;
    s->pos += 4;
    int trunc = s->len - s->pos < n;
    size_t take = trunc ? s->len - s->pos : n;
    int limit = take > max_out - out->len;
    if (limit)
        take = max_out - out->len;
    if (khi_buf_append(out, s->in + s->pos, take) != KH_OK)
        return KH_ENOMEM;
    s->pos += take;
    return limit ? KH_ELIMIT : trunc ? KH_EFORMAT : KH_OK;
}

static kh_err fixed(bitin *s, size_t max_out, khi_buf *out)
{
    huff lit, dist;
    uint8_t lens[288];
    int i = 0;
    for (; i < 144; i++)
        lens[i] = 8;
    for (; i < 256; i++)
        lens[i] = 9;
    for (; i < 280; i++)
        lens[i] = 7;
    for (; i < 288; i++)
        lens[i] = 8;
    huff_build(&lit, lens, 288);
    memset(lens, 5, 32);
    huff_build(&dist, lens, 32);
    return codes(s, &lit, &dist, max_out, out);
}

static kh_err dynamic(bitin *s, size_t max_out, khi_buf *out)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    uint8_t lens[288 + 32];
    huff lit, dist;
    int32_t nlen = getbits(s, 5), ndist = getbits(s, 5), ncode = getbits(s, 4);
    if (nlen < 0 || ndist < 0 || ncode < 0)
        return KH_EFORMAT;
    nlen += 257;
    ndist += 1;
    ncode += 4;
    if (nlen > 286)
        return KH_EFORMAT;
    memset(lens, 0, sizeof(lens));
    for (int i = 0; i < ncode; i++) {
        int32_t b = getbits(s, 3);
        if (b < 0)
            return KH_EFORMAT;
        lens[order[i]] = (uint8_t)b;
    }
    if (huff_build(&lit, lens, 19) != 0)
        return KH_EFORMAT; /* the code-length code must be complete */
    for (int i = 0; i < nlen + ndist;) {
        int sym = decode(s, &lit, 0);
        if (sym < 0)
            return KH_EFORMAT;
        if (sym < 16) {
            lens[i++] = (uint8_t)sym;
            continue;
        }
        int32_t rep;
        uint8_t v = 0;
        if (sym == 16) {
            if (i == 0)
                return KH_EFORMAT;
            v = lens[i - 1];
            rep = getbits(s, 2);
            rep = rep < 0 ? -1 : rep + 3;
        } else if (sym == 17) {
            rep = getbits(s, 3);
            rep = rep < 0 ? -1 : rep + 3;
        } else {
            rep = getbits(s, 7);
            rep = rep < 0 ? -1 : rep + 11;
        }
        if (rep < 0 || i + rep > nlen + ndist)
            return KH_EFORMAT;
        while (rep--)
            lens[i++] = v;
    }
    if (lens[256] == 0)
        return KH_EFORMAT; /* no end-of-block code */
    if (huff_build(&lit, lens, nlen) < 0 || huff_build(&dist, lens + nlen, ndist) < 0)
        return KH_EFORMAT;
    return codes(s, &lit, &dist, max_out, out);
}

kh_err khi_deflate64_decode(const uint8_t *in, size_t in_len, size_t max_out, khi_buf *out)
{
    bitin s = {in, in_len, 0, 0, 0};
    max_out += out->len;
    kh_err err = KH_OK;
    int32_t last;
    do {
        last = getbits(&s, 1);
        int32_t type = getbits(&s, 2);
        if (last < 0 || type < 0)
            return KH_EFORMAT;
        if (type == 0)
            err = stored(&s, max_out, out);
        else if (type == 1)
            err = fixed(&s, max_out, out);
        else if (type == 2)
            err = dynamic(&s, max_out, out);
        else
            err = KH_EFORMAT;
    } while (err == KH_OK && !last);
    return err;
}

/* ---- Implode ---- */

/* A tree sent as a byte count - 1, then bytes of (codes - 1) << 4 | (length - 1). */
static int sf_tree(bitin *s, huff *h, int n)
{
    uint8_t lens[256];
    if (s->pos >= s->len)
        return -1;
    int bytes = s->in[s->pos++] + 1, k = 0;
    if ((size_t)bytes > s->len - s->pos)
        return -1;
    for (int i = 0; i < bytes; i++) {
        uint8_t b = s->in[s->pos++];
        int cnt = (b >> 4) + 1, len = (b & 15) + 1;
        if (k + cnt > n)
            return -1;
        while (cnt--)
            lens[k++] = (uint8_t)len;
    }
    return k == n && huff_build(h, lens, n) >= 0 ? 0 : -1;
}

kh_err khi_implode_decode(const uint8_t *in, size_t in_len, unsigned flags, size_t out_len,
                          khi_buf *out)
{
    bitin s = {in, in_len, 0, 0, 0};
    huff *t = khi_malloc(3 * sizeof(huff)); /* literal, length, distance */
    if (!t)
        return KH_ENOMEM;
    kh_err err = KH_OK;
    int has_lit = (flags & 4) != 0, dbits = (flags & 2) ? 7 : 6, minlen = has_lit ? 3 : 2;
    size_t end = out->len + out_len;
    if ((has_lit && sf_tree(&s, &t[0], 256) != 0) || sf_tree(&s, &t[1], 64) != 0 ||
        sf_tree(&s, &t[2], 64) != 0) {
        err = KH_EFORMAT;
        goto out;
    }
    while (out->len < end) {
        int32_t flag = getbits(&s, 1);
        if (flag < 0) {
            err = KH_EFORMAT;
            goto out;
        }
        if (flag) {
            int c = has_lit ? decode(&s, &t[0], 1) : (int)getbits(&s, 8);
            if (c < 0) {
                err = KH_EFORMAT;
                goto out;
            }
            if (put_byte(out, (uint8_t)c) != KH_OK) {
                err = KH_ENOMEM;
                goto out;
            }
            continue;
        }
        int32_t lo = getbits(&s, dbits);
        int hi = decode(&s, &t[2], 1);
        int n = decode(&s, &t[1], 1);
        if (lo < 0 || hi < 0 || n < 0) {
            err = KH_EFORMAT;
            goto out;
        }
        if (n == 63) {
            int32_t more = getbits(&s, 8);
            if (more < 0) {
                err = KH_EFORMAT;
                goto out;
            }
            n += more;
        }
        size_t len = (size_t)n + (size_t)minlen;
        if (len > end - out->len)
            len = end - out->len;
        if (copy_back(out, ((size_t)hi << dbits | (size_t)lo) + 1, len) != KH_OK) {
            err = KH_ENOMEM;
            goto out;
        }
    }
out:
    khi_free(t);
    return err;
}
