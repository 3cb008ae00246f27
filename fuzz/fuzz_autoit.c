/*
 * fuzz_autoit.c - AutoIt v3 compiled scripts (lib/formats/fmt_autoit.c).
 *
 * The input gives every encrypted length, size and checksum and the LZSS bits. Every part is
 * touched so that a part pointing outside the input or its buffer would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = khi_autoit_find(data, size);
    if (at != SIZE_MAX)
        khi_autoit_walk(data + at, size - at, &fuzz_parts);
    khi_peovl_walk(data, size, &fuzz_parts);
    return 0;
}
