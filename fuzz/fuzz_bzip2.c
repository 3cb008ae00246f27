/*
 * fuzz_bzip2.c - NSIS's bzip2 (lib/formats/fmt_bzip2.c) on arbitrary bytes: the block framing,
 * the bytes-in-use map, selectors, code lengths, Huffman codes, runs and the inverse transform
 * all come from the input. The output must stay within its bound; every byte of it is read.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    khi_buf out;
    khi_buf_init(&out);
    size_t max = size && (data[0] & 1) ? 4096 : (size_t)4 << 20;
    khi_nsis_bzip2(data, size, max, &out);
    if (out.len > max)
        __builtin_trap();
    for (size_t i = 0; i < out.len; i++)
        fuzz_sink += (uint8_t)out.data[i];
    khi_buf_cleanup(&out);
    return 0;
}
