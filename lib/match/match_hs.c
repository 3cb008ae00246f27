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
 * Compiling 100,000 expressions takes a while, so the serialised databases are cached on disk
 * under a SHA-256 of every expression, flag and bound plus the Vectorscan version: a second
 * start with the same signatures deserialises instead of compiling.
 */
#include "match/match.h"

#include <hs/hs.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_PLAIN = 0, MODE_EOF_FIXED = 1, MODE_VERIFY = 2 };

typedef struct sigmeta {
    uint64_t off, shift, minlen;
    int32_t verify; /* index into verify[], -1 none */
    uint16_t target;
    uint8_t off_kind, mode, rejected;
} sigmeta;

struct khi_hsmatch {
    hs_database_t *db; /* NULL when no signature is usable */
    sigmeta *meta;
    size_t n;
    hs_database_t **verify;
    size_t nverify;
};

struct khi_hsscratch {
    hs_scratch_t *main;
    hs_scratch_t *verify;
};

#define CACHE_MAGIC "KHIENHS1"

typedef struct plan {
    const char **expr;
    unsigned *flags;
    unsigned *ids;
    hs_expr_ext_t *ext;
    const hs_expr_ext_t **extp;
    char **vexpr; /* verify expression per sig or NULL (owned) */
} plan;

static void plan_cleanup(plan *p, size_t n)
{
    if (p->vexpr)
        for (size_t i = 0; i < n; i++)
            khi_free(p->vexpr[i]);
    khi_free(p->vexpr);
    khi_free(p->expr);
    khi_free(p->flags);
    khi_free(p->ids);
    khi_free(p->ext);
    khi_free(p->extp);
}

void khi_hsmatch_destroy(khi_hsmatch *m)
{
    if (!m)
        return;
    hs_free_database(m->db);
    for (size_t i = 0; i < m->nverify; i++)
        hs_free_database(m->verify[i]);
    khi_free(m->verify);
    khi_free(m->meta);
    khi_free(m);
}

/* Decide expression, flags, bounds and mode of each signature. */
static kh_err make_plan(khi_hsmatch *m, const khi_bodysig *sigs, size_t n, plan *p)
{
    p->expr = khi_calloc(n, sizeof(*p->expr));
    p->flags = khi_calloc(n, sizeof(*p->flags));
    p->ids = khi_calloc(n, sizeof(*p->ids));
    p->ext = khi_calloc(n, sizeof(*p->ext));
    p->extp = khi_calloc(n, sizeof(*p->extp));
    p->vexpr = khi_calloc(n, sizeof(*p->vexpr));
    if (!p->expr || !p->flags || !p->ids || !p->ext || !p->extp || !p->vexpr)
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
        mt->verify = -1;
        p->expr[i] = s->regex;
        p->ids[i] = (unsigned)i;
        p->flags[i] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
        if (s->off_kind == KHI_OFF_ANY) {
            mt->mode = MODE_PLAIN;
        } else if (s->off_kind == KHI_OFF_ABS && fixed) {
            mt->mode = MODE_PLAIN;
            p->ext[i].flags = HS_EXT_FLAG_MIN_OFFSET | HS_EXT_FLAG_MAX_OFFSET;
            p->ext[i].min_offset = s->off + s->minlen;
            p->ext[i].max_offset = s->off + s->shift + s->minlen;
            p->extp[i] = &p->ext[i];
        } else if (s->off_kind == KHI_OFF_EOF && fixed) {
            mt->mode = MODE_EOF_FIXED;
            p->flags[i] = HS_FLAG_DOTALL;
        } else {
            mt->mode = MODE_VERIFY;
            if (s->off_kind == KHI_OFF_ABS) {
                p->ext[i].flags = HS_EXT_FLAG_MIN_OFFSET;
                p->ext[i].min_offset = s->off + s->minlen;
                p->extp[i] = &p->ext[i];
            }
            khi_buf v;
            khi_buf_init(&v);
            kh_err err = s->shift ? khi_buf_printf(&v, "^.{0,%llu}(?:%s)",
                                                   (unsigned long long)s->shift, s->regex)
                                  : khi_buf_printf(&v, "^(?:%s)", s->regex);
            if (err != KH_OK) {
                khi_buf_cleanup(&v);
                return err;
            }
            p->vexpr[i] = v.data;
        }
    }
    return KH_OK;
}

static void key_add(EVP_MD_CTX *ctx, const void *d, size_t n)
{
    EVP_DigestUpdate(ctx, d, n);
}

static kh_err cache_key(const plan *p, size_t n, char out_hex[65])
{
    uint8_t dig[32];
    unsigned dl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return KH_ENOMEM;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    key_add(ctx, CACHE_MAGIC, 8);
    const char *ver = hs_version();
    key_add(ctx, ver, strlen(ver) + 1);
    uint64_t n64 = n;
    key_add(ctx, &n64, sizeof(n64));
    for (size_t i = 0; i < n; i++) {
        key_add(ctx, p->expr[i], strlen(p->expr[i]) + 1);
        uint64_t f[4] = {p->flags[i], p->ext[i].flags, p->ext[i].min_offset, p->ext[i].max_offset};
        key_add(ctx, f, sizeof(f));
        if (p->vexpr[i])
            key_add(ctx, p->vexpr[i], strlen(p->vexpr[i]) + 1);
        key_add(ctx, "|", 1);
    }
    EVP_DigestFinal_ex(ctx, dig, &dl);
    EVP_MD_CTX_free(ctx);
    khi_hex_encode(dig, 32, out_hex);
    return KH_OK;
}

/* ---- cache file: magic, n, rejected (id, msg), verify dbs (id, bytes), main db ---- */

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
    m->verify = khi_calloc(nver ? nver : 1, sizeof(*m->verify));
    if (!m->verify) {
        err = KH_ENOMEM;
        goto out;
    }
    for (uint64_t i = 0; i < nver; i++) {
        uint64_t id = rd_u64(&r), bl = rd_u64(&r);
        const uint8_t *b = rd_bytes(&r, bl);
        if (r.bad || id >= m->n || m->meta[id].mode != MODE_VERIFY ||
            hs_deserialize_database((const char *)b, bl, &m->verify[i]) != HS_SUCCESS) {
            err = KH_EFORMAT;
            goto out;
        }
        m->nverify++;
        m->meta[id].verify = (int32_t)i;
    }
    uint64_t ml = rd_u64(&r);
    const uint8_t *mb = rd_bytes(&r, ml);
    if (r.bad) {
        err = KH_EFORMAT;
        goto out;
    }
    if (ml && hs_deserialize_database((const char *)mb, ml, &m->db) != HS_SUCCESS)
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
        if (err == KH_OK)
            err = put_db(&b, m->verify[m->meta[i].verify]);
    }
    if (err == KH_OK)
        err = put_db(&b, m->db);
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

static kh_err compile_verify(khi_hsmatch *m, plan *p, const char **rej_msg, kh_diag_fn diag,
                             void *ud, uint32_t *rejected)
{
    size_t n = m->n;
    m->verify = khi_calloc(n ? n : 1, sizeof(*m->verify));
    if (!m->verify)
        return KH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!p->vexpr[i])
            continue;
        hs_compile_error_t *ce = NULL;
        hs_database_t *db = NULL;
        if (hs_compile(p->vexpr[i], HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL,
                       &db, &ce) != HS_SUCCESS) {
            reject(m, i, ce ? ce->message : "compile failed", rej_msg, diag, ud, rejected);
            hs_free_compile_error(ce);
            continue;
        }
        m->meta[i].verify = (int32_t)m->nverify;
        m->verify[m->nverify++] = db;
    }
    return KH_OK;
}

/* Compile the signatures not rejected so far. The plan arrays are packed in place, so after
 * KH_ESTATE (one expression was rejected) the caller makes a new plan and calls again. */
static kh_err compile_main(khi_hsmatch *m, plan *p, const char **rej_msg, kh_diag_fn diag,
                           void *ud, uint32_t *rejected)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->meta[i].rejected)
            continue;
        p->expr[k] = p->expr[i];
        p->flags[k] = p->flags[i];
        p->ids[k] = (unsigned)i;
        p->extp[k] = p->extp[i];
        k++;
    }
    if (k == 0)
        return KH_OK;
    hs_compile_error_t *ce = NULL;
    hs_error_t rc = hs_compile_ext_multi(p->expr, p->flags, p->ids, p->extp, (unsigned)k,
                                         HS_MODE_BLOCK, NULL, &m->db, &ce);
    if (rc == HS_SUCCESS)
        return KH_OK;
    if (!ce || ce->expression < 0 || (size_t)ce->expression >= k) {
        if (diag)
            diag(ud, KH_DIAG_ERROR, NULL, 0, ce ? ce->message : "Vectorscan compile failed");
        hs_free_compile_error(ce);
        return KH_EMATCHER;
    }
    reject(m, p->ids[ce->expression], ce->message, rej_msg, diag, ud, rejected);
    hs_free_compile_error(ce);
    return KH_ESTATE;
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
        hs_free_database(m->db);
        m->db = NULL;
        for (size_t i = 0; i < m->nverify; i++)
            hs_free_database(m->verify[i]);
        khi_free(m->verify);
        m->verify = NULL;
        m->nverify = 0;
        for (size_t i = 0; i < n; i++) {
            m->meta[i].rejected = 0;
            m->meta[i].verify = -1;
        }
    }
    err = compile_verify(m, &p, rej_msg, diag, diag_ud, out_rejected);
    while (err == KH_OK) {
        err = compile_main(m, &p, rej_msg, diag, diag_ud, out_rejected);
        if (err != KH_ESTATE)
            break;
        /* packing reordered the plan: make it again, keeping what was rejected */
        plan_cleanup(&p, n);
        memset(&p, 0, sizeof(p));
        int32_t *keep_verify = khi_calloc(n, sizeof(*keep_verify));
        uint8_t *keep_rej = khi_calloc(n, 1);
        if (!keep_verify || !keep_rej) {
            khi_free(keep_verify);
            khi_free(keep_rej);
            err = KH_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            keep_rej[i] = m->meta[i].rejected;
            keep_verify[i] = m->meta[i].verify;
        }
        err = make_plan(m, sigs, n, &p);
        for (size_t i = 0; i < n; i++) {
            m->meta[i].rejected = keep_rej[i];
            m->meta[i].verify = keep_verify[i];
        }
        khi_free(keep_verify);
        khi_free(keep_rej);
    }
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
    if (m->db && hs_alloc_scratch(m->db, &s->main) != HS_SUCCESS)
        goto fail;
    for (size_t i = 0; i < m->nverify; i++)
        if (hs_alloc_scratch(m->verify[i], &s->verify) != HS_SUCCESS)
            goto fail;
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

typedef struct scan_ctx {
    const khi_hsmatch *m;
    khi_hsscratch *s;
    const uint8_t *data;
    size_t len;
    unsigned target;
    khi_hs_hit_fn cb;
    void *ud;
    uint32_t *seen; /* EOF_FIXED ids already reported (few) */
    size_t nseen, capseen;
    int oom;
} scan_ctx;

static int on_verify(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    *(int *)ctx = 1;
    return 1;
}

static int verify(scan_ctx *c, const sigmeta *mt)
{
    uint64_t start;
    if (mt->off_kind == KHI_OFF_EOF) {
        if (c->len < mt->off)
            return 0;
        start = c->len - mt->off;
    } else {
        start = mt->off;
    }
    if (start >= c->len)
        return 0;
    int found = 0;
    hs_error_t rc = hs_scan(c->m->verify[mt->verify], (const char *)c->data + start,
                            (unsigned)(c->len - start), 0, c->s->verify, on_verify, &found);
    return (rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED) && found;
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
    if (mt->target && mt->target != c->target)
        return 0;
    if (mt->mode == MODE_EOF_FIXED) {
        uint64_t start = to - mt->minlen;
        if (c->len < mt->off)
            return 0;
        uint64_t lo = c->len - mt->off;
        if (start < lo || start > lo + mt->shift || seen_before(c, id))
            return 0;
    } else if (mt->mode == MODE_VERIFY) {
        if (mt->verify < 0 || !verify(c, mt))
            return 0;
    }
    return c->cb(c->ud, id) ? 1 : 0;
}

kh_err khi_hsmatch_scan(const khi_hsmatch *m, khi_hsscratch *s, const uint8_t *data, size_t len,
                        unsigned target, khi_hs_hit_fn cb, void *ud)
{
    if (!m->db)
        return KH_OK;
    if (len > UINT32_MAX)
        return KH_ELIMIT;
    scan_ctx c = {m, s, data, len, target, cb, ud, NULL, 0, 0, 0};
    hs_error_t rc = hs_scan(m->db, (const char *)data, (unsigned)len, 0, s->main, on_match, &c);
    khi_free(c.seen);
    if (c.oom)
        return KH_ENOMEM;
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED ? KH_OK : KH_EMATCHER;
}
