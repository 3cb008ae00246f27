/*
 * fuzz_petite.c - Petite packed PE files (lib/formats/fmt_petite.c).
 *
 * The file is whatever an attacker wrote: the loader's records (moves and compressed
 * sections, their sources, destinations and sizes), the compressed streams, the loader's
 * second stage with the encrypted entry point and the import table it is decrypted with, and
 * the section table all come from the input. The headers are parsed as the scan parses them
 * (the first 36 KiB), and the Petite walk runs whenever its detection accepts the entry point
 * (the seed is clamav-testfiles' clam-petite.exe, a real Petite 2.2 file); fuzz_parts.h
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
    khi_petite_walk(data, size, &pe, &fuzz_parts);
    return 0;
}
