/*
 * fuzz_aspack.c - ASPack-packed PE files (lib/formats/fmt_aspack.c).
 *
 * The file is whatever an attacker wrote: the section table and SizeOfImage that lay out the
 * image, the loader's block list, length and slot tables, filter switch and marker, and each
 * block's code-length tables and Huffman-coded stream all come from the input. The headers
 * are parsed as the scan parses them (the first 36 KiB) and the ASPack walk runs (it checks
 * the entry point itself); fuzz_parts.h touches every part and checks every warning. The
 * seeds are clamav-testfiles' clam-aspack.exe, with its filter switched on, and cut short.
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
    khi_aspack_walk(data, size, &pe, &fuzz_parts);
    return 0;
}
