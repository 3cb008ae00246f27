/*
 * fuzz_pdf.c - PDF documents (lib/formats/fmt_pdf.c and the filters of fmt_pdf_filter.c).
 *
 * Everything in a PDF is the attacker's: object headers, dictionary syntax, /Length, filter
 * chains and their parameters, object stream offsets, string escapes. The input goes to the
 * detector and the walker; every part is touched so that a part pointing outside the input
 * or its buffers would be caught by ASan, and a limit report (data NULL) must carry a known
 * code.
 */
#include "formats/formats.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static int on_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    (void)ud;
    if (what > KHI_FWARN_PARTS || !detail || !*detail)
        abort(); /* every warning is a known kind with words */
    sink += strlen(detail) + (part ? strlen(part) : 0);
    return 0;
}

static int on_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    (void)ud;
    if (!d)
        abort(); /* parts always have bytes (an empty one: "") */
    for (size_t i = 0; i < n; i++)
        sink += d[i];
    sink += strlen(name);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink += (size_t)khi_pdf_detect(data, size);
    khi_parts_cb cb = {on_part, on_warn, NULL};
    khi_pdf_walk(data, size, &cb);
    return 0;
}
