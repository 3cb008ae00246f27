/*
 * fmt_pdf_crypt.c - decrypting PDFs that open without a password (the Standard security
 * handler with an empty user password).
 *
 * Malware is often sent as a PDF "encrypted" with an empty user password: any reader opens it
 * without asking, but every stream and string is RC4 or AES ciphertext, so a scanner that does
 * not decrypt sees none of the JavaScript or embedded files. The key is derived from the
 * /Encrypt dictionary and the first /ID string exactly as a reader does for the empty password
 * (ISO 32000-2, 7.6.4):
 *
 *   - revisions 2-4 (V 1, 2, 4: RC4 40-128 bits, AES-128 "AESV2"): MD5 of the padded password,
 *     /O, /P, the /ID string (and 0xFFFFFFFF when metadata is not encrypted), re-hashed 50
 *     times from revision 3; the password is right when the RC4 of the padding (revision 2) or
 *     of MD5(padding, /ID) under the key and 19 variations of it (3 and 4) gives /U. Each
 *     object has its own key: MD5 of the file key, the object and generation numbers (and
 *     "sAlT" for AES), at most 16 bytes;
 *   - revisions 5 and 6 (V 5, AES-256 "AESV3"): /U holds a hash, a validation salt and a key
 *     salt; the password is right when SHA-256 (revision 5) or the iterated SHA-256/384/512
 *     and AES-128 hash of revision 6 of it with the validation salt gives the hash; the file
 *     key is /UE decrypted with the same hash of the key salt. Every object uses the file key.
 *
 * RC4 is written here: OpenSSL 3 keeps it in its legacy provider only. MD5, SHA-2 and AES come
 * from OpenSSL's EVP interface. Decrypted data is never longer than the ciphertext (AES drops
 * the 16-byte IV and the padding), so callers size their output by the input. A wrong padding
 * is not an error: the bytes are kept as they decrypted.
 */
#include "formats/fmt_pdf.h"
#include "core/core.h"

#include <openssl/evp.h>
#include <string.h>

static const uint8_t pad32[32] = {0x28, 0xbf, 0x4e, 0x5e, 0x4e, 0x75, 0x8a, 0x41, 0x64, 0x00, 0x4e,
                                  0x56, 0xff, 0xfa, 0x01, 0x08, 0x2e, 0x2e, 0x00, 0xb6, 0xd0, 0x68,
                                  0x3e, 0x80, 0x2f, 0x0c, 0xa9, 0xfe, 0x64, 0x53, 0x69, 0x7a};

/* ---- RC4 ---- */

static void rc4(const uint8_t *key, size_t key_len, const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t s[256];
    for (unsigned i = 0; i < 256; i++)
        s[i] = (uint8_t)i;
    for (unsigned i = 0, j = 0; i < 256; i++) {
        j = (j + s[i] + key[i % key_len]) & 0xff;
        uint8_t t = s[i];
        s[i] = s[j];
        s[j] = t;
    }
    unsigned i = 0, j = 0;
    for (size_t k = 0; k < len; k++) {
        i = (i + 1) & 0xff;
        j = (j + s[i]) & 0xff;
        uint8_t t = s[i];
        s[i] = s[j];
        s[j] = t;
        out[k] = in[k] ^ s[(s[i] + s[j]) & 0xff];
    }
}

/* ---- hashes and AES through EVP ---- */

typedef struct chunk {
    const void *p;
    size_t n;
} chunk;

/* md over the n chunks into out (its full size). Returns 0 or -1. */
static int digest(const EVP_MD *md, const chunk *c, size_t n, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, c[i].p, c[i].n) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* AES-CBC without padding (len a multiple of 16), key of 16 or 32 bytes, iv NULL = zeros.
 * Returns 0 or -1. */
static int aes_cbc(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv,
                   const uint8_t *in, size_t len, uint8_t *out)
{
    static const uint8_t zero[16];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *ciph = key_len == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    int n1 = 0, n2 = 0;
    int ok = ctx && EVP_CipherInit_ex(ctx, ciph, NULL, key, iv ? iv : zero, enc) == 1 &&
             EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
    ok = ok && (len == 0 || EVP_CipherUpdate(ctx, out, &n1, in, (int)len) == 1) &&
         EVP_CipherFinal_ex(ctx, out + n1, &n2) == 1 && (size_t)(n1 + n2) == len;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* ---- revisions 2 to 4 ---- */

static kh_err open_r4(const khi_pdf_sec *s, khi_pdf_crypt *c)
{
    size_t n = s->r == 2 ? 5 : s->length_bits / 8;
    if (n < 5 || n > 16 || s->o_len < 32 || s->u_len < (s->r == 2 ? 32u : 16u))
        return KH_EFORMAT;
    uint8_t p[4], h[16];
    khi_put_le32(p, (uint32_t)s->p);
    static const uint8_t ff[4] = {0xff, 0xff, 0xff, 0xff};
    chunk ch[5] = {{pad32, 32}, {s->o, 32}, {p, 4}, {s->id0, s->id0_len}, {ff, 4}};
    if (digest(EVP_md5(), ch, s->r >= 4 && !s->encrypt_metadata ? 5 : 4, h))
        return KH_ECRYPTO;
    if (s->r >= 3)
        for (int i = 0; i < 50; i++) {
            chunk one = {h, n};
            if (digest(EVP_md5(), &one, 1, h))
                return KH_ECRYPTO;
        }
    uint8_t u[32];
    if (s->r == 2) {
        rc4(h, n, pad32, u, 32);
        if (memcmp(u, s->u, 32) != 0)
            return KH_EACCES;
    } else {
        chunk ch2[2] = {{pad32, 32}, {s->id0, s->id0_len}};
        if (digest(EVP_md5(), ch2, 2, u))
            return KH_ECRYPTO;
        rc4(h, n, u, u, 16);
        for (uint8_t i = 1; i <= 19; i++) {
            uint8_t k[16];
            for (size_t j = 0; j < n; j++)
                k[j] = h[j] ^ i;
            rc4(k, n, u, u, 16);
        }
        if (memcmp(u, s->u, 16) != 0)
            return KH_EACCES;
    }
    memcpy(c->key, h, n);
    c->key_len = n;
    return KH_OK;
}

/* ---- revisions 5 and 6 ---- */

/* The hash of the (empty) password with salt (8 bytes): SHA-256 for revision 5, the iterated
 * hash of revision 6 (ISO 32000-2, algorithm 2.B; no user key for the user password). */
static kh_err hash_r6(int r, const uint8_t *salt, uint8_t out[32])
{
    uint8_t k[64];
    size_t kl = 32;
    chunk c0 = {salt, 8};
    if (digest(EVP_sha256(), &c0, 1, k))
        return KH_ECRYPTO;
    if (r == 5) {
        memcpy(out, k, 32);
        return KH_OK;
    }
    uint8_t *k1 = khi_malloc(64 * 64), *e = khi_malloc(64 * 64);
    kh_err err = KH_OK;
    if (!k1 || !e) {
        err = KH_ENOMEM;
        goto out;
    }
    for (unsigned round = 0;; round++) {
        size_t l = 64 * kl; /* (password, K, user key) 64 times: the password is empty */
        for (unsigned i = 0; i < 64; i++)
            memcpy(k1 + i * kl, k, kl);
        if (aes_cbc(1, k, 16, k + 16, k1, l, e)) {
            err = KH_ECRYPTO;
            goto out;
        }
        unsigned sum = 0;
        for (unsigned i = 0; i < 16; i++)
            sum += e[i];
        const EVP_MD *md = sum % 3 == 0 ? EVP_sha256() : sum % 3 == 1 ? EVP_sha384() : EVP_sha512();
        chunk ce = {e, l};
        if (digest(md, &ce, 1, k)) {
            err = KH_ECRYPTO;
            goto out;
        }
        kl = sum % 3 == 0 ? 32 : sum % 3 == 1 ? 48 : 64;
        if (round >= 63 && e[l - 1] <= round + 1 - 32)
            break;
        if (round > 10000) { /* cannot happen: the last byte falls under the round within 300 */
            err = KH_EFORMAT;
            goto out;
        }
    }
    memcpy(out, k, 32);
out:
    khi_free(k1);
    khi_free(e);
    return err;
}

static kh_err open_r6(const khi_pdf_sec *s, khi_pdf_crypt *c)
{
    if (s->u_len < 48 || s->ue_len < 32)
        return KH_EFORMAT;
    uint8_t h[32];
    kh_err err = hash_r6(s->r, s->u + 32, h); /* validation salt */
    if (err != KH_OK)
        return err;
    if (memcmp(h, s->u, 32) != 0)
        return KH_EACCES;
    if ((err = hash_r6(s->r, s->u + 40, h)) != KH_OK) /* key salt */
        return err;
    if (aes_cbc(0, h, 32, NULL, s->ue, 32, c->key))
        return KH_ECRYPTO;
    c->key_len = 32;
    return KH_OK;
}

kh_err khi_pdf_crypt_open(const khi_pdf_sec *s, khi_pdf_crypt *c)
{
    memset(c, 0, sizeof(*c));
    c->stm = s->stm;
    c->str = s->str;
    if (s->r >= 2 && s->r <= 4 && s->v >= 1 && s->v <= 4)
        return open_r4(s, c);
    if ((s->r == 5 || s->r == 6) && s->v == 5)
        return open_r6(s, c);
    return KH_EFORMAT;
}

kh_err khi_pdf_crypt_data(const khi_pdf_crypt *c, int is_string, uint32_t num, uint32_t gen,
                          const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    khi_pdf_cm m = is_string ? c->str : c->stm;
    *out_len = 0;
    if (m == KHI_PDF_CM_NONE) {
        memcpy(out, in, len);
        *out_len = len;
        return KH_OK;
    }
    uint8_t key[32];
    size_t kl = c->key_len;
    if (m == KHI_PDF_CM_AESV3) {
        memcpy(key, c->key, kl);
    } else { /* the object's key */
        uint8_t ng[5] = {(uint8_t)num, (uint8_t)(num >> 8), (uint8_t)(num >> 16), (uint8_t)gen,
                         (uint8_t)(gen >> 8)};
        chunk ch[3] = {{c->key, c->key_len}, {ng, 5}, {"sAlT", 4}};
        uint8_t h[16];
        if (digest(EVP_md5(), ch, m == KHI_PDF_CM_AESV2 ? 3 : 2, h))
            return KH_ECRYPTO;
        kl = c->key_len + 5 < 16 ? c->key_len + 5 : 16;
        memcpy(key, h, kl);
    }
    if (m == KHI_PDF_CM_RC4) {
        rc4(key, kl, in, out, len);
        *out_len = len;
        return KH_OK;
    }
    /* AES: a 16-byte IV, then whole blocks (a cut last block is dropped), PKCS#7 padding */
    if (len < 32) {
        return KH_OK; /* an IV and at most a cut block: nothing to decrypt */
    }
    size_t body = (len - 16) & ~(size_t)15;
    if (aes_cbc(0, key, m == KHI_PDF_CM_AESV3 ? 32 : 16, in, in + 16, body, out))
        return KH_ECRYPTO;
    uint8_t padn = out[body - 1];
    if (padn >= 1 && padn <= 16 && padn <= body) {
        int good = 1;
        for (size_t i = body - padn; i < body; i++)
            good = good && out[i] == padn;
        if (good)
            body -= padn;
    }
    *out_len = body;
    return KH_OK;
}
