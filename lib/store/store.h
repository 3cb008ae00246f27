/*
 * store.h - what the console server keeps, behind one interface (internal).
 *
 * lib/store knows nothing of HTTP: it stores units, endpoints, enrolment tokens, events, scan
 * results, users and sessions, and answers the roll-up questions of the console. Backends are
 * a table of functions; SQLite (store_sqlite.c) is the embedded default, PostgreSQL comes next
 * behind the same table. All strings are UTF-8 and stored as given (Vietnamese names intact);
 * every value reaches the database as a bound parameter, never inside SQL text.
 */
#ifndef KHI_STORE_H
#define KHI_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <khien/error.h>
#include "core/core.h"

typedef struct khi_store khi_store;

typedef struct khi_unit {
    int64_t id, parent_id; /* parent 0 = the province itself */
    const char *name, *kind, *code;
} khi_unit;

typedef struct khi_inventory {
    const char *hostname, *os, *agent_version, *engine_version;
    int64_t sig_version, sig_time, last_full_scan;
    int realtime;
    int64_t queue_length, queue_dropped; /* events waiting on the agent; dropped (queue full) */
} khi_inventory;

/* An endpoint as the console lists it. */
typedef struct khi_endpoint {
    int64_t id, unit_id, enrolled, last_seen;
    int revoked;
    khi_inventory inv;
} khi_endpoint;

typedef struct khi_event_rec {
    const char *uid, *path, *sha256, *signature, *action;
    const char *quarantine_id; /* the agent's quarantine entry when the file was moved there */
    int64_t time;
} khi_event_rec;

typedef struct khi_scan_rec {
    const char *uid;
    int64_t started, finished, files, bytes, detections;
    int64_t planned; /* the planned time of the plan window this scan satisfied; 0 = not planned */
} khi_scan_rec;

typedef struct khi_rollup {
    int64_t unit_id;
    int64_t endpoints, reporting, fresh_24h, fresh_7d, infected, detections, silent;
    int64_t plan_endpoints, plan_done; /* endpoints under a scan plan; those that ran its scan */
} khi_rollup;

/* The planned time of the current scan window of a unit's endpoints (units without a plan have
 * no cutoff); an endpoint complies when it reported a planned scan for that time or later. */
typedef struct khi_plan_cutoff {
    int64_t unit_id, planned;
} khi_plan_cutoff;

/* Open url: "sqlite:PATH" (or a plain path). Creates and migrates the schema. */
kh_err khi_store_open(const char *url, khi_store **out, char *err, size_t err_len);
void khi_store_close(khi_store *s);

kh_err khi_store_unit_add(khi_store *s, int64_t parent, const char *name, const char *kind,
                          const char *code, int64_t *out_id);
kh_err khi_store_unit_find(khi_store *s, const char *name, int64_t *out_id);
/* 1 when unit is ancestor or below it (ancestor 0 = the whole province). */
int khi_store_unit_within(khi_store *s, int64_t unit, int64_t ancestor);
kh_err khi_store_unit_name(khi_store *s, int64_t id, char *out, size_t out_len);
typedef int (*khi_unit_fn)(void *ud, const khi_unit *u);
kh_err khi_store_units(khi_store *s, khi_unit_fn cb, void *ud);

/* A one-use-or-more enrolment token for a unit, valid ttl seconds; hex written to out (65). */
kh_err khi_store_token_create(khi_store *s, int64_t unit_id, int64_t ttl, int uses, int64_t now,
                              char out_hex[65]);
/* Consume a token and register an endpoint with this public key. KH_EACCES: bad/used/expired
 * token; KH_EEXIST: the key is enrolled already (its id is returned). */
kh_err khi_store_enrol(khi_store *s, const char *token_hex, const uint8_t pubkey[32],
                       const char *hostname, int64_t now, int64_t *out_endpoint);
/* The key and state of an endpoint. KH_ENOENT when unknown. */
kh_err khi_store_endpoint_key(khi_store *s, int64_t id, uint8_t out_pubkey[32], int *out_revoked);
kh_err khi_store_endpoint_revoke(khi_store *s, int64_t id);
kh_err khi_store_heartbeat(khi_store *s, int64_t id, const khi_inventory *inv, int64_t now);
/* Store a scan result; *out_new is 0 when the agent sent this uid before. */
kh_err khi_store_scan(khi_store *s, int64_t endpoint, const khi_scan_rec *r, int *out_new);
/* Store an event; *out_new is 0 when the agent sent this uid before (nothing changes). */
kh_err khi_store_event(khi_store *s, int64_t endpoint, const khi_event_rec *ev, int *out_new);

/* Figures for unit (0 = province) and everything under it over [from, to); "reporting" means
 * seen within report_window seconds of now, "silent" not seen for silent_after seconds. */
kh_err khi_store_rollup(khi_store *s, int64_t unit, int64_t from, int64_t to, int64_t now,
                        int64_t report_window, int64_t silent_after, khi_rollup *out);
/* The same for unit and, in *out_children (allocated, caller frees with khi_free; NULL when
 * there are none), each of its direct child units, in the order of khi_store_units. All are
 * computed in one pass: two grouped queries, added up the tree here. */
kh_err khi_store_rollup_tree(khi_store *s, int64_t unit, int64_t from, int64_t to, int64_t now,
                             int64_t report_window, int64_t silent_after, const khi_plan_cutoff *cutoffs,
                             size_t n_cutoffs, khi_rollup *out, khi_rollup **out_children,
                             size_t *out_n_children);
typedef int (*khi_top_fn)(void *ud, const char *name, int64_t count);
kh_err khi_store_top_signatures(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                                khi_top_fn cb, void *ud);

/* The endpoints of unit (0 = province) and below with the most detections in [from, to), most
 * first (ties by id); revoked endpoints left out. hostname may be NULL. */
typedef int (*khi_top_endpoint_fn)(void *ud, int64_t endpoint, const char *hostname, int64_t unit_id,
                                   int64_t detections);
kh_err khi_store_top_endpoints(khi_store *s, int64_t unit, int64_t from, int64_t to, int limit,
                               khi_top_endpoint_fn cb, void *ud);

/* A unit's own policy (JSON text, stored as given; unit 0 = the province's). */
kh_err khi_store_policy_set(khi_store *s, int64_t unit, const char *json, int64_t now);
/* The policy text of unit itself into *out (caller frees with khi_free); KH_ENOENT when none. */
kh_err khi_store_policy_get(khi_store *s, int64_t unit, char **out);
/* The policies that apply to unit, from the province's (unit 0) down through its ancestors to
 * its own: cb is called for each that is set, in that order (text valid during the call). */
typedef int (*khi_policy_fn)(void *ud, int64_t unit, const char *json);
kh_err khi_store_policy_chain(khi_store *s, int64_t unit, khi_policy_fn cb, void *ud);
/* The unit an endpoint belongs to. KH_ENOENT when unknown. */
kh_err khi_store_endpoint_unit(khi_store *s, int64_t endpoint, int64_t *out_unit);

/* The endpoints of unit and the units below it (0: all), by id, from offset, at most limit. */
typedef int (*khi_endpoint_fn)(void *ud, const khi_endpoint *e);
kh_err khi_store_endpoints(khi_store *s, int64_t unit, int64_t offset, int limit, khi_endpoint_fn cb, void *ud);

/* The endpoint's latest events, newest first, at most limit (ev valid during the call). */
typedef int (*khi_event_fn)(void *ud, const khi_event_rec *ev);
kh_err khi_store_events(khi_store *s, int64_t endpoint, int limit, khi_event_fn cb, void *ud);

/* Commands to an endpoint (scan now, update now, quarantine restore or delete): kept until the
 * agent reports them done or they expire; delivered with each heartbeat until then. */
typedef struct khi_command {
    int64_t id, endpoint, created, expires;
    int64_t delivered, done;     /* first delivery, completion; 0 = not yet */
    const char *kind, *args;     /* kind name and its arguments (JSON object text) */
    const char *by;              /* the user who asked */
    const char *status, *detail; /* "ok" or "failed" and the agent's words; NULL until done */
} khi_command;
typedef int (*khi_command_fn)(void *ud, const khi_command *c);
/* KH_ENOENT when the endpoint is unknown or revoked. */
kh_err khi_store_command_add(khi_store *s, int64_t endpoint, const char *kind, const char *args,
                             const char *by, int64_t now, int64_t expires, int64_t *out_id);
/* The endpoint's commands not done and not expired, oldest first, at most limit; each is
 * marked delivered (first delivery time) once cb has seen it. */
kh_err khi_store_commands_due(khi_store *s, int64_t endpoint, int64_t now, int limit,
                              khi_command_fn cb, void *ud);
/* The agent's report on command id: *out_new 0 when it was already done (a resent report).
 * KH_ENOENT when id is not a command of this endpoint. */
kh_err khi_store_command_done(khi_store *s, int64_t endpoint, int64_t id, int ok, const char *detail,
                              int64_t now, int *out_new);
/* The endpoint's commands, newest first, at most limit. */
kh_err khi_store_commands(khi_store *s, int64_t endpoint, int limit, khi_command_fn cb, void *ud);

/* Users: role "province" (all units) or "unit" (read-only, own unit and below). */
kh_err khi_store_user_set(khi_store *s, const char *name, const char *password, const char *role,
                          int64_t unit_id);
/* KH_EACCES on a wrong name or password. */
kh_err khi_store_login(khi_store *s, const char *name, const char *password, int64_t ttl,
                       int64_t now, char out_session[65]);
kh_err khi_store_session(khi_store *s, const char *session_hex, int64_t now, char *out_user,
                         size_t user_len, char *out_role, size_t role_len, int64_t *out_unit);
/* End a session (log out); KH_OK also when there was none. */
kh_err khi_store_session_end(khi_store *s, const char *session_hex);

#endif
