/*
 * fmt_inst.c - the data that installers append to a PE file (its overlay), and what their
 * readers share.
 *
 * A self-extracting installer is a small PE program followed by its payload: the bytes after
 * the last section's raw data, which the Windows loader never maps. NSIS, AutoIt,
 * InstallShield and many SFX archivers put their data there. lib/scan asks
 * khi_peovl_detect() about the first bytes of the overlay (so that an ordinary PE costs one
 * read of at most 4 KiB) and, only when it answers yes, hands the whole overlay (up to
 * 64 MiB) to khi_peovl_walk(), which picks the reader by its magic:
 *
 *   "name\0Disk1\name\0version\0size\0"  InstallShield setup file list   fmt_ishield.c
 *   "InstallShield\0" + file table        InstallShield MSI-based setup   fmt_ishield.c
 *   0xDEADBEEF "NullsoftInst"             NSIS                            fmt_nsis.c
 *   a3 48 4b be ... "AU3!EA05"/"EA06"     AutoIt v3 compiled script       fmt_autoit.c
 *   PK, 7z, Rar!, MSCF, D0CF11E0, 1F8B    an archive appended as is       the part "overlay"
 *
 * The last case hands the overlay out unchanged: lib/scan detects its type and opens it like
 * any file (libarchive, fmt_ole2.c).
 */
#include "formats/formats.h"
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int khi_fwarnf(const khi_parts_cb *cb, khi_fwarn what, const char *part, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return cb->warn ? cb->warn(cb->ud, what, part, detail) : 0;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return khi_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    khi_free(p);
}

kh_err khi_inflate(const uint8_t *in, size_t in_len, int raw, size_t max, khi_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    z.zalloc = z_alloc;
    z.zfree = z_free;
    int zr = inflateInit2(&z, raw ? -MAX_WBITS : MAX_WBITS);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? KH_ENOMEM : KH_EFORMAT;
    kh_err err = KH_OK;
    size_t done = 0;
    uint8_t tmp[16384];
    for (;;) {
        size_t chunk = in_len - done > (1u << 30) ? (1u << 30) : in_len - done;
        z.next_in = (Bytef *)(uintptr_t)(in + done);
        z.avail_in = (uInt)chunk;
        z.next_out = tmp;
        z.avail_out = sizeof(tmp);
        zr = inflate(&z, Z_NO_FLUSH);
        done += chunk - z.avail_in;
        size_t got = sizeof(tmp) - z.avail_out;
        if (got > max - out->len)
            got = max - out->len;
        if (got && khi_buf_append(out, tmp, got) != KH_OK) {
            err = KH_ENOMEM;
            break;
        }
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_MEM_ERROR) {
            err = KH_ENOMEM;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            err = KH_EFORMAT;
            break;
        }
        if (out->len >= max) {
            err = KH_ELIMIT;
            break;
        }
        if (zr == Z_BUF_ERROR && z.avail_out != 0) { /* no progress: the input is cut short */
            err = KH_EFORMAT;
            break;
        }
    }
    inflateEnd(&z);
    return err;
}

uint64_t khi_pe_overlay_start(const khi_pe *pe)
{
    uint64_t end = 0;
    for (unsigned i = 0; i < pe->nsections && i < KHI_PE_MAX_SECTIONS; i++) {
        const khi_pe_section *s = &pe->sect[i];
        if (s->raw_size && (uint64_t)s->raw_off + s->raw_size > end)
            end = (uint64_t)s->raw_off + s->raw_size;
    }
    return end;
}

/* The magics of the archives lib/scan opens by itself, at the start of the overlay. */
static int archive_magic(const uint8_t *d, size_t n)
{
    static const struct {
        const char *m;
        size_t n;
    } tab[] = {
        {"PK\x03\x04", 4},
        {"7z\xbc\xaf\x27\x1c", 6},
        {"Rar!\x1a\x07", 6},
        {"MSCF\0\0\0\0", 8},
        {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8},
        {"\x1f\x8b\x08", 3},
    };
    for (size_t i = 0; i < KHI_ARRAY_LEN(tab); i++)
        if (n >= tab[i].n && memcmp(d, tab[i].m, tab[i].n) == 0)
            return 1;
    return 0;
}

int khi_peovl_detect(const uint8_t *head, size_t len)
{
    if (!len)
        return 0;
    return khi_ishield_sfx_detect(head, len) || khi_ishield_msi_find(head, len) != SIZE_MAX ||
           khi_nsis_find(head, len) != SIZE_MAX || khi_autoit_find(head, len) != SIZE_MAX ||
           archive_magic(head, len);
}

kh_err khi_peovl_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    size_t at;
    if (khi_ishield_sfx_detect(data, len))
        return khi_ishield_sfx_walk(data, len, cb);
    at = khi_ishield_msi_find(data, len);
    if (at != SIZE_MAX)
        return khi_ishield_msi_walk(data + at, len - at, cb);
    at = khi_nsis_find(data, len);
    if (at != SIZE_MAX)
        return khi_nsis_walk(data + at, len - at, cb);
    at = khi_autoit_find(data, len);
    if (at != SIZE_MAX)
        return khi_autoit_walk(data + at, len - at, cb);
    if (archive_magic(data, len))
        return cb->part(cb->ud, data, len, "overlay") ? KH_ECANCELED : KH_OK;
    return KH_OK;
}
