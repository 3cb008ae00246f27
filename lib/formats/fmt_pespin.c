/*
 * fmt_pespin.c - PESpin 1.1 packed Windows executables: decrypt and decompress the sections.
 *
 * PESpin appends a last section holding its loader and jumps into it (`call $+5; mov ebx,
 * [esp]; add ebx, N` 4 bytes after the entry point). The loader is itself encrypted in layers,
 * each holding the keys of the next; at fixed offsets from the entry point:
 *
 *   A  0x11fe bytes at +0x1fe5 (`mov ecx, 0x11fe` at +0xe0), XORed with a byte key that counts
 *      down from the last byte (the low byte of `mov ebx, KEY` at +0xdb)
 *   B  0x5a0 bytes at +0x2d5: a 32-bit shift register seeded at +0x26eb, its length at +0x26f0
 *      (both in A), XORs each byte with its low byte after a shift, feeding back 0x8c328834
 *      when the bit shifted out is 1
 *   the file key: the dword at +0x3217 minus a checksum of the file's first bytes (all but
 *      the dword at +0x429, in B, of them): the loader checks its own file this way
 *   S1 the program's sections picked by the bitmap at +0x3207: the shift register seeded with
 *      the file key, feeding back 0xed43af31 when the bit shifted out is 0
 *   C  0x180 bytes at +0x28d3 (length at +0x644, in B): the register seeded at +0x650,
 *      feeding back 0xed43af32 on 1
 *   D  0x1a1 bytes at +0x6d4 (length at +0x28dd, in C), each passed through a little
 *      polymorphic routine at +0x28ec, byte operations on AL with CL counting down from the
 *      length (add, sub, xor with CL or an immediate, rol/ror, inc/dec, junk), ending at
 *      `stosb` 0x24 bytes in
 *   S2 the sections picked by the bitmap at +0x6f1 (in D), each through the routine at +0x755
 *   S3 the sections picked by the bitmap at +0x3061 (in A): compressed with aPLib, each to its
 *      virtual size; and, when the section holding the RVA at +0x2fee (in A, the resources) is
 *      not one of them, the rest of that section from there on.
 *
 * This reader does those steps on a copy of the file (the routine of D and S2 is interpreted,
 * with exactly that instruction set; it depends on AL and CL only, so large sections run
 * through a table of its 65536 results). It hands out "pespin-unpacked": a PE of one section
 * holding the program's sections at their addresses. The original entry point is not recovered (the
 * loader keeps it in code it rewrites at run time): the rebuilt header keeps the loader's.
 * A password-protected file (bit 0x200000 of `mov eax, FLAGS` at +0x1e0) decrypts to garbage
 * and is reported. Damage is a warning; what was decoded is still handed out. Written from the
 * description of the format, independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

/* Offsets from the entry point into PESpin 1.1's loader. */
enum {
    SP_KEYA = 0xdb,   /* mov ebx, KEY (bb): A's key is its low byte */
    SP_LENA = 0xe0,   /* mov ecx, 0x11fe (b9) */
    SP_FLAGS = 0x1e0, /* mov eax, FLAGS (b8) */
    SP_B = 0x2d5,
    SP_CRCSKIP = 0x429,
    SP_LENC = 0x644,
    SP_KEYC = 0x650,
    SP_D = 0x6d4,
    SP_POLYMAP = 0x6f1,
    SP_POLY2 = 0x755,
    SP_A = 0x1fe5,
    SP_KEYB = 0x26eb,
    SP_LENB = 0x26f0,
    SP_C = 0x28d3,
    SP_LEND = 0x28dd,
    SP_POLY1 = 0x28ec,
    SP_RES = 0x2fee,
    SP_ZMAP = 0x3061,
    SP_XORMAP = 0x3207,
    SP_FILEKEY = 0x3217,
    SP_END = 0x321b, /* the loader's data ends here */
};
#define LEN_A 0x11feu
#define LEN_B 0x5a0u
#define LEN_C 0x180u
#define LEN_D 0x1a1u
#define POLY_LEN 0x24 /* the routine's bytes before its stosb */

static const uint8_t stub[] = {0xe8, 0x00, 0x00, 0x00, 0x00, 0x8b, 0x1c, 0x24, 0x83, 0xc3};

/* The stub 4 bytes in, at an entry point in the last section's data (where ep was read
 * from) with room for the loader's data after it. */
int khi_pespin_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    if (ep_len < 4 + sizeof(stub) || pe->nsections < 2 || pe->pe32plus ||
        memcmp(ep + 4, stub, sizeof(stub)) != 0)
        return 0;
    const khi_pe_section *s = &pe->sect[pe->nsections - 1];
    return pe->ep_rva >= s->va && s->raw_size >= SP_END &&
           pe->ep_rva - s->va < s->raw_size - SP_END &&
           pe->ep_offset == (uint64_t)s->raw_off + (pe->ep_rva - s->va);
}

/* ---- the ciphers ---- */

/* XOR n bytes at p with a shift register seeded with key, feeding back poly when the bit
 * shifted out equals on. */
static void shift_xor(uint8_t *p, size_t n, uint32_t key, uint32_t poly, unsigned on)
{
    for (size_t i = 0; i < n; i++) {
        unsigned out = key & 1u;
        key >>= 1;
        if (out == on)
            key ^= poly;
        p[i] ^= (uint8_t)key;
    }
}

static uint32_t ror32(uint32_t v, unsigned n)
{
    n &= 31;
    return n ? v >> n | v << (32 - n) : v;
}

/* The loader's checksum of n bytes: two registers mixed four rounds per byte. */
static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint32_t a = 0xffffffffu, b = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        a = ((a ^ (uint32_t)p[i] << 8) >> 3) & 0x1fffffffu;
        for (int r = 0; r < 4; r++) {
            a ^= (b >> 8) & 0xff;
            a += 0x7801a108u;
            a ^= b;
            a = ror32(a, b & 0xff);
            uint32_t t = a;
            a = b;
            b = t;
        }
    }
    return b;
}

/* ---- the polymorphic byte routine ---- */

typedef struct poly_op {
    uint8_t op, arg; /* the opcode (0xc0/0xd2 as 'l'/'r' rotations, 0xfe as '+'/'-') */
} poly_op;

typedef struct poly {
    poly_op ops[POLY_LEN];
    int n;
} poly;

/* Decode the routine at code (POLY_LEN + 3 bytes readable). Returns 0, or -1 on an
 * instruction outside the set or when it does not reach its stosb at POLY_LEN. */
static int poly_compile(const uint8_t *code, poly *out)
{
    int j = 0;
    out->n = 0;
    while (j < POLY_LEN) {
        uint8_t c = code[j], m = code[j + 1];
        poly_op o = {c, m};
        switch (c) {
        case 0x90: /* nop, clc, stc */
        case 0xf8:
        case 0xf9:
            j++;
            continue;
        case 0xeb: /* jmp short, forward over junk */
            if (m > 0x7f)
                return -1;
            j += 2 + m;
            continue;
        case 0x02: /* add/sub/xor/or al, al or cl */
        case 0x2a:
        case 0x32:
        case 0x0a:
            if (m != 0xc0 && m != 0xc1)
                return -1;
            j += 2;
            break;
        case 0x04: /* add/sub/xor al, imm8 */
        case 0x2c:
        case 0x34:
            j += 2;
            break;
        case 0xfe: /* inc/dec al */
            if (m != 0xc0 && m != 0xc8)
                return -1;
            o.op = m == 0xc0 ? '+' : '-';
            j += 2;
            break;
        case 0xc0: /* rol/ror al, imm8 */
            if (m != 0xc0 && m != 0xc8)
                return -1;
            o.op = m == 0xc0 ? 'l' : 'r';
            o.arg = code[j + 2] & 7;
            j += 3;
            break;
        case 0xd2: /* rol/ror al, cl */
            if (m != 0xc0 && m != 0xc8)
                return -1;
            o.op = m == 0xc0 ? 'L' : 'R';
            j += 2;
            break;
        default:
            return -1;
        }
        out->ops[out->n++] = o;
    }
    return j == POLY_LEN && code[POLY_LEN] == 0xaa ? 0 : -1;
}

static uint8_t rol8(uint8_t v, unsigned n)
{
    n &= 7;
    return n ? (uint8_t)(v << n | v >> (8 - n)) : v;
}

static uint8_t poly_run(const poly *p, uint8_t al, uint8_t cl)
{
    for (int i = 0; i < p->n; i++) {
        const poly_op *o = &p->ops[i];
        uint8_t src = o->arg == 0xc0 ? al : cl;
        switch (o->op) {
        case 0x02:
            al = (uint8_t)(al + src);
            break;
        case 0x2a:
            al = (uint8_t)(al - src);
            break;
        case 0x32:
            al ^= src;
            break;
        case 0x0a:
            al |= src;
            break;
        case 0x04:
            al = (uint8_t)(al + o->arg);
            break;
        case 0x2c:
            al = (uint8_t)(al - o->arg);
            break;
        case 0x34:
            al ^= o->arg;
            break;
        case '+':
            al++;
            break;
        case '-':
            al--;
            break;
        case 'l':
            al = rol8(al, o->arg);
            break;
        case 'r':
            al = rol8(al, 8 - o->arg);
            break;
        case 'L':
            al = rol8(al, cl);
            break;
        default: /* 'R' */
            al = rol8(al, 8 - (cl & 7));
            break;
        }
    }
    return al;
}

/* ---- the unpacker ---- */

typedef struct spin {
    const uint8_t *d; /* the packed file, len bytes */
    size_t len;
    const khi_pe *pe;
    uint8_t *f;     /* a copy being decrypted */
    uint8_t *e;     /* the entry point in f */
    unsigned nprog; /* the program's sections: all but the last */
    uint8_t *img;   /* the program's sections at their RVAs, from lo */
    size_t img_len;
    uint32_t lo;
    const char *damage; /* the first thing that went wrong */
} spin;

static void damaged(spin *s, const char *what)
{
    if (!s->damage)
        s->damage = what;
}

/* How many of section i's raw bytes the file holds (0 for none); a cut one is damage. */
static size_t raw_len(spin *s, unsigned i)
{
    const khi_pe_section *x = &s->pe->sect[i];
    if (!x->raw_off || !x->raw_size)
        return 0;
    if (x->raw_off >= s->len || x->raw_size > s->len - x->raw_off) {
        damaged(s, "PESpin-packed, but a section's data is cut short");
        return x->raw_off >= s->len ? 0 : s->len - x->raw_off;
    }
    return x->raw_size;
}

/* Layers A and B of the loader, then the file key. Returns NULL or why they cannot be. */
static const char *loader(spin *s, uint32_t *out_key)
{
    uint8_t *e = s->e;
    if (e[SP_KEYA] != 0xbb || e[SP_LENA] != 0xb9 || khi_le32(e + SP_LENA + 1) != LEN_A)
        return "PESpin-like loader of another version than 1.1: not unpacked";
    uint8_t k = e[SP_KEYA + 1];
    for (size_t i = LEN_A; i-- > 0; k--)
        e[SP_A + i] ^= k;
    if (khi_le32(e + SP_LENB) != LEN_B)
        return "PESpin-packed, but its loader's second layer does not decrypt";
    shift_xor(e + SP_B, LEN_B, khi_le32(e + SP_KEYB), 0x8c328834u, 1);
    uint32_t skip = khi_le32(e + SP_CRCSKIP);
    if (skip > s->len)
        return "PESpin-packed, but the length of its file checksum is wrong";
    *out_key = khi_le32(e + SP_FILEKEY) - checksum(s->d, s->len - skip);
    if (khi_le32(e + SP_LENC) != LEN_C)
        return "PESpin-packed, but its loader's third layer does not decrypt";
    shift_xor(e + SP_C, LEN_C, khi_le32(e + SP_KEYC), 0xed43af32u, 1);
    poly p;
    if (khi_le32(e + SP_LEND) != LEN_D || poly_compile(e + SP_POLY1, &p) != 0)
        return "PESpin-packed, but its loader's fourth layer does not decrypt";
    for (uint32_t i = 0; i < LEN_D; i++)
        e[SP_D + i] = poly_run(&p, e[SP_D + i], (uint8_t)(LEN_D - i));
    return NULL;
}

/* The routine's results for every CL and AL, in tab (256 * 256 bytes). */
static void poly_table(const poly *p, uint8_t *tab)
{
    for (unsigned cl = 0; cl < 256; cl++)
        for (unsigned al = 0; al < 256; al++)
            tab[cl << 8 | al] = poly_run(p, (uint8_t)al, (uint8_t)cl);
}

/* S1 and S2: decrypt the program's sections in f (through a table of the routine when they
 * hold more bytes than it has entries). Returns KH_OK or KH_ENOMEM. */
static kh_err sections(spin *s, uint32_t key)
{
    uint32_t xmap = khi_le32(s->e + SP_XORMAP), pmap = khi_le32(s->e + SP_POLYMAP);
    poly p;
    uint8_t *tab = NULL;
    if (pmap && poly_compile(s->e + SP_POLY2, &p) != 0) {
        damaged(s, "PESpin-packed, but its section decryptor has an unknown instruction");
        pmap = 0;
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < s->nprog && i < 32; i++)
        total += pmap >> i & 1 ? raw_len(s, i) : 0;
    if (total > 256 * 256) {
        tab = khi_malloc(256 * 256);
        if (!tab)
            return KH_ENOMEM;
        poly_table(&p, tab);
    }
    for (unsigned i = 0; i < s->nprog && i < 32; i++) {
        size_t n = raw_len(s, i);
        uint8_t *r = s->f + s->pe->sect[i].raw_off;
        if (n && (xmap >> i & 1))
            shift_xor(r, n, key, 0xed43af31u, 0);
        if (!n || !(pmap >> i & 1))
            continue;
        uint32_t cl = s->pe->sect[i].raw_size; /* counts down from the declared raw size */
        for (size_t k = 0; k < n; k++, cl--)
            r[k] = tab ? tab[(cl & 0xff) << 8 | r[k]] : poly_run(&p, r[k], (uint8_t)cl);
    }
    khi_free(tab);
    return KH_OK;
}

/* Section alignment from the optional header, 0x1000 when absent or odd. */
static uint32_t sect_align(const spin *s)
{
    uint32_t opt = s->pe->pe_off + 24, a = 0;
    if (s->pe->sect_off >= opt + 36)
        a = khi_le32(s->d + opt + 32);
    return a && a <= 0x10000u && !(a & (a - 1)) ? a : 0x1000u;
}

/* A section's size in the image: its virtual size (the raw size when 0), aligned. */
static uint64_t virt_len(const spin *s, unsigned i, uint32_t align)
{
    const khi_pe_section *x = &s->pe->sect[i];
    uint64_t v = x->vsize ? x->vsize : x->raw_size;
    return (v + align - 1) / align * align;
}

/* Do two of the program's sections overlap, in the file or in the image? */
static int overlap(spin *s, uint32_t align)
{
    for (unsigned i = 0; i < s->nprog; i++)
        for (unsigned j = i + 1; j < s->nprog; j++) {
            const khi_pe_section *a = &s->pe->sect[i], *b = &s->pe->sect[j];
            uint64_t ra = raw_len(s, i), rb = raw_len(s, j);
            uint64_t va = virt_len(s, i, align), vb = virt_len(s, j, align);
            if (ra && rb && a->raw_off < b->raw_off + rb && b->raw_off < a->raw_off + ra)
                return 1;
            if (va && vb && a->va < b->va + vb && b->va < a->va + va)
                return 1;
        }
    return 0;
}

/* Lay out the image: the program's sections from the lowest RVA to the furthest end. They
 * may not overlap, in the file or in the image (each byte is decrypted and decompressed once,
 * as the loader does for a file the packer wrote), so the work stays proportional to the
 * file and the image. Returns KH_OK (s->img NULL with a warning when it is too large, empty
 * or overlapping) or KH_ENOMEM. */
static kh_err layout(spin *s)
{
    uint32_t align = sect_align(s);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < s->nprog; i++) {
        const khi_pe_section *x = &s->pe->sect[i];
        uint64_t end = x->va + virt_len(s, i, align);
        lo = x->va < lo ? x->va : lo;
        hi = end > hi ? end : hi;
    }
    if (hi <= lo || hi - lo > KHI_FMT_MAX_PART - KHI_PE_REBUILT_HDR) {
        damaged(s, "PESpin-packed, but its image is empty or larger than 64 MiB");
        return KH_OK;
    }
    if (overlap(s, align)) {
        damaged(s, "PESpin-packed, but its sections overlap");
        return KH_OK;
    }
    s->lo = (uint32_t)lo;
    s->img_len = (size_t)(hi - lo);
    s->img = khi_calloc(1, s->img_len);
    return s->img ? KH_OK : KH_ENOMEM;
}

/* aPLib from src (n bytes) into the image at rva, at most cap bytes. Returns 0 or -1. */
static int inflate(spin *s, const uint8_t *src, size_t n, uint32_t rva, uint64_t cap)
{
    size_t at = rva - s->lo, out = 0;
    if (cap > s->img_len - at)
        cap = s->img_len - at;
    return khi_aplib_decode(src, n, s->img + at, (size_t)cap, &out, NULL) == KH_OK ? 0 : -1;
}

/* S3: each section into the image, decompressed when the bitmap says so; then the
 * resources. Returns KH_OK or KH_ENOMEM. */
static kh_err image(spin *s)
{
    uint32_t zmap = khi_le32(s->e + SP_ZMAP), res = khi_le32(s->e + SP_RES);
    uint32_t align = sect_align(s);
    for (unsigned i = 0; i < s->nprog; i++) {
        const khi_pe_section *x = &s->pe->sect[i];
        size_t n = raw_len(s, i);
        const uint8_t *r = s->f + x->raw_off;
        if (i < 32 && (zmap >> i & 1)) {
            if (inflate(s, r, n, x->va, virt_len(s, i, align)) != 0)
                damaged(s, "PESpin-packed, but a compressed section is damaged or truncated");
            continue;
        }
        size_t at = x->va - s->lo;
        uint64_t vl = virt_len(s, i, align);
        memcpy(s->img + at, r, (size_t)(n < vl ? n : vl)); /* at + vl <= img_len */
        /* the resources: compressed from res on when their section is not */
        if (!res || res < x->va || res - x->va >= vl || res - x->va > n)
            continue;
        size_t skip = res - x->va;
        uint64_t cap = vl - skip;
        if (cap > s->img_len - at - skip)
            cap = s->img_len - at - skip;
        uint8_t *tmp = khi_malloc((size_t)cap);
        if (!tmp)
            return KH_ENOMEM;
        size_t out = 0;
        if (khi_aplib_decode(r + skip, n - skip, tmp, (size_t)cap, &out, NULL) == KH_OK) {
            memcpy(s->img + at + skip, tmp, out); /* else they were stored as they are */
            memset(s->img + at + skip + out, 0, (size_t)cap - out);
        }
        khi_free(tmp);
        res = 0;
    }
    return KH_OK;
}

kh_err khi_pespin_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    spin s = {d, len, pe, NULL, NULL, pe->nsections - 1u, NULL, 0, 0, NULL};
    kh_err err = KH_OK;
    khi_buf out;
    khi_buf_init(&out);
    if (pe->ep_offset >= len || !khi_pespin_detect(d + pe->ep_offset, len - pe->ep_offset, pe))
        return KH_OK;
    const khi_pe_section *ls = &pe->sect[pe->nsections - 1];
    uint64_t e = (uint64_t)ls->raw_off + (pe->ep_rva - ls->va);
    if (e + SP_END > len) {
        damaged(&s, "PESpin-packed, but its loader is cut short");
        goto out;
    }
    if (len > KHI_FMT_MAX_PART) {
        damaged(&s, "PESpin-packed, but larger than 64 MiB: not unpacked");
        goto out;
    }
    s.f = khi_malloc(len);
    if (!s.f) {
        err = KH_ENOMEM;
        goto out;
    }
    memcpy(s.f, d, len);
    s.e = s.f + e;
    uint32_t key = 0;
    const char *why = loader(&s, &key);
    if (why) {
        damaged(&s, why);
        goto out;
    }
    if (s.e[SP_FLAGS] == 0xb8 && (khi_le32(s.e + SP_FLAGS + 1) & 0x200000u))
        damaged(&s, "PESpin-packed with a password: its sections do not decrypt without it");
    err = layout(&s);
    if (err == KH_OK && s.img)
        err = sections(&s, key);
    if (err == KH_OK && s.img)
        err = image(&s);
    if (err != KH_OK || !s.img)
        goto out;
    int stop =
        s.damage && cb->warn && cb->warn(cb->ud, KHI_FWARN_DAMAGED, "pespin-unpacked", s.damage);
    s.damage = NULL; /* told */
    if (stop) {
        err = KH_ECANCELED;
        goto out;
    }
    err = khi_pe_rebuild(d, pe, s.img, s.img_len, s.lo, NULL, &out);
    if (err == KH_OK && cb->part(cb->ud, (const uint8_t *)out.data, out.len, "pespin-unpacked"))
        err = KH_ECANCELED;
out:
    if (s.damage && cb->warn && cb->warn(cb->ud, KHI_FWARN_DAMAGED, "pespin-unpacked", s.damage) &&
        err == KH_OK)
        err = KH_ECANCELED;
    khi_buf_cleanup(&out);
    khi_free(s.img);
    khi_free(s.f);
    return err;
}
