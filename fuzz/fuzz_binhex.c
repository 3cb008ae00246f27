/*
 * fuzz_binhex.c - BinHex 4.0 files (lib/formats/fmt_binhex.c).
 *
 * The file is whatever an attacker wrote: 6-bit text, run-length expansion (up to 255 times a
 * byte) and fork lengths from the header all come from the input. The input goes to the detector
 * and the part walker; every part is touched so that a part pointing outside the input or its
 * buffers would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_binhex_detect(data, size);
    khi_binhex_walk(data, size, fuzz_on_part, NULL);
    return 0;
}
