/*
 * fuzz_nsis.c - NSIS installer data (lib/formats/fmt_nsis.c).
 *
 * The input gives the first header's sizes, the block lengths, the choice of method and the deflate
 * and LZMA streams. Every part is touched so that a part pointing outside the input or its buffer
 * would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = khi_nsis_find(data, size);
    if (at != SIZE_MAX)
        khi_nsis_walk(data + at, size - at, &fuzz_parts);
    return 0;
}
