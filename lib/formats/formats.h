/*
 * formats.h - parsers of file formats that lib/scan uses to describe objects (internal).
 */
#ifndef KHI_FORMATS_H
#define KHI_FORMATS_H

#include <stddef.h>
#include <stdint.h>
#include <khien/error.h>
#include "core/core.h"

#define KHI_PE_MAX_SECTIONS 96

typedef struct khi_pe_section {
    uint32_t va, vsize, raw_off, raw_size;
    char name[9]; /* NUL-terminated */
} khi_pe_section;

typedef struct khi_pe {
    int pe32plus;
    uint16_t machine;         /* COFF Machine: 0x14c i386, 0x8664 AMD64, 0xaa64 ARM64... */
    uint16_t characteristics; /* COFF Characteristics: 0x2000 a DLL */
    uint32_t sect_align, file_align, size_of_headers; /* 0 when the optional header is short */
    uint16_t nsections;
    uint32_t ep_rva;
    uint64_t ep_offset; /* file offset of the entry point; UINT64_MAX when it maps to no section */
    uint64_t image_base;
    uint32_t size_of_image;
    uint32_t pe_off;   /* offset of "PE\0\0" */
    uint32_t sect_off; /* offset of the section table */
    khi_pe_section sect[KHI_PE_MAX_SECTIONS];
} khi_pe;

/* Parse the DOS, COFF and optional headers and the section table from the first len bytes of
 * a file. Returns 1 when they are all there and consistent, else 0. Never reads past len. */
int khi_pe_parse(const uint8_t *data, size_t len, khi_pe *out);
/* Section i's raw data and the entry point's file offset as ClamAV computes them, which is
 * what .ndb offsets EP+n/Sx+n/SL+n/SEx and .mdb section sizes are written against: the raw
 * offset rounded down and the raw size rounded up to FileAlignment (0x200 instead when a
 * section is aligned to 0x200 but not to it), the size cut at the end of a file of fsize
 * bytes; the entry point in the last section whose raw size covers it, or in the headers
 * (SizeOfHeaders rounded up to SectionAlignment). The entry point is UINT64_MAX when it maps
 * to no byte of the file. */
void khi_pe_section_raw(const khi_pe *pe, unsigned i, uint64_t fsize, uint64_t *out_raw,
                        uint64_t *out_size);
uint64_t khi_pe_entry_raw(const khi_pe *pe, uint64_t fsize);

/* ---- mail (fmt_mail.c) ---- */
/* Called with each decoded part (borrowed for the call) and its name; non-zero stops. */
typedef int (*khi_part_fn)(void *ud, const uint8_t *data, size_t len, const char *name);

/* Does this look like a mail message or an mbox? */
int khi_mail_detect(const uint8_t *data, size_t len);
/* Every part of a message or mbox. Returns KH_OK or KH_ENOMEM. */
kh_err khi_mail_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

/* ---- BinHex 4.0 (fmt_binhex.c) ---- */
/* Does the "(This file must be converted with BinHex" line start a line in the first 4 KiB? */
int khi_binhex_detect(const uint8_t *data, size_t len);
/* The data fork (named by the header's file name) and a non-empty resource fork
 * ("<name>.rsrc"), borrowed for the call. Output capped at 64 MiB. Returns KH_OK or KH_ENOMEM. */
kh_err khi_binhex_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

/* ---- MS-TNEF, winmail.dat (fmt_tnef.c) ---- */
/* Does it start with the TNEF signature 0x223E9F78? */
int khi_tnef_detect(const uint8_t *data, size_t len);
/* Every attachment (attAttachData) under its attAttachTitle or "attachment-N"; the bytes point
 * into data. Allocates nothing. Returns KH_OK. */
kh_err khi_tnef_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

/* ---- MS-SZDD, COMPRESS.EXE (fmt_szdd.c) ---- */
/* Does it start with "SZDD\x88\xf0\x27\x33" and a whole header? */
int khi_szdd_detect(const uint8_t *data, size_t len);
/* The decompressed file as one part "decompressed" (cut at the declared length and 64 MiB).
 * Returns KH_OK or KH_ENOMEM. */
kh_err khi_szdd_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

/* ---- RTF (fmt_rtf.c) ---- */
/* Does it start with "{\rt"? */
int khi_rtf_detect(const uint8_t *data, size_t len);
/* Every \objdata group decoded ("objdata-N"), and the file of an OLE1 Package (its base name)
 * or the native data of another OLE1 class ("objdata-N.<class>"), borrowed for the call. Uses
 * one buffer of at most len + 1 bytes. Returns KH_OK or KH_ENOMEM. */
kh_err khi_rtf_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);
/* The file inside an OLE1 Package native stream (type, label, path, then the file; also what an
 * OLE2 \x01Ole10Native stream holds after its size), named by the base name of its path, else
 * its label, else fallback; borrowed from d. Nothing for a link. Returns cb's result. */
int khi_ole1_package(const uint8_t *d, size_t n, const char *fallback, khi_part_fn cb, void *ud);

/* ---- HTML (fmt_html.c) ---- */
/* Does it start (after white space) with '<' and hold a known HTML tag in the first 4 KiB? */
int khi_html_detect(const uint8_t *data, size_t len);
/* "normalised" (the normalised page), then "data-N" (decoded data: URIs) and "script-N" (long
 * base64 runs in scripts, decoded). Uses two buffers of len + 1 bytes. Returns KH_OK or
 * KH_ENOMEM. */
kh_err khi_html_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

/* ---- normalised views for ClamAV target types 3 and 7 (fmt_htmlnorm.c, fmt_textnorm.c) ---- */
/* ClamAV's bounds: pages over 10 MiB are not normalised, the no-tags view is made only for
 * pages up to 2 MiB, texts over 5 MiB are not normalised. */
#define KHI_HTMLNORM_MAX ((size_t)10 << 20)
#define KHI_HTMLNOTAGS_MAX ((size_t)2 << 20)
#define KHI_TEXTNORM_MAX ((size_t)5 << 20)
/* The head that decides whether an object is text. */
#define KHI_TEXT_HEAD 1024
/* The "no-comment" view of a page (and its "no-tags" view when out_notags is not NULL), each in
 * a new buffer (owned by the caller, khi_free) of at most 2 * len + 64 bytes. KH_OK, KH_ENOMEM. */
kh_err khi_htmlnorm(const uint8_t *data, size_t len, uint8_t **out_nocomment, size_t *out_nc_len,
                    uint8_t **out_notags, size_t *out_nt_len);
/* Is the head of an object text as ClamAV reads it (no byte that never appears in text, or
 * printable UTF-16)? Looks at KHI_TEXT_HEAD bytes at most. */
int khi_text_detect(const uint8_t *data, size_t len);
/* Text normalisation, in pieces: state starts zeroed; out has room for len bytes; returns the
 * bytes written (ASCII lower-cased, white space runs as one space, other bytes < 0x20 and all
 * bytes > 0x7f dropped). */
typedef struct khi_textnorm_state {
    int space;
} khi_textnorm_state;
size_t khi_textnorm(khi_textnorm_state *state, const uint8_t *in, size_t len, uint8_t *out);

/* ---- OLE2 compound files and VBA (fmt_ole2.c, fmt_ole2_vba.c) ---- */
/* Does it start with the compound file magic D0 CF 11 E0 A1 B1 1A E1? */
int khi_ole2_detect(const uint8_t *data, size_t len);

typedef struct khi_ole2_info {
    int has_vba;       /* a VBA project: a `dir` in a VBA storage, or a `_VBA_PROJECT` stream */
    int nomem;         /* an allocation failed (the walk then returns KH_ENOMEM) */
    unsigned problems; /* damage met: truncation, chain loops, sectors outside the file... */
    char detail[256];  /* the first problem, in English; "" when there was none */
} khi_ole2_info;

/* Every stream with bytes, named by its storage path ("Macros/VBA/Module1"; UTF-8, control
 * characters such as the \x01 of "\x01Ole10Native" dropped, '/' in a name as '_'); then the
 * file inside each \x01Ole10Native Package ("<storage path>/<file name>"); then each VBA
 * module's decompressed source ("<storage path>/<stream>.vba"). Parts are borrowed for the
 * call. Damage is not an error: what can be read is handed out and out_info (may be NULL;
 * filled in) says what was wrong. Uses about 4x len (plus 16x a module for VBA), hands out at
 * most 64 MiB. Returns KH_OK or KH_ENOMEM. */
kh_err khi_ole2_walk_info(const uint8_t *data, size_t len, khi_part_fn cb, void *ud,
                          khi_ole2_info *out_info);
/* khi_ole2_walk_info without the info. */
kh_err khi_ole2_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

/* UTF-16LE (n bytes, up to a NUL unit) into out as UTF-8, cut to out_len - 1 bytes on a
 * character boundary: surrogate pairs joined, a lone surrogate as U+FFFD, control characters
 * dropped, '/' as '_'. out_len must be at least 1. */
void khi_utf16le_to_utf8(const uint8_t *p, size_t n, char *out, size_t out_len);

/* MS-OVBA decompression of a CompressedContainer (data[0] == 0x01) into a new buffer (owned by
 * the caller, khi_free; NULL when nothing came out) of at most max bytes. On damage (a chunk
 * signature other than 3, a copy before its chunk, data cut short) what was decoded before it
 * is returned and *out_damaged (may be NULL) is set. Returns KH_OK, KH_EFORMAT (no signature
 * byte: *out_buf NULL) or KH_ENOMEM. */
kh_err khi_ovba_decompress(const uint8_t *data, size_t len, size_t max, uint8_t **out_buf,
                           size_t *out_len, int *out_damaged);

/* Called for each module of a VBA dir stream with its stream name (UTF-8) and the offset of
 * its compressed source in that stream; non-zero stops. */
typedef int (*khi_vba_module_fn)(void *ud, const char *stream, uint32_t offset);
/* Each module (MODULESTREAMNAME, its Unicode form preferred, and MODULEOFFSET, reported at the
 * module's terminator) of a decompressed dir stream. Stops at the first record that runs past
 * len. Allocates nothing. */
void khi_vba_dir_modules(const uint8_t *dir, size_t len, khi_vba_module_fn cb, void *ud);

/* ---- what the archive readers share (ARJ, CHM, the ZIP methods libarchive lacks) ---- */
/* What went wrong with a part, or with the file as a whole (part NULL). */
typedef enum khi_fwarn {
    KHI_FWARN_DAMAGED = 0, /* malformed, truncated, CRC mismatch, unsupported method */
    KHI_FWARN_ENCRYPTED,   /* the part is encrypted and was not scanned */
    KHI_FWARN_TOOBIG,      /* the part is larger than KHI_FMT_MAX_PART: its head was scanned */
    KHI_FWARN_RATIO,       /* the part decodes to more than KHI_FMT_RATIO times its encoded size */
    KHI_FWARN_TOTAL,       /* the file decoded to more than the walker's cap for all its parts */
    KHI_FWARN_PARTS,       /* more objects than the walker looks at */
} khi_fwarn;
#define KHI_FMT_RATIO 1000u
#define KHI_FMT_RATIO_MIN (1u << 20) /* the ratio applies past this many decoded bytes */
/* detail is an English sentence, borrowed for the call; non-zero return stops the walk. */
typedef int (*khi_fwarn_fn)(void *ud, khi_fwarn what, const char *part, const char *detail);
typedef struct khi_parts_cb {
    khi_part_fn part; /* every part, borrowed for the call */
    khi_fwarn_fn warn;
    void *ud;
} khi_parts_cb;
/* No part is decompressed past this many bytes (nor, in sum, a CHM file's parts). */
#define KHI_FMT_MAX_PART ((size_t)64 << 20)
/* Reads up to len bytes at off into buf; returns the count read (short at the end). */
typedef size_t (*khi_read_fn)(void *ud, uint64_t off, uint8_t *buf, size_t len);

/* ---- ARJ (fmt_arj.c) ---- */
/* Does it start with a main header (0x60 0xEA) whose size is sane and whose CRC-32 matches? */
int khi_arj_detect(const uint8_t *data, size_t len);
/* Every file of the archive, decompressed (methods 0 stored, 1-3 LZH, 4 "fastest"), under its
 * stored path, borrowed for the call. A CRC mismatch, a damaged or truncated member, a
 * garbled (encrypted) one or an unknown method is a warning; what was decoded is still
 * handed out. One buffer of at most KHI_FMT_MAX_PART. Returns KH_OK, KH_ECANCELED (the
 * callback stopped the walk) or KH_ENOMEM. */
kh_err khi_arj_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- CHM, Microsoft Compiled HTML Help (fmt_chm.c, libmspack) ---- */
/* Does it start with "ITSF"? */
int khi_chm_detect(const uint8_t *data, size_t len);
/* Every file of the help file's directory (the "::DataSpace" system files excepted) under its
 * path without the leading '/' ("index.html", "#SYSTEM"), decompressed in memory, each and in
 * sum at most KHI_FMT_MAX_PART. Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_chm_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- ZIP members libarchive cannot decompress (fmt_zipx.c, fmt_zipdec.c) ---- */
/* Walks the central directory of the ZIP file of len bytes that rd reads, and hands out the
 * members compressed with Implode (6) or Deflate64 (9), decompressed, under their names;
 * every other member is left to libarchive. Each such member is named exactly once, to the
 * part callback or (when it could not be decoded at all) to the warning callback, so that the
 * caller can tell libarchive's walk to skip it. Reads only the end records, the directory (at
 * most 16 MiB) and those members. Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_zipx_walk(khi_read_fn rd, void *rd_ud, uint64_t len, const khi_parts_cb *cb);
/* Deflate64 (ZIP method 9) of in into out (appended), stopping at max_out bytes. Returns
 * KH_OK at the end of the last block, KH_ELIMIT when max_out came first, KH_EFORMAT on
 * damaged or truncated data (out keeps what was decoded), KH_ENOMEM. */
kh_err khi_deflate64_decode(const uint8_t *in, size_t in_len, size_t max_out, khi_buf *out);
/* PKWARE Implode (ZIP method 6; flags: the general purpose bit flag, bit 1 8K window, bit 2
 * literal tree) of in, out_len bytes into out (appended). Returns as khi_deflate64_decode. */
kh_err khi_implode_decode(const uint8_t *in, size_t in_len, unsigned flags, size_t out_len,
                          khi_buf *out);

/* ---- PDF (fmt_pdf.c, fmt_pdf_filter.c) ---- */
/* Is "%PDF-" in the first 1024 bytes? */
int khi_pdf_detect(const uint8_t *data, size_t len);
/* Every stream decoded ("obj-N", "obj-N.G"; a /JS stream "js-N"; an embedded file by its
 * file name), the objects of object streams ("objstm-N/obj-M") and /JS strings ("js-N"),
 * borrowed for the call. Encrypted files: streams raw unless their filters decode them
 * cleanly. Decoding capped at 64 MiB a stream and a file and at KHI_FMT_RATIO past
 * KHI_FMT_RATIO_MIN, each cap reported to cb->warn. Returns KH_OK or KH_ENOMEM. */
kh_err khi_pdf_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- installers: what their readers share (fmt_inst.c) ---- */
/* An installer's parts may point at the same compressed bytes more than once: what one walk
 * decompresses in sum is capped here (a warning says so). */
#define KHI_INST_MAX_TOTAL ((size_t)256 << 20)
/* A warning through cb->warn with a printf-formatted detail (cut at 256 bytes); returns its
 * result. */
int khi_fwarnf(const khi_parts_cb *cb, khi_fwarn what, const char *part, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* zlib (raw != 0: raw deflate, no header) of in into out (appended), at most max bytes
 * (allocations through khi_malloc). Returns KH_OK at the end of the stream, KH_ELIMIT when max
 * came first, KH_EFORMAT on damaged or truncated data (out keeps what was decoded), KH_ENOMEM. */
kh_err khi_inflate(const uint8_t *in, size_t in_len, int raw, size_t max, khi_buf *out);
/* Where the overlay of a PE starts (the end of the furthest section's raw data), or 0 when
 * the headers say nothing (no sections with raw data). */
uint64_t khi_pe_overlay_start(const khi_pe *pe);
/* Does the head of a PE overlay (its first bytes, up to 4 KiB are looked at) hold an
 * installer or container that khi_peovl_walk takes apart? Cheap: a few memcmp/memmem. */
int khi_peovl_detect(const uint8_t *head, size_t len);
/* The parts of a PE overlay: an InstallShield setup's files (fmt_ishield.c), an NSIS
 * installer's data blocks (fmt_nsis.c), an AutoIt script and its FileInstall files
 * (fmt_autoit.c), or, when the overlay starts with the magic of a zip, 7z, rar, cab, OLE2 or
 * gzip file, the overlay itself as the part "overlay". Returns KH_OK, KH_ECANCELED or
 * KH_ENOMEM. */
kh_err khi_peovl_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- InstallShield (fmt_ishield.c) ---- */
/* Does it start with an InstallShield setup's file list ("name\0Disk1\\name\0version\0size\0")? */
int khi_ishield_sfx_detect(const uint8_t *data, size_t len);
/* Each file of the list under its name; then, when the list holds data1.hdr and dataN.cab
 * (InstallShield cabinets, "ISc("), each file of the cabinets, decompressed (zlib blocks),
 * under its name. Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_ishield_sfx_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);
/* Offset of "InstallShield\0" followed by an MSI-based setup's file table in the first 4 KiB
 * of data, or SIZE_MAX. */
size_t khi_ishield_msi_find(const uint8_t *data, size_t len);
/* Each file of an MSI-based InstallShield setup (data starts at "InstallShield\0"):
 * de-obfuscated (nibble swap, XOR with the name) and inflated, under its name. Returns
 * KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_ishield_msi_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- NSIS, Nullsoft installers (fmt_nsis.c) ---- */
/* Offset of the first header (flags, 0xDEADBEEF, "NullsoftInst") in the first 64 KiB of
 * data, or SIZE_MAX. */
size_t khi_nsis_find(const uint8_t *data, size_t len);
/* The data blocks after the first header at data: the installer's script header ("header")
 * and each file's bytes under the name the script extracts it to (else "file-N", N from 1),
 * decompressed (zlib, LZMA; solid or one block at a time). Returns KH_OK, KH_ECANCELED or
 * KH_ENOMEM. */
kh_err khi_nsis_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);
/* NSIS's bzip2 (fmt_bzip2.c: blocks framed by a 0x31 byte, ended by 0x17, no CRCs) of in into
 * out (appended), at most max bytes. Returns KH_OK at the end marker, KH_ELIMIT when max came
 * first, KH_EFORMAT on damage or a missing end (out keeps what was decoded), KH_ENOMEM. */
kh_err khi_nsis_bzip2(const uint8_t *in, size_t n, size_t max, khi_buf *out);

/* ---- PE resources (fmt_peres.c) ---- */
/* The first resource of numbered type `type` (10: RCDATA) named `name` (ASCII, compared
 * without case), any language, in the PE whose headers are pe, read through rd: its file
 * offset and size (within one section's raw data). Returns 1 when found, else 0. */
int khi_pe_resource(const khi_pe *pe, khi_read_fn rd, void *ud, uint32_t type, const char *name,
                    uint64_t *out_off, uint32_t *out_size);

/* ---- AutoIt v3 compiled scripts (fmt_autoit.c) ---- */
/* Offset of the 16-byte AutoIt marker followed by "AU3!EA05" or "AU3!EA06" in the first
 * 4 KiB of data, or SIZE_MAX. */
size_t khi_autoit_find(const uint8_t *data, size_t len);
/* The script ("script.au3", EA05 as text, EA06 as the compiled tokens) and each FileInstall
 * file (its source base name), decrypted and decompressed. data starts at the marker.
 * Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_autoit_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- Symbian SIS (fmt_sis.c) ---- */
/* Does it start with the UIDs of an EPOC release 3/5 or 6 installation file? */
int khi_sis_detect(const uint8_t *data, size_t len);
/* Every file record's data (zlib-inflated unless the package says it is not compressed),
 * each language's copy, under the base name of its destination (else source) path.
 * Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_sis_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb);

/* ---- PE unpackers (fmt_peunpack.c, fmt_upx.c, fmt_nrv.c, fmt_wwpack.c, fmt_yc.c, fmt_mew.c,
 * fmt_aplib.c, fmt_aspack.c, fmt_upack.c, fmt_fsg.c, fmt_petite.c, fmt_pespin.c) ---- */
typedef enum khi_packer {
    KHI_PACKER_NONE = 0,
    KHI_PACKER_UPX,
    KHI_PACKER_WWPACK,
    KHI_PACKER_YC,
    KHI_PACKER_MEW,
    KHI_PACKER_ASPACK,
    KHI_PACKER_UPACK,
    KHI_PACKER_FSG,
    KHI_PACKER_PETITE,
    KHI_PACKER_PESPIN,
} khi_packer;
/* How many bytes at the entry point khi_pe_packer wants (fewer at the end of the file). */
#define KHI_PE_EP_BYTES 128
/* Which packer made this PE (pe: its parsed headers), judged from the headers and the ep_len
 * bytes at the entry point only; KHI_PACKER_NONE for most files. */
khi_packer khi_pe_packer(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* When a packer is recognised, the unpacked program as one part "<packer>-unpacked" (borrowed
 * for the call). Damage is a warning (part "<packer>-unpacked"); what was decoded is still
 * handed out. At most KHI_FMT_MAX_PART bytes. Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_pe_unpack_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);
/* Headers of a PE that khi_pe_rebuild writes; the image follows. */
#define KHI_PE_REBUILT_HDR 0x400u
/* A PE of one section ".unpack" holding img (img_len bytes) at rva, with the packed file's DOS
 * and PE headers (d, pe), NumberOfSections 1 and the entry point *oep (unchanged when oep is
 * NULL), appended to out; just img when the packed file's headers do not fit. Returns KH_OK or
 * KH_ENOMEM. */
kh_err khi_pe_rebuild(const uint8_t *d, const khi_pe *pe, const uint8_t *img, size_t img_len, uint32_t rva,
                      const uint32_t *oep, khi_buf *out);
/* The first section with a virtual size and no raw data that is followed by one with both
 * (where MEW and FSG decompress the program from the next one), or -1. */
int khi_pe_hollow(const khi_pe *pe);
/* Each further PE (an "MZ" whose e_lfanew leads to valid headers) in img from offset from on,
 * cut at the end of its headers or last section's raw data, as "embedded-pe-<hex offset>"
 * (at most 16); then, when zip is set, from the first ZIP local header ("PK\3\4") to the end
 * as "embedded-zip-<hex offset>". Returns KH_OK, KH_ECANCELED or KH_ENOMEM. */
kh_err khi_pe_embedded_walk(const uint8_t *img, size_t len, size_t from, int zip, const khi_parts_cb *cb);

/* Do the ep_len bytes at the entry point hold a UPX win32 stub (`pusha; mov esi, SRC;
 * lea edi, [esi+D]`, perhaps after a DLL's `cmp; jnz`)? */
int khi_upx_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked program as "upx-unpacked" (see fmt_upx.c). Returns as khi_pe_unpack_walk. */
kh_err khi_upx_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);
/* Raw LZMA1 (lc, lp, pb) of in into out, exactly cap bytes wanted. Returns KH_OK when cap bytes
 * came out, KH_EFORMAT on damage or an early end (*out_len says how many did), KH_ENOMEM. */
kh_err khi_upx_lzma(const uint8_t *in, size_t in_len, unsigned lc, unsigned lp, unsigned pb,
                    uint8_t *out, size_t cap, size_t *out_len);

/* Is the entry point WWPack32's loader (the last section, `push ebx; push ebp; mov ebp, eax`
 * and its `call $+5; pop eax; sub eax, 0x6d` at 0x68)? ep_len must be at least 0x7b. */
int khi_wwpack_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked image as "wwpack-unpacked" (see fmt_wwpack.c). Returns as khi_pe_unpack_walk. */
kh_err khi_wwpack_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);

/* Is the entry point yC's loader (0x60 into the last section, one of the yC 1.3 shapes giving
 * its first layer's length)? ep_len must be at least 0x80. */
int khi_yc_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The decrypted file as "yc-unpacked" (see fmt_yc.c). Returns as khi_pe_unpack_walk. */
kh_err khi_yc_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);

/* Is the entry point MEW 11's `jmp` to its loader in the PE header (0x154 or 0x158), after
 * an empty section followed by a filled one? */
int khi_mew_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked program as "mew-unpacked" (see fmt_mew.c). Returns as khi_pe_unpack_walk. */
kh_err khi_mew_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);
/* Does the entry point start ASPack 2.x's loader (`pusha; call ...; sub ebx, EP-1`)? */
int khi_aspack_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked image as "aspack-unpacked" (see fmt_aspack.c). Returns as khi_pe_unpack_walk. */
kh_err khi_aspack_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);
/* One ASPack block: its stream in (n bytes, read on as zeros for 0x10e more, as the loader
 * does) into out, cap bytes wanted, with the loader's 114 bytes of length and slot tables
 * (tables). Returns KH_OK when cap bytes came out, KH_EFORMAT on damage, bad tables or an
 * early end (*out_len says how many did), KH_ENOMEM. */
kh_err khi_aspack_decode(const uint8_t *tables, const uint8_t *in, size_t n, uint8_t *out,
                         size_t cap, size_t *out_len);
/* Is the entry point PESpin's (`call $+5; mov ebx, [esp]; add ebx, N` 4 bytes in), in the
 * last section with room for its loader after it? */
int khi_pespin_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The decrypted, decompressed program as "pespin-unpacked" (see fmt_pespin.c). Returns as
 * khi_pe_unpack_walk. */
kh_err khi_pespin_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);

/* aPLib (FSG, MEW) of in into out (out_cap bytes). Returns as khi_nrv_decode. */
kh_err khi_aplib_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len,
                        size_t *in_used);

/* Is the entry point Upack's loader in the PE header (PE32, three sections, a 0x148-byte
 * optional header, `mov esi, TABLE; lodsd; push eax` and a short jump at 10)? */
int khi_upack_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked program as "upack-unpacked" (see fmt_upack.c). Returns as khi_pe_unpack_walk. */
kh_err khi_upack_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);
/* Upack's LZMA (lp = pb = 0, lc 0..8, no leading zero byte) from buf[in..buf_len) into
 * buf[out0..end) of the same buffer: matches may reach any byte before them in buf, as in the
 * stub. *out_end says how far the output got. Returns KH_OK when it reached end, KH_EFORMAT on
 * damage, a reference before buf or the input running out, KH_ENOMEM. */
kh_err khi_upack_lzma(uint8_t *buf, size_t buf_len, size_t in, size_t out0, size_t end, unsigned lc,
                      size_t *out_end);
/* Is the entry point FSG 2.0's (`xchg [P], esp; popad`), 1.33's or 1.31's loader (its support
 * data in the headers), after an empty section followed by a filled one? ep_len >= 32. */
int khi_fsg_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked program as "fsg-unpacked" (see fmt_fsg.c). Returns as khi_pe_unpack_walk. */
kh_err khi_fsg_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);

/* Is the entry point Petite 2.1's or 2.2's loader (`mov eax, SECT; push; SEH frame; pushfw;
 * pushad`, SECT its own section: the last, or the one before the last)? ep_len >= 32. */
int khi_petite_detect(const uint8_t *ep, size_t ep_len, const khi_pe *pe);
/* The unpacked program as "petite-unpacked" (see fmt_petite.c). Returns as khi_pe_unpack_walk. */
kh_err khi_petite_walk(const uint8_t *data, size_t len, const khi_pe *pe, const khi_parts_cb *cb);

typedef enum khi_nrv_method { KHI_NRV2B, KHI_NRV2D, KHI_NRV2E } khi_nrv_method;
/* UCL's NRV2B/2D/2E of in into out (out_cap bytes), bits read a byte at a time or in
 * little-endian 32-bit words (le32). *out_len bytes were written, *in_used (may be NULL) read.
 * Returns KH_OK at the end marker, KH_ELIMIT when out_cap came first, KH_EFORMAT on damage or
 * truncation. Allocates nothing. */
kh_err khi_nrv_decode(khi_nrv_method m, int le32, const uint8_t *in, size_t in_len, uint8_t *out,
                      size_t out_cap, size_t *out_len, size_t *in_used);

#endif
