/*
 * dns_log_dnsmasq.c - dnsmasq with log-queries (and log-queries=extra):
 *
 *   Nov 25 08:35:01 dnsmasq[1234]: query[A] www.example.com from 192.0.2.10
 *   Nov 25 08:35:01 dnsmasq[1234]: 17 192.0.2.10/53211 query[A] www.example.com from 192.0.2.10
 *   Nov 25 08:35:01 dnsmasq[1234]: 17 192.0.2.10/53211 reply www.example.com is NXDOMAIN
 *
 * Query lines are records. With "extra", reply/cached/config lines name the client too, and
 * an NXDOMAIN among them becomes a response record (is_query 0) so bursts can be counted.
 * Forwarded/reply lines without a client are ignored.
 */
#include "dns/dns_int.h"

int khi_dns_parse_dnsmasq(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    (void)st;
    const char *e = line + len;
    const char *d = khi_dns_find(line, len < 160 ? len : 160, "dnsmasq", 7);
    if (!d) {
        *why = "not a dnsmasq log line";
        return KHI_PARSE_BAD;
    }
    const char *m = khi_dns_find(d, (size_t)(e - d), ": ", 2);
    if (!m)
        return KHI_PARSE_IGNORE;
    const char *p = m + 2, *tok;
    size_t tl;
    const char *client = NULL;
    size_t client_len = 0;
    if (!khi_dns_token(&p, e, &tok, &tl))
        return KHI_PARSE_IGNORE;
    if (tok[0] >= '0' && tok[0] <= '9' && memchr(tok, '/', tl) == NULL && !memchr(tok, '.', tl)) {
        /* log-queries=extra: serial, client/port */
        if (!khi_dns_token(&p, e, &tok, &tl)) {
            *why = "extra-format line without a client";
            return KHI_PARSE_BAD;
        }
        client = tok;
        client_len = tl;
        khi_dns_strip_port(&client, &client_len);
        if (!khi_dns_token(&p, e, &tok, &tl))
            return KHI_PARSE_IGNORE;
    }
    rec->time_ms = khi_dns_syslog_ms(line, len);
    if (rec->time_ms < 0 && len > 19 && line[4] == '-')
        rec->time_ms = khi_dns_iso_ms(line, len);
    if (tl > 7 && memcmp(tok, "query[", 6) == 0 && tok[tl - 1] == ']') {
        rec->qtype = tok + 6;
        rec->qtype_len = tl - 7;
        const char *name, *from, *addr;
        size_t nl, fl, al;
        if (!khi_dns_token(&p, e, &name, &nl) || !khi_dns_token(&p, e, &from, &fl) ||
            !khi_dns_token(&p, e, &addr, &al) || fl != 4 || memcmp(from, "from", 4) != 0) {
            *why = "query line without 'NAME from ADDRESS'";
            return KHI_PARSE_BAD;
        }
        if (!khi_dns_plausible_name(name, nl) || !khi_dns_plausible_addr(addr, al)) {
            *why = "bad name or address in a query line";
            return KHI_PARSE_BAD;
        }
        rec->qname = name;
        rec->qname_len = nl;
        rec->client = addr;
        rec->client_len = al;
        return KHI_PARSE_REC;
    }
    if (client && ((tl == 5 && memcmp(tok, "reply", 5) == 0) || (tl == 6 && memcmp(tok, "cached", 6) == 0) ||
                   (tl == 6 && memcmp(tok, "config", 6) == 0))) {
        const char *name, *is, *what;
        size_t nl, il, wl;
        if (!khi_dns_token(&p, e, &name, &nl) || !khi_dns_token(&p, e, &is, &il) ||
            !khi_dns_token(&p, e, &what, &wl))
            return KHI_PARSE_IGNORE;
        if (wl == 8 && memcmp(what, "NXDOMAIN", 8) == 0 && khi_dns_plausible_name(name, nl)) {
            rec->qname = name;
            rec->qname_len = nl;
            rec->client = client;
            rec->client_len = client_len;
            rec->rcode = 3;
            rec->is_query = 0;
            return KHI_PARSE_REC;
        }
    }
    return KHI_PARSE_IGNORE;
}
