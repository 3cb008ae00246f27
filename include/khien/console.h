/*
 * console.h - the central console server: enrolment, agent reports, and the province's view.
 *
 * Agents enrol once with a token an administrator made for their unit, presenting an Ed25519
 * public key of their own; every later request is signed with the matching secret key, so the
 * server holds no secret an attacker could replay elsewhere, and revoking an endpoint is
 * immediate. People log in with a password (argon2id) and get a session that expires; a
 * "province" user sees every unit, a "unit" user only its own and below.
 *
 * HTTP API (JSON bodies, UTF-8):
 *   POST /api/v1/enrol       {"token", "pubkey" (hex), "hostname"} -> {"endpoint"}
 *   POST /api/v1/heartbeat   signed; inventory (hostname, os, agent_version, engine_version,
 *                            sig_version, sig_time, last_full_scan, realtime, queue_length,
 *                            queue_dropped)                    -> {"ok", "server_time",
 *                            "policy", "commands": [{"id", "kind", "args"}]}
 *   POST /api/v1/events      signed; {"events": [{"uid", "time", "path", "sha256",
 *                            "signature", "action"}]}             -> {"stored", "duplicates"}
 *   POST /api/v1/scans       signed; {"scans": [{"uid", "started", "finished", "files", "bytes",
 *                            "detections", "planned"}]}           -> {"stored", "duplicates"}
 *   POST /api/v1/commands    signed; {"results": [{"id", "ok", "detail"}]} -> {"stored",
 *                            "duplicates"}: what the agent did with the commands it was given
 *   POST /api/v1/login       {"user", "password"}                 -> {"session"} (+ cookie)
 *   GET  /api/v1/me          session -> {"user", "role", "unit", "unit_name"}
 *   POST /api/v1/logout      session -> the session ends, its cookie is cleared
 *   GET  /api/v1/units       session                              -> the organisation tree
 *   GET  /api/v1/rollup?unit=ID&from=T&to=T  session             -> coverage, freshness,
 *                            infection index, scan-plan compliance, top signatures, for the
 *                            unit and its children
 *   GET  /api/v1/top-endpoints?unit=ID&from=T&to=T&limit=N  session -> most infected endpoints
 *   GET  /api/v1/endpoints?unit=ID&offset=N&limit=N  session -> the inventory of the unit's
 *                            endpoints and below (hostname, OS, versions, signature age, last
 *                            seen, last full scan, real-time on/off, the agent's queue and what
 *                            it dropped, status reporting/silent/revoked)
 *   POST /api/v1/endpoints/ID/revoke  session, province role
 *   POST /api/v1/endpoints/ID/commands  session, province role; {"kind": "scan" | "update" |
 *                            "quarantine_restore" | "quarantine_delete", "args": {...}} -> {"command"}:
 *                            delivered with the endpoint's heartbeats until it reports it done
 *                            (a week at most)
 *   GET  /api/v1/endpoints/ID/events  session -> its last 100 detection events (path, sha256,
 *                            signature, action, quarantine_id when the agent quarantined the file)
 *   GET  /api/v1/endpoints/ID/commands  session -> its last 100 commands and their state
 *                            (pending, delivered, ok, failed, expired) and the agent's detail
 *   POST /api/v1/policy?unit=ID  session, province role; a policy -> the policy stored
 *   GET  /api/v1/policy?unit=ID  session -> the policy the unit's endpoints follow (the default,
 *                            then the province's, then each unit's down to this one, member by
 *                            member) and the lowest unit that set one; the heartbeat's reply
 *                            carries it as "policy"
 * A policy: {"scan_plan": {"every": "month"|"quarter", "day": 1-28, "hour": 0-23, "paths": [...],
 * "exclude": [...]}, "realtime": bool, "update_interval": seconds}, each member optional.
 * Sessions come as "Authorization: Bearer S" or as the khien_session cookie that login sets
 * (HttpOnly, SameSite=Strict); a POST relying on the cookie must carry an X-Khien-Request
 * header. Any other GET is the web console (web/, compiled in): "/" is its page.
 * Signed requests carry X-Khien-Endpoint, X-Khien-Time (unix seconds, within 5 minutes) and
 * X-Khien-Signature: hex Ed25519 over "METHOD\nPATH\nTIME\nSHA256-OF-BODY-HEX".
 */
#ifndef KHIEN_CONSOLE_H
#define KHIEN_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kh_console kh_console;

typedef struct kh_console_opts {
    const char *db_url;      /* "sqlite:PATH" */
    const char *addr;        /* listen address, NULL = 127.0.0.1 */
    uint16_t port;           /* 0 = any free port */
    int64_t report_window;   /* an endpoint is "reporting" when seen this recently (s); 0 = 24 h */
    int64_t silent_after;    /* ... and "silent" when not seen for this long (s); 0 = 7 days */
    size_t max_body;         /* largest request body; 0 = 1 MiB */
    const char *tls_cert;    /* PEM certificate and key files: HTTPS; both NULL = plain HTTP */
    const char *tls_key;
} kh_console_opts;

/* The console's certificate and key in dir (made at first call: P-256, self-signed, 10 years)
 * and its pin for agents ("sha256//BASE64", 64 bytes with the NUL). */
KH_API kh_err kh_console_tls_ensure(const char *dir, char *out_cert, size_t cert_len,
                                    char *out_key, size_t key_len, char out_pin[64],
                                    char *errbuf, size_t errbuf_len);

KH_API kh_err kh_console_start(const kh_console_opts *opts, kh_console **out_console,
                               char *errbuf, size_t errbuf_len);
KH_API uint16_t kh_console_port(const kh_console *console);
KH_API void kh_console_stop(kh_console *console);

/* Administration on the database directly (the server need not run). */
KH_API kh_err kh_console_init(const char *db_url, const char *demo_tree_dir, char *errbuf,
                              size_t errbuf_len);
KH_API kh_err kh_console_add_unit(const char *db_url, const char *parent_name, const char *name,
                                  const char *kind, char *errbuf, size_t errbuf_len);
/* A token for the unit named unit_name (hex, 65 bytes). */
KH_API kh_err kh_console_token(const char *db_url, const char *unit_name, int64_t ttl_seconds,
                               int uses, char out_token[65], char *errbuf, size_t errbuf_len);
KH_API kh_err kh_console_user(const char *db_url, const char *name, const char *password,
                              const char *role, const char *unit_name, char *errbuf,
                              size_t errbuf_len);

/* Is the planned scan of a plan ("month" or "quarter", day 1-28, hour 0-23, local time) due at
 * now, when the last planned scan finished at last_done? 1 due, 0 not, -1 bad plan. The planned
 * time of the current window goes to *out_planned (may be NULL). */
KH_API int kh_plan_due(const char *every, int day, int hour, int64_t last_done, int64_t now,
                       int64_t *out_planned);

/* ---- the agent side of the protocol ---- */
typedef struct kh_agent_identity {
    int64_t endpoint;
    uint8_t secret[64]; /* Ed25519 secret key */
    char pin[64];       /* the server's public key pin for https:// ("" for http://) */
} kh_agent_identity;

/* Enrol at server_url with token; fills identity. An https:// server must match pin (from
 * 'khien console token'), which is kept in the identity. */
KH_API kh_err kh_agent_enrol(const char *server_url, const char *token, const char *pin,
                             const char *hostname, kh_agent_identity *out, char *errbuf,
                             size_t errbuf_len);
/* POST a signed JSON body to path; the reply body (owned, free with kh_free) and status. */
KH_API kh_err kh_agent_post(const char *server_url, const kh_agent_identity *id, const char *path,
                            const char *json, long *out_status, char **out_reply, char *errbuf,
                            size_t errbuf_len);
KH_API void kh_free(void *p);

/* ---- the agent's on-disk queue: events wait here until the server acknowledges them ---- */
typedef struct kh_queue kh_queue;
/* Open (create) the queue database at path, holding at most max_items (0 = 100000). */
KH_API kh_err kh_queue_open(const char *path, size_t max_items, kh_queue **out_queue);
KH_API void kh_queue_close(kh_queue *q);
/* Add one JSON event (copied). When full, the oldest low-value events (priority 0) are
 * dropped first and counted; detections (priority 1) are dropped only when nothing else is
 * left. */
KH_API kh_err kh_queue_push(kh_queue *q, const char *json, int priority);
/* Up to max events, oldest first, as one JSON array text (owned: kh_free) and the id of the
 * last one (for kh_queue_ack). *out_count 0 when empty. */
KH_API kh_err kh_queue_peek(kh_queue *q, size_t max, char **out_json_array, int64_t *out_last,
                            size_t *out_count);
/* Remove every event up to and including id last. */
KH_API kh_err kh_queue_ack(kh_queue *q, int64_t last);
KH_API size_t kh_queue_length(kh_queue *q);
KH_API uint64_t kh_queue_dropped(kh_queue *q);

#ifdef __cplusplus
}
#endif
#endif
