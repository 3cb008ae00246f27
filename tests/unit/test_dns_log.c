/*
 * test_dns_log.c - every log format on a real-shaped sample (tests/data/dns/logs): detected
 * automatically, the right records with client, name, type, code and time, malformed lines
 * counted with their line numbers while the run goes on, over-long lines, compressed input,
 * and the time helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <khien/dns.h>
#include "dns/dns_int.h"

static char datadir[4096];

static void find_data(void)
{
    khi_snprintf(datadir, sizeof(datadir), "%s", __FILE__);
    char *s = strrchr(datadir, '/');
    if (s)
        *s = '\0';
    size_t n = strlen(datadir);
    khi_snprintf(datadir + n, sizeof(datadir) - n, "/../data/dns/logs");
}

typedef struct seen {
    unsigned diags;
    uint64_t first_bad_line;
} seen;

static void on_diag(void *ud, const char *file, uint64_t line, const char *msg)
{
    seen *s = ud;
    (void)file;
    (void)msg;
    if (!s->diags++)
        s->first_bad_line = line;
}

typedef struct expect {
    const char *file;
    kh_dns_format fmt;
    uint64_t records, malformed;
    uint64_t nx; /* records with rcode 3 */
    int64_t first_time_ms;
} expect;

static const expect cases[] = {
    {"bind.log", KH_DNS_FMT_BIND, 5, 1, 0, 1795595701123},
    {"unbound.log", KH_DNS_FMT_UNBOUND, 6, 2, 1, 1795595701000},
    {"dnsmasq.log", KH_DNS_FMT_DNSMASQ, 6, 2, 1, -2},
    {"zeek-dns.log", KH_DNS_FMT_ZEEK, 5, 1, 1, 1795595701123},
    {"eve.json", KH_DNS_FMT_EVE, 7, 1, 1, 1795595701123},
    {"windows-dns.log", KH_DNS_FMT_WINDOWS, 6, 1, 1, 1795595701000},
    {"pdns.log", KH_DNS_FMT_PDNS, 5, 2, 0, 1795595701123},
    {"queries.csv", KH_DNS_FMT_CSV, 5, 1, 1, 1795595701000},
};

static void run_case(const expect *x)
{
    char path[4200];
    khi_snprintf(path, sizeof(path), "%s/%s", datadir, x->file);
    kh_dns_reader *r = NULL;
    assert_int_equal(kh_dns_reader_open(path, KH_DNS_FMT_AUTO, &r), KH_OK);
    seen s = {0, 0};
    kh_dns_reader_set_diag(r, on_diag, &s);
    kh_dns_rec rec;
    int have = 0;
    uint64_t n = 0, nx = 0, evil = 0, v6 = 0;
    int64_t first = -3;
    for (;;) {
        assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_OK);
        if (!have)
            break;
        if (first == -3)
            first = rec.time_ms;
        n++;
        nx += rec.rcode == 3;
        if (rec.qname_len >= 11 && strncasecmp(rec.qname, "a.b.evil-c2.com", 15) == 0) {
            evil++;
            if (!(rec.client_len == 10 && memcmp(rec.client, "192.0.2.20", 10) == 0))
                fail_msg("%s: client of a.b.evil-c2.com is '%.*s'", x->file, (int)rec.client_len, rec.client);
        }
        if (rec.qname_len >= 18 && strncmp(rec.qname, "update.evil-c2.com", 18) == 0) {
            v6++;
            if (!memchr(rec.client, ':', rec.client_len) || rec.client[rec.client_len - 1] == ']')
                fail_msg("%s: IPv6 client '%.*s'", x->file, (int)rec.client_len, rec.client);
            if (!(rec.qtype_len == 4 && memcmp(rec.qtype, "AAAA", 4) == 0))
                fail_msg("%s: qtype '%.*s'", x->file, (int)rec.qtype_len, rec.qtype);
        }
    }
    if (kh_dns_reader_format(r) != x->fmt)
        fail_msg("%s: detected %s", x->file, kh_dns_format_name(kh_dns_reader_format(r)));
    kh_dns_reader_stats st;
    kh_dns_reader_get_stats(r, &st);
    if (st.records != x->records || st.malformed != x->malformed || nx != x->nx)
        fail_msg("%s: records %llu malformed %llu nx %llu", x->file, (unsigned long long)st.records,
                 (unsigned long long)st.malformed, (unsigned long long)nx);
    assert_int_equal(n, x->records);
    assert_true(evil >= 1);
    assert_int_equal(v6, 1);
    assert_int_equal(s.diags, x->malformed);
    assert_true(s.first_bad_line > 1);
    if (x->first_time_ms != -2 && first != x->first_time_ms)
        fail_msg("%s: first time %lld", x->file, (long long)first);
    kh_dns_reader_destroy(r);
}

static void test_dns_log_formats(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

static void test_dns_log_named_format(void **state)
{
    (void)state;
    /* a BIND log read as dnsmasq: every line malformed, none crashes */
    char path[4200];
    khi_snprintf(path, sizeof(path), "%s/bind.log", datadir);
    kh_dns_reader *r = NULL;
    assert_int_equal(kh_dns_reader_open(path, KH_DNS_FMT_DNSMASQ, &r), KH_OK);
    kh_dns_rec rec;
    int have = 1;
    while (have)
        assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_OK);
    kh_dns_reader_stats st;
    kh_dns_reader_get_stats(r, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.malformed, 7);
    kh_dns_reader_destroy(r);
    kh_dns_format f;
    assert_int_equal(kh_dns_format_parse("suricata", &f), KH_OK);
    assert_int_equal(f, KH_DNS_FMT_EVE);
    assert_int_equal(kh_dns_format_parse("nope", &f), KH_EINVAL);
}

static void test_dns_log_long_line(void **state)
{
    (void)state;
    size_t big = 200000;
    char *buf = malloc(big + 400);
    assert_non_null(buf);
    const char *a = "Nov 25 08:35:01 dnsmasq[1]: query[A] a.example from 192.0.2.1\n";
    size_t o = 0;
    memcpy(buf, a, strlen(a));
    o += strlen(a);
    memset(buf + o, 'x', big);
    o += big;
    buf[o++] = '\n';
    memcpy(buf + o, a, strlen(a));
    o += strlen(a);
    kh_dns_reader *r = NULL;
    assert_int_equal(kh_dns_reader_open_mem("long", buf, o, KH_DNS_FMT_DNSMASQ, &r), KH_OK);
    kh_dns_rec rec;
    int have = 1;
    unsigned n = 0;
    while (have) {
        assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_OK);
        n += have;
    }
    kh_dns_reader_stats st;
    kh_dns_reader_get_stats(r, &st);
    assert_int_equal(n, 2);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.lines, 3);
    kh_dns_reader_destroy(r);
    free(buf);
}

static void test_dns_log_unknown(void **state)
{
    (void)state;
    const char *t = "hello world\nthis is not a dns log\n";
    kh_dns_reader *r = NULL;
    assert_int_equal(kh_dns_reader_open_mem("x", t, strlen(t), KH_DNS_FMT_AUTO, &r), KH_OK);
    kh_dns_rec rec;
    int have;
    assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_EFORMAT);
    kh_dns_reader_destroy(r);
    /* empty input: no records, no error */
    assert_int_equal(kh_dns_reader_open_mem("x", "", 0, KH_DNS_FMT_AUTO, &r), KH_OK);
    assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_OK);
    assert_int_equal(have, 0);
    kh_dns_reader_destroy(r);
}

static void test_dns_log_time(void **state)
{
    (void)state;
    assert_int_equal(khi_dns_days(1970, 1, 1), 0);
    assert_int_equal(khi_dns_days(2000, 3, 1), 11017);
    assert_int_equal(khi_dns_iso_ms("2026-11-25T08:35:01Z", 20), 1795595701000);
    assert_int_equal(khi_dns_iso_ms("2026-11-25T15:35:01.5+07:00", 27), 1795595701500);
    assert_int_equal(khi_dns_epoch_ms("1795595701.25", 13), 1795595701250);
    assert_int_equal(khi_dns_epoch_ms("17x", 3), -1);
    assert_int_equal(khi_dns_rcode("NXDOMAIN", 8), 3);
    assert_int_equal(khi_dns_rcode("3", 1), 3);
    assert_int_equal(khi_dns_rcode("WHAT", 4), -1);
    const char *s = "[2001:db8::1]:53";
    size_t n = strlen(s);
    khi_dns_strip_port(&s, &n);
    assert_int_equal(n, 11);
    s = "192.0.2.1:53";
    n = strlen(s);
    khi_dns_strip_port(&s, &n);
    assert_int_equal(n, 9);
    s = "2001:db8::1";
    n = strlen(s);
    khi_dns_strip_port(&s, &n);
    assert_int_equal(n, 11);
}

int main(void)
{
    find_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_log_formats),   cmocka_unit_test(test_dns_log_named_format),
        cmocka_unit_test(test_dns_log_long_line), cmocka_unit_test(test_dns_log_unknown),
        cmocka_unit_test(test_dns_log_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
