/*
 * store_pg.c - the PostgreSQL backend (libpq), for provinces with many endpoints or several
 * server processes sharing one database.
 *
 * The same schema and answers as the SQLite backend. Every value is a parameter of
 * PQexecParams (text format; bytea as \x hex), never part of the SQL. The server's threads
 * share a pool of connections (opened as needed, at most POOL_MAX; a broken one is reset when
 * next taken): each call takes one for its statements (a transaction stays on its connection)
 * and gives it back, and a thread that calls again while holding one (a callback asking the
 * store) uses the one it holds. Schema migrations take an advisory lock so that several
 * servers starting at once migrate once. Secrets are stored as in the
 * SQLite backend: token and session digests, argon2id password strings.
 */
#include "store/store_int.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 8

typedef struct pg_store {
    khi_store base;
    char *url;
    PGconn *conn[POOL_MAX];
    int busy[POOL_MAX];
    int n; /* connections opened */
    pthread_mutex_t mu;
    pthread_cond_t freed;
} pg_store;

/* the connection this thread holds, of which store, how many calls deep */
static __thread struct {
    pg_store *store;
    int slot, depth;
} held;

#define PG(s) ((pg_store *)(s))
#define MIGRATION_LOCK 7253104

static const char *const migrations[] = {
    "CREATE TABLE units(id BIGSERIAL PRIMARY KEY, parent_id BIGINT REFERENCES units(id),"
    " name TEXT NOT NULL, kind TEXT NOT NULL, code TEXT);"
    "CREATE INDEX units_parent ON units(parent_id);"
    "CREATE TABLE endpoints(id BIGSERIAL PRIMARY KEY, unit_id BIGINT NOT NULL REFERENCES units(id),"
    " pubkey BYTEA NOT NULL UNIQUE, hostname TEXT, os TEXT, agent_version TEXT, engine_version TEXT,"
    " sig_version BIGINT, sig_time BIGINT, realtime INT, last_full_scan BIGINT, last_seen BIGINT,"
    " enrolled BIGINT NOT NULL, revoked INT NOT NULL DEFAULT 0);"
    "CREATE INDEX endpoints_unit ON endpoints(unit_id);"
    "CREATE TABLE tokens(hash BYTEA PRIMARY KEY, unit_id BIGINT NOT NULL REFERENCES units(id),"
    " created BIGINT NOT NULL, expires BIGINT NOT NULL, uses_left INT NOT NULL);"
    "CREATE TABLE events(id BIGSERIAL PRIMARY KEY, endpoint_id BIGINT NOT NULL REFERENCES endpoints(id),"
    " uid TEXT NOT NULL, time BIGINT NOT NULL, path TEXT, sha256 TEXT, signature TEXT, action TEXT,"
    " UNIQUE(endpoint_id, uid));"
    "CREATE INDEX events_time ON events(time);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, pwhash TEXT NOT NULL, role TEXT NOT NULL,"
    " unit_id BIGINT REFERENCES units(id));"
    "CREATE TABLE sessions(hash BYTEA PRIMARY KEY, user_name TEXT NOT NULL REFERENCES users(name),"
    " expires BIGINT NOT NULL);",
    /* 2: per-day counts for the roll-ups, kept by a trigger (bulk inserts included) */
    "CREATE TABLE event_days(endpoint_id BIGINT NOT NULL, day BIGINT NOT NULL, n BIGINT NOT NULL,"
    " PRIMARY KEY(endpoint_id, day));"
    "CREATE INDEX event_days_day ON event_days(day, endpoint_id, n);"
    "CREATE TABLE sig_days(unit_id BIGINT NOT NULL, day BIGINT NOT NULL, signature TEXT NOT NULL,"
    " n BIGINT NOT NULL, PRIMARY KEY(unit_id, day, signature));"
    "INSERT INTO event_days SELECT endpoint_id, time / 86400, count(*) FROM events GROUP BY 1, 2;"
    "INSERT INTO sig_days SELECT p.unit_id, e.time / 86400, coalesce(e.signature, ''), count(*)"
    " FROM events e JOIN endpoints p ON p.id = e.endpoint_id GROUP BY 1, 2, 3;"
    "CREATE FUNCTION khien_events_days() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " INSERT INTO event_days(endpoint_id, day, n) VALUES(NEW.endpoint_id, NEW.time / 86400, 1)"
    "  ON CONFLICT (endpoint_id, day) DO UPDATE SET n = event_days.n + 1;"
    " INSERT INTO sig_days(unit_id, day, signature, n) SELECT unit_id, NEW.time / 86400,"
    "  coalesce(NEW.signature, ''), 1 FROM endpoints WHERE id = NEW.endpoint_id"
    "  ON CONFLICT (unit_id, day, signature) DO UPDATE SET n = sig_days.n + 1;"
    " RETURN NULL; END $f$;"
    "CREATE TRIGGER events_days AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION khien_events_days();",
    /* 3: policies of units (unit 0 = the province) */
    "CREATE TABLE policies(unit_id BIGINT PRIMARY KEY, body TEXT NOT NULL, updated BIGINT NOT NULL);",
    /* 4: scan results */
    "CREATE TABLE scans(id BIGSERIAL PRIMARY KEY, endpoint_id BIGINT NOT NULL REFERENCES endpoints(id),"
    " uid TEXT NOT NULL, started BIGINT NOT NULL, finished BIGINT NOT NULL, files BIGINT NOT NULL,"
    " bytes BIGINT NOT NULL, detections BIGINT NOT NULL, planned BIGINT NOT NULL,"
    " UNIQUE(endpoint_id, uid));"
    "CREATE INDEX scans_planned ON scans(endpoint_id, planned);",
    /* 5: commands to endpoints */
    "CREATE TABLE commands(id BIGSERIAL PRIMARY KEY, endpoint_id BIGINT NOT NULL REFERENCES endpoints(id),"
    " kind TEXT NOT NULL, args TEXT NOT NULL, created_by TEXT, created BIGINT NOT NULL,"
    " expires BIGINT NOT NULL, delivered BIGINT, done BIGINT, status TEXT, detail TEXT);"
    "CREATE INDEX commands_endpoint ON commands(endpoint_id, done);"
    "ALTER TABLE events ADD COLUMN quarantine_id TEXT;"
    "CREATE INDEX events_endpoint ON events(endpoint_id, time);",
    /* 6: the agents' queues */
    "ALTER TABLE endpoints ADD COLUMN queue_length BIGINT; ALTER TABLE endpoints ADD COLUMN queue_dropped BIGINT;",
};

static void quiet(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
}

static PGconn *connect_one(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (c && PQstatus(c) == CONNECTION_OK) {
        PQsetClientEncoding(c, "UTF8");
        PQsetNoticeProcessor(c, quiet, NULL); /* the library never prints */
    }
    return c;
}

/* Take a connection for this thread (or go one deeper on the one it holds). A thread holds
 * connections of one store at a time: no call of one store runs inside a call of another. */
static void lock(khi_store *s)
{
    pg_store *p = PG(s);
    if (held.depth && held.store == p) {
        held.depth++;
        return;
    }
    pthread_mutex_lock(&p->mu);
    int k = -1;
    while (k < 0) {
        for (int i = 0; i < p->n && k < 0; i++)
            if (!p->busy[i] && p->conn[i])
                k = i;
        if (k < 0 && p->n < POOL_MAX) { /* open one more, outside the mutex */
            int i = p->n++;
            p->busy[i] = 1;
            pthread_mutex_unlock(&p->mu);
            PGconn *c = connect_one(p->url);
            pthread_mutex_lock(&p->mu);
            if (c && PQstatus(c) == CONNECTION_OK) {
                p->conn[i] = c;
                k = i;
                break;
            }
            PQfinish(c); /* the server refuses more: make do with those open */
            if (i == p->n - 1) {
                p->busy[i] = 0;
                p->n--;
            } /* else the slot stays reserved and unused: another thread opened one after it */
        }
        if (k < 0)
            pthread_cond_wait(&p->freed, &p->mu);
    }
    p->busy[k] = 1;
    pthread_mutex_unlock(&p->mu);
    if (PQstatus(p->conn[k]) != CONNECTION_OK)
        PQreset(p->conn[k]); /* the server restarted or the link broke */
    held.store = p;
    held.slot = k;
    held.depth = 1;
}

static void unlock(khi_store *s)
{
    pg_store *p = PG(s);
    if (--held.depth > 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->busy[held.slot] = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    held.store = NULL;
}

/* The connection this thread holds. */
static PGconn *cur(void)
{
    return held.store->conn[held.slot];
}

/* Run sql with n text parameters (NULL = SQL NULL); returns the result (caller clears) or
 * NULL on error. It takes a connection of the pool for itself, or uses the one the thread
 * holds: a call of one statement needs no lock() of its own, several that must share a
 * connection (a transaction, the migration's advisory lock) hold one around them. */
static PGresult *q(khi_store *s, const char *sql, int n, const char *const *params)
{
    lock(s); /* the caller's connection when it holds one */
    /* without parameters, PQexec (which also runs the several statements of a migration) */
    PGresult *r = n ? PQexecParams(cur(), sql, n, NULL, params, NULL, NULL, 0) : PQexec(cur(), sql);
    unlock(s);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static kh_err run(khi_store *s, const char *sql, int n, const char *const *params)
{
    PGresult *r = q(s, sql, n, params);
    PQclear(r);
    return r ? KH_OK : KH_EIO;
}

static void i64(char *buf, size_t len, int64_t v)
{
    snprintf(buf, len, "%lld", (long long)v);
}

static void bytea(char out[67], const uint8_t in[32])
{
    out[0] = '\\';
    out[1] = 'x';
    khi_hex_encode(in, 32, out + 2);
}


static int64_t get_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *opt_text(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void pg_close(khi_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < PG(s)->n; i++)
        PQfinish(PG(s)->conn[i]);
    pthread_mutex_destroy(&PG(s)->mu);
    pthread_cond_destroy(&PG(s)->freed);
    khi_free(PG(s)->url);
    khi_free(s);
}

static kh_err migrate(khi_store *s, char *err, size_t err_len)
{
    char lk[32], ver[32];
    i64(lk, sizeof(lk), MIGRATION_LOCK);
    const char *p1[] = {lk};
    lock(s); /* one connection throughout: the advisory lock is the session's */
    if (run(s, "SELECT pg_advisory_lock($1::bigint)", 1, p1) != KH_OK ||
        run(s, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)", 0, NULL) != KH_OK) {
        khi_snprintf(err, err_len, "schema: %s", PQerrorMessage(cur()));
        unlock(s);
        return KH_EIO;
    }
    int version = 0;
    PGresult *r = q(s, "SELECT value FROM meta WHERE key = 'schema_version'", 0, NULL);
    if (r && PQntuples(r) == 1)
        version = (int)get_i64(r, 0, 0);
    PQclear(r);
    kh_err e = KH_OK;
    for (size_t i = (size_t)version; i < KHI_ARRAY_LEN(migrations) && e == KH_OK; i++) {
        snprintf(ver, sizeof(ver), "%zu", i + 1);
        const char *p2[] = {ver};
        if (run(s, "BEGIN", 0, NULL) != KH_OK || run(s, migrations[i], 0, NULL) != KH_OK ||
            run(s, "INSERT INTO meta(key, value) VALUES('schema_version', $1)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value", 1, p2) != KH_OK ||
            run(s, "COMMIT", 0, NULL) != KH_OK) {
            khi_snprintf(err, err_len, "schema migration %zu: %s", i + 1, PQerrorMessage(cur()));
            run(s, "ROLLBACK", 0, NULL);
            e = KH_EIO;
        }
    }
    run(s, "SELECT pg_advisory_unlock($1::bigint)", 1, p1);
    unlock(s);
    return e;
}

static const khi_store_ops pg_ops;

kh_err khi_store_pg_open(const char *url, khi_store **out, char *err, size_t err_len)
{
    if (sodium_init() < 0)
        return KH_ECRYPTO;
    pg_store *p = khi_calloc(1, sizeof(*p));
    if (!p)
        return KH_ENOMEM;
    p->base.ops = &pg_ops;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->freed, NULL);
    if (!(p->url = khi_strdup(url))) {
        pg_close(&p->base);
        return KH_ENOMEM;
    }
    p->conn[0] = connect_one(url); /* the first at once: a wrong address is said at start */
    if (!p->conn[0] || PQstatus(p->conn[0]) != CONNECTION_OK) {
        khi_snprintf(err, err_len, "PostgreSQL: %s", p->conn[0] ? PQerrorMessage(p->conn[0]) : "out of memory");
        PQfinish(p->conn[0]);
        pg_close(&p->base);
        return KH_EIO;
    }
    p->n = 1;
    kh_err e = migrate(&p->base, err, err_len);
    if (e != KH_OK) {
        pg_close(&p->base);
        return e;
    }
    *out = &p->base;
    return KH_OK;
}

static kh_err pg_unit_add(khi_store *s, int64_t parent, const char *name, const char *kind,
                          const char *code, int64_t *out_id)
{
    char pa[32];
    i64(pa, sizeof(pa), parent);
    const char *p[] = {parent ? pa : NULL, name, kind, code};
    PGresult *r = q(s, "INSERT INTO units(parent_id, name, kind, code) VALUES($1::bigint, $2, $3, $4) RETURNING id", 4, p);
    kh_err e = r && PQntuples(r) == 1 ? KH_OK : KH_EIO;
    if (e == KH_OK && out_id)
        *out_id = get_i64(r, 0, 0);
    PQclear(r);
    return e;
}

static kh_err pg_unit_find(khi_store *s, const char *name, int64_t *out_id)
{
    const char *p[] = {name};
    PGresult *r = q(s, "SELECT id FROM units WHERE name = $1 ORDER BY id LIMIT 1", 1, p);
    kh_err e = !r ? KH_EIO : PQntuples(r) == 1 ? KH_OK : KH_ENOENT;
    if (e == KH_OK)
        *out_id = get_i64(r, 0, 0);
    PQclear(r);
    return e;
}

static int pg_unit_within(khi_store *s, int64_t unit, int64_t ancestor)
{
    if (ancestor == 0)
        return 1;
    char u[32], a[32];
    i64(u, sizeof(u), unit);
    i64(a, sizeof(a), ancestor);
    const char *p[] = {u, a};
    PGresult *r = q(s, "WITH RECURSIVE up(id) AS (SELECT $1::bigint UNION ALL SELECT u.parent_id FROM units u"
                       " JOIN up ON u.id = up.id WHERE u.parent_id IS NOT NULL) SELECT 1 FROM up WHERE id = $2::bigint",
                    2, p);
    int yes = r && PQntuples(r) > 0;
    PQclear(r);
    return yes;
}

static kh_err pg_unit_name(khi_store *s, int64_t id, char *out, size_t out_len)
{
    char u[32];
    i64(u, sizeof(u), id);
    const char *p[] = {u};
    PGresult *r = q(s, "SELECT name FROM units WHERE id = $1::bigint", 1, p);
    kh_err e = !r ? KH_EIO : PQntuples(r) == 1 ? KH_OK : KH_ENOENT;
    if (e == KH_OK)
        khi_snprintf(out, out_len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return e;
}

static kh_err pg_units(khi_store *s, khi_unit_fn cb, void *ud)
{
    PGresult *r = q(s, "SELECT id, coalesce(parent_id, 0), name, kind, code FROM units ORDER BY id", 0, NULL);
    if (!r)
        return KH_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        khi_unit u = {get_i64(r, i, 0), get_i64(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                      PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4)};
        if (cb(ud, &u))
            break;
    }
    PQclear(r);
    return KH_OK;
}

static kh_err pg_token_create(khi_store *s, int64_t unit_id, int64_t ttl, int uses, int64_t now,
                              char out_hex[65])
{
    uint8_t tok[32], h[32];
    char hx[67], u[32], c[32], x[32], n[32];
    randombytes_buf(tok, sizeof(tok));
    crypto_hash_sha256(h, tok, sizeof(tok));
    bytea(hx, h);
    i64(u, sizeof(u), unit_id);
    i64(c, sizeof(c), now);
    i64(x, sizeof(x), now + ttl);
    i64(n, sizeof(n), uses);
    const char *p[] = {hx, u, c, x, n};
    kh_err e = run(s, "INSERT INTO tokens(hash, unit_id, created, expires, uses_left)"
                      " VALUES($1::bytea, $2::bigint, $3::bigint, $4::bigint, $5::int)", 5, p);
    if (e == KH_OK)
        khi_hex_encode(tok, sizeof(tok), out_hex);
    return e;
}

static kh_err pg_enrol(khi_store *s, const char *token_hex, const uint8_t pubkey[32],
                       const char *hostname, int64_t now, int64_t *out_endpoint)
{
    uint8_t tok[32], h[32];
    char th[67], pk[67], t[32];
    if (strlen(token_hex) != 64 || khi_hex_decode(token_hex, 32, tok) != 0)
        return KH_EACCES;
    crypto_hash_sha256(h, tok, sizeof(tok));
    bytea(th, h);
    bytea(pk, pubkey);
    i64(t, sizeof(t), now);
    kh_err e = KH_OK;
    lock(s);
    if (run(s, "BEGIN", 0, NULL) != KH_OK) {
        unlock(s);
        return KH_EIO;
    }
    const char *p1[] = {pk};
    PGresult *r = q(s, "SELECT id FROM endpoints WHERE pubkey = $1::bytea", 1, p1);
    if (!r)
        e = KH_EIO;
    else if (PQntuples(r) == 1) {
        *out_endpoint = get_i64(r, 0, 0);
        e = KH_EEXIST;
    }
    PQclear(r);
    char unit[32] = "";
    if (e == KH_OK) {
        const char *p2[] = {th, t};
        r = q(s, "SELECT unit_id FROM tokens WHERE hash = $1::bytea AND expires > $2::bigint AND uses_left > 0"
                 " FOR UPDATE", 2, p2);
        if (!r)
            e = KH_EIO;
        else if (PQntuples(r) != 1)
            e = KH_EACCES;
        else
            khi_snprintf(unit, sizeof(unit), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (e == KH_OK) {
        const char *p3[] = {th};
        e = run(s, "UPDATE tokens SET uses_left = uses_left - 1 WHERE hash = $1::bytea", 1, p3);
    }
    if (e == KH_OK) {
        const char *p4[] = {unit, pk, hostname, t};
        r = q(s, "INSERT INTO endpoints(unit_id, pubkey, hostname, enrolled, last_seen)"
                 " VALUES($1::bigint, $2::bytea, $3, $4::bigint, $4::bigint) RETURNING id", 4, p4);
        if (!r || PQntuples(r) != 1)
            e = KH_EIO;
        else
            *out_endpoint = get_i64(r, 0, 0);
        PQclear(r);
    }
    run(s, e == KH_OK ? "COMMIT" : "ROLLBACK", 0, NULL);
    unlock(s);
    return e;
}

static kh_err pg_endpoint_key(khi_store *s, int64_t id, uint8_t out_pubkey[32], int *out_revoked)
{
    char u[32];
    i64(u, sizeof(u), id);
    const char *p[] = {u};
    PGresult *r = q(s, "SELECT pubkey, revoked FROM endpoints WHERE id = $1::bigint", 1, p);
    kh_err e = !r ? KH_EIO : KH_ENOENT;
    if (r && PQntuples(r) == 1) {
        const char *v = PQgetvalue(r, 0, 0);
        if (strlen(v) == 66 && v[0] == '\\' && v[1] == 'x' && khi_hex_decode(v + 2, 32, out_pubkey) == 0) {
            *out_revoked = (int)get_i64(r, 0, 1);
            e = KH_OK;
        }
    }
    PQclear(r);
    return e;
}

static kh_err pg_endpoint_revoke(khi_store *s, int64_t id)
{
    char u[32];
    i64(u, sizeof(u), id);
    const char *p[] = {u};
    PGresult *r = q(s, "UPDATE endpoints SET revoked = 1 WHERE id = $1::bigint", 1, p);
    kh_err e = !r ? KH_EIO : strcmp(PQcmdTuples(r), "0") == 0 ? KH_ENOENT : KH_OK;
    PQclear(r);
    return e;
}

static kh_err pg_heartbeat(khi_store *s, int64_t id, const khi_inventory *inv, int64_t now)
{
    char sv[32], st[32], rt[32], lf[32], t[32], u[32], ql[32], qd[32];
    i64(ql, sizeof(ql), inv->queue_length);
    i64(qd, sizeof(qd), inv->queue_dropped);
    i64(sv, sizeof(sv), inv->sig_version);
    i64(st, sizeof(st), inv->sig_time);
    i64(rt, sizeof(rt), inv->realtime);
    i64(lf, sizeof(lf), inv->last_full_scan);
    i64(t, sizeof(t), now);
    i64(u, sizeof(u), id);
    const char *p[] = {inv->hostname, inv->os, inv->agent_version, inv->engine_version, sv, st, rt, lf, t, u, ql, qd};
    PGresult *r = q(s, "UPDATE endpoints SET hostname = coalesce($1, hostname), os = $2, agent_version = $3,"
                       " engine_version = $4, sig_version = $5::bigint, sig_time = $6::bigint, realtime = $7::int,"
                       " last_full_scan = $8::bigint, last_seen = $9::bigint, queue_length = $11::bigint,"
                       " queue_dropped = $12::bigint WHERE id = $10::bigint AND revoked = 0",
                    12, p);
    kh_err e = !r ? KH_EIO : strcmp(PQcmdTuples(r), "0") == 0 ? KH_ENOENT : KH_OK;
    PQclear(r);
    return e;
}

static kh_err pg_event(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new)
{
    char ep[32], t[32];
    i64(ep, sizeof(ep), endpoint);
    i64(t, sizeof(t), ev->time);
    const char *p[] = {ep, ev->uid, t, ev->path, ev->sha256, ev->signature, ev->action, ev->quarantine_id};
    PGresult *r = q(s, "INSERT INTO events(endpoint_id, uid, time, path, sha256, signature, action, quarantine_id)"
                       " VALUES($1::bigint, $2, $3::bigint, $4, $5, $6, $7, $8)"
                       " ON CONFLICT (endpoint_id, uid) DO NOTHING RETURNING id", 8, p);
    kh_err e = r ? KH_OK : KH_EIO;
    if (r)
        *out_new = PQntuples(r) == 1;
    PQclear(r);
    return e;
}

/* The queries over a period take its bounds as $1..$6 (period_params), the unit as $7 and a
 * limit as $8. */
#define SUBTREE                                                                                     \
    "WITH RECURSIVE sub(id) AS (SELECT id FROM units WHERE ($7::bigint = 0 AND parent_id IS NULL)"   \
    " OR id = $7::bigint UNION ALL SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id) "

/* Detections per endpoint over a period: whole days from event_days, the two edges from events */
#define EVENT_COUNTS                                                                                \
    "x(endpoint_id, n) AS (SELECT endpoint_id, n FROM event_days WHERE day >= $1::bigint"            \
    " AND day < $2::bigint UNION ALL SELECT endpoint_id, 1 FROM events WHERE time >= $3::bigint"     \
    " AND time < $4::bigint UNION ALL SELECT endpoint_id, 1 FROM events WHERE time >= $5::bigint"    \
    " AND time < $6::bigint)"

typedef struct period_params {
    char v[8][32];
    const char *p[8];
} period_params;

/* $1..$6 the period (khi_day_span), $7 unit, $8 limit */
static const char *const *period(period_params *pp, int64_t from, int64_t to, int64_t unit, int64_t limit)
{
    int64_t d0, d1, e1, e2;
    khi_day_span(from, to, &d0, &d1, &e1, &e2);
    const int64_t x[8] = {d0, d1, from, e1, e2, to, unit, limit};
    for (int i = 0; i < 8; i++) {
        i64(pp->v[i], sizeof(pp->v[i]), x[i]);
        pp->p[i] = pp->v[i];
    }
    return pp->p;
}

static kh_err pg_unit_stats(khi_store *s, int64_t from, int64_t to, int64_t now, int64_t window,
                            int64_t silent_after, khi_stats_fn cb, void *ud)
{
    char a[32], b[32], c[32], d[32];
    i64(a, sizeof(a), now - window);
    i64(b, sizeof(b), now - 86400);
    i64(c, sizeof(c), now - 7 * 86400);
    i64(d, sizeof(d), now - silent_after);
    const char *p1[] = {a, b, c, d};
    lock(s);
    PGresult *r = q(s, "SELECT unit_id, count(*), coalesce(sum((last_seen >= $1::bigint)::int), 0),"
                       " coalesce(sum((sig_time >= $2::bigint)::int), 0), coalesce(sum((sig_time >= $3::bigint)::int), 0),"
                       " coalesce(sum((last_seen < $4::bigint)::int), 0)"
                       " FROM endpoints WHERE revoked = 0 GROUP BY unit_id", 4, p1);
    /* infected endpoints and detections */
    period_params pp;
    PGresult *r2 = r ? q(s, "WITH " EVENT_COUNTS ", y(endpoint_id, n) AS (SELECT endpoint_id, sum(n) FROM x"
                            " GROUP BY endpoint_id) SELECT p.unit_id, count(*), sum(y.n) FROM y"
                            " JOIN endpoints p ON p.id = y.endpoint_id WHERE p.revoked = 0 GROUP BY p.unit_id",
                         6, period(&pp, from, to, 0, 0)) : NULL;
    unlock(s);
    kh_err err = r && r2 ? KH_OK : KH_EIO;
    int stop = 0;
    for (int i = 0; r && r2 && !stop && i < PQntuples(r); i++) {
        khi_rollup x = {0};
        x.unit_id = get_i64(r, i, 0);
        x.endpoints = get_i64(r, i, 1);
        x.reporting = get_i64(r, i, 2);
        x.fresh_24h = get_i64(r, i, 3);
        x.fresh_7d = get_i64(r, i, 4);
        x.silent = get_i64(r, i, 5);
        stop = cb(ud, &x);
    }
    for (int i = 0; r && r2 && !stop && i < PQntuples(r2); i++) {
        khi_rollup x = {0};
        x.unit_id = get_i64(r2, i, 0);
        x.infected = get_i64(r2, i, 1);
        x.detections = get_i64(r2, i, 2);
        stop = cb(ud, &x);
    }
    PQclear(r);
    PQclear(r2);
    return err;
}

static kh_err pg_top_signatures(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                khi_top_fn cb, void *ud)
{
    period_params pp;
    PGresult *r = q(s, SUBTREE ", x(signature, n) AS ("
                               " SELECT signature, n FROM sig_days WHERE unit_id IN (SELECT id FROM sub)"
                               " AND day >= $1::bigint AND day < $2::bigint"
                               " UNION ALL SELECT coalesce(e.signature, ''), 1 FROM events e"
                               " JOIN endpoints p ON p.id = e.endpoint_id WHERE p.unit_id IN (SELECT id FROM sub)"
                               " AND e.time >= $3::bigint AND e.time < $4::bigint"
                               " UNION ALL SELECT coalesce(e.signature, ''), 1 FROM events e"
                               " JOIN endpoints p ON p.id = e.endpoint_id WHERE p.unit_id IN (SELECT id FROM sub)"
                               " AND e.time >= $5::bigint AND e.time < $6::bigint)"
                               " SELECT signature, sum(n) AS t FROM x GROUP BY signature"
                               " ORDER BY t DESC, signature LIMIT $8::int", 8, period(&pp, from, to, unit, limit));
    if (!r)
        return KH_EIO;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(ud, PQgetvalue(r, i, 0), get_i64(r, i, 1)))
            break;
    PQclear(r);
    return KH_OK;
}

static kh_err pg_top_endpoints(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                               khi_top_endpoint_fn cb, void *ud)
{
    period_params pp;
    PGresult *r = q(s, SUBTREE ", " EVENT_COUNTS
                               " SELECT p.id, p.hostname, p.unit_id, sum(x.n) AS t FROM x"
                               " JOIN endpoints p ON p.id = x.endpoint_id"
                               " WHERE p.revoked = 0 AND p.unit_id IN (SELECT id FROM sub)"
                               " GROUP BY p.id ORDER BY t DESC, p.id LIMIT $8::int", 8, period(&pp, from, to, unit, limit));
    if (!r)
        return KH_EIO;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(ud, get_i64(r, i, 0), PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1), get_i64(r, i, 2),
               get_i64(r, i, 3)))
            break;
    PQclear(r);
    return KH_OK;
}

static kh_err pg_policy_set(khi_store *s, int64_t unit, const char *json, int64_t now)
{
    char u[32], t[32];
    i64(u, sizeof(u), unit);
    i64(t, sizeof(t), now);
    const char *p[] = {u, json, t};
    kh_err e = run(s, "INSERT INTO policies(unit_id, body, updated) VALUES($1::bigint, $2, $3::bigint)"
                      " ON CONFLICT (unit_id) DO UPDATE SET body = excluded.body, updated = excluded.updated", 3, p);
    return e;
}

static kh_err pg_policy_get(khi_store *s, int64_t unit, char **out)
{
    char u[32];
    i64(u, sizeof(u), unit);
    const char *p[] = {u};
    PGresult *r = q(s, "SELECT body FROM policies WHERE unit_id = $1::bigint", 1, p);
    if (!r)
        return KH_EIO;
    kh_err e = KH_ENOENT;
    if (PQntuples(r) == 1) {
        *out = khi_strdup(PQgetvalue(r, 0, 0));
        e = *out ? KH_OK : KH_ENOMEM;
    }
    PQclear(r);
    return e;
}

static kh_err pg_endpoint_unit(khi_store *s, int64_t endpoint, int64_t *out_unit)
{
    char u[32];
    i64(u, sizeof(u), endpoint);
    const char *p[] = {u};
    PGresult *r = q(s, "SELECT unit_id FROM endpoints WHERE id = $1::bigint", 1, p);
    if (!r)
        return KH_EIO;
    kh_err e = PQntuples(r) == 1 ? KH_OK : KH_ENOENT;
    if (e == KH_OK)
        *out_unit = get_i64(r, 0, 0);
    PQclear(r);
    return e;
}

static kh_err pg_scan(khi_store *s, int64_t endpoint, const khi_scan_rec *rec, int *out_new)
{
    char v[7][32];
    const int64_t x[7] = {endpoint, rec->started, rec->finished, rec->files, rec->bytes, rec->detections, rec->planned};
    for (int i = 0; i < 7; i++)
        i64(v[i], sizeof(v[i]), x[i]);
    const char *p[] = {v[0], rec->uid, v[1], v[2], v[3], v[4], v[5], v[6]};
    PGresult *r = q(s, "INSERT INTO scans(endpoint_id, uid, started, finished, files, bytes, detections, planned)"
                       " VALUES($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint)"
                       " ON CONFLICT (endpoint_id, uid) DO NOTHING RETURNING id", 8, p);
    if (!r)
        return KH_EIO;
    *out_new = PQntuples(r) == 1;
    PQclear(r);
    return KH_OK;
}

static kh_err pg_endpoints(khi_store *s, int64_t unit, int64_t offset, int limit, khi_endpoint_fn cb, void *ud)
{
    char u_[32], o_[32], l_[32];
    i64(u_, sizeof(u_), unit);
    i64(o_, sizeof(o_), offset);
    i64(l_, sizeof(l_), limit);
    const char *p[] = {u_, l_, o_};
    PGresult *r = q(s, "WITH RECURSIVE sub(id) AS (SELECT id FROM units WHERE ($1::bigint = 0 AND parent_id IS NULL)"
                       " OR id = $1::bigint UNION ALL SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id)"
                       " SELECT id, unit_id, enrolled, last_seen, revoked, hostname, os, agent_version, engine_version,"
                       " sig_version, sig_time, last_full_scan, realtime, queue_length, queue_dropped FROM endpoints"
                       " WHERE unit_id IN (SELECT id FROM sub) ORDER BY id LIMIT $2::int OFFSET $3::bigint", 3, p);
    if (!r)
        return KH_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        khi_endpoint e = {get_i64(r, i, 0), get_i64(r, i, 1), get_i64(r, i, 2), get_i64(r, i, 3),
                          (int)get_i64(r, i, 4),
                          {opt_text(r, i, 5), opt_text(r, i, 6), opt_text(r, i, 7), opt_text(r, i, 8),
                           get_i64(r, i, 9), get_i64(r, i, 10), get_i64(r, i, 11), (int)get_i64(r, i, 12),
                           get_i64(r, i, 13), get_i64(r, i, 14)}};
        if (cb(ud, &e))
            break;
    }
    PQclear(r);
    return KH_OK;
}

static kh_err pg_events(khi_store *s, int64_t endpoint, int limit, khi_event_fn cb, void *ud)
{
    char e_[32], l_[32];
    i64(e_, sizeof(e_), endpoint);
    i64(l_, sizeof(l_), limit);
    const char *p[] = {e_, l_};
    PGresult *r = q(s, "SELECT uid, time, path, sha256, signature, action, quarantine_id FROM events"
                       " WHERE endpoint_id = $1::bigint ORDER BY time DESC, id DESC LIMIT $2::int", 2, p);
    if (!r)
        return KH_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        khi_event_rec ev = {PQgetvalue(r, i, 0), opt_text(r, i, 2), opt_text(r, i, 3), opt_text(r, i, 4),
                            opt_text(r, i, 5), opt_text(r, i, 6), get_i64(r, i, 1)};
        if (cb(ud, &ev))
            break;
    }
    PQclear(r);
    return KH_OK;
}

static kh_err pg_command_add(khi_store *s, int64_t endpoint, const char *kind, const char *args, const char *by,
                             int64_t now, int64_t expires, int64_t *out_id)
{
    char e_[32], n_[32], x_[32];
    i64(e_, sizeof(e_), endpoint);
    i64(n_, sizeof(n_), now);
    i64(x_, sizeof(x_), expires);
    const char *p[] = {kind, args, by, n_, x_, e_};
    PGresult *r = q(s, "INSERT INTO commands(endpoint_id, kind, args, created_by, created, expires)"
                       " SELECT id, $1, $2, $3, $4::bigint, $5::bigint FROM endpoints"
                       " WHERE id = $6::bigint AND revoked = 0 RETURNING id", 6, p);
    if (!r)
        return KH_EIO;
    kh_err e = PQntuples(r) == 1 ? KH_OK : KH_ENOENT;
    if (e == KH_OK)
        *out_id = get_i64(r, 0, 0);
    PQclear(r);
    return e;
}

#define COMMAND_COLS "id, endpoint_id, created, expires, delivered, done, kind, args, created_by, status, detail"

/* cb for each row of r (columns COMMAND_COLS), until it returns non-zero; clears r. */
static void each_command(PGresult *r, khi_command_fn cb, void *ud)
{
    for (int i = 0; i < PQntuples(r); i++) {
        khi_command c = {get_i64(r, i, 0), get_i64(r, i, 1), get_i64(r, i, 2), get_i64(r, i, 3),
                         get_i64(r, i, 4), get_i64(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7),
                         opt_text(r, i, 8), opt_text(r, i, 9), opt_text(r, i, 10)};
        if (cb(ud, &c))
            break;
    }
    PQclear(r);
}

static kh_err pg_commands_due(khi_store *s, int64_t endpoint, int64_t now, int limit, khi_command_fn cb, void *ud)
{
    char e_[32], n_[32], l_[32];
    i64(e_, sizeof(e_), endpoint);
    i64(n_, sizeof(n_), now);
    i64(l_, sizeof(l_), limit);
    const char *p[] = {e_, n_, l_};
    /* one statement: the rows as they were, and delivered set on those first delivered now */
    PGresult *r = q(s, "WITH d AS (SELECT " COMMAND_COLS " FROM commands WHERE endpoint_id = $1::bigint"
                       " AND done IS NULL AND expires > $2::bigint ORDER BY id LIMIT $3::int),"
                       " m AS (UPDATE commands c SET delivered = $2::bigint FROM d"
                       " WHERE c.id = d.id AND c.delivered IS NULL)"
                       " SELECT * FROM d ORDER BY id", 3, p);
    if (!r)
        return KH_EIO;
    each_command(r, cb, ud);
    return KH_OK;
}

static kh_err pg_command_done(khi_store *s, int64_t endpoint, int64_t id, int ok, const char *detail, int64_t now,
                              int *out_new)
{
    char e_[32], i_[32], n_[32];
    i64(e_, sizeof(e_), endpoint);
    i64(i_, sizeof(i_), id);
    i64(n_, sizeof(n_), now);
    const char *p[] = {n_, ok ? "ok" : "failed", detail, i_, e_};
    PGresult *r = q(s, "WITH u AS (UPDATE commands SET done = $1::bigint, status = $2, detail = $3"
                       " WHERE id = $4::bigint AND endpoint_id = $5::bigint AND done IS NULL RETURNING id)"
                       " SELECT (SELECT count(*) FROM u),"
                       " (SELECT count(*) FROM commands WHERE id = $4::bigint AND endpoint_id = $5::bigint)", 5, p);
    if (!r)
        return KH_EIO;
    *out_new = get_i64(r, 0, 0) > 0;
    kh_err e = get_i64(r, 0, 1) > 0 ? KH_OK : KH_ENOENT;
    PQclear(r);
    return e;
}

static kh_err pg_commands(khi_store *s, int64_t endpoint, int limit, khi_command_fn cb, void *ud)
{
    char e_[32], l_[32];
    i64(e_, sizeof(e_), endpoint);
    i64(l_, sizeof(l_), limit);
    const char *p[] = {e_, l_};
    PGresult *r = q(s, "SELECT " COMMAND_COLS " FROM commands WHERE endpoint_id = $1::bigint"
                       " ORDER BY id DESC LIMIT $2::int", 2, p);
    if (!r)
        return KH_EIO;
    each_command(r, cb, ud);
    return KH_OK;
}

static kh_err pg_plan_done(khi_store *s, khi_stats_fn cb, void *ud)
{
    PGresult *r = q(s, "SELECT p.unit_id, max(c.planned) FROM scans c JOIN endpoints p ON p.id = c.endpoint_id"
                       " WHERE p.revoked = 0 AND c.planned > 0 GROUP BY c.endpoint_id, p.unit_id", 0, NULL);
    if (!r)
        return KH_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        khi_rollup x = {0};
        x.unit_id = get_i64(r, i, 0);
        x.plan_done = get_i64(r, i, 1);
        if (cb(ud, &x))
            break;
    }
    PQclear(r);
    return KH_OK;
}

static kh_err pg_user_set(khi_store *s, const char *name, const char *password, const char *role,
                          int64_t unit_id)
{
    char hash[crypto_pwhash_STRBYTES], u[32];
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return KH_ENOMEM;
    i64(u, sizeof(u), unit_id);
    const char *p[] = {name, hash, role, unit_id ? u : NULL};
    kh_err e = run(s, "INSERT INTO users(name, pwhash, role, unit_id) VALUES($1, $2, $3, $4::bigint)"
                      " ON CONFLICT (name) DO UPDATE SET pwhash = excluded.pwhash, role = excluded.role,"
                      " unit_id = excluded.unit_id", 4, p);
    return e;
}

static kh_err pg_login(khi_store *s, const char *name, const char *password, int64_t ttl,
                       int64_t now, char out_session[65])
{
    const char *p1[] = {name};
    PGresult *r = q(s, "SELECT pwhash FROM users WHERE name = $1", 1, p1);
    int ok = r && PQntuples(r) == 1 &&
             crypto_pwhash_str_verify(PQgetvalue(r, 0, 0), password, strlen(password)) == 0;
    PQclear(r);
    if (!ok)
        return KH_EACCES;
    uint8_t tok[32], h[32];
    char hx[67], x[32];
    randombytes_buf(tok, sizeof(tok));
    crypto_hash_sha256(h, tok, sizeof(tok));
    bytea(hx, h);
    i64(x, sizeof(x), now + ttl);
    const char *p2[] = {hx, name, x};
    kh_err e = run(s, "INSERT INTO sessions(hash, user_name, expires) VALUES($1::bytea, $2, $3::bigint)", 3, p2);
    if (e == KH_OK)
        khi_hex_encode(tok, sizeof(tok), out_session);
    return e;
}

static kh_err pg_session(khi_store *s, const char *session_hex, int64_t now, char *out_user,
                         size_t user_len, char *out_role, size_t role_len, int64_t *out_unit)
{
    uint8_t tok[32], h[32];
    char hx[67], t[32];
    if (!session_hex || strlen(session_hex) != 64 || khi_hex_decode(session_hex, 32, tok) != 0)
        return KH_EACCES;
    crypto_hash_sha256(h, tok, sizeof(tok));
    bytea(hx, h);
    i64(t, sizeof(t), now);
    const char *p[] = {hx, t};
    PGresult *r = q(s, "SELECT u.name, u.role, coalesce(u.unit_id, 0) FROM sessions s JOIN users u"
                       " ON u.name = s.user_name WHERE s.hash = $1::bytea AND s.expires > $2::bigint", 2, p);
    kh_err e = !r ? KH_EIO : KH_EACCES;
    if (r && PQntuples(r) == 1) {
        khi_snprintf(out_user, user_len, "%s", PQgetvalue(r, 0, 0));
        khi_snprintf(out_role, role_len, "%s", PQgetvalue(r, 0, 1));
        *out_unit = get_i64(r, 0, 2);
        e = KH_OK;
    }
    PQclear(r);
    return e;
}

static kh_err pg_session_end(khi_store *s, const char *session_hex)
{
    uint8_t tok[32], h[32];
    char hx[67];
    if (!session_hex || strlen(session_hex) != 64 || khi_hex_decode(session_hex, 32, tok) != 0)
        return KH_OK;
    crypto_hash_sha256(h, tok, sizeof(tok));
    bytea(hx, h);
    const char *p[] = {hx};
    return run(s, "DELETE FROM sessions WHERE hash = $1::bytea", 1, p);
}

static const khi_store_ops pg_ops = {
    pg_close,     pg_unit_add,  pg_unit_find,    pg_unit_within, pg_unit_name,
    pg_units,     pg_token_create, pg_enrol,     pg_endpoint_key, pg_endpoint_revoke,
    pg_heartbeat, pg_event,     pg_unit_stats,       pg_top_signatures, pg_top_endpoints, pg_policy_set, pg_policy_get, pg_endpoint_unit, pg_scan, pg_plan_done,
    pg_endpoints, pg_events, pg_command_add, pg_commands_due, pg_command_done, pg_commands, pg_user_set,
    pg_login,     pg_session, pg_session_end,
};
