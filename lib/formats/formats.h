/*
 * formats.h - parsers of file formats that lib/scan uses to describe objects (internal).
 */
#ifndef KHI_FORMATS_H
#define KHI_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#define KHI_PE_MAX_SECTIONS 96

typedef struct khi_pe_section {
    uint32_t va, vsize, raw_off, raw_size;
} khi_pe_section;

typedef struct khi_pe {
    int pe32plus;
    uint16_t nsections;
    uint32_t ep_rva;
    uint64_t ep_offset; /* file offset of the entry point; UINT64_MAX when it maps to no section */
    khi_pe_section sect[KHI_PE_MAX_SECTIONS];
} khi_pe;

/* Parse the DOS, COFF and optional headers and the section table from the first len bytes of
 * a file. Returns 1 when they are all there and consistent, else 0. Never reads past len. */
int khi_pe_parse(const uint8_t *data, size_t len, khi_pe *out);

/* ---- mail (fmt_mail.c) ---- */
/* Called with each decoded part (borrowed for the call) and its name; non-zero stops. */
typedef int (*khi_part_fn)(void *ud, const uint8_t *data, size_t len, const char *name);
/* Does this look like a mail message or an mbox? */
int khi_mail_detect(const uint8_t *data, size_t len);
/* Every part of a message or mbox. Returns KH_OK or KH_ENOMEM. */
#include <khien/error.h>
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

/* ---- HTML (fmt_html.c) ---- */
/* Does it start (after white space) with '<' and hold a known HTML tag in the first 4 KiB? */
int khi_html_detect(const uint8_t *data, size_t len);
/* "normalised" (the normalised page), then "data-N" (decoded data: URIs) and "script-N" (long
 * base64 runs in scripts, decoded). Uses two buffers of len + 1 bytes. Returns KH_OK or
 * KH_ENOMEM. */
kh_err khi_html_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud);

#endif
