/*
 * test_unpack_aspack.c - the ASPack unpacker (lib/formats/fmt_aspack.c) on clamav-testfiles'
 * clam-aspack.exe (ASPack 2.12): the detection from the entry point's bytes and its near
 * misses; the unpacked image (the .rdata block's imports, the .clam block holding clam.exe
 * byte for byte, the original entry point); the loader's call/jmp filter when switched on;
 * every cut of the file, damaged compressed blocks, block list and loader tables; every
 * allocation failure turning into KH_ENOMEM. The helpers shared with the other unpackers' tests
 * are in unpack_test.h.
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

#define STUB 0xc00u /* file offset of the byte before the entry point (RVA 0x5000) */
#define IMG(rva) (KHI_PE_REBUILT_HDR + (rva)-0x1000u) /* in the part: the image from 0x1000 */

/* Load clam-aspack.exe into buf; the test is skipped when it is not installed. */
static size_t sample(uint8_t *buf, size_t cap)
{
    size_t len = testfile("clam-aspack.exe", buf, cap);
    if (!len)
        skip();
    return len;
}

/* What a walk of an ASPack file hands out: parts and warnings named aspack-unpacked, each
 * warning starting "ASPack-packed, but ". Each test starts its collect from this. */
static const collect aspack = {.name = "aspack-unpacked", .prefix = "ASPack-packed, but "};

/* the loader is recognised; a changed byte of its first instructions, its `sub ebx` not
 * naming the entry point, too few bytes or a PE32+ are not */
static void test_unpack_aspack_detect(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = sample(buf, sizeof(buf));
    khi_pe pe;
    assert_true(khi_pe_parse(buf, len, &pe));
    assert_int_equal(pe.ep_rva, 0x5001);
    uint8_t *ep = buf + pe.ep_offset;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &pe), KHI_PACKER_ASPACK);
    assert_true(khi_aspack_detect(ep, 33, &pe));
    assert_false(khi_aspack_detect(ep, 32, &pe));
    for (size_t i = 0; i < 33; i++) {
        ep[i] ^= 0x01;
        assert_int_not_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &pe), KHI_PACKER_ASPACK);
        ep[i] ^= 0x01;
    }
    pe.ep_rva++;
    assert_false(khi_aspack_detect(ep, KHI_PE_EP_BYTES, &pe));
    pe.ep_rva--;
    pe.pe32plus = 1;
    assert_false(khi_aspack_detect(ep, KHI_PE_EP_BYTES, &pe));
    /* other packers' samples are not ASPack */
    static const char *others[] = {"clam-upx.exe",    "clam-fsg.exe",    "clam-mew.exe",
                                   "clam-petite.exe", "clam-upack.exe",  "clam-wwpack.exe",
                                   "clam-yc.exe",     "clam-pespin.exe", "clam.exe"};
    static uint8_t o[1 << 16];
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        size_t n = testfile(others[i], o, sizeof(o));
        khi_pe op;
        if (!n || !khi_pe_parse(o, n, &op) || op.ep_offset >= n)
            continue;
        size_t m = n - (size_t)op.ep_offset;
        assert_false(
            khi_aspack_detect(o + op.ep_offset, m > KHI_PE_EP_BYTES ? KHI_PE_EP_BYTES : m, &op));
    }
}

/* the whole file: one part, no warning; the image from 0x1000 with the imports of .rdata,
 * clam.exe byte for byte in .clam, the original entry point 0x1020 */
static void test_unpack_aspack_image(void **state)
{
    (void)state;
    uint8_t buf[8192], clam[1024];
    size_t len = sample(buf, sizeof(buf)), clen = testfile("clam.exe", clam, sizeof(clam));
    if (clen != 544)
        skip();
    collect c = aspack;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + 0x7000);
    assert_memory_equal(c.last + IMG(0x4de0), clam, clen);
    assert_memory_equal(c.last + IMG(0x201c),
                        "This is a ClamAV test file with the embedded clam.exe", 53);
    assert_non_null(memmem(c.last + IMG(0x2000), 0x200, "GetModuleHandleA", 16));
    assert_memory_equal(c.last + IMG(0x200c), "\xe8\x20\x00\x00", 4); /* filter off: as packed */
    assert_memory_equal(c.last + IMG(0x3000), "\0\0\0\0\0\0\0\0\x04\0", 10); /* .rsrc root */
    khi_pe up;
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.nsections, 1);
    assert_int_equal(up.ep_rva, 0x1020);
    assert_int_equal(up.sect[0].va, 0x1000);
    /* .text was stored: the entry point's code is the file's */
    assert_memory_equal(c.last + IMG(0x1020), buf + 0x420, 16);
    /* the unpacked program is not ASPack's any more */
    assert_int_not_equal(khi_pe_packer(c.last + up.ep_offset, KHI_PE_EP_BYTES, &up),
                         KHI_PACKER_ASPACK);
    free(c.last);
}

/* the loader's `mov bl, 0` turns the filter on: with the marker byte 0x20 the first block's
 * `e8 20 00 00 00` (at 0x200c) becomes a call relative to its own offset, 0x20 >> 8 - 12 */
static void test_unpack_aspack_filter(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = sample(buf, sizeof(buf));
    assert_int_equal(buf[STUB + 0xfe], 0xb3); /* mov bl, 1 */
    assert_int_equal(buf[STUB + 0xff], 0x01);
    assert_int_equal(buf[STUB + 0x147], 0x3e); /* cmp byte [esi], 0 */
    buf[STUB + 0xff] = 0;
    buf[STUB + 0x148] = 0x20;
    collect c = aspack;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_memory_equal(c.last + IMG(0x200c), "\xe8\xf4\xff\xff\xff", 5);
    /* the other blocks are not filtered: clam.exe's bytes are as packed */
    assert_memory_equal(c.last + IMG(0x4de0), "MZ", 2);
    free(c.last);
}

/* every cut: never a crash; once the loader is seen but sections are missing, a warning and
 * still the image */
static void test_unpack_aspack_cuts(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = sample(buf, sizeof(buf));
    collect c = aspack;
    int warned = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, buf, cut);
        kh_err e = collect_walk(copy, cut, &c);
        free(copy);
        if (e == KH_EFORMAT)
            continue; /* the headers themselves are cut */
        assert_int_equal(e, KH_OK);
        if (cut >= STUB + 1 + 33) {
            assert_int_equal(c.warnings, 1);
            assert_int_equal(c.parts, cut >= STUB + 0x3ba + 6 ? 1 : 0); /* its `push 0; ret` */
            warned++;
        } else {
            assert_int_equal(c.parts, 0);
        }
    }
    assert_true(warned > 4000);
    /* cut inside the loader's tables: its release is not known */
    collect_walk(buf, STUB + 0x3b0, &c);
    assert_string_equal(c.detail,
                        "ASPack-packed, but its loader is of an unknown release or cut short");
    free(c.last);
}

/* damaged compressed blocks, block list and loader tables: warnings, never a crash */
static void test_unpack_aspack_damage(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = sample(buf, sizeof(buf));
    collect c = aspack;
    int warned = 0, tries = 0;
    /* .rdata's, .rsrc's and .clam's compressed bytes */
    for (size_t at = 0x600; at < 0xc00; at++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            buf[at] ^= (uint8_t)(1u << bit);
            assert_int_equal(collect_walk(buf, len, &c), KH_OK);
            assert_int_equal(c.parts, 1);
            warned += c.warnings;
            tries++;
            buf[at] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(warned > tries / 8); /* the rest: .rsrc's head and padding were not packed */
    /* the code-length tables at the start of each block's stream */
    static const size_t streams[] = {0x600, 0x858, 0xa00};
    for (size_t i = 0; i < 3; i++)
        for (size_t at = streams[i]; at < streams[i] + 8; at++) {
            buf[at] ^= 0x10;
            assert_int_equal(collect_walk(buf, len, &c), KH_OK);
            assert_int_equal(c.warnings, 1);
            assert_string_equal(
                c.detail, "ASPack-packed, but a block's compressed data is damaged or truncated");
            buf[at] ^= 0x10;
        }
    /* a block outside the image, a list that never ends */
    uint8_t keep[0x6d6 - 0x57c];
    memcpy(keep, buf + STUB + 0x57c, sizeof(keep));
    buf[STUB + 0x57c + 3] = 0x40;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_string_equal(c.detail, "ASPack-packed, but a block lies outside the image");
    memcpy(buf + STUB + 0x57c, keep, sizeof(keep));
    for (size_t at = STUB + 0x57c; at + 8 <= STUB + 0x6d6; at += 8) {
        khi_put_le32(buf + at, 0x4000);
        khi_put_le32(buf + at + 4, 0x10);
    }
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.warnings, 1);
    assert_int_equal(c.parts, 1);
    memcpy(buf + STUB + 0x57c, keep, sizeof(keep));
    /* a slot's bit count beyond 24, a length's extra bit count beyond 24 */
    uint8_t k = buf[STUB + 0x70e + 40];
    buf[STUB + 0x70e + 40] = 25;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_string_equal(c.detail, "ASPack-packed, but its loader's tables are damaged");
    buf[STUB + 0x70e + 40] = k;
    k = buf[STUB + 0x6d6 + 28 + 27];
    buf[STUB + 0x6d6 + 28 + 27] = 200;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.warnings, 1);
    buf[STUB + 0x6d6 + 28 + 27] = k;
    /* every byte of the tables changed in turn */
    for (size_t at = STUB + 0x6d6; at < STUB + 0x6d6 + 114; at++) {
        uint8_t keep1 = buf[at];
        buf[at] = (uint8_t)(keep1 + 3);
        assert_int_equal(collect_walk(buf, len, &c), KH_OK);
        assert_int_equal(c.parts, 1);
        buf[at] = keep1;
    }
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_string_equal(c.detail, "");
    free(c.last);
}

/* a block list that does not end: 256 entries of nothing (0x1010, 0 bytes), over the tables
 * too (whose bytes stay valid) */
static void test_unpack_aspack_endless(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = sample(buf, sizeof(buf));
    for (size_t at = STUB + 0x57c; at + 8 <= STUB + 0x57c + 300 * 8; at += 8) {
        khi_put_le32(buf + at, 0x1010);
        khi_put_le32(buf + at + 4, 0);
    }
    collect c = aspack;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_string_equal(c.detail, "ASPack-packed, but its block list does not end");
    free(c.last);
}

/* the 2.2x layout, made from the 2.12 file by moving its data to 2.2x's offsets (no real 2.2x
 * sample at hand): `push 0; ret` at 0x41f from the entry point, 12-byte block entries with a
 * hole (size -0x10e) skipped, the tables at 0x732, the original entry point at 0x401, the
 * filter always on (marker at 0x13a) */
static void test_unpack_aspack_layout22(void **state)
{
    (void)state;
    uint8_t buf[8192], stub[0x1200];
    size_t len = sample(buf, sizeof(buf));
    memcpy(stub, buf + STUB, sizeof(stub));
    buf[STUB + 0x3ba] = 0x90; /* no 2.12 `push 0; ret` */
    memcpy(buf + STUB + 0x420, "\x68\0\0\0\0\xc3", 6);
    memcpy(buf + STUB + 0x732, stub + 0x6d6, 114);
    khi_put_le32(buf + STUB + 0x401, khi_le32(stub + 0x39b));
    buf[STUB + 0x13a] = 0x20;
    static const uint32_t list[] = {0x2000, 0x200,  0,      0, 0xfffffef2u, 0, 0x3058, 0x1a8,
                                    0,      0x4000, 0x1000, 0, 0,           0, 0};
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        khi_put_le32(buf + STUB + 0x5d8 + 4 * i, list[i]);
    collect c = aspack;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_string_equal(c.detail, "");
    khi_pe up;
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.ep_rva, 0x1020);
    assert_memory_equal(c.last + IMG(0x200c), "\xe8\xf4\xff\xff\xff", 5);
    assert_memory_equal(c.last + IMG(0x4de0), "MZ", 2);
    assert_memory_equal(c.last + IMG(0x201c), "This is a ClamAV test file", 26);
    free(c.last);
}

/* one block alone: .clam's stream (0x13b bytes, then what the loader reads as zeros) decodes
 * to 0x1000 bytes ending with clam.exe; every shorter cut gives something else or fails; a
 * smaller output is filled exactly (a match running past it is damage); tables with a bit count
 * beyond 24 are refused */
static void test_unpack_aspack_decode(void **state)
{
    (void)state;
    uint8_t buf[8192], clam[1024];
    sample(buf, sizeof(buf));
    size_t clen = testfile("clam.exe", clam, sizeof(clam));
    if (clen != 544)
        skip();
    const uint8_t *tables = buf + STUB + 0x6d6, *in = buf + 0xa00;
    static uint8_t ref[0x1000], out[0x1000];
    size_t n = 0;
    assert_int_equal(khi_aspack_decode(tables, in, 0x200, ref, sizeof(ref), &n), KH_OK);
    assert_int_equal(n, 0x1000);
    assert_memory_equal(ref + 0xde0, clam, clen);
    for (size_t cut = 0; cut <= 0x200; cut++) {
        kh_err e = khi_aspack_decode(tables, in, cut, out, sizeof(out), &n);
        assert_true(n <= sizeof(out));
        int same = e == KH_OK && memcmp(out, ref, sizeof(ref)) == 0;
        assert_int_equal(same, cut >= 0x13b);
        if (cut < 0x60)
            assert_int_equal(e, KH_EFORMAT);
    }
    kh_err e = khi_aspack_decode(tables, in, 0x200, out, 0x800, &n);
    assert_true(e == KH_OK || e == KH_EFORMAT); /* KH_EFORMAT: a match ran past 0x800 */
    assert_int_equal(n, 0x800);
    assert_memory_equal(out, ref, 0x800);
    uint8_t bad[114];
    memcpy(bad, tables, sizeof(bad));
    bad[56 + 57] = 25;
    n = 1;
    assert_int_equal(khi_aspack_decode(bad, in, 0x200, out, sizeof(out), &n), KH_EFORMAT);
    assert_int_equal(n, 0);
    /* nothing at all: the loader's zeros make no complete code */
    assert_int_equal(khi_aspack_decode(tables, in, 0, out, sizeof(out), &n), KH_EFORMAT);
}

/* each allocation failing in turn: KH_ENOMEM, until the walk completes (after more than two);
 * a callback asking to stop: KH_ECANCELED */
static void test_unpack_aspack_enomem(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = sample(buf, sizeof(buf));
    assert_true(unpack_fail_paths(buf, len) > 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unpack_aspack_detect),   cmocka_unit_test(test_unpack_aspack_image),
        cmocka_unit_test(test_unpack_aspack_filter),   cmocka_unit_test(test_unpack_aspack_cuts),
        cmocka_unit_test(test_unpack_aspack_damage),   cmocka_unit_test(test_unpack_aspack_endless),
        cmocka_unit_test(test_unpack_aspack_layout22), cmocka_unit_test(test_unpack_aspack_decode),
        cmocka_unit_test(test_unpack_aspack_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
