/*
 * sigdb_hash.c - hash signature lines: .hdb, .hsb and the allow-lists .fp, .sfp.
 *
 * Form: HASH:SIZE:NAME[:MIN_FLEVEL[:MAX_FLEVEL]]. The hash length says its type (32 hex = MD5,
 * 40 = SHA-1, 64 = SHA-256). SIZE is the file size in bytes; "*" (any size) is accepted only in
 * .hsb/.sfp, as in ClamAV, because it disables the size pre-filter for that hash type.
 *
 * .mdb/.msb (and .mdu/.msu) hold digests of a PE's sections instead: SECTIONSIZE:HASH:NAME
 * [:MIN_FLEVEL[:MAX_FLEVEL]], the size being the section's raw size and "*" any size (ClamAV's
 * newer form). ClamAV names MD5 ones .mdb and SHA-1/SHA-256 ones .msb; here too the hash's
 * length says its type in both. They are kept apart from the whole-object hashes (db->sects)
 * and matched only in the scan of a PE (lib/scan), so that a database without them costs a
 * plain scan nothing.
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

/* The hash and size fields of a line into s (type, digest, size). Returns KH_OK or KH_EFORMAT
 * (reported). */
static kh_err hash_and_size(khi_sigdb *db, const char *file, unsigned lineno, const char *h,
                            size_t hl, const char *z, size_t zl, int allow_any_size,
                            const char *any_where, khi_hashsig *s)
{
    switch (hl) {
    case 32:
        s->type = KHI_HASH_MD5;
        break;
    case 40:
        s->type = KHI_HASH_SHA1;
        break;
    case 64:
        s->type = KHI_HASH_SHA256;
        break;
    default:
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "hash has %zu hex digits; expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256)",
                       hl);
        return KH_EFORMAT;
    }
    if (khi_hex_decode(h, hl / 2, s->digest) != 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "hash '%.*s' is not hexadecimal",
                       (int)hl, h);
        return KH_EFORMAT;
    }
    if (zl == 1 && z[0] == '*') {
        if (!allow_any_size) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "size '*' is only allowed in %s",
                           any_where);
            return KH_EFORMAT;
        }
        s->size = KHI_SIZE_ANY;
    } else if (khi_parse_u64(z, zl, &s->size) != 0 || s->size == KHI_SIZE_ANY) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "size '%.*s' is not a number",
                       (int)zl, z);
        return KH_EFORMAT;
    }
    return KH_OK;
}

static kh_err push(khi_hashsig **v, size_t *n, size_t *cap, const khi_hashsig *s)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        khi_hashsig *nh = khi_reallocarray(*v, ncap, sizeof(*nh));
        if (!nh)
            return KH_ENOMEM;
        *v = nh;
        *cap = ncap;
    }
    (*v)[(*n)++] = *s;
    return KH_OK;
}

/* The end of a hash line once its hash and size are in s: the name (field 2) and the
 * functionality levels (fields 3 and 4); then s is added to the list v. */
static kh_err finish(khi_sigdb *db, const char *file, unsigned lineno, const char **f, size_t *fl,
                     size_t nf, khi_hashsig *s, khi_hashsig **v, size_t *n, size_t *cap)
{
    if (fl[2] == 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "signature name is empty");
        return KH_EFORMAT;
    }
    int bad;
    if (flevel_excludes(db, file, lineno, f, fl, nf, 3, &bad))
        return bad ? KH_EFORMAT : KH_OK;
    s->name = khi_pool_strndup(&db->names, f[2], fl[2]);
    if (!s->name)
        return KH_ENOMEM;
    return push(v, n, cap, s);
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
    if (hash_and_size(db, file, lineno, f[0], fl[0], f[1], fl[1], allow_any_size,
                      ".hsb/.sfp files", &s) != KH_OK)
        return KH_EFORMAT;
    s.is_fp = (uint8_t)(is_fp != 0);
    return finish(db, file, lineno, f, fl, nf, &s, &db->hashes, &db->nhashes, &db->caphashes);
}

kh_err khi_mdb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n)
{
    const char *f[6];
    size_t fl[6];
    size_t nf = split_fields(line, n, f, fl, 6);
    if (nf < 3 || nf > 5) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "expected SECTIONSIZE:HASH:NAME[:MINFL[:MAXFL]], found %zu field(s)", nf);
        return KH_EFORMAT;
    }
    khi_hashsig s;
    memset(&s, 0, sizeof(s));
    if (hash_and_size(db, file, lineno, f[1], fl[1], f[0], fl[0], 1, "", &s) != KH_OK)
        return KH_EFORMAT;
    return finish(db, file, lineno, f, fl, nf, &s, &db->sects, &db->nsects, &db->capsects);
}
