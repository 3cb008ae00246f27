/*
 * cmd_dns.c - "khien dns": find infected subscribers in DNS resolver logs, score names for DGA,
 * write RPZ zones, train the DGA model.
 *
 *   khien dns scan [-l LIST]... [-a ALLOW]... [--format F] [--json|--csv] [-j N] LOG...
 *   khien dns score [--model M]            names on stdin -> name<TAB>score<TAB>verdict
 *   khien dns rpz [-l LIST]... [-a ALLOW]... -o ZONE [--origin O] [--sinkhole ADDR]
 *   khien dns train -b BENIGN... -g DGA... [-o MODEL] [--holdout FAM,...]
 *   khien dns watch [-l LIST]... [-a ALLOW]... [--format F] LOG    follow a growing log
 *   khien dns watch [-l LIST]... --dnstap-socket PATH | --dnstap-tcp ADDR:PORT   live dnstap
 *
 * scan reads every log with its own reader (format named or detected per file); with -j N the
 * files are shared among N threads, each with its own analyzer, merged at the end. The report
 * is one line per infected client (or JSON lines / CSV) and a summary. Exit status: 1 if an
 * infected client was found, 2 on errors only, 0 otherwise.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <khien/dns.h>
#include <khien/khien.h>

#ifndef KH_DATADIR
#define KH_DATADIR "/usr/local/share/khien"
#endif

/* ---- shared: loading lists, diagnostics ---- */

typedef struct lists {
    const char **block, **allow;
    size_t nblock, nallow;
} lists;

static int add_arg(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc((void *)*v, (*n + 1) * sizeof(char *));
    if (!nv)
        return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

typedef struct diagctx {
    const char *cmd;
    unsigned shown;
    int quiet;
} diagctx;

static void on_list_diag(void *ud, const char *file, uint64_t line, const char *msg)
{
    diagctx *d = ud;
    if (!d->quiet && d->shown++ < 10)
        fprintf(stderr, "khien dns %s: %s:%llu: rejected: %s\n", d->cmd, file, (unsigned long long)line, msg);
}

static int load_lists(const char *cmd, const lists *l, int quiet, kh_dns_indset **out)
{
    kh_dns_indset *set = NULL;
    if (kh_dns_indset_create(&set) != KH_OK) {
        fprintf(stderr, "khien dns %s: out of memory\n", cmd);
        return -1;
    }
    diagctx d = {cmd, 0, quiet};
    for (size_t i = 0; i < l->nblock + l->nallow; i++) {
        int allow = i >= l->nblock;
        const char *p = allow ? l->allow[i - l->nblock] : l->block[i];
        kh_err err = kh_dns_indset_load(set, p, KH_DNS_LIST_AUTO, NULL, allow, on_list_diag, &d);
        if (err != KH_OK) {
            fprintf(stderr, "khien dns %s: cannot load %s: %s\n", cmd, p, kh_strerror(err));
            kh_dns_indset_destroy(set);
            return -1;
        }
    }
    kh_dns_indset_stats st;
    kh_dns_indset_get_stats(set, &st);
    if (d.shown > 10)
        fprintf(stderr, "khien dns %s: %llu list line(s) rejected in all\n", cmd, (unsigned long long)st.rejected);
    *out = set;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void iso(int64_t ms, char *buf, size_t n)
{
    if (ms < 0) {
        snprintf(buf, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *default_model(void)
{
    const char *env = getenv("KHIEN_DNS_MODEL");
    if (env && *env)
        return env;
    static const char *const cands[] = {KH_DATADIR "/dns/dga.model", "/usr/share/khien/dns/dga.model",
                                        "data/dns/dga.model"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return NULL;
}

static kh_dns_dga *load_model(const char *cmd, const char *path, int required)
{
    if (!path)
        path = default_model();
    if (!path) {
        if (required)
            fprintf(stderr, "khien dns %s: no DGA model (give --model, set KHIEN_DNS_MODEL, or install "
                            "data/dns/dga.model)\n", cmd);
        else
            fprintf(stderr, "khien dns %s: no DGA model found, DGA scoring is off (see --model)\n", cmd);
        return NULL;
    }
    kh_dns_dga *m = NULL;
    char err[512] = "";
    kh_err e = kh_dns_dga_load(path, &m, err, sizeof(err));
    if (e != KH_OK)
        fprintf(stderr, "khien dns %s: cannot load model %s: %s\n", cmd, path, *err ? err : kh_strerror(e));
    return m;
}

/* An FPR asked for with --dga-set-fpr must be one the model holds thresholds for: 0 or -1
 * (said why). */
static int check_set_fpr(const char *cmd, const kh_dns_dga *m, double fpr)
{
    const double *lv = NULL;
    size_t n = kh_dns_dga_set_levels(m, &lv);
    for (size_t i = 0; i < n; i++)
        if (lv[i] == fpr)
            return 0;
    if (n == 0) {
        fprintf(stderr, "khien dns %s: the model has no set thresholds (format 2): retrain it, or use "
                        "--no-dga-sets\n", cmd);
        return -1;
    }
    fprintf(stderr, "khien dns %s: --dga-set-fpr: the model holds thresholds for", cmd);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s %g", i ? "," : "", lv[i]);
    fprintf(stderr, ", not %g\n", fpr);
    return -1;
}

/* ---- STIX 2.1 ---- */

/* A deterministic UUID (version 5 layout) from a text: the same indicator keeps its id. */
static void stix_id(const char *type, const char *text, char *out, size_t n)
{
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    for (const char *p = type; *p; p++)
        h1 = (h1 ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = text; *p; p++) {
        h1 = (h1 ^ (unsigned char)*p) * 1099511628211ULL;
        h2 = (h2 ^ (unsigned char)*p) * 0xff51afd7ed558ccdULL;
        h2 ^= h2 >> 29;
    }
    snprintf(out, n, "%s--%08x-%04x-5%03x-%04x-%012llx", type, (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffff,
             (unsigned)h1 & 0xfff, (unsigned)(0x8000 | ((h2 >> 48) & 0x3fff)),
             (unsigned long long)(h2 & 0xffffffffffffULL));
}

static void stix_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)((ms < 0 ? 0 : ms) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03dZ", b, (int)((ms < 0 ? 0 : ms) % 1000));
}

/* The client's network: IPv4 /24, IPv6 /48 (a subscriber's site), else the address. */
static void client_net(const char *addr, char *out, size_t n)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, addr, a) == 1) {
        snprintf(out, n, "%u.%u.%u.0/24", a[0], a[1], a[2]);
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        memset(a + 6, 0, 10);
        char t[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, a, t, sizeof(t));
        snprintf(out, n, "%s/48", t);
    } else {
        snprintf(out, n, "%s", addr);
    }
}

typedef struct stix_ctx {
    json_t *objs;  /* array of the bundle */
    json_t *seen;  /* id -> object, to add each indicator/malware/identity once */
    json_t *sight; /* "indicator|network" -> sighting object */
    const kh_dns_indset *set;
    const char *creator, *now;
} stix_ctx;

static json_t *stix_once(stix_ctx *x, const char *id, json_t *obj)
{
    json_t *o = json_object_get(x->seen, id);
    if (o) {
        json_decref(obj);
        return o;
    }
    json_object_set_new(x->seen, id, obj);
    json_array_append(x->objs, obj);
    return obj;
}

static int stix_client(void *ud, const kh_dns_client *c)
{
    stix_ctx *x = ud;
    char net[96], netid[128], first[40], last[40];
    client_net(c->client, net, sizeof(net));
    stix_id("identity", net, netid, sizeof(netid));
    stix_time(c->first_ms, first, sizeof(first));
    stix_time(c->last_ms >= c->first_ms ? c->last_ms : c->first_ms, last, sizeof(last));
    for (size_t i = 0; i < c->nhits; i++) {
        const char *fam = NULL, *dom = NULL;
        size_t dl = 0;
        if (!kh_dns_indset_match(x->set, c->hits[i].name, strlen(c->hits[i].name), &fam, &dom, &dl))
            continue; /* a DGA-scored name: not an indicator of a list */
        char name[KH_DNS_NAME_MAX + 1], iid[128], mid[128], pat[KH_DNS_NAME_MAX + 32], key[512];
        snprintf(name, sizeof(name), "%.*s", (int)dl, dom);
        stix_id("indicator", name, iid, sizeof(iid));
        stix_id("malware", fam, mid, sizeof(mid));
        snprintf(pat, sizeof(pat), "[domain-name:value = '%s']", name);
        stix_once(x, iid, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:[s]}", "type",
                                    "indicator", "spec_version", "2.1", "id", iid, "created", x->now, "modified",
                                    x->now, "created_by_ref", x->creator, "name", name, "indicator_types",
                                    "malicious-activity", "pattern", pat, "pattern_type", "stix", "valid_from",
                                    x->now, "labels", fam));
        if (strcmp(fam, "unknown") != 0) {
            stix_once(x, mid, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "type", "malware",
                                        "spec_version", "2.1", "id", mid, "created", x->now, "modified", x->now,
                                        "created_by_ref", x->creator, "name", fam, "is_family", 1));
            char rid[128], rkey[300];
            snprintf(rkey, sizeof(rkey), "%s|%s", iid, mid);
            stix_id("relationship", rkey, rid, sizeof(rid));
            stix_once(x, rid, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "relationship",
                                        "spec_version", "2.1", "id", rid, "created", x->now, "modified", x->now,
                                        "created_by_ref", x->creator, "relationship_type", "indicates",
                                        "source_ref", iid, "target_ref", mid));
        }
        char nname[160];
        snprintf(nname, sizeof(nname), "client network %s", net);
        stix_once(x, netid, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "identity",
                                      "spec_version", "2.1", "id", netid, "created", x->now, "modified", x->now,
                                      "created_by_ref", x->creator, "name", nname, "identity_class", "group"));
        snprintf(key, sizeof(key), "%s|%s", iid, netid);
        json_t *sg = json_object_get(x->sight, key);
        json_int_t cnt = (json_int_t)(c->hits[i].count ? c->hits[i].count : 1);
        if (!sg) {
            char sid[128];
            stix_id("sighting", key, sid, sizeof(sid));
            sg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:[s]}", "type", "sighting",
                           "spec_version", "2.1", "id", sid, "created", x->now, "modified", x->now,
                           "created_by_ref", x->creator, "first_seen", first, "last_seen", last, "sighting_of_ref",
                           iid, "count", cnt, "where_sighted_refs", netid);
            json_object_set_new(x->sight, key, sg);
            json_array_append(x->objs, sg);
        } else {
            json_object_set_new(sg, "count", json_integer(json_integer_value(json_object_get(sg, "count")) + cnt));
            if (strcmp(first, json_string_value(json_object_get(sg, "first_seen"))) < 0)
                json_object_set_new(sg, "first_seen", json_string(first));
            if (strcmp(last, json_string_value(json_object_get(sg, "last_seen"))) > 0)
                json_object_set_new(sg, "last_seen", json_string(last));
        }
    }
    return 0;
}

/* Write a STIX 2.1 bundle of the listed indicators seen, with sightings per client network. */
static int write_stix(const char *path, const kh_dns_indset *set, const kh_dns_analyzer *an)
{
    char now[40], creator[128], bid[128];
    stix_time((int64_t)time(NULL) * 1000, now, sizeof(now));
    stix_id("identity", "khien", creator, sizeof(creator));
    stix_ctx x = {json_array(), json_object(), json_object(), set, creator, now};
    json_array_append_new(x.objs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "identity",
                                             "spec_version", "2.1", "id", creator, "created", now, "modified", now,
                                             "name", "Khiên", "identity_class", "system"));
    kh_dns_analyzer_foreach(an, 1, stix_client, &x);
    stix_id("bundle", now, bid, sizeof(bid));
    json_t *b = json_pack("{s:s, s:s, s:O}", "type", "bundle", "id", bid, "objects", x.objs);
    int rc = b && json_dump_file(b, path, JSON_INDENT(1) | JSON_ENSURE_ASCII) == 0 ? 0 : -1;
    if (rc)
        fprintf(stderr, "khien dns scan: cannot write %s\n", path);
    json_decref(b);
    json_decref(x.objs);
    json_decref(x.seen);
    json_decref(x.sight);
    return rc;
}

/* ---- scan ---- */

typedef struct scan_opts {
    lists l;
    kh_dns_format fmt;
    int json, csv, all, no_dga, quiet, set_fpr_given;
    unsigned jobs;
    const char *stix;
    const char *model;
    kh_dns_analyzer_opts ao;
} scan_opts;

/* A piece of work: a whole log, or part `part` of `nparts` of a big plain one (-j N reads one
 * big file on N threads). A part's malformed lines are numbered from its own first line, so they
 * are kept (the first DIAG_KEEP) and shown at the end, numbered in the file. */
#define DIAG_KEEP 10
#define SPLIT_MIN ((uint64_t)32 << 20) /* no part smaller than this */

typedef struct piece {
    const char *path;
    unsigned part, nparts;
    kh_dns_reader_stats st;
    unsigned ndiag;
    uint64_t diag_line[DIAG_KEEP];
    char diag_msg[DIAG_KEEP][160];
} piece;

typedef struct job {
    const scan_opts *o;
    const kh_dns_indset *set;
    const kh_dns_dga *model;
    pthread_mutex_t *mu; /* serialises diagnostics */
    kh_dns_analyzer *an;
    kh_dns_reader_stats st;
    unsigned errors;
    piece *cur;
} job;

static void on_log_diag(void *ud, const char *file, uint64_t line, const char *msg)
{
    job *j = ud;
    if (j->o->quiet)
        return;
    piece *p = j->cur;
    if (p->nparts > 1) {
        if (p->ndiag < DIAG_KEEP) {
            p->diag_line[p->ndiag] = line;
            snprintf(p->diag_msg[p->ndiag], sizeof(p->diag_msg[0]), "%s", msg);
            p->ndiag++;
        }
        return;
    }
    pthread_mutex_lock(j->mu);
    fprintf(stderr, "khien dns scan: %s:%llu: malformed line skipped: %s\n", file, (unsigned long long)line, msg);
    pthread_mutex_unlock(j->mu);
}

static void scan_one(job *j, piece *p)
{
    kh_dns_reader *r = NULL;
    const char *path = p->path;
    kh_err err = p->nparts > 1 ? kh_dns_reader_open_part(path, j->o->fmt, p->part, p->nparts, &r)
                               : kh_dns_reader_open(path, j->o->fmt, &r);
    if (err != KH_OK) {
        pthread_mutex_lock(j->mu);
        fprintf(stderr, "khien dns scan: %s: %s\n", path,
                err == KH_EINVAL ? "compressed standard input is not supported" : kh_strerror(err));
        pthread_mutex_unlock(j->mu);
        j->errors++;
        return;
    }
    j->cur = p;
    kh_dns_reader_set_diag(r, on_log_diag, j);
    kh_dns_rec rec;
    int have = 0;
    for (;;) {
        err = kh_dns_reader_next(r, &rec, &have);
        if (err != KH_OK || !have)
            break;
        err = kh_dns_analyzer_feed(j->an, &rec);
        if (err != KH_OK)
            break;
    }
    if (err != KH_OK) {
        pthread_mutex_lock(j->mu);
        if (err == KH_EFORMAT)
            fprintf(stderr, "khien dns scan: %s: not a known DNS log format (name one with --format)\n", path);
        else
            fprintf(stderr, "khien dns scan: %s: %s\n", path, kh_strerror(err));
        pthread_mutex_unlock(j->mu);
        j->errors++;
    }
    kh_dns_reader_get_stats(r, &p->st);
    j->st.lines += p->st.lines;
    j->st.records += p->st.records;
    j->st.ignored += p->st.ignored;
    j->st.malformed += p->st.malformed;
    j->st.bytes += p->st.bytes;
    kh_dns_reader_destroy(r);
}

typedef struct pool_job {
    size_t next, npieces; /* next: shared cursor over pieces, under mu */
    piece *pieces;
    pthread_mutex_t mu;
} pool_job;

typedef struct worker_arg {
    pool_job *pj;
    job *j;
} worker_arg;

static void *pool_worker(void *arg)
{
    worker_arg *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->pj->mu);
        size_t i = w->pj->next++;
        pthread_mutex_unlock(&w->pj->mu);
        if (i >= w->pj->npieces)
            break;
        scan_one(w->j, &w->pj->pieces[i]);
    }
    return NULL;
}

/* How many parts to read path in with jobs threads: 1 unless it is a plain log of at least
 * 2 * SPLIT_MIN bytes that can be cut (not compressed, not dnstap, not standard input). */
static unsigned parts_for(const char *path, kh_dns_format fmt, unsigned jobs)
{
    struct stat sb;
    if (jobs < 2 || strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size < 2 * SPLIT_MIN)
        return 1;
    uint64_t n = (uint64_t)sb.st_size / SPLIT_MIN;
    unsigned parts = n < jobs ? (unsigned)n : jobs;
    kh_dns_reader *r = NULL;
    if (kh_dns_reader_open_part(path, fmt, 0, parts, &r) != KH_OK)
        return 1;
    kh_dns_reader_destroy(r);
    return parts;
}

/* The kept diagnostics of cut files, numbered in the file (the parts before add their lines). */
static void print_part_diags(const piece *pieces, size_t n)
{
    uint64_t base = 0;
    for (size_t i = 0; i < n; i++) {
        const piece *p = &pieces[i];
        if (p->nparts < 2)
            continue;
        if (p->part == 0)
            base = 0;
        for (unsigned k = 0; k < p->ndiag; k++)
            fprintf(stderr, "khien dns scan: %s:%llu: malformed line skipped: %s\n", p->path,
                    (unsigned long long)(base + p->diag_line[k]), p->diag_msg[k]);
        base += p->st.lines;
    }
}

static void json_client(const kh_dns_client *c)
{
    char f[32], l[32];
    iso(c->first_ms, f, sizeof(f));
    iso(c->last_ms, l, sizeof(l));
    json_t *fams = json_array(), *doms = json_array();
    for (size_t i = 0; i < c->nfamilies; i++)
        json_array_append_new(fams, json_string(c->families[i]));
    for (size_t i = 0; i < c->nhits; i++)
        json_array_append_new(doms, json_pack("{s:s, s:s, s:I, s:f}", "name", c->hits[i].name, "family",
                                              c->hits[i].family, "count", (json_int_t)c->hits[i].count,
                                              "score", c->hits[i].score));
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "client", c->client,
                          "first_seen", f, "last_seen", l, "infected", c->infected, "families", fams, "domains",
                          doms, "queries", (json_int_t)c->queries, "hit_queries", (json_int_t)c->hit_queries,
                          "nxdomain", (json_int_t)c->nxdomain, "nx_burst", (json_int_t)c->nx_burst_max,
                          "dga_names", (json_int_t)c->dga_names, "dga_sets", (json_int_t)c->dga_sets,
                          "more_hit_records", (json_int_t)c->hits_dropped);
    if (o) {
        json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputc('\n', stdout);
    }
    json_decref(o);
}

static void csv_field(const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', stdout);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', stdout);
            fputc(*s, stdout);
        }
        fputc('"', stdout);
    } else {
        fputs(s, stdout);
    }
}

static int print_client(void *ud, const kh_dns_client *c)
{
    const scan_opts *o = ud;
    char f[32], l[32];
    iso(c->first_ms, f, sizeof(f));
    iso(c->last_ms, l, sizeof(l));
    if (o->json) {
        json_client(c);
        return 0;
    }
    if (o->csv) {
        csv_field(c->client);
        printf(",%s,%s,", f, l);
        for (size_t i = 0; i < c->nfamilies; i++)
            printf("%s%s", i ? ";" : "", c->families[i]);
        fputc(',', stdout);
        for (size_t i = 0; i < c->nhits; i++)
            printf("%s%s", i ? ";" : "", c->hits[i].name);
        printf(",%llu,%llu,%llu,%llu,%s\n", (unsigned long long)c->queries, (unsigned long long)c->hit_queries,
               (unsigned long long)c->nxdomain, (unsigned long long)c->dga_names, c->infected ? "yes" : "no");
        return 0;
    }
    printf("%s: %s", c->client, c->infected ? cli_tr("INFECTED") : cli_tr("clean"));
    if (c->nfamilies) {
        printf(" families=");
        for (size_t i = 0; i < c->nfamilies; i++)
            printf("%s%s", i ? "," : "", c->families[i]);
    }
    if (c->nhits) {
        printf(" domains=");
        for (size_t i = 0; i < c->nhits; i++)
            printf("%s%s(%llu)", i ? "," : "", c->hits[i].name, (unsigned long long)c->hits[i].count);
        if (c->hits_dropped)
            printf(",+%llu more queries", (unsigned long long)c->hits_dropped);
    }
    printf(" queries=%llu nxdomain=%llu first=%s last=%s\n", (unsigned long long)c->queries,
           (unsigned long long)c->nxdomain, f, l);
    return 0;
}

static void scan_usage(FILE *f)
{
    fputs("usage: khien dns scan [OPTIONS] LOG...\n"
          "Find clients (subscribers) that query malware domains or DGA names in resolver logs.\n"
          "LOG '-' is standard input; .gz/.zst/.xz/.bz2 files are read directly.\n\n"
          "  -l, --list PATH       blocklist file or directory (Maltrail trails, hosts, ABP ||x^,\n"
          "                        RPZ zone, CSV domain,family,source; family from the file name);\n"
          "                        repeatable\n"
          "  -a, --allow PATH      allow-list (same formats); overrides the blocklists; repeatable\n"
          "      --format F        bind, unbound, dnsmasq, zeek, eve, windows, pdns, csv, dnstap\n"
          "                        (default: detected per file)\n"
          "      --json            one JSON object per client, then a summary object\n"
          "      --csv             CSV: client,first_seen,last_seen,families,domains,queries,\n"
          "                        hit_queries,nxdomain,dga_names,infected\n"
          "      --all             report every client, not only infected ones\n"
          "  -j, --jobs N          files read in parallel (default 1)\n"
          "      --model PATH      DGA model (default: $KHIEN_DNS_MODEL, the installed data/dns/dga.model)\n"
          "      --no-dga          indicator matching only\n"
          "      --threshold X     DGA score threshold (default 0.5)\n"
          "      --dga-min N       distinct DGA names that flag a client alone (default 3)\n"
          "      --nx-burst N      NXDOMAIN answers per minute that make a burst (default 20)\n"
          "      --no-dga-sets     do not test a client's NXDOMAIN names as a set (by default\n"
          "                        5 to 32 distinct unregistered names of one client within a day\n"
          "                        that together do not look like benign names flag the client)\n"
          "      --dga-set-fpr X   share of benign clients' sets the test may flag: 0.001 (default)\n"
          "                        or 0.0001 (stricter, finds fewer)\n"
          "      --stix FILE       also write a STIX 2.1 bundle: the listed domains seen (indicator,\n"
          "                        malware, indicates) and a sighting per client network (/24, /48)\n"
          "      --lang en|vi      the report's words and summary in English (default) or\n"
          "                        Vietnamese (also KHIEN_LANG=vi); the key=value fields stay\n"
          "  -q, --quiet           do not show malformed lines\n",
          f);
}

static void scan_summary(const scan_opts *o, const kh_dns_indset *set, const kh_dns_analyzer *an,
                         const kh_dns_reader_stats *rs, double load_s, double secs)
{
    kh_dns_summary s;
    kh_dns_analyzer_get_summary(an, &s);
    kh_dns_indset_stats is;
    memset(&is, 0, sizeof(is));
    if (set)
        kh_dns_indset_get_stats(set, &is);
    double lps = secs > 0 ? (double)rs->lines / secs : 0;
    if (o->json) {
        json_t *j = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                              "s:f, s:f, s:f}}",
                              "summary", "indicator_domains", (json_int_t)is.domains, "indicator_ips",
                              (json_int_t)is.ips, "indicator_urls", (json_int_t)is.urls, "families",
                              (json_int_t)is.families, "allowed", (json_int_t)is.allowed, "lines",
                              (json_int_t)rs->lines, "records", (json_int_t)rs->records, "malformed",
                              (json_int_t)rs->malformed, "ignored", (json_int_t)rs->ignored, "clients",
                              (json_int_t)s.clients, "infected_clients", (json_int_t)s.infected_clients,
                              "queries", (json_int_t)s.queries, "hit_queries", (json_int_t)s.hit_queries,
                              "nxdomain", (json_int_t)s.nxdomain, "dga_names", (json_int_t)s.dga_names,
                              "load_seconds", load_s, "seconds", secs, "lines_per_second", lps);
        json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(j);
        return;
    }
    FILE *f = o->csv ? stderr : stdout;
    fputs(cli_tr("\n----------- DNS SUMMARY -----------\n"), f);
    fprintf(f, cli_tr("Indicators: %llu domains, %llu IPs, %llu URLs, %llu families; allow-list %llu\n"),
            (unsigned long long)is.domains, (unsigned long long)is.ips, (unsigned long long)is.urls,
            (unsigned long long)is.families, (unsigned long long)is.allowed);
    fprintf(f, cli_tr("Indicator tables: %.1f MB for %.1f MB of lists\n"), (double)is.memory / 1e6,
            (double)is.bytes_read / 1e6);
    fprintf(f, cli_tr("Log lines: %llu (records %llu, malformed %llu, ignored %llu)\n"),
            (unsigned long long)rs->lines, (unsigned long long)rs->records, (unsigned long long)rs->malformed,
            (unsigned long long)rs->ignored);
    fprintf(f, cli_tr("Clients: %llu, infected: %llu\n"), (unsigned long long)s.clients,
            (unsigned long long)s.infected_clients);
    fprintf(f, cli_tr("Queries: %llu, hitting indicators: %llu, NXDOMAIN: %llu, DGA names: %llu\n"),
            (unsigned long long)s.queries, (unsigned long long)s.hit_queries, (unsigned long long)s.nxdomain,
            (unsigned long long)s.dga_names);
    fprintf(f, cli_tr("Time: %.3f sec to load lists, %.3f sec to read logs (%.0f lines/s)\n"), load_s, secs,
            lps);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int dns_scan(int argc, char **argv)
{
    enum { O_FORMAT = 256, O_JSON, O_CSV, O_ALL, O_MODEL, O_NODGA, O_THR, O_DGAMIN, O_NXB, O_STIX, O_NOSETS, O_SETFPR, O_LANG };
    static const struct option longs[] = {
        {"list", required_argument, NULL, 'l'},   {"allow", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, O_FORMAT}, {"json", no_argument, NULL, O_JSON},
        {"csv", no_argument, NULL, O_CSV},        {"all", no_argument, NULL, O_ALL},
        {"jobs", required_argument, NULL, 'j'},   {"model", required_argument, NULL, O_MODEL},
        {"no-dga", no_argument, NULL, O_NODGA},   {"threshold", required_argument, NULL, O_THR},
        {"dga-min", required_argument, NULL, O_DGAMIN}, {"nx-burst", required_argument, NULL, O_NXB},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"stix", required_argument, NULL, O_STIX}, {"no-dga-sets", no_argument, NULL, O_NOSETS},
        {"dga-set-fpr", required_argument, NULL, O_SETFPR}, {"lang", required_argument, NULL, O_LANG},
        {NULL, 0, NULL, 0},
    };
    scan_opts o;
    memset(&o, 0, sizeof(o));
    o.jobs = 1;
    kh_dns_analyzer_opts_default(&o.ao);
    int c, rc = 2;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:a:j:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'l': if (add_arg(&o.l.block, &o.l.nblock, optarg)) goto out; break;
        case 'a': if (add_arg(&o.l.allow, &o.l.nallow, optarg)) goto out; break;
        case O_FORMAT:
            if (kh_dns_format_parse(optarg, &o.fmt) != KH_OK) {
                fprintf(stderr, "khien dns scan: unknown format '%s' (bind, unbound, dnsmasq, zeek, eve, "
                                "windows, pdns, csv)\n", optarg);
                goto out;
            }
            break;
        case O_JSON: o.json = 1; break;
        case O_CSV: o.csv = 1; break;
        case O_ALL: o.all = 1; break;
        case O_MODEL: o.model = optarg; break;
        case O_NODGA: o.no_dga = 1; break;
        case O_NOSETS: o.ao.dga_sets = 0; break;
        case O_LANG:
            if (cli_lang_set(optarg)) {
                fprintf(stderr, "khien dns scan: --lang takes en or vi, not '%s'\n", optarg);
                goto out;
            }
            break;
        case O_SETFPR:
            if (parse_double(optarg, 0, 1, &o.ao.dga_set_fpr)) {
                fprintf(stderr, "khien dns scan: --dga-set-fpr takes a number in (0,1), not '%s'\n", optarg);
                goto out;
            }
            o.set_fpr_given = 1;
            break;
        case O_STIX: o.stix = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'j':
            if (cli_parse_uint(optarg, 256, &v) || v == 0) {
                fprintf(stderr, "khien dns scan: -j takes a number from 1 to 256, not '%s'\n", optarg);
                goto out;
            }
            o.jobs = (unsigned)v;
            break;
        case O_THR:
            if (parse_double(optarg, 0, 1, &o.ao.dga_threshold)) {
                fprintf(stderr, "khien dns scan: --threshold takes a number in [0,1], not '%s'\n", optarg);
                goto out;
            }
            break;
        case O_DGAMIN: case O_NXB:
            if (cli_parse_uint(optarg, 1000000, &v)) {
                fprintf(stderr, "khien dns scan: %s takes a whole number, not '%s'\n", argv[optind - 1], optarg);
                goto out;
            }
            if (c == O_DGAMIN) o.ao.dga_min = (unsigned)v;
            else o.ao.nx_burst = (unsigned)v;
            break;
        case 'h': scan_usage(stdout); rc = 0; goto out;
        default: scan_usage(stderr); goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "khien dns scan: no log to read; give one or more files, or - (see --help)\n");
        goto out;
    }
    rc = 2;
    double t0 = now_s();
    kh_dns_indset *set = NULL;
    kh_dns_dga *model = NULL;
    if (load_lists("scan", &o.l, 0, &set) != 0)
        goto out;
    if (!o.no_dga) {
        model = load_model("scan", o.model, o.model != NULL);
        if ((!model && o.model) ||
            (model && o.set_fpr_given && o.ao.dga_sets && check_set_fpr("scan", model, o.ao.dga_set_fpr))) {
            kh_dns_dga_destroy(model);
            kh_dns_indset_destroy(set);
            goto out;
        }
    }
    double t1 = now_s();
    size_t nlogs = (size_t)(argc - optind), npieces = 0;
    unsigned *parts = calloc(nlogs, sizeof(unsigned));
    for (size_t i = 0; parts && i < nlogs; i++) {
        parts[i] = parts_for(argv[optind + (int)i], o.fmt, o.jobs);
        npieces += parts[i];
    }
    piece *pieces = calloc(npieces ? npieces : 1, sizeof(piece));
    for (size_t i = 0, k = 0; pieces && parts && i < nlogs; i++)
        for (unsigned p = 0; p < parts[i]; p++, k++) {
            pieces[k].path = argv[optind + (int)i];
            pieces[k].part = p;
            pieces[k].nparts = parts[i];
        }
    unsigned nj = o.jobs < npieces ? o.jobs : (unsigned)npieces;
    job *jobs = calloc(nj ? nj : 1, sizeof(job));
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pool_job pj;
    memset(&pj, 0, sizeof(pj));
    pj.pieces = pieces;
    pj.npieces = npieces;
    pthread_mutex_init(&pj.mu, NULL);
    worker_arg *wa = calloc(nj ? nj : 1, sizeof(worker_arg));
    pthread_t *th = calloc(nj ? nj : 1, sizeof(pthread_t));
    unsigned errors = 0, started = 0;
    if (!jobs || !wa || !th || !parts || !pieces) {
        fprintf(stderr, "khien dns scan: out of memory\n");
        errors++;
        nj = 0;
    }
    for (unsigned i = 0; i < nj; i++) {
        jobs[i].o = &o;
        jobs[i].mu = &mu;
        if (kh_dns_analyzer_create(set, model, &o.ao, &jobs[i].an) != KH_OK) {
            fprintf(stderr, "khien dns scan: out of memory\n");
            errors++;
            break;
        }
        wa[i].pj = &pj;
        wa[i].j = &jobs[i];
        if (nj == 1 || pthread_create(&th[i], NULL, pool_worker, &wa[i]) == 0)
            started++;
        if (nj == 1)
            pool_worker(&wa[i]);
    }
    if (nj > 1)
        for (unsigned i = 0; i < started; i++)
            pthread_join(th[i], NULL);
    if (pieces)
        print_part_diags(pieces, npieces);
    kh_dns_reader_stats rs;
    memset(&rs, 0, sizeof(rs));
    for (unsigned i = 0; i < nj; i++) {
        errors += jobs[i].errors;
        rs.lines += jobs[i].st.lines;
        rs.records += jobs[i].st.records;
        rs.malformed += jobs[i].st.malformed;
        rs.ignored += jobs[i].st.ignored;
        rs.bytes += jobs[i].st.bytes;
        if (i > 0 && jobs[0].an && jobs[i].an && kh_dns_analyzer_merge(jobs[0].an, jobs[i].an) != KH_OK) {
            fprintf(stderr, "khien dns scan: out of memory\n");
            errors++;
        }
    }
    double t2 = now_s();
    int found = 0;
    if (nj && jobs[0].an) {
        if (o.csv)
            printf("client,first_seen,last_seen,families,domains,queries,hit_queries,nxdomain,dga_names,infected\n");
        kh_dns_analyzer_foreach(jobs[0].an, !o.all, print_client, &o);
        kh_dns_summary s;
        kh_dns_analyzer_get_summary(jobs[0].an, &s);
        found = s.infected_clients > 0;
        scan_summary(&o, set, jobs[0].an, &rs, t1 - t0, t2 - t1);
        if (o.stix && write_stix(o.stix, set, jobs[0].an) != 0)
            errors++;
    }
    fflush(stdout);
    for (unsigned i = 0; jobs && i < nj; i++)
        kh_dns_analyzer_destroy(jobs[i].an);
    free(jobs);
    free(wa);
    free(th);
    free(parts);
    free(pieces);
    pthread_mutex_destroy(&pj.mu);
    kh_dns_dga_destroy(model);
    kh_dns_indset_destroy(set);
    rc = found ? 1 : errors ? 2 : 0;
out:
    free((void *)o.l.block);
    free((void *)o.l.allow);
    return rc;
}

/* ---- score ---- */

static int dns_score(int argc, char **argv)
{
    const char *model_path = NULL;
    double thr = KH_DNS_DGA_THRESHOLD;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model_path = argv[++i];
        } else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) {
            if (parse_double(argv[++i], 0, 1, &thr)) {
                fprintf(stderr, "khien dns score: --threshold takes a number in [0,1]\n");
                return 2;
            }
        } else {
            FILE *f = strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ? stdout : stderr;
            fputs("usage: khien dns score [--model PATH] [--threshold X] < NAMES\n"
                  "Score one domain name a line: prints name<TAB>score<TAB>verdict, score in [0,1],\n"
                  "verdict 'dga' at or above the threshold (default 0.5), else 'ok'.\n", f);
            return f == stdout ? 0 : 2;
        }
    }
    kh_dns_dga *m = load_model("score", model_path, 1);
    if (!m)
        return 2;
    char line[4096];
    while (fgets(line, sizeof(line), stdin)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        if (!n || *s == '#')
            continue;
        double sc = kh_dns_dga_score(m, s, n);
        if (sc < 0)
            sc = 0; /* not a name, or nothing left of the public suffix */
        printf("%s\t%.4f\t%s\n", s, sc, sc >= thr ? "dga" : "ok");
    }
    kh_dns_dga_destroy(m);
    return 0;
}

/* ---- rpz ---- */

static int dns_rpz(int argc, char **argv)
{
    enum { O_ORIGIN = 256, O_SINK, O_SERIAL, O_TTL };
    static const struct option longs[] = {
        {"list", required_argument, NULL, 'l'},      {"allow", required_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'},    {"origin", required_argument, NULL, O_ORIGIN},
        {"sinkhole", required_argument, NULL, O_SINK}, {"serial", required_argument, NULL, O_SERIAL},
        {"ttl", required_argument, NULL, O_TTL},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lists l;
    memset(&l, 0, sizeof(l));
    kh_dns_rpz_opts ro = {NULL, NULL, 0, 0};
    const char *out = NULL;
    int c, rc = 2;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:a:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'l': if (add_arg(&l.block, &l.nblock, optarg)) goto out; break;
        case 'a': if (add_arg(&l.allow, &l.nallow, optarg)) goto out; break;
        case 'o': out = optarg; break;
        case O_ORIGIN: ro.origin = optarg; break;
        case O_SINK: ro.sinkhole = optarg; break;
        case O_SERIAL: case O_TTL:
            if (cli_parse_uint(optarg, UINT32_MAX, &v)) {
                fprintf(stderr, "khien dns rpz: %s takes a whole number\n", argv[optind - 1]);
                goto out;
            }
            if (c == O_SERIAL) ro.serial = (uint32_t)v;
            else ro.ttl = (uint32_t)v;
            break;
        case 'h': rc = 0; /* fall through */
        default:
            fputs("usage: khien dns rpz [-l LIST]... [-a ALLOW]... -o ZONE [--origin NAME]\n"
                  "                     [--sinkhole ADDR] [--serial N] [--ttl N]\n"
                  "Write a Response Policy Zone for BIND and Unbound: each listed domain and its\n"
                  "subdomains get NXDOMAIN (or the sinkhole address); allow-list names pass through.\n",
                  rc ? stderr : stdout);
            goto out;
        }
    }
    if (!out || !l.nblock) {
        fprintf(stderr, "khien dns rpz: give at least one -l LIST and -o ZONE (see --help)\n");
        goto out;
    }
    kh_dns_indset *set = NULL;
    if (load_lists("rpz", &l, 0, &set) != 0)
        goto out;
    uint64_t n = 0;
    kh_err err = kh_dns_rpz_write(set, &ro, out, &n);
    if (err == KH_EINVAL)
        fprintf(stderr, "khien dns rpz: bad --origin or --sinkhole (an IPv4 or IPv6 address)\n");
    else if (err != KH_OK)
        fprintf(stderr, "khien dns rpz: cannot write %s: %s\n", out, kh_strerror(err));
    else
        fprintf(stderr, "khien dns rpz: %s: %llu domains\n", out, (unsigned long long)n);
    kh_dns_indset_destroy(set);
    rc = err == KH_OK ? 0 : 2;
out:
    free((void *)l.block);
    free((void *)l.allow);
    return rc;
}

/* ---- train ---- */

typedef struct names {
    char **v;
    char **fam; /* family of each name (borrowed from the family table), or NULL */
    size_t n, cap;
} names;

/* Append name (not copied) and its family. -1 out of memory (s unchanged). */
static int names_push(names *s, char *name, char *fam)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        char **nv = realloc(s->v, nc * sizeof(char *));
        if (!nv)
            return -1;
        s->v = nv;
        char **nf = realloc(s->fam, nc * sizeof(char *));
        if (!nf)
            return -1;
        s->fam = nf;
        s->cap = nc;
    }
    s->v[s->n] = name;
    s->fam[s->n] = fam;
    s->n++;
    return 0;
}

/* Append a copy of name[0, len). */
static int names_add(names *s, const char *name, size_t len, char *fam)
{
    char *c = strndup(name, len);
    if (!c || names_push(s, c, fam) != 0) {
        free(c);
        return -1;
    }
    return 0;
}

static void names_free(names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s->fam);
}

/* Read names of a file (or every file of a directory); family = file name without .txt. */
static int read_names(const char *path, names *out, char ***fams, size_t *nfams)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "khien dns train: %s: cannot read\n", path);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **ents = NULL;
        int n = scandir(path, &ents, NULL, alphasort);
        if (n < 0)
            return -1;
        int rc = 0;
        for (int i = 0; i < n; i++) {
            const char *b = ents[i]->d_name;
            size_t bl = strlen(b);
            if (rc == 0 && b[0] != '.' && bl > 4 && strcmp(b + bl - 4, ".txt") == 0) {
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", path, b);
                rc = read_names(p, out, fams, nfams);
            }
            free(ents[i]);
        }
        free(ents);
        return rc;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "khien dns train: %s: cannot open\n", path);
        return -1;
    }
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *fam = strdup(b);
    char **nf = realloc(*fams, (*nfams + 1) * sizeof(char *));
    if (!fam || !nf) {
        free(fam);
        fclose(f);
        return -1;
    }
    char *dot = strrchr(fam, '.');
    if (dot)
        *dot = '\0';
    *fams = nf;
    (*fams)[(*nfams)++] = fam;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, " \t\r\n,#");
        if (n && names_add(out, line, n, fam) != 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static int in_list(const char *fam, const char *csv)
{
    if (!csv || !fam)
        return 0;
    size_t fl = strlen(fam);
    for (const char *p = csv; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n == fl && strncmp(p, fam, n) == 0)
            return 1;
        p += n + (c ? 1 : 0);
    }
    return 0;
}

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Detection rate of the held-out DGA names at the thresholds that give the FPRs listed. */
static void evaluate(const kh_dns_dga *m, const names *bt, const names *dt)
{
    double *sb = calloc(bt->n + 1, sizeof(double)), *sd = calloc(dt->n + 1, sizeof(double));
    if (!sb || !sd) {
        free(sb);
        free(sd);
        return;
    }
    size_t nb = 0, nd = 0;
    for (size_t i = 0; i < bt->n; i++) {
        double s = kh_dns_dga_score(m, bt->v[i], strlen(bt->v[i]));
        if (s >= 0)
            sb[nb++] = s;
    }
    for (size_t i = 0; i < dt->n; i++) {
        double s = kh_dns_dga_score(m, dt->v[i], strlen(dt->v[i]));
        sd[nd++] = s < 0 ? 0 : s;
    }
    qsort(sb, nb, sizeof(double), cmp_desc);
    size_t a1 = (size_t)(0.001 * (double)nb);
    double thr1 = a1 < nb ? sb[a1] : 0; /* the threshold of FPR 1/1000 */
    printf("held-out benign names: %zu, held-out DGA names: %zu\n", nb, nd);
    printf("%-10s %-10s %s\n", "FPR", "threshold", "detected");
    static const double fprs[] = {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1};
    for (size_t k = 0; k < sizeof(fprs) / sizeof(fprs[0]); k++) {
        size_t allowed = (size_t)(fprs[k] * (double)nb);
        double thr = allowed < nb ? sb[allowed] : 0;
        size_t det = 0;
        for (size_t i = 0; i < nd; i++)
            det += sd[i] > thr;
        printf("%-10.4f %-10.4f %.1f%%\n", fprs[k], thr, nd ? 100.0 * (double)det / (double)nd : 0);
    }
    size_t fp = 0, det = 0;
    for (size_t i = 0; i < nb; i++)
        fp += sb[i] >= KH_DNS_DGA_THRESHOLD;
    for (size_t i = 0; i < nd; i++)
        det += sd[i] >= KH_DNS_DGA_THRESHOLD;
    printf("at the default threshold %.2f: FPR %.4f (%zu/%zu), detected %.1f%%\n", KH_DNS_DGA_THRESHOLD,
           nb ? (double)fp / (double)nb : 0, fp, nb, nd ? 100.0 * (double)det / (double)nd : 0);
    /* per family at the default threshold and at FPR 1/1000; the mean over families */
    double macro = 0;
    size_t nfam = 0;
    for (size_t i = 0; i < dt->n;) {
        size_t j = i, d = 0, d1 = 0;
        while (j < dt->n && dt->fam[j] == dt->fam[i]) {
            double s = kh_dns_dga_score(m, dt->v[j], strlen(dt->v[j]));
            d += s >= KH_DNS_DGA_THRESHOLD;
            d1 += s > thr1;
            j++;
        }
        printf("  %-28s %5zu names, detected %.1f%% (at FPR 0.001: %.1f%%)\n", dt->fam[i], j - i,
               100.0 * (double)d / (double)(j - i), 100.0 * (double)d1 / (double)(j - i));
        macro += (double)d1 / (double)(j - i);
        nfam++;
        i = j;
    }
    printf("mean over %zu families at FPR 0.001: %.1f%%\n", nfam, nfam ? 100.0 * macro / (double)nfam : 0);
    free(sb);
    free(sd);
}

static int dns_train(int argc, char **argv)
{
    static const struct option longs[] = {
        {"benign", required_argument, NULL, 'b'}, {"dga", required_argument, NULL, 'g'},
        {"output", required_argument, NULL, 'o'}, {"holdout", required_argument, NULL, 'H'},
        {"fold", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char **bpaths = NULL, **gpaths = NULL, *out = NULL, *holdout = NULL;
    size_t nbp = 0, ngp = 0;
    int c, rc = 2;
    uint64_t fold = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:g:o:H:F:h", longs, NULL)) != -1) {
        switch (c) {
        case 'b': if (add_arg(&bpaths, &nbp, optarg)) goto out; break;
        case 'g': if (add_arg(&gpaths, &ngp, optarg)) goto out; break;
        case 'o': out = optarg; break;
        case 'H': holdout = optarg; break;
        case 'F':
            if (cli_parse_uint(optarg, 4, &fold)) {
                fprintf(stderr, "khien dns train: --fold takes 0 to 4\n");
                goto out;
            }
            break;
        case 'h': rc = 0; /* fall through */
        default:
            fputs("usage: khien dns train -b BENIGN... -g DGA... [-o MODEL] [--holdout FAM,FAM...]\n"
                  "                       [--fold K]\n"
                  "Train the DGA model from benign names (one a line) and DGA names (files or a\n"
                  "directory of FAMILY.txt files). With --holdout the named families and 20% of the\n"
                  "benign names (those whose FNV-1a hash is K modulo 5, K = --fold, default 0) are\n"
                  "kept out of training and the detection/false-positive curve on them is printed.\n"
                  "Pick settings on --fold 1..4 and report on fold 0. -o writes the model\n"
                  "(data/dns/dga.model is the shipped one).\n",
                  rc ? stderr : stdout);
            goto out;
        }
    }
    if (!nbp || !ngp) {
        fprintf(stderr, "khien dns train: give benign (-b) and DGA (-g) names (see --help)\n");
        goto out;
    }
    names b = {0}, g = {0};
    char **fams = NULL;
    size_t nfams = 0;
    names btr = {0}, bte = {0}, gtr = {0}, gte = {0};
    kh_dns_dga *m = NULL;
    unsigned *gfam = NULL;
    int ok = 1;
    for (size_t i = 0; ok && i < nbp; i++)
        ok = read_names(bpaths[i], &b, &fams, &nfams) == 0;
    for (size_t i = 0; ok && i < ngp; i++)
        ok = read_names(gpaths[i], &g, &fams, &nfams) == 0;
    if (!ok)
        goto done;
    /* split: without --holdout everything trains */
    for (size_t i = 0; i < b.n; i++) {
        names *dst = holdout && fnv(b.v[i]) % 5 == fold ? &bte : &btr;
        if (names_push(dst, b.v[i], b.fam[i]) != 0)
            goto done;
    }
    for (size_t i = 0; i < g.n; i++) {
        names *dst = in_list(g.fam[i], holdout) ? &gte : &gtr;
        if (names_push(dst, g.v[i], g.fam[i]) != 0)
            goto done;
    }
    double t0 = now_s();
    /* families by their name (file) pointer: names of one file are adjacent */
    gfam = calloc(gtr.n + 1, sizeof(unsigned));
    if (!gfam)
        goto done;
    for (size_t i = 1; i < gtr.n; i++)
        gfam[i] = gfam[i - 1] + (gtr.fam[i] != gtr.fam[i - 1]);
    kh_err err = kh_dns_dga_train_families((const char *const *)btr.v, btr.n, (const char *const *)gtr.v,
                                           gfam, gtr.n, &m);
    if (err != KH_OK) {
        fprintf(stderr, "khien dns train: %s\n", kh_strerror(err));
        goto done;
    }
    printf("trained on %zu benign and %zu DGA names in %.2f s\n", btr.n, gtr.n, now_s() - t0);
    if (holdout) {
        if (!gte.n)
            fprintf(stderr, "khien dns train: no names of the held-out families '%s'\n", holdout);
        else
            evaluate(m, &bte, &gte);
    }
    if (out) {
        err = kh_dns_dga_save(m, out);
        if (err != KH_OK) {
            fprintf(stderr, "khien dns train: cannot write %s: %s\n", out, kh_strerror(err));
            goto done;
        }
        printf("model written to %s\n", out);
    }
    rc = 0;
done:
    kh_dns_dga_destroy(m);
    free(gfam);
    free(btr.v);
    free(btr.fam);
    free(bte.v);
    free(bte.fam);
    free(gtr.v);
    free(gtr.fam);
    free(gte.v);
    free(gte.fam);
    names_free(&b);
    names_free(&g);
    for (size_t i = 0; i < nfams; i++)
        free(fams[i]);
    free(fams);
out:
    free((void *)bpaths);
    free((void *)gpaths);
    return rc;
}

/* ---- watch ---- */

static volatile int watch_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    watch_stop = 1;
}

typedef struct watch_sets {
    char time[32]; /* of the answer being fed */
    uint64_t *hits;
} watch_sets;

static void on_watch_set_hit(void *ud, const char *client, const char *name, double score)
{
    watch_sets *w = ud;
    printf("%s %s %s family=dga score=%.4f set\n", w->time, client, name, score);
    fflush(stdout);
    (*w->hits)++;
}

static int dns_watch(int argc, char **argv)
{
    enum { O_FORMAT = 256, O_MODEL, O_NODGA, O_START, O_TAPSOCK, O_TAPTCP, O_NOSETS, O_SETFPR };
    static const struct option longs[] = {
        {"list", required_argument, NULL, 'l'},   {"allow", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, O_FORMAT}, {"model", required_argument, NULL, O_MODEL},
        {"no-dga", no_argument, NULL, O_NODGA},   {"from-start", no_argument, NULL, O_START},
        {"dnstap-socket", required_argument, NULL, O_TAPSOCK},
        {"dnstap-tcp", required_argument, NULL, O_TAPTCP},
        {"no-dga-sets", no_argument, NULL, O_NOSETS},
        {"dga-set-fpr", required_argument, NULL, O_SETFPR},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    char endpoint[4200] = "";
    lists l;
    memset(&l, 0, sizeof(l));
    kh_dns_format fmt = KH_DNS_FMT_AUTO;
    const char *model_path = NULL;
    int no_dga = 0, from_start = 0, set_fpr_given = 0, c, rc = 2;
    kh_dns_analyzer_opts ao;
    kh_dns_analyzer_opts_default(&ao);
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:a:h", longs, NULL)) != -1) {
        switch (c) {
        case 'l': if (add_arg(&l.block, &l.nblock, optarg)) goto out; break;
        case 'a': if (add_arg(&l.allow, &l.nallow, optarg)) goto out; break;
        case O_FORMAT:
            if (kh_dns_format_parse(optarg, &fmt) != KH_OK) {
                fprintf(stderr, "khien dns watch: unknown format '%s'\n", optarg);
                goto out;
            }
            break;
        case O_MODEL: model_path = optarg; break;
        case O_NODGA: no_dga = 1; break;
        case O_START: from_start = 1; break;
        case O_NOSETS: ao.dga_sets = 0; break;
        case O_SETFPR:
            if (parse_double(optarg, 0, 1, &ao.dga_set_fpr)) {
                fprintf(stderr, "khien dns watch: --dga-set-fpr takes a number in (0,1), not '%s'\n", optarg);
                goto out;
            }
            set_fpr_given = 1;
            break;
        case O_TAPSOCK:
        case O_TAPTCP:
            snprintf(endpoint, sizeof(endpoint), "%s:%s", c == O_TAPSOCK ? "unix" : "tcp", optarg);
            break;
        case 'h': rc = 0; /* fall through */
        default:
            fputs("usage: khien dns watch [-l LIST]... [-a ALLOW]... [--format F] [--from-start]\n"
                  "                       [--model M | --no-dga] [--no-dga-sets | --dga-set-fpr X] LOG\n"
                  "       khien dns watch [-l LIST]... [-a ALLOW]... [--model M | --no-dga]\n"
                  "                       [--no-dga-sets | --dga-set-fpr X]\n"
                  "                       --dnstap-socket PATH | --dnstap-tcp ADDR:PORT\n"
                  "Follow a growing resolver log (from its end, or --from-start), or receive dnstap\n"
                  "live from resolvers (Unbound dnstap-socket-path, BIND dnstap-output unix, dnsdist\n"
                  "dnstapFrameStreamServer) on a Unix socket PATH (created, mode 0660, removed on\n"
                  "exit) or a TCP address, and print one line per query of a listed domain or a\n"
                  "DGA-scored name as it arrives:\n"
                  "  TIME CLIENT NAME family=F [score=S]\n"
                  "Responses (dnstap CLIENT_RESPONSE, Unbound reply: lines) repeat their query and are\n"
                  "shown only while the input has carried no query. A client's NXDOMAIN names are also\n"
                  "tested as a set (as in dns scan; --no-dga-sets: not; --dga-set-fpr: its level):\n"
                  "when 5 to 32 of them within a day together look generated, each is printed, at\n"
                  "the time of the answer that decided, with ' set' at the end of the line.\n"
                  "Memory stays bounded: per client with NXDOMAIN answers at most 32 pending and 32\n"
                  "found names, a bounded score cache, 64 KiB per dnstap connection.\n"
                  "Stops on SIGINT/SIGTERM.\n",
                  rc ? stderr : stdout);
            goto out;
        }
    }
    if (*endpoint ? optind != argc : optind + 1 != argc) {
        fprintf(stderr, "khien dns watch: give exactly one log file, or a dnstap socket (see --help)\n");
        goto out;
    }
    const char *path = *endpoint ? endpoint : argv[optind];
    kh_dns_indset *set = NULL;
    kh_dns_dga *model = NULL;
    kh_dns_reader *r = NULL;
    kh_dns_analyzer *an = NULL;
    if (load_lists("watch", &l, 0, &set) != 0)
        goto out;
    if (!no_dga)
        model = load_model("watch", model_path, model_path != NULL);
    if (model && set_fpr_given && ao.dga_sets && check_set_fpr("watch", model, ao.dga_set_fpr))
        goto done;
    kh_err err = *endpoint ? kh_dns_reader_open_dnstap(endpoint, &r) : kh_dns_reader_open(path, fmt, &r);
    if (err == KH_OK)
        err = kh_dns_reader_set_follow(r, from_start ? 1 : 2, &watch_stop);
    if (err != KH_OK) {
        const char *why = kh_strerror(err);
        if (err == KH_EINVAL)
            why = *endpoint ? "not a usable socket path or ADDR:PORT" : "only a plain file can be followed";
        else if (err == KH_EEXIST)
            why = "exists and is not a socket";
        fprintf(stderr, "khien dns watch: %s: %s\n", path, why);
        goto done;
    }
    if (*endpoint)
        fprintf(stderr, "khien dns watch: listening for dnstap on %s\n", path);
    else
        fprintf(stderr, "khien dns watch: following %s from its %s\n", path, from_start ? "start" : "end");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    kh_dns_rec rec;
    int have = 0;
    uint64_t hits = 0;
    int seen_query = 0;
    watch_sets ws = {"", &hits};
    if (model && ao.dga_sets) {
        /* the set test: an analyzer fed only NXDOMAIN answers, telling of the names it finds */
        if (kh_dns_analyzer_create(set, model, &ao, &an) != KH_OK) {
            fprintf(stderr, "khien dns watch: out of memory\n");
            goto done;
        }
        kh_dns_analyzer_on_set_hit(an, on_watch_set_hit, &ws);
    }
    while ((err = kh_dns_reader_next(r, &rec, &have)) == KH_OK && have) {
        if (an && rec.rcode == 3) {
            iso(rec.time_ms, ws.time, sizeof(ws.time));
            if ((err = kh_dns_analyzer_feed(an, &rec)) != KH_OK)
                break;
        }
        /* a response repeats its query's hit; it counts alone only in a replies-only log */
        seen_query |= rec.is_query;
        if (!rec.is_query && seen_query)
            continue;
        const char *fam = NULL;
        double score = 1;
        if (!kh_dns_indset_match(set, rec.qname, rec.qname_len, &fam, NULL, NULL)) {
            if (!model || kh_dns_indset_allowed(set, rec.qname, rec.qname_len))
                continue;
            score = kh_dns_dga_score(model, rec.qname, rec.qname_len);
            if (score < KH_DNS_DGA_THRESHOLD)
                continue;
            fam = "dga";
        }
        char t[32];
        iso(rec.time_ms, t, sizeof(t));
        printf("%s %.*s %.*s family=%s", t, (int)rec.client_len, rec.client, (int)rec.qname_len, rec.qname, fam);
        if (score < 1)
            printf(" score=%.4f", score);
        putchar('\n');
        fflush(stdout);
        hits++;
    }
    if (err == KH_EFORMAT)
        fprintf(stderr, "khien dns watch: %s: not a known DNS log format (name one with --format)\n", path);
    else if (err != KH_OK)
        fprintf(stderr, "khien dns watch: %s: %s\n", path, kh_strerror(err));
    kh_dns_reader_stats st;
    kh_dns_reader_get_stats(r, &st);
    fprintf(stderr, "khien dns watch: %llu %s, %llu records, %llu malformed, %llu hits\n",
            (unsigned long long)st.lines, kh_dns_reader_format(r) == KH_DNS_FMT_DNSTAP ? "frames" : "lines",
            (unsigned long long)st.records, (unsigned long long)st.malformed, (unsigned long long)hits);
    rc = err == KH_OK ? 0 : 2;
done:
    kh_dns_analyzer_destroy(an);
    kh_dns_reader_destroy(r);
    kh_dns_dga_destroy(model);
    kh_dns_indset_destroy(set);
out:
    free((void *)l.block);
    free((void *)l.allow);
    return rc;
}

/* ---- dispatch ---- */

static void dns_usage(FILE *f)
{
    fputs("usage: khien dns COMMAND [OPTIONS]\n"
          "DNS-log analysis: infected subscribers, DGA names, RPZ zones.\n\n"
          "  scan   [-l LIST]... [-a ALLOW]... [--format F] [--json|--csv] [-j N] LOG...\n"
          "         per-client report of malware-domain and DGA queries\n"
          "  score  [--model M] < NAMES      name<TAB>score<TAB>verdict (dga|ok)\n"
          "  rpz    [-l LIST]... [-a ALLOW]... -o ZONE   Response Policy Zone for BIND/Unbound\n"
          "  train  -b BENIGN -g DGA [-o MODEL] [--holdout FAMS]   (re)build the DGA model\n"
          "  watch  [-l LIST]... [-a ALLOW]... LOG | --dnstap-socket PATH\n"
          "         follow a growing log or live dnstap, one line per hit\n\n"
          "'khien dns COMMAND --help' tells more.\n",
          f);
}

int cmd_dns(int argc, char **argv)
{
    if (argc < 2) {
        dns_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        dns_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "scan") == 0)
        return dns_scan(argc - 1, argv + 1);
    if (strcmp(sub, "score") == 0)
        return dns_score(argc - 1, argv + 1);
    if (strcmp(sub, "rpz") == 0)
        return dns_rpz(argc - 1, argv + 1);
    if (strcmp(sub, "train") == 0)
        return dns_train(argc - 1, argv + 1);
    if (strcmp(sub, "watch") == 0)
        return dns_watch(argc - 1, argv + 1);
    fprintf(stderr, "khien dns: '%s' is not a dns command\n\n", sub);
    dns_usage(stderr);
    return 2;
}
