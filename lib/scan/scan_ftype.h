/*
 * scan_ftype.h - file types recognised by their first bytes (internal).
 *
 * One X-macro list: a new type is one line here plus its test in scan_ftype.c.
 * Columns: enum suffix, label, container kind (0 none, 1 archive, 2 compressed stream, 3 a
 * format whose parts lib/formats takes out: mail, binhex, tnef, szdd, rtf, html, ole2, pdf,
 * arj, chm, sis),
 * ClamAV target type that .ndb signatures use for it (0 = none).
 */
#ifndef KHI_SCAN_FTYPE_H
#define KHI_SCAN_FTYPE_H

#include <stddef.h>
#include <stdint.h>

#define KHI_FTYPES(X)                  \
    X(UNKNOWN, "unknown", 0, 0)        \
    X(ZIP, "zip", 1, 0)                \
    X(SEVENZIP, "7z", 1, 0)            \
    X(RAR, "rar", 1, 0)                \
    X(CAB, "cab", 1, 0)                \
    X(TAR, "tar", 1, 0)                \
    X(CPIO, "cpio", 1, 0)              \
    X(ISO9660, "iso9660", 1, 0)        \
    X(LHA, "lha", 1, 0)                \
    X(AR, "ar", 1, 0)                  \
    X(XAR, "xar", 1, 0)                \
    X(GZIP, "gzip", 2, 0)              \
    X(BZIP2, "bzip2", 2, 0)            \
    X(XZ, "xz", 2, 0)                  \
    X(ZSTD, "zstd", 2, 0)              \
    X(LZMA, "lzma", 2, 0)              \
    X(COMPRESS, "compress", 2, 0)      \
    X(LZ4, "lz4", 2, 0)                \
    X(LZIP, "lzip", 2, 0)              \
    X(PE, "pe", 0, 1)                  \
    X(MSDOS, "msdos", 0, 0)            \
    X(OLE2, "ole2", 3, 2)              \
    X(GRAPHICS, "graphics", 0, 5)      \
    X(ELF, "elf", 0, 6)                \
    X(MACHO, "macho", 0, 9)            \
    X(PDF, "pdf", 3, 10)               \
    X(SWF, "swf", 0, 11)               \
    X(JAVA, "java", 0, 12)             \
    X(MAIL, "mail", 3, 4)              \
    X(BINHEX, "binhex", 3, 0)          \
    X(TNEF, "tnef", 3, 0)              \
    X(SZDD, "szdd", 3, 0)              \
    X(RTF, "rtf", 3, 0)                \
    X(HTML, "html", 3, 0)              \
    X(ARJ, "arj", 3, 0)                \
    X(CHM, "chm", 3, 0)                \
    X(SIS, "sis", 3, 0)

typedef enum khi_ftype {
#define KHI_FT_ENUM(e, label, kind, target) KHI_FT_##e,
    KHI_FTYPES(KHI_FT_ENUM)
#undef KHI_FT_ENUM
    KHI_FT_COUNT
} khi_ftype;

khi_ftype khi_ftype_detect(const uint8_t *data, size_t len);
const char *khi_ftype_label(khi_ftype t);
/* 0 none, 1 archive, 2 compressed stream, 3 parts from lib/formats */
int khi_ftype_container(khi_ftype t);
unsigned khi_ftype_target(khi_ftype t);

#endif
