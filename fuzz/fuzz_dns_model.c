/*
 * fuzz_dns_model.c - libFuzzer target: the DGA model file reader (lib/dns/dns_dga_file.c) on
 * raw bytes, not NUL-terminated. A model that loads is scored on a few names (random, wordy,
 * digits, IDN, a bare suffix), and an analyzer with it sees those names come back NXDOMAIN for
 * one client (the set test, with whatever thresholds the file holds). The scores may be
 * anything a hostile model makes them; what must hold is that reading, scoring and the set test
 * stay in bounds whatever counts, tables and thresholds the file holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dns/dns_dga_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"xkq3jz8v2wpt.com", "shoponlinenews.co.uk", "a.b.c.example.org", "x.com",
                                        "xn--80ak6aa92e.com", "co.uk", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.info"};
    kh_dns_dga *m = NULL;
    char err[128];
    if (khi_dga_parse((const char *)data, size, "fuzz", &m, err, sizeof(err)) != KH_OK)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void)kh_dns_dga_score(m, names[i], strlen(names[i]));
    kh_dns_analyzer *an = NULL;
    if (kh_dns_analyzer_create(NULL, m, NULL, &an) == KH_OK) {
        for (size_t r = 0; r < 2; r++)
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                kh_dns_rec rec;
                memset(&rec, 0, sizeof(rec));
                rec.client = "10.0.0.1";
                rec.client_len = 8;
                rec.qname = names[i];
                rec.qname_len = strlen(names[i]);
                rec.time_ms = (int64_t)(r * 100 + i) * 1000;
                rec.rcode = 3;
                (void)kh_dns_analyzer_feed(an, &rec);
            }
        kh_dns_analyzer_destroy(an);
    }
    kh_dns_dga_destroy(m);
    return 0;
}
