/*
 * fuzz_zipx.c - ZIP members of methods 6 and 9 (lib/formats/fmt_zipx.c, fmt_zipdec.c).
 *
 * An input starting with 'P' is a ZIP file whose central directory fmt_zipx walks; otherwise the
 * first byte picks a decoder for the rest, so that the decoders are reached without a valid ZIP
 * around them: 0x80 set, Deflate64; else Implode with that byte as the ZIP flags (bit 1 8 KiB
 * window, bit 2 literal tree); outputs are capped at 1024 (Deflate64) or 64 times the input size.
 * Every part is touched so that ASan sees a part pointing outside its buffer.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 'P') {
        fuzz_src s = {data, size};
        khi_zipx_walk(fuzz_read, &s, size, &fuzz_parts);
        return 0;
    }
    khi_buf out;
    khi_buf_init(&out);
    if (data[0] & 0x80)
        khi_deflate64_decode(data + 1, size - 1, size * 1024, &out);
    else
        khi_implode_decode(data + 1, size - 1, data[0], size * 64, &out);
    for (size_t i = 0; i < out.len; i++)
        fuzz_sink += (uint8_t)out.data[i];
    khi_buf_cleanup(&out);
    return 0;
}
