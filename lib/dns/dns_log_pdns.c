/*
 * dns_log_pdns.c - PowerDNS Recursor structured logging (4.8 and later, quiet=no), logfmt:
 *
 *   msg="Question" subsystem="syncres" level="0" prio="Info" tid="1" ts="1764059701.123"
 *       qname="www.example.com" qtype="A" remote="192.0.2.10:53211" proto="udp" ...
 *   msg="Question answered from packet cache" ... qname="x" qtype="A" source="192.0.2.10:53211"
 *
 * or the same keys as a JSON object (structured-logging-backend=json). Any prefix (syslog,
 * journald) before the first key is allowed. "source" (the real client behind a proxy) wins
 * over "remote". Messages without qname are ignored; a "Question" without one is malformed.
 */
#include "dns/dns_int.h"

#include <jansson.h>

/* Value of key="..." in a logfmt line (quotes required, no escapes inside names/addresses). */
static int kv(const char *s, size_t n, const char *key, const char **val, size_t *vl)
{
    size_t kl = strlen(key);
    const char *p = s, *e = s + n;
    while (p < e) {
        const char *k = khi_dns_find(p, (size_t)(e - p), key, kl);
        if (!k)
            return 0;
        if ((k == s || k[-1] == ' ') && k + kl + 2 <= e && k[kl] == '=' && k[kl + 1] == '"') {
            const char *v = k + kl + 2;
            const char *q = memchr(v, '"', (size_t)(e - v));
            if (!q)
                return 0;
            *val = v;
            *vl = (size_t)(q - v);
            return 1;
        }
        p = k + kl;
    }
    return 0;
}

static int copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int parse_json(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    int rc = KHI_PARSE_BAD;
    if (!json_is_object(o)) {
        *why = "JSON does not parse";
        goto out;
    }
    const char *qname = json_string_value(json_object_get(o, "qname"));
    const char *msg = json_string_value(json_object_get(o, "msg"));
    const char *client = json_string_value(json_object_get(o, "source"));
    if (!client)
        client = json_string_value(json_object_get(o, "remote"));
    if (!qname || !msg || strncmp(msg, "Question", 8) != 0) {
        rc = KHI_PARSE_IGNORE;
        goto out;
    }
    if (!client || copy(st->scratch, sizeof(st->scratch), qname, strlen(qname)) ||
        copy(st->scratch2, sizeof(st->scratch2), client, strlen(client))) {
        *why = "Question without a usable qname and remote";
        goto out;
    }
    rec->qname = st->scratch;
    rec->qname_len = strlen(st->scratch);
    rec->client = st->scratch2;
    rec->client_len = strlen(st->scratch2);
    const char *qt = json_string_value(json_object_get(o, "qtype"));
    if (qt && copy(st->scratch3, sizeof(st->scratch3), qt, strlen(qt)) == 0) {
        rec->qtype = st->scratch3;
        rec->qtype_len = strlen(qt);
    }
    const char *ts = json_string_value(json_object_get(o, "ts"));
    if (ts)
        rec->time_ms = khi_dns_epoch_ms(ts, strlen(ts));
    rc = KHI_PARSE_REC;
out:
    json_decref(o);
    return rc;
}

int khi_dns_parse_pdns(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    int rc;
    if (line[0] == '{') {
        rc = parse_json(st, line, len, rec, why);
    } else {
        const char *msg, *v;
        size_t ml, vl;
        if (!kv(line, len, "msg", &msg, &ml)) {
            *why = "no msg=\"...\" field";
            return KHI_PARSE_BAD;
        }
        if (ml < 8 || memcmp(msg, "Question", 8) != 0)
            return KHI_PARSE_IGNORE;
        if (!kv(line, len, "qname", &rec->qname, &rec->qname_len) ||
            (!kv(line, len, "source", &rec->client, &rec->client_len) &&
             !kv(line, len, "remote", &rec->client, &rec->client_len))) {
            *why = "Question without qname and remote";
            return KHI_PARSE_BAD;
        }
        if (kv(line, len, "qtype", &v, &vl)) {
            rec->qtype = v;
            rec->qtype_len = vl;
        }
        if (kv(line, len, "ts", &v, &vl))
            rec->time_ms = khi_dns_epoch_ms(v, vl);
        else
            rec->time_ms = khi_dns_syslog_ms(line, len);
        rc = KHI_PARSE_REC;
    }
    if (rc != KHI_PARSE_REC)
        return rc;
    khi_dns_strip_port(&rec->client, &rec->client_len);
    if (!khi_dns_plausible_name(rec->qname, rec->qname_len) ||
        !khi_dns_plausible_addr(rec->client, rec->client_len)) {
        *why = "bad qname or remote";
        return KHI_PARSE_BAD;
    }
    return KHI_PARSE_REC;
}
