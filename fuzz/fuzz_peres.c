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

typedef struct mem {
    const uint8_t *d;
    size_t n;
} mem;

static size_t read_mem(void *ud, uint64_t off, uint8_t *buf, size_t len)
{
    const mem *m = ud;
    if (off >= m->n)
        return 0;
    size_t k = m->n - (size_t)off < len ? m->n - (size_t)off : len;
    memcpy(buf, m->d + off, k);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_pe pe;
    if (!khi_pe_parse(data, size > 36864 ? 36864 : size, &pe))
        return 0;
    mem m = {data, size};
    uint64_t off;
    uint32_t len;
    if (!khi_pe_resource(&pe, read_mem, &m, 10, "SCRIPT", &off, &len))
        return 0;
    if (off >= size)
        return 0; /* within a section's raw data, which a cut file may not hold: as the scan, */
    if (len > size - off) /* take what there is */
        len = (uint32_t)(size - off);
    if (khi_autoit_find(data + off, len) == 0)
        khi_autoit_walk(data + off, len, &fuzz_parts);
    return 0;
}
