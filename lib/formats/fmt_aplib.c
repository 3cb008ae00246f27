/*
 * fmt_aplib.c - the aPLib decoder of the FSG and MEW packers.
 *
 * aPLib is LZ77 with a tag bit stream read a byte at a time (most significant bit first)
 * interleaved with literal and offset bytes. The first byte is a literal; then
 *
 *   0          a literal byte
 *   10 g ...   a match: the gamma code g (value = value*2 + bit, then a continue bit) is the
 *              offset's high part plus 2, or 3 right after a literal; exactly that (2 after a
 *              literal) means "the previous offset again" followed by a gamma length; else a
 *              low offset byte follows and a gamma length, longer by one from 0x500 and again
 *              from 0x7d00, by two below 0x80
 *   110 b      a short match: offset b >> 1 (0 ends the stream), length 2 + (b & 1)
 *   111 nnnn   one byte from offset nnnn (1-15), or a zero byte for 0
 *
 * This is an independent implementation from that description. It never reads past the input
 * nor writes past the output, and checks every back reference against what was written.
 */
#include "formats/formats.h"

typedef struct tags {
    const uint8_t *in;
    size_t len, pos;
    unsigned tag;
    int eof;
} tags;

static unsigned bit(tags *t)
{
    unsigned old = t->tag;
    t->tag = (t->tag * 2) & 0xff;
    if (!(old & 0x7f)) {
        if (t->pos >= t->len) {
            t->eof = 1;
            return 0;
        }
        old = t->in[t->pos++];
        t->tag = (old * 2 + 1) & 0xff;
    }
    return (old >> 7) & 1;
}

static uint32_t get_gamma(tags *t)
{
    uint32_t v = 1;
    do {
        v = v * 2 + bit(t);
        if (v > 0x1000000u)
            t->eof = 1;
    } while (bit(t) && !t->eof);
    return v;
}

kh_err khi_aplib_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                        size_t *out_len, size_t *in_used)
{
    tags t = {in, in_len, 0, 0x80, 0};
    size_t o = 0;
    uint32_t last = 0;
    int after_lit = 1;
    kh_err err = KH_EFORMAT;
    if (!in_len || !out_cap)
        goto out;
    out[o++] = in[t.pos++];
    for (;;) {
        uint32_t off, n;
        if (!bit(&t)) { /* literal */
            if (t.eof || t.pos >= in_len)
                goto out;
            if (o >= out_cap) {
                err = KH_ELIMIT;
                goto out;
            }
            out[o++] = in[t.pos++];
            after_lit = 1;
            continue;
        }
        if (!bit(&t)) { /* 10: gamma offset */
            uint32_t g = get_gamma(&t);
            if (t.eof)
                goto out;
            g -= 1u + (unsigned)after_lit;
            if (g == 0) {
                off = last;
                n = get_gamma(&t);
            } else {
                if (t.pos >= in_len)
                    goto out;
                off = ((g - 1) << 8) + in[t.pos++];
                n = get_gamma(&t);
                n += (off >= 0x7d00) + (off >= 0x500) + (off <= 0x7f ? 2u : 0u);
                last = off;
            }
            after_lit = 0;
        } else if (!bit(&t)) { /* 110: short match */
            if (t.pos >= in_len)
                goto out;
            uint32_t b = in[t.pos++];
            off = b >> 1;
            if (!off) {
                err = KH_OK;
                goto out;
            }
            n = 2 + (b & 1);
            last = off;
            after_lit = 0;
        } else { /* 111: one byte near */
            off = 0x10;
            while (off < 0x100 && !t.eof)
                off = off * 2 + bit(&t);
            off &= 0xff;
            after_lit = 1;
            if (!off) {
                if (o >= out_cap) {
                    err = KH_ELIMIT;
                    goto out;
                }
                out[o++] = 0;
                continue;
            }
            n = 1;
        }
        if (t.eof || off > o || off == 0)
            goto out;
        for (uint32_t k = 0; k < n; k++, o++) {
            if (o >= out_cap) {
                err = KH_ELIMIT;
                goto out;
            }
            out[o] = out[o - off];
        }
    }
out:
    *out_len = o;
    if (in_used)
        *in_used = t.pos;
    return err;
}
