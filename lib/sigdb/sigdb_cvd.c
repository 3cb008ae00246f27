/*
 * sigdb_cvd.c - ClamAV's signed database containers: .cvd (signed), .cld and .cud.
 *
 * A .cvd is a 512-byte text header and a tar.gz of ordinary database files. The header:
 *   ClamAV-VDB:BUILD-TIME:VERSION:SIGS:FLEVEL:BODY-MD5:DSIG:BUILDER:STIME   (space padded)
 * DSIG is textbook RSA over the body MD5: the string is a number written in base-64 digits
 * (alphabet a-z A-Z 0-9 + /), least significant digit first; raised to the publisher's public
 * exponent modulo its modulus, its low 128 bits must equal the MD5. The keys come from the trust
 * directory (*.cvdkey files with lines "n=DECIMAL" and "e=DECIMAL"); without one, the MD5 is still
 * checked and the signature is reported as not verified. A tampered or truncated body, or a
 * signature that no configured key verifies, keeps the whole file out: half of a forged
 * database is still a forged database.
 *
 * .cld is what freshclam makes by applying differences to a .cvd: the same header whose MD5 no
 * longer describes the body (often a plain tar), so only the header is parsed. .cud is the
 * unsigned variant. Members are loaded as "daily.cvd/daily.ndb" so diagnostics name both.
 */
#include "sigdb/sigdb.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CVD_HEADER 512
#define MAX_MEMBER (1024u * 1024u * 1024u)

static int digit64(int c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* 1 when dsig verifies md5 (16 bytes) with modulus n and exponent e (decimal strings). */
static int rsa_verify(const uint8_t md5[16], const char *dsig, const char *n_dec, const char *e_dec)
{
    int ok = 0;
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *n = NULL, *e = NULL, *c = BN_new(), *p = BN_new();
    uint8_t plain[16];
    if (!ctx || !c || !p || !BN_dec2bn(&n, n_dec) || !BN_dec2bn(&e, e_dec))
        goto out;
    BN_zero(c);
    size_t len = strlen(dsig);
    if (len == 0 || len > 4096)
        goto out;
    for (size_t i = len; i-- > 0;) { /* least significant digit first */
        int d = digit64((unsigned char)dsig[i]);
        if (d < 0 || !BN_lshift(c, c, 6) || !BN_add_word(c, (BN_ULONG)d))
            goto out;
    }
    if (BN_cmp(c, n) >= 0 || !BN_mod_exp(p, c, e, n, ctx))
        goto out;
    if (BN_num_bits(p) > 128 && !BN_mask_bits(p, 128))
        goto out;
    if (BN_bn2binpad(p, plain, sizeof(plain)) != (int)sizeof(plain))
        goto out;
    ok = memcmp(plain, md5, 16) == 0;
out:
    BN_free(n);
    BN_free(e);
    BN_free(c);
    BN_free(p);
    BN_CTX_free(ctx);
    return ok;
}

/* Try every *.cvdkey in dir: 1 verified, 0 no key at all, -1 keys but none verifies. */
static int verify_with_keys(const char *dir, const uint8_t md5[16], const char *dsig)
{
    int keys = 0, ok = 0;
    if (!dir)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while (!ok && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 8 || strcmp(de->d_name + l - 7, ".cvdkey") != 0)
            continue;
        char path[4096], *text = NULL;
        size_t tl = 0;
        khi_snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (khi_file_read_all(path, 65536, &text, &tl, NULL, 0) != KH_OK)
            continue;
        char *nv = strstr(text, "n="), *ev = strstr(text, "e=");
        if (nv && ev) {
            nv += 2;
            ev += 2;
            nv[strspn(nv, "0123456789")] = '\0';
            ev[strspn(ev, "0123456789")] = '\0';
            keys++;
            ok = rsa_verify(md5, dsig, nv, ev);
        }
        khi_free(text);
    }
    closedir(d);
    return ok ? 1 : keys ? -1 : 0;
}

static int parse_uint(const char *s, unsigned *out)
{
    uint64_t v;
    if (khi_parse_u64(s, strlen(s), &v) != 0 || v > UINT32_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

kh_err khi_cvd_header(const char *trust_dir, const char *data, size_t len, int check_body,
                      khi_cvd_info *out, char *err, size_t err_len)
{
    char h[CVD_HEADER + 1], *f[12];
    int nf = 0;
    memset(out, 0, sizeof(*out));
    if (len < CVD_HEADER) {
        khi_snprintf(err, err_len, "shorter than the 512-byte header (%zu bytes)", len);
        return KH_EFORMAT;
    }
    memcpy(h, data, CVD_HEADER);
    h[CVD_HEADER] = '\0';
    size_t hl = strnlen(h, CVD_HEADER);
    while (hl && (h[hl - 1] == ' ' || h[hl - 1] == '\n' || h[hl - 1] == '\r'))
        h[--hl] = '\0';
    if (strncmp(h, "ClamAV-VDB:", 11) != 0) {
        khi_snprintf(err, err_len, "not a ClamAV database header (no 'ClamAV-VDB:')");
        return KH_EFORMAT;
    }
    for (char *p = h; p && nf < 12;) {
        f[nf++] = p;
        p = strchr(p, ':');
        if (p)
            *p++ = '\0';
    }
    if (nf < 8) {
        khi_snprintf(err, err_len, "header has %d fields, expected at least 8", nf);
        return KH_EFORMAT;
    }
    uint8_t md5[16];
    if (parse_uint(f[2], &out->version) || parse_uint(f[3], &out->sigs) ||
        parse_uint(f[4], &out->flevel) || strlen(f[5]) != 32 || khi_hex_decode(f[5], 16, md5)) {
        khi_snprintf(err, err_len, "header fields are malformed (version '%.20s', MD5 '%.40s')",
                     f[2], f[5]);
        return KH_EFORMAT;
    }
    khi_snprintf(out->built, sizeof(out->built), "%s", f[1]);
    khi_snprintf(out->builder, sizeof(out->builder), "%s", f[7]);
    if (nf > 8) {
        uint64_t st = 0;
        if (khi_parse_u64(f[8], strlen(f[8]), &st) == 0)
            out->stime = st;
    }
    if (!check_body)
        return KH_OK;
    uint8_t body_md5[16];
    unsigned dl = 0;
    if (EVP_Digest(data + CVD_HEADER, len - CVD_HEADER, body_md5, &dl, EVP_md5(), NULL) != 1)
        return KH_ECRYPTO;
    out->md5_ok = memcmp(body_md5, md5, 16) == 0;
    out->signed_ok = verify_with_keys(trust_dir, md5, f[6]);
    return KH_OK;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int is_container_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".cvd") || !strcasecmp(dot, ".cld") || !strcasecmp(dot, ".cud"));
}

/* Every database member of the tar (or tar.gz) body. */
static kh_err load_members(khi_sigdb *db, const char *file, const char *body, size_t len)
{
    kh_err err = KH_OK;
    khi_buf name, content;
    khi_buf_init(&name);
    khi_buf_init(&content);
    struct archive *a = archive_read_new();
    if (!a)
        return KH_ENOMEM;
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, body, len) != ARCHIVE_OK) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, 0, "body is not a tar archive: %s",
                       archive_error_string(a) ? archive_error_string(a) : "unknown format");
        err = KH_EFORMAT;
        goto out;
    }
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *mn = archive_entry_pathname(e);
        if (!mn || archive_entry_filetype(e) != AE_IFREG || is_container_name(mn))
            continue;
        khi_buf_truncate(&name, 0);
        khi_buf_truncate(&content, 0);
        if (khi_buf_printf(&name, "%s/%s", file, base_name(mn)) != KH_OK) {
            err = KH_ENOMEM;
            goto out;
        }
        char chunk[65536];
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
            if (content.len + (size_t)n > MAX_MEMBER) {
                khi_sigdb_diag(db, KH_DIAG_ERROR, name.data, 0, "member larger than 1 GiB; skipped");
                break;
            }
            if (khi_buf_append(&content, chunk, (size_t)n) != KH_OK) {
                err = KH_ENOMEM;
                goto out;
            }
        }
        if (n < 0) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, name.data, 0, "cannot be read: %s; skipped",
                           archive_error_string(a) ? archive_error_string(a) : "damaged");
            if (n == ARCHIVE_FATAL)
                break;
            continue;
        }
        kh_err le = khi_sigdb_load_mem(db, name.data, content.data ? content.data : "", content.len);
        if (le == KH_ENOMEM) {
            err = le;
            goto out;
        }
    }
    if (r == ARCHIVE_FATAL || r == ARCHIVE_FAILED)
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, 0, "body is damaged: %s",
                       archive_error_string(a) ? archive_error_string(a) : "unknown error");
out:
    archive_read_free(a);
    khi_buf_cleanup(&name);
    khi_buf_cleanup(&content);
    return err;
}

kh_err khi_cvd_load(khi_sigdb *db, const char *file, const char *data, size_t len)
{
    const char *dot = strrchr(file, '.');
    int signed_kind = dot && !strcasecmp(dot, ".cvd");
    char why[200];
    khi_cvd_info info;
    kh_err err = khi_cvd_header(db->trust_dir, data, len, signed_kind, &info, why, sizeof(why));
    /* a refused container is reported and counted like a rejected line; loading goes on */
    if (err != KH_OK) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, 0, "%s; not loaded", why);
        return err == KH_EFORMAT ? KH_OK : err;
    }
    if (signed_kind && !info.md5_ok) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, 0,
                       "body MD5 does not match the header: truncated or tampered; not loaded");
        return KH_OK;
    }
    if (signed_kind && info.signed_ok < 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, 0,
                       "digital signature does not verify with any key in %s; not loaded",
                       db->trust_dir);
        return KH_OK;
    }
    const char *check = !signed_kind ? "header only (this kind carries no valid body MD5)"
                        : info.signed_ok ? "MD5 and signature verified"
                                         : "MD5 verified, signature NOT verified (no publisher key configured)";
    khi_sigdb_diag(db, KH_DIAG_INFO, file, 0,
                   "ClamAV database version %u, %u signatures, functionality level %u, built %s by %s; %s",
                   info.version, info.sigs, info.flevel, info.built, info.builder, check);
    err = load_members(db, file, data + CVD_HEADER, len - CVD_HEADER);
    if (err == KH_OK)
        db->containers++;
    return err == KH_EFORMAT ? KH_OK : err;
}
