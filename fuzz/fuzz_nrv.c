/*
 * fuzz_nrv.c - the packers' decoders: NRV2B/2D/2E, UPX's raw LZMA1 and aPLib
 * (lib/formats/fmt_nrv.c, fmt_upx.c, fmt_aplib.c).
 *
 * The first byte picks the method (NRV2B, NRV2D, NRV2E in 8-bit or le32 form, LZMA, aPLib),
 * the second the output room (up to 64 KiB) or the LZMA properties; the rest is the stream. The
 * output is checked to stay within its room and every byte of it is read.
 */
#include "formats/formats.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;
static uint8_t out[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0] & 7, arg = data[1];
    size_t cap = ((size_t)arg + 1) * 256, n = 0;
    if (sel == 7) {
        khi_aplib_decode(data + 2, size - 2, out, cap, &n, NULL);
    } else if (sel == 6) {
        khi_upx_lzma(data + 2, size - 2, arg % 9, (arg / 9) % 5, (arg / 45) % 5, out, cap, &n);
    } else {
        khi_nrv_method m = sel >> 1 == 0 ? KHI_NRV2B : sel >> 1 == 1 ? KHI_NRV2D : KHI_NRV2E;
        khi_nrv_decode(m, sel & 1, data + 2, size - 2, out, cap, &n, NULL);
    }
    if (n > cap)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        sink += out[i];
    return 0;
}
