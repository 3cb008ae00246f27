/*
 * test_dns_ind.c - domain names and indicator sets: normalisation (case, trailing dot, IDNA),
 * the parent-domain walk at label boundaries, the allow-list, every list format, Maltrail's
 * IP:port and URL lines kept as their own indicators, and the registrable domain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <khien/dns.h>
#include "core/core.h"

static void expect_norm(const char *in, const char *want)
{
    char out[KH_DNS_NAME_MAX + 1];
    size_t n = 0;
    kh_err e = kh_dns_name_normalize(in, strlen(in), out, sizeof(out), &n);
    if (!want) {
        assert_int_equal(e, KH_EFORMAT);
        return;
    }
    if (e != KH_OK)
        fail_msg("%s: %s", in, kh_strerror(e));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_dns_ind_normalize(void **state)
{
    (void)state;
    expect_norm("WWW.Example.COM.", "www.example.com");
    expect_norm("www.example.com", "www.example.com"); /* www. kept */
    expect_norm("bücher.de", "xn--bcher-kva.de");
    expect_norm("BÜCHER.de", "xn--bcher-kva.de");
    expect_norm("thư-viện.vn", "xn--th-vin-4zb3960d.vn");
    expect_norm("xn--bcher-kva.de", "xn--bcher-kva.de");
    expect_norm("_dmarc.example.com", "_dmarc.example.com");
    expect_norm("", NULL);
    expect_norm("a..b", NULL);
    expect_norm("exa mple.com", NULL);
    expect_norm("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL); /* 65 */
}

static int m(const kh_dns_indset *s, const char *q, const char **fam)
{
    return kh_dns_indset_match(s, q, strlen(q), fam, NULL, NULL);
}

static void test_dns_ind_parent_walk(void **state)
{
    (void)state;
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    assert_int_equal(kh_dns_indset_add(s, "evil.com", 8, "emotet", 0), KH_OK);
    assert_int_equal(kh_dns_indset_add(s, "higan.org", 9, "x", 0), KH_OK);
    assert_int_equal(kh_dns_indset_add(s, "bad.co.uk", 9, NULL, 0), KH_OK);
    const char *fam = NULL;
    assert_int_equal(m(s, "evil.com", &fam), 1);
    assert_string_equal(fam, "emotet");
    assert_int_equal(m(s, "a.b.evil.com", &fam), 1);
    assert_int_equal(m(s, "A.B.EVIL.COM.", &fam), 1);
    assert_int_equal(m(s, "notevil.com", &fam), 0);
    assert_int_equal(m(s, "evil.com.au", &fam), 0);
    assert_int_equal(m(s, "michigan.org", &fam), 0);
    assert_int_equal(m(s, "x.michigan.org", &fam), 0);
    assert_int_equal(m(s, "www.higan.org", &fam), 1);
    assert_int_equal(m(s, "com", &fam), 0);
    assert_int_equal(m(s, "co.uk", &fam), 0);
    assert_int_equal(m(s, "x.bad.co.uk", &fam), 1);
    assert_string_equal(fam, "unknown");
    /* the allow-list overrides, for the name and below */
    assert_int_equal(kh_dns_indset_add(s, "good.evil.com", 13, NULL, 1), KH_OK);
    assert_int_equal(m(s, "good.evil.com", &fam), 0);
    assert_int_equal(m(s, "x.good.evil.com", &fam), 0);
    assert_int_equal(m(s, "bad.evil.com", &fam), 1);
    assert_int_equal(kh_dns_indset_allowed(s, "x.good.evil.com", 15), 1);
    /* duplicates counted, not stored twice */
    assert_int_equal(kh_dns_indset_add(s, "EVIL.com.", 9, "other", 0), KH_OK);
    kh_dns_indset_stats st;
    kh_dns_indset_get_stats(s, &st);
    assert_int_equal(st.domains, 3);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.duplicates, 1);
    /* IDN indicators match their punycode form in logs */
    assert_int_equal(kh_dns_indset_add(s, "bücher.example", strlen("bücher.example"), "idn", 0), KH_OK);
    assert_int_equal(m(s, "www.xn--bcher-kva.example", &fam), 1);
    assert_string_equal(fam, "idn");
    kh_dns_indset_destroy(s);
}

static void test_dns_ind_many(void **state)
{
    (void)state;
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    char name[64];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(name, sizeof(name), "host%d.example%d.net", i, i % 97);
        assert_int_equal(kh_dns_indset_add(s, name, (size_t)n, i % 2 ? "odd" : "even", 0), KH_OK);
    }
    for (int i = 0; i < 100000; i += 7) {
        int n = snprintf(name, sizeof(name), "x.y.host%d.example%d.net", i, i % 97);
        const char *fam = NULL;
        assert_int_equal(kh_dns_indset_match(s, name, (size_t)n, &fam, NULL, NULL), 1);
        assert_string_equal(fam, i % 2 ? "odd" : "even");
        n = snprintf(name, sizeof(name), "host%d.example%d.net", i, (i + 1) % 97);
        assert_int_equal(kh_dns_indset_match(s, name, (size_t)n, NULL, NULL, NULL), 0);
    }
    kh_dns_indset_destroy(s);
}

typedef struct diags {
    unsigned n;
    char last[256];
} diags;

static void on_diag(void *ud, const char *file, uint64_t line, const char *msg)
{
    diags *d = ud;
    d->n++;
    snprintf(d->last, sizeof(d->last), "%s:%llu: %s", file, (unsigned long long)line, msg);
}

static void test_dns_ind_maltrail(void **state)
{
    (void)state;
    const char *text = "# Copyright\n# Aliases: Emotet\n\n66.210.228.178:443\n"
                       "dvr.petcp.com\n1c26.dyndns.org # inline\n"
                       "http://bad.example/x.php\nbad2.example/gate.php\n"
                       "10.1.2.3\nnot a name!\n";
    kh_dns_indset *s = NULL;
    diags d = {0, ""};
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "trails/static/malware/emotet.txt", text, strlen(text),
                                            KH_DNS_LIST_AUTO, NULL, 0, on_diag, &d),
                     KH_OK);
    kh_dns_indset_stats st;
    kh_dns_indset_get_stats(s, &st);
    assert_int_equal(st.domains, 2);
    assert_int_equal(st.ips, 2);
    assert_int_equal(st.urls, 2);
    assert_int_equal(st.rejected, 1);
    assert_non_null(strstr(d.last, "emotet.txt:10"));
    const char *fam = NULL;
    assert_int_equal(m(s, "x.dvr.petcp.com", &fam), 1);
    assert_string_equal(fam, "emotet");
    assert_int_equal(kh_dns_indset_match_other(s, "66.210.228.178:443", 18, &fam), 1);
    assert_int_equal(kh_dns_indset_match_other(s, "bad2.example/gate.php", 21, &fam), 1);
    assert_int_equal(m(s, "bad.example", &fam), 0); /* a URL is not a domain indicator */
    kh_dns_indset_destroy(s);
}

/* 2026-11-25, found loading all of Maltrail: a trail whose first lines were "IP # comment" was
 * taken for a hosts file and 40,000 of its lines rejected. */
static void test_dns_ind_sniff_inline_comment(void **state)
{
    (void)state;
    const char *text = "# Reference: x\n203.0.113.9 # C&C\n198.51.100.7 # C&C\nbad-one.example\n"
                       "bad-two.example\nbad-three.example\n";
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "apt_x.txt", text, strlen(text), KH_DNS_LIST_AUTO, NULL, 0, NULL, NULL),
                     KH_OK);
    kh_dns_indset_stats st;
    kh_dns_indset_get_stats(s, &st);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(st.ips, 2);
    assert_int_equal(st.domains, 3);
    kh_dns_indset_destroy(s);
}

static void test_dns_ind_formats(void **state)
{
    (void)state;
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    const char *hosts = "# hosts\n127.0.0.1 localhost\n0.0.0.0 ads.example tracker.example\n::1 ip6-localhost\n";
    const char *abp = "[Adblock Plus 2.0]\n! comment\n||abp.example^\n||abp2.example^$third-party\n"
                      "@@||ok.abp.example^\n##.banner\n||abp3.example/path\n";
    const char *rpz = "$TTL 300\n@ IN SOA localhost. root.localhost. (1 3600\n 600 86400 300 )\n"
                      "  IN NS localhost.\nrpz1.example CNAME .\n*.rpz1.example CNAME .\n"
                      "rpz2.example.rpz.local. 60 IN A 10.0.0.1\npass.rpz1.example CNAME rpz-passthru.\n"
                      "32.1.0.0.10.rpz-ip CNAME .\n";
    const char *csv = "domain,family,source\ncsv1.example,qakbot,feed-a\n\"csv2.example\",\"lokibot\",feed-b\n";
    assert_int_equal(kh_dns_indset_load_mem(s, "a.hosts", hosts, strlen(hosts), KH_DNS_LIST_AUTO, "ads", 0, NULL, NULL), KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "easylist.txt", abp, strlen(abp), KH_DNS_LIST_AUTO, NULL, 0, NULL, NULL), KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "rpz.local.zone", rpz, strlen(rpz), KH_DNS_LIST_AUTO, NULL, 0, NULL, NULL), KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "feed.csv", csv, strlen(csv), KH_DNS_LIST_AUTO, NULL, 0, NULL, NULL), KH_OK);
    const char *fam = NULL;
    assert_int_equal(m(s, "ads.example", &fam), 1);
    assert_string_equal(fam, "ads");
    assert_int_equal(m(s, "tracker.example", &fam), 1);
    assert_int_equal(m(s, "localhost", &fam), 0);
    assert_int_equal(m(s, "www.abp.example", &fam), 1);
    assert_string_equal(fam, "easylist");
    assert_int_equal(m(s, "abp2.example", &fam), 1);
    assert_int_equal(m(s, "ok.abp.example", &fam), 0);
    assert_int_equal(m(s, "abp3.example", &fam), 0);
    assert_int_equal(m(s, "a.rpz1.example", &fam), 1);
    assert_int_equal(m(s, "rpz2.example", &fam), 0); /* origin unknown: absolute name kept whole */
    assert_int_equal(m(s, "pass.rpz1.example", &fam), 0);
    assert_int_equal(m(s, "csv1.example", &fam), 1);
    assert_string_equal(fam, "qakbot");
    assert_int_equal(m(s, "csv2.example", &fam), 1);
    assert_string_equal(fam, "lokibot");
    assert_int_equal(m(s, "domain", &fam), 0);
    kh_dns_indset_destroy(s);
    /* with $ORIGIN the absolute owner loses it */
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    const char *rpz2 = "$ORIGIN rpz.local.\n@ SOA a. b. 1 2 3 4 5\nevil.example.rpz.local. CNAME .\n";
    assert_int_equal(kh_dns_indset_load_mem(s, "z", rpz2, strlen(rpz2), KH_DNS_LIST_RPZ, NULL, 0, NULL, NULL), KH_OK);
    assert_int_equal(m(s, "evil.example", &fam), 1);
    kh_dns_indset_destroy(s);
}

static void test_dns_ind_registrable(void **state)
{
    (void)state;
    const char *r = NULL;
    assert_int_equal(kh_dns_registrable("a.b.example.co.uk", &r), KH_OK);
    assert_non_null(r);
    assert_string_equal(r, "example.co.uk");
    assert_int_equal(kh_dns_registrable("www.example.com", &r), KH_OK);
    assert_string_equal(r, "example.com");
    assert_int_equal(kh_dns_registrable("x.gov.vn", &r), KH_OK);
    assert_string_equal(r, "x.gov.vn");
    assert_int_equal(kh_dns_registrable("co.uk", &r), KH_OK);
    assert_null(r);
}

/* 2026-11-25, issue "khien dns" (tables within 1.5x of the list): a name that is a suffix of
 * another at no label boundary, both listed with their own families. */
static void test_dns_ind_suffix_not_label(void **state)
{
    (void)state;
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    assert_int_equal(kh_dns_indset_add(s, "ample.com", 9, "short", 0), KH_OK);
    assert_int_equal(kh_dns_indset_add(s, "example.com", 11, "long", 0), KH_OK);
    const char *fam = NULL, *dom = NULL;
    size_t dl = 0;
    assert_int_equal(kh_dns_indset_match(s, "www.example.com", 15, &fam, &dom, &dl), 1);
    assert_string_equal(fam, "long");
    assert_int_equal(dl, 11);
    assert_memory_equal(dom, "example.com", 11);
    assert_int_equal(kh_dns_indset_match(s, "x.ample.com", 11, &fam, &dom, &dl), 1);
    assert_string_equal(fam, "short");
    assert_int_equal(m(s, "xample.com", &fam), 0);
    assert_int_equal(m(s, "sample.com", &fam), 0);
    assert_int_equal(m(s, "example.com.evil", &fam), 0);
    assert_int_equal(m(s, "mple.com", &fam), 0);
    kh_dns_indset_destroy(s);
}

typedef struct seen {
    unsigned blocks, allows, ips;
    char fam_of_both[32];
} seen;

static int on_ind(void *ud, kh_dns_ind_kind kind, const char *name, size_t n, const char *family)
{
    seen *w = ud;
    if (kind == KH_DNS_IND_IP)
        w->ips++;
    if (n == 9 && memcmp(name, "both.test", 9) == 0)
        snprintf(w->fam_of_both, sizeof(w->fam_of_both), "%s", family);
    w->blocks++;
    return 0;
}

static int on_allow(void *ud, kh_dns_ind_kind kind, const char *name, size_t n, const char *family)
{
    (void)kind, (void)name, (void)n, (void)family;
    ((seen *)ud)->allows++;
    return 0;
}

/* Duplicates across files keep the first family; a name allowed before it is blocked (and the
 * reverse) carries both flags, and the block's family, in matching and in foreach. */
static void test_dns_ind_dup_allow_order(void **state)
{
    (void)state;
    const char *allow = "both.test\nok.test\n";
    const char *a = "dup.test\nboth.test\n198.51.100.7\nx.test\n";
    const char *b = "dup.test\nlate.test\n198.51.100.7\n";
    const char *allow2 = "late.test\n";
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "allow.txt", allow, strlen(allow), KH_DNS_LIST_PLAIN,
                                            NULL, 1, NULL, NULL),
                     KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "fam-a.txt", a, strlen(a), KH_DNS_LIST_PLAIN, NULL,
                                            0, NULL, NULL),
                     KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "fam-b.txt", b, strlen(b), KH_DNS_LIST_PLAIN, NULL,
                                            0, NULL, NULL),
                     KH_OK);
    assert_int_equal(kh_dns_indset_load_mem(s, "allow2.txt", allow2, strlen(allow2),
                                            KH_DNS_LIST_PLAIN, NULL, 1, NULL, NULL),
                     KH_OK);
    kh_dns_indset_stats st;
    kh_dns_indset_get_stats(s, &st);
    assert_int_equal(st.domains, 4); /* dup, both, x, late */
    assert_int_equal(st.ips, 1);
    assert_int_equal(st.allowed, 3);
    assert_int_equal(st.duplicates, 2);
    const char *fam = NULL;
    assert_int_equal(m(s, "a.dup.test", &fam), 1);
    assert_string_equal(fam, "fam-a");
    assert_int_equal(m(s, "x.test", &fam), 1);
    assert_string_equal(fam, "fam-a");
    assert_int_equal(m(s, "both.test", &fam), 0); /* allowed first, blocked after: allowed */
    assert_int_equal(m(s, "late.test", &fam), 0); /* blocked first, allowed after */
    assert_int_equal(kh_dns_indset_allowed(s, "www.late.test", 13), 1);
    assert_int_equal(kh_dns_indset_allowed(s, "dup.test", 8), 0);
    assert_int_equal(kh_dns_indset_match_other(s, "198.51.100.7", 12, &fam), 1);
    assert_string_equal(fam, "fam-a");
    seen w;
    memset(&w, 0, sizeof(w));
    kh_dns_indset_foreach(s, 0, on_ind, &w);
    assert_int_equal(w.blocks, 5);
    assert_int_equal(w.ips, 1);
    assert_string_equal(w.fam_of_both, "fam-a");
    kh_dns_indset_foreach(s, 1, on_allow, &w);
    assert_int_equal(w.allows, 3);
    kh_dns_indset_destroy(s);
}

/* Base-36 digits of v into p; returns the count. */
static size_t b36(char *p, uint32_t v)
{
    char t[8];
    size_t k = 0;
    do {
        t[k++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        v /= 36;
    } while (v);
    for (size_t i = 0; i < k; i++)
        p[i] = t[k - 1 - i];
    return k;
}

/* Name i of the 2M list: unique by its base-36 prefix, random letters up to 6-16, a TLD. */
static size_t big_name(char *out, uint32_t i, int variant)
{
    static const char *const tlds[] = {"com", "net", "org", "info", "ru", "xyz", "top", "vn"};
    uint32_t r = i * 2654435761u;
    size_t n = b36(out, i);
    out[n++] = '-';
    size_t len = 6 + r % 11;
    while (n < len) {
        r = r * 1103515245u + 12345u;
        out[n++] = (char)('a' + (r >> 16) % 26);
    }
    if (variant)
        out[n - 1] = out[n - 1] == 'q' ? 'r' : 'q'; /* a near miss: one letter off */
    out[n++] = '.';
    const char *t = tlds[i % 8];
    memcpy(out + n, t, strlen(t));
    return n + strlen(t);
}

/* 2M bare names (the size): every one found by itself and under a parent, one-letter
 * near misses not, tables within 1.5x of the list; this also walks tag collisions, as a 40 MB
 * pool leaves 6 bits of tag. */
static void test_dns_ind_two_million(void **state)
{
    (void)state;
    const uint32_t N = 2000000;
    khi_buf b;
    khi_buf_init(&b);
    char name[64], q[80];
    for (uint32_t i = 0; i < N; i++) {
        size_t n = big_name(name, i, 0);
        name[n++] = '\n';
        assert_int_equal(khi_buf_append(&b, name, n), KH_OK);
    }
    assert_int_equal(khi_buf_append(&b, "big.example\nbig.example\n", 24), KH_OK); /* duplicates */
    kh_dns_indset *s = NULL;
    assert_int_equal(kh_dns_indset_create(&s), KH_OK);
    assert_int_equal(
        kh_dns_indset_load_mem(s, "big.txt", b.data, b.len, KH_DNS_LIST_PLAIN, NULL, 0, NULL, NULL),
        KH_OK);
    kh_dns_indset_stats st;
    kh_dns_indset_get_stats(s, &st);
    assert_int_equal(st.domains, N + 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.rejected, 0);
    if (st.memory * 2 > b.len * 3)
        fail_msg("tables %llu bytes for a %zu-byte list", (unsigned long long)st.memory, b.len);
    for (uint32_t i = 0; i < N; i += 3) {
        size_t n = big_name(name, i, 0);
        const char *fam = NULL, *dom = NULL;
        size_t dl = 0;
        memcpy(q, "a.b.", 4);
        memcpy(q + 4, name, n);
        if (kh_dns_indset_match(s, q, n + 4, &fam, &dom, &dl) != 1)
            fail_msg("%.*s not found", (int)n, name);
        assert_int_equal(dl, n);
        assert_memory_equal(dom, name, n);
        assert_string_equal(fam, "big");
        n = big_name(name, i, 1);
        if (kh_dns_indset_match(s, name, n, NULL, NULL, NULL) != 0)
            fail_msg("%.*s found", (int)n, name);
    }
    assert_int_equal(m(s, "big.example", NULL), 1);
    kh_dns_indset_destroy(s);
    khi_buf_cleanup(&b);
}

static void test_dns_ind_oom(void **state)
{
    (void)state;
    const char *text = "a.example\nb.example\n1.2.3.4:80\n";
    for (long n = 0; n < 20; n++) {
        kh_dns_indset *s = NULL;
        khi_mem_fail_after(n);
        kh_err e = kh_dns_indset_create(&s);
        if (e == KH_OK)
            e = kh_dns_indset_load_mem(s, "fam.txt", text, strlen(text), KH_DNS_LIST_AUTO, NULL, 0, NULL, NULL);
        khi_mem_fail_after(-1);
        assert_true(e == KH_OK || e == KH_ENOMEM);
        kh_dns_indset_destroy(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_ind_normalize),
        cmocka_unit_test(test_dns_ind_parent_walk),
        cmocka_unit_test(test_dns_ind_many),
        cmocka_unit_test(test_dns_ind_maltrail),
        cmocka_unit_test(test_dns_ind_formats),
        cmocka_unit_test(test_dns_ind_registrable),
        cmocka_unit_test(test_dns_ind_oom),
        cmocka_unit_test(test_dns_ind_sniff_inline_comment),
        cmocka_unit_test(test_dns_ind_suffix_not_label),
        cmocka_unit_test(test_dns_ind_dup_allow_order),
        cmocka_unit_test(test_dns_ind_two_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
