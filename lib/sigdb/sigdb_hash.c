/*
 * sigdb_hash.c - hash signature lines: .hdb, .hsb and the allow-lists .fp, .sfp.
 *
 * Form: HASH:SIZE:NAME[:MIN_FLEVEL[:MAX_FLEVEL]]. The hash length says its type (32 hex = MD5,
 * 40 = SHA-1, 64 = SHA-256). SIZE is the file size in bytes; "*" (any size) is accepted only in
 * .hsb/.sfp, as in ClamAV, because it disables the size pre-filter for that hash type.
 */
#include "sigdb/sigdb.h"

#include <string.h>

/* Split line into at most max fields at ':'; returns the count. */
static size_t split_fields(const char *line, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i == n || line[i] == ':') {
            f[k] = line + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

/* Checks optional functionality-level fields; returns 1 if the line is for another engine. */
static int flevel_excludes(khi_sigdb *db, const char *file, unsigned lineno, const char **f,
                           size_t *fl, size_t nf, size_t first, int *bad)
{
    *bad = 0;
    for (size_t i = first; i < nf && i < first + 2; i++) {
        uint64_t v;
        if (fl[i] == 0)
            continue;
        if (khi_parse_u64(f[i], fl[i], &v) != 0) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                           "functionality level '%.*s' is not a number", (int)fl[i], f[i]);
            *bad = 1;
            return 1;
        }
        if ((i == first && v > KHI_FLEVEL) || (i == first + 1 && v < KHI_FLEVEL)) {
            khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno,
                           "signature is for engine functionality level %s %llu",
                           i == first ? ">=" : "<=", (unsigned long long)v);
            return 1;
        }
    }
    return 0;
}

kh_err khi_hdb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n, int allow_any_size, int is_fp)
{
    const char *f[6];
    size_t fl[6];
    size_t nf = split_fields(line, n, f, fl, 6);
    if (nf < 3 || nf > 5) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "expected HASH:SIZE:NAME[:MINFL[:MAXFL]], found %zu field(s)", nf);
        return KH_EFORMAT;
    }
    khi_hashsig s;
    memset(&s, 0, sizeof(s));
    switch (fl[0]) {
    case 32:
        s.type = KHI_HASH_MD5;
        break;
    case 40:
        s.type = KHI_HASH_SHA1;
        break;
    case 64:
        s.type = KHI_HASH_SHA256;
        break;
    default:
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "hash has %zu hex digits; expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256)",
                       fl[0]);
        return KH_EFORMAT;
    }
    if (khi_hex_decode(f[0], fl[0] / 2, s.digest) != 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "hash '%.*s' is not hexadecimal",
                       (int)fl[0], f[0]);
        return KH_EFORMAT;
    }
    if (fl[1] == 1 && f[1][0] == '*') {
        if (!allow_any_size) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                           "size '*' is only allowed in .hsb/.sfp files");
            return KH_EFORMAT;
        }
        s.size = KHI_SIZE_ANY;
    } else if (khi_parse_u64(f[1], fl[1], &s.size) != 0 || s.size == KHI_SIZE_ANY) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "size '%.*s' is not a number",
                       (int)fl[1], f[1]);
        return KH_EFORMAT;
    }
    if (fl[2] == 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "signature name is empty");
        return KH_EFORMAT;
    }
    int bad;
    if (flevel_excludes(db, file, lineno, f, fl, nf, 3, &bad))
        return bad ? KH_EFORMAT : KH_OK;
    s.is_fp = (uint8_t)(is_fp != 0);
    s.name = khi_pool_strndup(&db->names, f[2], fl[2]);
    if (!s.name)
        return KH_ENOMEM;
    if (db->nhashes == db->caphashes) {
        size_t ncap = db->caphashes ? db->caphashes * 2 : 1024;
        khi_hashsig *nh = khi_reallocarray(db->hashes, ncap, sizeof(*nh));
        if (!nh)
            return KH_ENOMEM;
        db->hashes = nh;
        db->caphashes = ncap;
    }
    db->hashes[db->nhashes++] = s;
    return KH_OK;
}
