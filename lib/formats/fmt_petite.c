/*
 * fmt_petite.c - Petite 2.1 and 2.2 packed Windows executables.
 *
 * Petite's loader starts `mov eax, SECT; push HANDLER; push fs:[0]; mov fs:[0], esp; pushfw;
 * pushad`, SECT being its own section's address (the last section for 2.2, the one before a
 * last empty one for 2.1). At 0x1b8 (2.2) or 0x178 (2.1) into that section a list of records
 * tells the loader what to do, in order, on the image as it is mapped:
 *
 *   dword with bit 31 set   move (dword & 0x7fffffff) dwords ending at SRC to end at DST
 *                           (SRC, DST follow): compressed data made room for its output
 *   other non-zero dword    decompress from there (SRC) to DST, SIZE bytes (SIZE, DST and a
 *                           fourth dword follow)
 *   0                       the end
 *
 * Its compression is an LZ77 with a tag bit stream read a byte at a time (as aPLib's), literals
 * XORed with the low byte of the count of bytes still to come, gamma-coded offsets stored
 * complemented with 5, 7 or 8 more bits (by the section's size) and lengths longer by one or
 * two past two offset bounds, and a "same offset again" code. The section that ends with the
 * loader's second stage (known by its code) also holds the encrypted original entry point and
 * the import table the loader walks to decrypt it: the loader's walk is replayed (each import
 * counts, as the address Windows 9x would give it) to find the entry point.
 *
 * What is handed out: "petite-unpacked", a PE of one section holding the image from the
 * lowest section on, with the original entry point when it was found. Petite's level-zero
 * form (no compression) is recognised and reported, not unpacked. Damage is a warning; what
 * was decoded is still handed out. The image is at most KHI_FMT_MAX_PART. Written from the
 * description of the format, independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

/* The loader's prologue after `mov eax, SECT`: push imm32, the SEH frame, pushfw, pushad. */
static const uint8_t seh[] = {0x64, 0xff, 0x35, 0, 0, 0,    0,    0x64, 0x89,
                              0x25, 0,    0,    0, 0, 0x66, 0x9c, 0x60};

/* 2 (2.2, the loader's section is the last), 1 (2.1, the one before the last), else 0. */
static int petite_version(const uint8_t *ep, size_t n, const khi_pe *pe)
{
    if (n < 32 || ep[0] != 0xb8 || ep[5] != 0x68 || pe->pe32plus || pe->nsections < 2 ||
        memcmp(ep + 10, seh, sizeof(seh)) != 0)
        return 0;
    uint32_t sect = khi_le32(ep + 1) - (uint32_t)pe->image_base;
    if (sect == pe->sect[pe->nsections - 1].va)
        return 2;
    return sect == pe->sect[pe->nsections - 2].va ? 1 : 0;
}

int khi_petite_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    return petite_version(ep, ep_len, pe) != 0;
}

typedef struct petite {
    uint8_t *img; /* the image from the lowest section (RVA lo) on */
    size_t len;
    uint32_t lo;
    int version;
    uint32_t loader; /* the loader section's RVA */
    int have_ep, mangled;
    uint32_t enc_ep, imports; /* what the loader's second stage holds */
} petite;

/* The dword at RVA rva of the image, or 0 outside it. */
static uint32_t rd32(const petite *p, uint32_t rva)
{
    if (rva < p->lo || rva - p->lo > p->len || p->len - (rva - p->lo) < 4)
        return 0;
    return khi_le32(p->img + (rva - p->lo));
}

typedef struct bits {
    const uint8_t *d;
    size_t len, pos;
    unsigned tag;
} bits;

/* The next tag bit, or -1 at the end of the image. */
static int bit(bits *b)
{
    unsigned old = b->tag;
    b->tag = (old * 2) & 0xff;
    if (!(old & 0x7f)) {
        if (b->pos >= b->len)
            return -1;
        old = b->d[b->pos++];
        b->tag = (old * 2 + 1) & 0xff;
    }
    return (int)((old >> 7) & 1);
}

/* A gamma code (v = v*2 + bit while the next bit is 1) on top of v, or 0 on damage. */
static uint32_t gamma2(bits *b, uint32_t v)
{
    int x, more;
    do {
        x = bit(b);
        more = bit(b);
        if (x < 0 || more < 0 || v >= 0x1000000u)
            return 0;
        v = v * 2 + (uint32_t)x;
    } while (more);
    return v;
}

static const char *const TRUNC = "Petite-packed, but the compressed data is damaged or truncated";

/* Decompress size bytes from src to dst (offsets in the image); *out_end is where the output
 * stopped. Returns NULL or what went wrong. */
static const char *inflate(petite *p, size_t src, size_t dst, uint32_t size, size_t *out_end)
{
    uint8_t *m = p->img;
    bits b = {m, p->len, src, 0};
    uint32_t c1 = 0xffff8300u, c2 = 0xfffffb00u, extra = 8;
    if (size < 0x10000) {
        c1 = 0xffffc060u, c2 = 0xfffffc60u, extra = 5;
    } else if (size < 0x40000) {
        c1 = 0xffff8180u, c2 = 0xfffff980u, extra = 7;
    }
    const char *err = NULL;
    int64_t left = size;
    uint32_t last = 0; /* the previous offset, complemented; 0 before the first */
    if (b.pos >= b.len || dst >= p->len) {
        err = "Petite-packed, but a section's data lies outside the image";
        goto out;
    }
    m[dst++] = m[b.pos++];
    left--;
    while (left > 0) {
        int x = bit(&b);
        if (x < 0) {
            err = TRUNC;
            goto out;
        }
        if (!x) { /* a literal */
            if (b.pos >= b.len || dst >= p->len) {
                err = TRUNC;
                goto out;
            }
            m[dst++] = m[b.pos++] ^ (uint8_t)left;
            left--;
            continue;
        }
        uint32_t g = gamma2(&b, 1), back = last, n, add = 0;
        if (!g) {
            err = TRUNC;
            goto out;
        }
        if (g >= 3) { /* a new offset; 2 is the previous one again */
            back = g - 3;
            for (uint32_t k = 0; k < extra; k++) {
                x = bit(&b);
                if (x < 0 || back >= 0x1000000u) {
                    err = TRUNC;
                    goto out;
                }
                back = back * 2 + (uint32_t)x;
            }
            back = ~back;
            add = 1u + (back < c2) + (back < c1);
            last = back;
        }
        int h = bit(&b), l = bit(&b);
        if (h < 0 || l < 0) {
            err = TRUNC;
            goto out;
        }
        n = (uint32_t)(h * 2 + l);
        if (!n) {
            n = gamma2(&b, 1);
            if (!n) {
                err = TRUNC;
                goto out;
            }
            n += 2;
        }
        n += add;
        uint32_t dist = 0u - back;
        if (!back || dist > dst || n > p->len - dst) {
            err = "Petite-packed, but a match reaches outside the image";
            goto out;
        }
        for (uint32_t k = 0; k < n; k++, dst++)
            m[dst] = m[dst - dist];
        left -= n;
    }
out:
    *out_end = dst;
    return err;
}

/* Does the output that ends at RVA end hold the loader's second stage (its code 33 C0 5E 64
 * 8B 18 8B 1B at a known place, or 0x35/0x34 bytes earlier when the program had relocations)?
 * Then keep the encrypted entry point and the import table it decrypts with. */
static void second_stage(petite *p, uint32_t end)
{
    uint32_t grown = p->version == 2 ? 0x355 : 0x323, skew = p->version == 2 ? 0x35 : 0x34;
    if (end < p->lo + grown + skew)
        return;
    uint32_t at = end - grown, reloc;
    if (rd32(p, at + 0x54) == 0x645ec033u && rd32(p, at + 0x58) == 0x1b8b188bu)
        reloc = 0;
    else if (rd32(p, at + 0x54 - skew) == 0x645ec033u && rd32(p, at + 0x58 - skew) == 0x1b8b188bu)
        reloc = skew;
    else
        return;
    at -= reloc;
    uint32_t key = rd32(p, at + 0x07) ^ 0x9d6661aau;
    if (key != (rd32(p, at + 0x0b) ^ 0xe908c483u))
        return;
    p->have_ep = 1;
    p->enc_ep = rd32(p, at + 0x0f) ^ key;
    p->imports = rd32(p, at + 0x121);
    p->mangled = rd32(p, at + 0x1c0) != 0x90909090u;
}

/* The original entry point: the loader decrypts it with every import it resolves (2.2; 2.1
 * stores it plain), each taken as the address Windows 9x would give it. 0 when the walk does
 * not end. */
static uint32_t entry_point(const petite *p, uint32_t ep_rva, uint32_t base)
{
    uint32_t enc = p->enc_ep, virt = ep_rva + 5 + base, budget = 1u << 20;
    int rnd = 0;
    for (uint32_t thunk = p->imports; p->version == 2; thunk += 4) {
        if (thunk < p->lo || thunk - p->lo > p->len - 4)
            return 0;
        uint32_t imp = rd32(p, thunk);
        if (!imp)
            break;
        for (;; imp += 4) {
            if (imp < p->lo || imp - p->lo > p->len - 4 || !--budget)
                return 0;
            uint32_t api = rd32(p, imp);
            if (!api)
                break;
            if (!(api & 0x80000000u) && p->mangled && --rnd < 0) {
                api = virt;
                virt += 5;
                rnd = (int)(virt & 7);
            } else {
                api = 0xbff01337u; /* a KERNEL32 address on Windows 9x */
            }
            enc -= (p->loader + base < api) + (api < virt);
            enc = enc >> 3 | enc << 29;
        }
    }
    return ep_rva + 5 + enc;
}

/* Carry out the loader's records. Returns NULL or what went wrong. */
static const char *records(petite *p)
{
    uint32_t at = p->loader + (p->version == 2 ? 0x1b8 : 0x178);
    uint64_t work = 0; /* bytes moved and decompressed: real files stay within the image */
    for (unsigned k = 0;; k++) {
        if (at < p->lo || at - p->lo > p->len - 4 || k > 4 * KHI_PE_MAX_SECTIONS)
            return "Petite-packed, but its list of sections is cut short";
        uint32_t src = rd32(p, at);
        if (!src)
            return NULL;
        if (src & 0x80000000u) {
            uint64_t n = (uint64_t)(src & 0x7fffffffu) * 4;
            uint64_t s = (uint64_t)rd32(p, at + 4) + 4, d = (uint64_t)rd32(p, at + 8) + 4;
            work += n;
            if (!n || s < p->lo + n || d < p->lo + n || s - p->lo > p->len || d - p->lo > p->len ||
                work > 2 * (uint64_t)p->len)
                return "Petite-packed, but it moves data outside the image";
            s -= n; /* the records name the last dword of each run */
            d -= n;
            memmove(p->img + (d - p->lo), p->img + (s - p->lo), (size_t)n);
            at += 12;
            continue;
        }
        uint32_t size = rd32(p, at + 4), dst = rd32(p, at + 8);
        at += 16;
        if (!size)
            continue;
        work += size;
        if (src < p->lo || dst < p->lo || work > 2 * (uint64_t)p->len)
            return "Petite-packed, but a section's data lies outside the image";
        size_t end = 0;
        const char *err = inflate(p, src - p->lo, dst - p->lo, size, &end);
        if (err)
            return err;
        second_stage(p, p->lo + (uint32_t)end);
    }
}

static int warn(const khi_parts_cb *cb, const char *detail)
{
    return cb->warn ? cb->warn(cb->ud, KHI_FWARN_DAMAGED, "petite-unpacked", detail) : 0;
}

/* Map the sections of the file into p->img (allocated); *cut is set when the file ends
 * before a section's raw data does. Returns KH_OK, KH_ENOMEM, or KH_ELIMIT when the image is
 * larger than a part may be. */
static kh_err map(petite *p, const uint8_t *d, size_t len, const khi_pe *pe, int *cut)
{
    uint64_t lo = UINT32_MAX, hi = 0;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        uint64_t e = (uint64_t)s->va + (s->vsize > s->raw_size ? s->vsize : s->raw_size);
        lo = s->va < lo ? s->va : lo;
        hi = e > hi ? e : hi;
    }
    if (hi < lo + 4 || hi - lo > KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR)
        return KH_ELIMIT;
    p->lo = (uint32_t)lo;
    p->len = (size_t)(hi - lo);
    p->img = khi_calloc(1, p->len);
    if (!p->img)
        return KH_ENOMEM;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if ((uint64_t)s->raw_off + s->raw_size > len)
            *cut = 1;
        if (s->raw_off >= len)
            continue;
        size_t n = s->raw_size < len - s->raw_off ? s->raw_size : len - s->raw_off;
        memcpy(p->img + (s->va - p->lo), d + s->raw_off, n);
    }
    return KH_OK;
}

kh_err khi_petite_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    const uint8_t *ep = pe->ep_offset < len ? d + pe->ep_offset : NULL;
    size_t ep_len = ep ? len - (size_t)pe->ep_offset : 0;
    petite p = {.version = ep ? petite_version(ep, ep_len, pe) : 0};
    if (!p.version)
        return KH_OK;
    p.loader = pe->sect[pe->nsections - (p.version == 2 ? 1 : 2)].va;
    khi_buf out;
    khi_buf_init(&out);
    kh_err err = KH_OK;
    if (ep_len >= 0x84 && khi_le32(ep + 0x80) == 0x163c988du) {
        warn(cb, "Petite-packed at level zero: not unpacked by this version");
        goto out;
    }
    int cut = 0;
    err = map(&p, d, len, pe, &cut);
    if (err == KH_ELIMIT) {
        err = KH_OK;
        warn(cb, "Petite-packed, but its image is empty or larger than 64 MiB");
        goto out;
    }
    if (err != KH_OK ||
        (cut && warn(cb, "Petite-packed, but the file ends before its sections do")))
        goto out;
    const char *damage = records(&p);
    if (damage && warn(cb, damage))
        goto out;
    uint32_t base = (uint32_t)pe->image_base;
    uint32_t oep = p.have_ep && !damage ? entry_point(&p, pe->ep_rva, base) : 0;
    if (oep < p.lo || oep - p.lo >= p.len)
        oep = 0;
    err = khi_pe_rebuild(d, pe, p.img, p.len, p.lo, oep ? &oep : NULL, &out);
    if (err == KH_OK && cb->part(cb->ud, (const uint8_t *)out.data, out.len, "petite-unpacked"))
        err = KH_ECANCELED;
out:
    khi_buf_cleanup(&out);
    khi_free(p.img);
    return err;
}
