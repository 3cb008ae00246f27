/*
 * test_dns_log.c - every log format on a real-shaped sample (tests/data/dns/logs): detected
 * automatically, the right records with client, name, type, code and time, malformed lines
 * counted with their line numbers while the run goes on, over-long lines, compressed input,
 * the time helpers, and for dnstap: oversized and cut-short frames, and the wire-format
 * question parser on hostile names; a file read in parts (as -j N does with one big file)
 * gives the whole file's records, counts and malformed-line numbers for any cut.
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
    {"dnstap.fstrm", KH_DNS_FMT_DNSTAP, 6, 2, 1, 1795595701123},
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

/* Everything a reader yields, as text: one line per record, then the counters; bad lines
 * (numbered from line_base on) go to diag_lines. */
typedef struct dump {
    char *text;
    size_t len, cap;
    uint64_t line_base;
    char diag_lines[512];
} dump;

static void dump_add(dump *d, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(tmp));
    if (d->len + (size_t)n + 1 > d->cap) {
        d->cap = (d->len + (size_t)n + 1) * 2;
        d->text = realloc(d->text, d->cap);
        assert_non_null(d->text);
    }
    memcpy(d->text + d->len, tmp, (size_t)n + 1);
    d->len += (size_t)n;
}

static void on_diag_dump(void *ud, const char *file, uint64_t line, const char *msg)
{
    dump *d = ud;
    (void)file;
    (void)msg;
    size_t n = strlen(d->diag_lines);
    khi_snprintf(d->diag_lines + n, sizeof(d->diag_lines) - n, "%llu ",
                 (unsigned long long)(d->line_base + line));
}

static void read_all(kh_dns_reader *r, dump *d, kh_dns_reader_stats *sum)
{
    kh_dns_reader_set_diag(r, on_diag_dump, d);
    kh_dns_rec rec;
    int have = 0;
    for (;;) {
        assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_OK);
        if (!have)
            break;
        dump_add(d, "%.*s|%.*s|%.*s|%d|%lld|%d\n", (int)rec.client_len, rec.client, (int)rec.qname_len,
                 rec.qname, (int)rec.qtype_len, rec.qtype, rec.rcode, (long long)rec.time_ms, rec.is_query);
    }
    kh_dns_reader_stats st;
    kh_dns_reader_get_stats(r, &st);
    sum->lines += st.lines;
    sum->records += st.records;
    sum->ignored += st.ignored;
    sum->malformed += st.malformed;
    sum->bytes += st.bytes;
    d->line_base += st.lines;
}

/* path read whole and in 1 to 60 parts (files of 0.5-5 KB: cuts land mid-line, just after a
 * newline and inside the header lines) gives the same records, counters and bad-line numbers */
static void compare_parts(const char *path, kh_dns_format fmt, uint64_t min_records)
{
    kh_dns_reader *r = NULL;
    dump whole;
    memset(&whole, 0, sizeof(whole));
    kh_dns_reader_stats ws;
    memset(&ws, 0, sizeof(ws));
    assert_int_equal(kh_dns_reader_open(path, KH_DNS_FMT_AUTO, &r), KH_OK);
    read_all(r, &whole, &ws);
    kh_dns_reader_destroy(r);
    if (ws.records < min_records)
        fail_msg("%s: %llu records read whole", path, (unsigned long long)ws.records);
    for (unsigned nparts = 1; nparts <= 60; nparts++) {
        dump d;
        memset(&d, 0, sizeof(d));
        kh_dns_reader_stats ps;
        memset(&ps, 0, sizeof(ps));
        for (unsigned part = 0; part < nparts; part++) {
            assert_int_equal(kh_dns_reader_open_part(path, KH_DNS_FMT_AUTO, part, nparts, &r), KH_OK);
            read_all(r, &d, &ps);
            assert_int_equal(kh_dns_reader_format(r), fmt);
            kh_dns_reader_destroy(r);
        }
        if (d.len != whole.len || memcmp(d.text, whole.text, d.len) != 0 || ps.lines != ws.lines ||
            ps.records != ws.records || ps.ignored != ws.ignored || ps.malformed != ws.malformed ||
            ps.bytes != ws.bytes || strcmp(d.diag_lines, whole.diag_lines) != 0)
            fail_msg("%s in %u parts: records %llu/%llu lines %llu/%llu ignored %llu/%llu bytes "
                     "%llu/%llu bad lines '%s' / '%s'",
                     path, nparts, (unsigned long long)ps.records, (unsigned long long)ws.records,
                     (unsigned long long)ps.lines, (unsigned long long)ws.lines,
                     (unsigned long long)ps.ignored, (unsigned long long)ws.ignored,
                     (unsigned long long)ps.bytes, (unsigned long long)ws.bytes, d.diag_lines,
                     whole.diag_lines);
        free(d.text);
    }
    free(whole.text);
}

static void write_file(const char *path, const char *head, const char *line_fmt, unsigned n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(head, f);
    for (unsigned i = 0; i < n; i++)
        fprintf(f, line_fmt, i, i % 7, i);
    assert_int_equal(fclose(f), 0);
}

static void test_dns_log_parts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].fmt == KH_DNS_FMT_DNSTAP)
            continue;
        char path[4200];
        khi_snprintf(path, sizeof(path), "%s/%s", datadir, cases[i].file);
        compare_parts(path, cases[i].fmt, cases[i].records);
    }
    /* columns in an order only the header tells: every part must have read the header */
    char tmp[] = "/tmp/khien-test-dns-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    write_file(tmp,
               "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
               "#path\tdns\n#fields\tquery\trcode\tid.orig_h\tts\n#types\tstring\tcount\taddr\ttime\n",
               "host%u.example.net\t%u\t192.0.2.%u\t1795595701.000\n", 120);
    compare_parts(tmp, KH_DNS_FMT_ZEEK, 120);
    write_file(tmp, "qname,rcode,client,time\n", "host%u.example.net,%u,192.0.2.%u,1795595701\n", 120);
    compare_parts(tmp, KH_DNS_FMT_CSV, 120);
    unlink(tmp);
    /* what cannot be cut: dnstap, compressed files, standard input, a part past the last */
    char path[4200];
    kh_dns_reader *r = NULL;
    khi_snprintf(path, sizeof(path), "%s/dnstap.fstrm", datadir);
    assert_int_equal(kh_dns_reader_open_part(path, KH_DNS_FMT_AUTO, 0, 2, &r), KH_EINVAL);
    assert_null(r);
    assert_int_equal(kh_dns_reader_open_part("-", KH_DNS_FMT_BIND, 0, 2, &r), KH_EINVAL);
    khi_snprintf(path, sizeof(path), "%s/bind.log", datadir);
    assert_int_equal(kh_dns_reader_open_part(path, KH_DNS_FMT_AUTO, 2, 2, &r), KH_EINVAL);
    char gz[] = "/tmp/khien-test-dns-XXXXXX";
    fd = mkstemp(gz);
    assert_true(fd >= 0);
    close(fd);
    char cmd[8600];
    khi_snprintf(cmd, sizeof(cmd), "gzip -c '%s' > '%s'", path, gz);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(kh_dns_reader_open(gz, KH_DNS_FMT_AUTO, &r), KH_OK); /* readable whole */
    kh_dns_reader_destroy(r);
    r = NULL;
    assert_int_equal(kh_dns_reader_open_part(gz, KH_DNS_FMT_AUTO, 0, 2, &r), KH_EINVAL);
    assert_null(r);
    unlink(gz);
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

/* The dnstap sample behind an oversized frame (skipped, counted) and cut short at the end. */
static void test_dns_log_dnstap_frames(void **state)
{
    (void)state;
    char path[4200];
    khi_snprintf(path, sizeof(path), "%s/dnstap.fstrm", datadir);
    char *sample = NULL;
    size_t slen = 0;
    assert_int_equal(khi_dns_read_all(path, 1 << 20, &sample, &slen), KH_OK);
    size_t big = 100000;
    unsigned char *buf = calloc(1, slen + big + 256);
    assert_non_null(buf);
    /* the START control frame: 8 bytes of escape and length, then its body */
    size_t first = 8 + ((size_t)(unsigned char)sample[6] << 8 | (unsigned char)sample[7]);
    size_t flen = 4 + ((size_t)(unsigned char)sample[first + 2] << 8 | (unsigned char)sample[first + 3]);
    assert_true(first + flen < slen && flen < 200);
    memcpy(buf, sample, slen - 12); /* everything up to STOP (12 bytes) */
    size_t o = slen - 12;
    buf[o] = 0, buf[o + 1] = (unsigned char)(big >> 16), buf[o + 2] = (unsigned char)(big >> 8),
    buf[o + 3] = (unsigned char)big;
    o += 4 + big;
    memcpy(buf + o, sample + first, flen); /* the first data frame again, then a cut-short one */
    o += flen;
    memcpy(buf + o, sample + first, 10);
    o += 10;
    kh_dns_reader *r = NULL;
    assert_int_equal(kh_dns_reader_open_mem("tap", buf, o, KH_DNS_FMT_AUTO, &r), KH_OK);
    kh_dns_rec rec;
    int have = 1;
    unsigned n = 0;
    while (have) {
        assert_int_equal(kh_dns_reader_next(r, &rec, &have), KH_OK);
        n += have;
    }
    assert_int_equal(kh_dns_reader_format(r), KH_DNS_FMT_DNSTAP);
    kh_dns_reader_stats st;
    kh_dns_reader_get_stats(r, &st);
    assert_int_equal(n, 7);
    assert_int_equal(st.malformed, 4); /* the sample's two, the big one, the cut-short one */
    kh_dns_reader_destroy(r);
    free(buf);
    khi_free(sample);
}

static void test_dns_log_wire_names(void **state)
{
    (void)state;
    char name[KHI_DNS_WIRE_NAME_CAP];
    khi_dns_wire_q q;
    const char *why = NULL;
    /* a response: question www.Example.com, answer name compressed to it */
    static const unsigned char ok[] = {0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7,
                                       'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 28, 0, 1};
    assert_int_equal(khi_dns_wire_question(ok, sizeof(ok), name, sizeof(name), &q, &why), 0);
    assert_string_equal(name, "www.Example.com");
    assert_int_equal(q.qtype, 28);
    assert_int_equal(q.rcode, 3);
    assert_true(q.is_response);
    char t[16];
    assert_int_equal(khi_dns_qtype_name(q.qtype, t, sizeof(t)), 4);
    assert_int_equal(khi_dns_qtype_name(65280, t, sizeof(t)), 9);
    assert_string_equal(t, "TYPE65280");
    /* a pointer back to an earlier name: "a" + pointer to offset 12 of a second name */
    static const unsigned char msg2[] = {3, 'w', 'w', 'w', 0, 1, 'a', 0xc0, 0};
    size_t len = 0, end = 0;
    assert_int_equal(khi_dns_wire_name(msg2, sizeof(msg2), 5, name, sizeof(name), &len, &end, &why), 0);
    assert_string_equal(name, "a.www");
    assert_int_equal(end, 9);
    /* the pointer to itself, a forward pointer, a label past the end, escapes, the root */
    static const unsigned char self[] = {0xc0, 0};
    assert_int_equal(khi_dns_wire_name(self, 2, 0, name, sizeof(name), &len, &end, &why), -1);
    static const unsigned char fwd[] = {0xc0, 2, 0};
    assert_int_equal(khi_dns_wire_name(fwd, 3, 0, name, sizeof(name), &len, &end, &why), -1);
    static const unsigned char past[] = {5, 'a', 'b', 0};
    assert_int_equal(khi_dns_wire_name(past, 4, 0, name, sizeof(name), &len, &end, &why), -1);
    static const unsigned char esc[] = {4, 'a', '.', ' ', '\\', 0};
    assert_int_equal(khi_dns_wire_name(esc, sizeof(esc), 0, name, sizeof(name), &len, &end, &why), 0);
    assert_string_equal(name, "a\\.\\032\\\\");
    static const unsigned char root[] = {0};
    assert_int_equal(khi_dns_wire_name(root, 1, 0, name, sizeof(name), &len, &end, &why), 0);
    assert_string_equal(name, ".");
    /* 128 labels of one byte: 257 octets, over the limit */
    unsigned char longn[300];
    for (int i = 0; i < 128; i++)
        longn[2 * i] = 1, longn[2 * i + 1] = 'x';
    longn[256] = 0;
    assert_int_equal(khi_dns_wire_name(longn, 257, 0, name, sizeof(name), &len, &end, &why), -1);
    /* 63 escaped bytes a label, 255 octets in all: fits the buffer */
    unsigned char wide[256];
    size_t w = 0;
    for (int l = 0; l < 4; l++) {
        int n = l < 3 ? 63 : 61;
        wide[w++] = (unsigned char)n;
        for (int i = 0; i < n; i++)
            wide[w++] = 0xff;
    }
    wide[w++] = 0;
    assert_int_equal(w, 255);
    assert_int_equal(khi_dns_wire_name(wide, w, 0, name, sizeof(name), &len, &end, &why), 0);
    assert_int_equal(len, 250 * 4 + 3);
}

int main(void)
{
    find_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_log_formats),   cmocka_unit_test(test_dns_log_named_format),
        cmocka_unit_test(test_dns_log_long_line), cmocka_unit_test(test_dns_log_unknown),
        cmocka_unit_test(test_dns_log_time),      cmocka_unit_test(test_dns_log_dnstap_frames),
        cmocka_unit_test(test_dns_log_wire_names), cmocka_unit_test(test_dns_log_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
