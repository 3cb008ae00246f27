/*
 * fmt_peunpack.c - which packer made a PE, and the programs hidden in an unpacked one.
 *
 * The scan asks every PE whether a packer is recognised; most are not packed, so the checks
 * here are the cheapest first and read only the headers and the bytes at the entry point
 * (each unpacker's detect function looks at its stub there). A recognised file's unpacker
 * hands out the unpacked program as a part named after the packer ("upx-unpacked"), which the
 * scan then treats as any PE (a nested packer unpacks in turn, within the depth limit).
 *
 * Droppers carry other executables as data (in a resource, a data section, after the last
 * section), and once unpacked these are plain bytes in the image, so khi_pe_embedded_walk looks
 * for further "MZ ... PE\0\0" headers in every PE and unpacked image (as ClamAV does) and
 * hands each out, cut at the end of its last section's raw data or of its headers, whichever
 * is further, as "embedded-pe-<offset>" (at most 16 per file); in an unpacked image also the
 * first ZIP local file header ("PK\3\4"), from there to the end, as "embedded-zip-<offset>",
 * which is how self-extracting droppers carry their payload (a plain PE's ZIP in its overlay
 * is the overlay reader's).
 */
#include "formats/formats.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The packers, cheapest and most common check first; each entry's walk takes what its detect
 * recognised. */
static const struct {
    khi_packer packer;
    int (*detect)(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
    kh_err (*walk)(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);
} packers[] = {
    {KHI_PACKER_UPX, khi_upx_detect, khi_upx_walk},
    {KHI_PACKER_WWPACK, khi_wwpack_detect, khi_wwpack_walk},
    {KHI_PACKER_YC, khi_yc_detect, khi_yc_walk},
    {KHI_PACKER_MEW, khi_mew_detect, khi_mew_walk},
    {KHI_PACKER_ASPACK, khi_aspack_detect, khi_aspack_walk},
    {KHI_PACKER_UPACK, khi_upack_detect, khi_upack_walk},
    {KHI_PACKER_FSG, khi_fsg_detect, khi_fsg_walk},
    {KHI_PACKER_PETITE, khi_petite_detect, khi_petite_walk},
    {KHI_PACKER_PESPIN, khi_pespin_detect, khi_pespin_walk},
};

khi_packer khi_pe_packer(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    for (size_t i = 0; i < KHI_ARRAY_LEN(packers); i++)
        if (packers[i].detect(ep, ep_len, pe))
            return packers[i].packer;
    return KHI_PACKER_NONE;
}

kh_err khi_pe_unpack_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    if (pe->ep_offset >= len)
        return KH_OK;
    size_t n = len - (size_t)pe->ep_offset;
    const uint8_t *ep = data + pe->ep_offset;
    for (size_t i = 0; i < KHI_ARRAY_LEN(packers); i++)
        if (packers[i].detect(ep, n > KHI_PE_EP_BYTES ? KHI_PE_EP_BYTES : n, pe))
            return packers[i].walk(data, len, pe, cb);
    return KH_OK;
}

kh_err khi_pe_rebuild(const uint8_t *d, const khi_pe *pe, const uint8_t *img, size_t img_len,
                      uint32_t rva, const uint32_t *oep, khi_buf *out)
{
    if ((size_t)pe->sect_off + 40 > KHI_PE_REBUILT_HDR)
        return khi_buf_append(out, img, img_len);
    kh_err err = khi_buf_reserve(out, KHI_PE_REBUILT_HDR + img_len);
    if (err != KH_OK)
        return err;
    uint8_t h[KHI_PE_REBUILT_HDR];
    memset(h, 0, sizeof(h));
    memcpy(h, d, pe->sect_off);
    uint32_t opt = pe->pe_off + 24;
    h[pe->pe_off + 6] = 1;
    h[pe->pe_off + 7] = 0;
    if (oep)
        khi_put_le32(h + opt + 16, *oep);
    if (pe->sect_off >= opt + 64) {
        khi_put_le32(h + opt + 36, 0x200);              /* FileAlignment */
        khi_put_le32(h + opt + 60, KHI_PE_REBUILT_HDR); /* SizeOfHeaders */
    }
    uint8_t *s = h + pe->sect_off;
    memcpy(s, ".unpack\0", 8);
    khi_put_le32(s + 8, (uint32_t)img_len);
    khi_put_le32(s + 12, rva);
    khi_put_le32(s + 16, (uint32_t)img_len);
    khi_put_le32(s + 20, KHI_PE_REBUILT_HDR);
    khi_put_le32(s + 36, 0xe0000060u);
    err = khi_buf_append(out, h, sizeof(h));
    if (err == KH_OK)
        err = khi_buf_append(out, img, img_len);
    return err;
}

int khi_pe_hollow(const khi_pe *pe)
{
    for (unsigned i = 0; i + 1u < pe->nsections; i++) {
        const khi_pe_section *a = &pe->sect[i], *b = &pe->sect[i + 1];
        if (!a->raw_size && a->vsize && b->raw_size && b->vsize)
            return (int)i;
    }
    return -1;
}

/* The size of the PE at d as its headers describe it, or 0 when it is not one. */
static size_t pe_extent(const uint8_t *d, size_t len, khi_pe *pe)
{
    if (!khi_pe_parse(d, len, pe))
        return 0;
    uint64_t end = (uint64_t)pe->sect_off + (uint64_t)pe->nsections * 40;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        uint64_t e = (uint64_t)s->raw_off + s->raw_size;
        if (s->raw_size && e > end)
            end = e;
    }
    return end > len ? len : (size_t)end;
}

/* The first "MZ" in p[0..n), or NULL: 16 bytes a step with SSE2 (every x86-64 has it), as
 * memmem's two-byte search goes a byte at a time and this pass runs over every PE. */
static const uint8_t *find_mz(const uint8_t *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i m = _mm_set1_epi8('M'), z = _mm_set1_epi8('Z');
    for (; i + 17 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
        int hit = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, m), _mm_cmpeq_epi8(b, z)));
        if (hit)
            return p + i + (unsigned)__builtin_ctz((unsigned)hit);
    }
#endif
    for (; i + 2 <= n; i++)
        if (p[i] == 'M' && p[i + 1] == 'Z')
            return p + i;
    return NULL;
}

kh_err khi_pe_embedded_walk(const uint8_t *img, size_t len, size_t from, int zip,
                            const khi_parts_cb *cb)
{
    khi_pe *pe = khi_malloc(sizeof(*pe));
    if (!pe)
        return KH_ENOMEM;
    kh_err err = KH_OK;
    unsigned found = 0;
    for (size_t i = from; len >= 64 && i <= len - 64 && found < 16;) {
        const uint8_t *p = find_mz(img + i, len - 64 - i + 2);
        if (!p)
            break;
        i = (size_t)(p - img);
        size_t n = pe_extent(p, len - i, pe);
        if (!n) {
            i++;
            continue;
        }
        char name[40];
        khi_snprintf(name, sizeof(name), "embedded-pe-%zx", i);
        found++;
        if (cb->part(cb->ud, p, n, name)) {
            err = KH_ECANCELED;
            goto out;
        }
        i += n;
    }
    const uint8_t *z = zip && len > from ? memmem(img + from, len - from, "PK\3\4", 4) : NULL;
    if (z) {
        char name[40];
        khi_snprintf(name, sizeof(name), "embedded-zip-%zx", (size_t)(z - img));
        if (cb->part(cb->ud, z, len - (size_t)(z - img), name))
            err = KH_ECANCELED;
    }
out:
    khi_free(pe);
    return err;
}
