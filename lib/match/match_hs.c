/*
 * match_hs.c - every body signature in one Vectorscan database, with a compiled-database cache.
 *
 * Each .ndb pattern is already a Vectorscan expression (sigdb_ndb.c), so Vectorscan verifies
 * the whole pattern, gaps and alternatives included; what is left here is where a match may
 * start:
 *   "*"               SINGLEMATCH, reported as is.
 *   "n,m", fixed len  Vectorscan's own end-offset bounds (min/max_offset = n+len, n+m+len).
 *   "EOF-n,m", fixed  every match is checked: start = end - len must be in [size-n, size-n+m].
 *   variable length   the main database only says "somewhere"; an anchored expression
 *   with an offset    "^.{0,m}(?:RE)" in a small database of its own is then run from the
 *                     exact start offset and decides (a nested scan needs its own scratch).
 *   EP+n, Sx+n, SL+n, relative to the executable's layout (khi_exe_layout), known only per
 *   SEx, fixed len    object: every match is checked, start = end - len in the window.
 *   the same, variable as for "n,m" (the window's width is the signature's m) from the
 *                     window's start; for SEx, whose width is the section's size, the pattern
 *                     alone with leftmost start of match, run from the window's start: a match
 *                     whose leftmost start lies in the window decides (leftmost, so no other
 *                     start of that match could).
 * Every database exists twice: in block mode for objects held in memory, and in stream mode
 * for large ones read in chunks, so that memory does not grow with the size of a file. A
 * signature that either mode rejects is dropped from both, so both always agree.
 *
 * Compiling 100,000 expressions takes a while, so the serialised databases are cached on disk
 * under a SHA-256 of every expression, flag and bound plus the Vectorscan version: a second
 * start with the same signatures deserialises instead of compiling.
 */
#include "match/match.h"

#include <hs/hs.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_PLAIN = 0, MODE_EOF_FIXED = 1, MODE_VERIFY = 2, MODE_EXE_FIXED = 3, MODE_EXE_VERIFY = 4 };
enum { BLOCK = 0, STREAM = 1, NMODES = 2 };

#define CACHE_MAGIC "KHIENHS3"
#define VERIFY_CHUNK 65536
#define MAX_SHIFT 32767 /* the largest ",m" an anchored "^.{0,m}" verification takes */

typedef struct sigmeta {
    uint64_t off, shift, minlen;
    int32_t verify; /* index into verify[mode][], -1 none */
    uint32_t sect;  /* KHI_OFF_SX, KHI_OFF_SE */
    uint16_t target;
    uint8_t off_kind, mode, rejected, multi;
    uint8_t som; /* MODE_EXE_VERIFY: the verification reports leftmost starts */
} sigmeta;

struct khi_hsmatch {
    hs_database_t *db[NMODES]; /* NULL when no signature is usable */
    sigmeta *meta;
    size_t n;
    hs_database_t **verify[NMODES];
    size_t nverify;
};

struct khi_hsscratch {
    hs_scratch_t *main;
    hs_scratch_t *verify;
};

/* What each signature compiles to; arrays indexed by signature id. */
typedef struct plan {
    const char **expr;
    unsigned *flags;
    hs_expr_ext_t *ext;
    char **vexpr; /* verify expression (owned) or NULL */
    uint8_t *vsom; /* verify with leftmost start of match (MODE_EXE_VERIFY) */
} plan;

static void plan_cleanup(plan *p, size_t n)
{
    if (p->vexpr)
        for (size_t i = 0; i < n; i++)
            khi_free(p->vexpr[i]);
    khi_free(p->vexpr);
    khi_free(p->vsom);
    khi_free(p->expr);
    khi_free(p->flags);
    khi_free(p->ext);
    memset(p, 0, sizeof(*p));
}

static void free_dbs(khi_hsmatch *m)
{
    for (int md = 0; md < NMODES; md++) {
        hs_free_database(m->db[md]);
        m->db[md] = NULL;
        for (size_t i = 0; i < m->nverify; i++)
            hs_free_database(m->verify[md][i]);
        khi_free(m->verify[md]);
        m->verify[md] = NULL;
    }
    m->nverify = 0;
    for (size_t i = 0; i < m->n; i++)
        m->meta[i].verify = -1;
}

void khi_hsmatch_destroy(khi_hsmatch *m)
{
    if (!m)
        return;
    if (m->meta)
        free_dbs(m);
    khi_free(m->meta);
    khi_free(m);
}

/* Decide expression, flags, bounds and mode of each signature. */
static kh_err make_plan(khi_hsmatch *m, const khi_bodysig *sigs, size_t n, plan *p)
{
    p->expr = khi_calloc(n, sizeof(*p->expr));
    p->flags = khi_calloc(n, sizeof(*p->flags));
    p->ext = khi_calloc(n, sizeof(*p->ext));
    p->vexpr = khi_calloc(n, sizeof(*p->vexpr));
    p->vsom = khi_calloc(n, 1);
    if (!p->expr || !p->flags || !p->ext || !p->vexpr || !p->vsom)
        return KH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const khi_bodysig *s = &sigs[i];
        sigmeta *mt = &m->meta[i];
        int fixed = s->maxlen == s->minlen;
        mt->off = s->off;
        mt->shift = s->shift;
        mt->minlen = s->minlen;
        mt->target = s->target;
        mt->off_kind = s->off_kind;
        mt->sect = s->sect;
        mt->multi = s->multi;
        mt->verify = -1;
        p->expr[i] = s->regex;
        p->flags[i] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | (s->caseless ? HS_FLAG_CASELESS : 0);
        if (s->multi)
            p->flags[i] &= ~(unsigned)HS_FLAG_SINGLEMATCH; /* .ldb counts every match */
        if (s->off_kind == KHI_OFF_ANY) {
            mt->mode = MODE_PLAIN;
        } else if (s->off_kind == KHI_OFF_ABS && fixed) {
            mt->mode = MODE_PLAIN;
            p->ext[i].flags = HS_EXT_FLAG_MIN_OFFSET | HS_EXT_FLAG_MAX_OFFSET;
            p->ext[i].min_offset = s->off + s->minlen;
            p->ext[i].max_offset = s->off + s->shift + s->minlen;
        } else if (s->off_kind == KHI_OFF_EOF && fixed) {
            mt->mode = MODE_EOF_FIXED;
            p->flags[i] &= ~(unsigned)HS_FLAG_SINGLEMATCH;
        } else if (KHI_OFF_IS_EXE(s->off_kind) && fixed) {
            mt->mode = MODE_EXE_FIXED;
            p->flags[i] &= ~(unsigned)HS_FLAG_SINGLEMATCH;
        } else if (KHI_OFF_IS_EXE(s->off_kind)) {
            /* a window of constant width: anchored as for "n,m"; SEx's depends on the
             * section, so leftmost starts decide (Vectorscan refuses some large patterns
             * with them: such a signature is reported as rejected) */
            int som = s->off_kind == KHI_OFF_SE || s->shift > MAX_SHIFT;
            mt->mode = MODE_EXE_VERIFY;
            mt->som = (uint8_t)som;
            p->flags[i] |= HS_FLAG_SINGLEMATCH; /* the verification decides once */
            khi_buf v;
            khi_buf_init(&v);
            const char *ci = s->caseless ? "(?i)" : "";
            kh_err err = som ? khi_buf_printf(&v, "%s(?:%s)", ci, s->regex)
                         : s->shift ? khi_buf_printf(&v, "^%s.{0,%llu}(?:%s)", ci,
                                                     (unsigned long long)s->shift, s->regex)
                                    : khi_buf_printf(&v, "^%s(?:%s)", ci, s->regex);
            if (err != KH_OK) {
                khi_buf_cleanup(&v);
                return err;
            }
            p->vexpr[i] = v.data;
            p->vsom[i] = (uint8_t)som;
        } else {
            mt->mode = MODE_VERIFY;
            p->flags[i] |= HS_FLAG_SINGLEMATCH; /* the verification decides once */
            if (s->off_kind == KHI_OFF_ABS) {
                p->ext[i].flags = HS_EXT_FLAG_MIN_OFFSET;
                p->ext[i].min_offset = s->off + s->minlen;
            }
            khi_buf v;
            khi_buf_init(&v);
            kh_err err = s->shift ? khi_buf_printf(&v, "^%s.{0,%llu}(?:%s)",
                                                   s->caseless ? "(?i)" : "",
                                                   (unsigned long long)s->shift, s->regex)
                                  : khi_buf_printf(&v, "^%s(?:%s)", s->caseless ? "(?i)" : "",
                                                   s->regex);
            if (err != KH_OK) {
                khi_buf_cleanup(&v);
                return err;
            }
            p->vexpr[i] = v.data;
        }
    }
    return KH_OK;
}

static kh_err cache_key(const plan *p, size_t n, char out_hex[65])
{
    uint8_t dig[32];
    unsigned dl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return KH_ENOMEM;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, CACHE_MAGIC, 8);
    const char *ver = hs_version();
    EVP_DigestUpdate(ctx, ver, strlen(ver) + 1);
    uint64_t n64 = n;
    EVP_DigestUpdate(ctx, &n64, sizeof(n64));
    for (size_t i = 0; i < n; i++) {
        EVP_DigestUpdate(ctx, p->expr[i], strlen(p->expr[i]) + 1);
        uint64_t f[4] = {p->flags[i], p->ext[i].flags, p->ext[i].min_offset, p->ext[i].max_offset};
        EVP_DigestUpdate(ctx, f, sizeof(f));
        if (p->vexpr[i])
            EVP_DigestUpdate(ctx, p->vexpr[i], strlen(p->vexpr[i]) + 1);
        EVP_DigestUpdate(ctx, &p->vsom[i], 1);
        EVP_DigestUpdate(ctx, "|", 1);
    }
    EVP_DigestFinal_ex(ctx, dig, &dl);
    EVP_MD_CTX_free(ctx);
    khi_hex_encode(dig, 32, out_hex);
    return KH_OK;
}

/* ---- cache file: magic, n, rejected (id, msg), verify dbs (id, block, stream), main dbs ---- */

typedef struct reader {
    const uint8_t *p, *end;
    int bad;
} reader;

static uint64_t rd_u64(reader *r)
{
    uint64_t v = 0;
    if ((size_t)(r->end - r->p) < 8) {
        r->bad = 1;
        return 0;
    }
    memcpy(&v, r->p, 8);
    r->p += 8;
    return v;
}

static const uint8_t *rd_bytes(reader *r, uint64_t n)
{
    if ((uint64_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static int rd_db(reader *r, hs_database_t **out)
{
    uint64_t len = rd_u64(r);
    const uint8_t *b = rd_bytes(r, len);
    if (r->bad)
        return -1;
    if (len == 0) {
        *out = NULL;
        return 0;
    }
    return hs_deserialize_database((const char *)b, len, out) == HS_SUCCESS ? 0 : -1;
}

static kh_err cache_load(khi_hsmatch *m, const char *path, kh_diag_fn diag, void *ud,
                         uint32_t *rejected)
{
    char *data = NULL;
    size_t len = 0;
    kh_err err = khi_file_read_all(path, 0, &data, &len, NULL, 0);
    if (err != KH_OK)
        return err;
    reader r = {(const uint8_t *)data, (const uint8_t *)data + len, 0};
    const uint8_t *magic = rd_bytes(&r, 8);
    if (!magic || memcmp(magic, CACHE_MAGIC, 8) != 0 || rd_u64(&r) != m->n) {
        err = KH_EFORMAT;
        goto out;
    }
    uint64_t nrej = rd_u64(&r);
    for (uint64_t i = 0; i < nrej && !r.bad; i++) {
        uint64_t id = rd_u64(&r), ml = rd_u64(&r);
        const uint8_t *msg = rd_bytes(&r, ml);
        if (r.bad || id >= m->n) {
            err = KH_EFORMAT;
            goto out;
        }
        m->meta[id].rejected = 1;
        (*rejected)++;
        if (diag) {
            char text[400];
            khi_snprintf(text, sizeof(text), "signature %llu rejected by the matcher: %.*s",
                         (unsigned long long)id, (int)(ml > 300 ? 300 : ml), (const char *)msg);
            diag(ud, KH_DIAG_ERROR, NULL, 0, text);
        }
    }
    uint64_t nver = rd_u64(&r);
    if (r.bad || nver > m->n) {
        err = KH_EFORMAT;
        goto out;
    }
    for (int md = 0; md < NMODES; md++) {
        m->verify[md] = khi_calloc(nver ? nver : 1, sizeof(hs_database_t *));
        if (!m->verify[md]) {
            err = KH_ENOMEM;
            goto out;
        }
    }
    for (uint64_t i = 0; i < nver; i++) {
        uint64_t id = rd_u64(&r);
        if (r.bad || id >= m->n ||
            (m->meta[id].mode != MODE_VERIFY && m->meta[id].mode != MODE_EXE_VERIFY)) {
            err = KH_EFORMAT;
            goto out;
        }
        m->nverify++;
        if (rd_db(&r, &m->verify[BLOCK][i]) != 0 || rd_db(&r, &m->verify[STREAM][i]) != 0) {
            err = KH_EFORMAT;
            goto out;
        }
        m->meta[id].verify = (int32_t)i;
    }
    if (rd_db(&r, &m->db[BLOCK]) != 0 || rd_db(&r, &m->db[STREAM]) != 0)
        err = KH_EFORMAT;
out:
    khi_free(data);
    return err;
}

static kh_err put_u64(khi_buf *b, uint64_t v)
{
    return khi_buf_append(b, &v, sizeof(v));
}

static kh_err put_db(khi_buf *b, hs_database_t *db)
{
    char *bytes = NULL;
    size_t len = 0;
    if (!db)
        return put_u64(b, 0);
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return KH_EMATCHER;
    kh_err err = put_u64(b, len);
    if (err == KH_OK)
        err = khi_buf_append(b, bytes, len);
    free(bytes);
    return err;
}

static kh_err cache_store(const khi_hsmatch *m, const char *path, const char **rej_msg)
{
    khi_buf b;
    khi_buf_init(&b);
    kh_err err = khi_buf_append(&b, CACHE_MAGIC, 8);
    uint64_t nrej = 0;
    for (size_t i = 0; i < m->n; i++)
        nrej += m->meta[i].rejected;
    if (err == KH_OK)
        err = put_u64(&b, m->n);
    if (err == KH_OK)
        err = put_u64(&b, nrej);
    for (size_t i = 0; i < m->n && err == KH_OK; i++) {
        if (!m->meta[i].rejected)
            continue;
        const char *msg = rej_msg[i] ? rej_msg[i] : "";
        err = put_u64(&b, i);
        if (err == KH_OK)
            err = put_u64(&b, strlen(msg));
        if (err == KH_OK)
            err = khi_buf_puts(&b, msg);
    }
    if (err == KH_OK)
        err = put_u64(&b, m->nverify);
    for (size_t i = 0; i < m->n && err == KH_OK; i++) {
        if (m->meta[i].verify < 0)
            continue;
        err = put_u64(&b, i);
        for (int md = 0; md < NMODES && err == KH_OK; md++)
            err = put_db(&b, m->verify[md][m->meta[i].verify]);
    }
    for (int md = 0; md < NMODES && err == KH_OK; md++)
        err = put_db(&b, m->db[md]);
    if (err == KH_OK)
        err = khi_file_write_atomic(path, b.data, b.len, 0644);
    khi_buf_cleanup(&b);
    return err;
}

static void reject(khi_hsmatch *m, size_t id, const char *why, const char **rej_msg,
                   kh_diag_fn diag, void *ud, uint32_t *rejected)
{
    m->meta[id].rejected = 1;
    (*rejected)++;
    khi_free((void *)rej_msg[id]);
    rej_msg[id] = khi_strdup(why);
    if (diag) {
        char text[400];
        khi_snprintf(text, sizeof(text), "signature %zu rejected by the matcher: %s", id, why);
        diag(ud, KH_DIAG_ERROR, NULL, 0, text);
    }
}

static const unsigned hs_modes[NMODES] = {HS_MODE_BLOCK, HS_MODE_STREAM};
/* With leftmost start of match, stream mode must say how far back starts are tracked. */
static const unsigned hs_som_modes[NMODES] = {HS_MODE_BLOCK, HS_MODE_STREAM | HS_MODE_SOM_HORIZON_LARGE};

static kh_err compile_verify(khi_hsmatch *m, plan *p, const char **rej_msg, kh_diag_fn diag,
                             void *ud, uint32_t *rejected)
{
    size_t n = m->n;
    for (int md = 0; md < NMODES; md++) {
        m->verify[md] = khi_calloc(n ? n : 1, sizeof(hs_database_t *));
        if (!m->verify[md])
            return KH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!p->vexpr[i] || m->meta[i].rejected)
            continue;
        hs_database_t *db[NMODES] = {NULL, NULL};
        for (int md = 0; md < NMODES; md++) {
            hs_compile_error_t *ce = NULL;
            unsigned fl = HS_FLAG_DOTALL | (p->vsom[i] ? HS_FLAG_SOM_LEFTMOST : HS_FLAG_SINGLEMATCH);
            if (hs_compile(p->vexpr[i], fl, p->vsom[i] ? hs_som_modes[md] : hs_modes[md], NULL,
                           &db[md], &ce) != HS_SUCCESS) {
                reject(m, i, ce ? ce->message : "compile failed", rej_msg, diag, ud, rejected);
                hs_free_compile_error(ce);
                break;
            }
        }
        if (m->meta[i].rejected) {
            hs_free_database(db[0]);
            hs_free_database(db[1]);
            continue;
        }
        m->meta[i].verify = (int32_t)m->nverify;
        m->verify[BLOCK][m->nverify] = db[0];
        m->verify[STREAM][m->nverify] = db[1];
        m->nverify++;
    }
    return KH_OK;
}

/* Compile the signatures not rejected so far, in both modes. KH_ESTATE: one expression was
 * rejected (and marked); call again. */
static kh_err compile_main(khi_hsmatch *m, const plan *p, const char **rej_msg, kh_diag_fn diag,
                           void *ud, uint32_t *rejected)
{
    kh_err err = KH_OK;
    size_t n = m->n, k = 0;
    const char **expr = khi_calloc(n, sizeof(*expr));
    unsigned *flags = khi_calloc(n, sizeof(*flags));
    unsigned *ids = khi_calloc(n, sizeof(*ids));
    const hs_expr_ext_t **ext = khi_calloc(n, sizeof(*ext));
    if (!expr || !flags || !ids || !ext) {
        err = KH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (m->meta[i].rejected)
            continue;
        expr[k] = p->expr[i];
        flags[k] = p->flags[i];
        ids[k] = (unsigned)i;
        ext[k] = p->ext[i].flags ? &p->ext[i] : NULL;
        k++;
    }
    for (int md = 0; md < NMODES && k; md++) {
        hs_compile_error_t *ce = NULL;
        if (hs_compile_ext_multi(expr, flags, ids, ext, (unsigned)k, hs_modes[md], NULL,
                                 &m->db[md], &ce) == HS_SUCCESS)
            continue;
        if (!ce || ce->expression < 0 || (size_t)ce->expression >= k) {
            if (diag)
                diag(ud, KH_DIAG_ERROR, NULL, 0, ce ? ce->message : "Vectorscan compile failed");
            err = KH_EMATCHER;
        } else {
            reject(m, ids[ce->expression], ce->message, rej_msg, diag, ud, rejected);
            err = KH_ESTATE;
        }
        hs_free_compile_error(ce);
        for (int j = 0; j < NMODES; j++) {
            hs_free_database(m->db[j]);
            m->db[j] = NULL;
        }
        break;
    }
out:
    khi_free(expr);
    khi_free(flags);
    khi_free(ids);
    khi_free(ext);
    return err;
}

kh_err khi_hsmatch_create(const khi_bodysig *sigs, size_t n, const char *cache_dir,
                          kh_diag_fn diag, void *diag_ud, int *out_cache_hit,
                          uint32_t *out_rejected, khi_hsmatch **out)
{
    kh_err err = KH_OK;
    plan p;
    memset(&p, 0, sizeof(p));
    const char **rej_msg = NULL;
    khi_buf path;
    khi_buf_init(&path);
    *out_cache_hit = 0;
    *out_rejected = 0;
    khi_hsmatch *m = khi_calloc(1, sizeof(*m));
    if (!m)
        return KH_ENOMEM;
    m->n = n;
    m->meta = khi_calloc(n ? n : 1, sizeof(*m->meta));
    rej_msg = khi_calloc(n ? n : 1, sizeof(*rej_msg));
    if (!m->meta || !rej_msg) {
        err = KH_ENOMEM;
        goto out;
    }
    err = make_plan(m, sigs, n, &p);
    if (err != KH_OK || n == 0)
        goto done;
    char key[65];
    err = cache_key(&p, n, key);
    if (err != KH_OK)
        goto out;
    if (cache_dir) {
        err = khi_buf_printf(&path, "%s/hs-%s.db", cache_dir, key);
        if (err != KH_OK)
            goto out;
        uint32_t rej = 0;
        if (cache_load(m, path.data, diag, diag_ud, &rej) == KH_OK) {
            *out_cache_hit = 1;
            *out_rejected = rej;
            goto done;
        }
        /* a missing or unusable cache file: start over and compile */
        free_dbs(m);
        for (size_t i = 0; i < n; i++)
            m->meta[i].rejected = 0;
    }
    err = compile_verify(m, &p, rej_msg, diag, diag_ud, out_rejected);
    do {
        if (err == KH_OK || err == KH_ESTATE)
            err = compile_main(m, &p, rej_msg, diag, diag_ud, out_rejected);
    } while (err == KH_ESTATE);
    if (err != KH_OK)
        goto out;
    if (cache_dir && khi_mkdir_p(cache_dir, 0755) == KH_OK &&
        cache_store(m, path.data, rej_msg) != KH_OK && diag)
        diag(diag_ud, KH_DIAG_INFO, path.data, 0, "could not write the compiled-database cache");
done:
    if (err == KH_OK) {
        *out = m;
        m = NULL;
    }
out:
    if (rej_msg)
        for (size_t i = 0; i < n; i++)
            khi_free((void *)rej_msg[i]);
    khi_free(rej_msg);
    plan_cleanup(&p, n);
    khi_buf_cleanup(&path);
    khi_hsmatch_destroy(m);
    return err;
}

kh_err khi_hsscratch_create(const khi_hsmatch *m, khi_hsscratch **out)
{
    khi_hsscratch *s = khi_calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    for (int md = 0; md < NMODES; md++) {
        if (m->db[md] && hs_alloc_scratch(m->db[md], &s->main) != HS_SUCCESS)
            goto fail;
        for (size_t i = 0; i < m->nverify; i++)
            if (hs_alloc_scratch(m->verify[md][i], &s->verify) != HS_SUCCESS)
                goto fail;
    }
    *out = s;
    return KH_OK;
fail:
    khi_hsscratch_destroy(s);
    return KH_EMATCHER;
}

void khi_hsscratch_destroy(khi_hsscratch *s)
{
    if (!s)
        return;
    hs_free_scratch(s->main);
    hs_free_scratch(s->verify);
    khi_free(s);
}

/* ---- scanning ---- */

typedef struct scan_ctx {
    const khi_hsmatch *m;
    khi_hsscratch *s;
    const uint8_t *data; /* block mode: the object; stream mode: NULL */
    uint64_t len;        /* size of the whole object */
    unsigned target;
    const khi_exe_layout *exe; /* NULL: not an executable */
    khi_hs_hit_fn cb;
    void *ud;
    khi_read_fn read_at; /* stream mode: bytes of the object for verification */
    void *read_ud;
    uint32_t *seen; /* EOF_FIXED ids already reported (few) */
    size_t nseen, capseen;
    int oom, stopped;
} scan_ctx;

typedef struct vctx {
    int found;
    uint64_t limit; /* leftmost start of match at most this far into the scanned bytes */
} vctx;

static int on_verify(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    vctx *v = ctx;
    if (from > v->limit)
        return 0;
    v->found = 1;
    return 1;
}

/* Where a signature relative to the executable's layout may start: [*lo, *lo + *span].
 * 0 when the object has no such place (no layout, no such section, before the file). */
static int exe_window(const scan_ctx *c, const sigmeta *mt, uint64_t *lo, uint64_t *span)
{
    const khi_exe_layout *x = c->exe;
    uint64_t base;
    if (!x)
        return 0;
    *span = mt->shift;
    switch (mt->off_kind) {
    case KHI_OFF_EP_PLUS:
    case KHI_OFF_EP_MINUS:
        if (x->ep == UINT64_MAX || (mt->off_kind == KHI_OFF_EP_MINUS && mt->off > x->ep))
            return 0;
        *lo = mt->off_kind == KHI_OFF_EP_PLUS ? x->ep + mt->off : x->ep - mt->off;
        return 1;
    case KHI_OFF_SL:
        if (!x->nsect)
            return 0;
        base = x->sect[x->nsect - 1].raw;
        break;
    case KHI_OFF_SX:
    case KHI_OFF_SE:
        if (mt->sect >= x->nsect)
            return 0;
        base = x->sect[mt->sect].raw;
        break;
    default:
        return 0;
    }
    if (mt->off_kind == KHI_OFF_SE) {
        *lo = base;
        *span = x->sect[mt->sect].size + mt->shift;
    } else {
        *lo = base + mt->off;
    }
    return 1;
}

/* Run the anchored verification database of mt from start to the end of the object. */
static int verify_stream(scan_ctx *c, const sigmeta *mt, uint64_t start, uint64_t limit)
{
    hs_stream_t *st = NULL;
    vctx found = {0, limit};
    uint8_t *buf = khi_malloc(VERIFY_CHUNK);
    if (!buf) {
        c->oom = 1;
        return 0;
    }
    if (hs_open_stream(c->m->verify[STREAM][mt->verify], 0, &st) != HS_SUCCESS) {
        khi_free(buf);
        return 0;
    }
    for (uint64_t off = start; off < c->len && !found.found;) {
        size_t want = c->len - off < VERIFY_CHUNK ? (size_t)(c->len - off) : VERIFY_CHUNK;
        size_t got = c->read_at(c->read_ud, off, buf, want);
        if (got == 0)
            break;
        hs_error_t rc = hs_scan_stream(st, (const char *)buf, (unsigned)got, 0, c->s->verify,
                                       on_verify, &found);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)
            break;
        off += got;
    }
    hs_close_stream(st, c->s->verify, found.found ? NULL : on_verify, &found);
    khi_free(buf);
    return found.found;
}

static int verify(scan_ctx *c, const sigmeta *mt)
{
    uint64_t start, limit = UINT64_MAX;
    if (mt->mode == MODE_EXE_VERIFY) {
        if (!exe_window(c, mt, &start, &limit))
            return 0;
        if (!mt->som)
            limit = UINT64_MAX; /* the anchored expression holds the window itself */
    } else if (mt->off_kind == KHI_OFF_EOF) {
        if (c->len < mt->off)
            return 0;
        start = c->len - mt->off;
    } else {
        start = mt->off;
    }
    if (start >= c->len)
        return 0;
    if (!c->data)
        return verify_stream(c, mt, start, limit);
    vctx found = {0, limit};
    hs_error_t rc = hs_scan(c->m->verify[BLOCK][mt->verify], (const char *)c->data + start,
                            (unsigned)(c->len - start), 0, c->s->verify, on_verify, &found);
    return (rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED) && found.found;
}

static int seen_before(scan_ctx *c, uint32_t id)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen[i] == id)
            return 1;
    if (c->nseen == c->capseen) {
        size_t ncap = c->capseen ? c->capseen * 2 : 8;
        uint32_t *ns = khi_reallocarray(c->seen, ncap, sizeof(*ns));
        if (!ns) {
            c->oom = 1;
            return 1;
        }
        c->seen = ns;
        c->capseen = ncap;
    }
    c->seen[c->nseen++] = id;
    return 0;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    scan_ctx *c = ctx;
    const sigmeta *mt = &c->m->meta[id];
    if (mt->target != (c->target & 0xffffu) && (mt->target || (c->target & KHI_TARGET_ONLY)))
        return 0;
    if (mt->mode == MODE_EOF_FIXED) {
        uint64_t start = to - mt->minlen;
        if (c->len < mt->off)
            return 0;
        uint64_t lo = c->len - mt->off;
        if (start < lo || start > lo + mt->shift || seen_before(c, id))
            return 0;
    } else if (mt->mode == MODE_EXE_FIXED) {
        uint64_t start = to - mt->minlen, lo, span;
        if (!exe_window(c, mt, &lo, &span) || start < lo || start - lo > span ||
            (!mt->multi && seen_before(c, id)))
            return 0;
    } else if (mt->mode == MODE_VERIFY || mt->mode == MODE_EXE_VERIFY) {
        if (mt->verify < 0 || !verify(c, mt))
            return 0;
    }
    if (c->cb(c->ud, id)) {
        c->stopped = 1;
        return 1;
    }
    return 0;
}

kh_err khi_hsmatch_scan(const khi_hsmatch *m, khi_hsscratch *s, const uint8_t *data, size_t len,
                        unsigned target, const khi_exe_layout *exe, khi_hs_hit_fn cb, void *ud)
{
    if (!m->db[BLOCK])
        return KH_OK;
    if (len > UINT32_MAX)
        return KH_ELIMIT;
    scan_ctx c;
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.s = s;
    c.data = data;
    c.len = len;
    c.target = target;
    c.exe = exe;
    c.cb = cb;
    c.ud = ud;
    hs_error_t rc = hs_scan(m->db[BLOCK], (const char *)data, (unsigned)len, 0, s->main, on_match, &c);
    khi_free(c.seen);
    if (c.oom)
        return KH_ENOMEM;
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED ? KH_OK : KH_EMATCHER;
}

struct khi_hsstream {
    scan_ctx c;
    hs_stream_t *st;
};

kh_err khi_hsstream_open(const khi_hsmatch *m, khi_hsscratch *s, uint64_t size, unsigned target,
                         const khi_exe_layout *exe, khi_hs_hit_fn cb, void *ud,
                         khi_read_fn read_at, void *read_ud, khi_hsstream **out)
{
    khi_hsstream *h = khi_calloc(1, sizeof(*h));
    if (!h)
        return KH_ENOMEM;
    h->c.m = m;
    h->c.s = s;
    h->c.len = size;
    h->c.target = target;
    h->c.exe = exe;
    h->c.cb = cb;
    h->c.ud = ud;
    h->c.read_at = read_at;
    h->c.read_ud = read_ud;
    if (m->db[STREAM] && hs_open_stream(m->db[STREAM], 0, &h->st) != HS_SUCCESS) {
        khi_free(h);
        return KH_EMATCHER;
    }
    *out = h;
    return KH_OK;
}

kh_err khi_hsstream_feed(khi_hsstream *h, const uint8_t *data, size_t len)
{
    if (!h->st || h->c.stopped)
        return KH_OK;
    hs_error_t rc = hs_scan_stream(h->st, (const char *)data, (unsigned)len, 0, h->c.s->main,
                                   on_match, &h->c);
    if (h->c.oom)
        return KH_ENOMEM;
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED ? KH_OK : KH_EMATCHER;
}

int khi_hsstream_stopped(const khi_hsstream *h)
{
    return h->c.stopped;
}

kh_err khi_hsstream_close(khi_hsstream *h)
{
    kh_err err = KH_OK;
    if (!h)
        return KH_OK;
    if (h->st) {
        hs_error_t rc = hs_close_stream(h->st, h->c.s->main, h->c.stopped ? NULL : on_match, &h->c);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)
            err = KH_EMATCHER;
    }
    if (h->c.oom)
        err = KH_ENOMEM;
    khi_free(h->c.seen);
    khi_free(h);
    return err;
}

int khi_hsmatch_rejected(const khi_hsmatch *m, uint32_t id)
{
    return id < m->n && m->meta[id].rejected;
}
