/*
 * fmt_upack.c - Upack-packed Windows executables (the three-section form of the 0.2x-0.399
 * releases, with either of the two builds of its decoder ClamAV knows).
 *
 * Upack hides almost everything in the PE header: the optional header is 0x148 bytes long and
 * holds code, the first and the last of the three sections both map the file's first 0x200
 * bytes (their raw offset, 0x10, is rounded down by the loader), and the entry point, inside
 * the header, starts `mov esi, TABLE; lodsd; push eax; ...; jmp` into a second piece of the
 * loader. The middle section holds the compressed program and the decompressor.
 *
 * The loader, followed here step by step on the image laid out as at run time (each section's
 * raw data at its address, FileAlignment rounding as the loader does it):
 *   - TABLE: the original entry point (a VA), a dword, and where the decoder's state goes
 *     (EBX);
 *   - the second piece: `mov esi, INIT` and a copy of 0x27 dwords from INIT to EBX, the last of
 *     which is the address of the compressed stream; then a short jump to the code that fills
 *     the probabilities (`mov ch, N`: N * 256 dwords of 0x400) and a long jump to the decoder;
 *   - the decoder: `shr ebp, S` gives the literal context (the previous byte's top 8 - S bits),
 *     its `jecxz` (at 42 or 45: two builds of the decoder) leads to the call fixer, whose
 *     `cmp al, M` names the marker byte of the calls and jumps to fix;
 *   - INIT + 0x9c + 4: how many calls to fix; + 0xc: where the output starts; + 0x34: where
 *     it ends (VAs).
 * The compressed data is LZMA with Upack's own setting: no position bits (pb = lp = 0), lc =
 * 8 - S (up to 6, more than liblzma's raw decoder takes, so it is decoded here), 32-bit
 * probabilities and the usual range coder without the leading zero byte. Decoding runs in the
 * image, so matches may reach anything before them, as in the stub. Then each E8/E9 followed
 * by the marker gets its big-endian 24-bit target turned back into a relative displacement.
 *
 * What is handed out: "upack-unpacked", a PE of one section holding the image from the first
 * section up to the end of the output, with the original entry point. Damage is a warning;
 * what was decoded is still handed out. The image is at most KHI_FMT_MAX_PART. The
 * two-section forms (0.39 `pusha; call`, 1.1/1.2 `mov esi; lodsd; mov edi, eax`) are not
 * recognised: no sample of them was at hand. Written from the description of the format and
 * the stub's code, independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

/* ---- the LZMA decoder (pb = lp = 0) ---- */

enum {
    P_MATCH = 0,
    P_REP = 12,
    P_G0 = 24,
    P_G1 = 36,
    P_G2 = 48,
    P_REP0L = 60,
    P_SLOT = 72,            /* 4 length states x 64 */
    P_SPEC = P_SLOT + 256,  /* 128: slot 4..13 at [base + m] */
    P_ALIGN = P_SPEC + 128, /* 16 */
    P_LEN = P_ALIGN + 16,   /* choice, choice2, low 8, mid 8, high 256 */
    P_RLEN = P_LEN + 274,
    P_LIT = P_RLEN + 274, /* 0x300 << lc */
};

typedef struct rc {
    const uint8_t *p, *end;
    uint32_t range, code;
    int cut; /* read past the end: a zero came instead */
    int bad; /* a bit was decided with such a zero in the code: the symbol is not to be trusted */
} rc;

static uint8_t rc_byte(rc *r)
{
    if (r->p < r->end)
        return *r->p++;
    r->cut = 1;
    return 0;
}

static void rc_norm(rc *r)
{
    if (r->range < (1u << 24)) {
        r->range <<= 8;
        r->code = r->code << 8 | rc_byte(r);
    }
}

static unsigned rc_bit(rc *r, uint16_t *pr)
{
    r->bad |= r->cut;
    uint32_t bound = (r->range >> 11) * *pr;
    unsigned b;
    if (r->code < bound) {
        r->range = bound;
        *pr = (uint16_t)(*pr + ((2048 - *pr) >> 5));
        b = 0;
    } else {
        r->range -= bound;
        r->code -= bound;
        *pr = (uint16_t)(*pr - (*pr >> 5));
        b = 1;
    }
    rc_norm(r);
    return b;
}

/* n bits, most significant first, through the tree at pr (index 1 up). */
static uint32_t rc_tree(rc *r, uint16_t *pr, unsigned n)
{
    uint32_t m = 1;
    for (unsigned i = 0; i < n; i++)
        m = m << 1 | rc_bit(r, pr + m);
    return m - (1u << n);
}

/* The same, least significant bit first. */
static uint32_t rc_rtree(rc *r, uint16_t *pr, unsigned n)
{
    uint32_t m = 1, v = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned b = rc_bit(r, pr + m);
        m = m << 1 | b;
        v |= (uint32_t)b << i;
    }
    return v;
}

/* A match length, 2 to 273. */
static uint32_t rc_len(rc *r, uint16_t *pr)
{
    if (!rc_bit(r, pr))
        return 2 + rc_tree(r, pr + 2, 3);
    if (!rc_bit(r, pr + 1))
        return 10 + rc_tree(r, pr + 10, 3);
    return 18 + rc_tree(r, pr + 18, 8);
}

/* A new match's distance (1 up) for a match of len bytes; 0 for the end marker. */
static uint32_t rc_dist(rc *r, uint16_t *pr, uint32_t len)
{
    uint32_t ls = len - 2 < 3 ? len - 2 : 3;
    uint32_t slot = rc_tree(r, pr + P_SLOT + ls * 64, 6);
    if (slot < 4)
        return slot + 1;
    unsigned nd = (slot >> 1) - 1;
    uint32_t d = (2 | (slot & 1)) << nd;
    if (slot < 14) {
        d += rc_rtree(r, pr + P_SPEC + d, nd);
    } else {
        uint32_t direct = 0;
        for (unsigned i = 0; i < nd - 4; i++) {
            r->bad |= r->cut;
            r->range >>= 1;
            unsigned b = r->code >= r->range;
            if (b)
                r->code -= r->range;
            direct = direct << 1 | b;
            rc_norm(r);
        }
        d += direct << 4;
        d += rc_rtree(r, pr + P_ALIGN, 4);
    }
    return d + 1;
}

/* One literal at img[pos], plain or against the byte at distance rep0 after a match. */
static uint8_t lit(rc *r, uint16_t *pr, unsigned state, const uint8_t *img, size_t pos, size_t out0,
                   unsigned lc, uint32_t rep0)
{
    unsigned prev = pos > out0 ? img[pos - 1] : 0;
    uint16_t *p = pr + P_LIT + 0x300 * (prev >> (8 - lc));
    unsigned sym = 1;
    if (state >= 7) {
        unsigned mb = img[pos - rep0];
        while (sym < 0x100) {
            unsigned m = (mb >> 7) & 1;
            mb <<= 1;
            unsigned b = rc_bit(r, p + 0x100 + (m << 8) + sym);
            sym = sym << 1 | b;
            if (m != b)
                break;
        }
    }
    while (sym < 0x100)
        sym = sym << 1 | rc_bit(r, p + sym);
    return (uint8_t)sym;
}

kh_err khi_upack_lzma(uint8_t *img, size_t total, size_t in, size_t out0, size_t end, unsigned lc,
                      size_t *out_end)
{
    *out_end = out0;
    if (lc > 8 || in > total || out0 > end || end > total)
        return KH_EFORMAT;
    size_t nprob = P_LIT + ((size_t)0x300 << lc);
    uint16_t *pr = khi_malloc(nprob * sizeof(*pr));
    if (!pr)
        return KH_ENOMEM;
    for (size_t i = 0; i < nprob; i++)
        pr[i] = 0x400;
    rc r = {img + in, img + total, 0xffffffffu, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        r.code = r.code << 8 | rc_byte(&r);
    uint32_t rep[4] = {1, 1, 1, 1};
    unsigned state = 0;
    size_t pos = out0;
    kh_err err = KH_OK;
    while (pos < end && err == KH_OK && !r.bad) {
        if (!rc_bit(&r, pr + P_MATCH + state)) {
            if (state >= 7 && rep[0] > pos) {
                err = KH_EFORMAT;
                break;
            }
            uint8_t b = lit(&r, pr, state, img, pos, out0, lc, rep[0]);
            if (r.bad)
                break;
            img[pos++] = b;
            state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
            continue;
        }
        uint32_t len;
        if (!rc_bit(&r, pr + P_REP + state)) {
            len = rc_len(&r, pr + P_LEN);
            rep[3] = rep[2];
            rep[2] = rep[1];
            rep[1] = rep[0];
            rep[0] = rc_dist(&r, pr, len);
            state = state < 7 ? 7 : 10;
        } else if (!rc_bit(&r, pr + P_G0 + state)) {
            if (!rc_bit(&r, pr + P_REP0L + state)) {
                len = 1;
                state = state < 7 ? 9 : 11;
            } else {
                len = rc_len(&r, pr + P_RLEN);
                state = state < 7 ? 8 : 11;
            }
        } else {
            uint32_t d;
            if (!rc_bit(&r, pr + P_G1 + state)) {
                d = rep[1];
            } else if (!rc_bit(&r, pr + P_G2 + state)) {
                d = rep[2];
                rep[2] = rep[1];
            } else {
                d = rep[3];
                rep[3] = rep[2];
                rep[2] = rep[1];
            }
            rep[1] = rep[0];
            rep[0] = d;
            len = rc_len(&r, pr + P_RLEN);
            state = state < 7 ? 8 : 11;
        }
        if (r.bad || !rep[0] || rep[0] > pos) /* cut, before the buffer, or the end marker */
            err = KH_EFORMAT;
        for (uint32_t k = 0; k < len && pos < end && err == KH_OK; k++, pos++)
            img[pos] = img[pos - rep[0]];
    }
    if (r.bad)
        err = KH_EFORMAT;
    *out_end = pos;
    khi_free(pr);
    return err;
}

/* ---- the loader ---- */

/* Does the header look like Upack's (PE32, three sections, a 0x148-byte optional header)? */
static int upack_headers(const khi_pe *pe)
{
    return !pe->pe32plus && pe->nsections == 3 && pe->sect_off - pe->pe_off == 24 + 0x148;
}

int khi_upack_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    if (ep_len < 12 || !upack_headers(pe) || ep[0] != 0xbe || ep[5] != 0xad || ep[6] != 0x50 ||
        ep[10] != 0xeb)
        return 0;
    uint32_t esi = khi_le32(ep + 1) - (uint32_t)pe->image_base;
    uint32_t lo = UINT32_MAX;
    for (unsigned i = 0; i < pe->nsections; i++)
        if (pe->sect[i].va < lo)
            lo = pe->sect[i].va;
    return esi > lo;
}

static int warn(const khi_parts_cb *cb, const char *detail)
{
    return cb->warn ? cb->warn(cb->ud, KHI_FWARN_DAMAGED, "upack-unpacked", detail) : 0;
}

/* What the loader found out before decoding; offsets into the image. */
typedef struct upack {
    uint8_t *img;
    size_t total;
    uint32_t vma; /* the image's VA */
    uint32_t oep; /* RVA */
    size_t in, out0, end;
    unsigned lc;
    uint8_t marker;
    uint32_t calls;
} upack;

/* Is [at, at + n) inside the image? */
static int in_img(const upack *u, uint64_t at, uint64_t n)
{
    return at <= u->total && n <= u->total - at;
}

/* The image offset of the VA at img[at], or SIZE_MAX when it is outside. */
static size_t va_at(const upack *u, size_t at)
{
    uint32_t off = khi_le32(u->img + at) - u->vma;
    return off < u->total ? off : SIZE_MAX;
}

/* A short jump (EB rel8) at img[at]: its target, or SIZE_MAX. */
static size_t jmp8(const upack *u, size_t at, uint8_t op)
{
    if (!in_img(u, at, 2) || u->img[at] != op)
        return SIZE_MAX;
    int64_t t = (int64_t)at + 2 + (int8_t)u->img[at + 1];
    return t >= 0 && (uint64_t)t < u->total ? (size_t)t : SIZE_MAX;
}

/* A long jump (E9 rel32) at img[at]: its target, or SIZE_MAX. */
static size_t jmp32(const upack *u, size_t at)
{
    if (!in_img(u, at, 5) || u->img[at] != 0xe9)
        return SIZE_MAX;
    int64_t t = (int64_t)at + 5 + (int32_t)khi_le32(u->img + at + 1);
    return t >= 0 && (uint64_t)t < u->total ? (size_t)t : SIZE_MAX;
}

/* Follow the loader from the entry point (image offset ep). Returns NULL or what is wrong. */
static const char *follow(upack *u, size_t ep, uint32_t base)
{
    static const char *odd = "Upack-packed, but its loader is not one this version knows";
    if (!in_img(u, ep, 12))
        return odd;
    size_t tab = va_at(u, ep + 1);
    if (tab == SIZE_MAX || !in_img(u, tab, 12))
        return "Upack-packed, but its table lies outside the image";
    u->oep = khi_le32(u->img + tab) - base;
    size_t ebx = va_at(u, tab + 8);
    size_t ls = jmp8(u, ep + 10, 0xeb); /* to the second piece */
    if (ls == SIZE_MAX || !in_img(u, ls, 0x1c) || u->img[ls + 7] != 0xbe)
        return odd;
    size_t fill = jmp8(u, ls + 0x1a, 0xeb); /* to the probabilities' fill */
    if (fill == SIZE_MAX || !in_img(u, fill, 24) || u->img[fill + 10] != 0xb5)
        return odd;
    size_t dec = jmp32(u, fill + 19);
    size_t init = va_at(u, ls + 8);
    if (dec == SIZE_MAX || !in_img(u, dec, 48) || ebx == SIZE_MAX || init == SIZE_MAX)
        return odd;
    unsigned aljump = 8, shr = 24;
    size_t j = jmp8(u, dec + 42, 0xe3); /* jecxz */
    if (j == SIZE_MAX) {
        aljump = 7;
        shr = 26;
        j = jmp8(u, dec + 45, 0xe3);
    }
    if (j == SIZE_MAX || u->img[dec + shr] != 0xc1 || u->img[dec + shr + 1] != 0xed)
        return odd;
    unsigned s = u->img[dec + shr + 2];
    size_t fix = jmp32(u, j + aljump);
    if (s < 2 || s > 8 || fix == SIZE_MAX || !in_img(u, fix, 28))
        return odd;
    u->lc = 8 - s;
    u->marker = u->img[fix + 27];
    /* the copy of 0x27 dwords from INIT to EBX, forward, as rep movsd does it */
    if (!in_img(u, init, 0x9c + 0x38) || !in_img(u, ebx, 0x9c))
        return "Upack-packed, but its decoder's setup lies outside the image";
    for (size_t k = 0; k < 0x9c; k += 4)
        memmove(u->img + ebx + k, u->img + init + k, 4);
    size_t in = va_at(u, ebx + 0x98);
    u->calls = khi_le32(u->img + init + 0x9c + 4);
    size_t out0 = va_at(u, init + 0x9c + 0xc), end = va_at(u, init + 0x9c + 0x34);
    if (in == SIZE_MAX || out0 == SIZE_MAX || end == SIZE_MAX || out0 > end)
        return "Upack-packed, but its data or output lies outside the image";
    u->in = in;
    u->out0 = out0;
    u->end = end;
    return NULL;
}

/* Turn the marked calls and jumps of img[out0..end) back into relative ones. Returns NULL or
 * what is wrong. */
static const char *fix_calls(upack *u)
{
    uint8_t *p = u->img + u->out0;
    size_t n = u->end - u->out0, i = 0;
    uint32_t left = u->calls;
    while (left && i < n) {
        if ((p[i] != 0xe8 && p[i] != 0xe9) || i + 5 > n || p[i + 1] != u->marker) {
            i++;
            continue;
        }
        uint32_t to = (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 8 | p[i + 4];
        khi_put_le32(p + i + 1, to - (uint32_t)(i + 5));
        i += 5;
        left--;
    }
    return left ? "Upack-packed, but fewer calls were found than it says" : NULL;
}

/* Lay the sections out as the loader does; *cut is set when the file ends inside one. */
static void lay_out(upack *u, const uint8_t *d, size_t len, const khi_pe *pe, uint32_t lo, int *cut)
{
    uint32_t falign = khi_le32(d + pe->pe_off + 24 + 36);
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        uint64_t off = s->raw_off, n = s->raw_size;
        if (off + (n < s->vsize ? n : s->vsize) > len)
            *cut = 1;
        if (falign >= 0x200) {
            off &= ~(uint64_t)0x1ff;
            n = s->raw_off + n - off;
            if ((falign & (falign - 1)) == 0)
                n = (n + falign - 1) & ~((uint64_t)falign - 1);
        }
        if (n > s->vsize)
            n = s->vsize;
        if (!n)
            continue;
        if (off + n > len) /* the loader's rounding up may reach past the end */
            n = off < len ? len - off : 0;
        uint64_t at = (uint64_t)s->va - lo;
        if (at >= u->total)
            continue;
        if (n > u->total - at)
            n = u->total - at;
        memcpy(u->img + at, d + off, (size_t)n);
    }
}

kh_err khi_upack_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    if (pe->ep_offset >= len ||
        !khi_upack_detect(d + pe->ep_offset, len - (size_t)pe->ep_offset, pe))
        return KH_OK;
    kh_err err = KH_OK;
    upack u = {0};
    khi_buf out;
    khi_buf_init(&out);
    uint32_t lo = UINT32_MAX;
    uint64_t hi = 0;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (s->va < lo)
            lo = s->va;
        if ((uint64_t)s->va + s->vsize > hi)
            hi = (uint64_t)s->va + s->vsize;
    }
    if (pe->ep_rva < lo || pe->ep_rva >= hi || hi - lo > KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR) {
        warn(cb, "Upack-packed, but its image is larger than 64 MiB or its entry point is outside");
        goto out;
    }
    u.total = (size_t)(hi - lo);
    u.vma = (uint32_t)pe->image_base + lo;
    u.img = khi_calloc(1, u.total);
    if (!u.img) {
        err = KH_ENOMEM;
        goto out;
    }
    int cut = 0;
    lay_out(&u, d, len, pe, lo, &cut);
    if (cut && warn(cb, "Upack-packed, but the file is cut short"))
        goto out;
    const char *damage = follow(&u, pe->ep_rva - lo, (uint32_t)pe->image_base);
    if (damage) {
        warn(cb, damage);
        goto out;
    }
    size_t pos = u.out0, end = u.end;
    err = khi_upack_lzma(u.img, u.total, u.in, u.out0, u.end, u.lc, &pos);
    if (err == KH_ENOMEM)
        goto out;
    err = KH_OK;
    if (pos < u.end && warn(cb, "Upack-packed, but its compressed data is damaged or cut short"))
        goto out;
    u.end = pos;
    damage = fix_calls(&u);
    if (damage && pos == end && warn(cb, damage)) /* a cut output has fewer, said above */
        goto out;
    err = khi_pe_rebuild(d, pe, u.img, u.end, lo, &u.oep, &out);
    if (err == KH_OK && cb->part(cb->ud, (const uint8_t *)out.data, out.len, "upack-unpacked"))
        err = KH_ECANCELED;
out:
    khi_buf_cleanup(&out);
    khi_free(u.img);
    return err;
}
