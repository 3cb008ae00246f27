/*
 * fmt_pdf.h - the PDF stream decoders shared by fmt_pdf.c and its tests (internal).
 *
 * Each decoder reads in[0..in_len) and appends to a growable output that stops at out->max
 * bytes (the caller's per-stream, per-file and ratio bound), so no input can make a decoder
 * allocate more than max. Output already decoded is kept when the input turns out to be
 * corrupt or truncated: the caller hands out whatever came out.
 */
#ifndef KHI_FMT_PDF_H
#define KHI_FMT_PDF_H

#include <stddef.h>
#include <stdint.h>
#include <khien/error.h>

/* What a decoder ended on, worst first when a chain is summed up. */
typedef enum khi_pdf_status {
    KHI_PDF_OK = 0,  /* the whole input decoded */
    KHI_PDF_CORRUPT, /* bad or truncated input: the output is what decoded before it */
    KHI_PDF_FULL,    /* out->max reached: the output is cut there */
} khi_pdf_status;

typedef struct khi_pdf_out {
    uint8_t *data; /* owned, khi_free */
    size_t len, cap;
    size_t max; /* never grows past this */
} khi_pdf_out;

/* /DecodeParms of a Flate or LZW stream (the defaults when a key is missing). */
typedef struct khi_pdf_parms {
    int predictor;    /* 1 none, 2 TIFF, 10-15 PNG */
    int colors;       /* 1 */
    int bpc;          /* BitsPerComponent, 8 */
    long columns;     /* 1 */
    int early_change; /* LZW: 1 */
} khi_pdf_parms;

void khi_pdf_parms_default(khi_pdf_parms *p);

/* The filters; KHI_PDF_F_OTHER for DCT, JBIG2, CCITT, JPX, Crypt and names nobody knows. */
typedef enum khi_pdf_filter {
    KHI_PDF_F_OTHER = 0,
    KHI_PDF_F_FLATE,
    KHI_PDF_F_AHX,
    KHI_PDF_F_A85,
    KHI_PDF_F_LZW,
    KHI_PDF_F_RL,
} khi_pdf_filter;

/* The filter a (decoded, without '/') name stands for: full name or abbreviation. */
khi_pdf_filter khi_pdf_filter_by_name(const char *name, size_t len);

/* Decode in with filter f (and parms, for Flate and LZW: NULL = defaults) into out, which the
 * caller set up with data NULL, len 0 and its max. *out_status says how it ended. Returns KH_OK
 * or KH_ENOMEM (out is then freed). */
kh_err khi_pdf_decode(khi_pdf_filter f, const khi_pdf_parms *parms, const uint8_t *in,
                      size_t in_len, khi_pdf_out *out, khi_pdf_status *out_status);

#endif
