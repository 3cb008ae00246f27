/*
 * test_ole2.c - the pieces of the OLE2/VBA reader that cases cannot reach one by one: the MS-OVBA
 * decompressor against the examples of [MS-OVBA] 3.2 and on damaged input, the dir stream's
 * records, UTF-16 names, and every allocation failing in turn during a whole walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/core.h"
#include "formats/formats.h"
#include "parts_test.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2)
        out[n++] = (uint8_t)(khi_hexval(h[0]) << 4 | khi_hexval(h[1]));
    return n;
}

static void decompress_to(const char *hex, const char *want, int want_damaged)
{
    uint8_t in[512], *out = NULL;
    size_t n = unhex(hex, in), len = 0;
    int damaged = -1;
    assert_int_equal(khi_ovba_decompress(in, n, 1 << 20, &out, &len, &damaged), KH_OK);
    assert_int_equal(damaged, want_damaged);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    khi_free(out);
}

static void test_ole2_ovba_examples(void **state)
{
    (void)state;
    /* [MS-OVBA] 3.2.1: no compression possible (literal tokens only) */
    decompress_to("0119b00061626364656667680069"
                  "6a6b6c6d6e6f7000717273747576"
                  "2e",
                  "abcdefghijklmnopqrstuv.", 0);
    /* [MS-OVBA] 3.2.2: normal compression (copy tokens of several offset/length splits) */
    decompress_to("012fb000236161616263646582660070616768696a013808616b6c00306d6e6f7006"
                  "71027004107273747576107778797a003c",
                  "#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa", 0);
    /* one literal, then a copy of length 72 at offset 1 (overlapping, byte by byte) */
    char many[74];
    memset(many, 'a', 73);
    many[73] = '\0';
    decompress_to("0103b002614500", many, 0);
}

static void test_ole2_ovba_damage(void **state)
{
    (void)state;
    uint8_t in[64], *out = NULL;
    size_t len = 0;
    int damaged = 0;
    /* no signature byte */
    size_t n = unhex("0219b000616263", in);
    assert_int_equal(khi_ovba_decompress(in, n, 100, &out, &len, &damaged), KH_EFORMAT);
    assert_null(out);
    /* a copy token reaching before the chunk: what came before is kept */
    decompress_to("0103b0026110f0", "a", 1);
    /* a chunk signature other than 3 ends it */
    decompress_to("0103b000616262" "04a0006363", "abb", 1);
    /* cut inside a chunk: what is there */
    decompress_to("0119b0006162636465", "abcde", 1);
    /* the output cap holds */
    n = unhex("0103b002614500", in);
    assert_int_equal(khi_ovba_decompress(in, n, 10, &out, &len, &damaged), KH_OK);
    assert_int_equal(len, 10);
    khi_free(out);
    /* an uncompressed chunk is 4096 raw bytes; cut short, it is what is there */
    n = unhex("01ff3f41424344", in);
    assert_int_equal(khi_ovba_decompress(in, n, 1 << 20, &out, &len, &damaged), KH_OK);
    assert_int_equal(len, 4);
    assert_int_equal(damaged, 1);
    khi_free(out);
}

typedef struct mods {
    char names[4][64];
    uint32_t offsets[4];
    int n;
} mods;

static int on_module(void *ud, const char *stream, uint32_t offset)
{
    mods *m = ud;
    if (m->n < 4) {
        khi_snprintf(m->names[m->n], sizeof(m->names[0]), "%s", stream);
        m->offsets[m->n++] = offset;
    }
    return 0;
}

static void test_ole2_dir_records(void **state)
{
    (void)state;
    uint8_t dir[256];
    /* PROJECTVERSION (size 4, 6 bytes follow), a module with an MBCS and a Unicode stream name
     * and an offset, a module with only an MBCS name, then a record running past the end */
    size_t n = unhex("0900" "04000000" "010000000000"
                     "1900" "02000000" "4d31"
                     "1a00" "02000000" "4d31"
                     "3200" "06000000" "4d00e1003100"
                     "3100" "04000000" "40020000"
                     "2b00" "00000000"
                     "1900" "02000000" "4d32"
                     "1a00" "03000000" "4d32ff"
                     "2b00" "00000000"
                     "1900" "ff000000" "4d33",
                     dir);
    mods m;
    memset(&m, 0, sizeof(m));
    khi_vba_dir_modules(dir, n, on_module, &m);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.names[0], "M\xc3\xa1" "1");
    assert_int_equal(m.offsets[0], 0x240);
    assert_string_equal(m.names[1], "M2_");
    assert_int_equal(m.offsets[1], 0);
}

static void test_ole2_utf16_names(void **state)
{
    (void)state;
    char out[16];
    uint8_t in[64];
    size_t n = unhex("01004f006c006500", in); /* \x01Ole */
    khi_utf16le_to_utf8(in, n, out, sizeof(out));
    assert_string_equal(out, "Ole");
    n = unhex("61002f003dd800de00dc620000006300", in); /* a / U+1F600 lone-low b NUL c */
    khi_utf16le_to_utf8(in, n, out, sizeof(out));
    assert_string_equal(out, "a_\xf0\x9f\x98\x80\xef\xbf\xbd" "b");
    n = unhex("e100e100e100", in); /* three U+00E1 into 6 bytes: two fit */
    khi_utf16le_to_utf8(in, n, out, 6);
    assert_string_equal(out, "\xc3\xa1\xc3\xa1");
}

static void test_ole2_walk_short_and_nomem(void **state)
{
    (void)state;
    khi_ole2_info info;
    int parts = 0;
    uint8_t hdr[512];
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
    assert_int_equal(khi_ole2_walk_info(hdr, 100, count_part, &parts, &info), KH_OK);
    assert_true(info.problems > 0);
    hdr[30] = 10; /* sector size 1024 */
    assert_int_equal(khi_ole2_walk_info(hdr, sizeof(hdr), count_part, &parts, &info), KH_OK);
    assert_non_null(strstr(info.detail, "sector size"));
    assert_int_equal(parts, 0);

    char path[1024];
    khi_snprintf(path, sizeof(path), "%s/fuzz/corpus/ole2/doc-macros", KH_TEST_SOURCE_DIR);
    char *data = NULL;
    size_t len = 0;
    char eb[128];
    assert_int_equal(khi_file_read_all(path, 1 << 20, &data, &len, eb, sizeof(eb)), KH_OK);
    assert_int_equal(khi_ole2_walk_info((uint8_t *)data, len, count_part, &parts, &info), KH_OK);
    assert_int_equal(info.has_vba, 1);
    assert_int_equal(info.problems, 0);
    int full = parts;
    assert_true(full >= 9);
    int failures = 0;
    for (long k = 0; k < 64; k++) {
        parts = 0;
        khi_mem_fail_after(k);
        kh_err err = khi_ole2_walk_info((uint8_t *)data, len, count_part, &parts, &info);
        khi_mem_fail_after(-1);
        assert_true(err == KH_OK || err == KH_ENOMEM);
        if (err == KH_ENOMEM)
            failures++;
        else
            assert_int_equal(parts, full);
    }
    assert_true(failures > 3);
    khi_free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ole2_ovba_examples),
        cmocka_unit_test(test_ole2_ovba_damage),
        cmocka_unit_test(test_ole2_dir_records),
        cmocka_unit_test(test_ole2_utf16_names),
        cmocka_unit_test(test_ole2_walk_short_and_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
