/*
 * test_archfmt.c - the archive readers of lib/formats: CRC-32, the Deflate64 and Implode
 * decoders on damaged input, ARJ and CHM detection, and every allocation failure of the walkers
 * turning into KH_ENOMEM (never a crash or a leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/core.h"
#include "formats/formats.h"
#include "scan/scan_ftype.h"
#include "parts_test.h"

static void test_archfmt_crc32(void **state)
{
    (void)state;
    assert_int_equal(khi_crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(khi_crc32(khi_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    assert_int_equal(khi_crc32(0, "", 0), 0);
}

static void test_archfmt_deflate64_damage(void **state)
{
    (void)state;
    khi_buf out;
    khi_buf_init(&out);
    /* empty input, block type 3, a stored block whose NLEN is wrong */
    assert_int_equal(khi_deflate64_decode((const uint8_t *)"", 0, 100, &out), KH_EFORMAT);
    assert_int_equal(khi_deflate64_decode((const uint8_t *)"\x07", 1, 100, &out), KH_EFORMAT);
    assert_int_equal(khi_deflate64_decode((const uint8_t *)"\x01\x05\x00\x00\x00", 5, 100, &out), KH_EFORMAT);
    /* a stored block of 5 bytes, whole, then cut by max_out */
    assert_int_equal(khi_deflate64_decode((const uint8_t *)"\x01\x05\x00\xfa\xffhello", 10, 100, &out), KH_OK);
    assert_int_equal(out.len, 5);
    khi_buf_truncate(&out, 0);
    assert_int_equal(khi_deflate64_decode((const uint8_t *)"\x01\x05\x00\xfa\xffhello", 10, 3, &out), KH_ELIMIT);
    assert_int_equal(out.len, 3);
    /* fixed block: a match (length 3, distance 1) before any output */
    khi_buf_truncate(&out, 0);
    assert_int_equal(khi_deflate64_decode((const uint8_t *)"\x03\x02\x00", 3, 100, &out), KH_EFORMAT);
    khi_buf_cleanup(&out);
}

static void test_archfmt_implode_damage(void **state)
{
    (void)state;
    khi_buf out;
    khi_buf_init(&out);
    /* tree byte count past the input; lengths adding up to 48 of 64 */
    assert_int_equal(khi_implode_decode((const uint8_t *)"\x09\xf5", 2, 0, 10, &out), KH_EFORMAT);
    assert_int_equal(khi_implode_decode((const uint8_t *)"\x02\xf5\xf5\xf5", 4, 0, 10, &out), KH_EFORMAT);
    /* two good trees, then literals 'A' (1 + 8 raw bits) until the input ends */
    const uint8_t ok[] = {3, 0xf5, 0xf5, 0xf5, 0xf5, 3, 0xf5, 0xf5, 0xf5, 0xf5, 0x83, 0x00};
    assert_int_equal(khi_implode_decode(ok, sizeof(ok), 0, 1, &out), KH_OK);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 'A');
    khi_buf_truncate(&out, 0);
    assert_int_equal(khi_implode_decode(ok, sizeof(ok), 0, 100, &out), KH_EFORMAT);
    khi_buf_cleanup(&out);
}

static void test_archfmt_detect(void **state)
{
    (void)state;
    uint8_t h[4 + 30 + 4 + 2] = {0x60, 0xea, 30, 0};
    h[4] = 30;
    uint32_t crc = khi_crc32(0, h + 4, 30);
    memcpy(h + 34, &crc, 4); /* little-endian host */
    assert_true(khi_arj_detect(h, sizeof(h)));
    assert_int_equal(khi_ftype_detect(h, sizeof(h)), KHI_FT_ARJ);
    h[10] ^= 1; /* the header CRC no longer matches: not ARJ */
    assert_false(khi_arj_detect(h, sizeof(h)));
    assert_int_equal(khi_ftype_detect((const uint8_t *)"\x60\xea\xff\xff", 4), KHI_FT_UNKNOWN);
    uint8_t itsf[0x60] = "ITSF";
    assert_int_equal(khi_ftype_detect(itsf, sizeof(itsf)), KHI_FT_CHM);
    assert_int_equal(khi_ftype_detect(itsf, 8), KHI_FT_UNKNOWN);
}

/* Fail each allocation of a walk in turn: KH_ENOMEM or KH_OK, never a crash (ASan: no leak). */
static void fail_each(kh_err (*walk)(const uint8_t *, size_t, const khi_parts_cb *), const char *path)
{
    char *data = NULL;
    size_t len = 0;
    char err[128];
    if (khi_file_read_all(path, 1 << 20, &data, &len, err, sizeof(err)) != KH_OK) {
        printf("skipped: %s is missing\n", path);
        return;
    }
    int parts = 0;
    khi_parts_cb cb = {count_part, count_warn, &parts};
    assert_int_equal(walk((const uint8_t *)data, len, &cb), KH_OK);
    int whole = parts;
    assert_true(whole > 0);
    for (long n = 0; n < 200; n++) {
        parts = 0;
        khi_mem_fail_after(n);
        kh_err e = walk((const uint8_t *)data, len, &cb);
        khi_mem_fail_after(-1);
        assert_true(e == KH_OK || e == KH_ENOMEM);
        if (e == KH_OK && parts == whole)
            break;
    }
    khi_free(data);
}

static void test_archfmt_enomem(void **state)
{
    (void)state;
    fail_each(khi_arj_walk, "/usr/share/clamav-testfiles/clam.arj");
    fail_each(khi_chm_walk, "/usr/share/clamav-testfiles/clam.chm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archfmt_crc32),          cmocka_unit_test(test_archfmt_deflate64_damage),
        cmocka_unit_test(test_archfmt_implode_damage), cmocka_unit_test(test_archfmt_detect),
        cmocka_unit_test(test_archfmt_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
