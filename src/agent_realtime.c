/*
 * agent_realtime.c - the agent's real-time protection: a thread that waits for files written
 * under the policy's realtime_paths (lib/watch) and scans each as it is closed.
 *
 * The thread has its own scanner, made again when the engine slot's generation moves (a
 * signature update reloads the engine while the thread goes on), and its own connection to
 * the on-disk queue, so a detection is on disk before the next heartbeat sends it. The same
 * file written many times in a burst is scanned each time it is closed: its content may change.
 * Stopping sets a flag that the thread sees within its 200 ms wait. A file the console asked
 * to restore from the quarantine is let through once (for a minute), or it would be moved back
 * into the quarantine as soon as it reappears.
 */
#include "agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <khien/watch.h>

#define IGNORE_SLOTS 16

struct agent_rt {
    pthread_t th;
    kh_watch *w;
    kh_engine_slot *slot;
    kh_queue *q;
    json_t *paths;
    char *qdir;
    int quarantine, th_started;
    atomic_int stop;
    atomic_uint_fast64_t files, found;
    pthread_mutex_t mu; /* guards ignore[] */
    struct {
        char *path;
        time_t until;
    } ignore[IGNORE_SLOTS];
};

void agent_rt_ignore_once(agent_rt *rt, const char *path)
{
    pthread_mutex_lock(&rt->mu);
    int k = 0;
    for (int i = 1; i < IGNORE_SLOTS; i++) /* a free slot, else the oldest */
        if (!rt->ignore[k].path ? 0 : !rt->ignore[i].path || rt->ignore[i].until < rt->ignore[k].until)
            k = i;
    free(rt->ignore[k].path);
    rt->ignore[k].path = strdup(path);
    rt->ignore[k].until = time(NULL) + 60;
    pthread_mutex_unlock(&rt->mu);
}

/* Is path let through this once? */
static int ignored(agent_rt *rt, const char *path)
{
    int hit = 0;
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < IGNORE_SLOTS && !hit; i++)
        if (rt->ignore[i].path && !strcmp(rt->ignore[i].path, path)) {
            hit = rt->ignore[i].until >= time(NULL);
            free(rt->ignore[i].path);
            rt->ignore[i].path = NULL;
        }
    pthread_mutex_unlock(&rt->mu);
    return hit;
}

static void *run(void *arg)
{
    agent_rt *rt = arg;
    kh_scanner *sc = NULL;
    uint64_t gen = 0;
    char path[4096];
    while (!atomic_load(&rt->stop)) {
        int r = kh_watch_next(rt->w, 200, path, sizeof(path));
        if (r < 0) {
            fprintf(stderr, "khien agent: real-time protection stopped: cannot read file events\n");
            break;
        }
        if (r == 0 || ignored(rt, path))
            continue;
        if (!sc || gen != kh_engine_slot_generation(rt->slot)) {
            kh_scanner_destroy(sc);
            sc = NULL;
            gen = kh_engine_slot_generation(rt->slot);
            kh_engine *e = kh_engine_slot_acquire(rt->slot);
            kh_err err = e ? kh_scanner_create(e, NULL, &sc) : KH_ENOMEM;
            kh_engine_release(e); /* the scanner holds its own reference */
            if (err != KH_OK) {
                fprintf(stderr, "khien agent: real-time scan of %s skipped: %s\n", path, kh_strerror(err));
                continue;
            }
        }
        agent_scan a = {rt->q, NULL, rt->qdir, rt->quarantine, 0, 0, 0, NULL};
        agent_scan_file(sc, &a, path);
        atomic_fetch_add(&rt->files, 1);
        if (a.found) {
            atomic_fetch_add(&rt->found, a.found);
            printf("real-time: %s: %u detection(s) queued\n", path, a.found);
            fflush(stdout);
        }
    }
    kh_scanner_destroy(sc);
    return NULL;
}

agent_rt *agent_rt_start(kh_engine_slot *slot, const char *queue_path, size_t queue_max, const char *qdir,
                         int quarantine, json_t *paths, char *err, size_t err_len)
{
    const char *p[64];
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(paths, i, v)
    {
        if (n < 64 && json_string_value(v))
            p[n++] = json_string_value(v);
    }
    agent_rt *rt = calloc(1, sizeof(*rt));
    if (!rt || !n) {
        snprintf(err, err_len, "%s", rt ? "no realtime_paths in the policy" : "out of memory");
        free(rt);
        return NULL;
    }
    pthread_mutex_init(&rt->mu, NULL);
    rt->slot = slot;
    rt->quarantine = quarantine;
    rt->paths = json_deep_copy(paths);
    rt->qdir = strdup(qdir);
    kh_err e = kh_watch_open(p, n, KH_WATCH_AUTO, 0, &rt->w, err, err_len);
    if (e == KH_OK && kh_queue_open(queue_path, queue_max, &rt->q) != KH_OK) {
        snprintf(err, err_len, "cannot open the queue %s", queue_path);
        e = KH_EIO;
    }
    if (e == KH_OK && (!rt->paths || !rt->qdir))
        e = KH_ENOMEM;
    if (e == KH_OK && pthread_create(&rt->th, NULL, run, rt) != 0) {
        snprintf(err, err_len, "cannot start a thread");
        e = KH_ENOMEM;
    }
    if (e != KH_OK) {
        rt->th_started = 0;
        agent_rt_stop(rt);
        return NULL;
    }
    rt->th_started = 1;
    return rt;
}

const char *agent_rt_method(const agent_rt *rt)
{
    return kh_watch_method(rt->w);
}

void agent_rt_counts(agent_rt *rt, uint64_t *files, uint64_t *found)
{
    *files = atomic_load(&rt->files);
    *found = atomic_load(&rt->found);
}

int agent_rt_same(const agent_rt *rt, json_t *paths, int quarantine)
{
    return rt->quarantine == quarantine && json_equal(rt->paths, paths);
}

void agent_rt_stop(agent_rt *rt)
{
    if (!rt)
        return;
    atomic_store(&rt->stop, 1);
    if (rt->th_started)
        pthread_join(rt->th, NULL);
    kh_watch_close(rt->w);
    kh_queue_close(rt->q);
    json_decref(rt->paths);
    free(rt->qdir);
    for (int i = 0; i < IGNORE_SLOTS; i++)
        free(rt->ignore[i].path);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}
