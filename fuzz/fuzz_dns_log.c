/*
 * fuzz_dns_log.c - libFuzzer target: one DNS log parser (KH_DNS_FUZZ_FORMAT, set per target by
 * fuzz/dns.cmake: fuzz_dns_bind, fuzz_dns_unbound, ...) and format detection, the analyzer
 * behind it, on arbitrary bytes. Every record must have sane lengths; nothing may crash, leak
 * or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <khien/dns.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kh_dns_indset *set;
    if (!set && kh_dns_indset_create(&set) == KH_OK)
        kh_dns_indset_add(set, "example.com", 11, "test", 0);
    kh_dns_format fmt = size && data[0] == 'A' ? KH_DNS_FMT_AUTO : KH_DNS_FUZZ_FORMAT;
    (void)kh_dns_format_detect((const char *)data, size);
    kh_dns_reader *r = NULL;
    kh_dns_analyzer *an = NULL;
    if (kh_dns_reader_open_mem("fuzz", data, size, fmt, &r) != KH_OK)
        return 0;
    if (kh_dns_analyzer_create(set, NULL, NULL, &an) != KH_OK) {
        kh_dns_reader_destroy(r);
        return 0;
    }
    kh_dns_rec rec;
    int have = 0;
    while (kh_dns_reader_next(r, &rec, &have) == KH_OK && have) {
        if (rec.qname_len > 65536 || rec.client_len > 65536 || rec.qtype_len > 65536)
            __builtin_trap();
        char norm[KH_DNS_NAME_MAX + 1];
        size_t n;
        (void)kh_dns_name_normalize(rec.qname, rec.qname_len, norm, sizeof(norm), &n);
        (void)kh_dns_analyzer_feed(an, &rec);
    }
    kh_dns_analyzer_destroy(an);
    kh_dns_reader_destroy(r);
    return 0;
}
