/*
 * dns_log_csv.c - DNS logs as CSV, the lowest common denominator of exports:
 *
 *   time,client,qname,qtype,rcode
 *   2026-11-25T08:35:01Z,192.0.2.10,www.example.com,A,NOERROR
 *
 * A header line names the columns (time/timestamp/ts, client/src/src_ip/client_ip,
 * qname/query/domain/name, qtype/type, rcode); without one the order above is assumed. Times
 * are ISO 8601 or epoch seconds. Fields may be double-quoted (no embedded quotes or commas).
 */
#include "dns/dns_int.h"

static size_t split(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    const char *p = s, *e = s + n;
    while (k < max) {
        const char *c = memchr(p, ',', (size_t)(e - p));
        const char *end = c ? c : e;
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"') {
            a++;
            b--;
        }
        f[k] = a;
        fl[k] = (size_t)(b - a);
        k++;
        if (!c)
            break;
        p = c + 1;
    }
    return k;
}

static int is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

int khi_dns_parse_csv(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    const char *f[KHI_DNS_FIELDS_MAX];
    size_t fl[KHI_DNS_FIELDS_MAX];
    size_t k = split(line, len, f, fl, KHI_DNS_FIELDS_MAX);
    if (!st->have_cols) {
        st->have_cols = 1;
        for (int i = 0; i < KHI_COL_NCOLS; i++)
            st->cols[i] = -1;
        int header = 0;
        for (size_t i = 0; i < k; i++) {
            int col = -1;
            if (is(f[i], fl[i], "time") || is(f[i], fl[i], "timestamp") || is(f[i], fl[i], "ts"))
                col = KHI_COL_TS;
            else if (is(f[i], fl[i], "client") || is(f[i], fl[i], "src") || is(f[i], fl[i], "src_ip") ||
                     is(f[i], fl[i], "client_ip"))
                col = KHI_COL_CLIENT;
            else if (is(f[i], fl[i], "qname") || is(f[i], fl[i], "query") || is(f[i], fl[i], "domain") ||
                     is(f[i], fl[i], "name"))
                col = KHI_COL_QNAME;
            else if (is(f[i], fl[i], "qtype") || is(f[i], fl[i], "type"))
                col = KHI_COL_QTYPE;
            else if (is(f[i], fl[i], "rcode"))
                col = KHI_COL_RCODE;
            if (col >= 0 && st->cols[col] < 0) {
                st->cols[col] = (int)i;
                header = 1;
            }
        }
        if (header) {
            if (st->cols[KHI_COL_CLIENT] < 0 || st->cols[KHI_COL_QNAME] < 0) {
                *why = "CSV header without client and qname columns";
                st->have_cols = 0;
                return KHI_PARSE_BAD;
            }
            return KHI_PARSE_IGNORE;
        }
        for (int i = 0; i < 5; i++)
            st->cols[i] = i;
    }
    int cc = st->cols[KHI_COL_CLIENT], qc = st->cols[KHI_COL_QNAME];
    if ((size_t)cc >= k || (size_t)qc >= k) {
        *why = "too few CSV fields";
        return KHI_PARSE_BAD;
    }
    if (!khi_dns_plausible_name(f[qc], fl[qc]) || !khi_dns_plausible_addr(f[cc], fl[cc])) {
        *why = "bad qname or client field";
        return KHI_PARSE_BAD;
    }
    rec->client = f[cc];
    rec->client_len = fl[cc];
    rec->qname = f[qc];
    rec->qname_len = fl[qc];
    int c = st->cols[KHI_COL_TS];
    if (c >= 0 && (size_t)c < k && fl[c]) {
        rec->time_ms = khi_dns_iso_ms(f[c], fl[c]);
        if (rec->time_ms < 0)
            rec->time_ms = khi_dns_epoch_ms(f[c], fl[c]);
    }
    c = st->cols[KHI_COL_QTYPE];
    if (c >= 0 && (size_t)c < k) {
        rec->qtype = f[c];
        rec->qtype_len = fl[c];
    }
    c = st->cols[KHI_COL_RCODE];
    if (c >= 0 && (size_t)c < k && fl[c])
        rec->rcode = khi_dns_rcode(f[c], fl[c]);
    return KHI_PARSE_REC;
}
