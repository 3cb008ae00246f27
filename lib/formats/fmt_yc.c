/*
 * fmt_yc.c - yC (Y0da's Cryptor 1.3 and its variants): undo the section encryption.
 *
 * yC adds a last section whose code, at 0x60 into it, decrypts first the rest of its own
 * loader and then every section of the program byte by byte, each with a little polymorphic
 * routine of 0x30 bytes made of byte operations on AL (add, sub, xor with an immediate or with
 * CL; rol/ror by an immediate or by CL; dec; junk nop/clc/stc; short jumps over junk) while
 * CL counts down from the length. The entry point's code gives the length of the first layer
 * (`mov ecx, END; sub ecx, START`) and, by its shape, where the routines sit (0x93 and 0x457,
 * or 0x3ea, from the section start plus a variant's offset); the original entry point is the
 * dword 0x24e bytes before the end of the first layer (0xa0f for the usual 0xb97 bytes).
 * Resource, relocation, import/export, TLS sections and the yC section itself are not
 * encrypted.
 *
 * This reader runs those routines over a copy of the file (an interpreter of exactly that
 * instruction set: anything else stops it), then drops the yC section from the header, clears
 * the import directory entry, restores the entry point and hands the file out as
 * "yc-unpacked"; yC usually wraps a UPX-packed program, which the scan then unpacks in turn.
 * Written from the description of the format, independently of other implementations.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

/* The first layer's length and the variant's offset, or 0. */
static uint32_t yc_params(const uint8_t *ep, size_t n, int *out_off)
{
    static const uint8_t v13[] = {0x55, 0x8b, 0xec, 0x53, 0x56, 0x57, 0x60, 0xe8,
                                  0x00, 0x00, 0x00, 0x00, 0x5d, 0x81, 0xed};
    static const uint8_t v13b[] = {0x8d, 0x3a, 0x8b, 0xf7, 0x33, 0xc0, 0xeb,
                                   0x04, 0x90, 0xeb, 0x01, 0xc2, 0xac};
    static const uint8_t var[] = {0x55, 0x8b, 0xec, 0x83, 0xec, 0x40, 0x53, 0x56, 0x57};
    static const uint8_t varb[] = {0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0x81, 0xed};
    static const uint8_t mod[] = {0x60, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0x81, 0xed};
    uint32_t ecx = 0;
    int off = 0;
    if (n < 0x80)
        return 0;
    if (!memcmp(ep, v13, sizeof(v13)) && !memcmp(ep + 0x26, v13b, sizeof(v13b)) &&
        ep[0x13] == 0xb9 && ep[0x18] == 0x81 && ep[0x19] == 0xe9 &&
        !memcmp(ep + 0x1e, "\x8b\xd5\x81\xc2", 4) &&
        0x6c - khi_le32(ep + 0xf) + khi_le32(ep + 0x22) == 0xc6) {
        ecx = khi_le32(ep + 0x14) - khi_le32(ep + 0x1a);
    } else if (!memcmp(ep, var, sizeof(var)) && !memcmp(ep + 0x17, varb, sizeof(varb)) &&
               ep[0x23] == 0xb9 && 0x6c - khi_le32(ep + 0x1f) + khi_le32(ep + 0x32) == 0xc6) {
        off = 0x10;
        ecx = khi_le32(ep + 0x24) - khi_le32(ep + 0x2a);
    } else if (!memcmp(ep, mod, sizeof(mod)) && ep[0xd] == 0xb9 && ep[0x12] == 0x8d &&
               ep[0x13] == 0xbd && !memcmp(ep + 0x18, "\x8b\xf7\xac", 3) &&
               0x66 - khi_le32(ep + 0x9) + khi_le32(ep + 0x14) == 0xae) {
        off = -0x18;
        ecx = khi_le32(ep + 0xe);
    }
    if (ecx <= 0x800 || ecx >= 0x2000 || memcmp(ep + 0x63 + off, "\xaa\xe2\xcc", 3) != 0)
        return 0;
    *out_off = off;
    return ecx;
}

int khi_yc_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe)
{
    int off;
    return pe->nsections > 1 && pe->ep_rva == pe->sect[pe->nsections - 1].va + 0x60u &&
           yc_params(ep, ep_len, &off) != 0;
}

static uint8_t rol8(uint8_t v, unsigned n)
{
    n &= 7;
    return n ? (uint8_t)(v << n | v >> (8 - n)) : v;
}

/* Run the 0x30-byte routine at dec over n bytes of code (CL counting down from n). Returns 0,
 * or -1 on an instruction outside the set. */
static int poly(const uint8_t *dec, uint8_t *code, uint32_t n)
{
    uint8_t cl = (uint8_t)n;
    for (uint32_t i = 0; i < n; i++, cl--) {
        uint8_t al = code[i];
        unsigned jumps = 0;
        for (int j = 0; j < 0x30; j++) {
            switch (dec[j]) {
            case 0xeb: /* jmp short: over junk */
                j++;
                j += (int8_t)dec[j];
                if (++jumps > 0x30 || j < -1)
                    return -1;
                break;
            case 0xfe: /* dec al */
                al--;
                j++;
                break;
            case 0x2a: /* sub al, cl */
                al = (uint8_t)(al - cl);
                j++;
                break;
            case 0x02: /* add al, cl */
                al = (uint8_t)(al + cl);
                j++;
                break;
            case 0x32: /* xor al, cl */
                al ^= cl;
                j++;
                break;
            case 0x04: /* add al, imm8 */
                al = (uint8_t)(al + dec[++j]);
                break;
            case 0x34: /* xor al, imm8 */
                al ^= dec[++j];
                break;
            case 0x2c: /* sub al, imm8 */
                al = (uint8_t)(al - dec[++j]);
                break;
            case 0xc0: /* rol/ror al, imm8 */
                j++;
                al = dec[j] == 0xc0 ? rol8(al, dec[j + 1]) : rol8(al, 8 - (dec[j + 1] & 7));
                j++;
                break;
            case 0xd2: /* ror/rol al, cl (the next byte is skipped too, as the loader does) */
                j++;
                al = dec[j] == 0xc8 ? rol8(al, 8 - (cl & 7)) : rol8(al, cl);
                j++;
                break;
            case 0x90: /* nop, clc, stc */
            case 0xf8:
            case 0xf9:
                break;
            default:
                return -1;
            }
        }
        code[i] = al;
    }
    return 0;
}

/* Sections yC leaves alone: by the first four bytes of the name, and its own ("yC"). */
static int skipped(const uint8_t *name)
{
    static const char *const keep[] = {"rsrc", ".rsr", "relo", ".rel",
                                       ".eda", ".rda", ".ida", ".tls"};
    for (size_t i = 0; i < KHI_ARRAY_LEN(keep); i++)
        if (memcmp(name, keep[i], 4) == 0)
            return 1;
    return name[0] == 'y' && name[1] == 'C';
}

/* The original entry point, kept 0x24e bytes before the end of the first layer (0xa0f in the
 * common build, whose first layer is 0xb97 bytes; builds with a shorter loader keep it
 * earlier). Falls back on 0xa0f, then on the current one. */
static uint32_t oep(const uint8_t *ys, uint32_t ecx, const khi_pe *pe)
{
    uint32_t v = khi_le32(ys + 0xc6 + ecx - 0x24e);
    if (v && v < pe->size_of_image)
        return v;
    v = khi_le32(ys + 0xa0f);
    return v && v < pe->size_of_image ? v : pe->ep_rva;
}

kh_err khi_yc_walk(const uint8_t *d, size_t len, const khi_pe *pe, const khi_parts_cb *cb)
{
    int off;
    if (pe->ep_offset >= len)
        return KH_OK;
    size_t epn = len - (size_t)pe->ep_offset;
    uint32_t ecx = yc_params(d + pe->ep_offset, epn, &off);
    const khi_pe_section *y = &pe->sect[pe->nsections - 1];
    if (!ecx)
        return KH_OK;
    const char *damage = NULL;
    kh_err err = KH_OK;
    uint8_t *f = NULL;
    int64_t ys = (int64_t)y->raw_off + off;
    /* the first layer ends at 0xc6 + ecx; the loader's data reaches 0xa13 */
    if (ys < 0 || (uint64_t)ys + 0xc6 + ecx > len || (uint64_t)ys + 0xa13 > len ||
        len > KHI_FMT_MAX_PART || (uint64_t)pe->sect_off + (uint64_t)pe->nsections * 40 > len) {
        damage = "yC-encrypted, but its loader is cut short";
        goto out;
    }
    f = khi_malloc(len);
    if (!f) {
        err = KH_ENOMEM;
        goto out;
    }
    memcpy(f, d, len);
    size_t ycs = (size_t)ys;
    if (poly(f + ycs + 0x93, f + ycs + 0xc6, ecx) != 0) {
        damage = "yC-encrypted, but its loader's decryptor has an unknown instruction";
        goto out;
    }
    const uint8_t *dec = f + ycs + (off == -0x18 ? 0x3ea : 0x457);
    for (unsigned i = 0; i + 1u < pe->nsections; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (!s->raw_off || !s->raw_size || skipped(d + pe->sect_off + i * 40u) || s->raw_off >= len)
            continue;
        uint32_t n = len - s->raw_off < s->raw_size ? (uint32_t)(len - s->raw_off) : s->raw_size;
        if (poly(dec, f + s->raw_off, n) != 0) {
            damage = "yC-encrypted, but its section decryptor has an unknown instruction";
            goto out;
        }
    }
    uint32_t opt = pe->pe_off + 24;
    unsigned ns = pe->nsections - 1u;
    f[pe->pe_off + 6] = (uint8_t)ns;
    f[pe->pe_off + 7] = (uint8_t)(ns >> 8);
    if (pe->sect_off >= opt + 0x70) {
        memset(f + opt + 0x68, 0, 8);
        khi_put_le32(f + opt + 16, oep(f + ycs, ecx, pe));
        khi_put_le32(f + opt + 56, khi_le32(f + opt + 56) - y->vsize);
    }
    size_t out_len = len - (len - y->raw_off < y->raw_size ? len - y->raw_off : y->raw_size);
    if (cb->part(cb->ud, f, out_len, "yc-unpacked"))
        err = KH_ECANCELED;
out:
    if (damage && cb->warn)
        cb->warn(cb->ud, KHI_FWARN_DAMAGED, "yc-unpacked", damage);
    khi_free(f);
    return err;
}
