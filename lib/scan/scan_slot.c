/*
 * scan_slot.c - the engine in use, replaceable while scans run.
 *
 * A mutex guards only the pointer swap and the retain that goes with reading it; scans never
 * hold the lock while they work, so a reload costs the scanning threads nothing but one
 * uncontended lock per acquisition. Reference counting (scan_engine.c) frees the old engine
 * when its last scan is done.
 */
#include "scan/scan_int.h"

#include <pthread.h>

struct kh_engine_slot {
    pthread_mutex_t mu;
    kh_engine *engine;
    uint64_t generation;
};

kh_err kh_engine_slot_create(kh_engine *initial, kh_engine_slot **out)
{
    if (!initial || !out)
        return KH_EINVAL;
    kh_engine_slot *s = khi_calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    kh_engine_retain(initial);
    s->engine = initial;
    *out = s;
    return KH_OK;
}

kh_engine *kh_engine_slot_acquire(kh_engine_slot *s)
{
    pthread_mutex_lock(&s->mu);
    kh_engine *e = s->engine;
    kh_engine_retain(e);
    pthread_mutex_unlock(&s->mu);
    return e;
}

void kh_engine_slot_replace(kh_engine_slot *s, kh_engine *next)
{
    kh_engine_retain(next);
    pthread_mutex_lock(&s->mu);
    kh_engine *old = s->engine;
    s->engine = next;
    s->generation++;
    pthread_mutex_unlock(&s->mu);
    kh_engine_release(old);
}

uint64_t kh_engine_slot_generation(kh_engine_slot *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t g = s->generation;
    pthread_mutex_unlock(&s->mu);
    return g;
}

void kh_engine_slot_destroy(kh_engine_slot *s)
{
    if (!s)
        return;
    kh_engine_release(s->engine);
    pthread_mutex_destroy(&s->mu);
    khi_free(s);
}
