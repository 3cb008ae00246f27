/*
 * fmt_upx.c - UPX-packed Windows executables (win32/pe): decompress and rebuild a PE.
 *
 * A UPX-packed PE has an empty section (UPX0) that receives the program at run time, a section
 * (UPX1) with the compressed program and the decompressor stub, at the entry point, which
 * starts `pusha; mov esi, SRC; lea edi, [esi + DST - SRC]` (a DLL's stub is preceded by
 * `cmp byte [esp+8], 1; jnz`). SRC and DST are what this reader needs, so it recognises the
 * stub by that pattern and not by the section names, which packers and malware rename. The
 * "UPX!" pack header, when one is found before the compressed data, names the method
 * (NRV2B/NRV2D/NRV2E in their 8-bit and le32 bit-stream forms, or LZMA), the uncompressed
 * size and the call filter; without it each method is tried in turn, and the LZMA stub is
 * recognised by its own code (`inc esi; inc esi; push ebx; push ULEN`, `mov dword [ebx],
 * PROPS` giving lc, lp, pb; its data starts after a two-byte header).
 *
 * UPX's "call trick" filters turn the relative operands of E8/E9 (call/jmp) into absolute,
 * big-endian ones tagged by a marker byte (cto) so that they compress better; the stub undoes
 * that after decompressing, and so does this reader (the count of converted calls is read from
 * the stub when it is there), so byte signatures over code match the original.
 *
 * What is handed out: "upx-unpacked", a PE of one section holding the decompressed image at
 * its original virtual address, with the packed file's DOS and PE headers, one section header
 * and the original entry point (read from the stub's final jump) so that entry-point-relative
 * signatures work; the original section table is not restored. Damage is a warning and the
 * bytes decoded before it are still handed out. Output is capped at KHI_FMT_MAX_PART and the
 * buffer grows with the output, so a tiny file declaring a huge image costs nothing.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <lzma.h>
#include <string.h>

static const uint8_t *find(const uint8_t *h, size_t hl, const void *n, size_t nl)
{
    for (size_t i = 0; nl <= hl && i <= hl - nl; i++)
        if (h[i] == *(const uint8_t *)n && memcmp(h + i, n, nl) == 0)
            return h + i;
    return NULL;
}

/* File offset of an RVA inside a section's raw data, and the raw bytes from there on. */
static int rva_off(const khi_pe *pe, size_t len, uint32_t rva, size_t *off, size_t *avail)
{
    for (unsigned i = 0; i < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (rva >= s->va && rva - s->va < s->raw_size && s->raw_off < len) {
            uint64_t o = (uint64_t)s->raw_off + (rva - s->va);
            uint64_t end = (uint64_t)s->raw_off + s->raw_size;
            if (end > len)
                end = len;
            if (o >= end)
                return 0;
            *off = (size_t)o;
            *avail = (size_t)(end - o);
            return 1;
        }
    }
    return 0;
}

typedef struct upx {
    const uint8_t *stub; /* at the entry point, after a DLL prefix */
    size_t stub_len;
    uint32_t stub_rva;
    uint32_t src_rva, dst_rva;
    /* from the UPX! header, when there is one */
    int have_hdr;
    unsigned method, filter, cto;
    uint32_t u_len;
} upx;

/* The stub's `pusha; mov esi, imm32; lea edi, [esi + disp32]` in the n bytes at the entry
 * point p, and where it is. */
static int find_stub(const uint8_t *p, size_t n, const khi_pe *pe, upx *u)
{
    if (pe->pe32plus || n < 16)
        return 0;
    uint32_t rva = pe->ep_rva;
    static const uint8_t dll[] = {0x80, 0x7c, 0x24, 0x08, 0x01, 0x0f, 0x85};
    if (n >= 28 && memcmp(p, dll, sizeof(dll)) == 0) {
        p += 11;
        n -= 11;
        rva += 11;
    }
    if (p[0] != 0x60 || p[1] != 0xbe || p[6] != 0x8d || p[7] != 0xbe)
        return 0;
    uint32_t src = khi_le32(p + 2), disp = khi_le32(p + 8);
    if (src < pe->image_base || src - pe->image_base > 0x7fffffffu)
        return 0;
    u->stub = p;
    u->stub_len = n > 0x1000 ? 0x1000 : n;
    u->stub_rva = rva;
    u->src_rva = (uint32_t)(src - pe->image_base);
    u->dst_rva = u->src_rva + disp;
    return 1;
}

int khi_upx_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    upx u;
    return find_stub(ep, ep_len, pe, &u);
}

/* The pack header: "UPX!", version, format 9 (win32/pe), method, level, two Adler-32s, the
 * uncompressed and compressed lengths, the file size, the filter and its cto byte. */
static void find_header(const uint8_t *d, size_t src_off, upx *u)
{
    size_t from = src_off > 0x1000 ? src_off - 0x1000 : 0;
    const uint8_t *h = NULL;
    for (const uint8_t *p = d + from; p && (size_t)(p - d) + 32 <= src_off; p++) {
        p = find(p, src_off - (size_t)(p - d), "UPX!", 4);
        if (!p || (size_t)(p - d) + 32 > src_off)
            break;
        if (p[5] == 9) {
            h = p;
            break;
        }
    }
    if (!h)
        return;
    u->have_hdr = 1;
    u->method = h[6];
    u->u_len = khi_le32(h + 16);
    u->filter = h[28];
    u->cto = h[29];
}

static void *lz_alloc(void *opaque, size_t nmemb, size_t size)
{
    (void)opaque;
    return khi_calloc(nmemb ? nmemb : 1, size ? size : 1);
}

static void lz_free(void *opaque, void *ptr)
{
    (void)opaque;
    khi_free(ptr);
}

/* Raw LZMA1 of in into out (cap bytes). KH_OK when cap bytes came out, KH_ELIMIT never (the
 * caller sizes cap to the declared length), KH_EFORMAT on damage or early end. */
kh_err khi_upx_lzma(const uint8_t *in, size_t in_len, unsigned lc, unsigned lp, unsigned pb,
                    uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (lc > 8 || lp > 4 || pb > 4 || lc + lp > 4)
        return KH_EFORMAT;
    lzma_allocator al = {lz_alloc, lz_free, NULL};
    lzma_options_lzma opt;
    memset(&opt, 0, sizeof(opt));
    opt.dict_size = cap < 4096 ? 4096 : (uint32_t)cap;
    opt.lc = lc;
    opt.lp = lp;
    opt.pb = pb;
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream s = LZMA_STREAM_INIT;
    s.allocator = &al;
    lzma_ret ret = lzma_raw_decoder(&s, f);
    if (ret != LZMA_OK) {
        lzma_end(&s);
        return ret == LZMA_MEM_ERROR ? KH_ENOMEM : KH_EFORMAT;
    }
    s.next_in = in;
    s.avail_in = in_len;
    s.next_out = out;
    s.avail_out = cap;
    while (s.avail_out && ret == LZMA_OK) {
        size_t before = s.avail_in + s.avail_out;
        ret = lzma_code(&s, LZMA_RUN);
        if (ret == LZMA_OK && s.avail_in + s.avail_out == before)
            break; /* no progress: the input is used up */
    }
    *out_len = cap - s.avail_out;
    lzma_end(&s);
    if (ret == LZMA_MEM_ERROR)
        return KH_ENOMEM;
    return *out_len == cap ? KH_OK : KH_EFORMAT;
}

/* The LZMA stub: `inc esi; inc esi; push ebx; push ULEN` and `mov dword [ebx], PROPS`. */
static int lzma_stub(const upx *u, uint32_t *ulen, unsigned *lc, unsigned *lp, unsigned *pb)
{
    static const uint8_t a[] = {0x46, 0x46, 0x53, 0x68};
    const uint8_t *p = find(u->stub, u->stub_len > 0x80 ? 0x80 : u->stub_len, a, sizeof(a));
    if (!p || (size_t)(p - u->stub) + 8 > u->stub_len)
        return 0;
    *ulen = khi_le32(p + 4);
    const uint8_t *end = u->stub + (u->stub_len > 0x80 ? 0x80 : u->stub_len);
    const uint8_t *q = find(p, (size_t)(end - p), "\xc7\x03", 2);
    if (!q || end - q < 6)
        return 0;
    *lc = q[2];
    *lp = q[3];
    *pb = q[4];
    return 1;
}

typedef struct method {
    int lzma;
    khi_nrv_method nrv;
    int le32;
} method;

/* UPX method numbers: 2/3 NRV2B le32/8, 5/6 NRV2D, 8/9 NRV2E, 14 LZMA. */
static int method_of(unsigned id, method *m)
{
    static const struct {
        unsigned id;
        method m;
    } t[] = {{2, {0, KHI_NRV2B, 1}}, {3, {0, KHI_NRV2B, 0}}, {5, {0, KHI_NRV2D, 1}},
             {6, {0, KHI_NRV2D, 0}}, {8, {0, KHI_NRV2E, 1}}, {9, {0, KHI_NRV2E, 0}},
             {14, {1, KHI_NRV2B, 0}}};
    for (size_t i = 0; i < KHI_ARRAY_LEN(t); i++)
        if (t[i].id == id) {
            *m = t[i].m;
            return 1;
        }
    return 0;
}

/* Decompress with one method into a buffer that grows (doubling, decoding again) up to cap.
 * Returns KH_OK at the stream's end, KH_EFORMAT (damage; *out holds what came before it),
 * KH_ELIMIT (cap reached) or KH_ENOMEM. */
static kh_err decode(const upx *u, const method *m, const uint8_t *src, size_t src_len, size_t cap,
                     uint8_t **out, size_t *out_len)
{
    uint32_t lz_ulen = 0;
    unsigned lc = 3, lp = 0, pb = 2;
    if (m->lzma) {
        if (!lzma_stub(u, &lz_ulen, &lc, &lp, &pb) && !u->have_hdr)
            return KH_EFORMAT;
        if (u->have_hdr)
            lz_ulen = u->u_len;
        if (lz_ulen == 0 || lz_ulen > cap || src_len < 2)
            return KH_EFORMAT;
    }
    size_t sz = m->lzma ? lz_ulen : (src_len > cap / 8 ? cap : src_len * 8);
    if (sz < 4096)
        sz = cap < 4096 ? cap : 4096;
    for (;;) {
        uint8_t *buf = khi_malloc(sz ? sz : 1);
        if (!buf)
            return KH_ENOMEM;
        kh_err err = m->lzma
                         ? khi_upx_lzma(src + 2, src_len - 2, lc, lp, pb, buf, sz, out_len)
                         : khi_nrv_decode(m->nrv, m->le32, src, src_len, buf, sz, out_len, NULL);
        if (err == KH_ELIMIT && sz < cap) {
            khi_free(buf);
            sz = sz > cap / 2 ? cap : sz * 2;
            continue;
        }
        if (err == KH_ENOMEM) {
            khi_free(buf);
            return err;
        }
        *out = buf;
        return err;
    }
}

/* Undo UPX's call trick. ctok32 (0x24 E8, 0x25 E9, 0x26 both): an operand whose first byte is
 * cto holds the absolute target, big-endian, in its other three bytes. ct32 (0x11 E8, 0x12
 * E9, 0x13 both): every such operand holds the absolute target, little-endian. At most count
 * operands were converted (the stub's `mov ecx, COUNT`), counted from the image's start. */
static void unfilter(uint8_t *b, size_t len, unsigned filter, unsigned cto, size_t count)
{
    int ok32 = filter >= 0x24 && filter <= 0x26;
    int e8 = filter == 0x11 || filter == 0x13 || filter == 0x24 || filter == 0x26;
    int e9 = filter == 0x12 || filter == 0x13 || filter == 0x25 || filter == 0x26;
    if (!ok32 && !(filter >= 0x11 && filter <= 0x13))
        return;
    for (size_t i = 0; len >= 5 && i <= len - 5 && count;) {
        if (!((b[i] == 0xe8 && e8) || (b[i] == 0xe9 && e9)) || (ok32 && b[i + 1] != cto)) {
            i++;
            continue;
        }
        uint32_t v =
            ok32 ? (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 8 | b[i + 4] : khi_le32(b + i + 1);
        khi_put_le32(b + i + 1, v - (uint32_t)(i + 1));
        i += 5;
        count--;
    }
}

/* The filter's id, cto and count from the stub's unfilter loop (`pop esi; mov edi, esi; mov
 * ecx, COUNT; mov al, [edi]; inc edi; sub al, 0xe8; cmp al, 1; ja; cmp byte [edi], CTO`). */
static void stub_filter(const upx *u, unsigned *filter, unsigned *cto, size_t *count)
{
    static const uint8_t a[] = {0x8a, 0x07, 0x47, 0x2c, 0xe8, 0x3c, 0x01, 0x77};
    const uint8_t *p = find(u->stub, u->stub_len, a, sizeof(a));
    if (!p || p - u->stub < 5 || u->stub + u->stub_len - p < 13 || p[-5] != 0xb9)
        return;
    *count = khi_le32(p - 4);
    if (p[9] == 0x80 && p[10] == 0x3f) {
        if (!*filter)
            *filter = 0x26;
        *cto = p[11];
    }
}

/* The original entry point: the stub ends `popa; [restore esp;] jmp OEP`. */
static int find_oep(const upx *u, uint32_t *oep)
{
    static const uint8_t v3[] = {0x61, 0x8d, 0x44, 0x24, 0x80, 0x6a, 0x00, 0x39,
                                 0xc4, 0x75, 0xfa, 0x83, 0xec, 0x80, 0xe9};
    const uint8_t *p = find(u->stub, u->stub_len, v3, sizeof(v3));
    size_t at;
    if (p)
        at = (size_t)(p - u->stub) + sizeof(v3) - 1;
    else {
        p = find(u->stub, u->stub_len, "\x61\xe9", 2);
        if (!p)
            return 0;
        at = (size_t)(p - u->stub) + 1;
    }
    if (at + 5 > u->stub_len)
        return 0;
    *oep = u->stub_rva + (uint32_t)at + 5 + khi_le32(u->stub + at + 1);
    return 1;
}

static int warn(const khi_parts_cb *cb, const char *detail)
{
    return cb->warn ? cb->warn(cb->ud, KHI_FWARN_DAMAGED, "upx-unpacked", detail) : 0;
}

kh_err khi_upx_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    upx u;
    memset(&u, 0, sizeof(u));
    khi_buf out;
    khi_buf_init(&out);
    if (pe->ep_offset >= len || !find_stub(d + pe->ep_offset, len - (size_t)pe->ep_offset, pe, &u))
        return KH_OK;
    size_t src_off, src_len;
    if (!rva_off(pe, len, u.src_rva, &src_off, &src_len)) {
        warn(cb, "UPX stub found, but its compressed data lies outside the file");
        return KH_OK;
    }
    find_header(d, src_off, &u);
    size_t cap = KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR - 1;
    if (pe->size_of_image > u.dst_rva && pe->size_of_image - u.dst_rva < cap)
        cap = pe->size_of_image - u.dst_rva;
    method tries[4] = {{0, KHI_NRV2B, 1}, {0, KHI_NRV2D, 1}, {0, KHI_NRV2E, 1}, {1, KHI_NRV2B, 0}};
    size_t ntries = 4;
    if (u.have_hdr && method_of(u.method, &tries[0]))
        ntries = 1;
    else if (!u.have_hdr) {
        uint32_t ul;
        unsigned lc, lp, pb;
        if (lzma_stub(&u, &ul, &lc, &lp, &pb)) {
            tries[0] = tries[3];
            ntries = 1;
        }
    }
    uint8_t *img = NULL;
    size_t img_len = 0;
    kh_err err = KH_EFORMAT;
    for (size_t i = 0; i < ntries && err != KH_OK; i++) {
        khi_free(img);
        img = NULL;
        img_len = 0;
        err = decode(&u, &tries[i], d + src_off, src_len, cap, &img, &img_len);
        if (err == KH_ENOMEM)
            goto out;
    }
    if (err != KH_OK) {
        char detail[160];
        khi_snprintf(detail, sizeof(detail),
                     "UPX-packed, but the compressed data is damaged or truncated (%s); %zu bytes "
                     "decoded",
                     err == KH_ELIMIT ? "larger than its image" : "no end marker", img_len);
        if (warn(cb, detail) || img_len == 0) {
            err = KH_OK;
            goto out;
        }
    }
    unsigned filter = u.filter, cto = u.cto;
    size_t count = SIZE_MAX;
    stub_filter(&u, &filter, &cto, &count);
    unfilter(img, img_len, filter, cto, count);
    uint32_t oep = 0;
    int have_oep = find_oep(&u, &oep);
    err = khi_pe_rebuild(d, pe, img, img_len, u.dst_rva, have_oep ? &oep : NULL, &out);
    if (err == KH_OK)
        err = cb->part(cb->ud, (const uint8_t *)out.data, out.len, "upx-unpacked") ? KH_ECANCELED
                                                                                   : KH_OK;
out:
    khi_buf_cleanup(&out);
    khi_free(img);
    return err;
}
