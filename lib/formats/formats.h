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

#endif
