/*
 * dns_log_eve.c - Suricata EVE JSON, event_type "dns", in both layouts:
 *
 *   v2: "dns":{"type":"query","rrname":"x.example","rrtype":"A",...}
 *       "dns":{"version":2,"type":"answer","rcode":"NXDOMAIN","rrname":"x.example",...}
 *   v3: "dns":{"version":3,"type":"request","queries":[{"rrname":"x.example","rrtype":"A"}]}
 *       "dns":{"version":3,"type":"response","rcode":"NXDOMAIN","queries":[...],...}
 *
 * The client is the side that is not port 53 (src for queries, dest for answers when the
 * ports say nothing). Other event types are ignored without parsing the JSON. Strings are
 * copied into the parser state, since the JSON tree is freed before the record is used.
 */
#include "dns/dns_int.h"

#include <jansson.h>

static int copy(char *dst, size_t cap, const char *s, size_t *out_len)
{
    size_t n = strlen(s);
    if (n >= cap)
        return -1;
    memcpy(dst, s, n + 1);
    *out_len = n;
    return 0;
}

int khi_dns_parse_eve(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why)
{
    if (line[0] != '{') {
        *why = "not a JSON object";
        return KHI_PARSE_BAD;
    }
    if (!khi_dns_find(line, len, "\"dns\"", 5))
        return KHI_PARSE_IGNORE; /* flow, alert, stats ... */
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = KHI_PARSE_BAD;
    if (!o || !json_is_object(o)) {
        *why = "JSON does not parse";
        goto out;
    }
    const char *et = json_string_value(json_object_get(o, "event_type"));
    if (!et || strcmp(et, "dns") != 0) {
        rc = KHI_PARSE_IGNORE;
        goto out;
    }
    json_t *dns = json_object_get(o, "dns");
    const char *type = json_string_value(json_object_get(dns, "type"));
    if (!json_is_object(dns) || !type) {
        *why = "dns event without dns.type";
        goto out;
    }
    int answer = strcmp(type, "answer") == 0 || strcmp(type, "response") == 0;
    if (!answer && strcmp(type, "query") != 0 && strcmp(type, "request") != 0) {
        rc = KHI_PARSE_IGNORE;
        goto out;
    }
    const char *name = json_string_value(json_object_get(dns, "rrname"));
    const char *qtype = json_string_value(json_object_get(dns, "rrtype"));
    json_t *qs = json_object_get(dns, "queries");
    if (!name && json_is_array(qs) && json_array_size(qs) > 0) {
        json_t *q0 = json_array_get(qs, 0);
        name = json_string_value(json_object_get(q0, "rrname"));
        qtype = json_string_value(json_object_get(q0, "rrtype"));
    }
    if (!name) {
        if (answer) { /* e.g. a response to a query without a question */
            rc = KHI_PARSE_IGNORE;
            goto out;
        }
        *why = "dns query without rrname";
        goto out;
    }
    const char *src = json_string_value(json_object_get(o, "src_ip"));
    const char *dst = json_string_value(json_object_get(o, "dest_ip"));
    json_int_t sport = json_integer_value(json_object_get(o, "src_port"));
    json_int_t dport = json_integer_value(json_object_get(o, "dest_port"));
    const char *client = answer ? dst : src;
    if (sport == 53 && dport != 53)
        client = dst;
    else if (dport == 53 && sport != 53)
        client = src;
    if (!client) {
        *why = "dns event without src_ip/dest_ip";
        goto out;
    }
    if (copy(st->scratch, sizeof(st->scratch), name, &rec->qname_len) ||
        copy(st->scratch2, sizeof(st->scratch2), client, &rec->client_len) ||
        !khi_dns_plausible_name(st->scratch, rec->qname_len) ||
        !khi_dns_plausible_addr(st->scratch2, rec->client_len)) {
        *why = "bad rrname or address";
        goto out;
    }
    rec->qname = st->scratch;
    rec->client = st->scratch2;
    if (qtype && copy(st->scratch3, sizeof(st->scratch3), qtype, &rec->qtype_len) == 0)
        rec->qtype = st->scratch3;
    const char *ts = json_string_value(json_object_get(o, "timestamp"));
    if (ts)
        rec->time_ms = khi_dns_iso_ms(ts, strlen(ts));
    if (answer) {
        const char *rcode = json_string_value(json_object_get(dns, "rcode"));
        rec->rcode = rcode ? khi_dns_rcode(rcode, strlen(rcode)) : 0;
        rec->is_query = 0;
    }
    rc = KHI_PARSE_REC;
out:
    json_decref(o);
    return rc;
}
