/*
 * dns_log_bind.c - BIND 9 query log (category "queries"), as written to a file channel or
 * through syslog:
 *
 *   25-Nov-2026 08:35:01.123 queries: info: client @0x7f1c8c0a1b68 192.0.2.10#53211
 *       (www.example.com): query: www.example.com IN A +E(0)K (192.0.2.1)
 *
 * (one line). Older versions lack "@0x..."; a view adds "view NAME: " before "query:". Lines
 * of other categories are ignored; a line that starts like a BIND line but breaks off is
 * malformed. The log has no response code: records are queries only.
 */
#include "dns/dns_int.h"

/* "25-Nov-2026 08:35:01.123" -> ms, or -1. */
static int64_t bind_time(const char *s, size_t n)
{
    if (n < 20 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' || s[17] != ':')
        return -1;
    unsigned mo = khi_dns_month(s + 3);
    int v[6];
    const int at[6] = {0, 7, 12, 15, 18, 0};
    const int len[6] = {2, 4, 2, 2, 2, 0};
    for (int i = 0; i < 5; i++) {
        v[i] = 0;
        for (int j = 0; j < len[i]; j++) {
            char c = s[at[i] + j];
            if (c < '0' || c > '9')
                return -1;
            v[i] = v[i] * 10 + (c - '0');
        }
    }
    if (!mo || v[0] < 1 || v[0] > 31)
        return -1;
    int64_t t = (khi_dns_days(v[1], mo, (unsigned)v[0]) * 86400 + v[2] * 3600 + v[3] * 60 + v[4]) * 1000;
    if (n >= 24 && s[20] == '.' && s[21] >= '0' && s[21] <= '9' && s[22] >= '0' && s[22] <= '9' &&
        s[23] >= '0' && s[23] <= '9')
        t += (s[21] - '0') * 100 + (s[22] - '0') * 10 + (s[23] - '0');
    return t;
}

int khi_dns_parse_bind(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    (void)st;
    const char *e = line + len;
    int64_t t = bind_time(line, len);
    if (t < 0)
        t = khi_dns_syslog_ms(line, len);
    const char *c = khi_dns_find(line, len, "client ", 7);
    if (!c) {
        if (t < 0) {
            *why = "not a BIND log line (no time stamp)";
            return KHI_PARSE_BAD;
        }
        return KHI_PARSE_IGNORE;
    }
    const char *q = khi_dns_find(c, (size_t)(e - c), "query: ", 7);
    if (!q) {
        /* "client ... : query (cache) 'x/A/IN' denied" and other client messages */
        return t < 0 ? (*why = "not a BIND query line", KHI_PARSE_BAD) : KHI_PARSE_IGNORE;
    }
    const char *p = c + 7;
    const char *tok;
    size_t tl;
    if (!khi_dns_token(&p, q, &tok, &tl)) {
        *why = "no client address";
        return KHI_PARSE_BAD;
    }
    if (tok[0] == '@' && !khi_dns_token(&p, q, &tok, &tl)) {
        *why = "no client address";
        return KHI_PARSE_BAD;
    }
    const char *hash = memchr(tok, '#', tl);
    if (hash)
        tl = (size_t)(hash - tok);
    if (!khi_dns_plausible_addr(tok, tl)) {
        *why = "bad client address";
        return KHI_PARSE_BAD;
    }
    rec->client = tok;
    rec->client_len = tl;
    p = q + 7;
    if (!khi_dns_token(&p, e, &tok, &tl) || !khi_dns_plausible_name(tok, tl)) {
        *why = "no query name after 'query:'";
        return KHI_PARSE_BAD;
    }
    rec->qname = tok;
    rec->qname_len = tl;
    const char *cls;
    size_t cl;
    if (!khi_dns_token(&p, e, &cls, &cl) || !khi_dns_token(&p, e, &tok, &tl)) {
        *why = "no class and type after the query name";
        return KHI_PARSE_BAD;
    }
    rec->qtype = tok;
    rec->qtype_len = tl;
    rec->time_ms = t;
    return KHI_PARSE_REC;
}
