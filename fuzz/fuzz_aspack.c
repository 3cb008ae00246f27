/*
 * fuzz_aspack.c - ASPack-packed PE files and ASPack's block streams (lib/formats/fmt_aspack.c).
 *
 * The file is whatever an attacker wrote: the section table and SizeOfImage that lay out the
 * image, the loader's block list, length and slot tables, filter switch and marker, and each
 * block's code-length tables and Huffman-coded stream all come from the input. An input that
 * is a PE (its headers parsed as the scan parses them, the first 36 KiB) goes through the
 * ASPack walk, which checks the entry point itself; fuzz_parts.h touches every part and checks
 * every warning. Any other input is one block's stream: its first two bytes say how many
 * bytes are wanted (up to 64 KiB), the rest is decoded with ASPack 2.12's tables, so the
 * decoder is reached without a packed file around it. Seeds: clam-aspack.exe (as is, with its
 * filter on, with a damaged block) and its three blocks' streams.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ASPack 2.12's length bases and extra bits and its slots' extra bits (clam-aspack.exe) */
static const uint8_t tables[114] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0c, 0x0e, 0x10, 0x14, 0x18,
    0x1c, 0x20, 0x28, 0x30, 0x38, 0x40, 0x50, 0x60, 0x70, 0x80, 0xa0, 0xc0, 0xe0, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x02, 0x03,
    0x03, 0x03, 0x03, 0x04, 0x04, 0x04, 0x04, 0x05, 0x05, 0x05, 0x05, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x01, 0x02, 0x02, 0x03, 0x03, 0x04, 0x04, 0x05, 0x05, 0x06, 0x06, 0x07, 0x07, 0x08,
    0x08, 0x09, 0x09, 0x0a, 0x0a, 0x0b, 0x0b, 0x0c, 0x0c, 0x0d, 0x0d, 0x0e, 0x0e, 0x0f, 0x0f,
    0x10, 0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_pe pe;
    static uint8_t out[1 << 16];
    if (khi_pe_parse(data, size > 36864 ? 36864 : size, &pe)) {
        khi_aspack_walk(data, size, &pe, &fuzz_parts);
        return 0;
    }
    if (size < 2)
        return 0;
    size_t cap = (size_t)data[0] | (size_t)data[1] << 8, n = 0;
    kh_err e = khi_aspack_decode(tables, data + 2, size - 2, out, cap, &n);
    if (n > cap || (e == KH_OK && n != cap) || (e != KH_OK && e != KH_EFORMAT))
        abort();
    for (size_t i = 0; i < n; i++)
        fuzz_sink += out[i];
    return 0;
}
