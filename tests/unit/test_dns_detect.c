/*
 * test_dns_detect.c - the analyzer: hits attributed to clients with families, first/last seen,
 * the bound on names kept per client, NXDOMAIN bursts with DGA names, merging per-thread
 * analyzers, out-of-memory paths, the set test of a client's NXDOMAIN names; and the DGA model's
 * file round trip with its set thresholds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <math.h>

#include <khien/dns.h>
#include "core/core.h"
#include "dns/dns_dga_int.h"

static kh_dns_rec rec(const char *client, const char *qname, int64_t t, int rcode)
{
    kh_dns_rec r;
    memset(&r, 0, sizeof(r));
    r.client = client;
    r.client_len = strlen(client);
    r.qname = qname;
    r.qname_len = strlen(qname);
    r.time_ms = t;
    r.rcode = rcode;
    r.is_query = 1;
    return r;
}

typedef struct got {
    unsigned n;
    kh_dns_client last;
    char fam[64];
    size_t nhits;
    uint64_t dropped;
} got;

static int collect(void *ud, const kh_dns_client *c)
{
    got *g = ud;
    g->n++;
    g->last = *c;
    g->fam[0] = '\0';
    if (c->nfamilies)
        snprintf(g->fam, sizeof(g->fam), "%s", c->families[0]);
    g->nhits = c->nhits;
    g->dropped = c->hits_dropped;
    return 0;
}

static void test_dns_detect_hits(void **state)
{
    (void)state;
    kh_dns_indset *set = NULL;
    assert_int_equal(kh_dns_indset_create(&set), KH_OK);
    assert_int_equal(kh_dns_indset_add(set, "evil.com", 8, "emotet", 0), KH_OK);
    kh_dns_analyzer_opts o;
    kh_dns_analyzer_opts_default(&o);
    o.max_names = 4;
    kh_dns_analyzer *an = NULL;
    assert_int_equal(kh_dns_analyzer_create(set, NULL, &o, &an), KH_OK);
    kh_dns_rec r = rec("10.0.0.1", "www.example.org", 5000, -1);
    assert_int_equal(kh_dns_analyzer_feed(an, &r), KH_OK);
    char name[64];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "h%d.EVIL.com.", i);
        r = rec("10.0.0.2", name, 1000 + i, -1);
        assert_int_equal(kh_dns_analyzer_feed(an, &r), KH_OK);
        r = rec("10.0.0.2", name, 9000, -1); /* the same name again */
        assert_int_equal(kh_dns_analyzer_feed(an, &r), KH_OK);
    }
    got g;
    memset(&g, 0, sizeof(g));
    kh_dns_analyzer_foreach(an, 1, collect, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.last.client, "10.0.0.2");
    assert_string_equal(g.fam, "emotet");
    assert_int_equal(g.last.queries, 20);
    assert_int_equal(g.last.hit_queries, 20);
    assert_int_equal(g.last.first_ms, 1000);
    assert_int_equal(g.last.last_ms, 9000);
    assert_int_equal(g.nhits, 4);
    assert_int_equal(g.dropped, 12); /* records, not names */
    assert_int_equal(g.last.hits[0].count, 2);
    assert_string_equal(g.last.hits[0].name, "h0.evil.com");
    memset(&g, 0, sizeof(g));
    kh_dns_analyzer_foreach(an, 0, collect, &g);
    assert_int_equal(g.n, 2);
    /* merging a second analyzer */
    kh_dns_analyzer *b = NULL;
    assert_int_equal(kh_dns_analyzer_create(set, NULL, &o, &b), KH_OK);
    r = rec("10.0.0.2", "h0.evil.com", 500, -1);
    assert_int_equal(kh_dns_analyzer_feed(b, &r), KH_OK);
    r = rec("10.0.0.3", "evil.com", 700, 3);
    assert_int_equal(kh_dns_analyzer_feed(b, &r), KH_OK);
    assert_int_equal(kh_dns_analyzer_merge(an, b), KH_OK);
    kh_dns_summary s;
    kh_dns_analyzer_get_summary(an, &s);
    assert_int_equal(s.clients, 3);
    assert_int_equal(s.infected_clients, 2);
    assert_int_equal(s.queries, 23);
    assert_int_equal(s.nxdomain, 1);
    memset(&g, 0, sizeof(g));
    kh_dns_analyzer_foreach(an, 1, collect, &g);
    assert_int_equal(g.n, 2);
    kh_dns_analyzer_destroy(b);
    kh_dns_analyzer_destroy(an);
    kh_dns_indset_destroy(set);
}

static void test_dns_detect_oom(void **state)
{
    (void)state;
    kh_dns_indset *set = NULL;
    assert_int_equal(kh_dns_indset_create(&set), KH_OK);
    assert_int_equal(kh_dns_indset_add(set, "evil.com", 8, "x", 0), KH_OK);
    for (long n = 0; n < 30; n++) {
        kh_dns_analyzer *an = NULL;
        khi_mem_fail_after(n);
        kh_err e = kh_dns_analyzer_create(set, NULL, NULL, &an);
        for (int i = 0; e == KH_OK && i < 50; i++) {
            char c[32];
            snprintf(c, sizeof(c), "10.0.0.%d", i);
            kh_dns_rec r = rec(c, "a.evil.com", i, -1);
            e = kh_dns_analyzer_feed(an, &r);
        }
        khi_mem_fail_after(-1);
        assert_true(e == KH_OK || e == KH_ENOMEM);
        kh_dns_analyzer_destroy(an);
    }
    kh_dns_indset_destroy(set);
}

/* The small model of the DGA tests: 12 popular names, 8 random ones. */
static const char *const small_benign[] = {"google.com",   "facebook.com",  "wikipedia.org",
                                           "amazon.com",   "youtube.com",   "twitter.com",
                                           "linkedin.com", "microsoft.com", "apple.com",
                                           "netflix.com",  "yahoo.com",     "instagram.com"};
static const char *const small_dga[] = {"xkq3jz8v2wpt.com",  "mzq8vx2kj4rt.net", "ptl9qz3xkv7w.org",
                                        "zx8kq2vj5mwt.info", "rqz7xk3vj9pw.biz", "kj4xq9zv2tm8.com",
                                        "wq2zk8xj3vp7.net",  "vj8xk2qz9mt4.org"};

static void test_dns_detect_dga(void **state)
{
    (void)state;
    kh_dns_dga *m = NULL;
    assert_int_equal(kh_dns_dga_train(small_benign, 12, small_dga, 8, &m), KH_OK);
    double sb = kh_dns_dga_score(m, "google.com", 10),
           sd = kh_dns_dga_score(m, "qz8xk3vj2wp9.com", 16);
    assert_true(sb >= 0 && sb <= 1 && sd >= 0 && sd <= 1);
    assert_true(sd > sb);
    assert_true(kh_dns_dga_score(m, "co.uk", 5) < 0); /* nothing left of the suffix */
    char path[] = "/tmp/khien-dga-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kh_dns_dga_save(m, path), KH_OK);
    kh_dns_dga *m2 = NULL;
    char err[256];
    assert_int_equal(kh_dns_dga_load(path, &m2, err, sizeof(err)), KH_OK);
    double s2 = kh_dns_dga_score(m2, "qz8xk3vj2wp9.com", 16);
    assert_true(s2 > sd - 1e-9 && s2 < sd + 1e-9);
    /* the analyzer flags a client with dga_min DGA names */
    kh_dns_analyzer_opts o;
    kh_dns_analyzer_opts_default(&o);
    o.dga_threshold = (sb + sd) / 2;
    o.dga_min = 2;
    kh_dns_analyzer *an = NULL;
    assert_int_equal(kh_dns_analyzer_create(NULL, m2, &o, &an), KH_OK);
    kh_dns_rec r = rec("10.1.1.1", "qz8xk3vj2wp9.com", 1, 3);
    assert_int_equal(kh_dns_analyzer_feed(an, &r), KH_OK);
    kh_dns_summary s;
    kh_dns_analyzer_get_summary(an, &s);
    assert_int_equal(s.infected_clients, 0);
    r = rec("10.1.1.1", "zk3vq8xj2mw9.net", 2, 3);
    assert_int_equal(kh_dns_analyzer_feed(an, &r), KH_OK);
    kh_dns_analyzer_get_summary(an, &s);
    assert_int_equal(s.infected_clients, 1);
    assert_int_equal(s.dga_names, 2);
    kh_dns_analyzer_destroy(an);
    /* a damaged file is refused with a reason */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("khien-dga 1 trigram 40 9\nmean 1 2\n", f);
    fclose(f);
    kh_dns_dga *m3 = NULL;
    assert_int_equal(kh_dns_dga_load(path, &m3, err, sizeof(err)), KH_EFORMAT);
    assert_null(m3);
    unlink(path);
    kh_dns_dga_destroy(m2);
    kh_dns_dga_destroy(m);
}

/* The model as kh_dns_dga_save writes it (through a temporary file); *len its length. Owned. */
static char *saved(const kh_dns_dga *m, size_t *len)
{
    char path[] = "/tmp/khien-dga-XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kh_dns_dga_save(m, path), KH_OK);
    char *data = NULL;
    assert_int_equal(khi_file_read_all(path, 1 << 20, &data, len, err, sizeof(err)), KH_OK);
    unlink(path);
    return data;
}

/*
 * The model reader on damaged files (2026-11-25, DGA model format 2): every prefix of a good
 * file, a byte changed at every offset, and the Nth allocation failing, each either loads or is
 * refused, never crashes or leaks (ASan); the whole file loads and scores as the model it came
 * from.
 */
static void test_dns_detect_dga_file(void **state)
{
    (void)state;
    static const char *const benign[] = {"google.com",    "shopnews.com",  "newsshop.net",
                                         "shopworld.org", "newsworld.com", "shoplive.com",
                                         "newslive.net",  "worldlive.vn"};
    static const char *const dga[] = {"xkq3jz8v2wpt.com", "mzq8vx2kj4rt.net", "ptl9qz3xkv7w.org",
                                      "zx8kq2vj5mwt.info"};
    static const unsigned fam[] = {0, 0, 1, 1};
    kh_dns_dga *m = NULL;
    assert_int_equal(kh_dns_dga_train_families(benign, 8, dga, fam, 4, &m), KH_OK);
    char err[256];
    size_t len = 0;
    char *data = saved(m, &len);
    /* news, shop, live, worl, orld, world: each held by three names or more */
    assert_non_null(strstr(data, "\nwords 6\n"));
    kh_dns_dga *m2 = NULL;
    assert_int_equal(khi_dga_parse(data, len, "t", &m2, err, sizeof(err)), KH_OK);
    double a = kh_dns_dga_score(m, "newsshopq.com", 13),
           b = kh_dns_dga_score(m2, "newsshopq.com", 13);
    assert_true(a >= 0 && a < b + 1e-9 && a > b - 1e-9);
    kh_dns_dga_destroy(m2);
    for (size_t n = 0; n < len;
         n++) { /* prefixes: only the whole file (or minus its newline) loads */
        m2 = NULL;
        kh_err e = khi_dga_parse(data, n, "t", &m2, err, sizeof(err));
        assert_true(e == KH_EFORMAT || (e == KH_OK && n >= len - 1));
        kh_dns_dga_destroy(m2);
    }
    for (size_t i = 0; i < len; i += 3) { /* one byte changed */
        char keep = data[i];
        data[i] = (char)(i & 1 ? '9' : 'x');
        m2 = NULL;
        kh_err e = khi_dga_parse(data, len, "t", &m2, err, sizeof(err));
        assert_true(e == KH_OK || e == KH_EFORMAT);
        if (m2)
            (void)kh_dns_dga_score(m2, "xkq3jz8v2wpt.com", 16);
        kh_dns_dga_destroy(m2);
        data[i] = keep;
    }
    for (int k = 0;; k++) { /* the Nth allocation fails */
        m2 = NULL;
        khi_mem_fail_after(k);
        kh_err e = khi_dga_parse(data, len, "t", &m2, err, sizeof(err));
        khi_mem_fail_after(-1);
        assert_true(e == KH_OK || e == KH_ENOMEM);
        kh_dns_dga_destroy(m2);
        if (e == KH_OK)
            break;
    }
    khi_free(data);
    kh_dns_dga_destroy(m);
}

/* The statistic of the first k of n names' log-odds (l), as the analyzer computes it. */
static double set_stat(const double *l, unsigned k)
{
    double sum = 0, max = -KHI_DGA_LOGIT_MAX;
    for (unsigned i = 0; i < k; i++) {
        sum += l[i];
        if (l[i] > max)
            max = l[i];
    }
    return khi_dga_set_stat(sum, max, k);
}

static void feed_all(kh_dns_analyzer *an, const char *client, const char *const *names, unsigned n,
                     int64_t t0, int64_t step, int rcode)
{
    for (unsigned i = 0; i < n; i++) {
        kh_dns_rec r = rec(client, names[i], t0 + step * (int64_t)i, rcode);
        assert_int_equal(kh_dns_analyzer_feed(an, &r), KH_OK);
    }
}

static int find_client(void *ud, const kh_dns_client *c)
{
    got *g = ud;
    if (strcmp(c->client, g->fam) != 0)
        return 0;
    g->n++;
    g->last = *c;
    g->nhits = c->nhits;
    return 1;
}

static void count_set_hit(void *ud, const char *client, const char *name, double score)
{
    unsigned *n = ud;
    assert_non_null(strchr(name, '.'));
    assert_true(score >= 0 && score < 1.5);
    *n += strcmp(client, "10.0.0.1") == 0;
}

/* One client's report: g->n == 1 when it is there, g->last its figures (borrowed). */
static got client_of(const kh_dns_analyzer *an, const char *client)
{
    got g;
    memset(&g, 0, sizeof(g));
    snprintf(g.fam, sizeof(g.fam), "%s", client);
    kh_dns_analyzer_foreach(an, 0, find_client, &g);
    return g;
}

/*
 * The set test (2026-11-25): a client's distinct NXDOMAIN names, each below the per-name
 * threshold, flag it together once their statistic reaches the model's threshold for that many
 * names. The thresholds are set here between what the DGA-like and the benign-like names give,
 * so the test sees the analyzer's logic: five names needed, NXDOMAIN only, names of one
 * registrable domain counted once, the window, one odd name among benign ones not enough
 * (the largest is left out), pending names carried over by a merge, and no test without set
 * thresholds or with dga_sets off.
 */
static void test_dns_detect_dga_sets(void **state)
{
    (void)state;
    static const char *const odd[] = {"qz8xk3vj2wp9.com",  "zk3vq8xj2mw9.net", "xv9kq2zj8tp3.org",
                                      "jq7zx3kv8pw2.info", "tk2xq8zv3jm9.biz", "pz3kx9vq2jw8.com"};
    static const char *const typo[] = {"gooogle.com", "facebok.com", "wikipedai.org",
                                       "amazn.com",   "youtub.com",  "twiter.com"};
    kh_dns_dga *m = NULL;
    assert_int_equal(kh_dns_dga_train(small_benign, 12, small_dga, 8, &m), KH_OK);
    assert_int_equal(m->nlevels, 0); /* 12 benign names are too few to calibrate sets */
    double lo[6], lt[6], mix[5];
    for (int i = 0; i < 6; i++) {
        lo[i] = khi_dga_logit(kh_dns_dga_score(m, odd[i], strlen(odd[i])));
        lt[i] = khi_dga_logit(kh_dns_dga_score(m, typo[i], strlen(typo[i])));
    }
    for (int i = 0; i < 4; i++)
        mix[i] = lt[i];
    mix[4] = lo[0]; /* one odd name (x.qz8xk3vj2wp9.com below) among four benign-like ones */
    double mix_plain = 0;
    for (int i = 0; i < 5; i++)
        mix_plain += mix[i] / 5;
    double thr = (set_stat(mix, 5) + mix_plain) / 2;
    print_message("odd %.2f typo %.2f mix trimmed %.2f plain %.2f thr %.2f\n", set_stat(lo, 5),
                  set_stat(lt, 5), set_stat(mix, 5), mix_plain, thr);
    assert_true(set_stat(lo, 5) >= thr && set_stat(lo, 6) >= thr);
    assert_true(set_stat(lt, 5) < thr && set_stat(lt, 6) < thr && set_stat(mix, 5) < thr &&
                mix_plain >= thr);
    m->nlevels = 1;
    m->set_fpr[0] = 0.001;
    for (int k = KHI_DGA_SET_MIN; k <= KHI_DGA_SET_MAX; k++)
        m->set_thr[0][k] = thr;
    kh_dns_analyzer_opts o;
    kh_dns_analyzer_opts_default(&o);
    o.dga_threshold = 1.5; /* no name is DGA alone: only the set test flags */
    o.nx_burst = 1000;
    kh_dns_analyzer *an = NULL, *an2 = NULL;
    assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an), KH_OK);
    unsigned told = 0;
    kh_dns_analyzer_on_set_hit(an, count_set_hit, &told);
    feed_all(an, "10.0.0.1", odd, 4, 1000, 1000, 3); /* four are not enough */
    got g = client_of(an, "10.0.0.1");
    assert_int_equal(g.n, 1);
    assert_false(g.last.infected);
    assert_int_equal(told, 0);
    feed_all(an, "10.0.0.1", odd + 4, 1, 5000, 1000, 3);
    assert_int_equal(told, 5); /* the set's five names, when the fifth decided */
    feed_all(an, "10.0.0.1", odd + 5, 1, 6000, 1000, 3);
    assert_int_equal(told, 6);
    g = client_of(an, "10.0.0.1");
    assert_true(g.last.infected);
    assert_int_equal(g.last.dga_sets, 1);
    assert_int_equal(g.last.dga_names, 6); /* all six, the sixth while the set still passes */
    assert_int_equal(g.nhits, 6);
    assert_string_equal(g.last.hits[0].family, "dga");
    for (int i = 0; i < 6; i++)
        assert_int_equal(g.last.hits[i].count, 1); /* one NXDOMAIN answer each */
    feed_all(an, "10.0.0.1", odd, 1, 7000, 0, 3);  /* another answer for the first */
    g = client_of(an, "10.0.0.1");
    assert_int_equal(g.last.hits[0].count, 2);
    assert_int_equal(g.last.dga_names, 6);
    feed_all(an, "10.0.0.2", odd, 6, 1000, 1000, 0);  /* answered: not the generator's misses */
    feed_all(an, "10.0.0.3", typo, 6, 1000, 1000, 3); /* benign-like misses */
    static const char *const mixed[] = {"gooogle.com", "facebok.com", "wikipedai.org", "amazn.com",
                                        "x.qz8xk3vj2wp9.com"};
    feed_all(an, "10.0.0.4", mixed, 5, 1000, 1000, 3);
    /* one registrable domain counted once */
    static const char *const same[] = {"a.qz8xk3vj2wp9.com", "b.qz8xk3vj2wp9.com",
                                       "c.qz8xk3vj2wp9.com", "zk3vq8xj2mw9.net",
                                       "xv9kq2zj8tp3.org",   "jq7zx3kv8pw2.info"};
    feed_all(an, "10.0.0.5", same, 6, 1000, 1000, 3);
    /* four names, then the fifth a day and a second after the first: a new set */
    feed_all(an, "10.0.0.6", odd, 4, 0, 1000, 3);
    feed_all(an, "10.0.0.6", odd + 4, 1, 86401000, 0, 3);
    static const char *const who[] = {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"};
    for (int i = 0; i < 5; i++) {
        g = client_of(an, who[i]);
        assert_int_equal(g.n, 1);
        if (g.last.infected)
            fail_msg("client %s flagged", who[i]);
        assert_int_equal(g.last.dga_sets, 0);
    }
    /* a whole set that fails rests the client until its window is over: 32 benign-like names,
     * then the odd ones are not tested the same day, and are the next */
    static const char *const tld[] = {"net", "org", "info"};
    char many[32][32];
    const char *manyp[32];
    double lm[32];
    for (int i = 0; i < 32; i++) { /* the model's own benign labels under other suffixes */
        const char *b = small_benign[i % 12];
        snprintf(many[i], sizeof(many[i]), "%.*s.%s", (int)(strchr(b, '.') - b), b, tld[i / 12]);
        manyp[i] = many[i];
        lm[i] = khi_dga_logit(kh_dns_dga_score(m, many[i], strlen(many[i])));
    }
    for (unsigned k = KHI_DGA_SET_MIN; k <= 32; k++)
        assert_true(set_stat(lm, k) < thr);
    feed_all(an, "10.0.0.8", manyp, 32, 1000, 1000, 3);
    feed_all(an, "10.0.0.8", odd, 6, 100000, 1000, 3);
    assert_false(client_of(an, "10.0.0.8").last.infected);
    feed_all(an, "10.0.0.8", odd, 6, 1000 + 86400000, 1000, 3);
    g = client_of(an, "10.0.0.8");
    assert_true(g.last.infected);
    assert_int_equal(g.last.dga_sets, 1);
    /* the counter test: five names that differ only in their digits pass, whatever their
     * scores; names that differ in more than digits, or with no digit, do not group */
    static const char *const counted[] = {"winsoft1.com",   "winsoft17.com", "winsoft3.com",
                                          "winsoft204.com", "winsoft5.com",  "winsoft6.com"};
    static const char *const unlike[] = {"winsoft1.net", "winsofa2.com", "winsoft.org",
                                         "wjnsoft3.com", "123.com"};
    for (int k = KHI_DGA_SET_MIN; k <= KHI_DGA_SET_MAX; k++)
        m->set_thr[0][k] = 1e9; /* the mean test never passes here */
    feed_all(an, "10.0.0.11", counted, 4, 1000, 1000, 3);
    feed_all(an, "10.0.0.11", unlike, 5, 5000, 1000, 3);
    assert_false(client_of(an, "10.0.0.11").last.infected);
    feed_all(an, "10.0.0.11", counted + 4, 1, 10000, 0, 3);
    g = client_of(an, "10.0.0.11");
    assert_true(g.last.infected);
    assert_int_equal(g.last.dga_sets, 1);
    assert_int_equal(g.last.dga_names, 5);
    for (size_t i = 0; i < g.nhits; i++)
        assert_non_null(strstr(g.last.hits[i].name, "winsoft"));
    feed_all(an, "10.0.0.11", counted + 5, 1, 11000, 0, 3); /* a sixth joins them */
    assert_int_equal(client_of(an, "10.0.0.11").last.dga_names, 6);
    assert_int_equal(client_of(an, "10.0.0.11").last.dga_sets, 1);
    for (int k = KHI_DGA_SET_MIN; k <= KHI_DGA_SET_MAX; k++)
        m->set_thr[0][k] = thr;
    /* merge: three names in one analyzer, two in another, flagged once merged */
    assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an2), KH_OK);
    feed_all(an2, "10.0.0.7", odd, 3, 1000, 1000, 3);
    kh_dns_analyzer *an3 = NULL;
    assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an3), KH_OK);
    feed_all(an3, "10.0.0.7", odd + 3, 2, 4000, 1000, 3);
    assert_false(client_of(an2, "10.0.0.7").last.infected);
    assert_false(client_of(an3, "10.0.0.7").last.infected);
    assert_int_equal(kh_dns_analyzer_merge(an2, an3), KH_OK);
    g = client_of(an2, "10.0.0.7");
    assert_true(g.last.infected);
    assert_int_equal(g.last.dga_names, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(g.last.hits[i].count, 1); /* the answers of both halves, once */
    kh_dns_analyzer_destroy(an3);
    kh_dns_analyzer_destroy(an2);
    kh_dns_analyzer_destroy(an);
    /* off: by option, or a model without set thresholds */
    o.dga_sets = 0;
    assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an), KH_OK);
    feed_all(an, "10.0.0.1", odd, 6, 1000, 1000, 3);
    assert_false(client_of(an, "10.0.0.1").last.infected);
    kh_dns_analyzer_destroy(an);
    o.dga_sets = 1;
    o.dga_set_fpr = 0.0001; /* a level the model does not hold */
    assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an), KH_OK);
    feed_all(an, "10.0.0.1", odd, 6, 1000, 1000, 3);
    assert_false(client_of(an, "10.0.0.1").last.infected);
    kh_dns_analyzer_destroy(an);
    o.dga_set_fpr = 0.001;
    m->nlevels = 0;
    assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an), KH_OK);
    feed_all(an, "10.0.0.1", odd, 6, 1000, 1000, 3);
    assert_false(client_of(an, "10.0.0.1").last.infected);
    kh_dns_analyzer_destroy(an);
    /* every allocation of the set path failing in turn: an error, never a crash or a leak */
    m->nlevels = 1;
    for (int k = 0;; k++) {
        assert_int_equal(kh_dns_analyzer_create(NULL, m, &o, &an), KH_OK);
        khi_mem_fail_after(k);
        kh_err e = KH_OK;
        for (unsigned i = 0; i < 6 && e == KH_OK; i++) {
            kh_dns_rec r = rec("10.0.0.9", odd[i], 1000 * (int64_t)i, 3);
            e = kh_dns_analyzer_feed(an, &r);
        }
        khi_mem_fail_after(-1);
        assert_true(e == KH_OK || e == KH_ENOMEM);
        kh_dns_analyzer_destroy(an);
        if (e == KH_OK)
            break;
    }
    kh_dns_dga_destroy(m);
}

/*
 * Set thresholds from training and through the model file (format 3): calibrated when there
 * are enough benign names (each finite, and fewer names need a higher mean), written, read
 * back the same; a version-2 file (no sets line) still loads without them; a damaged sets line
 * is refused with a reason.
 */
static void test_dns_detect_dga_sets_file(void **state)
{
    (void)state;
    static const char *const parts[] = {"shop", "news", "live", "world", "home", "city", "auto",
                                        "film", "book", "game", "team",  "land", "blue", "star"};
    char store[200][32];
    const char *benign[200];
    for (int i = 0; i < 196; i++) {
        snprintf(store[i], sizeof(store[i]), "%s%s.%s", parts[i % 14], parts[i / 14],
                 i & 1 ? "com" : "net");
        benign[i] = store[i];
    }
    static const char *const dga[] = {"xkq3jz8v2wpt.com", "mzq8vx2kj4rt.net", "ptl9qz3xkv7w.org",
                                      "zx8kq2vj5mwt.info"};
    kh_dns_dga *m = NULL;
    assert_int_equal(kh_dns_dga_train(benign, 196, dga, 4, &m), KH_OK);
    const double *fpr = NULL;
    assert_int_equal(kh_dns_dga_set_levels(m, &fpr), 2);
    assert_true(fpr[0] == 0.001 && fpr[1] == 0.0001);
    assert_int_equal(khi_dga_set_level(m, 0.0001), 1);
    assert_int_equal(khi_dga_set_level(m, 0.01), -1);
    for (int k = KHI_DGA_SET_MIN; k <= KHI_DGA_SET_MAX; k++) {
        double t = khi_dga_set_threshold(m, 0, (unsigned)k),
               t4 = khi_dga_set_threshold(m, 1, (unsigned)k);
        assert_true(t > -KHI_DGA_LOGIT_MAX && t < KHI_DGA_LOGIT_MAX);
        assert_true(t4 >= t); /* fewer benign sets flagged: a higher bar */
    }
    assert_true(khi_dga_set_threshold(m, 0, KHI_DGA_SET_MIN) >
                khi_dga_set_threshold(m, 0, KHI_DGA_SET_MAX));
    assert_true(isnan(khi_dga_set_threshold(m, 0, KHI_DGA_SET_MIN - 1)));
    assert_true(isnan(khi_dga_set_threshold(m, 0, KHI_DGA_SET_MAX + 1)));
    assert_true(isnan(khi_dga_set_threshold(m, 2, KHI_DGA_SET_MIN)));
    char err[256];
    size_t len = 0;
    char *data = saved(m, &len);
    assert_memory_equal(data, "khien-dga 3 ", 12);
    kh_dns_dga *m2 = NULL;
    assert_int_equal(khi_dga_parse(data, len, "t", &m2, err, sizeof(err)), KH_OK);
    for (int l = 0; l < 2; l++)
        for (int k = KHI_DGA_SET_MIN; k <= KHI_DGA_SET_MAX; k++)
            assert_true(fabs(khi_dga_set_threshold(m2, l, (unsigned)k) -
                             khi_dga_set_threshold(m, l, (unsigned)k)) < 1e-6);
    kh_dns_dga_destroy(m2);
    m2 = NULL;
    char *sets = strstr(data, "\nsets 0.001 5 32 "), *sets4 = strstr(data, "\nsets 0.0001 5 32 ");
    assert_non_null(sets);
    assert_non_null(sets4);
    sets[12] = '4'; /* "sets 0.001 4 32": another range */
    assert_int_equal(khi_dga_parse(data, len, "t", &m2, err, sizeof(err)), KH_EFORMAT);
    assert_non_null(strstr(err, "'sets' line 1"));
    sets[12] = '5';
    memcpy(sets4 + 6, "0.001 ", 6); /* "sets 0.001 5 32" twice */
    assert_int_equal(khi_dga_parse(data, len, "t", &m2, err, sizeof(err)), KH_EFORMAT);
    assert_non_null(strstr(err, "'sets' line 2"));
    memcpy(sets4 + 6, "0.0001", 6);
    char *eol = strchr(sets + 1, '\n');
    assert_non_null(eol);
    eol[-1] = 'x'; /* a threshold that is not a number */
    assert_int_equal(khi_dga_parse(data, len, "t", &m2, err, sizeof(err)), KH_EFORMAT);
    khi_free(data);
    m->nlevels = 0; /* written as version 2, read without sets */
    data = saved(m, &len);
    assert_memory_equal(data, "khien-dga 2 ", 12);
    assert_null(strstr(data, "\nsets "));
    assert_int_equal(khi_dga_parse(data, len, "t", &m2, err, sizeof(err)), KH_OK);
    assert_int_equal(m2->nlevels, 0);
    kh_dns_dga_destroy(m2);
    khi_free(data);
    kh_dns_dga_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_detect_hits),     cmocka_unit_test(test_dns_detect_oom),
        cmocka_unit_test(test_dns_detect_dga),      cmocka_unit_test(test_dns_detect_dga_file),
        cmocka_unit_test(test_dns_detect_dga_sets), cmocka_unit_test(test_dns_detect_dga_sets_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
