/*
 * fuzz_tnef.c - MS-TNEF / winmail.dat (lib/formats/fmt_tnef.c).
 *
 * The file is whatever an attacker wrote: attribute levels, ids and lengths all come from the
 * input, and attachments point into it. The input goes to the detector and the part walker; every
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
    fuzz_sink += (size_t)khi_tnef_detect(data, size);
    khi_tnef_walk(data, size, fuzz_on_part, NULL);
    return 0;
}
