/*
 * fuzz_pdf.c - PDF documents (lib/formats/fmt_pdf.c and the filters of fmt_pdf_filter.c).
 *
 * Everything in a PDF is the attacker's: object headers, dictionary syntax, /Length, filter
 * chains and their parameters, object stream offsets, string escapes. The input goes to the
 * detector and the walker; every part is touched so that a part pointing outside the input
 * or its buffers would be caught by ASan, and a limit report must carry a known kind and
 * words (fuzz_parts.h).
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_pdf_detect(data, size);
    khi_pdf_walk(data, size, &fuzz_parts);
    return 0;
}
