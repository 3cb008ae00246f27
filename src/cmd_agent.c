/*
 * cmd_agent.c - "khien agent": the endpoint side of the console.
 *
 *   enrol   trade an enrolment token for an endpoint id; the Ed25519 key pair is made here and
 *           only its public half leaves the machine (STATE/identity, mode 0600); an https://
 *           console is trusted by the pin of its public key given with the token
 *   run     heartbeat with inventory, scan the given paths (at start and every --scan-every),
 *           queue every detection on disk (STATE/queue.db) and send the queue, removing events
 *           only when the server has stored them; --once does one round (for tests and cron).
 *           The heartbeat's reply carries the unit's policy, kept in STATE/policy.json: its
 *           scan plan (monthly or quarterly, day and hour, paths, exclusions) runs when due
 *           (kh_plan_due), once per window, and STATE/plan-scan records when it last did.
 *           With --mirror URL (and --trust-dir), signatures are updated at start and then every
 *           policy update_interval (signed packages, lib/update), and the engine is reloaded.
 *           The policy's action "quarantine" moves detected files into STATE/quarantine (or
 *           --quarantine DIR); its realtime switch and realtime_paths start real-time
 *           protection (agent_realtime.c), whose detections are sent within a second or two.
 *           Commands in the reply (scan now, update now, quarantine restore or delete) are
 *           run once each, their results kept in STATE/commands.json until reported. The
 *           queue holds at most --queue-max events; what it had to drop is reported in every
 *           heartbeat. It always runs in the foreground (--foreground is accepted for
 *           service managers and tests that say so)
 *   post    send one signed JSON body (for administrators and tests)
 *   unit    a systemd service running "agent run" with these options (low priority, restarted
 *           on failure but not once revoked, read-only /usr, /boot and /etc)
 *
 * Scans run at low priority (nice 10, idle I/O class). A refused request (revoked endpoint,
 * bad signature) stops the agent with the server's reason; a server that cannot be reached is
 * retried on the next round with nothing lost.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <khien/khien.h>
#include <khien/console.h>
#include <khien/quarantine.h>
#include "agent.h"

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static int has(int argc, char **argv, const char *name)
{
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], name))
            return 1;
    return 0;
}

/* Are all arguments from argv[2] known options (valued: each takes a value; flags: none)?
 * 0, or -1 after saying which one is not. */
static int check_opts(int argc, char **argv, const char *const *valued, const char *const *flags)
{
    for (int i = 2; i < argc; i++) {
        int known = 0;
        for (const char *const *v = valued; *v && !known; v++)
            if (!strcmp(argv[i], *v)) {
                known = 1;
                if (++i >= argc) {
                    fprintf(stderr, "khien agent %s: %s needs a value\n", argv[1], *v);
                    return -1;
                }
            }
        for (const char *const *f = flags; *f && !known; f++)
            known = !strcmp(argv[i], *f);
        if (!known) {
            fprintf(stderr, "khien agent %s: unknown option or argument '%s' (see khien agent --help)\n", argv[1],
                    argv[i]);
            return -1;
        }
    }
    return 0;
}

static int save_identity(const char *state, const kh_agent_identity *id)
{
    char path[4200], hex[129];
    snprintf(path, sizeof(path), "%s/identity", state);
    mkdir(state, 0700);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    for (int i = 0; i < 64; i++)
        snprintf(hex + 2 * i, 3, "%02x", id->secret[i]);
    dprintf(fd, "endpoint=%lld\nsecret=%s\npin=%s\n", (long long)id->endpoint, hex, id->pin);
    int ok = fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

static int load_identity(const char *state, kh_agent_identity *id)
{
    char path[4200], hex[256];
    long long ep = 0;
    snprintf(path, sizeof(path), "%s/identity", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "endpoint=%lld\nsecret=%200s", &ep, hex) == 2 && strlen(hex) == 128 && ep > 0;
    memset(id->pin, 0, sizeof(id->pin));
    if (ok && fscanf(f, "\npin=%63s", id->pin) != 1)
        id->pin[0] = '\0';
    fclose(f);
    if (!ok)
        return -1;
    for (int i = 0; i < 64; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        id->secret[i] = (uint8_t)v;
    }
    id->endpoint = ep;
    return 0;
}

/* POST and read the reply; 0 ok, 1 server unreachable or failing (retry later), 2 refused. */
static int send_json_reply(const char *server, const kh_agent_identity *id, const char *path,
                           const char *json, char *why, size_t why_len, json_t **out_reply)
{
    long status = 0;
    char *reply = NULL, err[512] = "";
    kh_err e = kh_agent_post(server, id, path, json, &status, &reply, err, sizeof(err));
    if (e != KH_OK) {
        snprintf(why, why_len, "%s", err);
        return 1;
    }
    int rc = status == 200 ? 0 : status >= 500 ? 1 : 2;
    if (rc) {
        json_t *j = json_loads(reply, 0, NULL);
        const char *m = j ? json_string_value(json_object_get(j, "error")) : NULL;
        snprintf(why, why_len, "HTTP %ld: %s", status, m ? m : reply);
        json_decref(j);
    } else if (out_reply) {
        *out_reply = json_loads(reply, 0, NULL);
    }
    kh_free(reply);
    return rc;
}

static int send_json(const char *server, const kh_agent_identity *id, const char *path, const char *json,
                     char *why, size_t why_len)
{
    return send_json_reply(server, id, path, json, why, why_len, NULL);
}

/* Write j to STATE/name whole, then rename it into place; 0, or -1 with a message. */
static int save_state_json(const char *state, const char *name, json_t *j, size_t flags)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof(path), "%s/%s", state, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(j, tmp, flags) == 0 && rename(tmp, path) == 0)
        return 0;
    fprintf(stderr, "khien agent: cannot write %s\n", path);
    return -1;
}

/* Keep a scan's result in STATE/scans.json until the console has it (send_scans). */
static void record_scan(const char *state, int64_t started, const agent_scan *ctx, int64_t planned)
{
    char path[4200], uid[40];
    snprintf(path, sizeof(path), "%s/scans.json", state);
    snprintf(uid, sizeof(uid), "%lld-%ld", (long long)started, (long)getpid());
    json_t *arr = json_load_file(path, 0, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        arr = json_array();
    }
    json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "uid", uid, "started",
                                         (json_int_t)started, "finished", (json_int_t)time(NULL), "files",
                                         (json_int_t)ctx->files, "bytes", (json_int_t)ctx->bytes, "detections",
                                         (json_int_t)ctx->found, "planned", (json_int_t)planned));
    while (json_array_size(arr) > 100) /* an agent cut off for months keeps the latest 100 */
        json_array_remove(arr, 0);
    save_state_json(state, "scans.json", arr, JSON_COMPACT);
    json_decref(arr);
}

/* Send the kept scan results; 0 sent (or none), 1 retry later, 2 refused. */
static int send_scans(const char *server, const kh_agent_identity *id, const char *state, char *why, size_t why_len)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/scans.json", state);
    json_t *arr = json_load_file(path, 0, NULL);
    if (!json_array_size(arr)) {
        json_decref(arr);
        return 0;
    }
    json_t *body = json_pack("{s:o}", "scans", arr);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = text ? send_json(server, id, "/api/v1/scans", text, why, why_len) : 1;
    free(text);
    if (rc == 0)
        unlink(path);
    return rc;
}

/* The agent's state for one run. */
typedef struct agent {
    const char *server, *state, *db, *trust;
    char qdir[4200], qpath[4200];
    kh_agent_identity id;
    kh_queue *q;
    kh_engine_slot *slot; /* the engine, loaded when first needed */
    const char *mirrors[8];
    size_t nmirrors;
    time_t next_update;
    size_t queue_max; /* --queue-max */
    char *paths[64]; /* --scan */
    int npaths;
    int64_t last_scan;
    agent_rt *rt; /* real-time protection, when the policy turns it on */
} agent;

static kh_engine *load_engine(const char *db);

/* The engine with a reference of the caller's, loading it first if needed; NULL when there is
 * no usable database. */
static kh_engine *engine_get(agent *a)
{
    if (!a->slot) {
        kh_engine *e = load_engine(a->db);
        if (!e)
            return NULL;
        kh_err err = kh_engine_slot_create(e, &a->slot);
        kh_engine_release(e);
        if (err != KH_OK)
            return NULL;
    }
    return kh_engine_slot_acquire(a->slot);
}

/* Scan paths at low priority, queue detections, keep the scan's result for the console. */
static int scan_paths(agent *a, char **paths, int npaths, json_t *exclude, int quarantine, int64_t planned,
                      agent_scan *out)
{
    kh_scanner *sc = NULL;
    agent_scan ctx = {a->q, exclude, a->qdir, quarantine, 0, 0, 0, NULL};
    int64_t started = (int64_t)time(NULL);
    kh_engine *engine = engine_get(a);
    kh_err e = engine ? kh_scanner_create(engine, NULL, &sc) : KH_ENOENT;
    kh_engine_release(engine);
    if (e != KH_OK)
        return -1;
    static int lowered; /* once: nice() adds up, and this thread only scans and reports */
    if (!lowered) {
        lowered = 1;
        if (nice(10) == -1 && errno) {
            /* not fatal: scan at normal priority */
        }
#ifdef SYS_ioprio_set
        syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
#endif
    }
    for (int i = 0; i < npaths; i++)
        agent_scan_tree(sc, &ctx, paths[i]);
    kh_scanner_destroy(sc);
    record_scan(a->state, started, &ctx, planned);
    *out = ctx;
    return 0;
}

static int quarantine_on(json_t *pol)
{
    const char *action = json_string_value(json_object_get(pol, "action"));
    return action && !strcmp(action, "quarantine");
}

static char *inventory(const char *dbdir, int64_t last_scan, int realtime, kh_queue *q)
{
    char host[256] = "", os[300] = "";
    struct utsname u;
    gethostname(host, sizeof(host) - 1);
    if (uname(&u) == 0)
        snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
    kh_db_state st;
    memset(&st, 0, sizeof(st));
    int64_t sig_time = 0;
    if (dbdir && kh_db_state_get(dbdir, &st) == KH_OK && st.version) {
        struct stat sb;
        char m[4300];
        snprintf(m, sizeof(m), "%s/manifest.json", st.path);
        if (stat(m, &sb) == 0)
            sig_time = (int64_t)sb.st_mtime;
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:I, s:I}", "hostname", host, "os", os,
                          "agent_version", KH_VERSION_STRING, "engine_version", KH_VERSION_STRING,
                          "sig_version", (json_int_t)st.version, "sig_time", (json_int_t)sig_time,
                          "last_full_scan", (json_int_t)last_scan, "realtime", realtime, "queue_length",
                          (json_int_t)kh_queue_length(q), "queue_dropped", (json_int_t)kh_queue_dropped(q));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

/* Send what the queue holds; 0 all sent, 1 retry later, 2 refused. */
static int flush(const char *server, const kh_agent_identity *id, kh_queue *q, char *why, size_t why_len)
{
    for (;;) {
        char *arr = NULL;
        int64_t last = 0;
        size_t n = 0;
        if (kh_queue_peek(q, 500, &arr, &last, &n) != KH_OK)
            return 1;
        if (!n) {
            kh_free(arr);
            return 0;
        }
        size_t bl = strlen(arr) + 32;
        char *body = malloc(bl);
        if (!body) {
            kh_free(arr);
            return 1;
        }
        snprintf(body, bl, "{\"events\":%s}", arr);
        kh_free(arr);
        int rc = send_json(server, id, "/api/v1/events", body, why, why_len);
        free(body);
        if (rc)
            return rc;
        kh_queue_ack(q, last);
    }
}

/* The unit's policy as the server last sent it (STATE/policy.json), or NULL. */
static json_t *load_policy(const char *state)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/policy.json", state);
    return json_load_file(path, 0, NULL);
}

/* Keep a policy the server sent, replacing the file atomically when it changed. */
static void save_policy(const char *state, json_t *policy)
{
    json_t *old = load_policy(state);
    int same = old && json_equal(old, policy);
    json_decref(old);
    if (same || !json_is_object(policy))
        return;
    if (save_state_json(state, "policy.json", policy, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
        printf("policy updated\n");
}

/* When the last planned scan finished (STATE/plan-scan), 0 if never. */
static int64_t read_stamp(const char *state)
{
    char path[4200], line[32] = "";
    uint64_t v = 0;
    snprintf(path, sizeof(path), "%s/plan-scan", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fgets(line, sizeof(line), f))
        line[strcspn(line, "\n")] = '\0';
    fclose(f);
    return cli_parse_uint(line, INT64_MAX, &v) == 0 ? (int64_t)v : 0;
}

static void write_stamp(const char *state, int64_t t)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof(path), "%s/plan-scan", state);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%lld\n", (long long)t) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "khien agent: cannot write %s\n", path);
}

static kh_engine *load_engine(const char *db)
{
    char managed[4300];
    kh_engine *engine = NULL;
    kh_err e = kh_engine_create(NULL, &engine);
    if (e == KH_OK)
        e = kh_engine_load(engine, cli_db_path(db ? db : cli_default_update_dir(), managed, sizeof(managed)));
    if (e == KH_OK)
        e = kh_engine_compile(engine);
    if (e != KH_OK) {
        fprintf(stderr, "khien agent: no usable signature database (%s)\n", kh_strerror(e));
        kh_engine_release(engine);
        return NULL;
    }
    return engine;
}

/* The strings of a JSON list of paths (borrowed from it), at most 64; their count. */
static int path_list(json_t *list, char *out[64])
{
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (n < 64 && json_string_value(v))
            out[n++] = (char *)json_string_value(v);
    }
    return n;
}

/* Run the unit's planned scan when it is due; 1 when it ran. */
static int planned_scan(agent *a, json_t *pol)
{
    json_t *plan = json_object_get(pol, "scan_plan");
    json_t *paths = json_object_get(plan, "paths");
    const char *every = json_string_value(json_object_get(plan, "every"));
    if (!json_array_size(paths))
        return 0;
    int64_t now = (int64_t)time(NULL), planned = 0;
    int due = kh_plan_due(every, (int)json_integer_value(json_object_get(plan, "day")),
                          (int)json_integer_value(json_object_get(plan, "hour")), read_stamp(a->state), now, &planned);
    if (due < 0)
        fprintf(stderr, "khien agent: the policy's scan plan is not valid; no planned scan\n");
    if (due != 1)
        return 0;
    char *p[64];
    int n = path_list(paths, p);
    agent_scan res;
    if (scan_paths(a, p, n, json_object_get(plan, "exclude"), quarantine_on(pol), planned, &res) != 0)
        return 0;
    a->last_scan = (int64_t)time(NULL);
    write_stamp(a->state, a->last_scan);
    printf("planned scan done (every %s, planned %lld, %d path(s)): %u detection(s) queued\n", every,
           (long long)planned, n, res.found);
    return 1;
}

/* Update the signatures from the mirrors when the policy's interval has passed (or now, with
 * force), reloading the engine when a new version was installed. 1 updated, 0 up to date or
 * not due, -1 failed; what happened goes to msg. */
static int maybe_update(agent *a, json_t *pol, int force, char *msg, size_t msg_len)
{
    snprintf(msg, msg_len, "%s", a->nmirrors ? "not due" : "no mirror configured (khien agent run --mirror URL)");
    if (!a->nmirrors || (!force && time(NULL) < a->next_update))
        return a->nmirrors ? 0 : -1;
    json_int_t iv = json_integer_value(json_object_get(pol, "update_interval"));
    if (iv < 300)
        iv = 3600;
    kh_update_opts o = {a->mirrors, a->nmirrors, a->db ? a->db : cli_default_update_dir(), a->trust, NULL, 0, 0};
    kh_update_result r;
    char err[1024] = "";
    kh_err e = kh_update_run(&o, &r, err, sizeof(err));
    if (e != KH_OK) {
        snprintf(msg, msg_len, "signature update failed: %s", err[0] ? err : kh_strerror(e));
        fprintf(stderr, "khien agent: %s; retry in 5 minutes\n", msg);
        a->next_update = time(NULL) + 300;
        return -1;
    }
    a->next_update = time(NULL) + (time_t)iv;
    if (r.up_to_date) {
        snprintf(msg, msg_len, "signatures up to date (version %llu)", (unsigned long long)r.install.to_version);
        return 0;
    }
    snprintf(msg, msg_len, "signatures updated to version %llu from %s", (unsigned long long)r.install.to_version,
             r.mirror);
    printf("%s\n", msg);
    if (a->slot) {
        kh_engine *fresh = load_engine(a->db); /* the old engine stays if the new one fails */
        if (fresh) {
            kh_engine_slot_replace(a->slot, fresh);
            kh_engine_release(fresh);
        }
    }
    return 1;
}

/* Start, restart or stop real-time protection as the policy says. */
static void realtime_follow(agent *a, json_t *pol)
{
    json_t *paths = json_object_get(pol, "realtime_paths");
    int want = json_is_true(json_object_get(pol, "realtime")) && json_array_size(paths);
    int quarantine = quarantine_on(pol);
    if (a->rt && want && agent_rt_same(a->rt, paths, quarantine))
        return;
    if (a->rt) {
        agent_rt_stop(a->rt);
        a->rt = NULL;
        printf("real-time protection off\n");
    }
    if (!want)
        return;
    kh_engine *e = engine_get(a);
    kh_engine_release(e);
    char err[512] = "";
    if (e && (a->rt = agent_rt_start(a->slot, a->qpath, a->queue_max, a->qdir, quarantine, paths, err, sizeof(err))))
        printf("real-time protection on (%s), %zu path(s)\n", agent_rt_method(a->rt), json_array_size(paths));
    else
        fprintf(stderr, "khien agent: real-time protection cannot start: %s\n", e ? err : "no signatures");
}

/* ---- commands from the console ---- */

typedef struct entry_find {
    const char *id;
    char path[4096];
} entry_find;

static int find_entry(void *ud, const kh_qentry *e)
{
    entry_find *f = ud;
    if (strcmp(e->id, f->id) != 0)
        return 0;
    snprintf(f->path, sizeof(f->path), "%s", e->original_path);
    return 1;
}

/* Do one command; ok 1/0 and what happened into detail. */
static int run_command(agent *a, json_t *pol, const char *kind, json_t *args, char *detail, size_t len)
{
    if (!strcmp(kind, "scan")) {
        json_t *plan = json_object_get(pol, "scan_plan"), *given = json_object_get(args, "paths");
        json_t *list = json_array_size(given) ? given : json_object_get(plan, "paths");
        char *p[64];
        int n = path_list(list, p);
        for (int k = 0; !n && k < a->npaths; k++)
            p[n++] = a->paths[k];
        if (!n) {
            snprintf(detail, len, "nothing to scan: no paths in the command, the scan plan or --scan");
            return 0;
        }
        agent_scan res;
        if (scan_paths(a, p, n, list == given ? NULL : json_object_get(plan, "exclude"), quarantine_on(pol), 0,
                       &res) != 0) {
            snprintf(detail, len, "no usable signature database");
            return 0;
        }
        a->last_scan = (int64_t)time(NULL);
        snprintf(detail, len, "scanned %lld file(s), %lld byte(s): %u detection(s)", (long long)res.files,
                 (long long)res.bytes, res.found);
        return 1;
    }
    if (!strcmp(kind, "update"))
        return maybe_update(a, pol, 1, detail, len) >= 0;
    const char *qid = json_string_value(json_object_get(args, "id"));
    if (qid && !strcmp(kind, "quarantine_restore")) {
        const char *to = json_string_value(json_object_get(args, "to"));
        char why[512] = "";
        entry_find f = {qid, ""};
        if (a->rt) { /* real-time protection must not take it back at once */
            if (!to)
                kh_quarantine_list(a->qdir, find_entry, &f, NULL);
            if (to || f.path[0])
                agent_rt_ignore_once(a->rt, to ? to : f.path);
        }
        kh_err e = kh_quarantine_restore(a->qdir, qid, to, why, sizeof(why));
        snprintf(detail, len, e == KH_OK ? "restored%s%s" : "not restored: %s%s", e == KH_OK && to ? " to " : "",
                 e == KH_OK ? (to ? to : "") : (why[0] ? why : kh_strerror(e)));
        return e == KH_OK;
    }
    if (qid && !strcmp(kind, "quarantine_delete")) {
        kh_err e = kh_quarantine_delete(a->qdir, qid);
        snprintf(detail, len, e == KH_OK ? "deleted" : "not deleted: %s", kh_strerror(e));
        return e == KH_OK;
    }
    snprintf(detail, len, "this agent does not know the command '%s'", kind);
    return 0;
}

/* Do the commands of a heartbeat's reply not done before (STATE/commands.json keeps results
 * until the console has them, so a command delivered again is reported, not run again). */
static void run_commands(agent *a, json_t *pol, json_t *cmds)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/commands.json", a->state);
    json_t *done = json_load_file(path, 0, NULL);
    if (!json_is_object(done)) {
        json_decref(done);
        done = json_object();
    }
    size_t i;
    json_t *c;
    json_array_foreach(cmds, i, c)
    {
        char key[32], detail[1024];
        const char *kind = json_string_value(json_object_get(c, "kind"));
        json_int_t id = json_integer_value(json_object_get(c, "id"));
        snprintf(key, sizeof(key), "%lld", (long long)id);
        if (!kind || id <= 0 || json_object_get(done, key))
            continue;
        int ok = run_command(a, pol, kind, json_object_get(c, "args"), detail, sizeof(detail));
        printf("command %lld (%s): %s\n", (long long)id, kind, detail);
        json_object_set_new(done, key, json_pack("{s:I, s:b, s:s}", "id", id, "ok", ok, "detail", detail));
        save_state_json(a->state, "commands.json", done, JSON_COMPACT); /* before anything else can fail */
    }
    json_decref(done);
}

/* Report the kept command results; 0 sent (or none), 1 retry later. A result the console
 * refuses (a command it no longer has) is dropped with a warning. */
static int send_command_results(agent *a, char *why, size_t why_len)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/commands.json", a->state);
    json_t *done = json_load_file(path, 0, NULL), *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(done, k, v)
    {
        json_array_append(arr, v);
    }
    json_decref(done);
    if (!json_array_size(arr)) {
        json_decref(arr);
        return 0;
    }
    json_t *body = json_pack("{s:o}", "results", arr);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = text ? send_json(a->server, &a->id, "/api/v1/commands", text, why, why_len) : 1;
    free(text);
    if (rc == 2)
        fprintf(stderr, "khien agent: the console refused command results, dropped: %s\n", why);
    if (rc != 1)
        unlink(path);
    return rc == 1;
}

static int agent_run(int argc, char **argv)
{
    static const char *const valued[] = {"--server", "--state", "--db", "--interval", "--scan-every", "--scan",
                                         "--mirror", "--trust-dir", "--quarantine", "--queue-max", NULL};
    static const char *const flags[] = {"--once", "--foreground", NULL};
    if (check_opts(argc, argv, valued, flags) != 0)
        return 2;
    agent a;
    memset(&a, 0, sizeof(a));
    a.server = opt(argc, argv, "--server", NULL);
    a.state = opt(argc, argv, "--state", "/var/lib/khien/agent");
    a.db = opt(argc, argv, "--db", NULL);
    a.trust = opt(argc, argv, "--trust-dir", cli_default_trust_dir());
    uint64_t interval = 60, scan_every = 0;
    cli_parse_uint(opt(argc, argv, "--interval", "60"), 86400, &interval);
    cli_parse_uint(opt(argc, argv, "--scan-every", "0"), 86400 * 366, &scan_every);
    int once = has(argc, argv, "--once");
    for (int i = 2; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--scan") && a.npaths < 64)
            a.paths[a.npaths++] = argv[++i];
        else if (!strcmp(argv[i], "--mirror") && a.nmirrors < 8)
            a.mirrors[a.nmirrors++] = argv[++i];
    }
    if (!a.server || load_identity(a.state, &a.id) != 0) {
        fprintf(stderr, "khien agent run: needs --server URL and an identity in %s (khien agent enrol)\n", a.state);
        return 2;
    }
    char why[1024], msg[1024];
    snprintf(a.qpath, sizeof(a.qpath), "%s/queue.db", a.state);
    snprintf(a.qdir, sizeof(a.qdir), "%s", opt(argc, argv, "--quarantine", ""));
    if (!a.qdir[0])
        snprintf(a.qdir, sizeof(a.qdir), "%s/quarantine", a.state);
    uint64_t qmax = 0;
    if (cli_parse_uint(opt(argc, argv, "--queue-max", "0"), 100000000, &qmax) != 0) {
        fprintf(stderr, "khien agent run: --queue-max must be a number of events\n");
        return 2;
    }
    a.queue_max = (size_t)qmax;
    if (kh_queue_open(a.qpath, a.queue_max, &a.q) != KH_OK) {
        fprintf(stderr, "khien agent: cannot open the queue %s\n", a.qpath);
        return 1;
    }
    json_t *pol = load_policy(a.state); /* the policy as last received; each round reads it again */
    maybe_update(&a, pol, 0, msg, sizeof(msg)); /* a new endpoint starts with signatures */
    json_decref(pol);
    if (a.npaths) {
        kh_engine *e = engine_get(&a);
        if (!e) {
            kh_queue_close(a.q);
            return 1;
        }
        kh_engine_release(e);
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    int status = 0;
    time_t next_scan = 0;
    a.last_scan = read_stamp(a.state);
    while (!stop_flag) {
        pol = load_policy(a.state);
        maybe_update(&a, pol, 0, msg, sizeof(msg));
        if (!once)
            realtime_follow(&a, pol);
        if (a.npaths && time(NULL) >= next_scan) {
            agent_scan res;
            if (scan_paths(&a, a.paths, a.npaths, NULL, quarantine_on(pol), 0, &res) == 0)
                printf("scan done: %u detection(s) queued\n", res.found);
            a.last_scan = (int64_t)time(NULL);
            next_scan = scan_every ? time(NULL) + (time_t)scan_every : (time_t)INT64_MAX;
        }
        planned_scan(&a, pol);
        char *inv = inventory(a.db || a.slot || a.nmirrors ? (a.db ? a.db : cli_default_update_dir()) : NULL,
                              a.last_scan, a.rt != NULL, a.q);
        json_t *reply = NULL;
        int rc = inv ? send_json_reply(a.server, &a.id, "/api/v1/heartbeat", inv, why, sizeof(why), &reply) : 1;
        free(inv);
        if (rc == 0 && json_is_object(json_object_get(reply, "policy"))) {
            save_policy(a.state, json_object_get(reply, "policy"));
            json_decref(pol);
            pol = load_policy(a.state);
        }
        if (rc == 0)
            run_commands(&a, pol, json_object_get(reply, "commands"));
        json_decref(reply);
        json_decref(pol);
        if (rc == 0)
            rc = flush(a.server, &a.id, a.q, why, sizeof(why));
        if (rc == 0)
            rc = send_scans(a.server, &a.id, a.state, why, sizeof(why));
        if (rc == 0)
            rc = send_command_results(&a, why, sizeof(why));
        if (rc == 2) {
            fprintf(stderr, "khien agent: the server refused this endpoint: %s\n", why);
            status = 3;
            break;
        }
        if (rc == 1) {
            fprintf(stderr, "khien agent: server not reachable, %zu event(s) kept: %s\n", kh_queue_length(a.q), why);
            status = once ? 1 : 0;
        } else {
            printf("reported; queue empty\n");
            status = 0;
        }
        fflush(stdout);
        if (once)
            break;
        /* real-time detections are sent within a second or two rather than at the next beat */
        for (uint64_t s = 0; s < interval && !stop_flag; s++) {
            sleep(1);
            if (a.rt && kh_queue_length(a.q) && flush(a.server, &a.id, a.q, why, sizeof(why)) == 0)
                fflush(stdout);
        }
    }
    agent_rt_stop(a.rt);
    kh_engine_slot_destroy(a.slot);
    kh_queue_close(a.q);
    return status;
}

/* One argument of ExecStart=, quoted for systemd: "...", with \\ and \" escaped, % as %% and $ as
 * $$ (no specifier or variable expansion). 0, or -1 for a byte no unit file can carry. */
static int unit_arg(FILE *f, const char *a)
{
    for (const char *p = a; *p; p++)
        if (*p == '\n' || *p == '\r')
            return -1;
    fputc('"', f);
    for (const char *p = a; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc('\\', f);
        if (*p == '%' || *p == '$')
            fputc(*p, f);
        fputc(*p, f);
    }
    fputc('"', f);
    return 0;
}

/* "khien agent unit": a systemd service for this agent, to stdout or -o FILE (written whole,
 * then renamed into place). */
static int agent_unit(int argc, char **argv)
{
    const char *server = opt(argc, argv, "--server", NULL), *state = opt(argc, argv, "--state", "/var/lib/khien/agent");
    const char *db = opt(argc, argv, "--db", NULL), *out = opt(argc, argv, "-o", NULL);
    const char *interval = opt(argc, argv, "--interval", NULL);
    char self[4096], tmp[4200];
    uint64_t iv = 0;
    if (!server) {
        fprintf(stderr, "usage: khien agent unit --server URL [--state DIR] [--db DIR] [--interval SECONDS]\n"
                        "                        [--scan PATH]... [--mirror URL]... [--trust-dir DIR] [--quarantine DIR]\n"
                        "                        [-o FILE]\n");
        return 2;
    }
    if (interval && cli_parse_uint(interval, 86400, &iv) != 0) {
        fprintf(stderr, "khien agent unit: --interval %s: not a number of seconds up to 86400\n", interval);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strpbrk(argv[i], "\r\n")) {
            fprintf(stderr, "khien agent unit: argument %d holds a line break, which a unit file cannot carry\n", i);
            return 2;
        }
    if (state[0] != '/' || (db && db[0] != '/')) {
        fprintf(stderr, "khien agent unit: --state and --db must be absolute paths in a service\n");
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "khien agent unit: cannot find this program's own path: %s\n", strerror(errno));
        return 1;
    }
    self[n] = '\0';
    if (out)
        snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    FILE *f = out ? fopen(tmp, "w") : stdout;
    if (!f) {
        fprintf(stderr, "khien agent unit: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    fprintf(f, "# khien-agent.service, written by \"khien agent unit\"\n"
               "[Unit]\n"
               "Description=Khiên endpoint agent: heartbeat, planned scans, detections to the console\n"
               "After=network-online.target\n"
               "Wants=network-online.target\n\n"
               "[Service]\n"
               "Type=simple\n"
               "ExecStart=");
    int bad = unit_arg(f, self);
    const char *fixed[] = {"agent", "run", "--server", server, "--state", state};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        fputc(' ', f);
        bad |= unit_arg(f, fixed[i]);
    }
    if (db) {
        fputs(" \"--db\" ", f);
        bad |= unit_arg(f, db);
    }
    if (interval) {
        fputs(" \"--interval\" ", f);
        bad |= unit_arg(f, interval);
    }
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--scan") || !strcmp(argv[i], "--mirror") || !strcmp(argv[i], "--trust-dir") ||
            !strcmp(argv[i], "--quarantine")) {
            fputc(' ', f);
            bad |= unit_arg(f, argv[i]);
            fputc(' ', f);
            bad |= unit_arg(f, argv[++i]);
        }
    fputs("\n# exit status 3: the console refused this endpoint (revoked): do not retry\n"
          "Restart=on-failure\n"
          "RestartSec=30\n"
          "RestartPreventExitStatus=3\n"
          "Nice=10\n"
          "IOSchedulingClass=idle\n"
          "NoNewPrivileges=yes\n"
          "PrivateTmp=yes\n"
          "# /usr, /boot and /etc read-only; home directories stay writable: a detected download\n"
          "# there must be movable into the quarantine\n"
          "ProtectSystem=full\n"
          "ReadWritePaths=", f);
    bad |= unit_arg(f, state);
    if (db) {
        fputc(' ', f);
        bad |= unit_arg(f, db);
    }
    fputs("\n\n[Install]\nWantedBy=multi-user.target\n", f);
    if (!out)
        return bad ? (fprintf(stderr, "khien agent unit: an argument holds a line break\n"), 1) : 0;
    int werr = ferror(f) | fclose(f);
    if (bad || werr || rename(tmp, out) != 0) {
        fprintf(stderr, "khien agent unit: %s: %s\n", out,
                bad ? "an argument holds a line break" : strerror(errno));
        unlink(tmp);
        return 1;
    }
    printf("wrote %s; then: systemctl daemon-reload && systemctl enable --now %s\n", out,
           strrchr(out, '/') ? strrchr(out, '/') + 1 : out);
    return 0;
}

int cmd_agent(int argc, char **argv)
{
    char err[1024] = "";
    const char *state = opt(argc, argv, "--state", "/var/lib/khien/agent");
    if (argc >= 2 && !strcmp(argv[1], "enrol")) {
        const char *server = opt(argc, argv, "--server", NULL), *token = opt(argc, argv, "--token", NULL);
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        const char *hn = opt(argc, argv, "--hostname", host);
        kh_agent_identity id;
        if (!server || !token) {
            fprintf(stderr, "usage: khien agent enrol --server URL --token TOKEN [--pin sha256//...] [--state DIR]\n"
                            "                         [--hostname NAME]\n");
            return 2;
        }
        kh_agent_identity old;
        if (load_identity(state, &old) == 0) {
            fprintf(stderr, "khien agent: %s holds an identity already (endpoint %lld)\n", state, (long long)old.endpoint);
            return 1;
        }
        kh_err e = kh_agent_enrol(server, token, opt(argc, argv, "--pin", NULL), hn, &id, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien agent enrol: %s\n", err);
            return 1;
        }
        if (save_identity(state, &id) != 0) {
            fprintf(stderr, "khien agent enrol: cannot write %s/identity\n", state);
            return 1;
        }
        printf("enrolled as endpoint %lld\n", (long long)id.endpoint);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return agent_run(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "unit"))
        return agent_unit(argc, argv);
    if (argc >= 4 && !strcmp(argv[1], "post")) {
        kh_agent_identity id;
        const char *server = opt(argc, argv, "--server", NULL);
        if (!server || load_identity(state, &id) != 0) {
            fprintf(stderr, "khien agent post: needs --server URL and an identity in %s\n", state);
            return 2;
        }
        long status = 0;
        char *reply = NULL;
        if (kh_agent_post(server, &id, argv[argc - 2], argv[argc - 1], &status, &reply, err, sizeof(err)) != KH_OK) {
            fprintf(stderr, "khien agent post: %s\n", err);
            return 1;
        }
        printf("%ld %s\n", status, reply);
        kh_free(reply);
        return status == 200 ? 0 : 1;
    }
    fputs("usage: khien agent enrol --server URL --token TOKEN [--pin sha256//...] [--state DIR]\n"
          "       khien agent run --server URL [--state DIR] [--db DIR] [--scan PATH]...\n"
          "                       [--scan-every SECONDS] [--interval SECONDS] [--once | --foreground]\n"
          "                       [--mirror URL]... [--trust-dir DIR]   (signature updates)\n"
          "                       [--quarantine DIR]   (default STATE/quarantine)\n"
          "                       [--queue-max N]   (events kept while the console is away; 100000)\n"
          "       khien agent post --server URL [--state DIR] PATH JSON\n"
          "       khien agent unit --server URL [--state DIR] [--db DIR] [--interval SECONDS]\n"
          "                        [--scan PATH]... [--mirror URL]... [--trust-dir DIR] [--quarantine DIR]\n"
          "                        [-o FILE]   (a systemd service)\n"
          "STATE defaults to /var/lib/khien/agent (identity and event queue).\n",
          argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
    return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
}
