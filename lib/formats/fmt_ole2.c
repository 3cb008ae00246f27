/*
 * fmt_ole2.c - OLE2 compound files ([MS-CFB]: .doc, .xls, .ppt, .msi, vbaProject.bin): every
 * stream, the source code of VBA macros, and files embedded as OLE Packages.
 *
 * A compound file is a little FAT file system. A 512-byte header gives the sector size (512
 * or 4096), the first 109 FAT sector numbers (the DIFAT; more follow in a chain of DIFAT
 * sectors), the first directory sector and the mini FAT. The FAT chains sectors into streams;
 * streams under 4096 bytes live in 64-byte sectors of the "mini stream" (itself a chain,
 * started by the root directory entry) chained by the mini FAT. The directory is an array of
 * 128-byte entries (UTF-16 name, type, left/right sibling and child of a red-black tree per
 * storage, first sector, size).
 *
 * Every stream with bytes is handed out, named by its path in the storage tree
 * ("Macros/VBA/Module1", "WordDocument"; the root entry's name is left out). Names are UTF-16
 * turned into UTF-8 with non-ASCII kept; control characters, such as the \x01 and \x05 that
 * start "\x01Ole10Native" or "\x05SummaryInformation", are dropped (so those streams are
 * "Ole10Native" and "SummaryInformation"), and '/' becomes '_'. An installer database (.msi,
 * .msp, .mst, known by its root's class) packs its stream names two characters a unit; they
 * are unpacked ("Data1.cab", "!_StringPool"). Then:
 * - a storage named VBA holding a `dir` stream is a VBA project (fmt_ole2_vba.c): each
 *   module's source, decompressed, is handed out as "<storage path>/<module stream>.vba" and
 *   the file is flagged as having macros (so is a file with a `_VBA_PROJECT` stream);
 * - a "\x01Ole10Native" stream holding an OLE1 Package has its embedded file handed out too,
 *   as "<storage path>/<its file name>" (the Package parser is fmt_rtf.c's).
 *
 * The tree is walked from the root with an explicit stack, each entry taken at most once, so
 * a sibling or child link that loops back is ignored; entries the tree never reaches (a
 * damaged or crafted tree) are walked afterwards as if at the top, so that no stream hides by
 * being unlinked. Every chain walk stamps the sectors it passes and stops at one it passed
 * already (a loop), at an end-of-chain or free marker, at a sector number outside the file,
 * or where the file ends; what was read until then is handed out and the damage is reported
 * in khi_ole2_info. A stream is cut at its declared size, at the file's size, and all parts
 * together at 64 MiB. Memory: the directory, the mini FAT, the mini stream and one stream
 * buffer, each at most the file's size (each sector of the file is copied at most once per
 * chain walk), and per-entry bookkeeping of less than 2x the directory; decompressed VBA at
 * most 16x its compressed stream plus 64 KiB, one module at a time.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define FREESECT 0xffffffffu
#define ENDOFCHAIN 0xfffffffeu
#define NOSTREAM 0xffffffffu
#define MINI_CUTOFF 4096
#define MINI_SIZE 64
#define DIR_ENTRY 128
#define OUT_MAX ((size_t)64 << 20)
#define NAME_MAX_UTF8 100 /* 31 UTF-16 units, at most 3 bytes each, and the NUL */
#define PATH_MAX_DEPTH 32
#define MAX_PROJECTS 64
#define LOOKUP_BUDGET (1u << 24) /* module-name comparisons per file */

static const uint8_t magic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};

int khi_ole2_detect(const uint8_t *data, size_t len)
{
    return len >= 8 && memcmp(data, magic, 8) == 0;
}

static size_t put_utf8(char *out, size_t k, size_t out_len, uint32_t c)
{
    size_t n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (k + n >= out_len)
        return 0;
    if (n == 1) {
        out[k] = (char)c;
    } else if (n == 2) {
        out[k] = (char)(0xc0 | c >> 6);
        out[k + 1] = (char)(0x80 | (c & 0x3f));
    } else if (n == 3) {
        out[k] = (char)(0xe0 | c >> 12);
        out[k + 1] = (char)(0x80 | (c >> 6 & 0x3f));
        out[k + 2] = (char)(0x80 | (c & 0x3f));
    } else {
        out[k] = (char)(0xf0 | c >> 18);
        out[k + 1] = (char)(0x80 | (c >> 12 & 0x3f));
        out[k + 2] = (char)(0x80 | (c >> 6 & 0x3f));
        out[k + 3] = (char)(0x80 | (c & 0x3f));
    }
    return n;
}

void khi_utf16le_to_utf8(const uint8_t *p, size_t n, char *out, size_t out_len)
{
    size_t k = 0;
    if (!out_len)
        return;
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t c = khi_le16(p + i);
        if (!c)
            break;
        if (c < 0x20 || c == 0x7f)
            continue; /* \x01Ole10Native, \x05SummaryInformation: the prefix is dropped */
        if (c == '/')
            c = '_';
        if (c >= 0xd800 && c <= 0xdbff && i + 3 < n && khi_le16(p + i + 2) >= 0xdc00 &&
            khi_le16(p + i + 2) <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (khi_le16(p + i + 2) - 0xdc00u);
            i += 2;
        } else if (c >= 0xd800 && c <= 0xdfff) {
            c = 0xfffd; /* a lone surrogate */
        }
        size_t w = put_utf8(out, k, out_len, c);
        if (!w)
            break;
        k += w;
    }
    out[k] = '\0';
}

/* One of the 64 characters an MSI stream name packs ("0-9A-Za-z._"). */
static char msi_char(unsigned x)
{
    return x < 10 ? (char)('0' + x) : x < 36 ? (char)('A' + x - 10) : x < 62 ? (char)('a' + x - 36) : x == 62 ? '.' : '_';
}

/* An MSI stream name: units 0x3800-0x47FF hold two characters of msi_char, 0x4800-0x483F one,
 * 0x4840 marks a table ("!"); other units are ordinary UTF-16 (then converted as usual). */
static void msi_name(const uint8_t *p, size_t n, char *out, size_t out_len)
{
    size_t k = 0;
    for (size_t i = 0; i + 1 < n && k + 2 < out_len; i += 2) {
        unsigned c = khi_le16(p + i);
        if (!c)
            break;
        if (c >= 0x3800 && c < 0x4800) {
            out[k++] = msi_char((c - 0x3800) & 0x3f);
            out[k++] = msi_char(((c - 0x3800) >> 6) & 0x3f);
        } else if (c >= 0x4800 && c < 0x4840) {
            out[k++] = msi_char(c - 0x4800);
        } else if (c == 0x4840) {
            out[k++] = '!';
        } else {
            char one[8];
            khi_utf16le_to_utf8(p + i, 2, one, sizeof(one));
            size_t w = strlen(one);
            if (k + w + 1 > out_len)
                break;
            memcpy(out + k, one, w);
            k += w;
        }
    }
    out[k] = '\0';
}

typedef struct ent {
    uint32_t left, right, child, start, parent;
    uint64_t size;
    uint8_t type; /* 1 storage, 2 stream, 5 root */
    uint8_t seen;
    uint8_t first; /* the name's first UTF-16 unit when it is a control character, else 0 */
    char name[NAME_MAX_UTF8];
} ent;

typedef struct cfb {
    const uint8_t *d;
    size_t len;
    size_t ssz;       /* sector size */
    uint32_t nsect;   /* sectors that start inside the file */
    uint32_t *fatsec; /* the sector number of each FAT sector */
    uint32_t nfat;
    uint32_t *stamp; /* per sector: the last chain walk that passed it */
    uint32_t walk;
    uint8_t *minifat;
    size_t minifat_len;
    uint8_t *mini; /* the mini stream */
    size_t mini_len;
    uint32_t *mstamp; /* per mini sector, like stamp */
    ent *e;
    uint32_t nent;
    uint8_t *scratch; /* one stream at a time, len bytes */
    size_t out_total;
    uint32_t lookups;
    khi_ole2_info *info;
    khi_part_fn cb;
    void *ud;
    int stop;
    int major;
} cfb;

static void problem(cfb *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(cfb *c, const char *fmt, ...)
{
    if (c->info->problems++)
        return; /* the first one is reported; the rest are counted */
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(c->info->detail, sizeof(c->info->detail), fmt, ap) < 0)
        c->info->detail[0] = '\0';
    va_end(ap);
}

/* The FAT entry of sector s, or ENDOFCHAIN where the FAT does not reach. */
static uint32_t fat_next(const cfb *c, uint32_t s)
{
    size_t per = c->ssz / 4;
    size_t k = s / per;
    if (k >= c->nfat || c->fatsec[k] >= c->nsect)
        return ENDOFCHAIN;
    uint64_t off = ((uint64_t)c->fatsec[k] + 1) * c->ssz + (s % per) * 4;
    if (off + 4 > c->len)
        return ENDOFCHAIN;
    return khi_le32(c->d + off);
}

/* Follow the FAT chain from s, copying up to want bytes to out (room for want); returns the
 * count copied. When open_ended, reaching the end of the chain before want is normal. */
static size_t read_chain(cfb *c, uint32_t s, size_t want, uint8_t *out, int open_ended,
                         const char *what)
{
    size_t got = 0;
    c->walk++;
    while (got < want) {
        if (s == ENDOFCHAIN || s == FREESECT) {
            if (!open_ended)
                problem(c, "%s: its sector chain ends after %zu of %zu bytes", what, got, want);
            break;
        }
        if (s >= c->nsect) {
            problem(c, "%s: sector %u is outside the file (truncated or damaged)", what, s);
            break;
        }
        if (c->stamp[s] == c->walk) {
            problem(c, "%s: its sector chain loops back to sector %u", what, s);
            break;
        }
        c->stamp[s] = c->walk;
        uint64_t off = ((uint64_t)s + 1) * c->ssz;
        size_t avail = c->len - (size_t)off < c->ssz ? c->len - (size_t)off : c->ssz;
        size_t n = want - got < avail ? want - got : avail;
        memcpy(out + got, c->d + off, n);
        got += n;
        if (avail < c->ssz && got < want) {
            problem(c, "%s: the file ends inside sector %u (truncated)", what, s);
            break;
        }
        s = fat_next(c, s);
    }
    return got;
}

/* Like read_chain, in the mini stream along the mini FAT. */
static size_t read_mini(cfb *c, uint32_t s, size_t want, uint8_t *out, const char *what)
{
    size_t got = 0, nmini = (c->mini_len + MINI_SIZE - 1) / MINI_SIZE;
    c->walk++;
    while (got < want) {
        if (s == ENDOFCHAIN || s == FREESECT) {
            problem(c, "%s: its mini sector chain ends after %zu of %zu bytes", what, got, want);
            break;
        }
        if (s >= nmini) {
            problem(c, "%s: mini sector %u is outside the mini stream", what, s);
            break;
        }
        if (c->mstamp[s] == c->walk) {
            problem(c, "%s: its mini sector chain loops back to mini sector %u", what, s);
            break;
        }
        c->mstamp[s] = c->walk;
        size_t off = (size_t)s * MINI_SIZE;
        size_t avail = c->mini_len - off < MINI_SIZE ? c->mini_len - off : MINI_SIZE;
        size_t n = want - got < avail ? want - got : avail;
        memcpy(out + got, c->mini + off, n);
        got += n;
        if (avail < MINI_SIZE && got < want) {
            problem(c, "%s: the mini stream ends inside mini sector %u", what, s);
            break;
        }
        s = (size_t)s * 4 + 4 <= c->minifat_len ? khi_le32(c->minifat + (size_t)s * 4) : ENDOFCHAIN;
    }
    return got;
}

/* Header and DIFAT: sector size, the FAT's sectors. Returns KH_EFORMAT when unreadable. */
static kh_err open_header(cfb *c)
{
    const uint8_t *d = c->d;
    if (c->len < 512 || !khi_ole2_detect(d, c->len)) {
        problem(c, "compound file header cut short (%zu bytes)", c->len);
        return KH_EFORMAT;
    }
    unsigned shift = khi_le16(d + 30), mshift = khi_le16(d + 32);
    c->major = khi_le16(d + 26);
    if (shift != 9 && shift != 12) {
        problem(c, "sector size 2^%u is not 512 or 4096: not read", shift);
        return KH_EFORMAT;
    }
    if (mshift != 6)
        problem(c, "mini sector size 2^%u is not 64; read as 64", mshift);
    c->ssz = (size_t)1 << shift;
    size_t n = c->len > c->ssz ? (c->len - c->ssz + c->ssz - 1) / c->ssz : 0;
    c->nsect = n > 0xfffffff0u ? 0xfffffff0u : (uint32_t)n;
    c->stamp = khi_calloc((size_t)c->nsect + 1, sizeof(*c->stamp));
    if (!c->stamp)
        return KH_ENOMEM;
    uint32_t want = khi_le32(d + 44);
    if (want > c->nsect) {
        problem(c, "the header declares %u FAT sectors, the file has %u sectors", want, c->nsect);
        want = c->nsect;
    }
    c->fatsec = khi_calloc((size_t)want + 1, sizeof(*c->fatsec));
    if (!c->fatsec)
        return KH_ENOMEM;
    for (unsigned i = 0; i < 109 && c->nfat < want; i++)
        c->fatsec[c->nfat++] = khi_le32(d + 76 + 4 * i);
    uint32_t s = khi_le32(d + 68);
    size_t per = c->ssz / 4 - 1;
    c->walk++;
    while (c->nfat < want && s < c->nsect && c->stamp[s] != c->walk) {
        c->stamp[s] = c->walk;
        uint64_t off = ((uint64_t)s + 1) * c->ssz;
        for (size_t i = 0; i < per && c->nfat < want && off + 4 * i + 4 <= c->len; i++)
            c->fatsec[c->nfat++] = khi_le32(d + off + 4 * i);
        if (off + c->ssz > c->len)
            break;
        s = khi_le32(d + off + c->ssz - 4);
    }
    if (c->nfat < want)
        problem(c, "the DIFAT lists %u of %u FAT sectors (truncated or damaged)", c->nfat, want);
    return KH_OK;
}

/* Read the directory and turn its entries into c->e. */
static kh_err read_directory(cfb *c)
{
    kh_err err = KH_OK;
    uint8_t *dir = khi_malloc(c->len);
    if (!dir)
        return KH_ENOMEM;
    size_t got = read_chain(c, khi_le32(c->d + 48), c->len, dir, 1, "the directory");
    c->nent = (uint32_t)(got / DIR_ENTRY);
    if (!c->nent) {
        problem(c, "no directory entries could be read");
        goto out;
    }
    c->e = khi_calloc(c->nent, sizeof(*c->e));
    if (!c->e) {
        err = KH_ENOMEM;
        goto out;
    }
    /* an installer database (.msi, .msp, .mst): its root's class is {000C108x-0000-0000-C000-
     * 000000000046} and its stream names are packed (msi_name) */
    static const uint8_t msi_tail[] = {0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
    const uint8_t *clsid = dir + 80;
    int msi = (clsid[0] & 0xf0) == 0x80 && clsid[1] == 0x10 && clsid[2] == 0x0c && clsid[3] == 0x00 &&
              !memcmp(clsid + 4, msi_tail, sizeof(msi_tail));
    for (uint32_t i = 0; i < c->nent; i++) {
        const uint8_t *p = dir + (size_t)i * DIR_ENTRY;
        ent *e = &c->e[i];
        size_t nl = khi_le16(p + 64);
        if (nl > 64)
            nl = 64;
        if (msi)
            msi_name(p, nl, e->name, sizeof(e->name));
        else
            khi_utf16le_to_utf8(p, nl, e->name, sizeof(e->name));
        uint16_t u0 = khi_le16(p);
        e->first = u0 && u0 < 0x20 ? (uint8_t)u0 : 0;
        e->type = p[66];
        e->left = khi_le32(p + 68);
        e->right = khi_le32(p + 72);
        e->child = khi_le32(p + 76);
        e->start = khi_le32(p + 116);
        e->size = (uint64_t)khi_le32(p + 120) | (c->major == 4 ? (uint64_t)khi_le32(p + 124) << 32 : 0);
        e->parent = NOSTREAM;
    }
out:
    khi_free(dir);
    return err;
}

/* Give each entry its storage, walking from the root, then from each entry not reached. */
static kh_err link_tree(cfb *c)
{
    size_t cap = (size_t)c->nent * 4 + 2, n = 0;
    uint32_t(*st)[2] = khi_calloc(cap, sizeof(*st));
    if (!st)
        return KH_ENOMEM;
    /* pass 0: the root's tree, then unreached storages; pass 1: unreached streams */
    for (uint32_t k = 0; k < 2 * c->nent; k++) {
        uint32_t start = k % c->nent;
        ent *s = &c->e[start];
        if (s->seen || (k && s->type != (k < c->nent ? 1 : 2)))
            continue;
        if (start) {
            st[n][0] = start;
            st[n++][1] = NOSTREAM; /* unreached: walked as if at the top */
        } else {
            s->seen = 1; /* entry 0 is the root, whatever its type says */
            st[n][0] = s->child;
            st[n++][1] = 0;
        }
        while (n) {
            n--;
            uint32_t i = st[n][0], parent = st[n][1];
            if (i >= c->nent || c->e[i].seen)
                continue;
            ent *e = &c->e[i];
            e->seen = 1;
            if (e->type != 1 && e->type != 2 && e->type != 5)
                continue; /* unallocated: no links to follow */
            e->parent = parent;
            uint32_t next[3] = {e->left, e->right, e->type != 2 ? e->child : NOSTREAM};
            uint32_t owner[3] = {parent, parent, i};
            for (int t = 0; t < 3; t++)
                if (next[t] < c->nent && !c->e[next[t]].seen && n < cap) {
                    st[n][0] = next[t];
                    st[n++][1] = owner[t];
                }
        }
    }
    khi_free(st);
    return KH_OK;
}

/* The path of entry i ("Macros/VBA/dir"), without the root; deep paths start with ".../". */
static void entry_path(const cfb *c, uint32_t i, const char *suffix, char *out, size_t out_len)
{
    uint32_t chain[PATH_MAX_DEPTH];
    int n = 0, deeper = 0;
    for (uint32_t k = i; k != NOSTREAM && k != 0 && k < c->nent; k = c->e[k].parent) {
        if (n == PATH_MAX_DEPTH) {
            deeper = 1;
            break;
        }
        chain[n++] = k;
    }
    size_t len = 0;
    out[0] = '\0';
    if (deeper)
        len += (size_t)snprintf(out, out_len, ".../");
    while (n-- > 0 && len < out_len) {
        const ent *e = &c->e[chain[n]];
        char fallback[24];
        khi_snprintf(fallback, sizeof(fallback), "entry-%u", chain[n]);
        len += (size_t)snprintf(out + len, out_len - len, "%s%s", e->name[0] ? e->name : fallback,
                                n ? "/" : "");
    }
    if (len < out_len && suffix)
        snprintf(out + len, out_len - len, "%s", suffix);
}

static int ci_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* Read stream i into c->scratch, within the output budget; returns its length. */
static size_t read_stream(cfb *c, uint32_t i, const char *what)
{
    const ent *e = &c->e[i];
    size_t left = OUT_MAX - c->out_total;
    size_t want = e->size < c->len ? (size_t)e->size : c->len;
    if (want > left) {
        problem(c, "more than 64 MiB in the streams of this file; the rest was not read");
        want = left;
    }
    if (!want)
        return 0;
    if (e->size < MINI_CUTOFF) {
        if (want > c->mini_len)
            want = c->mini_len; /* no mini stream that large: what there is */
        return read_mini(c, e->start, want, c->scratch, what);
    }
    return read_chain(c, e->start, want, c->scratch, 0, what);
}

static int emit(cfb *c, const uint8_t *data, size_t len, const char *name)
{
    if (c->stop)
        return 1;
    c->out_total += len < OUT_MAX - c->out_total ? len : OUT_MAX - c->out_total;
    c->stop = c->cb(c->ud, data, len, name) != 0;
    return c->stop;
}

typedef struct pkg_ctx {
    cfb *c;
    const char *prefix; /* storage path with its '/', or "" */
} pkg_ctx;

static int on_package_file(void *ud, const uint8_t *data, size_t len, const char *name)
{
    pkg_ctx *p = ud;
    char full[1024];
    khi_snprintf(full, sizeof(full), "%s%s", p->prefix, name);
    return emit(p->c, data, len, full);
}

/* An \x01Ole10Native stream: its size, then an OLE1 Package with the embedded file. */
static void ole10native(cfb *c, uint32_t i, const uint8_t *d, size_t n)
{
    if (n < 6)
        return;
    size_t l = khi_le32(d) < n - 4 ? khi_le32(d) : n - 4;
    char prefix[1024];
    if (c->e[i].parent != NOSTREAM && c->e[i].parent != 0)
        entry_path(c, c->e[i].parent, "/", prefix, sizeof(prefix));
    else
        prefix[0] = '\0';
    pkg_ctx p = {c, prefix};
    khi_ole1_package(d + 4, l, "Ole10Native.file", on_package_file, &p);
}

typedef struct vba_ctx {
    cfb *c;
    uint32_t storage;
} vba_ctx;

/* One module of a project: find its stream beside dir, decompress from its offset. */
static int on_module(void *ud, const char *stream, uint32_t offset)
{
    vba_ctx *v = ud;
    cfb *c = v->c;
    uint32_t found = NOSTREAM;
    for (uint32_t j = 0; j < c->nent && found == NOSTREAM; j++) {
        if (++c->lookups > LOOKUP_BUDGET) {
            problem(c, "too many VBA modules to look up; the rest were not read");
            return 1;
        }
        if (c->e[j].parent == v->storage && c->e[j].type == 2 && ci_equal(c->e[j].name, stream))
            found = j;
    }
    if (found == NOSTREAM) {
        problem(c, "VBA module stream %.64s is missing", stream);
        return 0;
    }
    char name[1024];
    entry_path(c, found, NULL, name, sizeof(name));
    size_t n = read_stream(c, found, name);
    if (offset >= n) {
        problem(c, "VBA module %.64s: source offset %u past its %zu bytes", stream, offset, n);
        return 0;
    }
    size_t left = OUT_MAX - c->out_total, cin = n - offset;
    size_t max = cin * 16 + 65536 < left ? cin * 16 + 65536 : left;
    uint8_t *src = NULL;
    size_t slen = 0;
    int damaged = 0;
    kh_err err = khi_ovba_decompress(c->scratch + offset, cin, max, &src, &slen, &damaged);
    if (err == KH_ENOMEM) {
        c->stop = 1;
        c->info->nomem = 1;
        return 1;
    }
    if (err != KH_OK || damaged)
        problem(c, "VBA module %.64s: its compressed source is damaged", stream);
    if (slen) {
        entry_path(c, found, ".vba", name, sizeof(name));
        emit(c, src, slen, name);
    }
    khi_free(src);
    return c->stop;
}

/* The VBA project whose dir stream is entry i. */
static void vba_project(cfb *c, uint32_t i)
{
    char what[1024];
    entry_path(c, i, NULL, what, sizeof(what));
    size_t n = read_stream(c, i, what);
    uint8_t *dir = NULL;
    size_t dlen = 0;
    int damaged = 0;
    kh_err err = khi_ovba_decompress(c->scratch, n, n * 16 + 65536, &dir, &dlen, &damaged);
    if (err == KH_ENOMEM) {
        c->stop = 1;
        c->info->nomem = 1;
        return;
    }
    if (err != KH_OK || damaged)
        problem(c, "%s: the compressed VBA dir stream is damaged", what);
    vba_ctx v = {c, c->e[i].parent};
    khi_vba_dir_modules(dir, dlen, on_module, &v);
    khi_free(dir);
}

static int in_vba_storage(const cfb *c, uint32_t i)
{
    uint32_t p = c->e[i].parent;
    return p != NOSTREAM && p != 0 && p < c->nent && ci_equal(c->e[p].name, "VBA");
}

/* An ExOleObjStg record's data: an OLE2 file, zlib-compressed (after its 4-byte size) when
 * the record's instance is 1. Handed out as "<stream path>/object-N". */
static void ppt_object(cfb *c, const uint8_t *d, size_t n, unsigned inst, const char *stream,
                       unsigned k)
{
    char name[1100];
    khi_snprintf(name, sizeof(name), "%s/object-%u", stream, k);
    if (inst != 1) {
        emit(c, d, n, name);
        return;
    }
    if (n < 4)
        return;
    size_t left = OUT_MAX - c->out_total, want = khi_le32(d);
    size_t cap = (n - 4) * 16 + 65536 < left ? (n - 4) * 16 + 65536 : left;
    if (want > cap) {
        problem(c, "%s: %zu bytes declared, more than the %zu bytes allowed", name, want, cap);
        want = cap;
    }
    if (!want)
        return;
    uint8_t *out = khi_malloc(want);
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (!out || inflateInit(&z) != Z_OK) {
        khi_free(out);
        c->stop = 1;
        c->info->nomem = 1;
        return;
    }
    z.next_in = (Bytef *)(uintptr_t)(d + 4);
    z.avail_in = (uInt)((n - 4) < UINT32_MAX ? n - 4 : UINT32_MAX);
    z.next_out = out;
    z.avail_out = (uInt)want;
    int rc = inflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END)
        problem(c, "%s: its compressed data is damaged or cut short", name);
    size_t got = want - z.avail_out;
    inflateEnd(&z);
    if (got)
        emit(c, out, got, name);
    khi_free(out);
}

/* The records of a "PowerPoint Document" stream (8-byte headers: version and instance, type,
 * length; version 0xF is a container whose records follow), for embedded objects. One pass. */
static void ppt_objects(cfb *c, const uint8_t *d, size_t n, const char *stream)
{
    size_t pos = 0;
    unsigned k = 0;
    while (n - pos >= 8 && !c->stop) {
        uint16_t vi = khi_le16(d + pos), type = khi_le16(d + pos + 2);
        size_t rl = khi_le32(d + pos + 4);
        pos += 8;
        if ((vi & 0xf) == 0xf)
            continue; /* a container: its children come next */
        size_t l = rl < n - pos ? rl : n - pos;
        if (type == 0x1011) /* ExOleObjStg */
            ppt_object(c, d + pos, l, vi >> 4, stream, ++k);
        pos += l;
    }
}

/* Every stream, then the Packages in Ole10Native streams, then VBA projects. */
static void walk_streams(cfb *c)
{
    char name[1024];
    unsigned projects = 0;
    for (uint32_t i = 0; i < c->nent && !c->stop; i++) {
        const ent *e = &c->e[i];
        if (e->type != 2 || !e->seen)
            continue;
        if (ci_equal(e->name, "_VBA_PROJECT"))
            c->info->has_vba = 1;
        if (!e->size)
            continue;
        entry_path(c, i, NULL, name, sizeof(name));
        size_t n = read_stream(c, i, name);
        if (!n || emit(c, c->scratch, n, name))
            continue;
        if (e->first == 1 && strcmp(e->name, "Ole10Native") == 0)
            ole10native(c, i, c->scratch, n);
        else if (strcmp(e->name, "PowerPoint Document") == 0)
            ppt_objects(c, c->scratch, n, name);
    }
    for (uint32_t i = 0; i < c->nent && !c->stop; i++) {
        if (c->e[i].type != 2 || !ci_equal(c->e[i].name, "dir") || !in_vba_storage(c, i))
            continue;
        c->info->has_vba = 1;
        if (projects++ == MAX_PROJECTS) {
            problem(c, "more than %d VBA projects; the rest were not read", MAX_PROJECTS);
            break;
        }
        vba_project(c, i);
    }
}

kh_err khi_ole2_walk_info(const uint8_t *data, size_t len, khi_part_fn cb, void *ud,
                          khi_ole2_info *out_info)
{
    khi_ole2_info local;
    cfb c;
    memset(&c, 0, sizeof(c));
    c.info = out_info ? out_info : &local;
    memset(c.info, 0, sizeof(*c.info));
    c.d = data;
    c.len = len;
    c.cb = cb;
    c.ud = ud;
    kh_err err = open_header(&c);
    if (err != KH_OK)
        goto out;
    err = read_directory(&c);
    if (err != KH_OK || !c.nent)
        goto out;
    err = link_tree(&c);
    if (err != KH_OK)
        goto out;
    c.scratch = khi_malloc(len);
    if (!c.scratch) {
        err = KH_ENOMEM;
        goto out;
    }
    const ent *root = &c.e[0];
    size_t mlen = root->size < len ? (size_t)root->size : len;
    size_t mfat = (size_t)khi_le32(data + 64) * c.ssz;
    if (mlen) {
        c.mini = khi_malloc(mlen);
        c.mstamp = khi_calloc(mlen / MINI_SIZE + 2, sizeof(*c.mstamp));
        c.minifat = khi_malloc(mfat < len ? (mfat ? mfat : 1) : len);
        if (!c.mini || !c.mstamp || !c.minifat) {
            err = KH_ENOMEM;
            goto out;
        }
        c.mini_len = read_chain(&c, root->start, mlen, c.mini, 0, "the mini stream");
        c.minifat_len = read_chain(&c, khi_le32(data + 60), mfat < len ? mfat : len, c.minifat, 0,
                                   "the mini FAT");
    }
    walk_streams(&c);
    if (c.info->nomem)
        err = KH_ENOMEM;
out:
    khi_free(c.fatsec);
    khi_free(c.stamp);
    khi_free(c.minifat);
    khi_free(c.mini);
    khi_free(c.mstamp);
    khi_free(c.e);
    khi_free(c.scratch);
    return err == KH_EFORMAT ? KH_OK : err;
}

kh_err khi_ole2_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    return khi_ole2_walk_info(data, len, cb, ud, NULL);
}
