/*
 * dns_log_unbound.c - Unbound with log-queries and/or log-replies:
 *
 *   [1764059701] unbound[1234:0] info: 192.0.2.10 www.example.com. A IN
 *   [1764059701] unbound[1234:0] reply: 192.0.2.10 www.example.com. A IN NXDOMAIN 0.000123 0 71
 *
 * With log-time-ascii the prefix is "Nov 25 08:35:01 unbound[1234:0]"; through syslog it is
 * "Nov 25 08:35:01 host unbound: [1234:0]". Other info lines (start-up, statistics) are
 * ignored: a query line has exactly address, name, type and class.
 */
#include "dns/dns_int.h"

static int is_class(const char *s, size_t n)
{
    return (n == 2 && (memcmp(s, "IN", 2) == 0 || memcmp(s, "CH", 2) == 0 || memcmp(s, "HS", 2) == 0)) ||
           (n == 3 && memcmp(s, "ANY", 3) == 0) || (n > 5 && memcmp(s, "CLASS", 5) == 0);
}

int khi_dns_parse_unbound(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    (void)st;
    const char *e = line + len;
    int64_t t = -1;
    if (len > 2 && line[0] == '[') {
        const char *rb = memchr(line, ']', len < 32 ? len : 32);
        if (rb)
            t = khi_dns_epoch_ms(line + 1, (size_t)(rb - line - 1));
    } else {
        t = khi_dns_syslog_ms(line, len);
    }
    const char *u = khi_dns_find(line, len < 128 ? len : 128, "unbound", 7);
    if (!u) {
        *why = "not an Unbound log line";
        return KHI_PARSE_BAD;
    }
    const char *m = khi_dns_find(u, (size_t)(e - u), "] info: ", 8);
    int reply = 0;
    if (!m) {
        m = khi_dns_find(u, (size_t)(e - u), "] reply: ", 9);
        if (!m)
            return KHI_PARSE_IGNORE;
        reply = 1;
        m += 9;
    } else {
        m += 8;
    }
    const char *p = m, *tok[5];
    size_t tl[5];
    int k = 0;
    while (k < 5 && khi_dns_token(&p, e, &tok[k], &tl[k]))
        k++;
    if (k < 4 || !is_class(tok[3], tl[3]) || !khi_dns_plausible_addr(tok[0], tl[0])) {
        if (reply) {
            *why = "reply line without address, name, type and class";
            return KHI_PARSE_BAD;
        }
        return KHI_PARSE_IGNORE;
    }
    if (!reply && k > 4)
        return KHI_PARSE_IGNORE;
    if (!khi_dns_plausible_name(tok[1], tl[1])) {
        *why = "bad query name";
        return KHI_PARSE_BAD;
    }
    rec->client = tok[0];
    rec->client_len = tl[0];
    rec->qname = tok[1];
    rec->qname_len = tl[1];
    rec->qtype = tok[2];
    rec->qtype_len = tl[2];
    rec->time_ms = t;
    if (reply) {
        if (k < 5) {
            *why = "reply line without a response code";
            return KHI_PARSE_BAD;
        }
        rec->rcode = khi_dns_rcode(tok[4], tl[4]);
        rec->is_query = 0; /* with log-queries on too, the query was counted already */
    }
    return KHI_PARSE_REC;
}
