/*
 * store_sqlite.c - the embedded storage backend: SQLite in WAL mode.
 *
 * Two connections. Writes go through one, and the agents' hot writes (heartbeats, detection
 * events, scan results) through one writer thread that batches them: whatever the server's
 * threads submitted while it committed the last batch becomes the next transaction (a savepoint
 * per request, so one failing request does not undo the others), and each request returns once
 * its batch is committed: a reply of "stored" means on disk. Reads of the console (roll-ups, top
 * lists, the tree, sessions) use the other connection: WAL lets them run while agents write, so
 * a long roll-up never holds up a heartbeat. The schema is versioned: each migration runs once, in a
 * transaction, and the version is recorded in meta. Secrets are never stored: enrolment tokens
 * and session ids are kept as SHA-256 digests, passwords as argon2id strings (libsodium).
 */
#include "store/store_int.h"

#include <sodium.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* A request for the writer thread. */
typedef struct sq_job {
    enum { JOB_HEARTBEAT, JOB_EVENT, JOB_SCAN } kind;
    int64_t id, now;
    const void *rec; /* khi_inventory, khi_event_rec or khi_scan_rec (the caller's) */
    int *out_new;
    kh_err result;
    int done;
    struct sq_job *next;
} sq_job;

#define BATCH_MAX 512

typedef struct sq_store {
    khi_store base;      /* first: a khi_store * is a sq_store * */
    sqlite3 *db;         /* writes */
    sqlite3 *rdb;        /* reads (query_only) */
    pthread_mutex_t mu;  /* db: its transactions must not interleave across threads */
    pthread_mutex_t rmu; /* rdb */
    /* the writer thread and its queue */
    pthread_t writer;
    int writer_on, stopping;
    pthread_mutex_t jmu;
    pthread_cond_t jready, jdone;
    sq_job *head, *tail;
} sq_store;

/* The connection the calls of this thread use now (set by the wrappers below). */
static __thread sqlite3 *tl_db;

#define SQ(s) ((sq_store *)(s))

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE units(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES units(id),"
    " name TEXT NOT NULL, kind TEXT NOT NULL, code TEXT);"
    "CREATE INDEX units_parent ON units(parent_id);"
    "CREATE TABLE endpoints(id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES units(id),"
    " pubkey BLOB NOT NULL UNIQUE, hostname TEXT, os TEXT, agent_version TEXT, engine_version TEXT,"
    " sig_version INTEGER, sig_time INTEGER, realtime INTEGER, last_full_scan INTEGER,"
    " last_seen INTEGER, enrolled INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX endpoints_unit ON endpoints(unit_id);"
    "CREATE TABLE tokens(hash BLOB PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES units(id),"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL, uses_left INTEGER NOT NULL);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),"
    " uid TEXT NOT NULL, time INTEGER NOT NULL, path TEXT, sha256 TEXT, signature TEXT, action TEXT,"
    " UNIQUE(endpoint_id, uid));"
    "CREATE INDEX events_time ON events(time);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, pwhash TEXT NOT NULL, role TEXT NOT NULL,"
    " unit_id INTEGER REFERENCES units(id));"
    "CREATE TABLE sessions(hash BLOB PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name),"
    " expires INTEGER NOT NULL);",
    /* 2: per-day counts for the roll-ups, kept by a trigger (bulk inserts included) */
    "CREATE TABLE event_days(endpoint_id INTEGER NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(endpoint_id, day)) WITHOUT ROWID;"
    "CREATE INDEX event_days_day ON event_days(day, endpoint_id, n);"
    "CREATE TABLE sig_days(unit_id INTEGER NOT NULL, day INTEGER NOT NULL, signature TEXT NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY(unit_id, day, signature)) WITHOUT ROWID;"
    "INSERT INTO event_days SELECT endpoint_id, time / 86400, count(*) FROM events GROUP BY 1, 2;"
    "INSERT INTO sig_days SELECT p.unit_id, e.time / 86400, coalesce(e.signature, ''), count(*)"
    " FROM events e JOIN endpoints p ON p.id = e.endpoint_id GROUP BY 1, 2, 3;"
    "CREATE TRIGGER events_days AFTER INSERT ON events BEGIN"
    " INSERT INTO event_days(endpoint_id, day, n) VALUES(NEW.endpoint_id, NEW.time / 86400, 1)"
    "  ON CONFLICT(endpoint_id, day) DO UPDATE SET n = n + 1;"
    " INSERT INTO sig_days(unit_id, day, signature, n) SELECT unit_id, NEW.time / 86400,"
    "  coalesce(NEW.signature, ''), 1 FROM endpoints WHERE id = NEW.endpoint_id"
    "  ON CONFLICT(unit_id, day, signature) DO UPDATE SET n = n + 1;"
    " END;",
    /* 3: policies of units (unit 0 = the province) */
    "CREATE TABLE policies(unit_id INTEGER PRIMARY KEY, body TEXT NOT NULL, updated INTEGER NOT NULL);",
    /* 4: scan results */
    "CREATE TABLE scans(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),"
    " uid TEXT NOT NULL, started INTEGER NOT NULL, finished INTEGER NOT NULL, files INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL, detections INTEGER NOT NULL, planned INTEGER NOT NULL,"
    " UNIQUE(endpoint_id, uid));"
    "CREATE INDEX scans_planned ON scans(endpoint_id, planned);",
    /* 5: commands to endpoints */
    "CREATE TABLE commands(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),"
    " kind TEXT NOT NULL, args TEXT NOT NULL, created_by TEXT, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, delivered INTEGER, done INTEGER, status TEXT, detail TEXT);"
    "CREATE INDEX commands_endpoint ON commands(endpoint_id, done);"
    "ALTER TABLE events ADD COLUMN quarantine_id TEXT;"
    "CREATE INDEX events_endpoint ON events(endpoint_id, time);",
    /* 6: the agents' queues */
    "ALTER TABLE endpoints ADD COLUMN queue_length INTEGER; ALTER TABLE endpoints ADD COLUMN queue_dropped INTEGER;",
};

static kh_err fail(khi_store *s, char *err, size_t err_len, const char *what)
{
    khi_snprintf(err, err_len, "%s: %s", what, s && SQ(s)->db ? sqlite3_errmsg(SQ(s)->db) : "cannot open");
    return KH_EIO;
}

static kh_err exec(khi_store *s, const char *sql)
{
    return sqlite3_exec(SQ(s)->db, sql, NULL, NULL, NULL) == SQLITE_OK ? KH_OK : KH_EIO;
}

static kh_err migrate(khi_store *s, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (exec(s, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)") != KH_OK)
        return fail(s, err, err_len, "schema");
    if (sqlite3_prepare_v2(SQ(s)->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    for (size_t i = (size_t)version; i < KHI_ARRAY_LEN(migrations); i++) {
        char setv[96];
        khi_snprintf(setv, sizeof(setv),
                     "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '%zu')", i + 1);
        if (exec(s, "BEGIN IMMEDIATE") != KH_OK || exec(s, migrations[i]) != KH_OK ||
            exec(s, setv) != KH_OK || exec(s, "COMMIT") != KH_OK) {
            kh_err e = fail(s, err, err_len, "schema migration");
            exec(s, "ROLLBACK");
            return e;
        }
    }
    return KH_OK;
}

static void sq_close(khi_store *s);
static void *writer_main(void *arg);
static const khi_store_ops sq_ops;

kh_err khi_store_sqlite_open(const char *path, khi_store **out, char *err, size_t err_len)
{
    if (sodium_init() < 0)
        return KH_ECRYPTO;
    sq_store *q = khi_calloc(1, sizeof(*q));
    if (!q)
        return KH_ENOMEM;
    q->base.ops = &sq_ops;
    /* recursive: a callback of units() may ask the store again on the same thread */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&q->mu, &ma);
    pthread_mutex_init(&q->rmu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&q->jmu, NULL);
    pthread_cond_init(&q->jready, NULL);
    pthread_cond_init(&q->jdone, NULL);
    khi_store *s = &q->base;
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        kh_err e = fail(s, err, err_len, path);
        sq_close(s);
        return e;
    }
    sqlite3_busy_timeout(q->db, 5000);
    if (exec(s, "PRAGMA journal_mode=WAL") != KH_OK || exec(s, "PRAGMA synchronous=NORMAL") != KH_OK ||
        exec(s, "PRAGMA foreign_keys=ON") != KH_OK) {
        kh_err e = fail(s, err, err_len, path);
        sq_close(s);
        return e;
    }
    kh_err e = migrate(s, err, err_len);
    if (e != KH_OK) {
        sq_close(s);
        return e;
    }
    /* the readers' connection (an in-memory database has only the one) */
    if (strcmp(path, ":memory:") != 0 &&
        (sqlite3_open_v2(path, &q->rdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
         sqlite3_exec(q->rdb, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK)) {
        khi_snprintf(err, err_len, "%s: %s", path, q->rdb ? sqlite3_errmsg(q->rdb) : "cannot open");
        sq_close(s);
        return KH_EIO;
    }
    if (q->rdb)
        sqlite3_busy_timeout(q->rdb, 5000);
    q->writer_on = pthread_create(&q->writer, NULL, writer_main, q) == 0;
    *out = s;
    return KH_OK;
}

static void sq_close(khi_store *s)
{
    if (!s)
        return;
    sq_store *q = SQ(s);
    if (q->writer_on) {
        pthread_mutex_lock(&q->jmu);
        q->stopping = 1;
        pthread_cond_signal(&q->jready);
        pthread_mutex_unlock(&q->jmu);
        pthread_join(q->writer, NULL);
    }
    sqlite3_close(q->rdb);
    sqlite3_close(q->db);
    pthread_mutex_destroy(&q->mu);
    pthread_mutex_destroy(&q->rmu);
    pthread_mutex_destroy(&q->jmu);
    pthread_cond_destroy(&q->jready);
    pthread_cond_destroy(&q->jdone);
    khi_free(s);
}

/* ---- small statement helpers ---- */

static sqlite3_stmt *prep(khi_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    return sqlite3_prepare_v2(tl_db ? tl_db : SQ(s)->db, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static kh_err run_done(sqlite3_stmt *st)
{
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KH_OK : rc == SQLITE_CONSTRAINT ? KH_EEXIST : KH_EIO;
}

static void digest(const void *p, size_t n, uint8_t out[32])
{
    crypto_hash_sha256(out, p, n);
}

/* ---- units ---- */

static kh_err sq_unit_add_locked(khi_store *s, int64_t parent, const char *name, const char *kind,
                          const char *code, int64_t *out_id)
{
    sqlite3_stmt *st = prep(s, "INSERT INTO units(parent_id, name, kind, code) VALUES(?, ?, ?, ?)");
    if (!st)
        return KH_EIO;
    if (parent)
        sqlite3_bind_int64(st, 1, parent);
    else
        sqlite3_bind_null(st, 1);
    bind_text(st, 2, name);
    bind_text(st, 3, kind);
    bind_text(st, 4, code);
    kh_err e = run_done(st);
    if (e == KH_OK && out_id)
        *out_id = sqlite3_last_insert_rowid(SQ(s)->db);
    return e;
}

static kh_err sq_unit_find_locked(khi_store *s, const char *name, int64_t *out_id)
{
    sqlite3_stmt *st = prep(s, "SELECT id FROM units WHERE name = ? ORDER BY id LIMIT 1");
    if (!st)
        return KH_EIO;
    bind_text(st, 1, name);
    kh_err e = sqlite3_step(st) == SQLITE_ROW ? KH_OK : KH_ENOENT;
    if (e == KH_OK)
        *out_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return e;
}

static int sq_unit_within_locked(khi_store *s, int64_t unit, int64_t ancestor)
{
    if (ancestor == 0)
        return 1;
    sqlite3_stmt *st = prep(s, "WITH RECURSIVE up(id) AS (SELECT ?1 UNION ALL SELECT u.parent_id FROM units u"
                               " JOIN up ON u.id = up.id WHERE u.parent_id IS NOT NULL)"
                               " SELECT 1 FROM up WHERE id = ?2");
    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, unit);
    sqlite3_bind_int64(st, 2, ancestor);
    int yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

static kh_err sq_unit_name_locked(khi_store *s, int64_t id, char *out, size_t out_len)
{
    sqlite3_stmt *st = prep(s, "SELECT name FROM units WHERE id = ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, id);
    kh_err e = sqlite3_step(st) == SQLITE_ROW ? KH_OK : KH_ENOENT;
    if (e == KH_OK)
        khi_snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return e;
}

static kh_err sq_units_locked(khi_store *s, khi_unit_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, "SELECT id, coalesce(parent_id, 0), name, kind, code FROM units ORDER BY id");
    if (!st)
        return KH_EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        khi_unit u = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                      (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
                      (const char *)sqlite3_column_text(st, 4)};
        if (cb(ud, &u))
            break;
    }
    sqlite3_finalize(st);
    return KH_OK;
}

/* ---- enrolment ---- */

static kh_err sq_token_create_locked(khi_store *s, int64_t unit_id, int64_t ttl, int uses, int64_t now,
                              char out_hex[65])
{
    uint8_t tok[32], h[32];
    randombytes_buf(tok, sizeof(tok));
    digest(tok, sizeof(tok), h);
    sqlite3_stmt *st = prep(s, "INSERT INTO tokens(hash, unit_id, created, expires, uses_left) VALUES(?, ?, ?, ?, ?)");
    if (!st)
        return KH_EIO;
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, unit_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, now + ttl);
    sqlite3_bind_int(st, 5, uses);
    kh_err e = run_done(st);
    if (e == KH_OK)
        khi_hex_encode(tok, sizeof(tok), out_hex);
    return e;
}

static kh_err sq_enrol_locked(khi_store *s, const char *token_hex, const uint8_t pubkey[32],
                       const char *hostname, int64_t now, int64_t *out_endpoint)
{
    uint8_t tok[32], h[32];
    if (strlen(token_hex) != 64 || khi_hex_decode(token_hex, 32, tok) != 0)
        return KH_EACCES;
    digest(tok, sizeof(tok), h);
    kh_err e = KH_OK;
    if (exec(s, "BEGIN IMMEDIATE") != KH_OK)
        return KH_EIO;
    sqlite3_stmt *st = prep(s, "SELECT id FROM endpoints WHERE pubkey = ?");
    if (st) {
        sqlite3_bind_blob(st, 1, pubkey, 32, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *out_endpoint = sqlite3_column_int64(st, 0);
            e = KH_EEXIST;
        }
        sqlite3_finalize(st);
    }
    int64_t unit = 0;
    if (e == KH_OK) {
        st = prep(s, "SELECT unit_id FROM tokens WHERE hash = ? AND expires > ? AND uses_left > 0");
        if (!st) {
            e = KH_EIO;
        } else {
            sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, now);
            if (sqlite3_step(st) == SQLITE_ROW)
                unit = sqlite3_column_int64(st, 0);
            else
                e = KH_EACCES;
            sqlite3_finalize(st);
        }
    }
    if (e == KH_OK) {
        st = prep(s, "UPDATE tokens SET uses_left = uses_left - 1 WHERE hash = ?");
        if (st)
            sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
        e = run_done(st);
    }
    if (e == KH_OK) {
        st = prep(s, "INSERT INTO endpoints(unit_id, pubkey, hostname, enrolled, last_seen) VALUES(?, ?, ?, ?, ?)");
        if (st) {
            sqlite3_bind_int64(st, 1, unit);
            sqlite3_bind_blob(st, 2, pubkey, 32, SQLITE_TRANSIENT);
            bind_text(st, 3, hostname);
            sqlite3_bind_int64(st, 4, now);
            sqlite3_bind_int64(st, 5, now);
        }
        e = run_done(st);
        if (e == KH_OK)
            *out_endpoint = sqlite3_last_insert_rowid(SQ(s)->db);
    }
    exec(s, e == KH_OK ? "COMMIT" : "ROLLBACK");
    return e;
}

static kh_err sq_endpoint_key_locked(khi_store *s, int64_t id, uint8_t out_pubkey[32], int *out_revoked)
{
    sqlite3_stmt *st = prep(s, "SELECT pubkey, revoked FROM endpoints WHERE id = ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, id);
    kh_err e = KH_ENOENT;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(out_pubkey, sqlite3_column_blob(st, 0), 32);
        *out_revoked = sqlite3_column_int(st, 1);
        e = KH_OK;
    }
    sqlite3_finalize(st);
    return e;
}

static kh_err sq_endpoint_revoke_locked(khi_store *s, int64_t id)
{
    sqlite3_stmt *st = prep(s, "UPDATE endpoints SET revoked = 1 WHERE id = ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, id);
    kh_err e = run_done(st);
    return e == KH_OK && sqlite3_changes(SQ(s)->db) == 0 ? KH_ENOENT : e;
}

static kh_err sq_heartbeat_locked(khi_store *s, int64_t id, const khi_inventory *inv, int64_t now)
{
    sqlite3_stmt *st = prep(s, "UPDATE endpoints SET hostname = coalesce(?, hostname), os = ?,"
                               " agent_version = ?, engine_version = ?, sig_version = ?, sig_time = ?,"
                               " realtime = ?, last_full_scan = ?, last_seen = ?, queue_length = ?, queue_dropped = ?"
                               " WHERE id = ? AND revoked = 0");
    if (!st)
        return KH_EIO;
    bind_text(st, 1, inv->hostname);
    bind_text(st, 2, inv->os);
    bind_text(st, 3, inv->agent_version);
    bind_text(st, 4, inv->engine_version);
    sqlite3_bind_int64(st, 5, inv->sig_version);
    sqlite3_bind_int64(st, 6, inv->sig_time);
    sqlite3_bind_int(st, 7, inv->realtime);
    sqlite3_bind_int64(st, 8, inv->last_full_scan);
    sqlite3_bind_int64(st, 9, now);
    sqlite3_bind_int64(st, 10, inv->queue_length);
    sqlite3_bind_int64(st, 11, inv->queue_dropped);
    sqlite3_bind_int64(st, 12, id);
    kh_err e = run_done(st);
    return e == KH_OK && sqlite3_changes(SQ(s)->db) == 0 ? KH_ENOENT : e;
}

static kh_err sq_event_locked(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new)
{
    sqlite3_stmt *st = prep(s, "INSERT OR IGNORE INTO events(endpoint_id, uid, time, path, sha256, signature, action,"
                               " quarantine_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, endpoint);
    bind_text(st, 2, ev->uid);
    sqlite3_bind_int64(st, 3, ev->time);
    bind_text(st, 4, ev->path);
    bind_text(st, 5, ev->sha256);
    bind_text(st, 6, ev->signature);
    bind_text(st, 7, ev->action);
    bind_text(st, 8, ev->quarantine_id);
    kh_err e = run_done(st);
    if (e == KH_OK)
        *out_new = sqlite3_changes(SQ(s)->db) > 0;
    return e;
}

static kh_err sq_scan_locked(khi_store *s, int64_t endpoint, const khi_scan_rec *r, int *out_new)
{
    sqlite3_stmt *st = prep(s, "INSERT OR IGNORE INTO scans(endpoint_id, uid, started, finished, files, bytes,"
                               " detections, planned) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, endpoint);
    bind_text(st, 2, r->uid);
    sqlite3_bind_int64(st, 3, r->started);
    sqlite3_bind_int64(st, 4, r->finished);
    sqlite3_bind_int64(st, 5, r->files);
    sqlite3_bind_int64(st, 6, r->bytes);
    sqlite3_bind_int64(st, 7, r->detections);
    sqlite3_bind_int64(st, 8, r->planned);
    kh_err e = run_done(st);
    if (e == KH_OK)
        *out_new = sqlite3_changes(SQ(s)->db) > 0;
    return e;
}

static kh_err sq_plan_done_locked(khi_store *s, khi_stats_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, "SELECT p.unit_id, max(c.planned) FROM scans c JOIN endpoints p ON p.id = c.endpoint_id"
                               " WHERE p.revoked = 0 AND c.planned > 0 GROUP BY c.endpoint_id");
    if (!st)
        return KH_EIO;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        khi_rollup x = {0};
        x.unit_id = sqlite3_column_int64(st, 0);
        x.plan_done = sqlite3_column_int64(st, 1);
        stop = cb(ud, &x);
    }
    sqlite3_finalize(st);
    return stop || rc == SQLITE_DONE ? KH_OK : KH_EIO;
}

static kh_err sq_endpoints_locked(khi_store *s, int64_t unit, int64_t offset, int limit, khi_endpoint_fn cb,
                                  void *ud)
{
    sqlite3_stmt *st = prep(s, "WITH RECURSIVE sub(id) AS (SELECT id FROM units WHERE (:unit = 0 AND parent_id IS NULL)"
                               " OR id = :unit UNION ALL SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id) "
                               "SELECT id, unit_id, enrolled, coalesce(last_seen, 0), revoked, hostname, os,"
                               " agent_version, engine_version, coalesce(sig_version, 0), coalesce(sig_time, 0),"
                               " coalesce(last_full_scan, 0), coalesce(realtime, 0), coalesce(queue_length, 0),"
                               " coalesce(queue_dropped, 0) FROM endpoints WHERE unit_id IN (SELECT id FROM sub)"
                               " ORDER BY id LIMIT :limit OFFSET :offset");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":unit"), unit);
    sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":limit"), limit);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"), offset);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        khi_endpoint e = {0};
        e.id = sqlite3_column_int64(st, 0);
        e.unit_id = sqlite3_column_int64(st, 1);
        e.enrolled = sqlite3_column_int64(st, 2);
        e.last_seen = sqlite3_column_int64(st, 3);
        e.revoked = sqlite3_column_int(st, 4);
        e.inv.hostname = (const char *)sqlite3_column_text(st, 5);
        e.inv.os = (const char *)sqlite3_column_text(st, 6);
        e.inv.agent_version = (const char *)sqlite3_column_text(st, 7);
        e.inv.engine_version = (const char *)sqlite3_column_text(st, 8);
        e.inv.sig_version = sqlite3_column_int64(st, 9);
        e.inv.sig_time = sqlite3_column_int64(st, 10);
        e.inv.last_full_scan = sqlite3_column_int64(st, 11);
        e.inv.realtime = sqlite3_column_int(st, 12);
        e.inv.queue_length = sqlite3_column_int64(st, 13);
        e.inv.queue_dropped = sqlite3_column_int64(st, 14);
        stop = cb(ud, &e);
    }
    sqlite3_finalize(st);
    return stop || rc == SQLITE_DONE ? KH_OK : KH_EIO;
}

static kh_err sq_events_locked(khi_store *s, int64_t endpoint, int limit, khi_event_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, "SELECT uid, time, path, sha256, signature, action, quarantine_id FROM events"
                               " WHERE endpoint_id = ? ORDER BY time DESC, id DESC LIMIT ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, endpoint);
    sqlite3_bind_int(st, 2, limit);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        khi_event_rec ev = {(const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 2),
                            (const char *)sqlite3_column_text(st, 3), (const char *)sqlite3_column_text(st, 4),
                            (const char *)sqlite3_column_text(st, 5), (const char *)sqlite3_column_text(st, 6),
                            sqlite3_column_int64(st, 1)};
        stop = cb(ud, &ev);
    }
    sqlite3_finalize(st);
    return stop || rc == SQLITE_DONE ? KH_OK : KH_EIO;
}

/* ---- commands ---- */

static kh_err sq_command_add_locked(khi_store *s, int64_t endpoint, const char *kind, const char *args,
                                    const char *by, int64_t now, int64_t expires, int64_t *out_id)
{
    sqlite3_stmt *st = prep(s, "INSERT INTO commands(endpoint_id, kind, args, created_by, created, expires)"
                               " SELECT id, ?, ?, ?, ?, ? FROM endpoints WHERE id = ? AND revoked = 0");
    if (!st)
        return KH_EIO;
    bind_text(st, 1, kind);
    bind_text(st, 2, args);
    bind_text(st, 3, by);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, expires);
    sqlite3_bind_int64(st, 6, endpoint);
    kh_err e = run_done(st);
    if (e == KH_OK && sqlite3_changes(SQ(s)->db) == 0)
        return KH_ENOENT;
    if (e == KH_OK)
        *out_id = sqlite3_last_insert_rowid(SQ(s)->db);
    return e;
}

#define COMMAND_COLS "id, endpoint_id, created, expires, coalesce(delivered, 0), coalesce(done, 0), kind, args," \
                     " created_by, status, detail"

/* Calls cb with each row of st (columns COMMAND_COLS) until it returns non-zero. */
static kh_err each_command(sqlite3_stmt *st, khi_command_fn cb, void *ud)
{
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        khi_command c = {0};
        c.id = sqlite3_column_int64(st, 0);
        c.endpoint = sqlite3_column_int64(st, 1);
        c.created = sqlite3_column_int64(st, 2);
        c.expires = sqlite3_column_int64(st, 3);
        c.delivered = sqlite3_column_int64(st, 4);
        c.done = sqlite3_column_int64(st, 5);
        c.kind = (const char *)sqlite3_column_text(st, 6);
        c.args = (const char *)sqlite3_column_text(st, 7);
        c.by = (const char *)sqlite3_column_text(st, 8);
        c.status = (const char *)sqlite3_column_text(st, 9);
        c.detail = (const char *)sqlite3_column_text(st, 10);
        stop = cb(ud, &c);
    }
    sqlite3_finalize(st);
    return stop || rc == SQLITE_DONE ? KH_OK : KH_EIO;
}

static kh_err sq_commands_due_locked(khi_store *s, int64_t endpoint, int64_t now, int limit, khi_command_fn cb,
                                     void *ud)
{
    sqlite3_stmt *st = prep(s, "SELECT " COMMAND_COLS " FROM commands WHERE endpoint_id = ? AND done IS NULL"
                               " AND expires > ? ORDER BY id LIMIT ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, endpoint);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, limit);
    kh_err e = each_command(st, cb, ud);
    if (e != KH_OK || !(st = prep(s, "UPDATE commands SET delivered = ? WHERE endpoint_id = ? AND done IS NULL"
                                     " AND delivered IS NULL AND expires > ?")))
        return e != KH_OK ? e : KH_EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, endpoint);
    sqlite3_bind_int64(st, 3, now);
    return run_done(st);
}

static kh_err sq_command_done_locked(khi_store *s, int64_t endpoint, int64_t id, int ok, const char *detail,
                                     int64_t now, int *out_new)
{
    sqlite3_stmt *st = prep(s, "UPDATE commands SET done = ?, status = ?, detail = ?"
                               " WHERE id = ? AND endpoint_id = ? AND done IS NULL");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, ok ? "ok" : "failed");
    bind_text(st, 3, detail);
    sqlite3_bind_int64(st, 4, id);
    sqlite3_bind_int64(st, 5, endpoint);
    kh_err e = run_done(st);
    if (e != KH_OK)
        return e;
    *out_new = sqlite3_changes(SQ(s)->db) > 0;
    if (*out_new)
        return KH_OK;
    if (!(st = prep(s, "SELECT 1 FROM commands WHERE id = ? AND endpoint_id = ?")))
        return KH_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, endpoint);
    e = sqlite3_step(st) == SQLITE_ROW ? KH_OK : KH_ENOENT;
    sqlite3_finalize(st);
    return e;
}

static kh_err sq_commands_locked(khi_store *s, int64_t endpoint, int limit, khi_command_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, "SELECT " COMMAND_COLS " FROM commands WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, endpoint);
    sqlite3_bind_int(st, 2, limit);
    return each_command(st, cb, ud);
}

/* ---- roll-ups ---- */

#define SUBTREE                                                                                  \
    "WITH RECURSIVE sub(id) AS (SELECT id FROM units WHERE (:unit = 0 AND parent_id IS NULL)"      \
    " OR id = :unit UNION ALL SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id) "

/* Detections per endpoint over a period: whole days from event_days, the two edges from events
 * (khi_day_span); bound by bind_period. */
#define EVENT_COUNTS                                                                              \
    "x(endpoint_id, n) AS (SELECT endpoint_id, n FROM event_days WHERE day >= :d0 AND day < :d1"   \
    " UNION ALL SELECT endpoint_id, 1 FROM events WHERE time >= :from AND time < :e1"              \
    " UNION ALL SELECT endpoint_id, 1 FROM events WHERE time >= :e2 AND time < :to)"

static void bind_named(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i > 0)
        sqlite3_bind_int64(st, i, v);
}

/* :unit (when the statement has it), :limit, and the period's :d0 :d1 :from :e1 :e2 :to */
static void bind_period(sqlite3_stmt *st, int64_t unit, int64_t from, int64_t to, int limit)
{
    int64_t d0, d1, e1, e2;
    khi_day_span(from, to, &d0, &d1, &e1, &e2);
    bind_named(st, ":unit", unit);
    bind_named(st, ":limit", limit);
    bind_named(st, ":d0", d0);
    bind_named(st, ":d1", d1);
    bind_named(st, ":from", from);
    bind_named(st, ":e1", e1);
    bind_named(st, ":e2", e2);
    bind_named(st, ":to", to);
}

static kh_err sq_unit_stats_locked(khi_store *s, int64_t from, int64_t to, int64_t now, int64_t window,
                                   int64_t silent_after, khi_stats_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, "SELECT unit_id, count(*), coalesce(sum(last_seen >= ?1), 0),"
                               " coalesce(sum(sig_time >= ?2), 0), coalesce(sum(sig_time >= ?3), 0),"
                               " coalesce(sum(last_seen < ?4), 0)"
                               " FROM endpoints WHERE revoked = 0 GROUP BY unit_id");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, now - window);
    sqlite3_bind_int64(st, 2, now - 86400);
    sqlite3_bind_int64(st, 3, now - 7 * 86400);
    sqlite3_bind_int64(st, 4, now - silent_after);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        khi_rollup x = {0};
        x.unit_id = sqlite3_column_int64(st, 0);
        x.endpoints = sqlite3_column_int64(st, 1);
        x.reporting = sqlite3_column_int64(st, 2);
        x.fresh_24h = sqlite3_column_int64(st, 3);
        x.fresh_7d = sqlite3_column_int64(st, 4);
        x.silent = sqlite3_column_int64(st, 5);
        stop = cb(ud, &x);
    }
    sqlite3_finalize(st);
    if (!stop && rc != SQLITE_DONE)
        return KH_EIO;
    /* infected endpoints and detections */
    st = prep(s, "WITH " EVENT_COUNTS ", y(endpoint_id, n) AS (SELECT endpoint_id, sum(n) FROM x GROUP BY endpoint_id)"
                 " SELECT p.unit_id, count(*), sum(y.n) FROM y JOIN endpoints p ON p.id = y.endpoint_id"
                 " WHERE p.revoked = 0 GROUP BY p.unit_id");
    if (!st)
        return KH_EIO;
    bind_period(st, 0, from, to, 0);
    stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        khi_rollup x = {0};
        x.unit_id = sqlite3_column_int64(st, 0);
        x.infected = sqlite3_column_int64(st, 1);
        x.detections = sqlite3_column_int64(st, 2);
        stop = cb(ud, &x);
    }
    sqlite3_finalize(st);
    return stop || rc == SQLITE_DONE ? KH_OK : KH_EIO;
}

static kh_err sq_top_signatures_locked(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                khi_top_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, SUBTREE ", x(signature, n) AS ("
                                       " SELECT signature, n FROM sig_days WHERE unit_id IN sub AND day >= :d0 AND day < :d1"
                                       " UNION ALL SELECT coalesce(e.signature, ''), 1 FROM events e"
                                       " JOIN endpoints p ON p.id = e.endpoint_id"
                                       " WHERE p.unit_id IN sub AND e.time >= :from AND e.time < :e1"
                                       " UNION ALL SELECT coalesce(e.signature, ''), 1 FROM events e"
                                       " JOIN endpoints p ON p.id = e.endpoint_id"
                                       " WHERE p.unit_id IN sub AND e.time >= :e2 AND e.time < :to)"
                                       " SELECT signature, sum(n) AS t FROM x GROUP BY signature"
                                       " ORDER BY t DESC, signature LIMIT :limit");
    if (!st)
        return KH_EIO;
    bind_period(st, unit, from, to, limit);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1)))
            break;
    sqlite3_finalize(st);
    return KH_OK;
}

static kh_err sq_top_endpoints_locked(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                      khi_top_endpoint_fn cb, void *ud)
{
    sqlite3_stmt *st = prep(s, SUBTREE ", " EVENT_COUNTS
                               " SELECT p.id, p.hostname, p.unit_id, sum(x.n) AS t FROM x"
                               " JOIN endpoints p ON p.id = x.endpoint_id WHERE p.revoked = 0 AND p.unit_id IN sub"
                               " GROUP BY p.id ORDER BY t DESC, p.id LIMIT :limit");
    if (!st)
        return KH_EIO;
    bind_period(st, unit, from, to, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ud, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3))) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KH_OK : KH_EIO;
}

/* ---- policies ---- */

static kh_err sq_policy_set_locked(khi_store *s, int64_t unit, const char *json, int64_t now)
{
    sqlite3_stmt *st = prep(s, "INSERT INTO policies(unit_id, body, updated) VALUES(?1, ?2, ?3)"
                               " ON CONFLICT(unit_id) DO UPDATE SET body = ?2, updated = ?3");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, unit);
    bind_text(st, 2, json);
    sqlite3_bind_int64(st, 3, now);
    return run_done(st);
}

static kh_err sq_policy_get_locked(khi_store *s, int64_t unit, char **out)
{
    sqlite3_stmt *st = prep(s, "SELECT body FROM policies WHERE unit_id = ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, unit);
    kh_err e = KH_ENOENT;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = khi_strdup((const char *)sqlite3_column_text(st, 0));
        e = *out ? KH_OK : KH_ENOMEM;
    }
    sqlite3_finalize(st);
    return e;
}

static kh_err sq_endpoint_unit_locked(khi_store *s, int64_t endpoint, int64_t *out_unit)
{
    sqlite3_stmt *st = prep(s, "SELECT unit_id FROM endpoints WHERE id = ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_int64(st, 1, endpoint);
    kh_err e = KH_ENOENT;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out_unit = sqlite3_column_int64(st, 0);
        e = KH_OK;
    }
    sqlite3_finalize(st);
    return e;
}

/* ---- users and sessions ---- */

static kh_err sq_user_set_locked(khi_store *s, const char *name, const char *password, const char *role,
                          int64_t unit_id)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return KH_ENOMEM;
    sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO users(name, pwhash, role, unit_id) VALUES(?, ?, ?, ?)");
    if (!st)
        return KH_EIO;
    bind_text(st, 1, name);
    bind_text(st, 2, hash);
    bind_text(st, 3, role);
    if (unit_id)
        sqlite3_bind_int64(st, 4, unit_id);
    else
        sqlite3_bind_null(st, 4);
    return run_done(st);
}

static kh_err sq_login_locked(khi_store *s, const char *name, const char *password, int64_t ttl,
                       int64_t now, char out_session[65])
{
    sqlite3_stmt *st = prep(s, "SELECT pwhash FROM users WHERE name = ?");
    if (!st)
        return KH_EIO;
    bind_text(st, 1, name);
    int ok = sqlite3_step(st) == SQLITE_ROW &&
             crypto_pwhash_str_verify((const char *)sqlite3_column_text(st, 0), password, strlen(password)) == 0;
    sqlite3_finalize(st);
    if (!ok)
        return KH_EACCES;
    uint8_t tok[32], h[32];
    randombytes_buf(tok, sizeof(tok));
    digest(tok, sizeof(tok), h);
    st = prep(s, "INSERT INTO sessions(hash, user, expires) VALUES(?, ?, ?)");
    if (!st)
        return KH_EIO;
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
    bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, now + ttl);
    kh_err e = run_done(st);
    if (e == KH_OK)
        khi_hex_encode(tok, sizeof(tok), out_session);
    return e;
}

static kh_err sq_session_locked(khi_store *s, const char *session_hex, int64_t now, char *out_user,
                         size_t user_len, char *out_role, size_t role_len, int64_t *out_unit)
{
    uint8_t tok[32], h[32];
    if (!session_hex || strlen(session_hex) != 64 || khi_hex_decode(session_hex, 32, tok) != 0)
        return KH_EACCES;
    digest(tok, sizeof(tok), h);
    sqlite3_stmt *st = prep(s, "SELECT u.name, u.role, coalesce(u.unit_id, 0) FROM sessions s"
                               " JOIN users u ON u.name = s.user WHERE s.hash = ? AND s.expires > ?");
    if (!st)
        return KH_EIO;
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    kh_err e = KH_EACCES;
    if (sqlite3_step(st) == SQLITE_ROW) {
        khi_snprintf(out_user, user_len, "%s", (const char *)sqlite3_column_text(st, 0));
        khi_snprintf(out_role, role_len, "%s", (const char *)sqlite3_column_text(st, 1));
        *out_unit = sqlite3_column_int64(st, 2);
        e = KH_OK;
    }
    sqlite3_finalize(st);
    return e;
}

/* ---- the connections: reads, writes, and the writer thread's batches ---- */

static sqlite3 *read_begin(khi_store *s)
{
    pthread_mutex_lock(&SQ(s)->rmu);
    sqlite3 *prev = tl_db;
    tl_db = SQ(s)->rdb ? SQ(s)->rdb : SQ(s)->db;
    return prev;
}

static void read_end(khi_store *s, sqlite3 *prev)
{
    tl_db = prev;
    pthread_mutex_unlock(&SQ(s)->rmu);
}

static sqlite3 *write_begin(khi_store *s)
{
    pthread_mutex_lock(&SQ(s)->mu);
    sqlite3 *prev = tl_db;
    tl_db = SQ(s)->db;
    return prev;
}

static void write_end(khi_store *s, sqlite3 *prev)
{
    tl_db = prev;
    pthread_mutex_unlock(&SQ(s)->mu);
}

static kh_err run_job(khi_store *s, sq_job *j)
{
    switch (j->kind) {
    case JOB_HEARTBEAT:
        return sq_heartbeat_locked(s, j->id, j->rec, j->now);
    case JOB_EVENT:
        return sq_event_locked(s, j->id, j->rec, j->out_new);
    default:
        return sq_scan_locked(s, j->id, j->rec, j->out_new);
    }
}

/* One transaction for a batch of jobs, each under its own savepoint. */
static void run_batch(khi_store *s, sq_job *first)
{
    sqlite3 *prev = write_begin(s);
    int open = exec(s, "BEGIN IMMEDIATE") == KH_OK;
    for (sq_job *j = first; j; j = j->next) {
        if (!open || exec(s, "SAVEPOINT job") != KH_OK) {
            j->result = KH_EIO;
            continue;
        }
        j->result = run_job(s, j);
        if (j->result != KH_OK && j->result != KH_ENOENT)
            exec(s, "ROLLBACK TO job");
        exec(s, "RELEASE job");
    }
    if (open && exec(s, "COMMIT") != KH_OK) {
        exec(s, "ROLLBACK");
        for (sq_job *j = first; j; j = j->next)
            j->result = KH_EIO;
    }
    write_end(s, prev);
}

static void *writer_main(void *arg)
{
    sq_store *q = arg;
    pthread_mutex_lock(&q->jmu);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->jready, &q->jmu);
        if (!q->head)
            break; /* stopping, and nothing left to write */
        sq_job *first = q->head, *last = first;
        for (size_t n = 1; last->next && n < BATCH_MAX; n++)
            last = last->next;
        q->head = last->next;
        if (!q->head)
            q->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&q->jmu);
        run_batch(&q->base, first);
        pthread_mutex_lock(&q->jmu);
        for (sq_job *j = first, *next; j; j = next) {
            next = j->next; /* j lives on its caller's stack: read next before done */
            j->done = 1;
        }
        pthread_cond_broadcast(&q->jdone);
    }
    pthread_mutex_unlock(&q->jmu);
    return NULL;
}

/* Hand a job to the writer thread and wait until its batch is committed. */
static kh_err submit(khi_store *s, sq_job *j)
{
    sq_store *q = SQ(s);
    if (!q->writer_on) { /* no thread (it could not start): the job alone */
        sqlite3 *prev = write_begin(s);
        kh_err e = run_job(s, j);
        write_end(s, prev);
        return e;
    }
    pthread_mutex_lock(&q->jmu);
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->jready);
    while (!j->done)
        pthread_cond_wait(&q->jdone, &q->jmu);
    pthread_mutex_unlock(&q->jmu);
    return j->result;
}


static kh_err sq_unit_add(khi_store *s, int64_t parent, const char *name, const char *kind,
                          const char *code, int64_t *out_id)
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_unit_add_locked(s, parent, name, kind, code, out_id);
    write_end(s, prev);
    return r;
}

static kh_err sq_unit_find(khi_store *s, const char *name, int64_t *out_id)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_unit_find_locked(s, name, out_id);
    read_end(s, prev);
    return r;
}

static int sq_unit_within(khi_store *s, int64_t unit, int64_t ancestor)
{
    sqlite3 *prev = read_begin(s);
    int r = sq_unit_within_locked(s, unit, ancestor);
    read_end(s, prev);
    return r;
}

static kh_err sq_unit_name(khi_store *s, int64_t id, char *out, size_t out_len)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_unit_name_locked(s, id, out, out_len);
    read_end(s, prev);
    return r;
}

static kh_err sq_units(khi_store *s, khi_unit_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_units_locked(s, cb, ud);
    read_end(s, prev);
    return r;
}

static kh_err sq_token_create(khi_store *s, int64_t unit_id, int64_t ttl, int uses, int64_t now,
                              char out_hex[65])
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_token_create_locked(s, unit_id, ttl, uses, now, out_hex);
    write_end(s, prev);
    return r;
}

static kh_err sq_enrol(khi_store *s, const char *token_hex, const uint8_t pubkey[32],
                       const char *hostname, int64_t now, int64_t *out_endpoint)
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_enrol_locked(s, token_hex, pubkey, hostname, now, out_endpoint);
    write_end(s, prev);
    return r;
}

static kh_err sq_endpoint_key(khi_store *s, int64_t id, uint8_t out_pubkey[32], int *out_revoked)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_endpoint_key_locked(s, id, out_pubkey, out_revoked);
    read_end(s, prev);
    return r;
}

static kh_err sq_endpoint_revoke(khi_store *s, int64_t id)
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_endpoint_revoke_locked(s, id);
    write_end(s, prev);
    return r;
}

static kh_err sq_heartbeat(khi_store *s, int64_t id, const khi_inventory *inv, int64_t now)
{
    sq_job j = {JOB_HEARTBEAT, id, now, inv, NULL, KH_OK, 0, NULL};
    return submit(s, &j);
}

static kh_err sq_event(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new)
{
    sq_job j = {JOB_EVENT, endpoint, 0, ev, out_new, KH_OK, 0, NULL};
    return submit(s, &j);
}

static kh_err sq_unit_stats(khi_store *s, int64_t from, int64_t to, int64_t now, int64_t window,
                            int64_t silent_after, khi_stats_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_unit_stats_locked(s, from, to, now, window, silent_after, cb, ud);
    read_end(s, prev);
    return r;
}

static kh_err sq_top_signatures(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                khi_top_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_top_signatures_locked(s, unit, from, to, limit, cb, ud);
    read_end(s, prev);
    return r;
}

static kh_err sq_top_endpoints(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                               khi_top_endpoint_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_top_endpoints_locked(s, unit, from, to, limit, cb, ud);
    read_end(s, prev);
    return r;
}

static kh_err sq_policy_set(khi_store *s, int64_t unit, const char *json, int64_t now)
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_policy_set_locked(s, unit, json, now);
    write_end(s, prev);
    return r;
}

static kh_err sq_policy_get(khi_store *s, int64_t unit, char **out)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_policy_get_locked(s, unit, out);
    read_end(s, prev);
    return r;
}

static kh_err sq_endpoint_unit(khi_store *s, int64_t endpoint, int64_t *out_unit)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_endpoint_unit_locked(s, endpoint, out_unit);
    read_end(s, prev);
    return r;
}

static kh_err sq_scan(khi_store *s, int64_t endpoint, const khi_scan_rec *r, int *out_new)
{
    sq_job j = {JOB_SCAN, endpoint, 0, r, out_new, KH_OK, 0, NULL};
    return submit(s, &j);
}

static kh_err sq_plan_done(khi_store *s, khi_stats_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err e = sq_plan_done_locked(s, cb, ud);
    read_end(s, prev);
    return e;
}

static kh_err sq_endpoints(khi_store *s, int64_t unit, int64_t offset, int limit, khi_endpoint_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err e = sq_endpoints_locked(s, unit, offset, limit, cb, ud);
    read_end(s, prev);
    return e;
}

static kh_err sq_events(khi_store *s, int64_t endpoint, int limit, khi_event_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err e = sq_events_locked(s, endpoint, limit, cb, ud);
    read_end(s, prev);
    return e;
}

static kh_err sq_command_add(khi_store *s, int64_t endpoint, const char *kind, const char *args, const char *by,
                             int64_t now, int64_t expires, int64_t *out_id)
{
    sqlite3 *prev = write_begin(s);
    kh_err e = sq_command_add_locked(s, endpoint, kind, args, by, now, expires, out_id);
    write_end(s, prev);
    return e;
}

static kh_err sq_commands_due(khi_store *s, int64_t endpoint, int64_t now, int limit, khi_command_fn cb, void *ud)
{
    sqlite3 *prev = write_begin(s);
    kh_err e = sq_commands_due_locked(s, endpoint, now, limit, cb, ud);
    write_end(s, prev);
    return e;
}

static kh_err sq_command_done(khi_store *s, int64_t endpoint, int64_t id, int ok, const char *detail, int64_t now,
                              int *out_new)
{
    sqlite3 *prev = write_begin(s);
    kh_err e = sq_command_done_locked(s, endpoint, id, ok, detail, now, out_new);
    write_end(s, prev);
    return e;
}

static kh_err sq_commands(khi_store *s, int64_t endpoint, int limit, khi_command_fn cb, void *ud)
{
    sqlite3 *prev = read_begin(s);
    kh_err e = sq_commands_locked(s, endpoint, limit, cb, ud);
    read_end(s, prev);
    return e;
}

static kh_err sq_user_set(khi_store *s, const char *name, const char *password, const char *role,
                          int64_t unit_id)
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_user_set_locked(s, name, password, role, unit_id);
    write_end(s, prev);
    return r;
}

static kh_err sq_login(khi_store *s, const char *name, const char *password, int64_t ttl,
                       int64_t now, char out_session[65])
{
    sqlite3 *prev = write_begin(s);
    kh_err r = sq_login_locked(s, name, password, ttl, now, out_session);
    write_end(s, prev);
    return r;
}

static kh_err sq_session(khi_store *s, const char *session_hex, int64_t now, char *out_user,
                         size_t user_len, char *out_role, size_t role_len, int64_t *out_unit)
{
    sqlite3 *prev = read_begin(s);
    kh_err r = sq_session_locked(s, session_hex, now, out_user, user_len, out_role, role_len, out_unit);
    read_end(s, prev);
    return r;
}

static kh_err sq_session_end(khi_store *s, const char *session_hex)
{
    uint8_t tok[32], h[32];
    if (!session_hex || strlen(session_hex) != 64 || khi_hex_decode(session_hex, 32, tok) != 0)
        return KH_OK;
    digest(tok, sizeof(tok), h);
    sqlite3 *prev = write_begin(s);
    sqlite3_stmt *st = prep(s, "DELETE FROM sessions WHERE hash = ?");
    if (st)
        sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
    kh_err e = st ? run_done(st) : KH_EIO;
    write_end(s, prev);
    return e;
}

static const khi_store_ops sq_ops = {
    sq_close,     sq_unit_add,  sq_unit_find,    sq_unit_within, sq_unit_name,
    sq_units,     sq_token_create, sq_enrol,     sq_endpoint_key, sq_endpoint_revoke,
    sq_heartbeat, sq_event,     sq_unit_stats,       sq_top_signatures, sq_top_endpoints, sq_policy_set, sq_policy_get, sq_endpoint_unit, sq_scan, sq_plan_done,
    sq_endpoints, sq_events, sq_command_add, sq_commands_due, sq_command_done, sq_commands, sq_user_set,
    sq_login,     sq_session, sq_session_end,
};
