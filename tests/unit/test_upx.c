/*
 * test_upx.c - the PE unpackers' decoders (lib/formats/fmt_nrv.c, fmt_upx.c): NRV2B, NRV2D and
 * NRV2E on hand-made streams in both bit-stream forms (the same 29 bytes, with a literal run, a
 * back reference, a repeated offset and the end marker), on truncated and damaged streams and
 * with a too small output; raw LZMA1 on a stream of liblzma's own; the packer detection on entry
 * point bytes; every allocation failure of the UPX walk turning into KH_ENOMEM (and a stop into
 * KH_ECANCELED); aPLib on a hand-made stream; WWPack32, yC and MEW on the clamav-testfiles
 * samples, cut and damaged. The helpers shared with the other unpackers' tests are in
 * unpack_test.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lzma.h>

#include "unpack_test.h"

static const char plain[] = "abcabcabcabcXYZXYZXYZ-abcabc";

/* written by tests/cases/make_upx_cases.py's nrv_encode(plain, method, le32) */
static const struct {
    khi_nrv_method m;
    int le32;
    const char *s;
    size_t n;
} streams[] = {
    {KHI_NRV2B, 1,
     "\xe7\x4e\x9e\xec\x61\x62\x63\x02\x58\x59\x5a\x2d\x0c\x02\x00\x00\x00\x00\x00\x40\x02\x00\xff",
     23},
    {KHI_NRV2B, 0,
     "\xec\x61\x62\x63\x02\x9e\x58\x59\x5a\x4e\x2d\xe7\x0c\x02\x00\x00\x00\x00\x00\x02\x40\xff",
     22},
    {KHI_NRV2D, 1,
     "\x98\x9d\x3c\xed\x61\x62\x63\x05\x58\x59\x5a\x2d\x18\x04\x24\x49\x92\x24\x00\x00\x00\xa8\xff",
     23},
    {KHI_NRV2D, 0,
     "\xed\x61\x62\x63\x05\x3c\x58\x59\x5a\x9d\x2d\x98\x18\x04\x24\x92\x49\x24\xa8\xff", 20},
    {KHI_NRV2E, 1,
     "\xdc\x8d\x7c\xec\x61\x62\x63\x05\x58\x59\x5a\x2d\x18\x04\x24\x49\x92\x24\x00\x00\x00\xa8\xff",
     23},
    {KHI_NRV2E, 0,
     "\xec\x61\x62\x63\x05\x7c\x58\x59\x5a\x8d\x2d\xdc\x18\x04\x24\x92\x49\x24\xa8\xff", 20},
};

static void test_upx_nrv_streams(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        uint8_t out[64];
        size_t n = 0, used = 0;
        const uint8_t *in = (const uint8_t *)streams[i].s;
        assert_int_equal(khi_nrv_decode(streams[i].m, streams[i].le32, in, streams[i].n, out,
                                        sizeof(out), &n, &used),
                         KH_OK);
        assert_int_equal(n, strlen(plain));
        assert_memory_equal(out, plain, n);
        assert_int_equal(used, streams[i].n);
        /* the other methods read the same bytes differently: never KH_OK with the same text */
        for (int m = KHI_NRV2B; m <= KHI_NRV2E; m++) {
            if ((khi_nrv_method)m == streams[i].m)
                continue;
            kh_err e = khi_nrv_decode((khi_nrv_method)m, streams[i].le32, in, streams[i].n, out,
                                      sizeof(out), &n, NULL);
            assert_false(e == KH_OK && n == strlen(plain) && memcmp(out, plain, n) == 0);
        }
    }
}

static void test_upx_nrv_damage(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = 1;
    /* nothing at all, and every cut of every stream: KH_EFORMAT, a prefix of the text */
    assert_int_equal(
        khi_nrv_decode(KHI_NRV2B, 1, (const uint8_t *)"", 0, out, sizeof(out), &n, NULL),
        KH_EFORMAT);
    assert_int_equal(n, 0);
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
        for (size_t cut = 0; cut < streams[i].n; cut++) {
            kh_err e = khi_nrv_decode(streams[i].m, streams[i].le32, (const uint8_t *)streams[i].s,
                                      cut, out, sizeof(out), &n, NULL);
            assert_int_equal(e, KH_EFORMAT);
            assert_true(n <= strlen(plain));
            assert_memory_equal(out, plain, n);
        }
    /* too small an output: KH_ELIMIT with exactly the room filled */
    assert_int_equal(
        khi_nrv_decode(KHI_NRV2E, 0, (const uint8_t *)streams[5].s, streams[5].n, out, 7, &n, NULL),
        KH_ELIMIT);
    assert_int_equal(n, 7);
    assert_memory_equal(out, plain, 7);
    /* a match first (bit 0), offset beyond what was written: 8-bit NRV2B, gamma 3, byte 0x10 */
    assert_int_equal(khi_nrv_decode(KHI_NRV2B, 0, (const uint8_t *)"\x30\x10\x00", 3, out,
                                    sizeof(out), &n, NULL),
                     KH_EFORMAT);
    assert_int_equal(n, 0);
    /* all ones: literals until the input runs out, never past it */
    uint8_t ones[16];
    memset(ones, 0xff, sizeof(ones));
    assert_int_equal(khi_nrv_decode(KHI_NRV2D, 1, ones, sizeof(ones), out, sizeof(out), &n, NULL),
                     KH_EFORMAT);
    assert_true(n <= sizeof(ones));
}

static void test_upx_lzma(void **state)
{
    (void)state;
    uint8_t in[256], comp[512], out[256];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i % 7 == 0 ? 'x' : i);
    lzma_options_lzma opt;
    assert_false(lzma_lzma_preset(&opt, 6));
    opt.lc = 3;
    opt.lp = 0;
    opt.pb = 2;
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t clen = 0;
    assert_int_equal(lzma_raw_buffer_encode(f, NULL, in, sizeof(in), comp, &clen, sizeof(comp)),
                     LZMA_OK);
    size_t n = 0;
    assert_int_equal(khi_upx_lzma(comp, clen, 3, 0, 2, out, sizeof(out), &n), KH_OK);
    assert_int_equal(n, sizeof(in));
    assert_memory_equal(out, in, n);
    /* cut short: fewer bytes, KH_EFORMAT; bad properties: KH_EFORMAT */
    assert_int_equal(khi_upx_lzma(comp, clen / 2, 3, 0, 2, out, sizeof(out), &n), KH_EFORMAT);
    assert_true(n < sizeof(in));
    assert_int_equal(khi_upx_lzma(comp, clen, 4, 1, 2, out, sizeof(out), &n), KH_EFORMAT);
    assert_int_equal(khi_upx_lzma(comp, clen, 3, 0, 5, out, sizeof(out), &n), KH_EFORMAT);
}

static void test_upx_detect(void **state)
{
    (void)state;
    khi_pe pe;
    memset(&pe, 0, sizeof(pe));
    pe.image_base = 0x400000;
    pe.ep_rva = 0x6320;
    uint8_t ep[KHI_PE_EP_BYTES];
    memset(ep, 0x90, sizeof(ep));
    memcpy(ep, "\x60\xbe\x00\x60\x40\x00\x8d\xbe\x00\xb0\xff\xff\x57", 13);
    assert_int_equal(khi_pe_packer(ep, sizeof(ep), &pe), KHI_PACKER_UPX);
    assert_int_equal(khi_pe_packer(ep, 15, &pe), KHI_PACKER_NONE); /* too few bytes */
    pe.pe32plus = 1;
    assert_int_equal(khi_pe_packer(ep, sizeof(ep), &pe), KHI_PACKER_NONE);
    pe.pe32plus = 0;
    pe.image_base = 0x10000000; /* SRC below the image base */
    assert_int_equal(khi_pe_packer(ep, sizeof(ep), &pe), KHI_PACKER_NONE);
    pe.image_base = 0x400000;
    /* a DLL's stub starts with cmp byte [esp+8], 1; jnz */
    uint8_t dll[KHI_PE_EP_BYTES];
    memset(dll, 0x90, sizeof(dll));
    memcpy(dll, "\x80\x7c\x24\x08\x01\x0f\x85\x00\x01\x00\x00", 11);
    memcpy(dll + 11, ep, 13);
    assert_int_equal(khi_pe_packer(dll, sizeof(dll), &pe), KHI_PACKER_UPX);
    ep[0] = 0x55; /* push ebp: an ordinary program */
    assert_int_equal(khi_pe_packer(ep, sizeof(ep), &pe), KHI_PACKER_NONE);
}

/* clam-upx.exe from clamav-testfiles when installed: every allocation failure is KH_ENOMEM, a
 * callback asking to stop KH_ECANCELED */
static void test_upx_enomem(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = testfile("clam-upx.exe", buf, sizeof(buf));
    if (!len)
        skip();
    unpack_fail_paths(buf, len);
}

/* clam-wwpack.exe: the .clam section unpacks to a ZIP holding clam.exe; every cut of the
 * file and every damaged byte of the records and the compressed block is handled */
static void test_upx_wwpack(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = testfile("clam-wwpack.exe", buf, sizeof(buf));
    if (!len)
        skip();
    khi_pe pe;
    assert_true(khi_pe_parse(buf, len, &pe));
    assert_int_equal(khi_pe_packer(buf + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_WWPACK);
    collect c = {.name = "wwpack-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.last_len, 0x5000);
    assert_memory_equal(c.last + 0x4e6c, "PK\3\4", 4);
    assert_memory_equal(c.last + 0x4e6c + 30, "clam.exe", 8);
    khi_pe up;
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.nsections, pe.nsections - 1);
    for (size_t cut = 0; cut < len; cut += 61) {
        c.parts = c.warnings = 0;
        if (khi_pe_parse(buf, cut, &pe))
            assert_int_equal(khi_pe_unpack_walk(buf, cut, &pe, &cb), KH_OK);
    }
    assert_true(khi_pe_parse(buf, len, &pe));
    for (size_t at = 0xc00 + 0x2a1; at < 0xc00 + 0x2b2; at++) {
        uint8_t keep = buf[at];
        buf[at] ^= 0x5a;
        assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
        buf[at] = keep;
    }
    for (size_t at = 0xa00; at < 0xa00 + 0x18c; at++) {
        uint8_t keep = buf[at];
        buf[at] = (uint8_t)~keep;
        assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
        buf[at] = keep;
    }
    free(c.last);
}

/* clam-yc.exe: yC over a UPX-packed program; decrypted, its UPX stub is at the restored entry
 * point and UPX1 holds clam-upx.exe's bytes; cuts and damage are handled */
static void test_upx_yc(void **state)
{
    (void)state;
    uint8_t buf[8192], upx[4096];
    size_t len = testfile("clam-yc.exe", buf, sizeof(buf));
    size_t ulen = testfile("clam-upx.exe", upx, sizeof(upx));
    if (!len || !ulen)
        skip();
    khi_pe pe, up;
    assert_true(khi_pe_parse(buf, len, &pe));
    assert_int_equal(khi_pe_packer(buf + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_YC);
    collect c = {.name = "yc-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.last_len, ulen);
    assert_memory_equal(c.last + 0x400, upx + 0x400, 0x600); /* UPX1 */
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.ep_rva, 0x6320);
    assert_int_equal(khi_pe_packer(c.last + up.ep_offset, KHI_PE_EP_BYTES, &up), KHI_PACKER_UPX);
    for (size_t cut = 0; cut < len; cut += 97)
        if (khi_pe_parse(buf, cut, &pe))
            assert_int_equal(khi_pe_unpack_walk(buf, cut, &pe, &cb), KH_OK);
    assert_true(khi_pe_parse(buf, len, &pe));
    for (size_t at = 0xc00 + 0x60; at < 0xc00 + 0x500; at += 3) {
        uint8_t keep = buf[at];
        buf[at] = (uint8_t)(keep + 0x11);
        assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
        buf[at] = keep;
    }
    free(c.last);
}

/* aPLib: 'a', tag 0 110 110: literal 'b', a short match (offset 2, length 3), the end; every
 * cut, a too small output, a reference before the start */
static void test_upx_aplib(void **state)
{
    (void)state;
    uint8_t out[32];
    size_t n = 0, used = 0;
    assert_int_equal(khi_aplib_decode((const uint8_t *)"a\x6c"
                                                       "b\x05\x00",
                                      5, out, sizeof(out), &n, &used),
                     KH_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "ababa", 5);
    assert_int_equal(used, 5);
    for (size_t cut = 0; cut < 5; cut++)
        assert_int_not_equal(khi_aplib_decode((const uint8_t *)"a\x6c"
                                                               "b\x05\x00",
                                              cut, out, sizeof(out), &n, NULL),
                             KH_OK);
    assert_int_equal(khi_aplib_decode((const uint8_t *)"a\x6c"
                                                       "b\x05\x00",
                                      5, out, 3, &n, NULL),
                     KH_ELIMIT);
    assert_int_equal(n, 3);
    /* a short match reaching before the start: 'a', tag 110, offset 5 */
    assert_int_equal(khi_aplib_decode((const uint8_t *)"a\xc0\x0a", 3, out, sizeof(out), &n, NULL),
                     KH_EFORMAT);
}

/* clam-mew.exe: MEW 11 (aPLib); the image holds the ZIP with clam.exe; cuts and damage */
static void test_upx_mew(void **state)
{
    (void)state;
    uint8_t buf[4096];
    size_t len = testfile("clam-mew.exe", buf, sizeof(buf));
    if (!len)
        skip();
    khi_pe pe;
    assert_true(khi_pe_parse(buf, len, &pe));
    assert_int_equal(khi_pe_packer(buf + pe.ep_offset, 16, &pe), KHI_PACKER_MEW);
    collect c = {.name = "mew-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + 0x6000);
    assert_memory_equal(c.last + 0x426c, "PK\3\4", 4);
    khi_pe up;
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.nsections, 1);
    for (size_t cut = 0; cut < len; cut += 37) {
        c.parts = c.warnings = 0;
        if (khi_pe_parse(buf, cut, &pe))
            assert_int_equal(khi_pe_unpack_walk(buf, cut, &pe, &cb), KH_OK);
    }
    assert_true(khi_pe_parse(buf, len, &pe));
    for (size_t at = 0x200; at < len; at += 5) {
        uint8_t keep = buf[at];
        buf[at] = (uint8_t)~keep;
        assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
        buf[at] = keep;
    }
    free(c.last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upx_nrv_streams), cmocka_unit_test(test_upx_nrv_damage),
        cmocka_unit_test(test_upx_lzma),        cmocka_unit_test(test_upx_detect),
        cmocka_unit_test(test_upx_enomem),      cmocka_unit_test(test_upx_wwpack),
        cmocka_unit_test(test_upx_yc),          cmocka_unit_test(test_upx_aplib),
        cmocka_unit_test(test_upx_mew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
