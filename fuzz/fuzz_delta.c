/*
 * fuzz_delta.c - line patches of signature deltas, and the diff that makes them.
 *
 * Patches arrive inside deltas from mirrors; applying one must never write past the size the
 * signed manifest allows, read past the installed file or loop. The input is split in three
 * (two length bytes pick the cuts): an "installed" file, a patch applied to it (to /dev/null,
 * with a small output limit), and a second file. Then the diff is checked as a property: the
 * patch made from the first file to the second must turn the first into exactly the second.
 */
#include "update/update_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t a = data[0] % (size - 1), b = data[1] % (size - 1);
    const char *rest = (const char *)data + 2;
    size_t n = size - 2;
    if (a > n)
        a = n;
    if (b > n - a)
        b = n - a;
    const char *old = rest, *patch = rest + a, *new_ = rest + a + b;
    size_t newlen = n - a - b;
    char err[256];
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0)
        return 0;
    khi_delta_apply(old, a, patch, b, devnull, 4096, err, sizeof(err));
    close(devnull);

    khi_buf p;
    khi_buf_init(&p);
    if (khi_delta_make(old, a, new_, newlen, &p) == KH_OK) {
        FILE *f = tmpfile();
        if (f) {
            if (khi_delta_apply(old, a, p.data ? p.data : "", p.len, fileno(f), newlen, err,
                                sizeof(err)) != KH_OK)
                abort(); /* a patch we made must apply */
            long got = ftell(f) >= 0 ? lseek(fileno(f), 0, SEEK_END) : -1;
            char *back = malloc(newlen + 1);
            if (got != (long)newlen || !back || pread(fileno(f), back, newlen, 0) != (ssize_t)newlen ||
                memcmp(back, new_, newlen) != 0)
                abort(); /* and give exactly the new file */
            free(back);
            fclose(f);
        }
    }
    khi_buf_cleanup(&p);
    return 0;
}
