/*
 * fuzz_ovba.c - the MS-OVBA decompressor and the VBA dir stream's records alone
 * (lib/formats/fmt_ole2_vba.c), so that the fuzzer spends its time on chunk headers and copy
 * tokens rather than on building a compound file around them.
 *
 * The input is a CompressedContainer: decompressed (output capped as fmt_ole2.c caps it), and
 * what comes out is read as a dir stream. Every output byte is touched.
 */
#include "core/core.h"
#include "formats/formats.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static int on_module(void *ud, const char *stream, uint32_t offset)
{
    (void)ud;
    sink += strlen(stream) + offset;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int damaged = 0;
    if (khi_ovba_decompress(data, size, size * 16 + 65536, &out, &len, &damaged) == KH_OK) {
        for (size_t i = 0; i < len; i++)
            sink += out[i];
        khi_vba_dir_modules(out, len, on_module, NULL);
    }
    khi_free(out);
    return 0;
}
