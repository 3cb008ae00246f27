/*
 * fuzz_chm.c - Microsoft Compiled HTML Help (lib/formats/fmt_chm.c, libmspack).
 *
 * The directory, section table, reset table and LZX stream all come from the input, and
 * libmspack parses them through the in-memory mspack_system. The input goes to the detector
 * and the walker; every part is touched so that a part pointing outside the input or its
 * buffer would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_sink += (size_t)khi_chm_detect(data, size);
    khi_chm_walk(data, size, &fuzz_parts);
    return 0;
}
