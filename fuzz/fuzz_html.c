/*
 * fuzz_html.c - HTML pages: normalisation, data: URIs, script base64 (lib/formats/fmt_html.c).
 *
 * The file is whatever an attacker wrote: tags, quotes, character references, comments and data:
 * URIs come from the input, and the normalised text must stay within its buffer. The input goes to
 * the detector and the part walker; every part is touched so that a part pointing outside the
 * input or its buffers would be caught by ASan.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink += (size_t)khi_html_detect(data, size);
    khi_html_walk(data, size, on_part, NULL);
    return 0;
}
