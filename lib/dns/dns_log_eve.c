/*
 * dns_log_eve.c - Suricata EVE JSON, event_type "dns", in both layouts:
 *
 *   v2: "dns":{"type":"query","rrname":"x.example","rrtype":"A",...}
 *       "dns":{"version":2,"type":"answer","rcode":"NXDOMAIN","rrname":"x.example",...}
 *   v3: "dns":{"version":3,"type":"request","queries":[{"rrname":"x.example","rrtype":"A"}]}
 *       "dns":{"version":3,"type":"response","rcode":"NXDOMAIN","queries":[...],...}
 *
 * The client is the side that is not port 53 (src for queries, dest for answers when the
 * ports say nothing). Other event types are ignored without parsing the JSON.
 *
 * Two readers give the same answer. The fast one walks the line once, checking it is valid
 * JSON (strings, numbers, literals, nesting up to 32, no repeated key in an object, nothing
 * after the object) and keeping only the values used, as pointers into the line. It gives up
 * on anything it does not check the way jansson does (a byte over 0x7F, whose UTF-8 jansson
 * validates; an escape in a key or a kept value; an integer of 19 digits or more, a number with an
 * exponent; more than 64 keys in an object) and on anything invalid, and then jansson parses the
 * line (the reference reader, also used to test the fast one: fuzz_dns_eve_diff). Both only gather
 * the values used (eve_vals); one function, decide(), makes the record from them. Suricata writes
 * plain ASCII dns events, so nearly every line takes the fast path: one pass and no allocation,
 * where jansson builds and frees a tree per line (about ten times slower).
 */
#include "dns/dns_int.h"

#include <jansson.h>

/* ---- the fast reader ---- */

typedef struct sv { /* a kept string value, no escapes: [p, p + n) of the line */
    const char *p;
    size_t n;
} sv;

typedef struct eve_vals {
    sv event_type, timestamp, src_ip, dest_ip;
    int64_t sport, dport; /* as json_integer_value: 0 unless an integer */
    int dns_obj;          /* "dns" is an object */
    sv type, rrname, rrtype, rcode;
    int queries_arr; /* dns.queries is an array, with queries_n items */
    size_t queries_n;
    sv q_rrname, q_rrtype; /* of its first item, when that is an object */
} eve_vals;

typedef struct scan {
    const char *p, *e;
    int fail; /* not valid, or not checked as jansson would: ask jansson */
} scan;

enum { IN_TOP, IN_DNS, IN_Q0, IN_OTHER };

static void ws(scan *s)
{
    while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p)
{
    for (int i = 0; i < 4; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')))
            return 0;
    return 1;
}

/* A string at s->p ('"'): *out is its text when it has no escapes (else *esc is set). */
static void string(scan *s, sv *out, int *esc)
{
    const char *p = s->p + 1;
    *esc = 0;
    for (;;) {
        if (p >= s->e) {
            s->fail = 1;
            return;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20 || c >= 0x80) {
            s->fail = 1;
            return;
        }
        if (c == '\\') {
            *esc = 1;
            if (p + 1 >= s->e) {
                s->fail = 1;
                return;
            }
            char x = p[1];
            if (x == 'u') {
                if (s->e - p < 6 || !hex4(p + 2)) {
                    s->fail = 1;
                    return;
                }
                p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", x) || x == 0) {
                s->fail = 1;
                return;
            }
            p += 2;
            continue;
        }
        p++;
    }
    out->p = s->p + 1;
    out->n = (size_t)(p - out->p);
    s->p = p + 1;
}

/* A number; *iv its value when it is an integer of at most 18 digits (else 0). */
static void number(scan *s, int64_t *iv)
{
    const char *p = s->p;
    int neg = 0, is_int = 1;
    int64_t v = 0;
    if (p < s->e && *p == '-') {
        neg = 1;
        p++;
    }
    const char *d = p;
    while (p < s->e && *p >= '0' && *p <= '9') {
        if (p - d < 18)
            v = v * 10 + (*p - '0');
        p++;
    }
    if (p == d || (*d == '0' && p - d > 1)) {
        s->fail = 1;
        return;
    }
    if (p - d > 18)
        s->fail = 1; /* jansson would refuse one too big for its integers: let it say so */
    if (p < s->e && *p == '.') {
        is_int = 0;
        const char *f = ++p;
        while (p < s->e && *p >= '0' && *p <= '9')
            p++;
        if (p == f)
            s->fail = 1;
    }
    if (p < s->e && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        if (p < s->e && (*p == '+' || *p == '-'))
            p++;
        const char *x = p;
        while (p < s->e && *p >= '0' && *p <= '9')
            p++;
        if (p == x)
            s->fail = 1;
        /* An exponent can take a real beyond a double, which jansson refuses: let it say so. */
        s->fail = 1;
    }
    s->p = p;
    if (iv)
        *iv = is_int ? (neg ? -v : v) : 0;
}

static void value(scan *s, eve_vals *v, int in, int depth);

/* After an item of an object or array: 1 at a ',' (another item follows), 0 at the closing
 * bracket or on failure (s->fail set). */
static int more(scan *s, char close)
{
    if (s->fail)
        return 0;
    ws(s);
    if (s->p < s->e && *s->p == ',') {
        s->p++;
        return 1;
    }
    if (s->p < s->e && *s->p == close) {
        s->p++;
        return 0;
    }
    s->fail = 1;
    return 0;
}

static int key_is(const sv *k, const char *want)
{
    size_t n = strlen(want);
    return k->n == n && memcmp(k->p, want, n) == 0;
}

/* The string value at s->p into *out when it is a string without escapes (a string with
 * escapes: fail, as the kept value would differ); anything else is skipped (and not kept). */
static void keep_string(scan *s, eve_vals *v, sv *out, int depth)
{
    if (s->p < s->e && *s->p == '"') {
        int esc;
        string(s, out, &esc);
        if (esc)
            s->fail = 1;
        return;
    }
    value(s, v, IN_OTHER, depth);
}

static void object(scan *s, eve_vals *v, int in, int depth)
{
    sv keys[64];
    size_t nk = 0;
    s->p++; /* '{' */
    ws(s);
    if (s->p < s->e && *s->p == '}') {
        s->p++;
        return;
    }
    for (;;) {
        ws(s);
        if (s->fail || s->p >= s->e || *s->p != '"' || nk == 64) {
            s->fail = 1;
            return;
        }
        sv k;
        int esc;
        string(s, &k, &esc);
        if (s->fail || esc) {
            s->fail = 1;
            return;
        }
        for (size_t i = 0; i < nk; i++)
            if (keys[i].n == k.n && memcmp(keys[i].p, k.p, k.n) == 0) {
                s->fail = 1; /* a repeated key: jansson refuses the line */
                return;
            }
        keys[nk++] = k;
        ws(s);
        if (s->p >= s->e || *s->p != ':') {
            s->fail = 1;
            return;
        }
        s->p++;
        ws(s);
        if (s->p >= s->e) {
            s->fail = 1;
            return;
        }
        if (in == IN_TOP && key_is(&k, "event_type"))
            keep_string(s, v, &v->event_type, depth);
        else if (in == IN_TOP && key_is(&k, "timestamp"))
            keep_string(s, v, &v->timestamp, depth);
        else if (in == IN_TOP && key_is(&k, "src_ip"))
            keep_string(s, v, &v->src_ip, depth);
        else if (in == IN_TOP && key_is(&k, "dest_ip"))
            keep_string(s, v, &v->dest_ip, depth);
        else if (in == IN_TOP && (key_is(&k, "src_port") || key_is(&k, "dest_port")) &&
                 (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')))
            number(s, k.p[0] == 's' ? &v->sport : &v->dport);
        else if (in == IN_TOP && key_is(&k, "dns") && *s->p == '{') {
            v->dns_obj = 1;
            value(s, v, IN_DNS, depth);
        } else if (in == IN_DNS && key_is(&k, "type"))
            keep_string(s, v, &v->type, depth);
        else if (in == IN_DNS && key_is(&k, "rrname"))
            keep_string(s, v, &v->rrname, depth);
        else if (in == IN_DNS && key_is(&k, "rrtype"))
            keep_string(s, v, &v->rrtype, depth);
        else if (in == IN_DNS && key_is(&k, "rcode"))
            keep_string(s, v, &v->rcode, depth);
        else if (in == IN_DNS && key_is(&k, "queries") && *s->p == '[') {
            v->queries_arr = 1;
            value(s, v, IN_DNS, depth); /* the array: its first item is read as IN_Q0 */
        } else if (in == IN_Q0 && key_is(&k, "rrname"))
            keep_string(s, v, &v->q_rrname, depth);
        else if (in == IN_Q0 && key_is(&k, "rrtype"))
            keep_string(s, v, &v->q_rrtype, depth);
        else
            value(s, v, IN_OTHER, depth);
        if (!more(s, '}'))
            return;
    }
}

/* Any value at s->p. An array met as IN_DNS is dns.queries: its items are counted and the
 * first, if an object, read as IN_Q0. */
static void value(scan *s, eve_vals *v, int in, int depth)
{
    if (depth >= 32 || s->p >= s->e) {
        s->fail = 1;
        return;
    }
    char c = *s->p;
    if (c == '{') {
        object(s, v, in, depth + 1);
    } else if (c == '[') {
        s->p++;
        ws(s);
        if (s->p < s->e && *s->p == ']') {
            s->p++;
            return;
        }
        for (size_t i = 0;; i++) {
            ws(s);
            int first_obj = in == IN_DNS && i == 0 && s->p < s->e && *s->p == '{';
            value(s, v, first_obj ? IN_Q0 : IN_OTHER, depth + 1);
            if (in == IN_DNS)
                v->queries_n++;
            if (!more(s, ']'))
                return;
        }
    } else if (c == '"') {
        sv x;
        int esc;
        string(s, &x, &esc);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        number(s, NULL);
    } else {
        static const char *const lit[] = {"true", "false", "null"};
        for (int i = 0; i < 3; i++) {
            size_t n = strlen(lit[i]);
            if ((size_t)(s->e - s->p) >= n && memcmp(s->p, lit[i], n) == 0) {
                s->p += n;
                return;
            }
        }
        s->fail = 1;
    }
}

static int sv_is(const sv *x, const char *want)
{
    return x->p && key_is(x, want);
}

static int copy_sv(char *dst, size_t cap, const sv *x, size_t *out_len)
{
    if (x->n >= cap)
        return -1;
    memcpy(dst, x->p, x->n);
    dst[x->n] = '\0';
    *out_len = x->n;
    return 0;
}

/* The record from the kept values, as the jansson reader decides. */
static int decide(khi_dns_pstate *st, eve_vals *v, kh_dns_rec *rec, const char **why)
{
    if (!sv_is(&v->event_type, "dns"))
        return KHI_PARSE_IGNORE;
    if (!v->dns_obj || !v->type.p) {
        *why = "dns event without dns.type";
        return KHI_PARSE_BAD;
    }
    int answer = sv_is(&v->type, "answer") || sv_is(&v->type, "response");
    if (!answer && !sv_is(&v->type, "query") && !sv_is(&v->type, "request"))
        return KHI_PARSE_IGNORE;
    sv name = v->rrname, qtype = v->rrtype;
    if (!name.p && v->queries_arr && v->queries_n > 0) {
        name = v->q_rrname;
        qtype = v->q_rrtype;
    }
    if (!name.p) {
        if (answer)
            return KHI_PARSE_IGNORE;
        *why = "dns query without rrname";
        return KHI_PARSE_BAD;
    }
    const sv *client = answer ? &v->dest_ip : &v->src_ip;
    if (v->sport == 53 && v->dport != 53)
        client = &v->dest_ip;
    else if (v->dport == 53 && v->sport != 53)
        client = &v->src_ip;
    if (!client->p) {
        *why = "dns event without src_ip/dest_ip";
        return KHI_PARSE_BAD;
    }
    if (copy_sv(st->scratch, sizeof(st->scratch), &name, &rec->qname_len) ||
        copy_sv(st->scratch2, sizeof(st->scratch2), client, &rec->client_len) ||
        !khi_dns_plausible_name(st->scratch, rec->qname_len) ||
        !khi_dns_plausible_addr(st->scratch2, rec->client_len)) {
        *why = "bad rrname or address";
        return KHI_PARSE_BAD;
    }
    rec->qname = st->scratch;
    rec->client = st->scratch2;
    if (qtype.p && copy_sv(st->scratch3, sizeof(st->scratch3), &qtype, &rec->qtype_len) == 0)
        rec->qtype = st->scratch3;
    if (v->timestamp.p)
        rec->time_ms = khi_dns_iso_ms(v->timestamp.p, v->timestamp.n);
    if (answer) {
        rec->rcode = v->rcode.p ? khi_dns_rcode(v->rcode.p, v->rcode.n) : 0;
        rec->is_query = 0;
    }
    return KHI_PARSE_REC;
}

/* What both readers say before any JSON: 1 with *rc when the line is not an object (bad) or
 * holds no "dns" (another event type: flow, alert, stats ...); 0 to read on. */
static int gate(const char *line, size_t len, const char **why, int *rc)
{
    if (line[0] != '{') {
        *why = "not a JSON object";
        *rc = KHI_PARSE_BAD;
        return 1;
    }
    *rc = KHI_PARSE_IGNORE;
    return !khi_dns_find(line, len, "\"dns\"", 5);
}

int khi_dns_parse_eve(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec,
                      const char **why)
{
    int g;
    if (gate(line, len, why, &g))
        return g;
    eve_vals v;
    memset(&v, 0, sizeof(v));
    scan s = {line, line + len, 0};
    value(&s, &v, IN_TOP, 0);
    ws(&s);
    if (!s.fail && s.p == s.e)
        return decide(st, &v, rec, why);
    return khi_dns_parse_eve_jansson(st, line, len, rec, why);
}

/* ---- the reference reader ---- */

/* A string value of the tree (NULL when j is not a string). */
static sv json_sv(const json_t *j)
{
    const char *p = json_string_value(j);
    sv x = {p, p ? strlen(p) : 0};
    return x;
}

int khi_dns_parse_eve_jansson(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec,
                              const char **why)
{
    int g;
    if (gate(line, len, why, &g))
        return g;
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = KHI_PARSE_BAD;
    if (!o || !json_is_object(o)) {
        *why = "JSON does not parse";
        goto out;
    }
    /* the same values as the fast reader keeps, from the tree; the same decision */
    eve_vals v;
    memset(&v, 0, sizeof(v));
    v.event_type = json_sv(json_object_get(o, "event_type"));
    v.timestamp = json_sv(json_object_get(o, "timestamp"));
    v.src_ip = json_sv(json_object_get(o, "src_ip"));
    v.dest_ip = json_sv(json_object_get(o, "dest_ip"));
    v.sport = json_integer_value(json_object_get(o, "src_port"));
    v.dport = json_integer_value(json_object_get(o, "dest_port"));
    json_t *dns = json_object_get(o, "dns");
    v.dns_obj = json_is_object(dns);
    v.type = json_sv(json_object_get(dns, "type"));
    v.rrname = json_sv(json_object_get(dns, "rrname"));
    v.rrtype = json_sv(json_object_get(dns, "rrtype"));
    v.rcode = json_sv(json_object_get(dns, "rcode"));
    json_t *qs = json_object_get(dns, "queries");
    v.queries_arr = json_is_array(qs);
    v.queries_n = json_array_size(qs);
    json_t *q0 = json_array_get(qs, 0);
    v.q_rrname = json_sv(json_object_get(q0, "rrname"));
    v.q_rrtype = json_sv(json_object_get(q0, "rrtype"));
    rc = decide(st, &v, rec, why); /* copies what it keeps before the tree is freed */
out:
    json_decref(o);
    return rc;
}
