/*
 * fmt_peres.c - one resource of a PE by type and name (the AutoIt script in RCDATA "SCRIPT").
 *
 * The resource table is a three-level tree at the RVA of data directory 2: types, then names,
 * then languages. Each directory is 16 bytes (its named entries counted at +12, its numbered
 * ones at +14) followed by 8-byte entries: a name (bit 31: the offset of a length-prefixed
 * UTF-16 string, else a number) and an offset (bit 31: a subdirectory, else a 16-byte data
 * entry whose first words are the data's RVA and size). All offsets are from the start of the
 * table; RVAs become file offsets through the section holding them.
 *
 * The walk reads through a read callback (the file need not be in memory): the optional
 * header's data directory, then a few small reads. At most 4096 entries
 * are looked at per directory, and only the first match's subtree is followed, so a hostile
 * table costs a bounded number of reads.
 */
#include "formats/formats.h"

#include <string.h>

#define RES_MAX_ENTRIES 4096

/* The file offset of rva (size bytes from it within one section's raw data), or UINT64_MAX. */
static uint64_t rva_to_off(const khi_pe *pe, uint32_t rva, uint32_t size)
{
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        uint32_t span = s->vsize > s->raw_size ? s->vsize : s->raw_size;
        if (rva >= s->va && rva - s->va < span) {
            uint32_t in = rva - s->va;
            if (in > s->raw_size || size > s->raw_size - in)
                return UINT64_MAX;
            return (uint64_t)s->raw_off + in;
        }
    }
    return UINT64_MAX;
}

typedef struct res {
    khi_read_fn rd;
    void *ud;
    uint64_t base; /* file offset of the table */
    uint32_t size;
} res;

static int rd(const res *r, uint32_t off, uint8_t *buf, size_t n)
{
    return off <= r->size && n <= r->size - off && r->rd(r->ud, r->base + off, buf, n) == n;
}

/* Does the entry name at table offset off (a length-prefixed UTF-16 string) equal want,
 * ASCII letters compared without case? */
static int name_is(const res *r, uint32_t off, const char *want)
{
    uint8_t b[2 + 2 * 32];
    size_t wl = strlen(want);
    if (wl > 32 || !rd(r, off, b, 2) || khi_le16(b) != wl || !rd(r, off + 2, b + 2, 2 * wl))
        return 0;
    for (size_t i = 0; i < wl; i++) {
        unsigned c = khi_le16(b + 2 + 2 * i);
        unsigned w = (unsigned char)want[i];
        if (c >= 'a' && c <= 'z')
            c -= 32;
        if (w >= 'a' && w <= 'z')
            w -= 32;
        if (c != w)
            return 0;
    }
    return 1;
}

/* In the directory at off, the offset field of the entry with number id (name NULL) or name;
 * name "" takes the first entry. 0 when there is none. */
static uint32_t find_entry(const res *r, uint32_t off, uint32_t id, const char *name)
{
    uint8_t d[16], e[8];
    if (!rd(r, off, d, 16))
        return 0;
    uint32_t named = khi_le16(d + 12), total = named + khi_le16(d + 14);
    if (total > RES_MAX_ENTRIES)
        total = RES_MAX_ENTRIES;
    for (uint32_t i = 0; i < total; i++) {
        if (!rd(r, off + 16 + 8 * i, e, 8))
            return 0;
        uint32_t n = khi_le32(e), to = khi_le32(e + 4);
        if (name && !name[0])
            return to;
        if (name ? (n & 0x80000000u) && name_is(r, n & 0x7fffffffu, name)
                 : !(n & 0x80000000u) && n == id)
            return to;
    }
    return 0;
}

int khi_pe_resource(const khi_pe *pe, khi_read_fn rdf, void *ud, uint32_t type, const char *name,
                    uint64_t *out_off, uint32_t *out_size)
{
    uint64_t opt = (uint64_t)pe->pe_off + 24;
    uint64_t nrva = opt + (pe->pe32plus ? 108 : 92), dir = opt + (pe->pe32plus ? 112 : 96) + 2 * 8;
    uint8_t b[4], dd[8];
    if (pe->sect_off && dir + 8 > pe->sect_off)
        return 0; /* the optional header is too short to hold the resource directory */
    if (rdf(ud, nrva, b, 4) != 4 || khi_le32(b) < 3 || rdf(ud, dir, dd, 8) != 8)
        return 0;
    uint32_t rva = khi_le32(dd), size = khi_le32(dd + 4);
    res r = {rdf, ud, rva_to_off(pe, rva, size), size};
    if (!rva || !size || r.base == UINT64_MAX)
        return 0;
    uint32_t t = find_entry(&r, 0, type, NULL);
    if (!(t & 0x80000000u))
        return 0;
    uint32_t n = find_entry(&r, t & 0x7fffffffu, 0, name);
    if (!(n & 0x80000000u))
        return 0;
    uint32_t l = find_entry(&r, n & 0x7fffffffu, 0, ""); /* any language */
    uint8_t de[8];
    if (!l || (l & 0x80000000u) || !rd(&r, l, de, 8))
        return 0;
    uint32_t drva = khi_le32(de), dsize = khi_le32(de + 4);
    uint64_t off = rva_to_off(pe, drva, dsize);
    if (off == UINT64_MAX || !dsize)
        return 0;
    *out_off = off;
    *out_size = dsize;
    return 1;
}
