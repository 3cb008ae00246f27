/*
 * dns_detect.c - from records to findings per client: indicator hits with their family, DGA
 * names, NXDOMAIN bursts, first/last seen and counts.
 *
 * Clients live in one array in order of first appearance, found through an open-addressing
 * table of indices; their addresses and hit names sit in a string pool, so feeding a record
 * allocates nothing unless it brings a new client or a new hit name. A name that is neither
 * listed nor allowed is scored by the DGA model once: scores are remembered by the name's
 * 64-bit hash in a bounded cache that is emptied when full. Per client at most max_names hit
 * names are kept (the rest are only counted), so memory grows with clients, not with queries.
 *
 * A client is "infected" when it queried a listed domain, or when it queried dga_min distinct
 * DGA-scored names, or at least one such name together with an NXDOMAIN burst (nx_burst
 * answers within nx_window_s seconds): one odd name alone is not enough to accuse a subscriber.
 *
 * Or when its NXDOMAIN names, taken together, are not benign names (the set test): a malware's
 * generator makes many names, most of them unregistered, and a set of them is odd even when
 * each name alone scores below the threshold. Each client gathers the distinct registrable
 * domains that came back NXDOMAIN (not listed, not allowed, scorable) in a set; from the
 * KHI_DGA_SET_MIN-th name on, each new name tests the set's mean log-odds (without its largest,
 * so one odd name cannot decide) against the model's threshold for that many names (calibrated at
 * training on random sets of benign names, dns_dga.c). A set that passes makes all its names DGA
 * hits, and so does each later name while the set still passes; a set that reaches KHI_DGA_SET_MAX
 * names, or whose first name is older than dga_set_window_s, starts over (a new batch must pass on
 * its own). After a set of KHI_DGA_SET_MAX names that never passed, the client is not tested again
 * until that set's window is over: a benign client, however many hosts it stands for, meets one
 * sequence of tests a window, so the calibrated share holds per client and window. A client holds
 * at most KHI_DGA_SET_MAX pending names.
 *
 * The counter test: KHI_DGA_COUNTER_MIN names of a set whose registrable domains differ only in
 * the digits of their first label ("winsoft7.com", "winsoft12.com", ...) pass too, and make
 * those names hits, however ordinary each looks: a generator that counts (one family in the
 * training data, fosniw) is as benign-looking as its set, and people do not leave five such
 * unregistered names in a day.
 */
#include "dns/dns_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct client {
    const char *addr;
    int64_t first, last;
    uint64_t queries, nxdomain, hit_queries, dga_names, hits_dropped;
    int64_t nx_win_start;
    uint32_t nx_in_win, nx_burst_max;
    kh_dns_hit *hits;
    uint32_t nhits, caphits;
    const char **fams;
    uint32_t nfams, capfams;
    /* the pending set of NXDOMAIN names: entries, their names in sb */
    struct setent *set;
    uint32_t nset, capset;
    double set_sum, set_max; /* of the entries' log-odds */
    int64_t set_start;
    int set_resting;        /* a whole set failed: no more sets until set_rest_until */
    int64_t set_rest_until; /* seconds; -1: for the rest of the input (no times) */
    int set_passed;         /* the set has passed (either test) */
    khi_buf sb;
    uint64_t dga_sets; /* sets that passed */
} client;

typedef struct setent {
    uint64_t h;    /* hash of the registrable domain */
    uint64_t skel; /* of its label without the digits, and its suffix; 0: no digit in it */
    float score;
    uint32_t off;     /* the name (as queried, NUL-terminated) in sb */
    uint32_t answers; /* NXDOMAIN answers for the domain while in the set */
    int hit;          /* it is a hit */
} setent;

struct kh_dns_analyzer {
    const kh_dns_indset *set;
    const kh_dns_dga *model;
    kh_dns_analyzer_opts o;
    client *cl;
    size_t ncl, capcl;
    uint32_t *slots; /* index + 1 */
    size_t nslots;
    khi_pool pool;
    uint64_t *ck;  /* DGA cache: name hash (0 = empty) */
    float *cs;     /* and score */
    uint64_t *cr;  /* and [2i] the hash of its registrable domain, [2i+1] its skeleton (set_keys),
                      once a set needed them ([2i] 0 = not yet) */
    int set_level; /* the model's thresholds in use for the set test; -1: no set test */
    kh_dns_set_hit_fn on_set_hit;
    void *on_set_hit_ud;
    size_t ncache, capcache;
    kh_dns_summary sum;
};

static const char *const dga_family = "dga";

void kh_dns_analyzer_opts_default(kh_dns_analyzer_opts *o)
{
    if (!o)
        return;
    o->dga_threshold = KH_DNS_DGA_THRESHOLD;
    o->dga_min = 3;
    o->nx_burst = 20;
    o->nx_window_s = 60;
    o->max_names = 32;
    o->dga_cache = 1u << 20;
    o->dga_sets = 1;
    o->dga_set_fpr = 0.001;
    o->dga_set_window_s = 86400;
}

kh_err kh_dns_analyzer_create(const kh_dns_indset *set, const kh_dns_dga *model,
                              const kh_dns_analyzer_opts *opts, kh_dns_analyzer **out_an)
{
    if (!out_an)
        return KH_EINVAL;
    *out_an = NULL;
    kh_dns_analyzer *an = khi_calloc(1, sizeof(*an));
    if (!an)
        return KH_ENOMEM;
    an->set = set;
    an->model = model;
    if (opts)
        an->o = *opts;
    else
        kh_dns_analyzer_opts_default(&an->o);
    if (an->o.max_names == 0)
        an->o.max_names = 1;
    an->set_level = an->o.dga_sets ? khi_dga_set_level(model, an->o.dga_set_fpr) : -1;
    khi_pool_init(&an->pool);
    an->nslots = 1024;
    an->slots = khi_calloc(an->nslots, sizeof(uint32_t));
    if (!an->slots) {
        kh_dns_analyzer_destroy(an);
        return KH_ENOMEM;
    }
    if (model && an->o.dga_cache) {
        size_t c = 1024;
        while (c < (size_t)an->o.dga_cache * 2 && c < ((size_t)1 << 28))
            c *= 2;
        an->capcache = c;
        an->ck = khi_calloc(c, sizeof(uint64_t));
        an->cs = khi_calloc(c, sizeof(float));
        an->cr = khi_calloc(c, 2 * sizeof(uint64_t));
        if (!an->ck || !an->cs || !an->cr) {
            kh_dns_analyzer_destroy(an);
            return KH_ENOMEM;
        }
    }
    *out_an = an;
    return KH_OK;
}

void kh_dns_analyzer_destroy(kh_dns_analyzer *an)
{
    if (!an)
        return;
    for (size_t i = 0; i < an->ncl; i++) {
        khi_free(an->cl[i].hits);
        khi_free(an->cl[i].fams);
        khi_free(an->cl[i].set);
        khi_buf_cleanup(&an->cl[i].sb);
    }
    khi_free(an->cl);
    khi_free(an->slots);
    khi_free(an->ck);
    khi_free(an->cs);
    khi_free(an->cr);
    khi_pool_cleanup(&an->pool);
    khi_free(an);
}

void kh_dns_analyzer_on_set_hit(kh_dns_analyzer *an, kh_dns_set_hit_fn fn, void *ud)
{
    if (!an)
        return;
    an->on_set_hit = fn;
    an->on_set_hit_ud = ud;
}

static kh_err grow_slots(kh_dns_analyzer *an)
{
    size_t nn = an->nslots * 2;
    uint32_t *ns = khi_calloc(nn, sizeof(uint32_t));
    if (!ns)
        return KH_ENOMEM;
    for (size_t i = 0; i < an->ncl; i++) {
        size_t j = khi_dns_hash(an->cl[i].addr, strlen(an->cl[i].addr)) & (nn - 1);
        while (ns[j])
            j = (j + 1) & (nn - 1);
        ns[j] = (uint32_t)i + 1;
    }
    khi_free(an->slots);
    an->slots = ns;
    an->nslots = nn;
    return KH_OK;
}

static kh_err get_client(kh_dns_analyzer *an, const char *a, size_t n, client **out)
{
    uint64_t h = khi_dns_hash(a, n);
    size_t mask = an->nslots - 1, i = h & mask;
    while (an->slots[i]) {
        client *c = &an->cl[an->slots[i] - 1];
        if (strncmp(c->addr, a, n) == 0 && c->addr[n] == '\0') {
            *out = c;
            return KH_OK;
        }
        i = (i + 1) & mask;
    }
    if (an->ncl >= UINT32_MAX - 1)
        return KH_ELIMIT;
    if (an->ncl == an->capcl) {
        size_t nc = an->capcl ? an->capcl * 2 : 256;
        client *ncl = khi_reallocarray(an->cl, nc, sizeof(client));
        if (!ncl)
            return KH_ENOMEM;
        an->cl = ncl;
        an->capcl = nc;
    }
    char *addr = khi_pool_strndup(&an->pool, a, n);
    if (!addr)
        return KH_ENOMEM;
    client *c = &an->cl[an->ncl];
    memset(c, 0, sizeof(*c));
    c->addr = addr;
    c->first = c->last = -1;
    c->nx_win_start = -1;
    an->slots[i] = (uint32_t)an->ncl + 1;
    an->ncl++;
    an->sum.clients = an->ncl;
    *out = c;
    if ((an->ncl + 1) * 2 > an->nslots) {
        kh_err err = grow_slots(an);
        if (err != KH_OK)
            return err;
    }
    return KH_OK;
}

static kh_err add_family(client *c, const char *fam)
{
    for (uint32_t i = 0; i < c->nfams; i++)
        if (c->fams[i] == fam || strcmp(c->fams[i], fam) == 0)
            return KH_OK;
    if (c->nfams == c->capfams) {
        uint32_t nc = c->capfams ? c->capfams * 2 : 4;
        const char **nf = khi_reallocarray((void *)c->fams, nc, sizeof(char *));
        if (!nf)
            return KH_ENOMEM;
        c->fams = nf;
        c->capfams = nc;
    }
    c->fams[c->nfams++] = fam;
    return KH_OK;
}

/* Account a hit name for a client; *out_new = 1 when the name is new to the client. */
static kh_err add_hit(kh_dns_analyzer *an, client *c, const char *name, size_t n, const char *fam,
                      double score, uint64_t count, int *out_new)
{
    *out_new = 0;
    for (uint32_t i = 0; i < c->nhits; i++)
        if (strncmp(c->hits[i].name, name, n) == 0 && c->hits[i].name[n] == '\0') {
            c->hits[i].count += count;
            return KH_OK;
        }
    *out_new = 1;
    kh_err err = add_family(c, fam);
    if (err != KH_OK)
        return err;
    if (c->nhits >= an->o.max_names) {
        c->hits_dropped++;
        return KH_OK;
    }
    if (c->nhits == c->caphits) {
        uint32_t nc = c->caphits ? c->caphits * 2 : 4;
        if (nc > an->o.max_names)
            nc = an->o.max_names;
        kh_dns_hit *nh = khi_reallocarray(c->hits, nc, sizeof(kh_dns_hit));
        if (!nh)
            return KH_ENOMEM;
        c->hits = nh;
        c->caphits = nc;
    }
    char *copy = khi_pool_strndup(&an->pool, name, n);
    if (!copy)
        return KH_ENOMEM;
    kh_dns_hit *h = &c->hits[c->nhits++];
    h->name = copy;
    h->family = fam;
    h->score = score;
    h->count = count;
    return KH_OK;
}

/* The name's score, through the cache; *out_reg: its cache slot for the registrable domain's
 * hash and skeleton (two words; NULL without a cache). */
static double dga_score(kh_dns_analyzer *an, const char *name, size_t n, uint64_t **out_reg)
{
    *out_reg = NULL;
    if (!an->ck)
        return kh_dns_dga_score(an->model, name, n);
    uint64_t h = khi_dns_hash(name, n) | 1;
    size_t mask = an->capcache - 1, i = h & mask;
    while (an->ck[i]) {
        if (an->ck[i] == h) {
            *out_reg = &an->cr[2 * i];
            return an->cs[i];
        }
        i = (i + 1) & mask;
    }
    double s = kh_dns_dga_score(an->model, name, n);
    an->sum.names_scored++;
    if (an->ncache >= an->o.dga_cache) {
        memset(an->ck, 0, an->capcache * sizeof(uint64_t));
        an->ncache = 0;
        i = h & mask;
    }
    an->ck[i] = h;
    an->cs[i] = (float)s;
    an->cr[2 * i] = 0;
    an->ncache++;
    *out_reg = &an->cr[2 * i];
    return s;
}

static void set_clear(client *c)
{
    c->nset = 0;
    c->sb.len = 0;
    c->set_passed = 0;
}

/*
 * The keys of a folded name in a set: k[0] the hash of its registrable domain (the name itself
 * when it has none), never 0; k[1] the hash of that domain with the digits of its first label
 * taken out (its skeleton: "winsoft17.com" -> "winsoft.com"), 0 when the label has no digit or
 * nothing but digits.
 */
static void set_keys(const char *name, size_t n, uint64_t *k)
{
    char tmp[KH_DNS_NAME_MAX + 1], sk[KH_DNS_NAME_MAX + 1];
    memcpy(tmp, name, n);
    tmp[n] = '\0';
    const char *reg = NULL;
    if (kh_dns_registrable(tmp, &reg) != KH_OK || !reg)
        reg = tmp;
    k[0] = khi_dns_hash(reg, strlen(reg)) | 1;
    size_t m = 0, digits = 0, letters = 0;
    const char *p = reg;
    for (; *p && *p != '.'; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else {
            sk[m++] = *p;
            letters++;
        }
    }
    size_t rest = strlen(p);
    memcpy(sk + m, p, rest);
    k[1] = digits && letters ? khi_dns_hash(sk, m + rest) | 1 : 0;
}

/*
 * Add a client's NXDOMAIN name (name, n: folded, NUL-terminated) with its score to its set (t:
 * seconds, -1 unknown; answers: NXDOMAIN answers it stands for, 1 but in a merge) and test the
 * set; see the top of the file. reg: the cache's slot for the hash of the name's registrable
 * domain (filled here when still 0), or NULL.
 */
static kh_err set_add(kh_dns_analyzer *an, client *c, const char *name, size_t n, uint64_t *reg,
                      double score, uint32_t answers, int64_t t)
{
    if (c->set_resting) {
        if (t < 0 || c->set_rest_until < 0 || t < c->set_rest_until)
            return KH_OK;
        c->set_resting = 0;
    }
    uint64_t k[2];
    if (reg && reg[0]) {
        k[0] = reg[0];
        k[1] = reg[1];
    } else {
        set_keys(name, n, k);
        if (reg) {
            reg[0] = k[0];
            reg[1] = k[1];
        }
    }
    uint64_t h = k[0];
    if (c->nset && t >= 0 && c->set_start >= 0 &&
        t - c->set_start >= (int64_t)an->o.dga_set_window_s)
        set_clear(c);
    for (uint32_t i = 0; i < c->nset; i++)
        if (c->set[i].h == h) {
            c->set[i].answers += answers;
            if (!c->set[i].hit)
                return KH_OK;
            int fresh = 0; /* already a hit: more answers for it */
            const char *nm = c->sb.data + c->set[i].off;
            return add_hit(an, c, nm, strlen(nm), dga_family, c->set[i].score, answers, &fresh);
        }
    if (c->nset == c->capset) {
        uint32_t nc = c->capset ? c->capset * 2 : 4;
        setent *ns = khi_reallocarray(c->set, nc, sizeof(setent));
        if (!ns)
            return KH_ENOMEM;
        c->set = ns;
        c->capset = nc;
    }
    size_t off = c->sb.len;
    kh_err err = khi_buf_append(&c->sb, name, n + 1); /* with its NUL */
    if (err != KH_OK)
        return err;
    if (c->nset == 0) {
        c->set_start = t;
        c->set_sum = 0;
        c->set_max = -KHI_DGA_LOGIT_MAX;
    }
    c->set[c->nset++] = (setent){h, k[1], (float)score, (uint32_t)off, answers, 0};
    double l = khi_dga_logit(score);
    c->set_sum += l;
    if (l > c->set_max)
        c->set_max = l;
    double thr = khi_dga_set_threshold(an->model, an->set_level, c->nset);
    int pass = !isnan(thr) && khi_dga_set_stat(c->set_sum, c->set_max, c->nset) >= thr;
    uint32_t alike = 0; /* the counter test: names that differ only in their digits */
    for (uint32_t i = 0; k[1] && i < c->nset; i++)
        alike += c->set[i].skel == k[1];
    int counter = alike >= KHI_DGA_COUNTER_MIN;
    if (pass || counter) {
        if (!c->set_passed)
            c->dga_sets++;
        c->set_passed = 1;
        for (uint32_t i = 0; i < c->nset; i++) {
            if (c->set[i].hit || (!pass && c->set[i].skel != k[1]))
                continue;
            const char *nm = c->sb.data + c->set[i].off;
            int fresh = 0;
            err = add_hit(an, c, nm, strlen(nm), dga_family, c->set[i].score, c->set[i].answers,
                          &fresh);
            if (err != KH_OK)
                return err;
            if (fresh) {
                c->dga_names++;
                an->sum.dga_names++;
            }
            c->set[i].hit = 1;
            if (an->on_set_hit)
                an->on_set_hit(an->on_set_hit_ud, c->addr, nm, c->set[i].score);
        }
    }
    if (c->nset >= KHI_DGA_SET_MAX) {
        if (!c->set_passed) { /* one failed set a window: the calibration holds per client */
            c->set_resting = 1;
            c->set_rest_until =
                c->set_start >= 0 && t >= 0 ? c->set_start + (int64_t)an->o.dga_set_window_s : -1;
        }
        set_clear(c);
    }
    return KH_OK;
}

static int skip_dga(const char *q, size_t n)
{
    if (n >= 5 && strncasecmp(q + n - 5, ".arpa", 5) == 0)
        return 1;
    if (n >= 6 && strncasecmp(q + n - 6, ".arpa.", 6) == 0)
        return 1;
    return q[0] == '_';
}

kh_err kh_dns_analyzer_feed(kh_dns_analyzer *an, const kh_dns_rec *rec)
{
    if (!an || !rec || !rec->client || !rec->qname)
        return KH_EINVAL;
    client *c = NULL;
    kh_err err = get_client(an, rec->client, rec->client_len, &c);
    if (err != KH_OK)
        return err;
    an->sum.records++;
    int64_t t = rec->time_ms;
    if (t >= 0) {
        if (c->first < 0 || t < c->first)
            c->first = t;
        if (t > c->last)
            c->last = t;
    }
    if (rec->is_query) {
        c->queries++;
        an->sum.queries++;
    }
    if (rec->rcode == 3) {
        c->nxdomain++;
        an->sum.nxdomain++;
        int64_t s = t >= 0 ? t / 1000 : 0;
        if (c->nx_win_start < 0 || s - c->nx_win_start >= (int64_t)an->o.nx_window_s) {
            c->nx_win_start = s;
            c->nx_in_win = 0;
        }
        if (++c->nx_in_win > c->nx_burst_max)
            c->nx_burst_max = c->nx_in_win;
    }
    const char *fam = NULL;
    int w = an->set ? khi_dns_ind_walk(an->set, rec->qname, rec->qname_len, &fam, NULL, NULL) : 0;
    char norm[KH_DNS_NAME_MAX + 1];
    size_t nl = khi_dns_fold(rec->qname, rec->qname_len, norm);
    if (nl == 0)
        return KH_OK;
    int fresh = 0;
    if (w > 0) {
        if (rec->is_query) {
            c->hit_queries++;
            an->sum.hit_queries++;
        }
        return add_hit(an, c, norm, nl, fam, 1.0, rec->is_query ? 1 : 0, &fresh);
    }
    if (w < 0 || !an->model || skip_dga(norm, nl))
        return KH_OK;
    uint64_t *reg = NULL;
    double s = dga_score(an, norm, nl, &reg);
    if (rec->rcode == 3 && s >= 0 && an->set_level >= 0) {
        err = set_add(an, c, norm, nl, reg, s, 1, t >= 0 ? t / 1000 : -1);
        if (err != KH_OK)
            return err;
    }
    if (s < an->o.dga_threshold)
        return KH_OK;
    err = add_hit(an, c, norm, nl, dga_family, s, rec->is_query ? 1 : 0, &fresh);
    if (err == KH_OK && fresh) {
        c->dga_names++;
        an->sum.dga_names++;
    }
    return err;
}

static int infected(const kh_dns_analyzer *an, const client *c)
{
    return c->hit_queries > 0 || c->dga_sets > 0 ||
           (an->o.dga_min && c->dga_names >= an->o.dga_min) ||
           (c->dga_names > 0 && c->nx_burst_max >= an->o.nx_burst) ||
           (c->nhits > 0 &&
            c->dga_names < c->nhits + c->hits_dropped); /* a hit seen only in a response */
}

kh_err kh_dns_analyzer_merge(kh_dns_analyzer *dst, const kh_dns_analyzer *src)
{
    if (!dst || !src)
        return KH_EINVAL;
    for (size_t i = 0; i < src->ncl; i++) {
        const client *s = &src->cl[i];
        client *d = NULL;
        kh_err err = get_client(dst, s->addr, strlen(s->addr), &d);
        if (err != KH_OK)
            return err;
        if (s->first >= 0 && (d->first < 0 || s->first < d->first))
            d->first = s->first;
        if (s->last > d->last)
            d->last = s->last;
        d->queries += s->queries;
        d->nxdomain += s->nxdomain;
        d->hit_queries += s->hit_queries;
        d->hits_dropped += s->hits_dropped;
        if (s->nx_burst_max > d->nx_burst_max)
            d->nx_burst_max = s->nx_burst_max;
        for (uint32_t j = 0; j < s->nhits; j++) {
            int fresh = 0;
            const kh_dns_hit *h = &s->hits[j];
            err = add_hit(dst, d, h->name, strlen(h->name), h->family, h->score, h->count, &fresh);
            if (err != KH_OK)
                return err;
            if (fresh && h->family == dga_family)
                d->dga_names++;
        }
        for (uint32_t j = 0; j < s->nfams; j++) {
            err = add_family(d, s->fams[j]);
            if (err != KH_OK)
                return err;
        }
        d->dga_sets += s->dga_sets;
        if (s->set_resting && (!d->set_resting || (d->set_rest_until >= 0 &&
                                                   (s->set_rest_until < 0 ||
                                                    s->set_rest_until > d->set_rest_until)))) {
            d->set_resting = 1;
            d->set_rest_until = s->set_rest_until;
        }
        for (uint32_t j = 0; j < s->nset; j++) {
            /* the pending names go on in dst's set; the answers of those already hits in src
             * came with its hits */
            const char *nm = s->sb.data + s->set[j].off;
            err = set_add(dst, d, nm, strlen(nm), NULL, s->set[j].score,
                          s->set[j].hit ? 0 : s->set[j].answers, s->set_start);
            if (err != KH_OK)
                return err;
        }
    }
    dst->sum.records += src->sum.records;
    dst->sum.queries += src->sum.queries;
    dst->sum.hit_queries += src->sum.hit_queries;
    dst->sum.nxdomain += src->sum.nxdomain;
    dst->sum.names_scored += src->sum.names_scored;
    dst->sum.clients = dst->ncl;
    return KH_OK;
}

void kh_dns_analyzer_foreach(const kh_dns_analyzer *an, int infected_only, kh_dns_client_fn fn,
                             void *ud)
{
    if (!an || !fn)
        return;
    for (size_t i = 0; i < an->ncl; i++) {
        const client *c = &an->cl[i];
        int inf = infected(an, c);
        if (infected_only && !inf)
            continue;
        kh_dns_client v;
        v.client = c->addr;
        v.first_ms = c->first;
        v.last_ms = c->last;
        v.queries = c->queries;
        v.nxdomain = c->nxdomain;
        v.hit_queries = c->hit_queries;
        v.dga_names = c->dga_names;
        v.nx_burst_max = c->nx_burst_max;
        v.dga_sets = c->dga_sets;
        v.infected = inf;
        v.families = c->fams;
        v.nfamilies = inf ? c->nfams : 0;
        v.hits = c->hits;
        v.nhits = c->nhits;
        v.hits_dropped = c->hits_dropped;
        if (fn(ud, &v))
            return;
    }
}

void kh_dns_analyzer_get_summary(const kh_dns_analyzer *an, kh_dns_summary *out)
{
    if (!an || !out)
        return;
    *out = an->sum;
    out->infected_clients = 0;
    out->dga_names = 0;
    for (size_t i = 0; i < an->ncl; i++) {
        out->infected_clients += (uint64_t)infected(an, &an->cl[i]);
        out->dga_names += an->cl[i].dga_names;
    }
}
