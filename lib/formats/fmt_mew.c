/*
 * fmt_mew.c - MEW 11 SE packed Windows executables (the aPLib form).
 *
 * MEW leaves an empty section for the program, followed by one holding the compressed data,
 * and hides its loader in the PE header: the entry point is a `jmp` to file offset 0x154 (or
 * 0x158 with the Win9x option), where `mov esi, TABLE` starts it. TABLE, in the data section,
 * holds a dword, the original entry point (a VA), the first destination (a VA), then aPLib
 * blocks: each is followed by the dword VA of the next block's destination, 0 after the last.
 * Both sections are laid out as at run time (destination section, then the data section
 * right after it) and each block is decoded in place, as the loader does. The LZMA form of
 * MEW (a `call` at 0x7b of the loader) is recognised but not unpacked yet: it is reported.
 *
 * What is handed out: "mew-unpacked", a PE of one section with the image from the first
 * section's address and the original entry point. Damage is a warning; what was decoded is
 * still handed out. The image is at most KHI_FMT_MAX_PART. Written from the description of
 * the format, independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

/* File offset of the loader the entry point jumps to: 0x154 or 0x158, else 0. */
static uint32_t loader_at(const uint8_t *ep, size_t n, const khi_pe *pe)
{
    if (n < 16 || ep[0] != 0xe9 || pe->pe32plus)
        return 0;
    uint32_t at = pe->ep_rva + khi_le32(ep + 1) + 5;
    return at == 0x154 || at == 0x158 ? at : 0;
}

int khi_mew_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    return loader_at(ep, ep_len, pe) && khi_pe_hollow(pe) >= 0;
}

static int warn(const khi_parts_cb *cb, const char *detail)
{
    return cb->warn ? cb->warn(cb->ud, KHI_FWARN_DAMAGED, "mew-unpacked", detail) : 0;
}

/* Decode the chain of blocks in img (total bytes; the table at tab). Returns NULL or what
 * went wrong. */
static const char *blocks(uint8_t *img, size_t total, size_t tab, uint32_t vma)
{
    uint32_t dst = khi_le32(img + tab + 8) - vma;
    size_t src = tab + 12;
    for (int k = 0; k < 256; k++) {
        if (dst >= total || src >= total)
            return "MEW-packed, but a block lies outside the image";
        size_t n = 0, used = 0;
        kh_err e = khi_aplib_decode(img + src, total - src, img + dst, total - dst, &n, &used);
        if (e != KH_OK)
            return "MEW-packed, but the compressed data is damaged or truncated";
        src += used;
        if (total - src < 4)
            return "MEW-packed, but its block list is cut short";
        uint32_t next = khi_le32(img + src);
        src += 4;
        if (!next)
            return NULL;
        dst = next - vma;
    }
    return "MEW-packed, but its block list does not end";
}

kh_err khi_mew_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    int i = khi_pe_hollow(pe);
    uint32_t at =
        pe->ep_offset < len ? loader_at(d + pe->ep_offset, len - (size_t)pe->ep_offset, pe) : 0;
    if (i < 0 || !at)
        return KH_OK;
    const khi_pe_section *s0 = &pe->sect[i], *s1 = &pe->sect[i + 1];
    kh_err err = KH_OK;
    uint8_t *img = NULL;
    khi_buf out;
    khi_buf_init(&out);
    if ((uint64_t)at + 0xb0 > len)
        goto out;
    const uint8_t *ld = d + at;
    uint32_t esi = khi_le32(ld + 1) - (uint32_t)pe->image_base;
    if (esi <= s1->va || esi - s1->va + 12 > s1->raw_size || esi - s1->va + 12 > s1->vsize) {
        warn(cb, "MEW-packed, but its table lies outside the data section");
        goto out;
    }
    if (ld[0x7b] == 0xe8) {
        warn(cb, "MEW-packed with LZMA: not unpacked by this version");
        goto out;
    }
    uint64_t total = (uint64_t)s0->vsize + s1->vsize;
    if (total > KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR || s1->raw_off >= len) {
        warn(cb, "MEW-packed, but its image is larger than 64 MiB or its data is missing");
        goto out;
    }
    img = khi_calloc(1, (size_t)total);
    if (!img) {
        err = KH_ENOMEM;
        goto out;
    }
    size_t raw = s1->raw_size;
    if (raw > s1->vsize)
        raw = s1->vsize;
    if (raw > len - s1->raw_off)
        raw = len - s1->raw_off;
    memcpy(img + s0->vsize, d + s1->raw_off, raw);
    uint32_t vma = (uint32_t)pe->image_base + s0->va;
    size_t tab = (size_t)s0->vsize + (esi - s1->va);
    uint32_t oep = khi_le32(img + tab + 4) - (uint32_t)pe->image_base;
    const char *damage = blocks(img, (size_t)total, tab, vma);
    if (damage && warn(cb, damage))
        goto out;
    err = khi_pe_rebuild(d, pe, img, (size_t)total, s0->va, &oep, &out);
    if (err == KH_OK && cb->part(cb->ud, (const uint8_t *)out.data, out.len, "mew-unpacked"))
        err = KH_ECANCELED;
out:
    khi_buf_cleanup(&out);
    khi_free(img);
    return err;
}
