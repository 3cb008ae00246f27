/*
 * dns_name.c - domain names: normalisation (case, trailing dot, IDNA), the suffix hash and the
 * registrable domain.
 *
 * Names in resolver logs are already in wire form (ASCII, "xn--" labels), so the common path
 * is a table lower-casing with no allocation; only names with bytes >= 0x80 (lists written by
 * people) go through libidn2. The Public Suffix List comes from libpsl: the system copy under
 * /usr/share/publicsuffix when present (newer), else the list built into libpsl, loaded once.
 */
#include "dns/dns_int.h"

#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <string.h>

const unsigned char khi_dns_lower[256] = {
#define R16(b) (b), (b) + 1, (b) + 2, (b) + 3, (b) + 4, (b) + 5, (b) + 6, (b) + 7, (b) + 8, \
               (b) + 9, (b) + 10, (b) + 11, (b) + 12, (b) + 13, (b) + 14, (b) + 15
    R16(0x00), R16(0x10), R16(0x20), R16(0x30),
    0x40, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    R16(0x60), R16(0x70), R16(0x80), R16(0x90), R16(0xa0), R16(0xb0), R16(0xc0), R16(0xd0),
    R16(0xe0), R16(0xf0),
#undef R16
};

uint64_t khi_dns_hash(const char *s, size_t n)
{
    uint64_t h = KHI_DNS_HSEED;
    while (n)
        h = khi_dns_hstep(h, (unsigned char)s[--n]);
    return khi_dns_hfin(h);
}

size_t khi_dns_fold(const char *in, size_t n, char *out)
{
    while (n && in[n - 1] == '.')
        n--;
    if (n == 0 || n > KH_DNS_NAME_MAX - 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)khi_dns_lower[(unsigned char)in[i]];
    out[n] = '\0';
    return n;
}

/* Characters a list entry may hold after lower-casing: LDH, underscore (SRV, DKIM), '*'. */
static int name_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '*';
}

static kh_err check_labels(const char *s, size_t n)
{
    size_t lab = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (lab == 0)
                return KH_EFORMAT;
            lab = 0;
        } else if (++lab > 63) {
            return KH_EFORMAT;
        }
    }
    return lab ? KH_OK : KH_EFORMAT;
}

kh_err kh_dns_name_normalize(const char *in, size_t in_len, char *out, size_t out_cap, size_t *out_len)
{
    if (!in || !out || !out_len || out_cap < KH_DNS_NAME_MAX + 1)
        return KH_EINVAL;
    while (in_len && (in[in_len - 1] == '.'))
        in_len--;
    if (in_len == 0 || in_len > 1024)
        return KH_EFORMAT;
    int high = 0;
    for (size_t i = 0; i < in_len; i++)
        if ((unsigned char)in[i] >= 0x80)
            high = 1;
    if (!high) {
        if (in_len > KH_DNS_NAME_MAX - 1)
            return KH_EFORMAT;
        for (size_t i = 0; i < in_len; i++) {
            unsigned char c = khi_dns_lower[(unsigned char)in[i]];
            if (!name_char_ok(c))
                return KH_EFORMAT;
            out[i] = (char)c;
        }
        out[in_len] = '\0';
        if (check_labels(out, in_len) != KH_OK)
            return KH_EFORMAT;
        *out_len = in_len;
        return KH_OK;
    }
    /* Unicode: UTF-8 through IDNA 2008 (non-transitional, as browsers do) */
    char tmp[1025];
    memcpy(tmp, in, in_len);
    tmp[in_len] = '\0';
    char *ace = NULL;
    int rc = idn2_to_ascii_8z(tmp, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
        /* some registries' names are valid only under the transitional (IDNA 2003) rules */
        rc = idn2_to_ascii_8z(tmp, &ace, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
        if (rc != IDN2_OK)
            return KH_EFORMAT;
    }
    size_t n = strlen(ace);
    kh_err err = KH_OK;
    if (n == 0 || n > KH_DNS_NAME_MAX - 1) {
        err = KH_EFORMAT;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = khi_dns_lower[(unsigned char)ace[i]];
        if (!name_char_ok(c)) {
            err = KH_EFORMAT;
            goto out;
        }
        out[i] = (char)c;
    }
    out[n] = '\0';
    if (check_labels(out, n) != KH_OK) {
        err = KH_EFORMAT;
        goto out;
    }
    *out_len = n;
out:
    idn2_free(ace);
    return err;
}

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl_ctx;
static const psl_ctx_t *psl_use;

static void psl_load(void)
{
    psl_ctx = psl_latest(NULL);
    psl_use = psl_ctx ? psl_ctx : psl_builtin();
}

kh_err kh_dns_registrable(const char *name, const char **out_reg)
{
    if (!name || !out_reg)
        return KH_EINVAL;
    pthread_once(&psl_once, psl_load);
    *out_reg = NULL;
    if (!psl_use) {
        /* no list at all: take the last two labels */
        const char *last = strrchr(name, '.');
        if (!last)
            return KH_OK;
        const char *p = last;
        while (p > name && p[-1] != '.')
            p--;
        *out_reg = p;
        return KH_OK;
    }
    *out_reg = psl_registrable_domain(psl_use, name);
    return KH_OK;
}
