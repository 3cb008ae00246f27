/*
 * fmt_pe.c - Windows PE headers: sections and entry point.
 *
 * Only what describing an executable needs: the COFF header, whether the optional header is
 * PE32 or PE32+, the entry point's RVA and the section table, from which the entry point's file
 * offset is found (the section whose virtual range holds it, or the headers themselves). Every
 * field is read with bounds checks against the bytes given; the first 36 KiB of a file hold the
 * headers of any real executable, and a table reaching further is treated as not a PE.
 *
 * With a FileAlignment of 0x200 or more, the Windows loader rounds a section's PointerToRawData
 * down to a multiple of 0x200; packers such as Upack give odd offsets (0x10) that only this
 * rounding turns into the bytes that run, so the entry point's offset is found the same way.
 * The section table itself is kept as written.
 *
 * khi_pe_section_raw/khi_pe_entry_raw give the layout the way ClamAV's pe.c computes it
 * (aligned raw offsets and sizes, entry point in the last section covering it), because
 * ClamAV signatures relative to sections and entry point were written against that layout.
 */
#include "formats/formats.h"

#include <string.h>

int khi_pe_parse(const uint8_t *d, size_t len, khi_pe *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 64 || d[0] != 'M' || d[1] != 'Z')
        return 0;
    uint32_t pe = khi_le32(d + 0x3c);
    if (pe < 4 || (uint64_t)pe + 24 > len || memcmp(d + pe, "PE\0\0", 4) != 0)
        return 0;
    const uint8_t *coff = d + pe + 4;
    uint16_t nsect = khi_le16(coff + 2), optsize = khi_le16(coff + 16);
    uint64_t opt = (uint64_t)pe + 24;
    if (nsect == 0 || nsect > KHI_PE_MAX_SECTIONS || optsize < 24 || opt + optsize > len)
        return 0;
    uint16_t magic = khi_le16(d + opt);
    if (magic != 0x10b && magic != 0x20b)
        return 0;
    out->pe32plus = magic == 0x20b;
    out->machine = khi_le16(coff);
    out->characteristics = khi_le16(coff + 18);
    if (optsize >= 64) {
        out->sect_align = khi_le32(d + opt + 32);
        out->file_align = khi_le32(d + opt + 36);
        out->size_of_headers = khi_le32(d + opt + 60);
    }
    out->ep_rva = khi_le32(d + opt + 16);
    if (optsize >= 60) {
        out->image_base = out->pe32plus ? (uint64_t)khi_le32(d + opt + 24) | (uint64_t)khi_le32(d + opt + 28) << 32
                                        : khi_le32(d + opt + 28);
        out->size_of_image = khi_le32(d + opt + 56);
    }
    uint32_t raw_mask = optsize >= 40 && khi_le32(d + opt + 36) >= 0x200 ? ~(uint32_t)0x1ff : ~(uint32_t)0;
    out->pe_off = pe;
    uint64_t table = opt + optsize;
    if (table + (uint64_t)nsect * 40 > len)
        return 0;
    out->nsections = nsect;
    out->sect_off = (uint32_t)table;
    out->ep_offset = UINT64_MAX;
    uint32_t first_raw = UINT32_MAX;
    for (uint16_t i = 0; i < nsect; i++) {
        const uint8_t *s = d + table + (uint64_t)i * 40;
        khi_pe_section *k = &out->sect[i];
        k->vsize = khi_le32(s + 8);
        k->va = khi_le32(s + 12);
        k->raw_size = khi_le32(s + 16);
        k->raw_off = khi_le32(s + 20);
        memcpy(k->name, s, 8);
        k->name[8] = '\0';
        if (k->raw_size && k->raw_off < first_raw)
            first_raw = k->raw_off;
        uint32_t span = k->vsize > k->raw_size ? k->vsize : k->raw_size;
        if (out->ep_offset == UINT64_MAX && out->ep_rva >= k->va &&
            (uint64_t)out->ep_rva < (uint64_t)k->va + span && out->ep_rva - k->va < k->raw_size)
            out->ep_offset = (uint64_t)(k->raw_off & raw_mask) + (out->ep_rva - k->va);
    }
    if (out->ep_offset == UINT64_MAX && out->ep_rva < first_raw)
        out->ep_offset = out->ep_rva; /* inside the headers, which map one to one */
    return 1;
}

/* The file alignment ClamAV uses: FileAlignment, unless a section with raw data is aligned to
 * 0x200 but not to it (a "misaligned section" fallback). */
static uint32_t falign_of(const khi_pe *pe)
{
    uint32_t fa = pe->file_align;
    for (unsigned i = 0; fa != 0x200 && fa && i < pe->nsections; i++) {
        const khi_pe_section *k = &pe->sect[i];
        if (k->raw_size && k->raw_off % fa && !(k->raw_off % 0x200))
            fa = 0x200;
    }
    return fa;
}

static uint64_t align_down(uint64_t v, uint32_t a)
{
    return a ? v / a * a : v;
}

static uint64_t align_up(uint64_t v, uint32_t a)
{
    return a ? (v / a + (v % a != 0)) * a : v;
}

static void sect_raw(const khi_pe *pe, uint32_t fa, unsigned i, uint64_t fsize, uint64_t *raw,
                     uint64_t *size)
{
    const khi_pe_section *k = &pe->sect[i];
    *raw = align_down(k->raw_off, fa);
    *size = align_up(k->raw_size, fa);
    if (*size && *raw + *size > fsize)
        *size = fsize > *raw ? fsize - *raw : 0;
}

void khi_pe_section_raw(const khi_pe *pe, unsigned i, uint64_t fsize, uint64_t *out_raw,
                        uint64_t *out_size)
{
    sect_raw(pe, falign_of(pe), i, fsize, out_raw, out_size);
}

uint64_t khi_pe_entry_raw(const khi_pe *pe, uint64_t fsize)
{
    uint32_t fa = falign_of(pe), va = pe->sect_align;
    uint64_t rva = pe->ep_rva;
    if (rva < align_up(pe->size_of_headers, va))
        return rva < fsize ? rva : UINT64_MAX;
    for (unsigned i = pe->nsections; i-- > 0;) {
        uint64_t raw, size, srva = align_down(pe->sect[i].va, va);
        sect_raw(pe, fa, i, fsize, &raw, &size);
        if (size && srva <= rva && size > rva - srva)
            return raw + (rva - srva);
    }
    return UINT64_MAX;
}
