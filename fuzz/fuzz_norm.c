/*
 * fuzz_norm.c - the normalised views of ClamAV target types 3 and 7 (lib/formats/fmt_htmlnorm.c,
 * fmt_textnorm.c).
 *
 * The page is whatever an attacker wrote: unterminated tags, quotes, references and data: URIs,
 * high bytes in every state. Beyond memory errors (ASan) the target checks what the scanner
 * relies on: both HTML views stay within their 2 * len + 64 bytes and every byte is touched;
 * the text view is never longer than its input, is the same when the input is fed in two
 * pieces (split where the first byte says), and normalising it again changes nothing.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void touch(const uint8_t *p, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    sink += s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *a = NULL, *t = NULL;
    size_t an = 0, tn = 0;
    if (khi_htmlnorm(data, size, &a, &an, &t, &tn) == KH_OK) {
        if (an > 2 * size + 64 || tn > 2 * size + 64)
            abort();
        touch(a, an);
        touch(t, tn);
    }
    khi_free(a);
    khi_free(t);

    sink += (size_t)khi_text_detect(data, size);
    uint8_t *o1 = malloc(size + 1), *o2 = malloc(size + 1), *o3 = malloc(size + 1);
    if (o1 && o2 && o3) {
        khi_textnorm_state s1 = {0}, s2 = {0}, s3 = {0};
        size_t n1 = khi_textnorm(&s1, data, size, o1);
        size_t cut = size ? data[0] % (size + 1) : 0;
        size_t n2 = khi_textnorm(&s2, data, cut, o2);
        n2 += khi_textnorm(&s2, data + cut, size - cut, o2 + n2);
        size_t n3 = khi_textnorm(&s3, o1, n1, o3);
        if (n1 > size || n1 != n2 || memcmp(o1, o2, n1) != 0 || n3 != n1 || memcmp(o1, o3, n1) != 0)
            abort();
    }
    free(o1);
    free(o2);
    free(o3);
    return 0;
}
