/*
 * store.c - picking a storage backend by URL, and the calls that go to it.
 *
 * "postgres://..." or "postgresql://..." is PostgreSQL (libpq); "sqlite:PATH" or a plain path is
 * SQLite. Both backends implement khi_store_ops and pass the same tests.
 *
 * Roll-ups are assembled here: a backend reports the figures of each unit on its own, and they
 * are added to the unit and to each of its ancestors, so a province with all its departments and
 * communes costs two grouped queries however many units it has.
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

kh_err khi_store_scan(khi_store *s, int64_t endpoint, const khi_scan_rec *r, int *out_new)
{
    return s->ops->scan(s, endpoint, r, out_new);
}

kh_err khi_store_event(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new)
{
    return s->ops->event(s, endpoint, ev, out_new);
}

typedef struct tree {
    khi_rollup *acc; /* one per unit, in the order of khi_store_units; the province is acc[n] */
    int64_t *id, *parent;
    size_t n, cap;
    int oom;
    const khi_plan_cutoff *cut;
    size_t ncut;
} tree;

static int collect_unit(void *ud, const khi_unit *u)
{
    tree *t = ud;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int64_t *id = khi_realloc(t->id, cap * sizeof(*id)), *par = id ? khi_realloc(t->parent, cap * sizeof(*par)) : NULL;
        if (id)
            t->id = id;
        if (!id || !par) {
            t->oom = 1;
            return 1;
        }
        t->parent = par;
        t->cap = cap;
    }
    t->id[t->n] = u->id;
    t->parent[t->n] = u->parent_id;
    t->n++;
    return 0;
}

static size_t unit_index(const tree *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->id[i] == id)
            return i;
    return t->n; /* the province (id 0) or a unit unknown here */
}

static void add(khi_rollup *a, const khi_rollup *b)
{
    a->endpoints += b->endpoints;
    a->reporting += b->reporting;
    a->fresh_24h += b->fresh_24h;
    a->fresh_7d += b->fresh_7d;
    a->infected += b->infected;
    a->detections += b->detections;
    a->silent += b->silent;
    a->plan_endpoints += b->plan_endpoints;
    a->plan_done += b->plan_done;
}

static const khi_plan_cutoff *cutoff(const tree *t, int64_t unit)
{
    for (size_t i = 0; i < t->ncut; i++)
        if (t->cut[i].unit_id == unit)
            return &t->cut[i];
    return NULL;
}

/* Add x to its unit, each ancestor, then the province; a bounded walk even if the tree had a
 * cycle. */
static void add_up(tree *t, const khi_rollup *x)
{
    size_t i = unit_index(t, x->unit_id);
    for (size_t depth = 0; i < t->n && depth <= t->n; depth++) {
        add(&t->acc[i], x);
        i = t->parent[i] ? unit_index(t, t->parent[i]) : t->n;
    }
    add(&t->acc[t->n], x);
}

static int add_stats(void *ud, const khi_rollup *unit_only)
{
    tree *t = ud;
    khi_rollup x = *unit_only;
    if (cutoff(t, x.unit_id)) /* endpoints of a unit with a scan plan are under it */
        x.plan_endpoints = x.endpoints;
    add_up(t, &x);
    return 0;
}

/* one row per endpoint: plan_done holds its latest planned time; count it when it reaches the
 * unit's cutoff */
static int add_plan(void *ud, const khi_rollup *row)
{
    tree *t = ud;
    const khi_plan_cutoff *c = cutoff(t, row->unit_id);
    khi_rollup one = {0};
    if (!c || row->plan_done < c->planned)
        return 0;
    one.unit_id = row->unit_id;
    one.plan_done = 1;
    add_up(t, &one);
    return 0;
}

kh_err khi_store_rollup_tree(khi_store *s, int64_t unit, int64_t from, int64_t to, int64_t now,
                             int64_t window, int64_t silent_after, const khi_plan_cutoff *cutoffs,
                             size_t n_cutoffs, khi_rollup *out, khi_rollup **out_children,
                             size_t *out_n_children)
{
    tree t = {0};
    t.cut = cutoffs;
    t.ncut = n_cutoffs;
    kh_err e = s->ops->units(s, collect_unit, &t);
    if (e == KH_OK && t.oom)
        e = KH_ENOMEM;
    if (e != KH_OK)
        goto out;
    t.acc = khi_calloc(t.n + 1, sizeof(*t.acc));
    if (!t.acc) {
        e = KH_ENOMEM;
        goto out;
    }
    e = s->ops->unit_stats(s, from, to, now, window, silent_after, add_stats, &t);
    if (e == KH_OK && n_cutoffs)
        e = s->ops->plan_done(s, add_plan, &t);
    if (e != KH_OK)
        goto out;
    size_t self = unit ? unit_index(&t, unit) : t.n;
    if (unit && self == t.n) {
        e = KH_ENOENT;
        goto out;
    }
    *out = t.acc[self];
    out->unit_id = unit;
    if (out_children) {
        size_t nk = 0;
        khi_rollup *kids = NULL;
        for (size_t i = 0; i < t.n; i++)
            nk += t.parent[i] == unit && t.id[i] != unit;
        if (nk && !(kids = khi_calloc(nk, sizeof(*kids)))) {
            e = KH_ENOMEM;
            goto out;
        }
        nk = 0;
        for (size_t i = 0; i < t.n; i++)
            if (t.parent[i] == unit && t.id[i] != unit) {
                kids[nk] = t.acc[i];
                kids[nk++].unit_id = t.id[i];
            }
        *out_children = kids;
        *out_n_children = nk;
    }
out:
    khi_free(t.acc);
    khi_free(t.id);
    khi_free(t.parent);
    return e;
}

kh_err khi_store_rollup(khi_store *s, int64_t unit, int64_t from, int64_t to, int64_t now,
                        int64_t window, int64_t silent_after, khi_rollup *out)
{
    return khi_store_rollup_tree(s, unit, from, to, now, window, silent_after, NULL, 0, out, NULL, NULL);
}

kh_err khi_store_top_signatures(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                khi_top_fn cb, void *ud)
{
    return s->ops->top_signatures(s, unit, from, to, limit, cb, ud);
}

kh_err khi_store_top_endpoints(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                               khi_top_endpoint_fn cb, void *ud)
{
    return s->ops->top_endpoints(s, unit, from, to, limit, cb, ud);
}

kh_err khi_store_policy_set(khi_store *s, int64_t unit, const char *json, int64_t now)
{
    return s->ops->policy_set(s, unit, json, now);
}

kh_err khi_store_policy_get(khi_store *s, int64_t unit, char **out)
{
    return s->ops->policy_get(s, unit, out);
}

kh_err khi_store_endpoint_unit(khi_store *s, int64_t endpoint, int64_t *out_unit)
{
    return s->ops->endpoint_unit(s, endpoint, out_unit);
}

kh_err khi_store_policy_chain(khi_store *s, int64_t unit, khi_policy_fn cb, void *ud)
{
    tree t = {0};
    int64_t chain[65];
    size_t n = 0;
    kh_err e = s->ops->units(s, collect_unit, &t);
    if (e == KH_OK && t.oom)
        e = KH_ENOMEM;
    chain[n++] = 0; /* the province first */
    size_t i = unit_index(&t, unit), start = n;
    /* the unit and its ancestors (a bounded walk), reversed below to run top-down */
    for (; e == KH_OK && i < t.n && n < sizeof(chain) / sizeof(chain[0]); i = t.parent[i] ? unit_index(&t, t.parent[i]) : t.n)
        chain[n++] = t.id[i];
    for (size_t a = start, b = n ? n - 1 : 0; a < b; a++, b--) {
        int64_t x = chain[a];
        chain[a] = chain[b];
        chain[b] = x;
    }
    for (size_t k = 0; e == KH_OK && k < n; k++) {
        char *text = NULL;
        kh_err g = s->ops->policy_get(s, chain[k], &text);
        if (g == KH_OK) {
            int stop = cb(ud, chain[k], text);
            khi_free(text);
            if (stop)
                break;
        } else if (g != KH_ENOENT) {
            e = g;
        }
    }
    khi_free(t.id);
    khi_free(t.parent);
    return e;
}

kh_err khi_store_endpoints(khi_store *s, int64_t unit, int64_t offset, int limit, khi_endpoint_fn cb, void *ud)
{
    return s->ops->endpoints(s, unit, offset, limit, cb, ud);
}

kh_err khi_store_events(khi_store *s, int64_t endpoint, int limit, khi_event_fn cb, void *ud)
{
    return s->ops->events(s, endpoint, limit, cb, ud);
}

kh_err khi_store_command_add(khi_store *s, int64_t endpoint, const char *kind, const char *args,
                             const char *by, int64_t now, int64_t expires, int64_t *out_id)
{
    return s->ops->command_add(s, endpoint, kind, args, by, now, expires, out_id);
}

kh_err khi_store_commands_due(khi_store *s, int64_t endpoint, int64_t now, int limit,
                              khi_command_fn cb, void *ud)
{
    return s->ops->commands_due(s, endpoint, now, limit, cb, ud);
}

kh_err khi_store_command_done(khi_store *s, int64_t endpoint, int64_t id, int ok, const char *detail,
                              int64_t now, int *out_new)
{
    return s->ops->command_done(s, endpoint, id, ok, detail, now, out_new);
}

kh_err khi_store_commands(khi_store *s, int64_t endpoint, int limit, khi_command_fn cb, void *ud)
{
    return s->ops->commands(s, endpoint, limit, cb, ud);
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

kh_err khi_store_session_end(khi_store *s, const char *session_hex)
{
    return s->ops->session_end(s, session_hex);
}
