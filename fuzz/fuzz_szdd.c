/*
 * fuzz_szdd.c - MS-SZDD / COMPRESS.EXE files (lib/formats/fmt_szdd.c).
 *
 * The file is whatever an attacker wrote: the declared length and every LZSS back reference come
 * from the input. The input goes to the detector and the part walker; every part is touched so
 * that a part pointing outside the input or its buffers would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_szdd_detect(data, size);
    khi_szdd_walk(data, size, fuzz_on_part, NULL);
    return 0;
}
