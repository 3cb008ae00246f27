/*
 * fmt_autoit.c - AutoIt v3 compiled scripts (EA05: AutoIt 3.0-3.2.5, EA06: 3.2.6 and later).
 *
 * A compiled script is the AutoIt interpreter with the script appended: in the overlay, or in
 * an RCDATA resource "SCRIPT" (3.2.6 and later; fmt_peres.c finds it, lib/scan hands it here). The data starts with a
 * 16-byte marker (A3 48 4B BE 98 6C 4A A9 99 4C 53 0A 86 D6 48 7D), "AU3!EA05" or
 * "AU3!EA06", and 16 bytes (a password hash; EA05 keys its file data with their sum). Then
 * come resources, each:
 *
 *   "FILE"                                  encrypted with key K_FILE
 *   u32 n ^ K1, n characters                 the resource's "subtype": ">AUTOIT SCRIPT<" and
 *                                            the like for the script, else the source path
 *                                            of a FileInstall file
 *   u32 n ^ K2, n characters                 the path (unused here)
 *   u8 compressed, u32 size ^ K3, u32 usize ^ K3, u32 Adler-32 ^ K4, 16 bytes of file times
 *   size bytes                               encrypted; "EA05"/"EA06", a big-endian size,
 *                                            LZSS bits when compressed
 *
 * EA05 encrypts with bytes of MT19937 (each output >> 1, low byte), EA06 with the bytes of a
 * small lagged rotate-and-add generator; each field has its own seed (the K constants below,
 * plus the length for strings). EA06 strings are UTF-16LE. The LZSS stream is read most
 * significant bit first: a flag bit (literal when 0 for EA05, 1 for EA06), 8 bits of literal,
 * or a 15-bit distance and a length in growing codes (2, 3, 5, 8 bits, then bytes of 255).
 *
 * Parts: the script ("script.au3"; EA06's is the interpreter's token form, "script.a3x") and
 * each FileInstall file under the base name of its source path.
 *
 * Bounds: each output at most KHI_FMT_MAX_PART (and its declared size), strings at most
 * 4096 characters, at most 4096 resources; an Adler-32 mismatch is a warning.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>
#include <zlib.h>

static const uint8_t au3_marker[16] = {0xa3, 0x48, 0x4b, 0xbe, 0x98, 0x6c, 0x4a, 0xa9,
                                       0x99, 0x4c, 0x53, 0x0a, 0x86, 0xd6, 0x48, 0x7d};

#define AU3_MAX_STR 4096
#define AU3_MAX_RES 4096

size_t khi_autoit_find(const uint8_t *data, size_t len)
{
    size_t lim = len > 4096 ? 4096 : len;
    size_t pos = 0;
    while (pos < lim) {
        const uint8_t *p = memmem(data + pos, lim - pos, au3_marker, sizeof(au3_marker));
        if (!p)
            break;
        size_t at = (size_t)(p - data);
        if (len - at >= 40 && memcmp(p + 16, "AU3!EA0", 7) == 0 && (p[23] == '5' || p[23] == '6'))
            return at;
        pos = at + 1;
    }
    return SIZE_MAX;
}

/* ---- the two key streams ---- */

typedef struct mt {
    uint32_t s[624];
    unsigned i;
} mt;

static void mt_seed(mt *m, uint32_t seed)
{
    m->s[0] = seed;
    for (unsigned i = 1; i < 624; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ m->s[i - 1] >> 30) + i;
    m->i = 624;
}

static uint8_t mt_byte(mt *m)
{
    if (m->i >= 624) {
        for (unsigned k = 0; k < 624; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
            m->s[k] = m->s[(k + 397) % 624] ^ y >> 1 ^ ((y & 1) ? 0x9908b0dfu : 0);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return (uint8_t)(y >> 1);
}

typedef struct lame {
    uint32_t g[17];
    unsigned c0, c1;
} lame;

static uint32_t rol32(uint32_t x, unsigned n)
{
    return x << n | x >> (32 - n);
}

static uint32_t lame_step(lame *l)
{
    uint32_t v = rol32(l->g[l->c0], 9) + rol32(l->g[l->c1], 13);
    l->g[l->c0] = v;
    l->c0 = l->c0 ? l->c0 - 1 : 16;
    l->c1 = l->c1 ? l->c1 - 1 : 16;
    return v;
}

static void lame_seed(lame *l, uint32_t seed)
{
    for (unsigned i = 0; i < 17; i++) {
        seed *= 0x53a9b4fbu;
        seed = 1u - seed;
        l->g[i] = seed;
    }
    l->c0 = 0;
    l->c1 = 10;
    for (unsigned i = 0; i < 9; i++)
        lame_step(l);
}

static uint8_t lame_byte(lame *l)
{
    lame_step(l);
    return (uint8_t)(lame_step(l) >> 24);
}

/* n bytes of in, decrypted with the version's stream seeded with seed, into out. */
static void decrypt(int ea06, uint32_t seed, const uint8_t *in, size_t n, uint8_t *out, mt *m)
{
    if (ea06) {
        lame l;
        lame_seed(&l, seed);
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] ^ lame_byte(&l);
    } else {
        mt_seed(m, seed);
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] ^ mt_byte(m);
    }
}

/* ---- LZSS ---- */

typedef struct bits {
    const uint8_t *d;
    size_t n, pos; /* in bits */
    int over;
} bits;

static unsigned get_bits(bits *b, unsigned k)
{
    unsigned v = 0;
    for (unsigned i = 0; i < k; i++) {
        if (b->pos >= b->n * 8) {
            b->over = 1;
            return 0;
        }
        v = v << 1 | ((b->d[b->pos >> 3] >> (7 - (b->pos & 7))) & 1);
        b->pos++;
    }
    return v;
}

/* "EA05"/"EA06", a big-endian size, then the bit stream. KH_EFORMAT when damaged (out keeps
 * what was decoded). */
static kh_err lzss(int ea06, const uint8_t *d, size_t n, khi_buf *out, int *out_big)
{
    if (n < 8 || memcmp(d, ea06 ? "EA06" : "EA05", 4) != 0)
        return KH_EFORMAT;
    size_t want = (size_t)d[4] << 24 | (size_t)d[5] << 16 | (size_t)d[6] << 8 | d[7];
    if (want > KHI_FMT_MAX_PART) {
        want = KHI_FMT_MAX_PART;
        *out_big = 1;
    }
    /* a byte of input gives at most about 255 bytes of output (runs of 255 in a length) */
    size_t cap = (n - 8) > (SIZE_MAX - 64) / 256 ? SIZE_MAX : (n - 8) * 256 + 64;
    if (want > cap)
        want = cap;
    if (khi_buf_reserve(out, want) != KH_OK)
        return KH_ENOMEM;
    bits b = {d + 8, n - 8, 0, 0};
    uint8_t *o = (uint8_t *)out->data;
    size_t len = 0;
    while (len < want && !b.over) {
        if (get_bits(&b, 1) == (unsigned)ea06) {
            unsigned c = get_bits(&b, 8);
            if (b.over)
                break;
            o[len++] = (uint8_t)c;
            continue;
        }
        size_t dist = get_bits(&b, 15);
        size_t cnt = get_bits(&b, 2), add = 0;
        if (cnt == 3) {
            add = 3;
            cnt = get_bits(&b, 3);
            if (cnt == 7) {
                add = 10;
                cnt = get_bits(&b, 5);
                if (cnt == 31) {
                    add = 41;
                    cnt = get_bits(&b, 8);
                    if (cnt == 255) {
                        add = 296;
                        while ((cnt = get_bits(&b, 8)) == 255 && !b.over && add < want)
                            add += 255;
                    }
                }
            }
        }
        cnt += 3 + add;
        if (b.over || !dist || dist > len)
            break;
        if (cnt > want - len)
            cnt = want - len;
        for (size_t i = 0; i < cnt; i++, len++)
            o[len] = o[len - dist];
    }
    out->len = len;
    return len < want ? KH_EFORMAT : KH_OK;
}

/* ---- the resources ---- */

typedef struct keys {
    uint32_t file, sub_len, sub, path_len, path, size, crc, data;
} keys;

static const keys k_ea05 = {0x16fa, 0x29bc, 0xa25e, 0x29ac, 0xf25e, 0x45aa, 0xc3d2, 0x22af};
static const keys k_ea06 = {0x18ee, 0xadbc, 0xb33f, 0xf820, 0xf479, 0x87bc, 0xa685, 0x2477};

typedef struct au3 {
    const uint8_t *d;
    size_t len, pos;
    int ea06;
    const keys *k;
    uint32_t sum; /* EA05: the sum of the 16 bytes after the version */
    const khi_parts_cb *cb;
    mt m;
} au3;

/* A length-prefixed encrypted string as UTF-8 in out; -1 when it does not fit. */
static int read_str(au3 *a, uint32_t klen, uint32_t kstr, char *out, size_t out_len)
{
    if (a->len - a->pos < 4)
        return -1;
    uint32_t n = khi_le32(a->d + a->pos) ^ klen;
    a->pos += 4;
    size_t bytes = a->ea06 ? (size_t)n * 2 : n;
    if (n > AU3_MAX_STR || bytes > a->len - a->pos)
        return -1;
    uint8_t tmp[AU3_MAX_STR * 2];
    decrypt(a->ea06, kstr + n, a->d + a->pos, bytes, tmp, &a->m);
    a->pos += bytes;
    if (a->ea06) {
        khi_utf16le_to_utf8(tmp, bytes, out, out_len);
    } else {
        size_t c = bytes < out_len - 1 ? bytes : out_len - 1;
        memcpy(out, tmp, c);
        out[c] = 0;
    }
    return 0;
}

static const char *part_name(au3 *a, const char *sub)
{
    if (!strcmp(sub, ">AUTOIT SCRIPT<") || !strcmp(sub, ">AUTOIT UNICODE SCRIPT<"))
        return "script.au3";
    if (!strcmp(sub, ">>>AUTOIT SCRIPT<<<"))
        return a->ea06 ? "script.a3x" : "script.au3";
    const char *base = sub;
    for (const char *c = sub; *c; c++)
        if (*c == '\\' || *c == '/')
            base = c + 1;
    return *base ? base : "file";
}

/* One resource's data: decrypted, checked, decompressed, handed out. */
static kh_err resource(au3 *a, const char *name, int comp, size_t size, uint32_t crc)
{
    uint8_t *plain = khi_malloc(size ? size : 1);
    if (!plain)
        return KH_ENOMEM;
    decrypt(a->ea06, a->ea06 ? a->k->data : a->sum + a->k->data, a->d + a->pos, size, plain, &a->m);
    kh_err err = KH_OK;
    if ((uint32_t)adler32(1, plain, (uInt)size) != crc &&
        khi_fwarnf(a->cb, KHI_FWARN_DAMAGED, name, "AutoIt resource checksum mismatch"))
        err = KH_ECANCELED;
    if (err == KH_OK && !comp) {
        if (size && a->cb->part(a->cb->ud, plain, size, name))
            err = KH_ECANCELED;
    } else if (err == KH_OK) {
        khi_buf out;
        khi_buf_init(&out);
        int big = 0;
        kh_err zr = lzss(a->ea06, plain, size, &out, &big);
        if (zr == KH_ENOMEM)
            err = zr;
        else if (zr == KH_EFORMAT && !big &&
                 khi_fwarnf(a->cb, KHI_FWARN_DAMAGED, name,
                            "AutoIt resource damaged: %zu bytes decompressed", out.len))
            err = KH_ECANCELED;
        else if (big && khi_fwarnf(a->cb, KHI_FWARN_TOOBIG, name,
                                   "AutoIt resource larger than %zu bytes: its head scanned",
                                   KHI_FMT_MAX_PART))
            err = KH_ECANCELED;
        if (err == KH_OK && out.len &&
            a->cb->part(a->cb->ud, (const uint8_t *)out.data, out.len, name))
            err = KH_ECANCELED;
        khi_buf_cleanup(&out);
    }
    khi_free(plain);
    return err;
}

kh_err khi_autoit_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    if (len < 40 || memcmp(data, au3_marker, 16) != 0 || memcmp(data + 16, "AU3!EA0", 7) != 0 ||
        (data[23] != '5' && data[23] != '6'))
        return KH_OK;
    au3 *a = khi_calloc(1, sizeof(*a));
    if (!a)
        return KH_ENOMEM;
    a->d = data;
    a->len = len;
    a->ea06 = data[23] == '6';
    a->k = a->ea06 ? &k_ea06 : &k_ea05;
    for (int i = 24; i < 40; i++)
        a->sum += data[i];
    a->pos = 40;
    a->cb = cb;
    kh_err err = KH_OK;
    for (unsigned nres = 0; nres < AU3_MAX_RES && err == KH_OK && len - a->pos >= 4; nres++) {
        uint8_t tag[4];
        decrypt(a->ea06, a->k->file, data + a->pos, 4, tag, &a->m);
        if (memcmp(tag, "FILE", 4) != 0)
            break; /* the end of the resources */
        a->pos += 4;
        char sub[512], path[512];
        if (read_str(a, a->k->sub_len, a->k->sub, sub, sizeof(sub)) ||
            read_str(a, a->k->path_len, a->k->path, path, sizeof(path)) || len - a->pos < 29) {
            if (khi_fwarnf(cb, KHI_FWARN_DAMAGED, NULL, "AutoIt resource %u cut short", nres + 1))
                err = KH_ECANCELED;
            break;
        }
        int comp = data[a->pos] == 1;
        size_t size = khi_le32(data + a->pos + 1) ^ a->k->size;
        uint32_t crc = khi_le32(data + a->pos + 9) ^ a->k->crc;
        a->pos += 29;
        if (!strcmp(sub, ">>>AUTOIT NO CMDEXECUTE<<<")) {
            a->pos -= 24; /* a flag and a size of its own, then 0x18 bytes more */
            size += 0x18;
            if (size > len - a->pos)
                break;
            a->pos += size;
            continue;
        }
        const char *name = part_name(a, sub);
        if (size > len - a->pos) {
            if (khi_fwarnf(cb, KHI_FWARN_DAMAGED, name, "AutoIt resource runs past the end"))
                err = KH_ECANCELED;
            break;
        }
        err = resource(a, name, comp, size, crc);
        a->pos += size;
    }
    khi_free(a);
    return err;
}
