/*
 * fuzz_peres.c - a PE's resource table (lib/formats/fmt_peres.c) and what the scan does with the
 * resource it finds: the AutoIt script in RCDATA "SCRIPT" (fmt_autoit.c).
 *
 * The data directory, the three levels of directories, the name strings and the data entry all
 * come from the input; reads go through a callback over the input, as the scan's do over a file.
 * A resource found is cut to the input, as the scan cuts it to the file, and walked as AutoIt
 * data.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_pe pe;
    if (!khi_pe_parse(data, size > 36864 ? 36864 : size, &pe))
        return 0;
    fuzz_src m = {data, size};
    uint64_t off;
    uint32_t len;
    if (!khi_pe_resource(&pe, fuzz_read, &m, 10, "SCRIPT", &off, &len))
        return 0;
    if (off >= size)
        return 0; /* within a section's raw data, which a cut file may not hold: as the scan, */
    if (len > size - off) /* take what there is */
        len = (uint32_t)(size - off);
    if (khi_autoit_find(data + off, len) == 0)
        khi_autoit_walk(data + off, len, &fuzz_parts);
    return 0;
}
