/*
 * cmd_scan.c - "khien scan": walk paths, scan files on N threads, report like clamscan.
 *
 * One walker (this thread, fts(3)) feeds a bounded queue of paths; N workers, each with its
 * own kh_scanner on the shared engine, scan them. A worker collects a file's events and
 * prints them in one piece under the output lock, so lines of different files never mix.
 * Output: "path: NAME FOUND" per detection, "path: OK" for clean files (unless -i), errors as
 * "path: reason ERROR", then a summary; or with --json one object per file and a summary
 * object. Exit status as clamscan: 1 if anything was found, else 2 if an error occurred,
 * else 0.
 */
#include "cli.h"

#include <errno.h>
#include <fnmatch.h>
#include <fts.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <khien/khien.h>

#define QUEUE_CAP 16384

typedef struct options {
    const char **dbs;
    size_t ndbs;
    const char **excludes;
    size_t nexcludes;
    const char *file_list; /* -f: paths to scan, one per line */
    unsigned jobs;
    int follow, json, infected_only, no_summary, verbose, progress;
    const char *quarantine;
    const char *cache_dir;
    const char *trust_dir;
    int no_cache;
    kh_scan_opts sopts;
} options;

/* Paths waiting for a worker, largest file first: the walk is much faster than the scan, so
 * the queue fills ahead of the workers, and handing out big files first keeps one thread from
 * finishing alone on a large file at the end (longest-processing-time-first scheduling). */
typedef struct qitem {
    char *path;
    uint64_t size;
} qitem;

typedef struct queue {
    qitem items[QUEUE_CAP];
    size_t count;
    int closed;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} queue;

typedef struct totals {
    uint64_t files, dirs, infected, errors, warnings, detections, skipped;
    uint64_t bytes_read, bytes_scanned;
} totals;

typedef struct shared {
    const options *o;
    kh_engine *engine;
    queue q;
    pthread_mutex_t out;
    totals t;
    int progress_on;
    atomic_int done;
    double t0;
} shared;

/* ---- events of one file, kept until the file is printed ---- */
typedef struct fev {
    kh_event_kind kind;
    kh_sig_kind sk;
    char *object, *name, *detail;
    uint32_t depth;
    json_t *meta; /* rule metadata as a JSON object, or NULL */
} fev;

typedef struct fevents {
    fev *v;
    size_t n, cap;
    int oom;
} fevents;

static int collect(void *ud, const kh_event *ev)
{
    fevents *fe = ud;
    if (fe->n == fe->cap) {
        size_t nc = fe->cap ? fe->cap * 2 : 8;
        fev *nv = realloc(fe->v, nc * sizeof(*nv));
        if (!nv) {
            fe->oom = 1;
            return 0;
        }
        fe->v = nv;
        fe->cap = nc;
    }
    fev *f = &fe->v[fe->n];
    f->kind = ev->kind;
    f->sk = ev->sig_kind;
    f->depth = ev->depth;
    f->object = strdup(ev->object);
    f->name = strdup(ev->name);
    f->detail = ev->detail ? strdup(ev->detail) : NULL;
    f->meta = NULL;
    if (ev->kind == KH_EVENT_INFO && ev->pe) {
        char mach[8];
        snprintf(mach, sizeof(mach), "0x%04x", (unsigned)ev->pe->machine);
        f->meta = json_pack("{s:s, s:s, s:i, s:I, s:b}", "format", ev->pe->pe32plus ? "PE32+" : "PE32",
                            "machine", mach, "sections", (int)ev->pe->nsections, "entry_point",
                            (json_int_t)ev->pe->entry_point, "dll", ev->pe->dll);
    } else if (ev->nmeta) {
        f->meta = json_object();
        for (size_t i = 0; f->meta && i < ev->nmeta; i++)
            json_object_set_new(f->meta, ev->meta[i].key, cli_json_str(ev->meta[i].value));
    }
    if (!f->object || !f->name || (ev->detail && !f->detail)) {
        free(f->object);
        free(f->name);
        free(f->detail);
        json_decref(f->meta);
        fe->oom = 1;
        return 0;
    }
    fe->n++;
    return 0;
}

static void fevents_clear(fevents *fe)
{
    for (size_t i = 0; i < fe->n; i++) {
        free(fe->v[i].object);
        free(fe->v[i].name);
        free(fe->v[i].detail);
        json_decref(fe->v[i].meta);
    }
    fe->n = 0;
    fe->oom = 0;
}

/* ---- queue ---- */
static void heap_swap(qitem *a, qitem *b)
{
    qitem t = *a;
    *a = *b;
    *b = t;
}

static void queue_push(queue *q, char *path, uint64_t size)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == QUEUE_CAP)
        pthread_cond_wait(&q->not_full, &q->mu);
    size_t i = q->count++;
    q->items[i] = (qitem){path, size};
    while (i > 0 && q->items[(i - 1) / 2].size < q->items[i].size) { /* sift up */
        heap_swap(&q->items[(i - 1) / 2], &q->items[i]);
        i = (i - 1) / 2;
    }
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static char *queue_pop(queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    char *p = NULL;
    if (q->count) {
        p = q->items[0].path;
        q->items[0] = q->items[--q->count];
        for (size_t i = 0;;) { /* sift down */
            size_t l = 2 * i + 1, r = l + 1, big = i;
            if (l < q->count && q->items[l].size > q->items[big].size)
                big = l;
            if (r < q->count && q->items[r].size > q->items[big].size)
                big = r;
            if (big == i)
                break;
            heap_swap(&q->items[i], &q->items[big]);
            i = big;
        }
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return p;
}

static void queue_close(queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

/* ---- output ---- */
static void clear_progress(shared *sh)
{
    if (sh->progress_on)
        fputs("\r\033[K", stderr);
}

static const char *kind_name(kh_sig_kind k)
{
    switch (k) {
    case KH_SIG_HASH:
        return "hash";
    case KH_SIG_BODY:
        return "body";
    case KH_SIG_YARA:
        return "yara";
    default:
        return "heuristic";
    }
}

static void print_json(shared *sh, const char *path, kh_err err, const kh_scan_result *res,
                       const fevents *fe, const char *qid, const char *qerr)
{
    json_t *o = json_object();
    json_t *det = json_array(), *warn = json_array(), *pe = NULL;
    const char *status = err != KH_OK && err != KH_ECANCELED ? "error"
                         : res->verdict == KH_VERDICT_INFECTED ? "infected" : "clean";
    json_object_set_new(o, "file", cli_json_str(path));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "size", json_integer((json_int_t)res->size));
    json_object_set_new(o, "objects", json_integer(res->objects));
    if (res->flags & KH_RESULT_MACROS)
        json_object_set_new(o, "macros", json_true());
    for (size_t i = 0; i < fe->n; i++) { /* each PE layer: where, then its headers */
        const fev *f = &fe->v[i];
        if (f->kind != KH_EVENT_INFO || !f->meta)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "object", cli_json_str(f->object));
        json_object_set_new(e, "depth", json_integer(f->depth));
        json_object_update(e, f->meta);
        if (!pe)
            pe = json_array();
        json_array_append_new(pe, e);
    }
    if (pe)
        json_object_set_new(o, "pe", pe);
    for (size_t i = 0; i < fe->n; i++) {
        const fev *f = &fe->v[i];
        if (f->kind == KH_EVENT_INFO)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "object", cli_json_str(f->object));
        json_object_set_new(e, f->kind == KH_EVENT_DETECTION ? "signature" : "name",
                            cli_json_str(f->name));
        json_object_set_new(e, "kind", json_string(kind_name(f->sk)));
        json_object_set_new(e, "depth", json_integer(f->depth));
        if (f->detail)
            json_object_set_new(e, "detail", cli_json_str(f->detail));
        if (f->meta)
            json_object_set(e, "meta", f->meta);
        json_array_append_new(f->kind == KH_EVENT_DETECTION ? det : warn, e);
    }
    json_object_set_new(o, "detections", det);
    json_object_set_new(o, "warnings", warn);
    if (err != KH_OK && err != KH_ECANCELED)
        json_object_set_new(o, "error", json_string(res->error[0] ? res->error : kh_strerror(err)));
    if (qid)
        json_object_set_new(o, "quarantine", json_string(qid));
    if (qerr)
        json_object_set_new(o, "quarantine_error", json_string(qerr));
    json_dumpf(o, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(o);
    (void)sh;
}

static void print_text(shared *sh, const char *path, kh_err err, const kh_scan_result *res,
                       const fevents *fe, const char *qid, const char *qerr)
{
    const options *o = sh->o;
    for (size_t i = 0; i < fe->n; i++) {
        const fev *f = &fe->v[i];
        if (f->kind == KH_EVENT_INFO)
            continue;
        if (f->kind == KH_EVENT_DETECTION)
            printf("%s: %s FOUND\n", f->object, f->name);
        else
            printf("%s: %s WARNING%s%s%s\n", f->object, f->name, f->detail ? " (" : "",
                   f->detail ? f->detail : "", f->detail ? ")" : "");
    }
    if (err != KH_OK && err != KH_ECANCELED)
        printf("%s: %s ERROR\n", path, res->error[0] ? res->error : kh_strerror(err));
    else if (res->verdict == KH_VERDICT_CLEAN && !o->infected_only)
        printf("%s: OK\n", path);
    if (qid)
        printf("%s: moved to quarantine %s as %s\n", path, o->quarantine, qid);
    if (qerr)
        printf("%s: quarantine failed: %s ERROR\n", path, qerr);
}

static void report(shared *sh, const char *path, kh_err err, const kh_scan_result *res,
                   const fevents *fe)
{
    char qid[64], qerr[512];
    int quarantined = 0, qfailed = 0;
    if (sh->o->quarantine && res->verdict == KH_VERDICT_INFECTED && err == KH_OK) {
        const char *sig = "unknown";
        for (size_t i = 0; i < fe->n; i++)
            if (fe->v[i].kind == KH_EVENT_DETECTION) {
                sig = fe->v[i].name;
                break;
            }
        qerr[0] = '\0';
        if (kh_quarantine_put(sh->o->quarantine, path, sig, qid, sizeof(qid), qerr, sizeof(qerr)) == KH_OK)
            quarantined = 1;
        else
            qfailed = 1;
    }
    pthread_mutex_lock(&sh->out);
    clear_progress(sh);
    sh->t.files++;
    sh->t.bytes_read += res->size;
    sh->t.bytes_scanned += res->bytes_scanned;
    sh->t.detections += res->detections;
    sh->t.warnings += res->warnings;
    if (res->verdict == KH_VERDICT_INFECTED)
        sh->t.infected++;
    if ((err != KH_OK && err != KH_ECANCELED) || qfailed || fe->oom)
        sh->t.errors++;
    if (sh->o->json) {
        if (!sh->o->infected_only || res->verdict != KH_VERDICT_CLEAN || err != KH_OK || res->warnings)
            print_json(sh, path, err, res, fe, quarantined ? qid : NULL, qfailed ? qerr : NULL);
    } else {
        print_text(sh, path, err, res, fe, quarantined ? qid : NULL, qfailed ? qerr : NULL);
    }
    if (fe->oom)
        fprintf(stderr, "khien: %s: out of memory while recording events; some are missing\n", path);
    fflush(stdout);
    pthread_mutex_unlock(&sh->out);
}

static void *worker(void *arg)
{
    shared *sh = arg;
    kh_scanner *sc = NULL;
    fevents fe = {0};
    kh_err err = kh_scanner_create(sh->engine, &sh->o->sopts, &sc);
    if (err != KH_OK) {
        pthread_mutex_lock(&sh->out);
        fprintf(stderr, "khien: cannot start a scanner: %s\n", kh_strerror(err));
        sh->t.errors++;
        pthread_mutex_unlock(&sh->out);
    }
    char *path;
    while ((path = queue_pop(&sh->q)) != NULL) {
        kh_scan_result res;
        if (sc) {
            err = kh_scan_file(sc, path, collect, &fe, &res);
        } else {
            memset(&res, 0, sizeof(res));
            res.verdict = KH_VERDICT_ERROR;
            snprintf(res.error, sizeof(res.error), "no scanner");
            err = KH_ESTATE;
        }
        report(sh, path, err, &res, &fe);
        fevents_clear(&fe);
        free(path);
    }
    free(fe.v);
    kh_scanner_destroy(sc);
    return NULL;
}

static void *progress_thread(void *arg)
{
    shared *sh = arg;
    while (!atomic_load(&sh->done)) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&sh->out);
        if (!atomic_load(&sh->done)) {
            double el = time(NULL) - sh->t0 > 0 ? (double)(time(NULL) - sh->t0) : 1.0;
            fprintf(stderr, "\r\033[Kkhien: %llu files, %.1f MB, %.1f MB/s",
                    (unsigned long long)sh->t.files, (double)sh->t.bytes_read / 1e6,
                    (double)sh->t.bytes_read / 1e6 / el);
            fflush(stderr);
        }
        pthread_mutex_unlock(&sh->out);
    }
    return NULL;
}

/* ---- walking ---- */
static int excluded(const options *o, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    for (size_t i = 0; i < o->nexcludes; i++) {
        const char *g = o->excludes[i];
        if (fnmatch(g, strchr(g, '/') ? path : base, 0) == 0)
            return 1;
    }
    return 0;
}

static void walk_error(shared *sh, const char *path, const char *why)
{
    pthread_mutex_lock(&sh->out);
    clear_progress(sh);
    sh->t.errors++;
    if (sh->o->json) {
        json_t *o = json_pack("{s:o, s:s, s:o}", "file", cli_json_str(path), "status", "error", "error", cli_json_str(why));
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("%s: %s ERROR\n", path, why);
    }
    fflush(stdout);
    pthread_mutex_unlock(&sh->out);
}

static void walk(shared *sh, char **paths)
{
    const options *o = sh->o;
    int flags = FTS_NOCHDIR | FTS_COMFOLLOW | (o->follow ? FTS_LOGICAL : FTS_PHYSICAL);
    FTS *fts = fts_open(paths, flags, NULL);
    if (!fts) {
        walk_error(sh, paths[0], strerror(errno));
        return;
    }
    FTSENT *e;
    while ((e = fts_read(fts)) != NULL) {
        switch (e->fts_info) {
        case FTS_D:
            if (e->fts_level > 0 && excluded(o, e->fts_path)) {
                fts_set(fts, e, FTS_SKIP);
                break;
            }
            pthread_mutex_lock(&sh->out);
            sh->t.dirs++;
            pthread_mutex_unlock(&sh->out);
            break;
        case FTS_F:
            if (excluded(o, e->fts_path))
                break;
            {
                char *p = strdup(e->fts_path);
                if (!p) {
                    walk_error(sh, e->fts_path, "out of memory");
                    break;
                }
                queue_push(&sh->q, p, e->fts_statp ? (uint64_t)e->fts_statp->st_size : 0);
            }
            break;
        case FTS_DNR:
        case FTS_ERR:
        case FTS_NS:
            walk_error(sh, e->fts_path, strerror(e->fts_errno));
            break;
        case FTS_DC:
            if (o->verbose)
                fprintf(stderr, "khien: %s: directory cycle, not entered again\n", e->fts_path);
            break;
        case FTS_SL:
        case FTS_SLNONE:
        case FTS_DEFAULT:
            pthread_mutex_lock(&sh->out);
            sh->t.skipped++;
            pthread_mutex_unlock(&sh->out);
            if (o->verbose)
                fprintf(stderr, "khien: %s: %s, skipped\n", e->fts_path,
                        e->fts_info == FTS_DEFAULT ? "not a regular file" : "symbolic link");
            break;
        default:
            break;
        }
    }
    if (errno && errno != ENOENT)
        walk_error(sh, "(walk)", strerror(errno));
    fts_close(fts);
}

/* ---- engine ---- */
typedef struct diag_state {
    int verbose;
    unsigned shown_errors, skipped;
} diag_state;

static void on_diag(void *ud, kh_diag_level level, const char *file, unsigned line, const char *msg)
{
    diag_state *d = ud;
    if (level == KH_DIAG_SKIP) {
        d->skipped++;
        if (!d->verbose)
            return;
    }
    if (level == KH_DIAG_INFO && !d->verbose)
        return;
    if (level == KH_DIAG_ERROR && ++d->shown_errors > 50 && !d->verbose) {
        if (d->shown_errors == 51)
            fprintf(stderr, "khien: more database errors not shown (use --verbose)\n");
        return;
    }
    const char *tag = level == KH_DIAG_ERROR ? "error" : level == KH_DIAG_SKIP ? "skipped" : "info";
    if (file && line)
        fprintf(stderr, "khien: %s:%u: %s: %s\n", file, line, tag, msg);
    else if (file)
        fprintf(stderr, "khien: %s: %s: %s\n", file, tag, msg);
    else
        fprintf(stderr, "khien: %s: %s\n", tag, msg);
}

static int load_engine(const options *o, diag_state *ds, kh_engine **out)
{
    char cbuf[4096];
    kh_engine_opts eo;
    kh_engine_opts_default(&eo);
    eo.diag = on_diag;
    eo.diag_ud = ds;
    if (!o->no_cache)
        eo.cache_dir = o->cache_dir ? o->cache_dir : cli_default_cache_dir(cbuf, sizeof(cbuf));
    eo.trust_dir = o->trust_dir ? o->trust_dir : cli_default_trust_dir();
    kh_engine *e = NULL;
    kh_err err = kh_engine_create(&eo, &e);
    if (err != KH_OK) {
        fprintf(stderr, "khien: %s\n", kh_strerror(err));
        return -1;
    }
    const char *def = NULL;
    if (!o->ndbs) {
        def = cli_default_db_dir();
        if (!def) {
            fprintf(stderr, "khien: no signature database: give one with -d PATH "
                            "(or set KHIEN_DB, or install one in /var/lib/khien/db)\n");
            kh_engine_release(e);
            return -1;
        }
    }
    for (size_t i = 0; i < (o->ndbs ? o->ndbs : 1); i++) {
        char managed[4200];
        const char *p = cli_db_path(o->ndbs ? o->dbs[i] : def, managed, sizeof(managed));
        err = kh_engine_load(e, p);
        if (err == KH_ENOMEM || err == KH_ENOENT || err == KH_EACCES) {
            fprintf(stderr, "khien: cannot load database %s: %s\n", p, kh_strerror(err));
            kh_engine_release(e);
            return -1;
        }
    }
    err = kh_engine_compile(e);
    if (err != KH_OK) {
        fprintf(stderr, "khien: cannot use the signature database: %s\n", kh_strerror(err));
        kh_engine_release(e);
        return -1;
    }
    if (ds->skipped && !o->verbose)
        fprintf(stderr, "khien: %u signature line(s) or file(s) skipped as not supported yet "
                        "(--verbose lists them)\n", ds->skipped);
    *out = e;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: khien scan [OPTIONS] PATH...\n"
          "Scan files and directories (recursively) for malware. PATH '-' reads standard input.\n\n"
          "  -d, --database PATH     signature file or directory (.hdb .hsb .ndb .fp .sfp .ign2\n"
          "                          .yar .yara .yarc .cvd .cld .cud); repeatable\n"
          "                          (default: $KHIEN_DB, /var/lib/khien/db)\n"
          "  -j, --jobs N            scanning threads, 1 to 32 (default: all cores)\n"
          "  -f, --file-list FILE    also scan the paths listed in FILE, one per line\n"
          "  -i, --infected          print only infected files\n"
          "      --json              one JSON object per file, then a summary object\n"
          "      --allmatch          report every matching signature, not only the first\n"
          "      --exclude GLOB      skip paths matching GLOB (basename, or whole path if it has /)\n"
          "      --follow-symlinks   follow symbolic links while walking directories\n"
          "      --quarantine DIR    move infected files into DIR (see 'khien quarantine')\n"
          "      --no-archive        do not look inside archives and compressed files\n"
          "      --max-depth N       container nesting limit (default 16)\n"
          "      --max-filesize SIZE largest file or member scanned (default 100M)\n"
          "      --max-scansize SIZE bytes extracted from one file in all (default 400M)\n"
          "      --max-files N       members taken from one file (default 10000)\n"
          "      --max-ratio N       extracted:compressed ratio seen as a bomb (default 250)\n"
          "      --max-scantime MS   time for one file and all inside it (default 120000 ms)\n"
          "      --alert-exceeds-max report hitting a limit as FOUND, not as WARNING\n"
          "      --alert-encrypted   report encrypted archive members as FOUND\n"
          "      --cache-dir DIR     compiled database cache (default ~/.cache/khien)\n"
          "      --no-cache          neither read nor write the compiled database cache\n"
          "      --trust-dir DIR     publisher keys for .cvd signatures (default: $KHIEN_TRUST_DIR,\n"
          "                          /etc/khien/trust, the installed share/khien/trust)\n"
          "      --no-summary        no summary at the end\n"
          "      --no-progress       no progress line on a terminal\n"
          "  -v, --verbose           list skipped signatures and files\n"
          "      --lang en|vi        the summary in English (default) or Vietnamese (also\n"
          "                          KHIEN_LANG=vi); the FOUND lines stay as clamscan's\n"
          "  -h, --help              this text\n\n"
          "Exit status: 0 nothing found, 1 something found, 2 errors only.\n", f);
}

enum {
    O_JSON = 256, O_ALLMATCH, O_EXCLUDE, O_FOLLOW, O_QUAR, O_NOARC, O_MAXDEPTH, O_MAXFSIZE,
    O_MAXSSIZE, O_MAXFILES, O_MAXRATIO, O_ALERTEX, O_ALERTENC, O_CACHE, O_NOCACHE, O_NOSUM,
    O_NOPROG, O_FILELIST, O_TRUST, O_MAXTIME, O_LANG
};

static int add_str(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"database", required_argument, 0, 'd'}, {"jobs", required_argument, 0, 'j'},
        {"infected", no_argument, 0, 'i'},       {"json", no_argument, 0, O_JSON},
        {"allmatch", no_argument, 0, O_ALLMATCH}, {"exclude", required_argument, 0, O_EXCLUDE},
        {"follow-symlinks", no_argument, 0, O_FOLLOW}, {"quarantine", required_argument, 0, O_QUAR},
        {"no-archive", no_argument, 0, O_NOARC}, {"max-depth", required_argument, 0, O_MAXDEPTH},
        {"max-filesize", required_argument, 0, O_MAXFSIZE},
        {"max-scansize", required_argument, 0, O_MAXSSIZE},
        {"max-files", required_argument, 0, O_MAXFILES}, {"max-ratio", required_argument, 0, O_MAXRATIO},
        {"max-scantime", required_argument, 0, O_MAXTIME},
        {"alert-exceeds-max", no_argument, 0, O_ALERTEX}, {"alert-encrypted", no_argument, 0, O_ALERTENC},
        {"cache-dir", required_argument, 0, O_CACHE}, {"no-cache", no_argument, 0, O_NOCACHE},
        {"no-summary", no_argument, 0, O_NOSUM}, {"no-progress", no_argument, 0, O_NOPROG},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'},
        {"file-list", required_argument, 0, 'f'}, {"trust-dir", required_argument, 0, O_TRUST},
        {"lang", required_argument, 0, O_LANG},
        {0, 0, 0, 0}};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:j:f:ivh", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (add_str(&o->dbs, &o->ndbs, optarg))
                return -1;
            break;
        case 'j':
            if (cli_parse_uint(optarg, 32, &v) || v == 0) {
                fprintf(stderr, "khien scan: -j takes a number of threads from 1 to 32, not '%s'\n", optarg);
                return -1;
            }
            o->jobs = (unsigned)v;
            break;
        case 'i': o->infected_only = 1; break;
        case 'f': o->file_list = optarg; break;
        case 'v': o->verbose = 1; break;
        case O_JSON: o->json = 1; o->sopts.flags |= KH_SCAN_DESCRIBE; break;
        case O_LANG:
            if (cli_lang_set(optarg)) {
                fprintf(stderr, "khien scan: --lang takes en or vi, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_ALLMATCH: o->sopts.flags |= KH_SCAN_ALLMATCH; break;
        case O_EXCLUDE:
            if (add_str(&o->excludes, &o->nexcludes, optarg))
                return -1;
            break;
        case O_FOLLOW: o->follow = 1; break;
        case O_QUAR: o->quarantine = optarg; break;
        case O_NOARC: o->sopts.flags |= KH_SCAN_NO_ARCHIVE; break;
        case O_ALERTEX: o->sopts.flags |= KH_SCAN_ALERT_EXCEEDS; break;
        case O_ALERTENC: o->sopts.flags |= KH_SCAN_ALERT_ENCRYPTED; break;
        case O_CACHE: o->cache_dir = optarg; break;
        case O_TRUST: o->trust_dir = optarg; break;
        case O_NOCACHE: o->no_cache = 1; break;
        case O_NOSUM: o->no_summary = 1; break;
        case O_NOPROG: o->progress = 0; break;
        case O_MAXDEPTH: case O_MAXFILES: case O_MAXRATIO: case O_MAXTIME:
            if (cli_parse_uint(optarg, UINT32_MAX, &v)) {
                fprintf(stderr, "khien scan: %s takes a whole number, not '%s'\n", argv[optind - 1], optarg);
                return -1;
            }
            if (c == O_MAXDEPTH) o->sopts.limits.max_depth = (uint32_t)v;
            else if (c == O_MAXFILES) o->sopts.limits.max_files = (uint32_t)v;
            else if (c == O_MAXRATIO) o->sopts.limits.max_ratio = (uint32_t)v;
            else o->sopts.limits.max_scantime = (uint32_t)v;
            break;
        case O_MAXFSIZE: case O_MAXSSIZE:
            if (cli_parse_size(optarg, &v)) {
                fprintf(stderr, "khien scan: %s takes a size like 100M, not '%s'\n", argv[optind - 1], optarg);
                return -1;
            }
            if (c == O_MAXFSIZE) o->sopts.limits.max_filesize = v;
            else o->sopts.limits.max_scansize = v;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

static void print_summary(shared *sh, const kh_engine_stats *st, double secs, time_t start, time_t end)
{
    const totals *t = &sh->t;
    if (sh->o->json) {
        json_t *o = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s}}",
                              "summary", "signatures",
                              (json_int_t)(st->hash_sigs + st->section_sigs + st->body_sigs + st->logical_sigs + st->yara_rules),
                              "directories", (json_int_t)t->dirs, "files", (json_int_t)t->files,
                              "infected", (json_int_t)t->infected, "detections", (json_int_t)t->detections,
                              "warnings", (json_int_t)t->warnings, "errors", (json_int_t)t->errors,
                              "skipped", (json_int_t)t->skipped, "bytes_read", (json_int_t)t->bytes_read,
                              "bytes_scanned", (json_int_t)t->bytes_scanned, "seconds", secs,
                              "engine", KH_VERSION_STRING);
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    char sbuf[64], ebuf[64];
    strftime(sbuf, sizeof(sbuf), "%Y:%m:%d %H:%M:%S", localtime(&start));
    strftime(ebuf, sizeof(ebuf), "%Y:%m:%d %H:%M:%S", localtime(&end));
    fputs(cli_tr("\n----------- SCAN SUMMARY -----------\n"), stdout);
    printf(cli_tr("Known signatures: %u (hash %u, body %u, logical %u, YARA %u, allow-list %u)\n"),
           st->hash_sigs + st->section_sigs + st->body_sigs + st->logical_sigs + st->yara_rules,
           st->hash_sigs + st->section_sigs, st->body_sigs, st->logical_sigs, st->yara_rules, st->fp_sigs);
    printf(cli_tr("Engine version: %s\n"), KH_VERSION_STRING);
    printf(cli_tr("Scanned directories: %llu\n"), (unsigned long long)t->dirs);
    printf(cli_tr("Scanned files: %llu\n"), (unsigned long long)t->files);
    printf(cli_tr("Infected files: %llu\n"), (unsigned long long)t->infected);
    printf(cli_tr("Warnings: %llu\n"), (unsigned long long)t->warnings);
    printf(cli_tr("Errors: %llu\n"), (unsigned long long)t->errors);
    printf(cli_tr("Data scanned: %.2f MB\n"), (double)t->bytes_scanned / 1e6);
    printf(cli_tr("Data read: %.2f MB (ratio %.2f:1)\n"), (double)t->bytes_read / 1e6,
           t->bytes_read ? (double)t->bytes_scanned / (double)t->bytes_read : 0.0);
    printf(cli_tr("Time: %.3f sec (%d m %d s)\n"), secs, (int)secs / 60, (int)secs % 60);
    printf(cli_tr("Start Date: %s\n"), sbuf);
    printf(cli_tr("End Date:   %s\n"), ebuf);
}

/* Paths from FILE, one per line (empty lines ignored); "-" is standard input. */
static int read_file_list(const char *file, char **out_data, char ***out_paths, size_t *out_n)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "khien scan: --file-list %s: %s\n", file, strerror(errno));
        return -1;
    }
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *nd = realloc(data, cap);
            if (!nd) {
                free(data);
                if (f != stdin)
                    fclose(f);
                fprintf(stderr, "khien scan: --file-list %s: out of memory\n", file);
                return -1;
            }
            data = nd;
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    if (f != stdin)
        fclose(f);
    if (!data && !(data = malloc(1)))
        return -1;
    data[len] = '\0';
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += data[i] == '\n';
    char **paths = calloc(count + 2, sizeof(*paths));
    if (!paths) {
        free(data);
        return -1;
    }
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';
        if (*line)
            paths[n++] = line;
    }
    *out_data = data;
    *out_paths = paths;
    *out_n = n;
    return 0;
}

static void scan_stdin(shared *sh)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    kh_scanner *sc = NULL;
    fevents fe = {0};
    kh_scan_result res;
    while (buf) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, stdin);
        if (n == 0)
            break;
        len += n;
    }
    if (!buf || ferror(stdin)) {
        walk_error(sh, "stdin", buf ? "read error" : "out of memory");
        free(buf);
        return;
    }
    kh_err err = kh_scanner_create(sh->engine, &sh->o->sopts, &sc);
    if (err == KH_OK)
        err = kh_scan_mem(sc, buf, len, "stdin", collect, &fe, &res);
    else
        walk_error(sh, "stdin", kh_strerror(err));
    if (sc)
        report(sh, "stdin", err, &res, &fe);
    fevents_clear(&fe);
    free(fe.v);
    kh_scanner_destroy(sc);
    free(buf);
}

int cmd_scan(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof(o));
    kh_scan_opts_default(&o.sopts);
    o.progress = 1;
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.dbs);
        free(o.excludes);
        return rc > 0 ? 0 : 2;
    }
    char *list_data = NULL;
    char **list_paths = NULL;
    size_t nlist = 0;
    if (o.file_list && read_file_list(o.file_list, &list_data, &list_paths, &nlist) != 0) {
        free(o.dbs);
        free(o.excludes);
        return 2;
    }
    if (optind >= argc && !nlist) {
        free(list_data);
        free(list_paths);
        fprintf(stderr, "khien scan: nothing to scan; give one or more paths (see --help)\n");
        free(o.dbs);
        free(o.excludes);
        return 2;
    }
    if (!o.jobs) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.jobs = n > 32 ? 32 : n > 0 ? (unsigned)n : 1; /* libyara's limit of scanners */
    }
    diag_state ds = {o.verbose, 0, 0};
    kh_engine *engine = NULL;
    time_t start = time(NULL);
    double t0 = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = ts.tv_sec + ts.tv_nsec / 1e9;
    }
    if (load_engine(&o, &ds, &engine) != 0) {
        free(o.dbs);
        free(o.excludes);
        return 2;
    }
    shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.o = &o;
    sh.engine = engine;
    sh.t0 = (double)start;
    pthread_mutex_init(&sh.q.mu, NULL);
    pthread_cond_init(&sh.q.not_empty, NULL);
    pthread_cond_init(&sh.q.not_full, NULL);
    pthread_mutex_init(&sh.out, NULL);
    atomic_init(&sh.done, 0);
    sh.progress_on = o.progress && !o.json && isatty(STDERR_FILENO);
    pthread_t prog;
    int have_prog = sh.progress_on && pthread_create(&prog, NULL, progress_thread, &sh) == 0;

    /* standard input first, alone; then the paths through the worker pool */
    char **paths = calloc((size_t)(argc - optind) + nlist + 1, sizeof(char *));
    size_t np = 0;
    for (size_t i = 0; paths && i < nlist; i++)
        paths[np++] = list_paths[i];
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0)
            scan_stdin(&sh);
        else if (paths)
            paths[np++] = argv[i];
    }
    if (np) {
        pthread_t *th = calloc(o.jobs, sizeof(*th));
        unsigned started = 0;
        for (unsigned i = 0; th && i < o.jobs; i++)
            if (pthread_create(&th[i], NULL, worker, &sh) == 0)
                started++;
        if (!started) {
            fprintf(stderr, "khien scan: cannot start worker threads\n");
            sh.t.errors++;
        } else {
            walk(&sh, paths);
        }
        queue_close(&sh.q);
        for (unsigned i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        free(th);
    }
    atomic_store(&sh.done, 1);
    if (have_prog)
        pthread_join(prog, NULL);
    clear_progress(&sh);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double secs = ts.tv_sec + ts.tv_nsec / 1e9 - t0;
    kh_engine_stats st;
    kh_engine_get_stats(engine, &st);
    if (!o.no_summary)
        print_summary(&sh, &st, secs, start, time(NULL));
    fflush(stdout);
    int status = sh.t.infected ? 1 : sh.t.errors ? 2 : 0;
    free(paths);
    free(list_paths);
    free(list_data);
    kh_engine_release(engine);
    free(o.dbs);
    free(o.excludes);
    return status;
}
