/*
 * fuzz_upack.c - Upack-packed PE files (lib/formats/fmt_upack.c) and Upack's LZMA decoder.
 *
 * An input starting with "MZ" is a file: the headers are parsed as the scan parses them (the
 * first 36 KiB), the packer detection sees the entry point's bytes and the unpack walk runs,
 * so the loader's jumps, the table addresses, the section layout and the compressed stream all
 * come from the input; fuzz_parts.h touches every part and checks every warning. Any other
 * input goes to the decoder alone: its first byte gives lc (mod 9) and how much output to ask
 * for, the rest is the stream, decoded into a buffer holding output and stream as in the image.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 'M' && data[1] == 'Z') {
        static khi_pe pe;
        if (khi_pe_parse(data, size > 36864 ? 36864 : size, &pe))
            khi_pe_unpack_walk(data, size, &pe, &fuzz_parts);
        return 0;
    }
    if (size < 1)
        return 0;
    size_t want = (size_t)(data[0] >> 4) * 1024 + 64, total = want + size - 1;
    uint8_t *buf = malloc(total);
    if (!buf)
        return 0;
    memset(buf, 0, want);
    memcpy(buf + want, data + 1, size - 1);
    size_t end = 0;
    kh_err e = khi_upack_lzma(buf, total, want, 0, want, data[0] % 9u, &end);
    if ((e != KH_OK && e != KH_EFORMAT && e != KH_ENOMEM) || end > want || (e == KH_OK && end != want))
        abort();
    for (size_t i = 0; i < end; i++)
        fuzz_sink += buf[i];
    free(buf);
    return 0;
}
