/*
 * fmt_wwpack.c - WWPack32-packed Windows executables: decompress the sections in place.
 *
 * WWPack32 appends a section holding its loader (the entry point, starting `push ebx; push
 * ebp; mov ebp, eax; xor ebx, ebx; jmp` over the banner "WWPack32 decompression routine")
 * and leaves the program's sections where they were, each compressed in place. The loader's
 * data at 0x2a1 of its section is a list of 17-byte records, one per compressed block: the
 * distance from the loader section's RVA back to the block, a word not used here, the
 * compressed size in dwords, the end of the block (relative to it), and a byte saying
 * whether another record follows. The compressed bytes sit at the end of the block's area;
 * the decoder writes from there on, reading a bit stream of little-endian dwords (most
 * significant bit first, the next dword fetched as soon as one is used up) interleaved with
 * literal bytes:
 *
 *   0                  a literal byte
 *   1 11 kk v          two bytes from offset (1 << s) - d + v, s = 5,6 (d 31) or 8,9 (d 0x9f)
 *                      for kk = 0..3, v of s bits; v = 0x1ff ends the block
 *   1 ll ccc ...       a match: the offset class ccc picks 5..12 bits (plus 2^n - 31), or 14
 *                      bits + 0x1fe1, or 15 bits + 0x5fe1; ll = 1, 2 gives length ll + 2,
 *                      ll = 0 a length code of its own (5..6, 7..13, 14..28, then longer)
 *
 * This is an independent implementation from that description. The image is rebuilt the way
 * the loader leaves it in memory (headers, each section at its RVA); the section table then
 * maps raw offsets one to one onto RVAs, the loader section is dropped and the entry point is
 * the original one the loader jumps to. Every write and back reference is checked against
 * the image; damage is a warning and what was decoded is still handed out as
 * "wwpack-unpacked". The image is at most KHI_FMT_MAX_PART.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define WW_RECORDS 0x2a1u

int khi_wwpack_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    static const uint8_t a[] = {0x53, 0x55, 0x8b, 0xe8, 0x33, 0xdb, 0xeb};
    static const uint8_t b[] = {0xe8, 0x00, 0x00, 0x00, 0x00, 0x58, 0x2d, 0x6d, 0x00, 0x00,
                                0x00, 0x50, 0x60, 0x33, 0xc9, 0x50, 0x58, 0x50, 0x50};
    return pe->nsections > 1 && pe->ep_rva == pe->sect[pe->nsections - 1].va &&
           ep_len >= 0x68 + sizeof(b) && memcmp(ep, a, sizeof(a)) == 0 &&
           memcmp(ep + 0x68, b, sizeof(b)) == 0;
}

typedef struct wwbits {
    const uint8_t *c; /* the compressed block */
    size_t n, pos;
    uint32_t bt;
    unsigned bc;
    int err;
} wwbits;

static void reseed(wwbits *w)
{
    if (w->n - w->pos >= 4) {
        w->bt = khi_le32(w->c + w->pos);
        w->pos += 4;
    } else {
        w->err = 1;
    }
    w->bc = 32;
}

/* n bits (1..15), highest first */
static uint32_t bits(wwbits *w, unsigned n)
{
    uint32_t v = w->bt >> (32 - n);
    if (w->bc >= n) {
        w->bc -= n;
        w->bt <<= n;
        if (!w->bc)
            reseed(w);
        return v;
    }
    if (w->n - w->pos < 4) {
        w->err = 1;
        return v;
    }
    uint32_t nw = khi_le32(w->c + w->pos);
    w->pos += 4;
    w->bc += 32 - n;
    v |= nw >> w->bc;
    w->bt = nw << (32 - w->bc);
    return v;
}

/* The match length for ll = 0. */
static uint32_t long_len(wwbits *w)
{
    if (!bits(w, 1))
        return bits(w, 1) + 5;
    uint32_t v = bits(w, 3);
    if (v)
        return v + 6;
    v = bits(w, 4);
    if (v)
        return v + 13;
    unsigned cnt = 4;
    uint32_t add = 0x0d;
    do {
        if (cnt == 7) {
            cnt = 0x0e;
            add = 0;
            break;
        }
        add = ((add + 2) << 1) - 1;
        cnt++;
    } while (!bits(w, 1) && !w->err);
    return bits(w, cnt) + add;
}

/* One block: compressed bytes c (n) decoded into img from out on. Returns 0 at the end code,
 * -1 on damage. */
static int block(uint8_t *img, size_t img_len, size_t out, const uint8_t *c, size_t n)
{
    wwbits w = {c, n, 0, 0, 0, 0};
    reseed(&w);
    while (!w.err) {
        if (!bits(&w, 1)) {
            if (w.pos >= n || out >= img_len)
                return -1;
            img[out++] = c[w.pos++];
            continue;
        }
        uint32_t ll = bits(&w, 2), off, len;
        if (ll == 3) {
            uint32_t k = bits(&w, 2);
            unsigned s = k + 5 + (k >= 2);
            uint32_t d = k >= 2 ? 31 + 0x80 : 31;
            uint32_t v = bits(&w, s);
            if (w.err)
                return -1;
            if (v == 0x1ff)
                return 0;
            off = (1u << s) - d + v;
            len = 2;
        } else {
            uint32_t cls = bits(&w, 3);
            if (cls < 6) {
                unsigned nb = cls == 5   ? 12
                              : cls == 4 ? 10 + bits(&w, 1)
                              : cls == 3 ? 8 + bits(&w, 1)
                                         : cls + 5;
                off = bits(&w, nb) + (1u << nb) - 31;
            } else if (cls == 6) {
                off = bits(&w, 14) + 0x1fe1;
            } else {
                off = bits(&w, 15) + 0x5fe1;
            }
            len = ll ? ll + 2 : long_len(&w);
        }
        if (w.err || off == 0 || off > out || len > img_len - out)
            return -1;
        for (uint32_t i = 0; i < len; i++, out++)
            img[out] = img[out - off];
    }
    return -1;
}

/* The records and their blocks. Returns 0, or -1 at the first damaged one. */
static int unpack_blocks(uint8_t *img, size_t img_len, const uint8_t *ww, size_t ww_len,
                         uint32_t ww_rva, uint8_t **scratch)
{
    for (size_t r = WW_RECORDS; r + 17 <= ww_len; r += 17) {
        uint32_t src = ww_rva - khi_le32(ww + r);
        uint64_t szd = (uint64_t)khi_le32(ww + r + 8) * 4;
        uint64_t at = (uint64_t)src + khi_le32(ww + r + 12) + 4 - szd;
        if (!szd || szd > img_len || at > img_len - szd)
            return -1;
        /* the compressed bytes are overwritten as the block is decoded: work on a copy */
        uint8_t *c = khi_realloc(*scratch, (size_t)szd);
        if (!c)
            return -2;
        *scratch = c;
        memcpy(c, img + at, (size_t)szd);
        memset(img + at, 0xff, (size_t)szd);
        if (block(img, img_len, (size_t)at, c, (size_t)szd) != 0)
            return -1;
        if (!ww[r + 16])
            return 0;
    }
    return -1;
}

/* The section table as the loader leaves it: raw = virtual, the loader section dropped. */
static void fix_headers(uint8_t *img, size_t img_len, const khi_pe *pe, const uint8_t *ww,
                        size_t ww_len)
{
    uint32_t p = pe->pe_off;
    unsigned ns = pe->nsections - 1u;
    const khi_pe_section *w = &pe->sect[ns];
    if ((uint64_t)pe->sect_off + (uint64_t)(ns + 1) * 40 > img_len || (uint64_t)p + 0x54 > img_len)
        return;
    img[p + 6] = (uint8_t)ns;
    img[p + 7] = (uint8_t)(ns >> 8);
    if (ww_len >= 0x299)
        khi_put_le32(img + p + 0x28, khi_le32(ww + 0x295) + w->va + 0x299);
    khi_put_le32(img + p + 0x50, khi_le32(img + p + 0x50) - w->vsize);
    for (unsigned i = 0; i < ns; i++) {
        uint8_t *s = img + pe->sect_off + i * 40;
        khi_put_le32(s + 8, pe->sect[i].vsize);
        khi_put_le32(s + 12, pe->sect[i].va);
        khi_put_le32(s + 16, pe->sect[i].vsize);
        khi_put_le32(s + 20, pe->sect[i].va);
    }
    memset(img + pe->sect_off + ns * 40, 0, 40);
}

kh_err khi_wwpack_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    const khi_pe_section *w = &pe->sect[pe->nsections - 1];
    if (pe->nsections < 2 || w->raw_off >= len)
        return KH_OK;
    const uint8_t *ww = d + w->raw_off;
    size_t ww_len = len - w->raw_off < w->raw_size ? len - w->raw_off : w->raw_size;
    uint64_t head = w->raw_off, size = 0;
    for (unsigned i = 0; i + 1u < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (s->raw_off < head)
            head = s->raw_off;
        if ((uint64_t)s->va + s->vsize > size)
            size = (uint64_t)s->va + s->vsize;
    }
    const char *damage = NULL;
    uint8_t *img = NULL, *scratch = NULL;
    kh_err err = KH_OK;
    if (!head || !size || head > size || size > KHI_FMT_MAX_PART || head > len) {
        damage = "WWPack32-packed, but its sections do not make an image";
        goto out;
    }
    img = khi_calloc(1, (size_t)size);
    if (!img) {
        err = KH_ENOMEM;
        goto out;
    }
    memcpy(img, d, (size_t)head);
    for (unsigned i = 0; i + 1u < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (!s->raw_size)
            continue;
        if ((uint64_t)s->raw_off + s->raw_size > len || (uint64_t)s->va + s->raw_size > size) {
            damage = "WWPack32-packed, but a section lies outside the file or its image";
            goto out;
        }
        memcpy(img + s->va, d + s->raw_off, s->raw_size);
    }
    int rc = unpack_blocks(img, (size_t)size, ww, ww_len, w->va, &scratch);
    if (rc == -2) {
        err = KH_ENOMEM;
        goto out;
    }
    if (rc)
        damage = "WWPack32-packed, but the compressed data is damaged or truncated";
    fix_headers(img, (size_t)size, pe, ww, ww_len);
    if (cb->part(cb->ud, img, (size_t)size, "wwpack-unpacked"))
        err = KH_ECANCELED;
out:
    if (damage && err == KH_OK && cb->warn)
        cb->warn(cb->ud, KHI_FWARN_DAMAGED, "wwpack-unpacked", damage);
    khi_free(scratch);
    khi_free(img);
    return err;
}
