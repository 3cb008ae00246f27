/*
 * test_unpack_petite.c - the Petite unpacker (lib/formats/fmt_petite.c) on clamav-testfiles'
 * clam-petite.exe, a real Petite 2.2 file: its three compressed sections and the move between
 * them unpack to the program (the same start code and strings as the plain clam-fsg.exe, a
 * ZIP holding clam.exe in its fourth section), and the encrypted entry point is found by
 * replaying the loader's import walk. Then every cut of the file, every damaged byte of the
 * loader's section and the data, the level-zero form, the 2.1 shape, every allocation failure,
 * files that are not Petite, and the scan end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unpack_test.h"

#define PETITE "/usr/share/clamav-testfiles/clam-petite.exe"

static uint8_t file[4096];
static size_t file_len;

static int setup(void **state)
{
    (void)state;
    FILE *f = fopen(PETITE, "rb");
    if (!f)
        return 0;
    file_len = fread(file, 1, sizeof(file), f);
    fclose(f);
    return file_len == sizeof(file) ? 0 : -1;
}

/* The image from 0x1000 to 0x5400 with the original entry point 0x1020 */
static void test_unpack_petite_real(void **state)
{
    (void)state;
    if (!file_len)
        skip();
    khi_pe pe, up;
    assert_true(khi_pe_parse(file, file_len, &pe));
    assert_int_equal(khi_pe_packer(file + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_PETITE);
    collect c = {.name = "petite-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    assert_int_equal(khi_pe_unpack_walk(file, file_len, &pe, &cb), KH_OK);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + 0x4400);
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.nsections, 1);
    assert_int_equal(up.sect[0].va, 0x1000);
    assert_int_equal(up.ep_rva, 0x1020);
    const uint8_t *img = c.last + KHI_PE_REBUILT_HDR - 0x1000; /* indexed by RVA */
    /* WinMain's MessageBoxA call and the start code, as in clam-fsg.exe's .text */
    static const uint8_t winmain[] = {0x6a, 0x00, 0x68, 0x54, 0x20, 0x40, 0x00, 0x68, 0x1c,
                                      0x20, 0x40, 0x00, 0x6a, 0x00, 0xff, 0x15, 0x14, 0x20,
                                      0x40, 0x00, 0x33, 0xc0, 0xc2, 0x10, 0x00};
    assert_memory_equal(img + 0x1000, winmain, sizeof(winmain));
    assert_memory_equal(img + 0x1020, "\x83\xec\x44\x56\xff\x15", 6);
    static const char text[] = "This is a ClamAV test file with the embedded clam.exe";
    assert_memory_equal(img + 0x201c, text, sizeof(text));
    assert_memory_equal(img + 0x20b6, "ExitProcess", 12);
    assert_memory_equal(img + 0x4e6c, "PK\3\4", 4);
    assert_memory_equal(img + 0x4e6c + 30, "clam.exe", 8);
    /* the import address table: the first thunk names ExitProcess (hint, then the name) */
    assert_memory_equal(img + 0x2000, "\xb6\x20\x00\x00\xc4\x20\x00\x00", 8);
    assert_int_equal(khi_pe_packer(c.last + up.ep_offset, KHI_PE_EP_BYTES, &up), KHI_PACKER_NONE);
    free(c.last);
}

/* Every cut of the file; past the loader's first bytes, a warning with what was decoded */
static void test_unpack_petite_cut(void **state)
{
    (void)state;
    if (!file_len)
        skip();
    collect c = {.name = "petite-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    khi_pe pe;
    size_t inside = 0;
    for (size_t cut = 0; cut < file_len; cut++) {
        c.parts = c.warnings = 0;
        if (!khi_pe_parse(file, cut, &pe))
            continue;
        assert_int_equal(khi_pe_unpack_walk(file, cut, &pe, &cb), KH_OK);
        if (cut >= pe.ep_offset + 32) {
            assert_true(c.warnings >= 1);
            assert_int_equal(c.parts, 1);
            assert_non_null(strstr(c.detail, "Petite-packed, but"));
            inside++;
        }
    }
    assert_int_equal(inside, file_len - 0x442 - 32);
    free(c.last);
}

/* Every damaged byte of the loader's section and of the data: no crash, some warnings; the
 * level-zero form is reported; records pointing outside the image are reported. */
static void test_unpack_petite_damage(void **state)
{
    (void)state;
    if (!file_len)
        skip();
    static uint8_t f[4096];
    memcpy(f, file, file_len);
    collect c = {.name = "petite-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    khi_pe pe;
    assert_true(khi_pe_parse(f, file_len, &pe));
    for (size_t at = 0x400; at < 0x1000; at++) {
        uint8_t keep = f[at];
        f[at] = (uint8_t)~keep;
        assert_int_equal(khi_pe_unpack_walk(f, file_len, &pe, &cb), KH_OK);
        f[at] ^= 0x21;
        assert_int_equal(khi_pe_unpack_walk(f, file_len, &pe, &cb), KH_OK);
        f[at] = keep;
    }
    assert_true(c.warnings > 0);
    /* level zero: the loader's dword at 0x80 */
    size_t ep = (size_t)pe.ep_offset;
    memcpy(f + ep + 0x80, "\x8d\x98\x3c\x16", 4);
    c.parts = c.warnings = 0;
    assert_int_equal(khi_pe_unpack_walk(f, file_len, &pe, &cb), KH_OK);
    assert_int_equal(c.parts, 0);
    assert_int_equal(c.warnings, 1);
    assert_non_null(strstr(c.detail, "level zero"));
    memcpy(f + ep + 0x80, file + ep + 0x80, 4);
    /* the first record's source before the image; the move's destination past it */
    static const struct {
        size_t at;
        uint32_t v;
    } bad[] = {{0x5b8, 0x800}, {0x5c8 + 8, 0x7ffff000u}, {0x5c8, 0x80100000u}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        khi_put_le32(f + bad[i].at, bad[i].v);
        c.parts = c.warnings = 0;
        assert_int_equal(khi_pe_unpack_walk(f, file_len, &pe, &cb), KH_OK);
        assert_int_equal(c.parts, 1);
        assert_int_equal(c.warnings, 1);
        assert_non_null(strstr(c.detail, "outside the image"));
        memcpy(f + bad[i].at, file + bad[i].at, 4);
    }
    free(c.last);
}

/* Petite 2.1's shape (the loader's section before a last empty one) is recognised; not Petite:
 * clam.exe, clam-fsg.exe, another address in `mov eax`, another prologue, a PE32+ file. */
static void test_unpack_petite_detect(void **state)
{
    (void)state;
    if (!file_len)
        skip();
    static uint8_t f[8192];
    khi_pe pe, p2;
    assert_true(khi_pe_parse(file, file_len, &pe));
    const uint8_t *ep = file + pe.ep_offset;
    p2 = pe;
    p2.nsections = 5;
    p2.sect[4] = pe.sect[3];
    p2.sect[4].va = 0x6000;
    p2.sect[4].raw_size = 0;
    p2.sect[4].raw_off = 0;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &p2), KHI_PACKER_PETITE);
    collect c = {.name = "petite-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    assert_int_equal(khi_petite_walk(file, file_len, &p2, &cb), KH_OK); /* 2.2 data read as 2.1 */
    p2 = pe;
    p2.sect[3].va = 0x6000;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &p2), KHI_PACKER_NONE);
    p2 = pe;
    p2.pe32plus = 1;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &p2), KHI_PACKER_NONE);
    assert_int_equal(khi_pe_packer(ep, 31, &pe), KHI_PACKER_NONE);
    memcpy(f, ep, 32);
    f[24] = 0x90; /* pushfw changed */
    assert_int_equal(khi_pe_packer(f, 32, &pe), KHI_PACKER_NONE);
    static const char *plain[] = {"/usr/share/clamav-testfiles/clam.exe",
                                  "/usr/share/clamav-testfiles/clam-fsg.exe"};
    for (size_t i = 0; i < 2; i++) {
        FILE *fp = fopen(plain[i], "rb");
        if (!fp)
            continue;
        size_t len = fread(f, 1, sizeof(f), fp);
        fclose(fp);
        assert_true(khi_pe_parse(f, len, &pe));
        size_t n = len - (size_t)pe.ep_offset;
        assert_int_equal(
            khi_pe_packer(f + pe.ep_offset, n < KHI_PE_EP_BYTES ? n : KHI_PE_EP_BYTES, &pe),
            KHI_PACKER_NONE);
    }
    free(c.last);
}

/* Every allocation failure of the walk is KH_ENOMEM; a callback that stops the walk makes it
 * KH_ECANCELED. */
static void test_unpack_petite_enomem(void **state)
{
    (void)state;
    if (!file_len)
        skip();
    unpack_fail_paths(file, file_len);
}

/* The scan unpacks the file, opens the ZIP in the program and finds clam.exe by its MD5. */
static void test_unpack_petite_scan(void **state)
{
    (void)state;
    if (!file_len)
        skip();
    found s;
    scan_for_clam(file, file_len, "clam-petite.exe", &s);
    assert_int_equal(s.clam, 1);
    assert_string_equal(s.object, "clam-petite.exe//petite-unpacked//embedded-zip-426c//clam.exe");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unpack_petite_real),   cmocka_unit_test(test_unpack_petite_cut),
        cmocka_unit_test(test_unpack_petite_damage), cmocka_unit_test(test_unpack_petite_detect),
        cmocka_unit_test(test_unpack_petite_enomem), cmocka_unit_test(test_unpack_petite_scan),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
