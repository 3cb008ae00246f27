/*
 * fuzz_pespin.c - PESpin 1.1 packed PE files (lib/formats/fmt_pespin.c, fmt_aplib.c).
 *
 * The file is whatever an attacker wrote: the section table, the loader's layer lengths and
 * keys, the bitmaps picking the sections, the polymorphic routines' instructions, the
 * resources' address and the compressed streams all come from the input. The headers are
 * parsed as the scan parses them (the first 36 KiB) and the PESpin walk runs directly (its
 * own detection decides), so the other packers' stubs do not take the inputs; fuzz_parts.h
 * touches every part and checks every warning.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_pe pe;
    if (!khi_pe_parse(data, size > 36864 ? 36864 : size, &pe))
        return 0;
    khi_pespin_walk(data, size, &pe, &fuzz_parts);
    return 0;
}
