/*
 * dns_log_zeek.c - Zeek dns.log in its TSV form. The "#fields" header names the columns, so
 * the parser finds ts, id.orig_h, query, qtype_name and rcode wherever they are; without a
 * header Zeek's default column order is assumed. Unset fields are "-". A line is split into
 * at most KHI_DNS_FIELDS_MAX fields.
 */
#include "dns/dns_int.h"

static void default_cols(khi_dns_pstate *st)
{
    /* ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass
       qclass_name qtype qtype_name rcode rcode_name ... */
    st->cols[KHI_COL_TS] = 0;
    st->cols[KHI_COL_CLIENT] = 2;
    st->cols[KHI_COL_QNAME] = 9;
    st->cols[KHI_COL_QTYPE] = 13;
    st->cols[KHI_COL_RCODE] = 14;
    st->cols[KHI_COL_RCODE_NAME] = 15;
    st->cols[KHI_COL_PORT] = -1;
    st->have_cols = 1;
}

static size_t split_tabs(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    const char *p = s, *e = s + n;
    while (k < max) {
        const char *t = memchr(p, '\t', (size_t)(e - p));
        const char *end = t ? t : e;
        f[k] = p;
        fl[k] = (size_t)(end - p);
        k++;
        if (!t)
            break;
        p = t + 1;
    }
    return k;
}

static int unset(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '-') || (n == 7 && memcmp(s, "(empty)", 7) == 0);
}

int khi_dns_parse_zeek(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    const char *f[KHI_DNS_FIELDS_MAX];
    size_t fl[KHI_DNS_FIELDS_MAX];
    if (line[0] == '#') {
        if (len > 8 && memcmp(line, "#fields\t", 8) == 0) {
            size_t k = split_tabs(line + 8, len - 8, f, fl, KHI_DNS_FIELDS_MAX);
            for (int i = 0; i < KHI_COL_NCOLS; i++)
                st->cols[i] = -1;
            static const struct {
                const char *name;
                int col;
            } map[] = {{"ts", KHI_COL_TS},         {"id.orig_h", KHI_COL_CLIENT}, {"query", KHI_COL_QNAME},
                       {"qtype_name", KHI_COL_QTYPE}, {"rcode", KHI_COL_RCODE},  {"rcode_name", KHI_COL_RCODE_NAME}};
            for (size_t i = 0; i < k; i++)
                for (size_t j = 0; j < KHI_ARRAY_LEN(map); j++)
                    if (fl[i] == strlen(map[j].name) && memcmp(f[i], map[j].name, fl[i]) == 0)
                        st->cols[map[j].col] = (int)i;
            if (st->cols[KHI_COL_CLIENT] < 0 || st->cols[KHI_COL_QNAME] < 0) {
                st->have_cols = 0;
                *why = "#fields header without id.orig_h and query";
                return KHI_PARSE_BAD;
            }
            st->have_cols = 1;
        }
        return KHI_PARSE_IGNORE;
    }
    if (!st->have_cols)
        default_cols(st);
    size_t k = split_tabs(line, len, f, fl, KHI_DNS_FIELDS_MAX);
    int cc = st->cols[KHI_COL_CLIENT], qc = st->cols[KHI_COL_QNAME];
    if (k <= (size_t)cc || k <= (size_t)qc) {
        *why = "too few tab-separated fields";
        return KHI_PARSE_BAD;
    }
    if (unset(f[qc], fl[qc]))
        return KHI_PARSE_IGNORE; /* a transaction without a question */
    if (!khi_dns_plausible_name(f[qc], fl[qc]) || !khi_dns_plausible_addr(f[cc], fl[cc])) {
        *why = "bad query or id.orig_h field";
        return KHI_PARSE_BAD;
    }
    rec->client = f[cc];
    rec->client_len = fl[cc];
    rec->qname = f[qc];
    rec->qname_len = fl[qc];
    int c = st->cols[KHI_COL_TS];
    if (c >= 0 && (size_t)c < k)
        rec->time_ms = khi_dns_epoch_ms(f[c], fl[c]);
    c = st->cols[KHI_COL_QTYPE];
    if (c >= 0 && (size_t)c < k && !unset(f[c], fl[c])) {
        rec->qtype = f[c];
        rec->qtype_len = fl[c];
    }
    c = st->cols[KHI_COL_RCODE];
    if (c >= 0 && (size_t)c < k && !unset(f[c], fl[c]))
        rec->rcode = khi_dns_rcode(f[c], fl[c]);
    c = st->cols[KHI_COL_RCODE_NAME];
    if (rec->rcode < 0 && c >= 0 && (size_t)c < k && !unset(f[c], fl[c]))
        rec->rcode = khi_dns_rcode(f[c], fl[c]);
    return KHI_PARSE_REC;
}
