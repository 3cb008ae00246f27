/*
 * console_loadgen.c - simulated agents against a running console, for bench/bench_console.sh.
 *
 * usage: console_loadgen URL[,URL...] TOKEN AGENTS SECONDS DETECTIONS_PER_S THREADS [PIN]
 * With several URLs (server processes sharing one database), agent i talks to URL i mod n.
 * Enrols AGENTS endpoints with TOKEN, then for SECONDS sends each agent's heartbeat once a
 * minute (AGENTS/60 per second in all) and DETECTIONS_PER_S detection events, spread over
 * THREADS threads, each request signed as a real agent signs it. Prints requests/s, latency
 * percentiles per kind, errors, and the number of distinct events sent (for the lost /
 * duplicated check against the server's count).
 */
#include <khien/console.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shared_t {
    char *urls[16];
    int nurls;
    const char *pin;
    kh_agent_identity *ids;
    int nagents, seconds, threads;
    double det_rate;
} shared_t;

typedef struct worker_t {
    shared_t *sh;
    int index;
    double *lat_hb, *lat_ev;
    size_t nhb, nev, cap;
    long errors, events;
} worker_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *url_of(const shared_t *sh, int agent)
{
    return sh->urls[agent % sh->nurls];
}

static void *enrol_worker(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    const char *token = getenv("LOADGEN_TOKEN");
    for (int i = w->index; i < sh->nagents; i += sh->threads) {
        char err[512], host[64];
        snprintf(host, sizeof(host), "may-%05d", i);
        if (kh_agent_enrol(url_of(sh, i), token, sh->pin, host, &sh->ids[i], err, sizeof(err)) != KH_OK) {
            fprintf(stderr, "enrol %d: %s\n", i, err);
            w->errors++;
        }
    }
    return NULL;
}

static void *load_worker(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    double start = now(), hb_rate = (double)sh->nagents / 60.0 / sh->threads,
           ev_rate = sh->det_rate / sh->threads;
    long hb_sent = 0, ev_sent = 0;
    unsigned seed = (unsigned)w->index * 7919u + 1;
    while (now() - start < sh->seconds) {
        double t = now() - start;
        int do_hb = hb_sent < (long)(t * hb_rate), do_ev = ev_sent < (long)(t * ev_rate);
        if (!do_hb && !do_ev) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        int agent = (int)(rand_r(&seed) % (unsigned)sh->nagents);
        char body[512], err[256], *reply = NULL;
        long status = 0;
        if (do_hb)
            snprintf(body, sizeof(body), "{\"hostname\":\"may-%05d\",\"os\":\"Linux\",\"agent_version\":\"0.1\","
                                         "\"sig_version\":7,\"sig_time\":%ld,\"realtime\":1}", agent, (long)time(NULL));
        else
            snprintf(body, sizeof(body), "{\"events\":[{\"uid\":\"lg-%d-%ld\",\"time\":%ld,\"path\":\"C:\\\\Users\\\\x\\\\a%ld.exe\","
                                         "\"signature\":\"Bench.Sig.%ld\",\"action\":\"quarantined\"}]}",
                     w->index, ev_sent, (long)time(NULL), ev_sent, ev_sent % 50);
        double t0 = now();
        kh_err e = kh_agent_post(url_of(sh, agent), &sh->ids[agent], do_hb ? "/api/v1/heartbeat" : "/api/v1/events", body,
                                 &status, &reply, err, sizeof(err));
        double dt = now() - t0;
        kh_free(reply);
        if (e != KH_OK || status != 200)
            w->errors++;
        if (w->nhb == w->cap || w->nev == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat_hb = realloc(w->lat_hb, w->cap * sizeof(double));
            w->lat_ev = realloc(w->lat_ev, w->cap * sizeof(double));
        }
        if (do_hb) {
            w->lat_hb[w->nhb++] = dt;
            hb_sent++;
        } else {
            w->lat_ev[w->nev++] = dt;
            ev_sent++;
            if (e == KH_OK && status == 200)
                w->events++;
        }
    }
    return NULL;
}

static void report(const char *kind, double *v, size_t n, double secs)
{
    if (!n) {
        printf("%-10s none\n", kind);
        return;
    }
    qsort(v, n, sizeof(double), cmp);
    printf("%-10s %8zu requests  %7.1f/s  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %7.2f ms\n", kind, n,
           n / secs, v[n / 2] * 1e3, v[(size_t)(n * 0.9)] * 1e3, v[(size_t)(n * 0.99)] * 1e3, v[n - 1] * 1e3);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: console_loadgen URL[,URL...] TOKEN AGENTS SECONDS DETECTIONS_PER_S THREADS [PIN]\n");
        return 2;
    }
    shared_t sh;
    memset(&sh, 0, sizeof(sh));
    for (char *save = NULL, *u = strtok_r(argv[1], ",", &save); u && sh.nurls < 16; u = strtok_r(NULL, ",", &save))
        sh.urls[sh.nurls++] = u;
    if (!sh.nurls) {
        fprintf(stderr, "console_loadgen: no URL\n");
        return 2;
    }
    sh.pin = argc > 7 ? argv[7] : NULL;
    sh.nagents = atoi(argv[3]);
    sh.seconds = atoi(argv[4]);
    sh.threads = atoi(argv[6]);
    sh.det_rate = atof(argv[5]);
    setenv("LOADGEN_TOKEN", argv[2], 1);
    sh.ids = calloc((size_t)sh.nagents, sizeof(*sh.ids));
    worker_t *w = calloc((size_t)sh.threads, sizeof(*w));
    pthread_t *th = calloc((size_t)sh.threads, sizeof(*th));
    double t0 = now();
    for (int i = 0; i < sh.threads; i++) {
        w[i] = (worker_t){&sh, i, NULL, NULL, 0, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, enrol_worker, &w[i]);
    }
    long errors = 0;
    for (int i = 0; i < sh.threads; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        w[i].errors = 0;
    }
    printf("enrolled %d agents in %.1f s (%ld errors)\n", sh.nagents, now() - t0, errors);
    t0 = now();
    for (int i = 0; i < sh.threads; i++)
        pthread_create(&th[i], NULL, load_worker, &w[i]);
    size_t nhb = 0, nev = 0;
    long events = 0;
    errors = 0;
    for (int i = 0; i < sh.threads; i++) {
        pthread_join(th[i], NULL);
        nhb += w[i].nhb;
        nev += w[i].nev;
        errors += w[i].errors;
        events += w[i].events;
    }
    double secs = now() - t0;
    double *hb = malloc((nhb ? nhb : 1) * sizeof(double)), *ev = malloc((nev ? nev : 1) * sizeof(double));
    size_t k = 0, m = 0;
    for (int i = 0; i < sh.threads; i++) {
        memcpy(hb + k, w[i].lat_hb, w[i].nhb * sizeof(double));
        k += w[i].nhb;
        memcpy(ev + m, w[i].lat_ev, w[i].nev * sizeof(double));
        m += w[i].nev;
    }
    printf("load: %.1f s, %d agents, target %.0f heartbeats/s + %.0f detections/s, %d threads\n", secs,
           sh.nagents, sh.nagents / 60.0, sh.det_rate, sh.threads);
    report("heartbeat", hb, nhb, secs);
    report("detection", ev, nev, secs);
    printf("errors %ld, detection events acknowledged %ld\n", errors, events);
    return errors ? 1 : 0;
}
