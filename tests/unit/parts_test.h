/*
 * parts_test.h - the part and warning callbacks the format-reader tests share: count the parts a
 * walk hands out (ud points to an int), ignore its warnings, or stop it at the first part.
 * Included by the tests of lib/formats readers (test_archfmt.c, test_inst.c, test_ole2.c) and
 * by unpack_test.h.
 */
#ifndef KH_PARTS_TEST_H
#define KH_PARTS_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "formats/formats.h"

static inline int count_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    (void)d;
    (void)n;
    (void)name;
    (*(int *)ud)++;
    return 0;
}

static inline int count_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    (void)ud;
    (void)what;
    (void)part;
    (void)detail;
    return 0;
}

static inline int stop_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    (void)ud;
    (void)d;
    (void)n;
    (void)name;
    return 1;
}

#endif
