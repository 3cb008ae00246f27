/*
 * console_tls.c - the console's certificate: made once, pinned by agents.
 *
 * A province's console rarely has a certificate from a public authority, and agents must not
 * be talked into reporting to an impostor. So at first start the server makes a P-256 key and
 * a self-signed certificate (OpenSSL), and its "pin" - sha256// and the base64 SHA-256 of the
 * public key, the form libcurl's CURLOPT_PINNEDPUBLICKEY takes - is handed to agents with their
 * enrolment token. An agent then accepts that key and no other, whatever the certificate says.
 */
#include <khien/console.h>
#include "core/core.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static kh_err make_cert(const char *crt, const char *key, char *err, size_t err_len)
{
    kh_err e = KH_ECRYPTO;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f = NULL;
    if (!pk || !x)
        goto out;
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
    X509_set_pubkey(x, pk);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Khiên", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"khien-console", -1, -1, 0);
    X509_set_issuer_name(x, n);
    if (!X509_sign(x, pk, EVP_sha256()))
        goto out;
    mode_t old = umask(077);
    f = fopen(key, "wx");
    umask(old);
    if (!f || !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL)) {
        khi_snprintf(err, err_len, "%s: cannot write the key", key);
        e = KH_EIO;
        goto out;
    }
    fclose(f);
    f = fopen(crt, "wx");
    if (!f || !PEM_write_X509(f, x)) {
        khi_snprintf(err, err_len, "%s: cannot write the certificate", crt);
        e = KH_EIO;
        goto out;
    }
    e = KH_OK;
out:
    if (f)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
    return e;
}

kh_err kh_console_tls_ensure(const char *dir, char *out_crt, size_t crt_len, char *out_key,
                             size_t key_len, char out_pin[64], char *err, size_t err_len)
{
    kh_err e = khi_mkdir_p(dir, 0700);
    if (e != KH_OK) {
        khi_snprintf(err, err_len, "%s: %s", dir, kh_strerror(e));
        return e;
    }
    khi_snprintf(out_crt, crt_len, "%s/console.crt", dir);
    khi_snprintf(out_key, key_len, "%s/console.key", dir);
    struct stat st;
    if (stat(out_crt, &st) != 0 && (e = make_cert(out_crt, out_key, err, err_len)) != KH_OK)
        return e;
    FILE *f = fopen(out_crt, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!x) {
        khi_snprintf(err, err_len, "%s: not a PEM certificate", out_crt);
        return KH_EFORMAT;
    }
    unsigned char *der = NULL, h[32];
    int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
    unsigned hl = 0;
    e = n > 0 && EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(), NULL) ? KH_OK : KH_ECRYPTO;
    if (e == KH_OK) {
        memcpy(out_pin, "sha256//", 8);
        EVP_EncodeBlock((unsigned char *)out_pin + 8, h, 32);
    }
    OPENSSL_free(der);
    X509_free(x);
    return e;
}
