/*
 * fuzz_ole2.c - OLE2 compound files and the VBA projects in them (lib/formats/fmt_ole2.c,
 * fmt_ole2_vba.c).
 *
 * Every field of a compound file is the attacker's: sector size, FAT and DIFAT sector numbers,
 * chains (loops, numbers outside the file), directory links (loops, unlinked entries), stream
 * sizes, the compressed dir stream and module sources, Ole10Native packages and PowerPoint
 * records. The whole walk runs, VBA included; every part is touched so that a part pointing
 * outside its buffer is caught by ASan, and its name must be a NUL-terminated string.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    khi_ole2_info info;
    fuzz_sink += (size_t)khi_ole2_detect(data, size);
    khi_ole2_walk_info(data, size, fuzz_on_part, NULL, &info);
    fuzz_sink += strlen(info.detail) + (size_t)info.has_vba;
    return 0;
}
