/*
 * test_dns_detect.c - the analyzer: hits attributed to clients with families, first/last seen,
 * the bound on names kept per client, NXDOMAIN bursts with DGA names, merging per-thread
 * analyzers, out-of-memory paths; and the DGA model's file round trip.
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

static void test_dns_detect_dga(void **state)
{
    (void)state;
    static const char *const benign[] = {"google.com",   "facebook.com",  "wikipedia.org",
                                         "amazon.com",   "youtube.com",   "twitter.com",
                                         "linkedin.com", "microsoft.com", "apple.com",
                                         "netflix.com",  "yahoo.com",     "instagram.com"};
    static const char *const dga[] = {"xkq3jz8v2wpt.com",  "mzq8vx2kj4rt.net", "ptl9qz3xkv7w.org",
                                      "zx8kq2vj5mwt.info", "rqz7xk3vj9pw.biz", "kj4xq9zv2tm8.com",
                                      "wq2zk8xj3vp7.net",  "vj8xk2qz9mt4.org"};
    kh_dns_dga *m = NULL;
    assert_int_equal(kh_dns_dga_train(benign, 12, dga, 8, &m), KH_OK);
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
    char path[] = "/tmp/khien-dga-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kh_dns_dga_save(m, path), KH_OK);
    char *data = NULL, err[256];
    size_t len = 0;
    assert_int_equal(khi_file_read_all(path, 1 << 20, &data, &len, err, sizeof(err)), KH_OK);
    unlink(path);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_detect_hits),
        cmocka_unit_test(test_dns_detect_oom),
        cmocka_unit_test(test_dns_detect_dga),
        cmocka_unit_test(test_dns_detect_dga_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
