/*
 * fmt_aspack.c - ASPack 2.x packed Windows executables.
 *
 * ASPack adds a section holding its loader and compresses the program's sections in place.
 * The loader starts `pusha; call; ...; call; pop ebp; mov ebx, -0x13; add ebx, ebp; sub ebx,
 * EP-1`, so the entry point's first bytes and the address in that `sub` (the entry point's
 * own, less one) say cheaply that a file is ASPack's. Everything else the loader needs sits at
 * fixed offsets from the byte before the entry point, which differ between releases: the
 * `push 0; ret` that jumps to the original program (2.12 at +0x3b9 from the entry point,
 * 2.2x at +0x41f, 2.42 at +0x42b) tells them apart. At those offsets are the list of
 * compressed blocks (address and size, 8 bytes each in 2.12, 12 in the later ones, the size
 * being that of the decompressed block), the table of match lengths (28 bases, then their
 * extra bit counts) and of the 58 distance slots' extra bit counts, the marker byte of the
 * call/jump filter and the original entry point.
 *
 * Each block is an LZX-like stream read most significant bit first: a code-length table
 * (1 bit "keep the previous lengths as a base", 19 four-bit lengths of a pre-code, then the
 * 757 lengths of the main, length and aligned-offset codes coded with it, as deltas mod 16 or
 * runs), then symbols of the main code: a literal, a match (slot and short length) or 720,
 * "new tables follow". A match's distance is a slot's base plus extra bits (the low three
 * through the aligned code when its lengths are not all three), slots 0-2 repeating one of the
 * last three distances. Codes are canonical Huffman of up to 15 bits and must be complete.
 * The first block's E8/E9 (call/jmp) targets whose first byte is the marker were rewritten
 * by the packer; when the loader's filter is on (2.12: its `mov bl, 0`) they are turned back,
 * as the loader does. For 2.2x and 2.42 the switch's place is not known here and the filter
 * always runs, as ClamAV does; those two layouts are taken from ClamAV and were only checked
 * on a 2.12 file rearranged to them, not on a real sample.
 *
 * The image is laid out from the section table, each block is decoded over its own place as
 * the loader does, and the image from the first section on is handed out as "aspack-unpacked",
 * a PE of one section with the original entry point (the scan then looks inside it for
 * embedded programs). Damage is a warning; what was decoded is still handed out. The image is
 * at most KHI_FMT_MAX_PART; every loop is bounded by the block size or a fixed count. Written
 * from the description of the format (ClamAV's reading of it, checked against the loader's
 * code in clamav-testfiles' clam-aspack.exe), independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

/* Offsets from the byte before the entry point, per release. */
typedef struct aspack_ver {
    uint32_t ret;    /* `push 0; ret` (its 0 becomes the original entry point at run time) */
    uint32_t blocks; /* the block list */
    uint32_t lens;   /* 28 length bases, 28 extra bit counts, then the 58 slots' bit counts */
    uint32_t marker; /* the filter's marker byte (the `cmp byte [esi], X` immediate) */
    uint32_t oep;    /* the original entry point (the `mov eax, X` immediate) */
    uint32_t filter; /* the `mov bl, X` immediate: the filter runs when it is 0; 0 = always */
    unsigned entry;  /* bytes per block list entry */
} aspack_ver;

static const aspack_ver versions[] = {
    {0x3ba, 0x57c, 0x6d6, 0x148, 0x39b, 0xff, 8}, /* 2.12 */
    {0x420, 0x5d8, 0x732, 0x13a, 0x401, 0, 12},   /* 2.2x */
    {0x42c, 0x5e4, 0x73e, 0x148, 0x40d, 0, 12},   /* 2.42 */
};
/* The stub's tables end here (the slots' bit counts are lens + 56 .. lens + 114). */
#define STUB_TABLES 114u
#define MAIN_SYMS 721u
#define LEN_SYMS 28u
#define ALIGN_SYMS 8u
#define PRE_SYMS 19u
#define ALL_LENS (MAIN_SYMS + LEN_SYMS + ALIGN_SYMS) /* 757 */
#define SLOTS 58u
#define MAX_BLOCKS 256u
#define PAD 0x10eu /* the loader reads this far past a block's bytes (zeros) */

static const uint8_t entry_code[] = {0x60, 0xe8, 0x03, 0x00, 0x00, 0x00, 0xe9, 0xeb, 0x04, 0x5d,
                                     0x45, 0x55, 0xc3, 0xe8, 0x01, 0x00, 0x00, 0x00, 0xeb, 0x5d,
                                     0xbb, 0xed, 0xff, 0xff, 0xff, 0x03, 0xdd, 0x81, 0xeb};

int khi_aspack_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    if (ep_len < sizeof(entry_code) + 4 || ep[0] != 0x60 || pe->pe32plus || !pe->ep_rva)
        return 0;
    return memcmp(ep, entry_code, sizeof(entry_code)) == 0 &&
           khi_le32(ep + sizeof(entry_code)) == pe->ep_rva - 1;
}

/* ---- the bit stream and the canonical codes ---- */

typedef struct bits {
    const uint8_t *p;
    size_t n, pos;
    uint64_t acc;
    unsigned nb;
    int bad; /* read past the block and its padding */
} bits;

/* The next 24 bits, left-justified in the low 24 bits of the result. */
static uint32_t peek24(bits *b)
{
    while (b->nb < 24) {
        if (b->pos >= b->n + PAD) {
            b->bad = 1;
            return 0;
        }
        b->acc = (b->acc << 8) | (b->pos < b->n ? b->p[b->pos] : 0);
        b->pos++;
        b->nb += 8;
    }
    return (uint32_t)(b->acc >> (b->nb - 24)) & 0xffffffu;
}

/* k bits (0..24) as a number. */
static uint32_t take(bits *b, unsigned k)
{
    uint32_t v = peek24(b);
    if (!k || b->bad)
        return 0;
    b->nb -= k;
    return v >> (24 - k);
}

typedef struct code {
    uint32_t limit[16]; /* limit[l]: codes of length <= l are below it (24-bit, left-justified) */
    uint32_t first[16]; /* index in sym of the first symbol of length l */
    uint8_t fast[256];  /* the length of codes up to 8 bits, by their top byte */
    uint16_t sym[MAIN_SYMS];
    unsigned nsym;
} code;

/* Build the canonical code of n symbols from their lengths (0..15). Returns 0 unless the
 * code is complete. */
static int code_build(code *c, const uint8_t *len, unsigned n)
{
    unsigned count[16] = {0};
    for (unsigned i = 0; i < n; i++)
        count[len[i] & 15]++;
    uint32_t sum = 0, idx = 0;
    c->limit[0] = 0;
    c->first[0] = 0;
    for (unsigned l = 1; l < 16; l++) {
        c->first[l] = idx;
        idx += count[l];
        sum += (uint32_t)count[l] << (24 - l);
        if (sum > (1u << 24))
            return 0;
        c->limit[l] = sum;
    }
    if (sum != (1u << 24))
        return 0;
    unsigned at = 0;
    for (unsigned l = 1; l <= 8; l++)
        for (; at < (c->limit[l] >> 16); at++)
            c->fast[at] = (uint8_t)l;
    uint32_t next[16];
    memcpy(next, c->first, sizeof(next));
    for (unsigned i = 0; i < n; i++)
        if (len[i] & 15)
            c->sym[next[len[i] & 15]++] = (uint16_t)i;
    c->nsym = n;
    return 1;
}

/* The next symbol of c, or -1 past the end of the stream. */
static int code_get(const code *c, bits *b)
{
    uint32_t v = peek24(b) & 0xfffe00u;
    if (b->bad)
        return -1;
    unsigned l;
    if (v < c->limit[8]) {
        l = c->fast[v >> 16];
    } else {
        l = 9;
        while (l < 15 && v >= c->limit[l])
            l++;
    }
    b->nb -= l;
    uint32_t i = ((v - c->limit[l - 1]) >> (24 - l)) + c->first[l];
    return i < c->nsym ? c->sym[i] : -1;
}

/* ---- one block ---- */

typedef struct aspack {
    const uint8_t *lbase, *lbits, *sbits; /* the stub's tables */
    uint32_t slot_base[SLOTS];
    uint8_t prev[ALL_LENS]; /* the last table's lengths, the base of the next one's deltas */
    code main, len, align, pre;
    int use_align;
} aspack;

/* Read a code-length table and build the three codes. Returns 0 on damage. */
static int read_tables(aspack *a, bits *b)
{
    uint8_t pl[PRE_SYMS], l[ALL_LENS];
    if (!take(b, 1))
        memset(a->prev, 0, sizeof(a->prev));
    for (unsigned i = 0; i < PRE_SYMS; i++)
        pl[i] = (uint8_t)take(b, 4);
    if (b->bad || !code_build(&a->pre, pl, PRE_SYMS))
        return 0;
    unsigned i = 0;
    while (i < ALL_LENS) {
        int s = code_get(&a->pre, b);
        if (s < 0)
            return 0;
        if (s < 16) {
            l[i] = (uint8_t)((a->prev[i] + s) & 15);
            i++;
            continue;
        }
        unsigned run = s == 16 ? 3 + take(b, 2) : s == 17 ? 3 + take(b, 3) : 11 + take(b, 7);
        uint8_t v = s == 16 && i ? l[i - 1] : 0;
        for (; run && i < ALL_LENS; run--)
            l[i++] = v;
    }
    if (b->bad || !code_build(&a->main, l, MAIN_SYMS) ||
        !code_build(&a->len, l + MAIN_SYMS, LEN_SYMS) ||
        !code_build(&a->align, l + MAIN_SYMS + LEN_SYMS, ALIGN_SYMS))
        return 0;
    a->use_align = 0;
    for (unsigned k = 0; k < ALIGN_SYMS; k++)
        if (l[MAIN_SYMS + LEN_SYMS + k] != 3)
            a->use_align = 1;
    memcpy(a->prev, l, sizeof(l));
    return 1;
}

/* Decode in (n bytes) into out (cap bytes, all wanted). Returns how many bytes came out;
 * *ok says whether the stream was whole (a match running past cap is not). */
static size_t block_decode(aspack *a, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                           int *ok)
{
    bits b = {in, n, 0, 0, 0, 0};
    uint32_t hist[3] = {0, 0, 0};
    size_t o = 0;
    *ok = 0;
    memset(a->prev, 0, sizeof(a->prev));
    if (!read_tables(a, &b))
        return 0;
    while (o < cap) {
        int s = code_get(&a->main, &b);
        if (s < 0)
            return o;
        if (s < 256) {
            out[o++] = (uint8_t)s;
            continue;
        }
        if (s >= 720) {
            if (!read_tables(a, &b))
                return o;
            continue;
        }
        unsigned slot = (unsigned)(s - 256) >> 3;
        size_t mlen = (unsigned)((s - 256) & 7) + 2;
        if (mlen == 9) {
            int k = code_get(&a->len, &b);
            if (k < 0)
                return o;
            mlen += a->lbase[k] + take(&b, a->lbits[k]);
        }
        unsigned nb = a->sbits[slot];
        uint32_t d = a->slot_base[slot];
        if (!a->use_align || nb < 3) {
            d += take(&b, nb);
        } else {
            d += take(&b, nb - 3) << 3;
            int k = code_get(&a->align, &b);
            if (k < 0)
                return o;
            d += (uint32_t)k;
        }
        if (b.bad)
            return o;
        uint32_t dist;
        if (d < 3) {
            dist = hist[d];
            hist[d] = hist[0];
            hist[0] = dist;
        } else {
            dist = d - 3;
            hist[2] = hist[1];
            hist[1] = hist[0];
            hist[0] = dist;
        }
        if ((size_t)dist + 1 > o)
            return o;
        size_t m = mlen > cap - o ? cap - o : mlen; /* a match past the end: damage */
        for (size_t k = 0; k < m; k++, o++)
            out[o] = out[o - dist - 1];
        if (m < mlen)
            return o;
    }
    *ok = 1;
    return o;
}

/* Take the loader's STUB_TABLES bytes of tables (borrowed). Returns 0 when a bit count is
 * beyond 24. */
static int tables_init(aspack *a, const uint8_t *t)
{
    a->lbase = t;
    a->lbits = t + LEN_SYMS;
    a->sbits = t + 2 * LEN_SYMS;
    uint32_t sum = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        a->slot_base[i] = sum;
        if (a->sbits[i] > 24 || (i < LEN_SYMS && a->lbits[i] > 24))
            return 0;
        sum += 1u << a->sbits[i];
    }
    return 1;
}

kh_err khi_aspack_decode(const uint8_t *tables, const uint8_t *in, size_t n, uint8_t *out,
                         size_t cap, size_t *out_len)
{
    *out_len = 0;
    aspack *a = khi_calloc(1, sizeof(*a));
    if (!a)
        return KH_ENOMEM;
    int ok = 0;
    if (tables_init(a, tables))
        *out_len = block_decode(a, in, n, out, cap, &ok);
    khi_free(a);
    return ok ? KH_OK : KH_EFORMAT;
}

/* The loader's call/jmp filter over the first block: absolute targets back to relative. */
static void unfilter(uint8_t *p, size_t n, uint8_t marker)
{
    for (size_t i = 0; n > 6 && i < n - 6; i++) {
        if ((p[i] != 0xe8 && p[i] != 0xe9) || p[i + 1] != marker)
            continue;
        uint32_t v = khi_le32(p + i + 1) >> 8;
        khi_put_le32(p + i + 1, v - (uint32_t)i);
        i += 4;
    }
}

/* ---- the walk ---- */

static int warn(const khi_parts_cb *cb, const char *detail)
{
    return cb->warn ? cb->warn(cb->ud, KHI_FWARN_DAMAGED, "aspack-unpacked", detail) : 0;
}

/* Lay the sections out as at run time: the image from *out_lo to *out_len; *out_cut says
 * that the file ends before some section's data. NULL when there is no room; *out_lo > 0 then
 * says an image empty or too large. */
static uint8_t *lay_out(const uint8_t *d, size_t len, const khi_pe *pe, uint32_t *out_lo,
                        size_t *out_len, int *out_cut)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        uint64_t sz = s->vsize > s->raw_size ? s->vsize : s->raw_size;
        if (!sz)
            continue;
        if (s->va < lo)
            lo = s->va;
        if (s->va + sz > hi)
            hi = s->va + sz;
    }
    if (pe->size_of_image && hi > pe->size_of_image)
        hi = pe->size_of_image;
    *out_lo = 0;
    *out_len = 0;
    if (lo >= hi || hi > KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR) {
        *out_lo = 1;
        return NULL;
    }
    uint8_t *img = khi_calloc(1, (size_t)hi);
    if (!img)
        return NULL;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (s->raw_size && (s->raw_off >= len || s->raw_size > len - s->raw_off))
            *out_cut = 1;
        if (s->va >= hi || s->raw_off >= len)
            continue;
        size_t n = s->raw_size;
        if (n > len - s->raw_off)
            n = len - s->raw_off;
        if (n > hi - s->va)
            n = (size_t)(hi - s->va);
        memcpy(img + s->va, d + s->raw_off, n);
    }
    *out_lo = (uint32_t)lo;
    *out_len = (size_t)hi;
    return img;
}

/* Decode every block of the list at list into img (total bytes). Returns NULL or what went
 * wrong; KH_ENOMEM through *err. */
static const char *unpack_blocks(aspack *a, const aspack_ver *v, uint8_t *img, size_t total,
                                 uint32_t base, kh_err *err)
{
    size_t at = (size_t)base + v->blocks;
    int filter = !v->filter || img[base + v->filter] == 0;
    uint8_t marker = img[base + v->marker];
    for (unsigned k = 0; k < MAX_BLOCKS; k++) {
        if (at > total || total - at < 8)
            return "ASPack-packed, but its block list runs off the image";
        uint32_t rva = khi_le32(img + at), size = khi_le32(img + at + 4);
        if (!rva)
            return NULL;
        if (rva >= total || size > total - rva)
            return "ASPack-packed, but a block lies outside the image";
        uint8_t *in = khi_malloc(size ? size : 1);
        if (!in) {
            *err = KH_ENOMEM;
            return NULL;
        }
        memcpy(in, img + rva, size);
        int ok = 1;
        if (size)
            block_decode(a, in, size, img + rva, size, &ok);
        khi_free(in);
        if (!ok)
            return "ASPack-packed, but a block's compressed data is damaged or truncated";
        if (k == 0 && filter)
            unfilter(img + rva, size, marker);
        at += v->entry;
        for (unsigned skip = 0; v->entry == 12 && skip < MAX_BLOCKS; skip++) {
            /* later releases leave holes (size -0x10e) in the list */
            if (at > total || total - at < 8 || khi_le32(img + at + 4) != 0xfffffef2u)
                break;
            at += v->entry;
        }
    }
    return "ASPack-packed, but its block list does not end";
}

kh_err khi_aspack_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    if (pe->ep_offset >= len)
        return KH_OK;
    size_t epn = len - (size_t)pe->ep_offset;
    if (!khi_aspack_detect(d + pe->ep_offset, epn, pe))
        return KH_OK;
    kh_err err = KH_OK;
    aspack *a = NULL;
    khi_buf out;
    khi_buf_init(&out);
    uint32_t lo = 0;
    size_t total = 0;
    int cut = 0;
    uint8_t *img = lay_out(d, len, pe, &lo, &total, &cut);
    if (!img) {
        if (lo)
            warn(cb, "ASPack-packed, but its image is empty or larger than 64 MiB");
        else
            err = KH_ENOMEM;
        goto out;
    }
    uint32_t base = pe->ep_rva - 1;
    const aspack_ver *v = NULL;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]) && !v; i++) {
        const aspack_ver *t = &versions[i];
        if ((size_t)base + t->lens + STUB_TABLES <= total &&
            (size_t)base + t->blocks + 8 <= total &&
            memcmp(img + base + t->ret, "\x68\0\0\0\0\xc3", 6) == 0)
            v = t;
    }
    if (!v) {
        warn(cb, "ASPack-packed, but its loader is of an unknown release or cut short");
        goto out;
    }
    a = khi_calloc(1, sizeof(*a));
    if (!a) {
        err = KH_ENOMEM;
        goto out;
    }
    const char *damage = NULL;
    if (!tables_init(a, img + base + v->lens))
        damage = "ASPack-packed, but its loader's tables are damaged";
    uint32_t oep = khi_le32(img + base + v->oep);
    if (!damage)
        damage = unpack_blocks(a, v, img, total, base, &err);
    if (err != KH_OK)
        goto out;
    if (cut && !damage)
        damage = "ASPack-packed, but the file ends before its sections do";
    if (damage && warn(cb, damage))
        goto out;
    err = khi_pe_rebuild(d, pe, img + lo, total - lo, lo, &oep, &out);
    if (err == KH_OK && cb->part(cb->ud, (const uint8_t *)out.data, out.len, "aspack-unpacked"))
        err = KH_ECANCELED;
out:
    khi_buf_cleanup(&out);
    khi_free(a);
    khi_free(img);
    return err;
}
