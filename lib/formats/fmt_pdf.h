/*
 * fmt_pdf.h - the PDF stream decoders and the decryption shared by fmt_pdf.c and its tests
 * (internal).
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

/* ---- decryption (fmt_pdf_crypt.c) ---- */

/* How a stream or a string is encrypted. */
typedef enum khi_pdf_cm {
    KHI_PDF_CM_NONE = 0, /* not at all (the Identity crypt filter) */
    KHI_PDF_CM_RC4,
    KHI_PDF_CM_AESV2, /* AES-128-CBC */
    KHI_PDF_CM_AESV3, /* AES-256-CBC */
} khi_pdf_cm;

/* The values of a Standard security handler's /Encrypt dictionary and the first /ID string
 * (the pointers borrowed from the caller). */
typedef struct khi_pdf_sec {
    int v, r;
    unsigned length_bits; /* /Length, 40 when missing */
    int32_t p;
    int encrypt_metadata; /* 1 unless /EncryptMetadata false */
    const uint8_t *o, *u, *ue;
    size_t o_len, u_len, ue_len;
    const uint8_t *id0;
    size_t id0_len;
    khi_pdf_cm stm, str; /* for streams and strings: RC4 for V 1 and 2, the crypt filters' for 4, 5 */
} khi_pdf_sec;

typedef struct khi_pdf_crypt {
    khi_pdf_cm stm, str;
    uint8_t key[32];
    size_t key_len;
} khi_pdf_crypt;

/* The file key, when the empty user password opens the document. Returns KH_OK, KH_EACCES
 * (another password is needed), KH_EFORMAT (a revision or values this module does not know),
 * KH_ECRYPTO, KH_ENOMEM. */
kh_err khi_pdf_crypt_open(const khi_pdf_sec *s, khi_pdf_crypt *out);
/* Decrypt the stream (is_string 0) or string of object num/gen into out, which has room for
 * len bytes (the output is never longer). Returns KH_OK or KH_ECRYPTO. */
kh_err khi_pdf_crypt_data(const khi_pdf_crypt *c, int is_string, uint32_t num, uint32_t gen,
                          const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

#endif
