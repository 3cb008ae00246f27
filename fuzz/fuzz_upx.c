/*
 * fuzz_upx.c - packed PE files (lib/formats/fmt_peunpack.c, fmt_upx.c, fmt_nrv.c, fmt_wwpack.c,
 * fmt_yc.c, fmt_mew.c, fmt_aplib.c).
 *
 * The file is whatever an attacker wrote: the stub's source and destination addresses, the
 * UPX! header's method, lengths and filter, the section table and the compressed stream all
 * come from the input. The headers are parsed as the scan parses them (the first 36 KiB), the
 * packer detection sees the entry point's bytes, and the unpack walk runs; every part is
 * touched so that a part pointing outside its buffer would be caught by ASan.
 */
#include "formats/formats.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static int on_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    (void)ud;
    for (size_t i = 0; i < n; i += 64)
        sink += d[i];
    if (n)
        sink += d[n - 1];
    sink += strlen(name);
    return 0;
}

static int on_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    (void)ud;
    sink += (size_t)what + strlen(detail) + (part ? strlen(part) : 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_pe pe;
    if (!khi_pe_parse(data, size > 36864 ? 36864 : size, &pe))
        return 0;
    khi_parts_cb cb = {on_part, on_warn, NULL};
    khi_pe_unpack_walk(data, size, &pe, &cb);
    return 0;
}
