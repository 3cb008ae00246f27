/*
 * fuzz_upx.c - packed PE files (lib/formats/fmt_peunpack.c, fmt_upx.c, fmt_nrv.c, fmt_wwpack.c,
 * fmt_yc.c, fmt_mew.c, fmt_aplib.c).
 *
 * The file is whatever an attacker wrote: the stub's source and destination addresses, the
 * UPX! header's method, lengths and filter, the section table and the compressed stream all
 * come from the input. The headers are parsed as the scan parses them (the first 36 KiB), the
 * packer detection sees the entry point's bytes, and the unpack walk runs; fuzz_parts.h
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
    khi_pe_unpack_walk(data, size, &pe, &fuzz_parts);
    return 0;
}
