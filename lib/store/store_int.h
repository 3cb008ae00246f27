/*
 * store_int.h - the table of functions a storage backend provides (internal to lib/store).
 */
#ifndef KHI_STORE_INT_H
#define KHI_STORE_INT_H

#include "store/store.h"

typedef int (*khi_stats_fn)(void *ud, const khi_rollup *unit_only);

/* Events are also counted per day (UTC days since the epoch) in the tables event_days
 * (endpoint, day) and sig_days (unit, day, signature), kept by a trigger on events. A period
 * [from, to) is answered from whole days [*d0, *d1) of those tables plus the events of the two
 * partial edges [from, *e1) and [*e2, to), read from events itself (disjoint, maybe empty). */
static inline void khi_day_span(int64_t from, int64_t to, int64_t *d0, int64_t *d1, int64_t *e1,
                                int64_t *e2)
{
    const int64_t day = 86400;
    int64_t a = from >= 0 ? (from + day - 1) / day : 0; /* first whole day */
    int64_t b = to >= 0 ? to / day : 0;                 /* day after the last whole one */
    if (a < 1) /* day 0 also holds negative times (division truncates): never read it whole */
        a = 1;
    if (b < a)
        b = a;
    *d0 = a;
    *d1 = b;
    *e1 = to < a * day ? to : a * day;
    *e2 = from > b * day ? from : b * day;
}

typedef struct khi_store_ops {
    void (*close)(khi_store *s);
    kh_err (*unit_add)(khi_store *s, int64_t parent, const char *name, const char *kind,
                       const char *code, int64_t *out_id);
    kh_err (*unit_find)(khi_store *s, const char *name, int64_t *out_id);
    int (*unit_within)(khi_store *s, int64_t unit, int64_t ancestor);
    kh_err (*unit_name)(khi_store *s, int64_t id, char *out, size_t out_len);
    kh_err (*units)(khi_store *s, khi_unit_fn cb, void *ud);
    kh_err (*token_create)(khi_store *s, int64_t unit_id, int64_t ttl, int uses, int64_t now,
                           char out_hex[65]);
    kh_err (*enrol)(khi_store *s, const char *token_hex, const uint8_t pubkey[32],
                    const char *hostname, int64_t now, int64_t *out_endpoint);
    kh_err (*endpoint_key)(khi_store *s, int64_t id, uint8_t out_pubkey[32], int *out_revoked);
    kh_err (*endpoint_revoke)(khi_store *s, int64_t id);
    kh_err (*heartbeat)(khi_store *s, int64_t id, const khi_inventory *inv, int64_t now);
    kh_err (*event)(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new);
    /* Figures of every unit on its own (not its subtree), one call of cb per unit that has
     * endpoints or events; store.c adds them up the tree. Fields not known are 0. */
    kh_err (*unit_stats)(khi_store *s, int64_t from, int64_t to, int64_t now, int64_t window,
                         int64_t silent_after, khi_stats_fn cb, void *ud);
    kh_err (*top_signatures)(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                             khi_top_fn cb, void *ud);
    kh_err (*top_endpoints)(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                            khi_top_endpoint_fn cb, void *ud);
    kh_err (*policy_set)(khi_store *s, int64_t unit, const char *json, int64_t now);
    kh_err (*policy_get)(khi_store *s, int64_t unit, char **out);
    kh_err (*endpoint_unit)(khi_store *s, int64_t endpoint, int64_t *out_unit);
    kh_err (*scan)(khi_store *s, int64_t endpoint, const khi_scan_rec *r, int *out_new);
    /* for each endpoint (not revoked) with planned scans: its unit and latest planned time,
     * passed as unit_id and plan_done of a khi_rollup */
    kh_err (*plan_done)(khi_store *s, khi_stats_fn cb, void *ud);
    kh_err (*endpoints)(khi_store *s, int64_t unit, int64_t offset, int limit, khi_endpoint_fn cb, void *ud);
    kh_err (*events)(khi_store *s, int64_t endpoint, int limit, khi_event_fn cb, void *ud);
    kh_err (*command_add)(khi_store *s, int64_t endpoint, const char *kind, const char *args,
                          const char *by, int64_t now, int64_t expires, int64_t *out_id);
    kh_err (*commands_due)(khi_store *s, int64_t endpoint, int64_t now, int limit, khi_command_fn cb,
                           void *ud);
    kh_err (*command_done)(khi_store *s, int64_t endpoint, int64_t id, int ok, const char *detail,
                           int64_t now, int *out_new);
    kh_err (*commands)(khi_store *s, int64_t endpoint, int limit, khi_command_fn cb, void *ud);
    kh_err (*user_set)(khi_store *s, const char *name, const char *password, const char *role,
                       int64_t unit_id);
    kh_err (*login)(khi_store *s, const char *name, const char *password, int64_t ttl, int64_t now,
                    char out_session[65]);
    kh_err (*session)(khi_store *s, const char *session_hex, int64_t now, char *out_user,
                      size_t user_len, char *out_role, size_t role_len, int64_t *out_unit);
    kh_err (*session_end)(khi_store *s, const char *session_hex);
} khi_store_ops;

struct khi_store {
    const khi_store_ops *ops;
};

kh_err khi_store_sqlite_open(const char *path, khi_store **out, char *err, size_t err_len);
kh_err khi_store_pg_open(const char *url, khi_store **out, char *err, size_t err_len);

#endif
