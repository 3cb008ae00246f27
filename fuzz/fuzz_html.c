/*
 * fuzz_html.c - HTML pages: normalisation, data: URIs, script base64 (lib/formats/fmt_html.c).
 *
 * The file is whatever an attacker wrote: tags, quotes, character references, comments and data:
 * URIs come from the input, and the normalised text must stay within its buffer. The input goes to
 * the detector and the part walker; every part is touched so that a part pointing outside the
 * input or its buffers would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_html_detect(data, size);
    khi_html_walk(data, size, fuzz_on_part, NULL);
    return 0;
}
