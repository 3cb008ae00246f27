/*
 * fuzz_dns_list.c - libFuzzer target: the indicator-list loaders (plain/Maltrail, hosts, ABP,
 * RPZ zone, CSV; the first byte picks the format) and the parent-domain matcher on the
 * names just loaded. With bit 0x40 the same bytes are loaded again under the other allow flag,
 * so names get both flags (the table's per-entry overrides).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <khien/dns.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int probe(void *ud, kh_dns_ind_kind kind, const char *name, size_t n, const char *family)
{
    const kh_dns_indset *set = ud;
    (void)family;
    if (kind == KH_DNS_IND_DOMAIN && !kh_dns_indset_match(set, name, n, NULL, NULL, NULL) &&
        !kh_dns_indset_allowed(set, name, n))
        __builtin_trap(); /* a listed domain must match itself */
    return 0;
}

static int probe_allowed(void *ud, kh_dns_ind_kind kind, const char *name, size_t n,
                         const char *family)
{
    (void)family;
    if (kind == KH_DNS_IND_DOMAIN && !kh_dns_indset_allowed(ud, name, n))
        __builtin_trap(); /* an allowed domain is allowed */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    kh_dns_list_format fmt = (kh_dns_list_format)(data[0] % 6);
    kh_dns_indset *set = NULL;
    if (kh_dns_indset_create(&set) != KH_OK)
        return 0;
    (void)kh_dns_indset_load_mem(set, "fuzz.txt", (const char *)data + 1, size - 1, fmt, NULL, data[0] & 0x80,
                                 NULL, NULL);
    if (data[0] & 0x40)
        (void)kh_dns_indset_load_mem(set, "again.txt", (const char *)data + 1, size - 1, fmt, NULL,
                                     !(data[0] & 0x80), NULL, NULL);
    kh_dns_indset_foreach(set, 0, probe, set);
    kh_dns_indset_foreach(set, 1, probe_allowed, set);
    kh_dns_indset_destroy(set);
    return 0;
}
