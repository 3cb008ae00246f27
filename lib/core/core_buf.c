/*
 * core_buf.c - growable byte buffers and a string pool.
 *
 * khi_buf is the one way libkhien builds strings of unknown length (layered object paths,
 * regular expressions, JSON records). khi_pool stores the many small names of a signature
 * database in large blocks so that 100,000 names cost a handful of allocations and are freed
 * at once with the engine.
 */
#include "core.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

void khi_buf_init(khi_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void khi_buf_cleanup(khi_buf *b)
{
    khi_free(b->data);
    khi_buf_init(b);
}

kh_err khi_buf_reserve(khi_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need < b->len)
        return KH_ENOMEM;
    if (need <= b->cap)
        return KH_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *d = khi_realloc(b->data, cap);
    if (!d)
        return KH_ENOMEM;
    b->data = d;
    b->cap = cap;
    return KH_OK;
}

kh_err khi_buf_append(khi_buf *b, const void *data, size_t len)
{
    kh_err err = khi_buf_reserve(b, len);
    if (err != KH_OK)
        return err;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return KH_OK;
}

kh_err khi_buf_puts(khi_buf *b, const char *s)
{
    return khi_buf_append(b, s, strlen(s));
}

kh_err khi_buf_printf(khi_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KH_EINVAL;
    kh_err err = khi_buf_reserve(b, (size_t)n);
    if (err != KH_OK)
        return err;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return KH_OK;
}

void khi_buf_truncate(khi_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

#define POOL_BLOCK 65536

struct khi_pool_block {
    khi_pool_block *next;
    size_t used, cap;
    char data[];
};

void khi_pool_init(khi_pool *p)
{
    p->head = NULL;
}

void khi_pool_cleanup(khi_pool *p)
{
    khi_pool_block *b = p->head;
    while (b) {
        khi_pool_block *next = b->next;
        khi_free(b);
        b = next;
    }
    p->head = NULL;
}

void *khi_pool_alloc(khi_pool *p, size_t n)
{
    khi_pool_block *b = p->head;
    size_t align = sizeof(max_align_t);
    size_t pad = b ? (align - (((uintptr_t)(b->data + b->used)) % align)) % align : 0;
    if (!b || b->cap - b->used < n + pad) {
        size_t cap = n + align > POOL_BLOCK ? n + align : POOL_BLOCK;
        khi_pool_block *nb = khi_malloc(sizeof(*nb) + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = p->head;
        p->head = nb;
        b = nb;
        pad = (align - (((uintptr_t)b->data) % align)) % align;
    }
    char *d = b->data + b->used + pad;
    memset(d, 0, n);
    b->used += pad + n;
    return d;
}

char *khi_pool_strndup(khi_pool *p, const char *s, size_t n)
{
    khi_pool_block *b = p->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > POOL_BLOCK ? n + 1 : POOL_BLOCK;
        khi_pool_block *nb = khi_malloc(sizeof(*nb) + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = p->head;
        p->head = nb;
        b = nb;
    }
    char *d = b->data + b->used;
    memcpy(d, s, n);
    d[n] = '\0';
    b->used += n + 1;
    return d;
}
