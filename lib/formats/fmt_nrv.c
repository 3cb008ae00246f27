/*
 * fmt_nrv.c - the NRV2B, NRV2D and NRV2E decoders of the UCL library, as UPX uses them.
 *
 * All three are LZ77 with the control information in a bit stream interleaved with the literal
 * and offset bytes of a byte stream: a 1 bit is a literal byte; a 0 bit starts a match whose
 * offset high part is an Elias-gamma-like number of bit pairs ("value = value*2 + bit, another
 * bit says stop"), 2 meaning "the previous offset again", otherwise (high - 3) * 256 + the next
 * byte, where 0xffffffff ends the stream; the length follows as bits. The methods differ in
 * how the gamma code alternates and in where the length's low bit lives (NRV2D and NRV2E keep
 * it in the offset's low bit), and in the offset beyond which a match is one byte longer
 * (0xd00 for NRV2B, 0x500 for the others). The bits come either a byte at a time or, as UPX's
 * i386 stubs read them ("le32"), in little-endian 32-bit words, most significant bit first.
 *
 * This is an independent implementation from that description. It never reads past the input
 * nor writes past the output buffer, and checks every back reference against what was written:
 * damage or truncation stops it with KH_EFORMAT and the bytes decoded so far.
 */
#include "formats/formats.h"

typedef struct bits {
    const uint8_t *in;
    size_t len, pos;
    uint32_t bb;
    unsigned bc; /* bits left in bb (le32) */
    int le32;
    int eof; /* a read past the end was attempted */
} bits;

static unsigned getbit(bits *b)
{
    if (b->le32) {
        if (b->bc == 0) {
            if (b->len - b->pos < 4) {
                b->eof = 1;
                return 0;
            }
            const uint8_t *p = b->in + b->pos;
            b->bb =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            b->pos += 4;
            b->bc = 32;
        }
        b->bc--;
        return (b->bb >> b->bc) & 1;
    }
    if ((b->bb & 0x7f) == 0) {
        if (b->pos >= b->len) {
            b->eof = 1;
            return 0;
        }
        b->bb = (uint32_t)b->in[b->pos++] * 2 + 1;
    } else {
        b->bb *= 2;
    }
    return (b->bb >> 8) & 1;
}

static int getbyte(bits *b, uint32_t *out)
{
    if (b->pos >= b->len) {
        b->eof = 1;
        return 0;
    }
    *out = b->in[b->pos++];
    return 1;
}

/* value = value*2 + bit until a stop bit; NRV2B's gamma code. Bounded so it cannot overflow. */
static uint32_t gamma_b(bits *b, uint32_t v)
{
    do {
        v = v * 2 + getbit(b);
        if (v > 0x1000002u || b->eof)
            return UINT32_MAX;
    } while (!getbit(b));
    return b->eof ? UINT32_MAX : v;
}

/* gamma_b's UINT32_MAX (damage) stays UINT32_MAX */
static uint32_t add_sat(uint32_t v, uint32_t k)
{
    return v == UINT32_MAX ? v : v + k;
}

kh_err khi_nrv_decode(khi_nrv_method m, int le32, const uint8_t *in, size_t in_len, uint8_t *out,
                      size_t out_cap, size_t *out_len, size_t *in_used)
{
    bits b = {in, in_len, 0, 0, 0, le32, 0};
    size_t olen = 0;
    uint32_t last_off = 1;
    kh_err err = KH_EFORMAT;
    for (;;) {
        unsigned bit;
        while ((bit = getbit(&b)) != 0 && !b.eof) {
            uint32_t c;
            if (!getbyte(&b, &c))
                goto out;
            if (olen >= out_cap) {
                err = KH_ELIMIT;
                goto out;
            }
            out[olen++] = (uint8_t)c;
        }
        if (b.eof)
            goto out;
        uint32_t off = 1, mlen = 0;
        if (m == KHI_NRV2B) {
            off = gamma_b(&b, 1);
        } else {
            for (;;) {
                off = off * 2 + getbit(&b);
                if (getbit(&b) || b.eof || off > 0x1000002u)
                    break;
                off = (off - 1) * 2 + getbit(&b);
            }
            if (b.eof || off > 0x1000002u)
                off = UINT32_MAX;
        }
        if (off == UINT32_MAX || off < 2)
            goto out;
        if (off == 2) {
            off = last_off;
            if (m != KHI_NRV2B)
                mlen = getbit(&b);
        } else {
            uint32_t lo;
            if (!getbyte(&b, &lo))
                goto out;
            off = (off - 3) * 256 + lo;
            if (off == UINT32_MAX) {
                err = KH_OK; /* the end marker */
                goto out;
            }
            if (m != KHI_NRV2B) {
                mlen = (off ^ UINT32_MAX) & 1;
                off >>= 1;
            }
            last_off = ++off;
        }
        if (m == KHI_NRV2E) {
            if (mlen)
                mlen = 1 + getbit(&b);
            else if (getbit(&b))
                mlen = 3 + getbit(&b);
            else
                mlen = add_sat(gamma_b(&b, 1), 3);
        } else {
            if (m == KHI_NRV2B)
                mlen = getbit(&b);
            mlen = mlen * 2 + getbit(&b);
            if (mlen == 0)
                mlen = add_sat(gamma_b(&b, 1), 2);
        }
        if (b.eof || mlen > 0x1000002u)
            goto out;
        mlen += off > (m == KHI_NRV2B ? 0xd00u : 0x500u);
        mlen += 1;
        if (off > olen)
            goto out; /* a reference before the start */
        for (uint32_t k = 0; k < mlen; k++, olen++) {
            if (olen >= out_cap) {
                err = KH_ELIMIT;
                goto out;
            }
            out[olen] = out[olen - off];
        }
    }
out:
    *out_len = olen;
    if (in_used)
        *in_used = b.pos;
    return err;
}
