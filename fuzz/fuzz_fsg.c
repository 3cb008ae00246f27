/*
 * fuzz_fsg.c - FSG packed PE files (lib/formats/fmt_fsg.c, fmt_aplib.c).
 *
 * The file is whatever an attacker wrote: the loader's register block or support data, the
 * list of destinations, the jump to the original entry point, the section table and the aPLib
 * streams all come from the input. The headers are parsed as the scan parses them (the first
 * 36 KiB), and the FSG walk runs whenever its detection accepts the entry point (the seeds,
 * made by tests/unit/test_unpack_fsg.c's packer, are FSG 1.31, 1.33 and 2.0 files holding
 * clam.exe); fuzz_parts.h touches every part and checks every warning.
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
    khi_fsg_walk(data, size, &pe, &fuzz_parts);
    return 0;
}
