/*
 * fmt_ishield.c - InstallShield setups: the file list of a setup.exe, its cabinets, and the
 * MSI-based setup's obfuscated file table.
 *
 * An older InstallShield setup.exe carries its disk image in the overlay as a list of files,
 * each four NUL-terminated strings (name, "Disk1\name", a version, the size in decimal)
 * followed by that many bytes. Most are handed out as they are. The program files themselves
 * sit in InstallShield cabinets, "dataN.cab" (magic "ISc("), described by "data1.hdr": its
 * header gives the offset of a file table; each 87-byte entry holds flags (4: inside a
 * cabinet), the size, the compressed size, the offset in the cabinet, a name offset and the
 * number of the cabinet. A file's data is a series of chunks, each a 16-bit length and a raw
 * deflate stream of its own.
 *
 * An MSI-based setup (InstallShield 12 and later) has "InstallShield\0", a 32-byte header (a
 * file count, then zeros) and for each file a 0x138-byte block (the name in 260 bytes, the
 * compressed size as 64 bits at 0x10c) and the data: each byte nibble-swapped and XORed with
 * the name (itself XORed with EC CA 79 F8), giving a zlib stream. The .msi found there is an
 * OLE2 file that lib/scan opens in turn.
 *
 * Bounds: every offset and size is checked against the input; each output is cut at
 * KHI_FMT_MAX_PART (a warning), the cabinets' files together at KHI_INST_MAX_TOTAL (entries
 * may share data); the table sizes are bounded by the input.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>
#include <strings.h>

static uint64_t le64(const uint8_t *p)
{
    return khi_le32(p) | (uint64_t)khi_le32(p + 4) << 32;
}

/* ---- the setup's file list ---- */

typedef struct entry {
    const char *name; /* into the input, NUL-terminated there */
    size_t data_off, size;
    size_t next;
} entry;

/* The NUL-terminated string at *pos (at most 1024 bytes); NULL when there is none. */
static const char *str_at(const uint8_t *d, size_t len, size_t *pos)
{
    size_t lim = len - *pos > 1025 ? 1025 : len - *pos;
    const uint8_t *z = memchr(d + *pos, 0, lim);
    if (!z)
        return NULL;
    const char *s = (const char *)d + *pos;
    *pos = (size_t)(z - d) + 1;
    return s;
}

/* The entry at pos: 1 when it is well-formed and its data lies inside the input. */
static int entry_at(const uint8_t *d, size_t len, size_t pos, entry *e)
{
    const char *s[4];
    for (int i = 0; i < 4; i++) {
        if (pos >= len)
            return 0;
        s[i] = str_at(d, len, &pos);
        if (!s[i])
            return 0;
    }
    if (!*s[0] || !*s[2] || !*s[3] || strlen(s[3]) > 12)
        return 0;
    for (const char *c = s[0]; *c; c++)
        if ((unsigned char)*c < 0x20)
            return 0;
    for (const char *c = s[2]; *c; c++)
        if ((*c < '0' || *c > '9') && *c != '.')
            return 0;
    uint64_t size;
    if (khi_parse_u64(s[3], strlen(s[3]), &size) != 0 || size > len - pos)
        return 0;
    e->name = s[0];
    e->data_off = pos;
    e->size = (size_t)size;
    e->next = pos + (size_t)size;
    return 1;
}

int khi_ishield_sfx_detect(const uint8_t *data, size_t len)
{
    /* only the head may be given: the first entry's data need not be there */
    const char *s[4];
    size_t pos = 0;
    for (int i = 0; i < 4; i++) {
        if (pos >= len)
            return 0;
        s[i] = str_at(data, len, &pos);
        if (!s[i])
            return 0;
    }
    size_t nl = strlen(s[0]), pl = strlen(s[1]);
    if (!nl || pl < nl || strcmp(s[1] + pl - nl, s[0]) != 0 || !*s[2] || !*s[3] ||
        strlen(s[3]) > 12)
        return 0;
    for (const char *c = s[2]; *c; c++)
        if ((*c < '0' || *c > '9') && *c != '.')
            return 0;
    for (const char *c = s[3]; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    return 1;
}

#define IS_MAX_CABS 16

typedef struct iscab {
    unsigned no;
    const uint8_t *d;
    size_t len;
} iscab;

/* "dataN.cab" (case-insensitive): N, else 0. */
static unsigned cab_number(const char *name)
{
    if (strncasecmp(name, "data", 4) != 0)
        return 0;
    unsigned n = 0;
    const char *p = name + 4;
    while (*p >= '0' && *p <= '9' && n < 1000)
        n = n * 10 + (unsigned)(*p++ - '0');
    return n && strcasecmp(p, ".cab") == 0 ? n : 0;
}

/* One file of a cabinet: its chunks inflated into out. */
static kh_err cab_file(const uint8_t *d, size_t csize, size_t want, khi_buf *out, int *damaged)
{
    size_t pos = 0;
    while (pos + 2 <= csize && out->len < want) {
        size_t n = khi_le16(d + pos);
        pos += 2;
        if (!n)
            continue;
        if (n > csize - pos) {
            *damaged = 1;
            break;
        }
        kh_err err = khi_inflate(d + pos, n, 1, want, out);
        if (err == KH_ENOMEM)
            return err;
        if (err == KH_EFORMAT) {
            *damaged = 1;
            break;
        }
        pos += n;
    }
    if (out->len < want && !*damaged)
        *damaged = 1;
    return KH_OK;
}

#define IS_ITEM 87 /* the packed size of a file table entry */

/* The files of the cabinets that data1.hdr describes. */
static kh_err walk_cabs(const uint8_t *h, size_t hlen, const iscab *cabs, size_t ncabs,
                        const khi_parts_cb *cb)
{
    if (hlen < 20 || memcmp(h, "ISc(", 4) != 0)
        return KH_OK;
    uint64_t base = khi_le32(h + 12);
    if (base > hlen || hlen - base < 0x30)
        return khi_fwarnf(cb, KHI_FWARN_DAMAGED, "data1.hdr", "InstallShield header damaged")
                   ? KH_ECANCELED
                   : KH_OK;
    uint64_t dirs = base + khi_le32(h + base + 0x0c);
    uint32_t nfiles = khi_le32(h + base + 0x28);
    uint64_t table = dirs + khi_le32(h + base + 0x2c);
    kh_err err = KH_OK;
    size_t total = 0;
    for (uint32_t i = 0; i < nfiles && err == KH_OK; i++) {
        if (total >= KHI_INST_MAX_TOTAL) {
            if (khi_fwarnf(
                    cb, KHI_FWARN_TOTAL, NULL,
                    "InstallShield cabinets decompress to more than %zu bytes: rest not scanned",
                    KHI_INST_MAX_TOTAL))
                err = KH_ECANCELED;
            break;
        }
        uint64_t at = table + (uint64_t)i * IS_ITEM;
        if (at > hlen || hlen - at < IS_ITEM) {
            if (khi_fwarnf(cb, KHI_FWARN_DAMAGED, "data1.hdr",
                           "InstallShield file table cut short at entry %u of %u", i, nfiles))
                err = KH_ECANCELED;
            break;
        }
        const uint8_t *f = h + at;
        uint16_t flags = khi_le16(f);
        uint64_t size = le64(f + 2), csize = le64(f + 10), off = le64(f + 18);
        uint64_t name_at = dirs + khi_le32(f + 58);
        unsigned cabno = khi_le16(f + 85);
        if (flags != 4 || !size || (f[84] & 1))
            continue; /* outside the cabinets, a name of another form, or a duplicate */
        char name[300];
        const char *nm = "file";
        if (name_at < hlen) {
            const uint8_t *z = memchr(h + name_at, 0, hlen - name_at);
            if (z && z > h + name_at)
                nm = (const char *)h + name_at;
        }
        khi_snprintf(name, sizeof(name), "data%u.cab/%s", cabno, nm);
        const iscab *c = NULL;
        for (size_t k = 0; k < ncabs; k++)
            if (cabs[k].no == cabno)
                c = &cabs[k];
        if (!c || off > c->len || csize > c->len - off) {
            if (khi_fwarnf(cb, KHI_FWARN_DAMAGED, name,
                           "InstallShield file lies outside its cabinet; not scanned"))
                err = KH_ECANCELED;
            continue;
        }
        size_t want = size > KHI_FMT_MAX_PART ? KHI_FMT_MAX_PART : (size_t)size;
        khi_buf out;
        khi_buf_init(&out);
        int damaged = 0;
        err = cab_file(c->d + off, (size_t)csize, want, &out, &damaged);
        total += out.len;
        if (err == KH_OK && damaged &&
            khi_fwarnf(cb, KHI_FWARN_DAMAGED, name,
                       "InstallShield file damaged: %zu of %llu bytes decoded", out.len,
                       (unsigned long long)size))
            err = KH_ECANCELED;
        if (err == KH_OK && size > KHI_FMT_MAX_PART &&
            khi_fwarnf(cb, KHI_FWARN_TOOBIG, name,
                       "file declares %llu bytes: only the first %zu scanned",
                       (unsigned long long)size, KHI_FMT_MAX_PART))
            err = KH_ECANCELED;
        if (err == KH_OK && out.len && cb->part(cb->ud, (const uint8_t *)out.data, out.len, name))
            err = KH_ECANCELED;
        khi_buf_cleanup(&out);
    }
    return err;
}

kh_err khi_ishield_sfx_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    iscab cabs[IS_MAX_CABS];
    size_t ncabs = 0;
    const uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    size_t pos = 0;
    entry e;
    while (pos < len && entry_at(data, len, pos, &e)) {
        unsigned no = cab_number(e.name);
        if (no && ncabs < IS_MAX_CABS) {
            cabs[ncabs].no = no;
            cabs[ncabs].d = data + e.data_off;
            cabs[ncabs].len = e.size;
            ncabs++;
        } else if (!hdr && strcasecmp(e.name, "data1.hdr") == 0) {
            hdr = data + e.data_off;
            hdr_len = e.size;
        }
        if (e.size && cb->part(cb->ud, data + e.data_off, e.size, e.name))
            return KH_ECANCELED;
        pos = e.next;
    }
    if (pos < len && khi_fwarnf(cb, KHI_FWARN_DAMAGED, NULL,
                                "InstallShield file list damaged at offset %zu of %zu", pos, len))
        return KH_ECANCELED;
    if (hdr && ncabs)
        return walk_cabs(hdr, hdr_len, cabs, ncabs, cb);
    return KH_OK;
}

/* ---- the MSI-based setup ---- */

#define MSI_MAGIC "InstallShield\0"
#define MSI_MAGIC_LEN 14
#define MSI_HDR 0x20
#define MSI_FB 0x138

static int msi_header_ok(const uint8_t *h)
{
    uint32_t n = khi_le32(h);
    if (!n || n > 65536)
        return 0;
    for (int i = 8; i < MSI_HDR; i++)
        if (h[i])
            return 0;
    return 1;
}

size_t khi_ishield_msi_find(const uint8_t *data, size_t len)
{
    size_t lim = len > 4096 ? 4096 : len;
    size_t pos = 0;
    while (pos < lim) {
        const uint8_t *p = memmem(data + pos, lim - pos, MSI_MAGIC, MSI_MAGIC_LEN);
        if (!p)
            break;
        size_t at = (size_t)(p - data);
        if (len - at >= MSI_MAGIC_LEN + MSI_HDR && msi_header_ok(p + MSI_MAGIC_LEN))
            return at;
        pos = at + 1;
    }
    return SIZE_MAX;
}

kh_err khi_ishield_msi_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    static const uint8_t skey[4] = {0xec, 0xca, 0x79, 0xf8};
    if (len < MSI_MAGIC_LEN + MSI_HDR || memcmp(data, MSI_MAGIC, MSI_MAGIC_LEN) != 0 ||
        !msi_header_ok(data + MSI_MAGIC_LEN))
        return KH_OK;
    uint32_t count = khi_le32(data + MSI_MAGIC_LEN);
    size_t pos = MSI_MAGIC_LEN + MSI_HDR;
    kh_err err = KH_OK;
    for (uint32_t i = 0; i < count && err == KH_OK; i++) {
        if (len - pos < MSI_FB) {
            if (khi_fwarnf(cb, KHI_FWARN_DAMAGED, NULL,
                           "InstallShield MSI setup cut short: %u of %u files", i, count))
                err = KH_ECANCELED;
            break;
        }
        const uint8_t *fb = data + pos;
        char name[261];
        memcpy(name, fb, 260);
        name[260] = 0;
        size_t klen = strlen(name);
        uint64_t csize = le64(fb + 0x10c);
        pos += MSI_FB;
        if (!klen || csize > len - pos) {
            if (khi_fwarnf(cb, KHI_FWARN_DAMAGED, klen ? name : NULL,
                           "InstallShield MSI setup damaged: file %u of %u %s", i + 1, count,
                           klen ? "runs past the end" : "has no name"))
                err = KH_ECANCELED;
            break;
        }
        uint8_t key[260];
        for (size_t k = 0; k < klen; k++)
            key[k] = (uint8_t)name[k] ^ skey[k & 3];
        uint8_t *plain = csize ? khi_malloc((size_t)csize) : NULL;
        if (csize && !plain)
            return KH_ENOMEM;
        for (size_t k = 0; k < csize; k++) {
            uint8_t c = data[pos + k];
            c = (uint8_t)(c >> 4 | c << 4);
            plain[k] = c ^ key[(k & 0x3ff) % klen];
        }
        khi_buf out;
        khi_buf_init(&out);
        kh_err zr = csize ? khi_inflate(plain, (size_t)csize, 0, KHI_FMT_MAX_PART, &out) : KH_OK;
        khi_free(plain);
        if (zr == KH_ENOMEM)
            err = KH_ENOMEM;
        else if (zr == KH_EFORMAT &&
                 khi_fwarnf(cb, KHI_FWARN_DAMAGED, name,
                            "InstallShield MSI setup file damaged: %zu bytes decoded", out.len))
            err = KH_ECANCELED;
        else if (zr == KH_ELIMIT &&
                 khi_fwarnf(cb, KHI_FWARN_TOOBIG, name,
                            "file larger than %zu bytes: its head scanned", KHI_FMT_MAX_PART))
            err = KH_ECANCELED;
        if (err == KH_OK && out.len && cb->part(cb->ud, (const uint8_t *)out.data, out.len, name))
            err = KH_ECANCELED;
        khi_buf_cleanup(&out);
        pos += (size_t)csize;
    }
    return err;
}
