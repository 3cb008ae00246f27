/*
 * dns_rpz.c - a Response Policy Zone of the domain indicators, for BIND and Unbound.
 *
 * Each listed domain gets two records, the name and "*.name", with the action: "CNAME ." (the
 * resolver answers NXDOMAIN) or an A/AAAA record of a sinkhole address. Allow-list names get
 * "CNAME rpz-passthru." for the name and its subdomains, which both resolvers let win over the
 * block of a parent. Names that would be too long under the origin are left out (and not
 * counted). The zone is built in memory and written atomically, so a resolver reloading it
 * never sees half a file.
 */
#include "dns/dns_int.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

typedef struct rctx {
    khi_buf *b;
    const char *action;
    size_t origin_len;
    uint64_t count;
    kh_err err;
} rctx;

static int emit(void *ud, kh_dns_ind_kind kind, const char *name, size_t n, const char *family)
{
    rctx *c = ud;
    (void)family;
    if (kind != KH_DNS_IND_DOMAIN)
        return 0;
    if (n + 2 + c->origin_len + 1 > 253)
        return 0;
    c->err = khi_buf_printf(c->b, "%.*s %s\n*.%.*s %s\n", (int)n, name, c->action, (int)n, name, c->action);
    if (c->err != KH_OK)
        return 1;
    c->count++;
    return 0;
}

static int valid_origin(const char *o)
{
    size_t n = strlen(o);
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = o[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '.' || ch == '_'))
            return 0;
    }
    return o[0] != '.';
}

kh_err kh_dns_rpz_write(const kh_dns_indset *set, const kh_dns_rpz_opts *opts, const char *path,
                        uint64_t *out_count)
{
    if (!set || !path)
        return KH_EINVAL;
    kh_dns_rpz_opts o = {"rpz.khien.local", NULL, 0, 300};
    if (opts) {
        if (opts->origin)
            o.origin = opts->origin;
        o.sinkhole = opts->sinkhole;
        o.serial = opts->serial;
        if (opts->ttl)
            o.ttl = opts->ttl;
    }
    if (!valid_origin(o.origin))
        return KH_EINVAL;
    char action[96] = "CNAME .";
    if (o.sinkhole) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, o.sinkhole, addr) == 1)
            khi_snprintf(action, sizeof(action), "A %s", o.sinkhole);
        else if (inet_pton(AF_INET6, o.sinkhole, addr) == 1)
            khi_snprintf(action, sizeof(action), "AAAA %s", o.sinkhole);
        else
            return KH_EINVAL;
    }
    uint32_t serial = o.serial ? o.serial : (uint32_t)time(NULL);
    size_t olen = strlen(o.origin);
    while (olen && o.origin[olen - 1] == '.')
        olen--;
    khi_buf b;
    khi_buf_init(&b);
    rctx c = {&b, action, olen, 0, KH_OK};
    kh_err err = khi_buf_printf(&b,
                                "; Response Policy Zone written by khien dns rpz\n"
                                "$TTL %u\n$ORIGIN %.*s.\n"
                                "@ IN SOA localhost. hostmaster.localhost. ( %u 3600 600 86400 %u )\n"
                                "@ IN NS localhost.\n",
                                o.ttl, (int)olen, o.origin, serial, o.ttl);
    if (err != KH_OK)
        goto out;
    kh_dns_indset_foreach(set, 0, emit, &c);
    if (c.err == KH_OK) {
        uint64_t blocked = c.count;
        c.action = "CNAME rpz-passthru.";
        kh_dns_indset_foreach(set, 1, emit, &c);
        c.count = blocked;
    }
    err = c.err;
    if (err != KH_OK)
        goto out;
    err = khi_file_write_atomic(path, b.data, b.len, 0644);
    if (err == KH_OK && out_count)
        *out_count = c.count;
out:
    khi_buf_cleanup(&b);
    return err;
}
