/*
 * fmt_bzip2.c - the bzip2 variant NSIS installers use ("SetCompressor bzip2").
 *
 * NSIS ships its own copy of bzip2 with the framing taken out: no "BZh9" stream header, each
 * block announced by the single byte 0x31 instead of the 48-bit block magic and without its
 * CRC, and the stream ended by the byte 0x17 instead of the end magic and combined CRC; the
 * bits run on across blocks. libbz2 needs the framing and checks the CRCs it would not find,
 * so the blocks are decoded here. The block itself is standard bzip2 (the compressor is
 * bzip2's, level 9):
 *
 *   randomised bit, origPtr (24 bits), the bytes in use (16 + 16 x 16 bits), 2-6 Huffman
 *   tables chosen every 50 symbols by MTF-coded selectors, each table's code lengths as
 *   deltas; then the MTF/RLE2 symbols (RUNA/RUNB runs of the front byte, else an MTF index)
 *   up to end-of-block; the inverse Burrows-Wheeler transform from origPtr; and the first
 *   run-length stage (four equal bytes and a count byte).
 *
 * Codes are canonical (assigned by length, then symbol), decoded a bit at a time from the
 * table's shortest length. Randomised blocks (never written by bzip2 1.0 and later) are
 * refused as damage. Bounds: at most 900,000 symbols a block (level 9), so a table of at most
 * 3.6 MB (grown as the block needs it), output cut at the caller's max.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define BZ_BLOCK_MAX 900000
#define BZ_GROUPS 6
#define BZ_ALPHA 258
#define BZ_SELECTORS 18002
#define BZ_MAXLEN 20

typedef struct bits {
    const uint8_t *p;
    size_t n, pos; /* bytes */
    uint64_t acc;
    unsigned live;
    int eof; /* read past the end */
} bits;

static uint32_t get(bits *b, unsigned k)
{
    while (b->live < k) {
        uint8_t c = 0;
        if (b->pos < b->n)
            c = b->p[b->pos++];
        else
            b->eof = 1;
        b->acc = b->acc << 8 | c;
        b->live += 8;
    }
    b->live -= k;
    return (uint32_t)(b->acc >> b->live) & ((1u << k) - 1);
}

typedef struct table {
    int minlen, maxlen;
    int32_t first[BZ_MAXLEN + 2]; /* first code of each length */
    int32_t count[BZ_MAXLEN + 2];
    int32_t offset[BZ_MAXLEN + 2]; /* index in sym of the first symbol of each length */
    uint16_t sym[BZ_ALPHA];
} table;

static void make_table(table *t, const uint8_t *len, int n)
{
    memset(t->count, 0, sizeof(t->count));
    t->minlen = BZ_MAXLEN;
    t->maxlen = 0;
    for (int i = 0; i < n; i++) {
        t->count[len[i]]++;
        if (len[i] < t->minlen)
            t->minlen = len[i];
        if (len[i] > t->maxlen)
            t->maxlen = len[i];
    }
    int32_t code = 0, k = 0;
    for (int l = 1; l <= BZ_MAXLEN; l++) {
        t->first[l] = code;
        t->offset[l] = k;
        for (int i = 0; i < n; i++)
            if (len[i] == l)
                t->sym[k++] = (uint16_t)i;
        code = (code + t->count[l]) << 1;
    }
}

/* The next symbol, or -1 on a code no table holds. */
static int decode_sym(bits *b, const table *t)
{
    int l = t->minlen;
    int32_t code = (int32_t)get(b, (unsigned)l);
    for (;;) {
        if (code - t->first[l] < t->count[l] && code >= t->first[l])
            return t->sym[t->offset[l] + code - t->first[l]];
        if (++l > t->maxlen)
            return -1;
        code = code << 1 | (int32_t)get(b, 1);
    }
}

typedef struct out {
    khi_buf *buf;
    size_t max;
    int last, run; /* the first run-length stage: the previous byte and how often in a row */
} out;

/* One byte of the inverse transform through the first run-length stage into the output.
 * Returns 0, or 1 when max is reached, -1 out of memory. */
static int emit(out *o, uint8_t c)
{
    uint8_t rep[256];
    size_t n = 1;
    if (o->run == 4) { /* c counts further copies of the byte before */
        memset(rep, o->last, c);
        n = c;
        o->run = 0;
        o->last = -1;
    } else {
        rep[0] = c;
        o->run = c == o->last ? o->run + 1 : 1;
        o->last = c;
    }
    if (!n)
        return 0;
    size_t room = o->max - o->buf->len;
    if (khi_buf_append(o->buf, rep, n < room ? n : room) != KH_OK)
        return -1;
    return o->buf->len >= o->max;
}

typedef struct state {
    uint32_t *tt; /* the block's bytes, then the inverse transform's links; grows to 900k */
    uint32_t cap;
    uint8_t sel[BZ_SELECTORS];
    uint8_t len[BZ_GROUPS][BZ_ALPHA];
    table tab[BZ_GROUPS];
} state;

/* Room for need symbols in s->tt (need <= BZ_BLOCK_MAX). Returns 0, or -1 out of memory. */
static int room(state *s, uint32_t need)
{
    if (need <= s->cap)
        return 0;
    uint32_t cap = s->cap ? s->cap : 65536;
    while (cap < need)
        cap *= 2;
    if (cap > BZ_BLOCK_MAX)
        cap = BZ_BLOCK_MAX;
    uint32_t *tt = khi_reallocarray(s->tt, cap, sizeof(*tt));
    if (!tt)
        return -1;
    s->tt = tt;
    s->cap = cap;
    return 0;
}

/* One block after its 0x31. Returns KH_OK, KH_EFORMAT, KH_ELIMIT (max reached), KH_ENOMEM. */
static kh_err block(bits *b, state *s, out *o)
{
    if (get(b, 1))
        return KH_EFORMAT; /* randomised */
    uint32_t orig = get(b, 24);
    uint32_t used16 = get(b, 16);
    uint8_t unseq[256];
    int ninuse = 0;
    for (int i = 0; i < 16; i++)
        if (used16 & (0x8000u >> i)) {
            uint32_t w = get(b, 16);
            for (int j = 0; j < 16; j++)
                if (w & (0x8000u >> j))
                    unseq[ninuse++] = (uint8_t)(i * 16 + j);
        }
    if (ninuse == 0)
        return KH_EFORMAT;
    int alpha = ninuse + 2;
    int ngroups = (int)get(b, 3);
    uint32_t nsel = get(b, 15);
    if (ngroups < 2 || ngroups > BZ_GROUPS || nsel < 1)
        return KH_EFORMAT;
    uint8_t mtfg[BZ_GROUPS] = {0, 1, 2, 3, 4, 5};
    for (uint32_t i = 0; i < nsel; i++) {
        int j = 0;
        while (get(b, 1))
            if (++j >= ngroups || b->eof)
                return KH_EFORMAT;
        uint8_t v = mtfg[j];
        memmove(mtfg + 1, mtfg, (size_t)j);
        mtfg[0] = v;
        if (i < BZ_SELECTORS)
            s->sel[i] = v;
    }
    if (nsel > BZ_SELECTORS)
        nsel = BZ_SELECTORS;
    for (int t = 0; t < ngroups; t++) {
        int curr = (int)get(b, 5);
        for (int i = 0; i < alpha; i++) {
            for (;;) {
                if (curr < 1 || curr > BZ_MAXLEN || b->eof)
                    return KH_EFORMAT;
                if (!get(b, 1))
                    break;
                curr += get(b, 1) ? -1 : 1;
            }
            s->len[t][i] = (uint8_t)curr;
        }
        make_table(&s->tab[t], s->len[t], alpha);
    }
    /* the MTF/RLE2 symbols */
    uint8_t mtf[256];
    uint32_t cnt[256];
    memset(cnt, 0, sizeof(cnt));
    for (int i = 0; i < 256; i++)
        mtf[i] = (uint8_t)i;
    int eob = ninuse + 1, left = 0;
    uint32_t nblock = 0, group = 0;
    const table *tab = NULL;
    uint32_t run = 0, weight = 1; /* a RUNA/RUNB run being summed */
    for (;;) {
        if (left == 0) {
            if (group >= nsel)
                return KH_EFORMAT;
            tab = &s->tab[s->sel[group++]];
            left = 50;
        }
        left--;
        int sym = decode_sym(b, tab);
        if (sym < 0 || b->eof)
            return KH_EFORMAT;
        if (sym <= 1) { /* RUNA, RUNB: bijective base 2 */
            if (weight > BZ_BLOCK_MAX)
                return KH_EFORMAT;
            run += weight << sym;
            weight <<= 1;
            continue;
        }
        if (run) {
            uint8_t c = unseq[mtf[0]];
            if (run > BZ_BLOCK_MAX - nblock)
                return KH_EFORMAT;
            if (room(s, nblock + run))
                return KH_ENOMEM;
            cnt[c] += run;
            while (run--)
                s->tt[nblock++] = c;
            run = 0;
            weight = 1;
        }
        if (sym == eob)
            break;
        if (sym > eob || nblock >= BZ_BLOCK_MAX)
            return KH_EFORMAT;
        if (room(s, nblock + 1))
            return KH_ENOMEM;
        int k = sym - 1;
        uint8_t v = mtf[k];
        memmove(mtf + 1, mtf, (size_t)k);
        mtf[0] = v;
        uint8_t c = unseq[v];
        cnt[c]++;
        s->tt[nblock++] = c;
    }
    if (orig >= nblock)
        return KH_EFORMAT;
    /* the inverse transform: each position learns where its successor is */
    uint32_t start[256], sum = 0;
    for (int i = 0; i < 256; i++) {
        start[i] = sum;
        sum += cnt[i];
    }
    for (uint32_t i = 0; i < nblock; i++)
        s->tt[start[s->tt[i] & 0xff]++] |= i << 8;
    uint32_t pos = s->tt[orig] >> 8;
    for (uint32_t i = 0; i < nblock; i++) {
        uint32_t e = s->tt[pos];
        int r = emit(o, (uint8_t)e);
        if (r < 0)
            return KH_ENOMEM;
        if (r)
            return KH_ELIMIT;
        pos = e >> 8;
    }
    return KH_OK;
}

kh_err khi_nsis_bzip2(const uint8_t *in, size_t n, size_t max, khi_buf *outbuf)
{
    bits b = {in, n, 0, 0, 0, 0};
    out o = {outbuf, max, -1, 0};
    state *s = khi_malloc(sizeof(*s));
    kh_err err = KH_OK;
    if (!s) {
        err = KH_ENOMEM;
        goto out;
    }
    s->tt = NULL;
    s->cap = 0;
    for (;;) {
        uint32_t c = get(&b, 8);
        if (b.eof) {
            err = KH_EFORMAT; /* no end marker */
            break;
        }
        if (c == 0x17)
            break;
        if (c != 0x31) {
            err = KH_EFORMAT;
            break;
        }
        if ((err = block(&b, s, &o)) != KH_OK)
            break;
        o.run = 0; /* the run-length stage starts afresh with each block */
        o.last = -1;
    }
out:
    if (s)
        khi_free(s->tt);
    khi_free(s);
    return err;
}
