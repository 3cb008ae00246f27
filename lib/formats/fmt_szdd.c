/*
 * fmt_szdd.c - MS-SZDD, the format of COMPRESS.EXE / EXPAND.EXE ("setup.ex_").
 *
 * Old Microsoft installers ship their files compressed one by one; the file begins with
 * "SZDD\x88\xf0\x27\x33", a mode byte ('A'), the missing last character of the original name
 * and the 32-bit uncompressed length, followed by LZSS data: a control byte whose bits, lowest
 * first, say whether the next item is a literal byte (1) or a two-byte back reference (0) of
 * a 12-bit window position and a 4-bit length (+3). The 4096-byte window starts filled with
 * spaces and writing starts at 4096-16. The decompressed file is handed out as one part named
 * "decompressed" (the walker does not know the outer file name).
 *
 * Bounds: the output is cut at the declared length, and in any case at 64 MiB (an item of
 * 17 bits gives at most 18 bytes, so the output is also at most about 9 times the input);
 * the buffer grows with the output. A truncated stream gives the data so far.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define KHI_SZDD_MAX_OUT ((64u << 20) - 1) /* the buffer (plus its NUL) stays within 64 MiB */

static const uint8_t magic[8] = {'S', 'Z', 'D', 'D', 0x88, 0xf0, 0x27, 0x33};

int khi_szdd_detect(const uint8_t *data, size_t len)
{
    return len >= 14 && memcmp(data, magic, 8) == 0;
}

kh_err khi_szdd_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    if (!khi_szdd_detect(data, len))
        return KH_OK;
    size_t want =
        (size_t)data[10] | (size_t)data[11] << 8 | (size_t)data[12] << 16 | (size_t)data[13] << 24;
    if (want > KHI_SZDD_MAX_OUT)
        want = KHI_SZDD_MAX_OUT;
    uint8_t win[4096];
    memset(win, ' ', sizeof(win));
    unsigned pos = 4096 - 16;
    khi_buf out;
    khi_buf_init(&out);
    kh_err err = KH_OK;
    size_t i = 14;
    while (i < len && out.len < want) {
        unsigned ctl = data[i++];
        for (int bit = 0; bit < 8 && i < len && out.len < want; bit++, ctl >>= 1) {
            uint8_t tmp[18];
            size_t n;
            if (ctl & 1) {
                tmp[0] = data[i++];
                n = 1;
                win[pos] = tmp[0];
                pos = (pos + 1) & 4095;
            } else {
                if (len - i < 2) {
                    i = len;
                    break;
                }
                unsigned src = data[i] | (unsigned)(data[i + 1] & 0xf0) << 4;
                n = (size_t)(data[i + 1] & 0x0f) + 3;
                i += 2;
                for (size_t k = 0; k < n; k++) {
                    tmp[k] = win[(src + k) & 4095];
                    win[pos] = tmp[k];
                    pos = (pos + 1) & 4095;
                }
            }
            if (n > want - out.len)
                n = want - out.len;
            err = khi_buf_append(&out, tmp, n);
            if (err != KH_OK)
                goto out;
        }
    }
    cb(ud, (const uint8_t *)(out.data ? out.data : ""), out.len, "decompressed");
out:
    khi_buf_cleanup(&out);
    return err;
}
