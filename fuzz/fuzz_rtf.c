/*
 * fuzz_rtf.c - RTF \objdata and OLE1 objects (lib/formats/fmt_rtf.c).
 *
 * The file is whatever an attacker wrote: hex, \binN lengths, nested groups and every OLE1 and
 * Package length come from the input. The input goes to the detector and the part walker; every
 * part is touched so that a part pointing outside the input or its buffers would be caught by
 * ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_rtf_detect(data, size);
    khi_rtf_walk(data, size, fuzz_on_part, NULL);
    return 0;
}
