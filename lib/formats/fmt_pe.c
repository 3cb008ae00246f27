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
