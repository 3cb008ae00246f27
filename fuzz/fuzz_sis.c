/*
 * fuzz_sis.c - Symbian SIS files (lib/formats/fmt_sis.c).
 *
 * The input gives the header's counts and options, every record type, offsets, lengths and zlib
 * data. Every part is touched so that a part pointing outside the input or its buffer would be
 * caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_sis_detect(data, size);
    khi_sis_walk(data, size, &fuzz_parts);
    return 0;
}
