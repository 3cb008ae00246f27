/*
 * fmt_fsg.c - FSG 1.31, 1.33 and 2.0 packed Windows executables.
 *
 * FSG ("Fast Small Good") leaves an empty section where the program goes and a second one
 * holding the aPLib-compressed image with its loader. The three versions differ in where the
 * loader finds its addresses:
 *
 *   2.0   the entry point is `xchg [P], esp; popad`: P, in the data section, points at eight
 *         dwords that popad loads, EDI the destination (the empty section), ESI the compressed
 *         stream, EBX a table whose dword at +12 is the original entry point. One stream
 *         decodes the whole image.
 *   1.33  `mov esi, S; lodsd ...` with S in the PE header's padding: the dwords there are EBX,
 *         the first destination, the source, then the destinations (VA + 1) of the further
 *         streams, 0 after the last. The streams follow one another in the data section; the
 *         original entry point is the target of the `jcc rel32` at 161 bytes into the loader.
 *   1.31  `mov ebx, S; mov edi, DST; mov esi, SRC`: S holds 16-bit words, ((VA >> 12) + 2)
 *         of each further stream's destination, ended by 1 or 2; the original entry point is
 *         the target of the `jcc rel32` at 0xda (0xe0 when the loader calls rather than moves
 *         its bit reader into EBX) bytes into the loader.
 *
 * Each stream is decoded where the loader puts it, each on its own (no stream refers back
 * into another). What is handed out: "fsg-unpacked", a PE of one section holding the empty
 * section's image, with the original entry point. The imports the loader resolves at run time
 * are not rebuilt: the scan wants the program's bytes. Damage is a warning; what was decoded
 * is still handed out. The image is at most KHI_FMT_MAX_PART. Written from the description of
 * the format, independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

enum { FSG_NONE, FSG_131, FSG_133, FSG_200 };

/* Most streams a loader's list may name: more sections than a PE may have is damage. */
#define FSG_MAX_STREAMS KHI_PE_MAX_SECTIONS

static const uint8_t stub200[] = {0x61, 0x94, 0x55, 0xa4, 0xb6, 0x80, 0xff, 0x13};
static const uint8_t stub133[] = {0xad, 0x93, 0xad, 0x97, 0xad, 0x56, 0x96, 0xb2, 0x80, 0xa4};
static const uint8_t stub131[] = {0xb2, 0x80, 0xa4, 0xb6, 0x80};

/* Which FSG loader is at the entry point (the stub's first bytes; the support data of 1.x in
 * the headers, below every section), or FSG_NONE. */
static int fsg_version(const uint8_t *ep, size_t n, const khi_pe *pe)
{
    if (n < 32 || (ep[0] != 0x87 && ep[0] != 0xbe && ep[0] != 0xbb) || pe->pe32plus ||
        khi_pe_hollow(pe) < 0)
        return FSG_NONE;
    if (ep[0] == 0x87 && ep[1] == 0x25 && !memcmp(ep + 6, stub200, sizeof(stub200)))
        return FSG_200;
    uint32_t first = pe->sect[0].va;
    for (unsigned i = 1; i < pe->nsections; i++)
        if (pe->sect[i].va < first)
            first = pe->sect[i].va;
    uint32_t s = khi_le32(ep + 1) - (uint32_t)pe->image_base;
    if (ep[0] == 0xbe && s < first && !memcmp(ep + 5, stub133, sizeof(stub133)))
        return FSG_133;
    if (ep[0] == 0xbb && s < first && ep[5] == 0xbf && ep[10] == 0xbe && ep[15] == 0x53 &&
        (ep[16] == 0xbb || ep[16] == 0xe8) && !memcmp(ep + 21, stub131, sizeof(stub131)))
        return FSG_131;
    return FSG_NONE;
}

int khi_fsg_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    return fsg_version(ep, ep_len, pe) != FSG_NONE;
}

typedef struct fsg {
    const uint8_t *d; /* the file */
    size_t len;
    const khi_pe *pe;
    const khi_pe_section *dst, *src; /* the empty section, the data section */
    const uint8_t *raw;              /* the data section's bytes in the file */
    size_t raw_len;
    uint32_t base, oep;
    uint32_t to[FSG_MAX_STREAMS + 1]; /* each stream's destination (RVA) */
    unsigned nto;
    uint32_t at; /* the first stream's RVA, in the data section */
} fsg;

/* The n bytes at RVA rva of the data section, or NULL. */
static const uint8_t *in_src(const fsg *f, uint32_t rva, size_t n)
{
    if (rva < f->src->va || rva - f->src->va > f->raw_len || f->raw_len - (rva - f->src->va) < n)
        return NULL;
    return f->raw + (rva - f->src->va);
}

/* The n bytes of the headers' padding at RVA rva (mapped as in the file), or NULL. */
static const uint8_t *in_hdr(const fsg *f, uint32_t rva, size_t n)
{
    for (unsigned i = 0; i < f->pe->nsections; i++)
        if (f->pe->sect[i].raw_size && rva + (uint64_t)n > f->pe->sect[i].raw_off)
            return NULL;
    return (uint64_t)rva + n <= f->len ? f->d + rva : NULL;
}

/* Is rva inside the empty section? */
static int in_dst(const fsg *f, uint32_t rva)
{
    return rva >= f->dst->va && rva - f->dst->va < f->dst->vsize;
}

/* The target of the `jcc rel32` (0F 8x) at off bytes into the loader, or NULL and a reason. */
static const char *jump_at(fsg *f, uint32_t off)
{
    const uint8_t *j = in_src(f, f->pe->ep_rva + off, 6);
    if (!j || j[0] != 0x0f || (j[1] & 0xf0) != 0x80)
        return "FSG-packed, but the jump to the original entry point is missing";
    f->oep = f->pe->ep_rva + off + 6 + khi_le32(j + 2);
    return NULL;
}

static const char *layout200(fsg *f, const uint8_t *ep)
{
    const uint8_t *p = in_src(f, khi_le32(ep + 2) - f->base, 4);
    const uint8_t *regs = p ? in_src(f, khi_le32(p) - f->base, 32) : NULL;
    if (!regs)
        return "FSG-packed, but its register block lies outside the data section";
    uint32_t edi = khi_le32(regs) - f->base, esi = khi_le32(regs + 4) - f->base;
    const uint8_t *tab = in_src(f, khi_le32(regs + 16) - f->base, 16);
    if (edi != f->dst->va || !in_src(f, esi, 1) || !tab)
        return "FSG-packed, but its destination, source or table is not where the loader "
               "needs it";
    f->at = esi;
    f->to[f->nto++] = edi;
    f->oep = khi_le32(tab + 12) - f->base;
    return NULL;
}

static const char *layout133(fsg *f, const uint8_t *ep)
{
    uint32_t s = khi_le32(ep + 1) - f->base;
    const uint8_t *sup = in_hdr(f, s, 16);
    if (!sup)
        return "FSG-packed, but its loader's data lies outside the headers";
    uint32_t edi = khi_le32(sup + 4) - f->base, esi = khi_le32(sup + 8) - f->base;
    if (edi != f->dst->va || !in_src(f, esi, 1))
        return "FSG-packed, but its destination or source is not where the loader needs it";
    f->at = esi;
    f->to[f->nto++] = edi;
    for (uint32_t k = s + 12;; k += 4) {
        const uint8_t *w = in_hdr(f, k, 4);
        if (!w)
            return "FSG-packed, but its list of sections is cut short";
        uint32_t va = khi_le32(w);
        if (!va)
            break;
        uint32_t rva = va - 1 - f->base;
        if (!in_dst(f, rva) || f->nto > FSG_MAX_STREAMS)
            return "FSG-packed, but a section of its list lies outside the image";
        f->to[f->nto++] = rva;
    }
    return jump_at(f, 161);
}

static const char *layout131(fsg *f, const uint8_t *ep)
{
    uint32_t s = khi_le32(ep + 1) - f->base;
    uint32_t edi = khi_le32(ep + 6) - f->base, esi = khi_le32(ep + 11) - f->base;
    if (edi != f->dst->va || !in_src(f, esi, 1))
        return "FSG-packed, but its destination or source is not where the loader needs it";
    f->at = esi;
    f->to[f->nto++] = edi;
    for (uint32_t k = s;; k += 2) {
        const uint8_t *w = in_hdr(f, k, 2);
        if (!w)
            return "FSG-packed, but its loader's data lies outside the headers";
        uint32_t v = (uint32_t)w[0] | (uint32_t)w[1] << 8;
        if (v == 1 || v == 2)
            break;
        uint32_t rva = ((v - 2) << 12) - f->base;
        if (!in_dst(f, rva) || f->nto > FSG_MAX_STREAMS)
            return "FSG-packed, but a section of its list lies outside the image";
        f->to[f->nto++] = rva;
    }
    return jump_at(f, ep[16] == 0xe8 ? 0xe0 : 0xda);
}

/* Decode each stream into img (the empty section's image). Returns NULL or what went wrong. */
static const char *streams(const fsg *f, uint8_t *img)
{
    size_t src = f->at - f->src->va;
    for (unsigned k = 0; k < f->nto; k++) {
        size_t dst = f->to[k] - f->dst->va, n = 0, used = 0;
        if (src >= f->raw_len)
            return "FSG-packed, but its compressed data is cut short";
        kh_err e = khi_aplib_decode(f->raw + src, f->raw_len - src, img + dst, f->dst->vsize - dst,
                                    &n, &used);
        if (e != KH_OK)
            return "FSG-packed, but the compressed data is damaged or truncated";
        src += used;
    }
    return NULL;
}

static int warn(const khi_parts_cb *cb, const char *detail)
{
    return cb->warn ? cb->warn(cb->ud, KHI_FWARN_DAMAGED, "fsg-unpacked", detail) : 0;
}

kh_err khi_fsg_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    const uint8_t *ep = pe->ep_offset < len ? d + pe->ep_offset : NULL;
    size_t ep_len = ep ? len - (size_t)pe->ep_offset : 0;
    int v = ep ? fsg_version(ep, ep_len, pe) : FSG_NONE;
    if (v == FSG_NONE)
        return KH_OK;
    int i = khi_pe_hollow(pe);
    fsg f = {.d = d, .len = len, .pe = pe, .dst = &pe->sect[i], .src = &pe->sect[i + 1]};
    f.base = (uint32_t)pe->image_base;
    kh_err err = KH_OK;
    uint8_t *img = NULL;
    khi_buf out;
    khi_buf_init(&out);
    if (f.src->raw_off >= len || f.dst->vsize > KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR) {
        warn(cb, "FSG-packed, but its image is larger than 64 MiB or its data is missing");
        goto out;
    }
    f.raw = d + f.src->raw_off;
    f.raw_len = f.src->raw_size < len - f.src->raw_off ? f.src->raw_size : len - f.src->raw_off;
    const char *damage = v == FSG_200   ? layout200(&f, ep)
                         : v == FSG_133 ? layout133(&f, ep)
                                        : layout131(&f, ep);
    if (damage && (warn(cb, damage) || !f.nto))
        goto out;
    img = khi_calloc(1, f.dst->vsize ? f.dst->vsize : 1);
    if (!img) {
        err = KH_ENOMEM;
        goto out;
    }
    damage = streams(&f, img);
    if (damage && warn(cb, damage))
        goto out;
    err = khi_pe_rebuild(d, pe, img, f.dst->vsize, f.dst->va, f.oep ? &f.oep : NULL, &out);
    if (err == KH_OK && cb->part(cb->ud, (const uint8_t *)out.data, out.len, "fsg-unpacked"))
        err = KH_ECANCELED;
out:
    khi_buf_cleanup(&out);
    khi_free(img);
    return err;
}
