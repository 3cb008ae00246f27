/*
 * scan_ftype.c - deciding what an object is from its first bytes.
 *
 * The type decides two things: whether to open the object as a container (only then is it
 * handed to libarchive, so random data never goes through an archive reader's guesses), and
 * which ClamAV target type its body signatures may use. The tests are ordered from the most
 * specific magic to the weakest; tar and LZMA, which have no real magic, come last and check
 * a header checksum or plausible header fields.
 */
#include "scan/scan_ftype.h"
#include "formats/formats.h"

#include <string.h>

static const struct {
    const char *label;
    int kind;
    unsigned target;
} info[KHI_FT_COUNT] = {
#define KHI_FT_INFO(e, label, kind, target) {label, kind, target},
    KHI_FTYPES(KHI_FT_INFO)
#undef KHI_FT_INFO
};

const char *khi_ftype_label(khi_ftype t)
{
    return (unsigned)t < KHI_FT_COUNT ? info[t].label : "unknown";
}

int khi_ftype_container(khi_ftype t)
{
    return (unsigned)t < KHI_FT_COUNT ? info[t].kind : 0;
}

unsigned khi_ftype_target(khi_ftype t)
{
    return (unsigned)t < KHI_FT_COUNT ? info[t].target : 0;
}

static int has(const uint8_t *d, size_t len, size_t off, const void *magic, size_t n)
{
    return len >= off + n && memcmp(d + off, magic, n) == 0;
}

/* POSIX/GNU "ustar" magic, or a v7 header whose checksum adds up. */
static int is_tar(const uint8_t *d, size_t len)
{
    if (len < 512)
        return 0;
    if (memcmp(d + 257, "ustar", 5) == 0)
        return 1;
    unsigned long want = 0, sum = 0;
    int digits = 0;
    for (int i = 148; i < 156; i++) {
        if (d[i] >= '0' && d[i] <= '7') {
            want = want * 8 + (unsigned long)(d[i] - '0');
            digits++;
        } else if (d[i] != ' ' && d[i] != '\0') {
            return 0;
        }
    }
    if (!digits || d[0] == '\0')
        return 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : d[i];
    return sum == want;
}

/* .lzma "alone": properties byte, power-of-two-ish dictionary, sane uncompressed size. */
static int is_lzma_alone(const uint8_t *d, size_t len)
{
    if (len < 13 || d[0] != 0x5d)
        return 0;
    uint32_t dict = khi_le32(d + 1);
    if (dict < 4096)
        return 0;
    int ok = 0;
    for (int b = 12; b < 32; b++)
        if (dict == (1u << b) || dict == (1u << b) + (1u << (b - 1)))
            ok = 1;
    if (!ok)
        return 0;
    uint64_t usize = 0;
    for (int i = 0; i < 8; i++)
        usize |= (uint64_t)d[5 + i] << (8 * i);
    return usize == UINT64_MAX || usize < (1ull << 42);
}

static int is_pe(const uint8_t *d, size_t len)
{
    if (len < 64)
        return 0;
    uint32_t lfanew = khi_le32(d + 0x3c);
    return lfanew >= 4 && lfanew < len && len - lfanew >= 4 && memcmp(d + lfanew, "PE\0\0", 4) == 0;
}

khi_ftype khi_ftype_detect(const uint8_t *d, size_t len)
{
    if (has(d, len, 0, "PK\x03\x04", 4) || has(d, len, 0, "PK\x05\x06", 4) ||
        has(d, len, 0, "PK\x07\x08PK\x03\x04", 8) || has(d, len, 0, "PK00PK\x03\x04", 8))
        return KHI_FT_ZIP;
    if (has(d, len, 0, "7z\xbc\xaf\x27\x1c", 6))
        return KHI_FT_SEVENZIP;
    if (has(d, len, 0, "Rar!\x1a\x07", 6))
        return KHI_FT_RAR;
    if (has(d, len, 0, "MSCF\0\0\0\0", 8))
        return KHI_FT_CAB;
    if (has(d, len, 0, "070707", 6) || has(d, len, 0, "070701", 6) || has(d, len, 0, "070702", 6) ||
        has(d, len, 0, "\xc7\x71", 2) || has(d, len, 0, "\x71\xc7", 2))
        return KHI_FT_CPIO;
    if (has(d, len, 0, "!<arch>\n", 8))
        return KHI_FT_AR;
    if (has(d, len, 0, "xar!", 4))
        return KHI_FT_XAR;
    if (has(d, len, 0, "\x1f\x8b", 2))
        return KHI_FT_GZIP;
    if (has(d, len, 0, "BZh", 3) && len > 3 && d[3] >= '1' && d[3] <= '9')
        return KHI_FT_BZIP2;
    if (has(d, len, 0, "\xfd\x37\x7a\x58\x5a\x00", 6))
        return KHI_FT_XZ;
    if (has(d, len, 0, "\x28\xb5\x2f\xfd", 4))
        return KHI_FT_ZSTD;
    if (has(d, len, 0, "\x1f\x9d", 2))
        return KHI_FT_COMPRESS;
    if (has(d, len, 0, "\x04\x22\x4d\x18", 4))
        return KHI_FT_LZ4;
    if (has(d, len, 0, "LZIP", 4))
        return KHI_FT_LZIP;
    if (len >= 7 && d[2] == '-' && d[3] == 'l' && (d[4] == 'h' || d[4] == 'z') && d[6] == '-')
        return KHI_FT_LHA;
    if (khi_ole2_detect(d, len))
        return KHI_FT_OLE2;
    if (khi_chm_detect(d, len))
        return KHI_FT_CHM;
    if (khi_arj_detect(d, len))
        return KHI_FT_ARJ;
    if (khi_sis_detect(d, len))
        return KHI_FT_SIS;
    if (khi_tnef_detect(d, len))
        return KHI_FT_TNEF;
    if (khi_szdd_detect(d, len))
        return KHI_FT_SZDD;
    if (khi_rtf_detect(d, len))
        return KHI_FT_RTF;
    if (has(d, len, 0, "MZ", 2))
        return is_pe(d, len) ? KHI_FT_PE : KHI_FT_MSDOS;
    if (has(d, len, 0, "\x7f" "ELF", 4))
        return KHI_FT_ELF;
    if (has(d, len, 0, "\xfe\xed\xfa\xce", 4) || has(d, len, 0, "\xfe\xed\xfa\xcf", 4) ||
        has(d, len, 0, "\xce\xfa\xed\xfe", 4) || has(d, len, 0, "\xcf\xfa\xed\xfe", 4))
        return KHI_FT_MACHO;
    if (has(d, len, 0, "\xca\xfe\xba\xbe", 4) && len >= 8) {
        /* Mach-O universal binaries count a few architectures; Java class versions are >= 45 */
        uint32_t v = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
        return v < 40 ? KHI_FT_MACHO : KHI_FT_JAVA;
    }
    if (has(d, len, 0, "FWS", 3) || has(d, len, 0, "CWS", 3) || has(d, len, 0, "ZWS", 3))
        return KHI_FT_SWF;
    if (has(d, len, 0, "GIF87a", 6) || has(d, len, 0, "GIF89a", 6) ||
        has(d, len, 0, "\x89PNG\r\n\x1a\n", 8) || has(d, len, 0, "\xff\xd8\xff", 3) ||
        has(d, len, 0, "II*\0", 4) || has(d, len, 0, "MM\0*", 4))
        return KHI_FT_GRAPHICS;
    if (khi_pdf_detect(d, len)) /* "%PDF-" in the first 1 KiB: a bounded memmem */
        return KHI_FT_PDF;
    if (has(d, len, 0x8001, "CD001", 5) || has(d, len, 0x8801, "CD001", 5) ||
        has(d, len, 0x9001, "CD001", 5))
        return KHI_FT_ISO9660;
    if (is_tar(d, len))
        return KHI_FT_TAR;
    if (is_lzma_alone(d, len))
        return KHI_FT_LZMA;
    if (khi_mail_detect(d, len))
        return KHI_FT_MAIL;
    if (khi_binhex_detect(d, len))
        return KHI_FT_BINHEX; /* its magic line may follow a few lines of text */
    if (khi_html_detect(d, len))
        return KHI_FT_HTML; /* weakest: last */
    return KHI_FT_UNKNOWN;
}
