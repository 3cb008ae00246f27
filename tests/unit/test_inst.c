/*
 * test_inst.c - the installer readers of lib/formats (fmt_inst.c, fmt_ishield.c, fmt_nsis.c,
 * fmt_autoit.c, fmt_sis.c): overlay detection, the zlib helper's bounds, and every allocation
 * of each walk failing in turn on the clamav-testfiles (KH_ENOMEM or KH_OK, never a crash or
 * a leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "core/core.h"
#include "formats/formats.h"
#include "parts_test.h"

#define T "/usr/share/clamav-testfiles/"

/* The overlay of a PE testfile (owned by the caller, khi_free), or NULL when it is missing. */
static uint8_t *overlay_of(const char *path, size_t *out_len)
{
    char *data = NULL;
    size_t len = 0;
    char err[128];
    if (khi_file_read_all(path, 4 << 20, &data, &len, err, sizeof(err)) != KH_OK) {
        printf("skipped: %s is missing\n", path);
        return NULL;
    }
    khi_pe pe;
    assert_true(khi_pe_parse((const uint8_t *)data, len, &pe));
    uint64_t start = khi_pe_overlay_start(&pe);
    assert_true(start > 0 && start < len);
    memmove(data, data + start, len - (size_t)start);
    *out_len = len - (size_t)start;
    return (uint8_t *)data;
}

static void test_inst_detect(void **state)
{
    (void)state;
    static const char *const yes[] = {T "clam-nsis.exe",      T "clam.ea05.exe",
                                      T "clam.ea06.exe",      T "clam_IScab_ext.exe",
                                      T "clam_IScab_int.exe", T "clam_ISmsi_ext.exe",
                                      T "clam_ISmsi_int.exe"};
    for (size_t i = 0; i < KHI_ARRAY_LEN(yes); i++) {
        size_t n = 0;
        uint8_t *o = overlay_of(yes[i], &n);
        if (!o)
            continue;
        assert_true(khi_peovl_detect(o, n > 4096 ? 4096 : n));
        khi_free(o);
    }
    assert_false(khi_peovl_detect((const uint8_t *)"", 0));
    assert_false(khi_peovl_detect((const uint8_t *)"trailing junk\0\0\0\0", 17));
    /* a file list needs "Disk1\<name>"-like paths, a version and a decimal size */
#define LIST(s) (const uint8_t *)(s), sizeof(s) - 1
    assert_true(khi_ishield_sfx_detect(LIST("a.exe\0Disk1\\a.exe\0"
                                            "1.0\0"
                                            "12\0")));
    assert_false(khi_ishield_sfx_detect(LIST("a.exe\0b.exe\0"
                                             "1.0\0"
                                             "12\0")));
    assert_false(khi_ishield_sfx_detect(LIST("a.exe\0Disk1\\a.exe\0"
                                             "1.0\0"
                                             "1x\0")));
    assert_false(khi_ishield_sfx_detect(LIST("a.exe\0Disk1\\a.exe\0"
                                             "1.0\0"
                                             "12")));
#undef LIST
    assert_true(khi_peovl_detect((const uint8_t *)"PK\x03\x04", 4));
    uint8_t sis[0x44] = {0};
    memcpy(sis + 4, "\x12\x3a\x00\x10\x19\x04\x00\x10", 8);
    assert_true(khi_sis_detect(sis, sizeof(sis)));
    assert_false(khi_sis_detect(sis, 20));
}

static void test_inst_inflate_bounds(void **state)
{
    (void)state;
    static uint8_t zeros[1 << 16];
    uint8_t z[1024];
    uLongf zl = sizeof(z);
    assert_int_equal(compress2(z, &zl, zeros, sizeof(zeros), 9), Z_OK);
    khi_buf out;
    khi_buf_init(&out);
    assert_int_equal(khi_inflate(z, zl, 0, sizeof(zeros), &out), KH_OK);
    assert_int_equal(out.len, sizeof(zeros));
    khi_buf_truncate(&out, 0);
    assert_int_equal(khi_inflate(z, zl, 0, 1000, &out), KH_ELIMIT); /* a bomb stops at max */
    assert_int_equal(out.len, 1000);
    khi_buf_truncate(&out, 0);
    assert_int_equal(khi_inflate(z, zl / 2, 0, sizeof(zeros), &out), KH_EFORMAT); /* cut short */
    khi_buf_truncate(&out, 0);
    assert_int_equal(khi_inflate((const uint8_t *)"\xff\xff\xff\xff", 4, 1, 100, &out), KH_EFORMAT);
    khi_buf_cleanup(&out);
}

/* Fail each allocation of a walk in turn: KH_ENOMEM or KH_OK, never a crash (ASan: no leak). */
static void fail_each(kh_err (*walk)(const uint8_t *, size_t, const khi_parts_cb *),
                      const uint8_t *d, size_t len)
{
    int parts = 0;
    khi_parts_cb cb = {count_part, count_warn, &parts};
    assert_int_equal(walk(d, len, &cb), KH_OK);
    int whole = parts;
    assert_true(whole > 0);
    for (long n = 0; n < 400; n++) {
        parts = 0;
        khi_mem_fail_after(n);
        kh_err e = walk(d, len, &cb);
        khi_mem_fail_after(-1);
        assert_true(e == KH_OK || e == KH_ENOMEM);
        if (e == KH_OK && parts == whole)
            break;
    }
}

static void fail_each_overlay(const char *path)
{
    size_t n = 0;
    uint8_t *o = overlay_of(path, &n);
    if (!o)
        return;
    fail_each(khi_peovl_walk, o, n);
    khi_free(o);
}

static void test_inst_enomem(void **state)
{
    (void)state;
    fail_each_overlay(T "clam-nsis.exe");
    fail_each_overlay(T "clam.ea05.exe");
    fail_each_overlay(T "clam.ea06.exe");
    fail_each_overlay(T "clam_IScab_int.exe");
    fail_each_overlay(T "clam_ISmsi_ext.exe");
    char *data = NULL;
    size_t len = 0;
    char err[128];
    if (khi_file_read_all(T "clam.sis", 1 << 20, &data, &len, err, sizeof(err)) == KH_OK) {
        fail_each(khi_sis_walk, (const uint8_t *)data, len);
        khi_free(data);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inst_detect),
        cmocka_unit_test(test_inst_inflate_bounds),
        cmocka_unit_test(test_inst_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
