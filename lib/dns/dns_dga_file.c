/*
 * dns_dga_file.c - the DGA model file (data/dns/dga.model): writing it and reading it back.
 *
 * The file is text, whitespace-separated tokens, so that it can be diffed and read:
 *
 *   khien-dga 3 40 21                 version, trigram alphabet, feature count
 *   mean F...  sd F...  weights B W...  feature scaling and the logistic weights
 *   sets FPR 5 32 T...                  thresholds on the statistic of 5..32 names of one client
 *                                       flagging that share of benign sets; a line per level
 *                                       (not in version 2, which is still read)
 *   benign N  then N "index count"    non-zero trigram counts of each class
 *   dga N     ...
 *   suffixes N  then N "suffix benign dga"   public-suffix counts
 *   words N     then N "word holders"         the vocabulary learnt from benign names
 *
 * The reader takes untrusted bytes (a model may come from anywhere): every number is bounded,
 * every string checked against its alphabet and length, duplicates and counts that could
 * overflow the marginals refused, and the buffer need not be NUL-terminated, so the fuzz target
 * (fuzz/fuzz_dns_model.c) feeds it raw input.
 */
#include "dns/dns_dga_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NFEAT KHI_DGA_NFEAT
#define COUNT_MAX (1u << 30)

/* ---- writing ---- */

static kh_err put_doubles(khi_buf *b, const char *key, const double *v, int n)
{
    kh_err err = khi_buf_printf(b, "%s", key);
    for (int i = 0; err == KH_OK && i < n; i++)
        err = khi_buf_printf(b, " %.17g", v[i]);
    if (err == KH_OK)
        err = khi_buf_puts(b, "\n");
    return err;
}

static kh_err put_tab(khi_buf *b, const char *key, const khi_dga_tab *t, int ncounts)
{
    kh_err err = khi_buf_printf(b, "%s %zu\n", key, t->n);
    for (size_t i = 0; err == KH_OK && i < t->cap; i++) {
        const khi_dga_ent *e = &t->e[i];
        if (!e->h)
            continue;
        if (ncounts == 2)
            err = khi_buf_printf(b, "%.*s %u %u\n", (int)e->len, t->pool + e->off, e->cnt[0],
                                 e->cnt[1]);
        else
            err = khi_buf_printf(b, "%.*s %u\n", (int)e->len, t->pool + e->off, e->cnt[0]);
    }
    return err;
}

kh_err kh_dns_dga_save(const kh_dns_dga *m, const char *path)
{
    if (!m || !path)
        return KH_EINVAL;
    khi_buf b;
    khi_buf_init(&b);
    kh_err err = khi_buf_printf(&b, "khien-dga %d %d %d\n", m->nlevels ? KHI_DGA_VERSION : 2,
                                KHI_DGA_SYM, NFEAT);
    if (err == KH_OK)
        err = put_doubles(&b, "mean", m->mean, NFEAT);
    if (err == KH_OK)
        err = put_doubles(&b, "sd", m->sd, NFEAT);
    if (err == KH_OK)
        err = put_doubles(&b, "weights", m->w, NFEAT + 1);
    for (unsigned l = 0; err == KH_OK && l < m->nlevels; l++) {
        err =
            khi_buf_printf(&b, "sets %.9g %d %d", m->set_fpr[l], KHI_DGA_SET_MIN, KHI_DGA_SET_MAX);
        for (int k = KHI_DGA_SET_MIN; err == KH_OK && k <= KHI_DGA_SET_MAX; k++)
            err = khi_buf_printf(&b, " %.9g", m->set_thr[l][k]);
        if (err == KH_OK)
            err = khi_buf_puts(&b, "\n");
    }
    for (int k = 0; err == KH_OK && k < 2; k++) {
        size_t nz = 0;
        for (size_t t = 0; t < KHI_DGA_NTRI; t++)
            nz += m->tri[k][t] != 0;
        err = khi_buf_printf(&b, "%s %zu\n", k ? "dga" : "benign", nz);
        for (size_t t = 0; err == KH_OK && t < KHI_DGA_NTRI; t++)
            if (m->tri[k][t])
                err = khi_buf_printf(&b, "%zu %u\n", t, m->tri[k][t]);
    }
    if (err == KH_OK)
        err = put_tab(&b, "suffixes", &m->sfx, 2);
    if (err == KH_OK)
        err = put_tab(&b, "words", &m->voc, 1);
    if (err == KH_OK)
        err = khi_file_write_atomic(path, b.data, b.len, 0644);
    khi_buf_cleanup(&b);
    return err;
}

/* ---- reading ---- */

typedef struct rd {
    const char *p, *e;
    char tok[80];
    size_t tl;
} rd;

/* Next whitespace-separated token into r->tok; -1 at the end or when longer than the buffer. */
static int next(rd *r)
{
    while (r->p < r->e && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
    const char *s = r->p;
    while (r->p < r->e && *r->p != ' ' && *r->p != '\n' && *r->p != '\r' && *r->p != '\t')
        r->p++;
    r->tl = (size_t)(r->p - s);
    if (r->tl == 0 || r->tl >= sizeof(r->tok))
        return -1;
    memcpy(r->tok, s, r->tl);
    r->tok[r->tl] = '\0';
    return 0;
}

static int next_is(rd *r, const char *want)
{
    return next(r) == 0 && strcmp(r->tok, want) == 0;
}

static int next_u64(rd *r, uint64_t max, uint64_t *out)
{
    return next(r) == 0 && khi_parse_u64(r->tok, r->tl, out) == 0 && *out <= max ? 0 : -1;
}

/* key (NULL: none), then n finite numbers. */
static int next_doubles(rd *r, const char *key, double *v, int n)
{
    if (key && !next_is(r, key))
        return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        if (next(r) != 0)
            return -1;
        v[i] = strtod(r->tok, &end);
        if (end != r->tok + r->tl || !isfinite(v[i]))
            return -1;
    }
    return 0;
}

/* Suffixes: [a-z0-9.-]; words: letters of KHI_DGA_WMIN..KHI_DGA_WMAX. */
static int good_string(const char *s, size_t n, int word)
{
    if (word && (n < KHI_DGA_WMIN || n > KHI_DGA_WMAX))
        return 0;
    if (n == 0 || n > KH_DNS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok =
            (c >= 'a' && c <= 'z') || (!word && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
        if (!ok)
            return 0;
    }
    return 1;
}

static kh_err read_tab(rd *r, const char *key, khi_dga_tab *t, int ncounts, char *errbuf,
                       size_t errbuf_len)
{
    uint64_t n = 0;
    if (!next_is(r, key) || next_u64(r, 1u << 22, &n) != 0) {
        khi_snprintf(errbuf, errbuf_len, "missing or bad '%s' section", key);
        return KH_EFORMAT;
    }
    for (uint64_t i = 0; i < n; i++) {
        char s[sizeof(r->tok)];
        if (next(r) != 0 || !good_string(r->tok, r->tl, ncounts == 1)) {
            khi_snprintf(errbuf, errbuf_len, "bad string in entry %llu of '%s'",
                         (unsigned long long)i, key);
            return KH_EFORMAT;
        }
        size_t sn = r->tl;
        memcpy(s, r->tok, sn + 1);
        uint64_t c[2] = {0, 0};
        for (int k = 0; k < ncounts; k++)
            if (next_u64(r, COUNT_MAX, &c[k]) != 0) {
                khi_snprintf(errbuf, errbuf_len, "bad count in entry %llu of '%s'",
                             (unsigned long long)i, key);
                return KH_EFORMAT;
            }
        uint64_t h = khi_dga_hash(s, sn);
        if (khi_dga_tab_get(t, s, sn, h)) {
            khi_snprintf(errbuf, errbuf_len, "'%s' twice in '%s'", s, key);
            return KH_EFORMAT;
        }
        khi_dga_ent *e = NULL;
        kh_err err = khi_dga_tab_add(t, s, sn, h, &e);
        if (err != KH_OK)
            return err;
        for (int k = 0; k < 2; k++) {
            e->cnt[k] = (uint32_t)c[k];
            t->tot[k] += (double)c[k];
        }
    }
    return KH_OK;
}

static kh_err read_trigrams(rd *r, kh_dns_dga *m, int k, char *errbuf, size_t errbuf_len)
{
    const char *key = k ? "dga" : "benign";
    uint64_t nz = 0;
    if (!next_is(r, key) || next_u64(r, KHI_DGA_NTRI, &nz) != 0) {
        khi_snprintf(errbuf, errbuf_len, "missing or bad '%s' section", key);
        return KH_EFORMAT;
    }
    for (uint64_t i = 0; i < nz; i++) {
        uint64_t t = 0, c = 0;
        if (next_u64(r, KHI_DGA_NTRI - 1, &t) != 0 || next_u64(r, COUNT_MAX, &c) != 0 ||
            m->tri[k][t] != 0 || m->total[k] + (double)c > (double)COUNT_MAX) {
            khi_snprintf(errbuf, errbuf_len, "bad trigram entry %llu of '%s'",
                         (unsigned long long)i, key);
            return KH_EFORMAT;
        }
        khi_dga_add_tri(m, k, (size_t)t, (uint32_t)c);
    }
    return KH_OK;
}

kh_err khi_dga_parse(const char *data, size_t len, const char *name, kh_dns_dga **out_model,
                     char *errbuf, size_t errbuf_len)
{
    char msg[160] = "";
    *out_model = NULL;
    kh_dns_dga *m = NULL;
    kh_err err = khi_dga_model_new(&m);
    if (err != KH_OK)
        return err;
    rd r = {data, data + len, "", 0};
    uint64_t ver = 0, sym = 0, nf = 0;
    if (!next_is(&r, "khien-dga") || next_u64(&r, 1000, &ver) != 0) {
        khi_snprintf(msg, sizeof(msg), "not a khien DGA model");
        err = KH_EFORMAT;
        goto out;
    }
    if ((ver != KHI_DGA_VERSION && ver != 2) || next_u64(&r, 1000, &sym) != 0 ||
        sym != KHI_DGA_SYM || next_u64(&r, 1000, &nf) != 0 || nf != NFEAT) {
        khi_snprintf(msg, sizeof(msg),
                     "not a khien DGA model of version %d (%d features): this is version %llu, "
                     "retrain it",
                     KHI_DGA_VERSION, NFEAT, (unsigned long long)ver);
        err = KH_EFORMAT;
        goto out;
    }
    if (next_doubles(&r, "mean", m->mean, NFEAT) || next_doubles(&r, "sd", m->sd, NFEAT) ||
        next_doubles(&r, "weights", m->w, NFEAT + 1)) {
        khi_snprintf(msg, sizeof(msg), "bad mean/sd/weights lines");
        err = KH_EFORMAT;
        goto out;
    }
    for (int i = 0; i < NFEAT; i++)
        if (!(m->sd[i] > 1e-12)) {
            khi_snprintf(msg, sizeof(msg), "scale %d is not positive", i);
            err = KH_EFORMAT;
            goto out;
        }
    while (ver >= 3) { /* one 'sets' line per level, at least one */
        const char *at = r.p;
        if (m->nlevels && !next_is(&r, "sets")) {
            r.p = at;
            break;
        }
        r.p = at;
        unsigned l = m->nlevels;
        uint64_t lo = 0, hi = 0;
        double fpr = 0;
        if (l == KHI_DGA_SET_LEVELS || !next_is(&r, "sets") || next_doubles(&r, NULL, &fpr, 1) ||
            !(fpr > 0 && fpr < 1) || khi_dga_set_level(m, fpr) >= 0 ||
            next_u64(&r, 1000, &lo) != 0 || lo != KHI_DGA_SET_MIN || next_u64(&r, 1000, &hi) != 0 ||
            hi != KHI_DGA_SET_MAX ||
            next_doubles(&r, NULL, m->set_thr[l] + KHI_DGA_SET_MIN,
                         KHI_DGA_SET_MAX - KHI_DGA_SET_MIN + 1)) {
            khi_snprintf(msg, sizeof(msg),
                         "bad 'sets' line %u (want 'sets FPR %d %d' and %d thresholds, at most %d "
                         "lines, each FPR once)",
                         l + 1, KHI_DGA_SET_MIN, KHI_DGA_SET_MAX,
                         KHI_DGA_SET_MAX - KHI_DGA_SET_MIN + 1, KHI_DGA_SET_LEVELS);
            err = KH_EFORMAT;
            goto out;
        }
        m->set_fpr[l] = fpr;
        m->nlevels = l + 1;
    }
    for (int k = 0; k < 2 && err == KH_OK; k++)
        err = read_trigrams(&r, m, k, msg, sizeof(msg));
    if (err == KH_OK)
        err = read_tab(&r, "suffixes", &m->sfx, 2, msg, sizeof(msg));
    if (err == KH_OK)
        err = read_tab(&r, "words", &m->voc, 1, msg, sizeof(msg));
    if (err == KH_OK)
        err = khi_dga_index_words(m);
    if (err == KH_OK && next(&r) == 0) {
        khi_snprintf(msg, sizeof(msg), "junk after the 'words' section");
        err = KH_EFORMAT;
    }
    if (err != KH_OK)
        goto out;
    *out_model = m;
    m = NULL;
out:
    if (err != KH_OK && errbuf && errbuf_len)
        khi_snprintf(errbuf, errbuf_len, "%s: %s", name ? name : "model",
                     msg[0] ? msg : kh_strerror(err));
    kh_dns_dga_destroy(m);
    return err;
}

kh_err kh_dns_dga_load(const char *path, kh_dns_dga **out_model, char *errbuf, size_t errbuf_len)
{
    if (!path || !out_model)
        return KH_EINVAL;
    *out_model = NULL;
    char *data = NULL;
    size_t len = 0;
    char dummy[8];
    if (!errbuf) {
        errbuf = dummy;
        errbuf_len = sizeof(dummy);
    }
    kh_err err = khi_file_read_all(path, 64 << 20, &data, &len, errbuf, errbuf_len);
    if (err != KH_OK)
        return err;
    err = khi_dga_parse(data, len, path, out_model, errbuf, errbuf_len);
    khi_free(data);
    return err;
}
