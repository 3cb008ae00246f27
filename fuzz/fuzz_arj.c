/*
 * fuzz_arj.c - ARJ archives (lib/formats/fmt_arj.c).
 *
 * Every header field, size, method and bit of the LZH (methods 1-3) and method-4 streams comes
 * from the input. The input goes to the detector and the walker; every part is touched so that
 * a part pointing outside the input or its buffer would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_sink += (size_t)khi_arj_detect(data, size);
    khi_arj_walk(data, size, &fuzz_parts);
    return 0;
}
