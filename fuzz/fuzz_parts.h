/*
 * fuzz_parts.h - what every lib/formats fuzz target does with what a walker hands out: touch
 * each byte of each part (ASan then catches a part that points outside its buffer), and check
 * that a part has bytes and a name and a warning is a known kind with words. One copy for all
 * the format targets; each includes it once.
 */
#ifndef KH_FUZZ_PARTS_H
#define KH_FUZZ_PARTS_H

#include "formats/formats.h"

#include <stdlib.h>
#include <string.h>

static size_t fuzz_sink;

static int fuzz_on_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    (void)ud;
    if ((!d && n) || !name)
        abort();
    for (size_t i = 0; i < n; i++)
        fuzz_sink += d[i];
    fuzz_sink += strlen(name);
    return 0;
}

static int fuzz_on_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    (void)ud;
    if (what > KHI_FWARN_PARTS || !detail || !*detail)
        abort();
    fuzz_sink += (size_t)what + (part ? strlen(part) : 0) + strlen(detail);
    return 0;
}

static const khi_parts_cb fuzz_parts = {fuzz_on_part, fuzz_on_warn, NULL};

/* The input as a khi_read_fn source (readers that take a file through a callback). */
typedef struct fuzz_src {
    const uint8_t *d;
    size_t n;
} fuzz_src;

static inline size_t fuzz_read(void *ud, uint64_t off, uint8_t *buf, size_t len)
{
    const fuzz_src *s = ud;
    if (off >= s->n)
        return 0;
    if (len > s->n - off)
        len = (size_t)(s->n - off);
    memcpy(buf, s->d + off, len);
    return len;
}

#endif
