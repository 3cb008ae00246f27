/*
 * test_ftype.c - type detection from the first bytes, which decides what gets unpacked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scan/scan_ftype.h"

static khi_ftype detect(const void *p, size_t n)
{
    return khi_ftype_detect(p, n);
}

static void test_ftype_magic(void **state)
{
    (void)state;
    assert_int_equal(detect("PK\x03\x04rest", 8), KHI_FT_ZIP);
    assert_int_equal(detect("7z\xbc\xaf\x27\x1c", 6), KHI_FT_SEVENZIP);
    assert_int_equal(detect("Rar!\x1a\x07\x00", 7), KHI_FT_RAR);
    assert_int_equal(detect("MSCF\0\0\0\0", 8), KHI_FT_CAB);
    assert_int_equal(detect("070701", 6), KHI_FT_CPIO);
    assert_int_equal(detect("\x1f\x8b\x08", 3), KHI_FT_GZIP);
    assert_int_equal(detect("BZh9", 4), KHI_FT_BZIP2);
    assert_int_equal(detect("BZhx", 4), KHI_FT_UNKNOWN);
    assert_int_equal(detect("\xfd" "7zXZ\0", 6), KHI_FT_XZ);
    assert_int_equal(detect("\x28\xb5\x2f\xfd", 4), KHI_FT_ZSTD);
    assert_int_equal(detect("!<arch>\n", 8), KHI_FT_AR);
    assert_int_equal(detect("\x7f" "ELF\x02", 5), KHI_FT_ELF);
    assert_int_equal(detect("%PDF-1.7", 8), KHI_FT_PDF);
    assert_int_equal(detect("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8), KHI_FT_OLE2);
    assert_int_equal(detect("", 0), KHI_FT_UNKNOWN);
    assert_int_equal(detect("P", 1), KHI_FT_UNKNOWN);
}

static void test_ftype_pe(void **state)
{
    (void)state;
    uint8_t b[128];
    memset(b, 0, sizeof(b));
    b[0] = 'M';
    b[1] = 'Z';
    assert_int_equal(detect(b, sizeof(b)), KHI_FT_MSDOS);
    b[0x3c] = 0x40;
    memcpy(b + 0x40, "PE\0\0", 4);
    assert_int_equal(detect(b, sizeof(b)), KHI_FT_PE);
    b[0x3c] = 0x7e; /* e_lfanew too close to the end */
    assert_int_equal(detect(b, sizeof(b)), KHI_FT_MSDOS);
}

static void test_ftype_tar(void **state)
{
    (void)state;
    uint8_t h[512];
    memset(h, 0, sizeof(h));
    memcpy(h, "file.txt", 8);
    memcpy(h + 100, "0000644", 7);
    /* v7 tar: no magic, only a checksum */
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    assert_int_equal(detect(h, sizeof(h)), KHI_FT_TAR);
    h[0] ^= 1; /* checksum no longer adds up */
    assert_int_equal(detect(h, sizeof(h)), KHI_FT_UNKNOWN);
    uint8_t zeros[1024];
    memset(zeros, 0, sizeof(zeros));
    assert_int_equal(detect(zeros, sizeof(zeros)), KHI_FT_UNKNOWN);
    memcpy(zeros + 257, "ustar", 5);
    assert_int_equal(detect(zeros, sizeof(zeros)), KHI_FT_TAR);
}

static void test_ftype_formats(void **state)
{
    (void)state;
    const char *mail = "From: a@b\nSubject: x\n\nbody";
    const char *notmail = "Package: khien\nVersion: 1\n";
    assert_int_equal(detect(mail, strlen(mail)), KHI_FT_MAIL);
    assert_int_equal(detect(notmail, strlen(notmail)), KHI_FT_UNKNOWN);
    assert_int_equal(detect("SZDD\x88\xf0\x27\x33\x41\x00\x10\x00\x00\x00", 14), KHI_FT_SZDD);
    assert_int_equal(detect("{\\rtf1\\ansi hello}", 18), KHI_FT_RTF);
    assert_int_equal(detect("\x78\x9f\x3e\x22\x00\x00", 6), KHI_FT_TNEF);
    const char *bh = "(This file must be converted with BinHex 4.0)\n:abc";
    assert_int_equal(detect(bh, strlen(bh)), KHI_FT_BINHEX);
    const char *html = "<!DOCTYPE html><html><body>x</body></html>";
    assert_int_equal(detect(html, strlen(html)), KHI_FT_HTML);
}

static void test_ftype_tables(void **state)
{
    (void)state;
    assert_int_equal(khi_ftype_container(KHI_FT_ZIP), 1);
    assert_int_equal(khi_ftype_container(KHI_FT_GZIP), 2);
    assert_int_equal(khi_ftype_container(KHI_FT_PE), 0);
    assert_int_equal(khi_ftype_target(KHI_FT_PE), 1);
    assert_int_equal(khi_ftype_target(KHI_FT_ELF), 6);
    assert_string_equal(khi_ftype_label(KHI_FT_SEVENZIP), "7z");
    assert_string_equal(khi_ftype_label((khi_ftype)999), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ftype_magic), cmocka_unit_test(test_ftype_pe),
        cmocka_unit_test(test_ftype_tar),   cmocka_unit_test(test_ftype_tables),
        cmocka_unit_test(test_ftype_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
