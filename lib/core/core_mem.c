/*
 * core_mem.c - the allocator every part of libkhien goes through.
 *
 * A thin layer over malloc whose only addition is a failure injector: tests call
 * khi_mem_fail_after(n) and the (n+1)th allocation from then on returns NULL, so that every
 * KH_ENOMEM path can be walked (curl's "runtests -t" does the same). The counter is atomic so
 * the injector stays harmless in threaded code; it costs one relaxed load when off.
 */
#include "core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

void khi_mem_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

static int should_fail(void)
{
    long v = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (v < 0)
        return 0;
    v = atomic_fetch_sub(&fail_countdown, 1);
    if (v == 0) {
        atomic_store(&fail_countdown, -1);
        return 1;
    }
    return 0;
}

void *khi_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *khi_calloc(size_t count, size_t n)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, n ? n : 1);
}

void *khi_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void *khi_reallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return khi_realloc(p, count * size);
}

char *khi_strndup(const char *s, size_t n)
{
    char *d = khi_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *khi_strdup(const char *s)
{
    return khi_strndup(s, strlen(s));
}

void khi_free(void *p)
{
    free(p);
}
