/*
 * dns_log_windows.c - the Windows DNS Server debug log (packet logging):
 *
 *   11/25/2026 8:35:01 AM 0E2C PACKET  000000A1B2C3D4E0 UDP Rcv 192.0.2.10      1a2b   Q [0001   D   NOERROR] A      (3)www(7)example(3)com(0)
 *   11/25/2026 8:35:01 AM 0E2C PACKET  000000A1B2C3D4E0 UDP Snd 192.0.2.10      1a2b R Q [8385 A DR NXDOMAIN] A      (3)www(7)example(3)com(0)
 *
 * A query received (Rcv, no R) is a query record; a response sent (Snd, R) is a response
 * record with its code. Responses the server receives from its forwarders and queries it sends
 * to them are ignored, as are the header and non-PACKET lines. The name "(3)www(7)example..."
 * is decoded into the parser state; the date is the US form the server writes by default.
 */
#include "dns/dns_int.h"

/* "11/25/2026 8:35:01 AM" or "25/11/2026 08:35:01" (day first when the first number > 12). */
static int64_t win_time(const char *s, size_t n)
{
    int v[6] = {0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (int f = 0; f < 6; f++) {
        int d = 0, got = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && got < 4) {
            d = d * 10 + (s[i++] - '0');
            got++;
        }
        if (!got)
            return -1;
        v[f] = d;
        char want = f < 2 ? '/' : f == 2 ? ' ' : f < 5 ? ':' : 0;
        if (want) {
            if (i >= n || s[i] != want)
                return -1;
            i++;
        }
    }
    int mo = v[0], d = v[1];
    if (mo > 12) {
        mo = v[1];
        d = v[0];
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return -1;
    int h = v[3];
    if (i + 3 <= n && s[i] == ' ' && (s[i + 1] == 'P' || s[i + 1] == 'A') && s[i + 2] == 'M') {
        if (s[i + 1] == 'P' && h < 12)
            h += 12;
        if (s[i + 1] == 'A' && h == 12)
            h = 0;
    }
    return (khi_dns_days(v[2], (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + v[4] * 60 + v[5]) * 1000;
}

/* "(3)www(7)example(3)com(0)" -> "www.example.com" in out (cap bytes); length or 0. */
static size_t win_name(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    int root = 0;
    while (i < n) {
        if (s[i] != '(')
            return 0;
        size_t j = i + 1;
        unsigned lab = 0;
        while (j < n && s[j] >= '0' && s[j] <= '9' && lab < 1000)
            lab = lab * 10 + (unsigned)(s[j++] - '0');
        if (j >= n || s[j] != ')' || lab > 63)
            return 0;
        j++;
        if (lab == 0) {
            root = 1;
            break;
        }
        if (j + lab > n || o + lab + 2 > cap)
            return 0;
        if (o)
            out[o++] = '.';
        memcpy(out + o, s + j, lab);
        o += lab;
        i = j + lab;
    }
    if (!root)
        return 0; /* cut short before the (0) of the root */
    if (o == 0)
        out[o++] = '.'; /* the root itself */
    return o;
}

int khi_dns_parse_windows(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    const char *e = line + len;
    const char *pk = khi_dns_find(line, len < 64 ? len : 64, " PACKET ", 8);
    if (!pk)
        return KHI_PARSE_IGNORE; /* header text, EVENT lines, notes */
    const char *p = pk + 8, *tok;
    size_t tl;
    const char *f[6];
    size_t fl[6];
    /* context, protocol, direction, address, xid */
    for (int i = 0; i < 5; i++) {
        if (!khi_dns_token(&p, e, &f[i], &fl[i])) {
            *why = "PACKET line cut short";
            return KHI_PARSE_BAD;
        }
    }
    int rcv = fl[2] == 3 && memcmp(f[2], "Rcv", 3) == 0;
    int snd = fl[2] == 3 && memcmp(f[2], "Snd", 3) == 0;
    if (!rcv && !snd) {
        *why = "PACKET line without Rcv or Snd";
        return KHI_PARSE_BAD;
    }
    const char *lb = memchr(p, '[', (size_t)(e - p));
    const char *rb = lb ? memchr(lb, ']', (size_t)(e - lb)) : NULL;
    if (!lb || !rb) {
        *why = "PACKET line without [flags]";
        return KHI_PARSE_BAD;
    }
    int response = 0, query_op = 0;
    const char *q = p;
    while (khi_dns_token(&q, lb, &tok, &tl)) {
        if (tl == 1 && tok[0] == 'R')
            response = 1;
        else if (tl == 1 && tok[0] == 'Q')
            query_op = 1;
    }
    if (!query_op)
        return KHI_PARSE_IGNORE; /* notify, update */
    if ((rcv && response) || (snd && !response))
        return KHI_PARSE_IGNORE; /* the server talking to its forwarders */
    /* rcode: the last word inside the brackets */
    const char *r = rb;
    while (r > lb + 1 && r[-1] == ' ')
        r--;
    const char *rs = r;
    while (rs > lb + 1 && rs[-1] != ' ')
        rs--;
    const char *qt, *nm;
    size_t qtl, nml;
    p = rb + 1;
    if (!khi_dns_token(&p, e, &qt, &qtl) || !khi_dns_token(&p, e, &nm, &nml)) {
        *why = "PACKET line without type and name";
        return KHI_PARSE_BAD;
    }
    size_t n = win_name(nm, nml, st->scratch, sizeof(st->scratch));
    if (n == 0) {
        *why = "bad (n)label name";
        return KHI_PARSE_BAD;
    }
    if (!khi_dns_plausible_addr(f[3], fl[3])) {
        *why = "bad address";
        return KHI_PARSE_BAD;
    }
    rec->qname = st->scratch;
    rec->qname_len = n;
    rec->client = f[3];
    rec->client_len = fl[3];
    rec->qtype = qt;
    rec->qtype_len = qtl;
    rec->time_ms = win_time(line, len);
    if (response) {
        rec->is_query = 0;
        rec->rcode = khi_dns_rcode(rs, (size_t)(r - rs));
    }
    return KHI_PARSE_REC;
}
