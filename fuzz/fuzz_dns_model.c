/*
 * fuzz_dns_model.c - libFuzzer target: the DGA model file reader (lib/dns/dns_dga_file.c) on
 * raw bytes, not NUL-terminated. A model that loads is scored on a few names (random, wordy,
 * digits, IDN, a bare suffix). The scores may be anything a hostile model makes them; what must
 * hold is that reading and scoring stay in bounds whatever counts and tables the file holds.
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
    kh_dns_dga_destroy(m);
    return 0;
}
