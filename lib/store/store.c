/*
 * store.c - picking a storage backend by URL, and the calls that go to it.
 *
 * "postgres://..." or "postgresql://..." is PostgreSQL (libpq); "sqlite:PATH" or a plain path is
 * SQLite. Both backends implement khi_store_ops and pass the same tests.
 */
#include "store/store_int.h"

#include <string.h>

kh_err khi_store_open(const char *url, khi_store **out, char *err, size_t err_len)
{
    if (!url)
        return KH_EINVAL;
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return khi_store_pg_open(url, out, err, err_len);
    return khi_store_sqlite_open(strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url, out, err, err_len);
}

void khi_store_close(khi_store *s)
{
    if (s)
        s->ops->close(s);
}

kh_err khi_store_unit_add(khi_store *s, int64_t parent, const char *name, const char *kind,
                          const char *code, int64_t *out_id)
{
    return s->ops->unit_add(s, parent, name, kind, code, out_id);
}

kh_err khi_store_unit_find(khi_store *s, const char *name, int64_t *out_id)
{
    return s->ops->unit_find(s, name, out_id);
}

int khi_store_unit_within(khi_store *s, int64_t unit, int64_t ancestor)
{
    return s->ops->unit_within(s, unit, ancestor);
}

kh_err khi_store_unit_name(khi_store *s, int64_t id, char *out, size_t out_len)
{
    return s->ops->unit_name(s, id, out, out_len);
}

kh_err khi_store_units(khi_store *s, khi_unit_fn cb, void *ud)
{
    return s->ops->units(s, cb, ud);
}

kh_err khi_store_token_create(khi_store *s, int64_t unit_id, int64_t ttl, int uses, int64_t now,
                              char out_hex[65])
{
    return s->ops->token_create(s, unit_id, ttl, uses, now, out_hex);
}

kh_err khi_store_enrol(khi_store *s, const char *token_hex, const uint8_t pubkey[32],
                       const char *hostname, int64_t now, int64_t *out_endpoint)
{
    return s->ops->enrol(s, token_hex, pubkey, hostname, now, out_endpoint);
}

kh_err khi_store_endpoint_key(khi_store *s, int64_t id, uint8_t out_pubkey[32], int *out_revoked)
{
    return s->ops->endpoint_key(s, id, out_pubkey, out_revoked);
}

kh_err khi_store_endpoint_revoke(khi_store *s, int64_t id)
{
    return s->ops->endpoint_revoke(s, id);
}

kh_err khi_store_heartbeat(khi_store *s, int64_t id, const khi_inventory *inv, int64_t now)
{
    return s->ops->heartbeat(s, id, inv, now);
}

kh_err khi_store_event(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new)
{
    return s->ops->event(s, endpoint, ev, out_new);
}

kh_err khi_store_rollup(khi_store *s, int64_t unit, int64_t from, int64_t to, int64_t now,
                        int64_t window, int64_t silent_after, khi_rollup *out)
{
    return s->ops->rollup(s, unit, from, to, now, window, silent_after, out);
}

kh_err khi_store_top_signatures(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                khi_top_fn cb, void *ud)
{
    return s->ops->top_signatures(s, unit, from, to, limit, cb, ud);
}

kh_err khi_store_user_set(khi_store *s, const char *name, const char *password, const char *role,
                          int64_t unit_id)
{
    return s->ops->user_set(s, name, password, role, unit_id);
}

kh_err khi_store_login(khi_store *s, const char *name, const char *password, int64_t ttl,
                       int64_t now, char out_session[65])
{
    return s->ops->login(s, name, password, ttl, now, out_session);
}

kh_err khi_store_session(khi_store *s, const char *session_hex, int64_t now, char *out_user,
                         size_t user_len, char *out_role, size_t role_len, int64_t *out_unit)
{
    return s->ops->session(s, session_hex, now, out_user, user_len, out_role, role_len, out_unit);
}
