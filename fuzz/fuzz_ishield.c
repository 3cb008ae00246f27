/*
 * fuzz_ishield.c - InstallShield setups (lib/formats/fmt_ishield.c).
 *
 * The input gives the file list's strings and sizes, data1.hdr's file table and the cabinets'
 * chunks, the MSI-based table. Every part is touched so that a part pointing outside the input or
 * its buffer would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_ishield_sfx_detect(data, size);
    khi_ishield_sfx_walk(data, size, &fuzz_parts);
    size_t at = khi_ishield_msi_find(data, size);
    if (at != SIZE_MAX)
        khi_ishield_msi_walk(data + at, size - at, &fuzz_parts);
    return 0;
}
