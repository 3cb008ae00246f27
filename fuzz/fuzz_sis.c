/*
 * fuzz_sis.c - Symbian SIS files (lib/formats/fmt_sis.c).
 *
 * The input gives the header's counts and options, every record type, offsets, lengths and zlib
 * data. Every part is touched so that a part pointing outside the input or its buffer would be
 * caught by ASan.
 */
#include "formats/formats.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static int on_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    (void)ud;
    for (size_t i = 0; i < n; i++)
        sink += d[i];
    sink += strlen(name);
    return 0;
}

static int on_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    (void)ud;
    sink += (size_t)what + (part ? strlen(part) : 0) + strlen(detail);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    khi_parts_cb cb = {on_part, on_warn, NULL};
    sink += (size_t)khi_sis_detect(data, size);
    khi_sis_walk(data, size, &cb);
    return 0;
}
