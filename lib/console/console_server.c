/*
 * console_server.c - the console's HTTP API on libmicrohttpd.
 *
 *   request -> body (bounded) -> route -> auth (agent signature | session) -> validate JSON
 *           -> lib/store -> JSON reply
 *
 * Every failure is a 4xx with {"error": "..."} saying what was wrong, and changes nothing:
 * handlers validate the whole body before the first write. Agent requests are signed with the
 * endpoint's own Ed25519 key over method, path, time and the body's SHA-256, within five
 * minutes of the server's clock; events carry the agent's own ids, so a resend is stored once.
 */
#include <khien/console.h>
#include "console/console_int.h"
#include "core/core.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#define CLOCK_SKEW 300
#define SESSION_TTL (8 * 3600)
#define MAX_EVENTS 1000
#define MAX_COMMANDS 20            /* delivered per heartbeat, reported per request */
#define COMMAND_TTL (7 * 86400)   /* a command not done in a week is dropped */

#define POLICY_CACHE 512 /* units whose effective policy is kept */
#define POLICY_TTL 10     /* seconds: another server process's policy change shows within this */

struct kh_console {
    struct MHD_Daemon *d;
    khi_store *store;
    kh_console_opts o;
    uint16_t port;
    pthread_mutex_t pmu; /* guards pcache */
    struct {
        int64_t unit;
        json_t *policy; /* NULL: slot free */
        int64_t until;
    } pcache[POLICY_CACHE];
};

typedef struct req {
    khi_buf body;
    int too_big;
} req;

typedef struct reply {
    unsigned code;
    json_t *j;
    char cookie[160];
} reply;

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void err_reply(reply *r, unsigned code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void err_reply(reply *r, unsigned code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(r->j);
    r->code = code;
    r->j = json_pack("{s:s}", "error", msg);
}

/* ---- agents ---- */

static int agent_auth(kh_console *c, struct MHD_Connection *conn, const char *method,
                      const char *url, const khi_buf *body, int64_t *out_id, reply *r)
{
    const char *eid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Khien-Endpoint");
    const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Khien-Time");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Khien-Signature");
    uint64_t id = 0, t = 0;
    uint8_t pk[32], sg[64], h[32];
    int revoked = 0;
    if (!eid || !ts || !sig || khi_parse_u64(eid, strlen(eid), &id) || khi_parse_u64(ts, strlen(ts), &t) ||
        strlen(sig) != 128 || khi_hex_decode(sig, 64, sg)) {
        err_reply(r, MHD_HTTP_UNAUTHORIZED, "agent request without a valid signature header");
        return 0;
    }
    if ((int64_t)t < now_s() - CLOCK_SKEW || (int64_t)t > now_s() + CLOCK_SKEW) {
        err_reply(r, MHD_HTTP_UNAUTHORIZED, "request time is more than %d s from the server's clock", CLOCK_SKEW);
        return 0;
    }
    if (khi_store_endpoint_key(c->store, (int64_t)id, pk, &revoked) != KH_OK) {
        err_reply(r, MHD_HTTP_UNAUTHORIZED, "unknown endpoint %llu", (unsigned long long)id);
        return 0;
    }
    crypto_hash_sha256(h, (const uint8_t *)(body->data ? body->data : ""), body->len);
    char hex[65], msg[600];
    khi_hex_encode(h, 32, hex);
    int n = snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s", method, url, ts, hex);
    if (n <= 0 || (size_t)n >= sizeof(msg) ||
        crypto_sign_verify_detached(sg, (const uint8_t *)msg, (unsigned long long)n, pk) != 0) {
        err_reply(r, MHD_HTTP_UNAUTHORIZED, "signature does not verify for endpoint %llu", (unsigned long long)id);
        return 0;
    }
    if (revoked) {
        err_reply(r, MHD_HTTP_FORBIDDEN, "endpoint %llu is revoked", (unsigned long long)id);
        return 0;
    }
    *out_id = (int64_t)id;
    return 1;
}

static json_t *parse_body(const khi_buf *b, reply *r)
{
    json_error_t je;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "body is not a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* An optional string field: NULL when absent, error when present with another type or too long. */
static int opt_str(json_t *o, const char *key, size_t max, const char **out, reply *r)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_string(v) || json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "field '%s' must be a string of at most %zu bytes", key, max);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

static int opt_int(json_t *o, const char *key, int64_t *out, reply *r)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "field '%s' must be a non-negative integer", key);
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static void h_enrol(kh_console *c, const khi_buf *body, reply *r)
{
    json_t *j = parse_body(body, r);
    const char *token, *pk, *host;
    uint8_t key[32];
    if (!j)
        return;
    if (!opt_str(j, "token", 64, &token, r) || !opt_str(j, "pubkey", 64, &pk, r) ||
        !opt_str(j, "hostname", 255, &host, r))
        goto out;
    if (!token || !pk || strlen(pk) != 64 || khi_hex_decode(pk, 32, key)) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "enrolment needs 'token' and a 64-hex-digit 'pubkey'");
        goto out;
    }
    int64_t id = 0;
    kh_err e = khi_store_enrol(c->store, token, key, host, now_s(), &id);
    if (e == KH_EACCES)
        err_reply(r, MHD_HTTP_FORBIDDEN, "enrolment token is unknown, used up or expired");
    else if (e == KH_EEXIST)
        err_reply(r, MHD_HTTP_CONFLICT, "this key is enrolled already as endpoint %lld", (long long)id);
    else if (e != KH_OK)
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
    else {
        r->code = MHD_HTTP_OK;
        r->j = json_pack("{s:I}", "endpoint", (json_int_t)id);
    }
out:
    json_decref(j);
}

typedef struct overlay {
    json_t *p;
    int64_t nearest; /* the lowest unit that set anything, -1 none */
} overlay;

static int overlay_one(void *ud, int64_t unit, const char *json)
{
    overlay *o = ud;
    khi_policy_overlay(o->p, json);
    o->nearest = unit;
    return 0;
}

/* The policy unit's endpoints follow (new reference; NULL on a storage error); *out_from is the
 * lowest unit on the way that set a policy (-1: only the default applies). */
static json_t *unit_policy(kh_console *c, int64_t unit, int64_t *out_from)
{
    overlay o = {khi_policy_default(), -1};
    if (!o.p || khi_store_policy_chain(c->store, unit, overlay_one, &o) != KH_OK) {
        json_decref(o.p);
        return NULL;
    }
    if (out_from)
        *out_from = o.nearest;
    return o.p;
}

/* Heartbeats ask for the same few policies all the time: each unit's effective policy is kept
 * for POLICY_TTL seconds (a change made through this server drops the whole cache at once). */
static json_t *endpoint_policy(kh_console *c, int64_t endpoint)
{
    int64_t unit, now = now_s();
    if (khi_store_endpoint_unit(c->store, endpoint, &unit) != KH_OK)
        return NULL;
    size_t slot = (size_t)unit % POLICY_CACHE;
    json_t *p = NULL;
    pthread_mutex_lock(&c->pmu);
    if (c->pcache[slot].policy && c->pcache[slot].unit == unit && c->pcache[slot].until > now)
        p = json_deep_copy(c->pcache[slot].policy); /* jansson's reference counts are not atomic */
    pthread_mutex_unlock(&c->pmu);
    if (p || !(p = unit_policy(c, unit, NULL)))
        return p;
    json_t *keep = json_deep_copy(p);
    pthread_mutex_lock(&c->pmu);
    json_decref(c->pcache[slot].policy);
    c->pcache[slot].unit = unit;
    c->pcache[slot].policy = keep;
    c->pcache[slot].until = now + POLICY_TTL;
    pthread_mutex_unlock(&c->pmu);
    return p;
}

static void policy_cache_drop(kh_console *c)
{
    pthread_mutex_lock(&c->pmu);
    for (size_t i = 0; i < POLICY_CACHE; i++) {
        json_decref(c->pcache[i].policy);
        c->pcache[i].policy = NULL;
    }
    pthread_mutex_unlock(&c->pmu);
}

/* A command as an agent receives it: {"id", "kind", "args"} (the stored args are checked JSON) */
static int add_due(void *ud, const khi_command *cmd)
{
    json_t *args = json_loads(cmd->args, 0, NULL);
    json_array_append_new(ud, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)cmd->id, "kind", cmd->kind, "args",
                                        json_is_object(args) ? args : json_object()));
    if (!json_is_object(args))
        json_decref(args);
    return 0;
}

static void h_heartbeat(kh_console *c, int64_t id, const khi_buf *body, reply *r)
{
    json_t *j = parse_body(body, r);
    khi_inventory inv;
    int64_t rt = 0;
    memset(&inv, 0, sizeof(inv));
    if (!j)
        return;
    if (opt_str(j, "hostname", 255, &inv.hostname, r) && opt_str(j, "os", 255, &inv.os, r) &&
        opt_str(j, "agent_version", 64, &inv.agent_version, r) &&
        opt_str(j, "engine_version", 64, &inv.engine_version, r) &&
        opt_int(j, "sig_version", &inv.sig_version, r) && opt_int(j, "sig_time", &inv.sig_time, r) &&
        opt_int(j, "last_full_scan", &inv.last_full_scan, r) && opt_int(j, "realtime", &rt, r) &&
        opt_int(j, "queue_length", &inv.queue_length, r) && opt_int(j, "queue_dropped", &inv.queue_dropped, r)) {
        inv.realtime = rt != 0;
        json_t *pol = NULL, *cmds = json_array();
        if (!cmds || khi_store_heartbeat(c->store, id, &inv, now_s()) != KH_OK || !(pol = endpoint_policy(c, id)) ||
            khi_store_commands_due(c->store, id, now_s(), MAX_COMMANDS, add_due, cmds) != KH_OK) {
            json_decref(pol);
            json_decref(cmds);
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        } else {
            r->code = MHD_HTTP_OK;
            r->j = json_pack("{s:b, s:I, s:o, s:o}", "ok", 1, "server_time", (json_int_t)now_s(), "policy", pol,
                             "commands", cmds);
        }
    }
    json_decref(j);
}

static void h_events(kh_console *c, int64_t id, const khi_buf *body, reply *r)
{
    json_t *j = parse_body(body, r), *arr;
    if (!j)
        return;
    arr = json_object_get(j, "events");
    if (!json_is_array(arr) || json_array_size(arr) > MAX_EVENTS) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "'events' must be an array of at most %d events", MAX_EVENTS);
        json_decref(j);
        return;
    }
    size_t n = json_array_size(arr);
    khi_event_rec *ev = khi_calloc(n ? n : 1, sizeof(*ev));
    if (!ev) {
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        json_decref(j);
        return;
    }
    /* validate everything first: a bad event refuses the whole batch and stores nothing */
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e) || !opt_str(e, "uid", 128, &ev[i].uid, r) ||
            !opt_str(e, "path", 4096, &ev[i].path, r) || !opt_str(e, "sha256", 64, &ev[i].sha256, r) ||
            !opt_str(e, "signature", 512, &ev[i].signature, r) || !opt_str(e, "action", 32, &ev[i].action, r) ||
            !opt_str(e, "quarantine_id", 64, &ev[i].quarantine_id, r) ||
            !opt_int(e, "time", &ev[i].time, r)) {
            if (r->code < 400)
                err_reply(r, MHD_HTTP_BAD_REQUEST, "event %zu is not an object", i);
            goto out;
        }
        if (!ev[i].uid || !ev[i].signature || !ev[i].time) {
            err_reply(r, MHD_HTTP_BAD_REQUEST, "event %zu needs 'uid', 'signature' and 'time'", i);
            goto out;
        }
    }
    size_t stored = 0, dups = 0;
    for (size_t i = 0; i < n; i++) {
        int fresh = 0;
        if (khi_store_event(c->store, id, &ev[i], &fresh) != KH_OK) {
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error at event %zu", i);
            goto out;
        }
        fresh ? stored++ : dups++;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:I}", "stored", (json_int_t)stored, "duplicates", (json_int_t)dups);
out:
    khi_free(ev);
    json_decref(j);
}

/* POST /api/v1/scans {"scans": [{"uid", "started", "finished", "files", "bytes", "detections",
 * "planned"}]}: scan results, validated as a batch, stored once per uid */
static void h_scans(kh_console *c, int64_t id, const khi_buf *body, reply *r)
{
    json_t *j = parse_body(body, r), *arr;
    if (!j)
        return;
    arr = json_object_get(j, "scans");
    size_t n = json_array_size(arr), stored = 0, dups = 0;
    khi_scan_rec *sc = NULL;
    if (!json_is_array(arr) || n > MAX_EVENTS) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "'scans' must be an array of at most %d scan results", MAX_EVENTS);
        goto out;
    }
    if (!(sc = khi_calloc(n ? n : 1, sizeof(*sc)))) {
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e) || !opt_str(e, "uid", 128, &sc[i].uid, r) || !opt_int(e, "started", &sc[i].started, r) ||
            !opt_int(e, "finished", &sc[i].finished, r) || !opt_int(e, "files", &sc[i].files, r) ||
            !opt_int(e, "bytes", &sc[i].bytes, r) || !opt_int(e, "detections", &sc[i].detections, r) ||
            !opt_int(e, "planned", &sc[i].planned, r)) {
            if (r->code < 400)
                err_reply(r, MHD_HTTP_BAD_REQUEST, "scan result %zu is not an object", i);
            goto out;
        }
        if (!sc[i].uid || !sc[i].started || sc[i].finished < sc[i].started) {
            err_reply(r, MHD_HTTP_BAD_REQUEST, "scan result %zu needs 'uid', 'started' and 'finished' (not before it)", i);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int fresh = 0;
        if (khi_store_scan(c->store, id, &sc[i], &fresh) != KH_OK) {
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error at scan result %zu", i);
            goto out;
        }
        fresh ? stored++ : dups++;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:I}", "stored", (json_int_t)stored, "duplicates", (json_int_t)dups);
out:
    khi_free(sc);
    json_decref(j);
}

/* POST /api/v1/commands {"results": [{"id", "ok", "detail"}]}: what the agent did */
static void h_command_results(kh_console *c, int64_t id, const khi_buf *body, reply *r)
{
    json_t *j = parse_body(body, r), *arr;
    if (!j)
        return;
    arr = json_object_get(j, "results");
    size_t n = json_array_size(arr), stored = 0, dups = 0;
    if (!json_is_array(arr) || n > MAX_COMMANDS) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "'results' must be an array of at most %d command results", MAX_COMMANDS);
        goto out;
    }
    for (size_t i = 0; i < n; i++) { /* all checked before any is stored */
        json_t *e = json_array_get(arr, i);
        const char *detail;
        int64_t cid;
        if (!json_is_object(e) || !opt_int(e, "id", &cid, r) || !opt_str(e, "detail", 1024, &detail, r)) {
            if (r->code < 400)
                err_reply(r, MHD_HTTP_BAD_REQUEST, "command result %zu is not an object", i);
            goto out;
        }
        if (!cid || !json_is_boolean(json_object_get(e, "ok"))) {
            err_reply(r, MHD_HTTP_BAD_REQUEST, "command result %zu needs 'id' and 'ok' (true or false)", i);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        int fresh = 0;
        kh_err err = khi_store_command_done(c->store, id, json_integer_value(json_object_get(e, "id")),
                                            json_is_true(json_object_get(e, "ok")),
                                            json_string_value(json_object_get(e, "detail")), now_s(), &fresh);
        if (err == KH_ENOENT) {
            err_reply(r, MHD_HTTP_NOT_FOUND, "command %lld is not one of endpoint %lld's",
                      (long long)json_integer_value(json_object_get(e, "id")), (long long)id);
            goto out;
        }
        if (err != KH_OK) {
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error at command result %zu", i);
            goto out;
        }
        fresh ? stored++ : dups++;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:I}", "stored", (json_int_t)stored, "duplicates", (json_int_t)dups);
out:
    json_decref(j);
}

/* ---- people ---- */

typedef struct who {
    char user[128], role[32];
    int64_t unit;
} who;

/* A session from the Authorization header (scripts) or the cookie (the web console). A POST
 * that relies on the cookie must also carry X-Khien-Request, which a page of another site
 * cannot add without the server's consent (no CORS here): no cross-site request forgery. */
static int session_auth(kh_console *c, struct MHD_Connection *conn, int post, who *w, reply *r)
{
    const char *tok = NULL;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        tok = auth + 7;
    } else if ((tok = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "khien_session")) != NULL && post &&
               !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Khien-Request")) {
        err_reply(r, MHD_HTTP_FORBIDDEN, "a change made with the session cookie needs the X-Khien-Request header");
        return 0;
    }
    if (!tok || khi_store_session(c->store, tok, now_s(), w->user, sizeof(w->user), w->role,
                                  sizeof(w->role), &w->unit) != KH_OK) {
        err_reply(r, MHD_HTTP_UNAUTHORIZED, "log in first (POST /api/v1/login)");
        return 0;
    }
    return 1;
}

static void h_login(kh_console *c, const khi_buf *body, reply *r)
{
    json_t *j = parse_body(body, r);
    const char *user, *pw;
    char session[65];
    if (!j)
        return;
    if (opt_str(j, "user", 128, &user, r) && opt_str(j, "password", 1024, &pw, r)) {
        if (!user || !pw || khi_store_login(c->store, user, pw, SESSION_TTL, now_s(), session) != KH_OK) {
            err_reply(r, MHD_HTTP_UNAUTHORIZED, "wrong user name or password");
        } else {
            r->code = MHD_HTTP_OK;
            r->j = json_pack("{s:s, s:I}", "session", session, "expires_in", (json_int_t)SESSION_TTL);
            khi_snprintf(r->cookie, sizeof(r->cookie),
                         "khien_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", session, SESSION_TTL);
        }
    }
    json_decref(j);
}

/* GET /api/v1/me: who is logged in (the web console shows what the role allows) */
static void h_me(kh_console *c, const who *w, reply *r)
{
    char name[512] = "";
    if (w->unit)
        khi_store_unit_name(c->store, w->unit, name, sizeof(name));
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:s, s:s, s:I, s:s}", "user", w->user, "role", w->role, "unit", (json_int_t)w->unit,
                     "unit_name", name);
}

/* POST /api/v1/logout: the session ends and the cookie goes */
static void h_logout(kh_console *c, struct MHD_Connection *conn, reply *r)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *tok = auth && !strncmp(auth, "Bearer ", 7)
                          ? auth + 7
                          : MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "khien_session");
    if (tok && khi_store_session_end(c->store, tok) != KH_OK) {
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        return;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:b}", "ok", 1);
    khi_snprintf(r->cookie, sizeof(r->cookie), "khien_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

static int add_unit(void *ud, const khi_unit *u)
{
    json_array_append_new(ud, json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)u->id, "parent",
                                        (json_int_t)u->parent_id, "name", u->name, "kind", u->kind));
    return 0;
}

static void h_units(kh_console *c, const who *w, reply *r)
{
    json_t *all = json_array(), *mine = json_array();
    khi_store_units(c->store, add_unit, all);
    size_t i;
    json_t *u;
    json_array_foreach(all, i, u)
    {
        if (khi_store_unit_within(c->store, json_integer_value(json_object_get(u, "id")), w->unit))
            json_array_append(mine, u);
    }
    json_decref(all);
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:o}", "units", mine);
}

static json_t *rollup_json(kh_console *c, const khi_rollup *px)
{
    khi_rollup x = *px;
    int64_t unit = x.unit_id;
    char name[512] = "";
    if (unit)
        khi_store_unit_name(c->store, unit, name, sizeof(name));
    double rep = (double)x.reporting;
    json_t *j = json_pack("{s:I, s:s, s:I, s:I, s:f, s:I, s:I, s:f, s:f, s:I, s:I, s:f, s:f, s:I}", "unit",
                     (json_int_t)unit, "name", unit ? name : "", "endpoints", (json_int_t)x.endpoints,
                     "reporting", (json_int_t)x.reporting, "coverage",
                     x.endpoints ? (double)x.reporting / (double)x.endpoints : 0.0, "fresh_24h",
                     (json_int_t)x.fresh_24h, "fresh_7d", (json_int_t)x.fresh_7d, "freshness_24h",
                     x.endpoints ? (double)x.fresh_24h / (double)x.endpoints : 0.0, "freshness_7d",
                     x.endpoints ? (double)x.fresh_7d / (double)x.endpoints : 0.0, "infected_endpoints",
                     (json_int_t)x.infected, "detections", (json_int_t)x.detections, "infection_index",
                     rep > 0 ? (double)x.infected / rep : 0.0, "detections_per_100",
                     rep > 0 ? 100.0 * (double)x.detections / rep : 0.0, "silent", (json_int_t)x.silent);
    json_object_set_new(j, "plan_endpoints", json_integer(x.plan_endpoints));
    json_object_set_new(j, "plan_done", json_integer(x.plan_done));
    json_object_set_new(j, "plan_compliance",
                        json_real(x.plan_endpoints ? (double)x.plan_done / (double)x.plan_endpoints : 0.0));
    return j;
}

static int add_top(void *ud, const char *name, int64_t n)
{
    json_array_append_new(ud, json_pack("{s:s, s:I}", "signature", name ? name : "", "count", (json_int_t)n));
    return 0;
}

static int64_t query_int(struct MHD_Connection *conn, const char *key, int64_t def, int *bad)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    uint64_t x;
    if (!v)
        return def;
    if (khi_parse_u64(v, strlen(v), &x) != 0 || x > INT64_MAX) {
        *bad = 1;
        return def;
    }
    return (int64_t)x;
}

/* The planned time whose scan a unit's endpoints owe at now: the current window's once it has
 * passed, else the previous window's. 0 when the unit's policy plans no scan (no paths). */
static int64_t unit_cutoff(kh_console *c, int64_t unit, int64_t now)
{
    json_t *p = unit_policy(c, unit, NULL), *plan = json_object_get(p, "scan_plan");
    const char *every = json_string_value(json_object_get(plan, "every"));
    int day = (int)json_integer_value(json_object_get(plan, "day"));
    int hour = (int)json_integer_value(json_object_get(plan, "hour"));
    int64_t planned = 0;
    if (json_array_size(json_object_get(plan, "paths")) &&
        kh_plan_due(every, day, hour, 0, now, &planned) == 0 && planned > now) {
        int64_t start = planned - (int64_t)(day - 1) * 86400 - (int64_t)hour * 3600;
        if (kh_plan_due(every, day, hour, 0, start - 1, &planned) < 0)
            planned = 0;
    }
    json_decref(p);
    return planned;
}

typedef struct cutoffs {
    kh_console *c;
    int64_t now;
    khi_plan_cutoff *v;
    size_t n, cap;
} cutoffs;

static int add_cutoff(void *ud, const khi_unit *u)
{
    cutoffs *k = ud;
    int64_t planned = unit_cutoff(k->c, u->id, k->now);
    if (!planned)
        return 0;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 64;
        khi_plan_cutoff *v = khi_reallocarray(k->v, cap, sizeof(*v));
        if (!v)
            return 1;
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n].unit_id = u->id;
    k->v[k->n++].planned = planned;
    return 0;
}

static void h_rollup(kh_console *c, struct MHD_Connection *conn, const who *w, reply *r)
{
    int bad = 0;
    int64_t now = now_s();
    int64_t unit = query_int(conn, "unit", w->unit, &bad);
    int64_t to = query_int(conn, "to", now + 1, &bad), from = query_int(conn, "from", now - 30 * 86400, &bad);
    if (bad || from >= to) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "unit, from and to must be numbers, from before to");
        return;
    }
    if (!khi_store_unit_within(c->store, unit, w->unit)) {
        err_reply(r, MHD_HTTP_FORBIDDEN, "unit %lld is outside what %s may see", (long long)unit, w->user);
        return;
    }
    khi_rollup self, *kids = NULL;
    size_t nkids = 0;
    cutoffs cut = {c, now, NULL, 0, 0};
    kh_err e = khi_store_units(c->store, add_cutoff, &cut);
    if (e == KH_OK)
        e = khi_store_rollup_tree(c->store, unit, from, to, now, c->o.report_window, c->o.silent_after, cut.v, cut.n,
                                  &self, &kids, &nkids);
    khi_free(cut.v);
    if (e != KH_OK) {
        err_reply(r, e == KH_ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR,
                  e == KH_ENOENT ? "no unit %lld" : "roll-up of unit %lld failed", (long long)unit);
        return;
    }
    json_t *j = rollup_json(c, &self), *top = json_array(), *children = json_array();
    for (size_t i = 0; i < nkids; i++)
        json_array_append_new(children, rollup_json(c, &kids[i]));
    khi_free(kids);
    khi_store_top_signatures(c->store, unit, from, to, 10, add_top, top);
    json_object_set_new(j, "from", json_integer(from));
    json_object_set_new(j, "to", json_integer(to));
    json_object_set_new(j, "top_signatures", top);
    json_object_set_new(j, "children", children);
    r->code = MHD_HTTP_OK;
    r->j = j;
}

static int add_top_endpoint(void *ud, int64_t endpoint, const char *hostname, int64_t unit_id, int64_t n)
{
    json_array_append_new(ud, json_pack("{s:I, s:s, s:I, s:I}", "endpoint", (json_int_t)endpoint, "hostname",
                                        hostname ? hostname : "", "unit", (json_int_t)unit_id, "detections",
                                        (json_int_t)n));
    return 0;
}

/* GET /api/v1/top-endpoints?unit=&from=&to=&limit=: the most infected endpoints */
static void h_top_endpoints(kh_console *c, struct MHD_Connection *conn, const who *w, reply *r)
{
    int bad = 0;
    int64_t now = now_s();
    int64_t unit = query_int(conn, "unit", w->unit, &bad);
    int64_t to = query_int(conn, "to", now + 1, &bad), from = query_int(conn, "from", now - 30 * 86400, &bad);
    int64_t limit = query_int(conn, "limit", 10, &bad);
    if (bad || from >= to || limit < 1 || limit > 1000) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "unit, from, to and limit (1 to 1000) must be numbers, from before to");
        return;
    }
    if (!khi_store_unit_within(c->store, unit, w->unit)) {
        err_reply(r, MHD_HTTP_FORBIDDEN, "unit %lld is outside what %s may see", (long long)unit, w->user);
        return;
    }
    json_t *arr = json_array();
    if (khi_store_top_endpoints(c->store, unit, from, to, (int)limit, add_top_endpoint, arr) != KH_OK) {
        json_decref(arr);
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        return;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:I, s:I, s:o}", "unit", (json_int_t)unit, "from", (json_int_t)from, "to",
                     (json_int_t)to, "endpoints", arr);
}

/* GET /api/v1/policy?unit=ID: what the unit's endpoints follow; POST sets the unit's own */
static void h_policy(kh_console *c, struct MHD_Connection *conn, const who *w, int post, const khi_buf *body,
                     reply *r)
{
    int bad = 0;
    int64_t unit = query_int(conn, "unit", w->unit, &bad);
    char name[512] = "";
    if (bad || (unit && khi_store_unit_name(c->store, unit, name, sizeof(name)) != KH_OK)) {
        err_reply(r, bad ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_NOT_FOUND, "no unit %s",
                  MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "unit"));
        return;
    }
    if (!khi_store_unit_within(c->store, unit, w->unit)) {
        err_reply(r, MHD_HTTP_FORBIDDEN, "unit %lld is outside what %s may see", (long long)unit, w->user);
        return;
    }
    if (post) {
        char why[256];
        if (strcmp(w->role, "province") != 0) {
            err_reply(r, MHD_HTTP_FORBIDDEN, "only province administrators may set policies");
            return;
        }
        json_t *in = parse_body(body, r);
        if (!in)
            return;
        json_t *ok = khi_policy_check(in, why, sizeof(why));
        json_decref(in);
        if (!ok) {
            err_reply(r, MHD_HTTP_BAD_REQUEST, "%s", why);
            return;
        }
        char *text = json_dumps(ok, JSON_COMPACT | JSON_SORT_KEYS);
        kh_err e = text ? khi_store_policy_set(c->store, unit, text, now_s()) : KH_ENOMEM;
        policy_cache_drop(c);
        free(text);
        if (e != KH_OK) {
            json_decref(ok);
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
            return;
        }
        r->code = MHD_HTTP_OK;
        r->j = json_pack("{s:I, s:o}", "unit", (json_int_t)unit, "policy", ok);
        return;
    }
    int64_t from = -1;
    json_t *p = unit_policy(c, unit, &from);
    if (!p) {
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        return;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:o, s:o}", "unit", (json_int_t)unit, "inherited_from",
                     from < 0 ? json_null() : json_integer(from), "policy", p);
}

static int add_command(void *ud, const khi_command *cmd)
{
    json_t *args = json_loads(cmd->args, 0, NULL);
    const char *state = cmd->done ? cmd->status : cmd->delivered ? "delivered" : "pending";
    if (!cmd->done && cmd->expires <= now_s())
        state = "expired";
    json_array_append_new(ud, json_pack("{s:I, s:s, s:o, s:s?, s:I, s:I, s:I, s:I, s:s, s:s?}", "id",
                                        (json_int_t)cmd->id, "kind", cmd->kind, "args",
                                        json_is_object(args) ? args : json_object(), "by", cmd->by, "created",
                                        (json_int_t)cmd->created, "expires", (json_int_t)cmd->expires,
                                        "delivered", (json_int_t)cmd->delivered, "done", (json_int_t)cmd->done,
                                        "state", state, "detail", cmd->detail));
    if (!json_is_object(args))
        json_decref(args);
    return 0;
}

typedef struct ep_list {
    json_t *arr;
    int64_t now, window;
} ep_list;

static int add_endpoint(void *ud, const khi_endpoint *e)
{
    ep_list *l = ud;
    const char *status = e->revoked ? "revoked" : e->last_seen >= l->now - l->window ? "reporting" : "silent";
    json_array_append_new(
        l->arr, json_pack("{s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:o, s:I, s:I, s:I, s:b, s:I, s:I, s:s}", "id",
                          (json_int_t)e->id, "unit", (json_int_t)e->unit_id, "hostname", e->inv.hostname, "os",
                          e->inv.os, "agent_version", e->inv.agent_version, "engine_version", e->inv.engine_version,
                          "sig_version", (json_int_t)e->inv.sig_version, "sig_time", (json_int_t)e->inv.sig_time,
                          "sig_age", e->inv.sig_time ? json_integer(l->now - e->inv.sig_time) : json_null(),
                          "enrolled", (json_int_t)e->enrolled, "last_seen", (json_int_t)e->last_seen, "last_full_scan",
                          (json_int_t)e->inv.last_full_scan, "realtime", e->inv.realtime, "queue_length",
                          (json_int_t)e->inv.queue_length, "queue_dropped", (json_int_t)e->inv.queue_dropped, "status",
                          status));
    return 0;
}

/* GET /api/v1/endpoints?unit=&offset=&limit=: the inventory of a unit's endpoints */
static void h_endpoints(kh_console *c, struct MHD_Connection *conn, const who *w, reply *r)
{
    int bad = 0;
    int64_t unit = query_int(conn, "unit", w->unit, &bad), offset = query_int(conn, "offset", 0, &bad);
    int64_t limit = query_int(conn, "limit", 100, &bad);
    if (bad || offset < 0 || limit < 1 || limit > 1000) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "unit, offset and limit (1 to 1000) must be numbers");
        return;
    }
    if (!khi_store_unit_within(c->store, unit, w->unit)) {
        err_reply(r, MHD_HTTP_FORBIDDEN, "unit %lld is outside what %s may see", (long long)unit, w->user);
        return;
    }
    ep_list l = {json_array(), now_s(), c->o.report_window};
    if (!l.arr || khi_store_endpoints(c->store, unit, offset, (int)limit, add_endpoint, &l) != KH_OK) {
        json_decref(l.arr);
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        return;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:I, s:o}", "unit", (json_int_t)unit, "offset", (json_int_t)offset, "endpoints", l.arr);
}

static int add_event(void *ud, const khi_event_rec *ev)
{
    json_array_append_new(ud, json_pack("{s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?}", "uid", ev->uid, "time",
                                        (json_int_t)ev->time, "path", ev->path, "sha256", ev->sha256, "signature",
                                        ev->signature, "action", ev->action, "quarantine_id", ev->quarantine_id));
    return 0;
}

/* POST /api/v1/endpoints/ID/commands: a command for the endpoint (the caller has the province role) */
static void h_command_new(kh_console *c, const who *w, int64_t endpoint, const khi_buf *body, reply *r)
{
    char why[256];
    json_t *in = parse_body(body, r);
    if (!in)
        return;
    json_t *ok = khi_command_check(in, why, sizeof(why));
    json_decref(in);
    if (!ok) {
        err_reply(r, MHD_HTTP_BAD_REQUEST, "%s", why);
        return;
    }
    char *args = json_dumps(json_object_get(ok, "args"), JSON_COMPACT | JSON_SORT_KEYS);
    int64_t id = 0, now = now_s();
    kh_err e = args ? khi_store_command_add(c->store, endpoint, json_string_value(json_object_get(ok, "kind")), args,
                                            w->user, now, now + COMMAND_TTL, &id)
                    : KH_ENOMEM;
    free(args);
    if (e == KH_ENOENT)
        err_reply(r, MHD_HTTP_NOT_FOUND, "no endpoint %lld (or it is revoked)", (long long)endpoint);
    else if (e != KH_OK)
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
    else {
        r->code = MHD_HTTP_OK;
        r->j = json_pack("{s:I, s:I, s:O, s:I}", "command", (json_int_t)id, "endpoint", (json_int_t)endpoint, "kind",
                         json_object_get(ok, "kind"), "expires", (json_int_t)(now + COMMAND_TTL));
    }
    json_decref(ok);
}

/* /api/v1/endpoints/ID/revoke (POST, province role), /api/v1/endpoints/ID/commands (GET: the
 * endpoint's commands and their state, for anyone who may see its unit; POST: a new one),
 * /api/v1/endpoints/ID/events (GET: its latest detections, with their quarantine entries) */
static void h_endpoint(kh_console *c, const who *w, const char *url, int post, const khi_buf *body, reply *r)
{
    uint64_t id = 0;
    int64_t unit = 0;
    const char *p = url + strlen("/api/v1/endpoints/");
    const char *slash = strchr(p, '/');
    if (!slash || khi_parse_u64(p, (size_t)(slash - p), &id) != 0 ||
        (strcmp(slash, "/revoke") && strcmp(slash, "/commands") && strcmp(slash, "/events")) ||
        (!post && !strcmp(slash, "/revoke")) || (post && !strcmp(slash, "/events"))) {
        err_reply(r, MHD_HTTP_NOT_FOUND, "no such resource");
        return;
    }
    if (post && strcmp(w->role, "province") != 0) { /* unit administrators only read */
        err_reply(r, MHD_HTTP_FORBIDDEN, "only province administrators may %s endpoints",
                  strcmp(slash, "/revoke") ? "send commands to" : "revoke");
        return;
    }
    if (khi_store_endpoint_unit(c->store, (int64_t)id, &unit) != KH_OK || !khi_store_unit_within(c->store, unit, w->unit)) {
        err_reply(r, MHD_HTTP_NOT_FOUND, "no endpoint %llu that %s may see", (unsigned long long)id, w->user);
        return;
    }
    if (!strcmp(slash, "/revoke")) {
        if (khi_store_endpoint_revoke(c->store, (int64_t)id) != KH_OK)
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        else {
            r->code = MHD_HTTP_OK;
            r->j = json_pack("{s:I, s:b}", "endpoint", (json_int_t)id, "revoked", 1);
        }
        return;
    }
    if (post) {
        h_command_new(c, w, (int64_t)id, body, r);
        return;
    }
    if (!strcmp(slash, "/events")) {
        json_t *ev = json_array();
        if (!ev || khi_store_events(c->store, (int64_t)id, 100, add_event, ev) != KH_OK) {
            json_decref(ev);
            err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
            return;
        }
        r->code = MHD_HTTP_OK;
        r->j = json_pack("{s:I, s:o}", "endpoint", (json_int_t)id, "events", ev);
        return;
    }
    json_t *arr = json_array();
    if (!arr || khi_store_commands(c->store, (int64_t)id, 100, add_command, arr) != KH_OK) {
        json_decref(arr);
        err_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage error");
        return;
    }
    r->code = MHD_HTTP_OK;
    r->j = json_pack("{s:I, s:o}", "endpoint", (json_int_t)id, "commands", arr);
}

static void route(kh_console *c, struct MHD_Connection *conn, const char *method, const char *url,
                  const khi_buf *body, reply *r)
{
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    int64_t id;
    who w;
    if (post && !strcmp(url, "/api/v1/enrol"))
        h_enrol(c, body, r);
    else if (post && !strcmp(url, "/api/v1/heartbeat")) {
        if (agent_auth(c, conn, method, url, body, &id, r))
            h_heartbeat(c, id, body, r);
    } else if (post && !strcmp(url, "/api/v1/events")) {
        if (agent_auth(c, conn, method, url, body, &id, r))
            h_events(c, id, body, r);
    } else if (post && !strcmp(url, "/api/v1/scans")) {
        if (agent_auth(c, conn, method, url, body, &id, r))
            h_scans(c, id, body, r);
    } else if (post && !strcmp(url, "/api/v1/commands")) {
        if (agent_auth(c, conn, method, url, body, &id, r))
            h_command_results(c, id, body, r);
    } else if (post && !strcmp(url, "/api/v1/login"))
        h_login(c, body, r);
    else if (get && !strcmp(url, "/api/v1/me")) {
        if (session_auth(c, conn, post, &w, r))
            h_me(c, &w, r);
    } else if (post && !strcmp(url, "/api/v1/logout")) {
        if (session_auth(c, conn, post, &w, r))
            h_logout(c, conn, r);
    } else if (get && !strcmp(url, "/api/v1/units")) {
        if (session_auth(c, conn, post, &w, r))
            h_units(c, &w, r);
    } else if (get && !strcmp(url, "/api/v1/rollup")) {
        if (session_auth(c, conn, post, &w, r))
            h_rollup(c, conn, &w, r);
    } else if (get && !strcmp(url, "/api/v1/top-endpoints")) {
        if (session_auth(c, conn, post, &w, r))
            h_top_endpoints(c, conn, &w, r);
    } else if ((get || post) && !strcmp(url, "/api/v1/policy")) {
        if (session_auth(c, conn, post, &w, r))
            h_policy(c, conn, &w, post, body, r);
    } else if (get && !strcmp(url, "/api/v1/endpoints")) {
        if (session_auth(c, conn, post, &w, r))
            h_endpoints(c, conn, &w, r);
    } else if ((get || post) && !strncmp(url, "/api/v1/endpoints/", 18)) {
        if (session_auth(c, conn, post, &w, r))
            h_endpoint(c, &w, url, post, body, r);
    } else if (!strncmp(url, "/api/", 5)) {
        err_reply(r, MHD_HTTP_NOT_FOUND, "no %s %s in this API", method, url);
    } else {
        err_reply(r, MHD_HTTP_NOT_FOUND, "not found");
    }
}

/* The web console's files: compiled in, never from disk; the page may run only its own script
 * and style, and may not be framed. */
static enum MHD_Result serve_asset(struct MHD_Connection *conn, const char *url)
{
    const khi_web_asset *a = khi_web_assets;
    while (a->path && strcmp(a->path, url) != 0)
        a++;
    static const char missing[] = "<!doctype html><meta charset=utf-8><title>404</title>"
                                  "<p>Không có trang này. / No such page. <a href=\"/\">Khiên</a>";
    struct MHD_Response *resp =
        a->path ? MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT)
                : MHD_create_response_from_buffer(sizeof(missing) - 1, (void *)missing, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", a->path ? a->type : "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                            "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(conn, a->path ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    kh_console *c = cls;
    req *q = *state;
    (void)version;
    if (!q) {
        q = khi_calloc(1, sizeof(*q));
        if (!q)
            return MHD_NO;
        khi_buf_init(&q->body);
        *state = q;
        return MHD_YES;
    }
    if (*upload_len) {
        if (q->body.len + *upload_len > c->o.max_body)
            q->too_big = 1;
        else if (khi_buf_append(&q->body, upload, *upload_len) != KH_OK)
            q->too_big = 1;
        *upload_len = 0;
        return MHD_YES;
    }
    if (!strcmp(method, "GET") && strncmp(url, "/api/", 5) != 0)
        return serve_asset(conn, url);
    reply r = {MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, ""};
    if (q->too_big)
        err_reply(&r, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %zu bytes", c->o.max_body);
    else
        route(c, conn, method, url, &q->body, &r);
    char *text = r.j ? json_dumps(r.j, JSON_COMPACT) : NULL;
    json_decref(r.j);
    if (!text)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r.cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r.cookie);
    enum MHD_Result ret = MHD_queue_response(conn, r.code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    req *q = *state;
    if (q) {
        khi_buf_cleanup(&q->body);
        khi_free(q);
        *state = NULL;
    }
}

kh_err kh_console_start(const kh_console_opts *opts, kh_console **out, char *err, size_t err_len)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(opts->port);
    if (inet_pton(AF_INET, opts->addr ? opts->addr : "127.0.0.1", &sa.sin_addr) != 1) {
        khi_snprintf(err, err_len, "'%s' is not an IPv4 address", opts->addr);
        return KH_EINVAL;
    }
    kh_console *c = khi_calloc(1, sizeof(*c));
    if (!c)
        return KH_ENOMEM;
    pthread_mutex_init(&c->pmu, NULL);
    c->o = *opts;
    if (!c->o.report_window)
        c->o.report_window = 24 * 3600;
    if (!c->o.silent_after)
        c->o.silent_after = 7 * 86400;
    if (!c->o.max_body)
        c->o.max_body = 1u << 20;
    kh_err e = khi_store_open(opts->db_url, &c->store, err, err_len);
    if (e != KH_OK) {
        khi_free(c);
        return e;
    }
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (opts->tls_cert || opts->tls_key) {
        if (!opts->tls_cert || !opts->tls_key ||
            khi_file_read_all(opts->tls_cert, 1u << 20, &cert, &cl, err, err_len) != KH_OK ||
            khi_file_read_all(opts->tls_key, 1u << 20, &key, &kl, err, err_len) != KH_OK) {
            if (!err[0])
                khi_snprintf(err, err_len, "HTTPS needs both a certificate and a key file");
            khi_free(cert);
            khi_free(key);
            kh_console_stop(c);
            return KH_EINVAL;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            khi_snprintf(err, err_len, "this libmicrohttpd was built without TLS");
            khi_free(cert);
            khi_free(key);
            kh_console_stop(c);
            return KH_EINVAL;
        }
        flags |= MHD_USE_TLS;
    }
    if (cert)
        c->d = MHD_start_daemon(flags, opts->port, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, on_done, c, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                                MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    else
        c->d = MHD_start_daemon(flags, opts->port, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, on_done, c, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_END);
    if (key)
        sodium_memzero(key, kl);
    khi_free(cert);
    khi_free(key);
    if (!c->d) {
        khi_snprintf(err, err_len, "cannot listen on %s:%u", opts->addr ? opts->addr : "127.0.0.1",
                     opts->port);
        kh_console_stop(c);
        return KH_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(c->d, MHD_DAEMON_INFO_BIND_PORT);
    c->port = info ? info->port : opts->port;
    *out = c;
    return KH_OK;
}

uint16_t kh_console_port(const kh_console *c)
{
    return c ? c->port : 0;
}

void kh_console_stop(kh_console *c)
{
    if (!c)
        return;
    if (c->d)
        MHD_stop_daemon(c->d);
    khi_store_close(c->store);
    policy_cache_drop(c);
    pthread_mutex_destroy(&c->pmu);
    khi_free(c);
}
