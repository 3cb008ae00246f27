/*
 * fuzz_dns_eve_diff.c - libFuzzer target: the fast Suricata EVE reader against the jansson one
 * (lib/dns/dns_log_eve.c), line by line. They must agree on every line: the same verdict
 * (record, ignored, malformed with the same reason) and, for a record, the same name, client,
 * type, code, time and direction. A difference traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dns/dns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_dns_pstate fast_st, ref_st;
    const char *p = (const char *)data, *e = p + size;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t len = (size_t)((nl ? nl : e) - p);
        if (len) {
            kh_dns_rec a, b;
            memset(&a, 0, sizeof(a));
            memset(&b, 0, sizeof(b));
            a.time_ms = b.time_ms = -1;
            a.rcode = b.rcode = -1;
            a.is_query = b.is_query = 1;
            const char *wa = NULL, *wb = NULL;
            int ra = khi_dns_parse_eve(&fast_st, p, len, &a, &wa);
            int rb = khi_dns_parse_eve_jansson(&ref_st, p, len, &b, &wb);
            if (ra != rb)
                __builtin_trap();
            if (ra == KHI_PARSE_BAD && strcmp(wa, wb) != 0)
                __builtin_trap();
            if (ra == KHI_PARSE_REC &&
                (!same(a.qname, a.qname_len, b.qname, b.qname_len) ||
                 !same(a.client, a.client_len, b.client, b.client_len) ||
                 !same(a.qtype, a.qtype_len, b.qtype, b.qtype_len) || a.rcode != b.rcode ||
                 a.time_ms != b.time_ms || a.is_query != b.is_query))
                __builtin_trap();
        }
        p = nl ? nl + 1 : e;
    }
    return 0;
}
