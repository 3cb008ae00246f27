/*
 * test_unpack_upack.c - the Upack unpacker (lib/formats/fmt_upack.c) and the PE header rule
 * it needs (fmt_pe.c: raw offsets rounded down to 0x200 for the entry point). Upack's LZMA
 * decoder against streams of liblzma's own (lc 0..4, pb = lp = 0, the leading zero byte
 * dropped as Upack drops it), cut, damaged and past their end marker; the clamav-testfiles
 * sample clam-upack.exe: detected, unpacked to an image whose ZIP inflates to clam.exe byte for
 * byte, the decoded bytes equal to liblzma's decoding of the same stream but for the restored
 * calls; every cut and many damaged bytes give KH_OK and a warning; every allocation failure
 * is KH_ENOMEM and a callback's stop KH_ECANCELED; the other samples are not taken for Upack.
 * The helpers shared with the other unpackers' tests are in unpack_test.h.
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

/* Some text with repeats and some noise, n bytes. */
static void sample_text(uint8_t *p, size_t n)
{
    static const char *words[] = {"upack ", "range ", "coder ", "literal ", "match\n", "rep0 "};
    uint32_t x = 12345;
    for (size_t i = 0; i < n;) {
        x = x * 1103515245u + 12345u;
        if ((x >> 16) % 5 == 0) {
            p[i++] = (uint8_t)(x >> 8);
            continue;
        }
        const char *w = words[(x >> 16) % 6];
        for (size_t k = 0; w[k] && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
}

/* Raw LZMA1 of in by liblzma (lc, lp 0, pb 0) into out; returns its length. */
static size_t lzma_encode(const uint8_t *in, size_t n, unsigned lc, uint8_t *out, size_t cap)
{
    lzma_options_lzma opt;
    assert_false(lzma_lzma_preset(&opt, 6));
    opt.lc = lc;
    opt.lp = 0;
    opt.pb = 0;
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t pos = 0;
    assert_int_equal(lzma_raw_buffer_encode(f, NULL, in, n, out, &pos, cap), LZMA_OK);
    return pos;
}

static void test_upack_lzma(void **state)
{
    (void)state;
    enum { N = 6000 };
    static uint8_t text[N], enc[2 * N], buf[N + 2 * N];
    sample_text(text, N);
    for (unsigned lc = 0; lc <= 4; lc++) {
        size_t elen = lzma_encode(text, N, lc, enc, sizeof(enc));
        assert_int_equal(enc[0], 0);
        assert_true(elen > 100 && elen < N / 2);
        /* output first, the stream (without its zero byte) after it */
        memset(buf, 0xcc, N);
        memcpy(buf + N, enc + 1, elen - 1);
        size_t end = 0;
        assert_int_equal(khi_upack_lzma(buf, N + elen - 1, N, 0, N, lc, &end), KH_OK);
        assert_int_equal(end, N);
        assert_memory_equal(buf, text, N);
        /* asked for more: the end marker stops it, after all N bytes */
        static uint8_t big[2 * N + 2 * N];
        memcpy(big + 2 * N, enc + 1, elen - 1);
        assert_int_equal(khi_upack_lzma(big, 2 * N + elen - 1, 2 * N, 0, 2 * N, lc, &end),
                         KH_EFORMAT);
        assert_int_equal(end, N);
        assert_memory_equal(big, text, N);
        /* the wrong lc decodes something else or fails */
        memset(buf, 0, N);
        kh_err e = khi_upack_lzma(buf, N + elen - 1, N, 0, N, lc ^ 1, &end);
        assert_false(e == KH_OK && memcmp(buf, text, N) == 0);
        /* every cut of the stream: KH_EFORMAT short of the end, unless only the end marker and
         * the coder's last bytes were cut (then the text is whole) */
        for (size_t cut = 0; cut < elen - 1; cut += 7) {
            memset(buf, 0, N);
            e = khi_upack_lzma(buf, N + cut, N, 0, N, lc, &end);
            if (cut < elen - 12) {
                assert_int_equal(e, KH_EFORMAT);
                assert_true(end < N);
            }
            if (e == KH_OK)
                assert_memory_equal(buf, text, N);
            assert_memory_equal(buf, text, end);
        }
        /* damaged bytes: KH_OK or KH_EFORMAT, within bounds either way */
        for (size_t at = 0; at < elen - 1; at += 11) {
            memcpy(buf + N, enc + 1, elen - 1);
            buf[N + at] ^= 0xa5;
            e = khi_upack_lzma(buf, N + elen - 1, N, 0, N, lc, &end);
            assert_true(e == KH_OK || e == KH_EFORMAT);
            assert_true(end <= N);
        }
    }
    /* an lc above 8, an output that ends before it starts */
    size_t elen = lzma_encode(text, N, 3, enc, sizeof(enc));
    memcpy(buf + N, enc + 1, elen - 1);
    size_t end = 0;
    assert_int_equal(khi_upack_lzma(buf, N + elen - 1, N, 0, N, 9, &end), KH_EFORMAT);
    assert_int_equal(khi_upack_lzma(buf, N + elen - 1, N, 10, 5, 3, &end), KH_EFORMAT);
    assert_int_equal(end, 10);
}

/* The ZIP in the unpacked image: its one member, inflated, is clam.exe. */
static void check_zip(const uint8_t *img, size_t len)
{
    static uint8_t clam[1024];
    size_t clen = testfile("clam.exe", clam, sizeof(clam));
    assert_int_equal(clen, 544);
    const uint8_t *z = memmem(img, len, "PK\3\4", 4);
    assert_non_null(z);
    size_t at = (size_t)(z - img);
    assert_true(at + 30 + 8 <= len);
    assert_int_equal(khi_le16(z + 8), 8); /* deflate */
    assert_int_equal(khi_le32(z + 22), 544);
    assert_memory_equal(z + 30, "clam.exe", 8);
    size_t data = at + 30 + khi_le16(z + 26) + khi_le16(z + 28), csize = khi_le32(z + 18);
    assert_true(data + csize <= len);
    khi_buf out;
    khi_buf_init(&out);
    assert_int_equal(khi_inflate(img + data, csize, 1, 4096, &out), KH_OK);
    assert_int_equal(out.len, 544);
    assert_memory_equal(out.data, clam, 544);
    khi_buf_cleanup(&out);
}

static void test_upack_sample(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    size_t len = testfile("clam-upack.exe", buf, sizeof(buf));
    if (!len)
        skip();
    assert_int_equal(len, 1852);
    khi_pe pe;
    assert_true(khi_pe_parse(buf, len, &pe));
    /* the first section's raw offset 0x10 is rounded down: the entry point is at 0x18 */
    assert_int_equal(pe.sect[0].raw_off, 0x10);
    assert_int_equal(pe.ep_offset, 0x18);
    assert_int_equal(khi_pe_packer(buf + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_UPACK);
    /* parts and warnings named upack-unpacked, each warning starting "Upack-packed, but " */
    collect c = {.name = "upack-unpacked", .prefix = "Upack-packed, but "};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    assert_int_equal(khi_pe_unpack_walk(buf, len, &pe, &cb), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + 0x406f);
    khi_pe up;
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.nsections, 1);
    assert_int_equal(up.sect[0].va, 0x1000);
    assert_int_equal(up.ep_rva, 0x1020);
    assert_int_equal(khi_pe_packer(c.last + up.ep_offset, KHI_PE_EP_BYTES, &up), KHI_PACKER_NONE);
    check_zip(c.last + KHI_PE_REBUILT_HDR, 0x406f);

    /* liblzma on the same stream (lc 3, the zero byte put back): the same bytes but for the
     * two restored calls (marker and 24-bit target, 4 bytes each) */
    static uint8_t in[2048], ref[0x406f];
    in[0] = 0;
    memcpy(in + 1, buf + 0x2ae, len - 0x2ae);
    size_t n = 0;
    assert_int_equal(khi_upx_lzma(in, 1 + len - 0x2ae, 3, 0, 0, ref, sizeof(ref), &n), KH_OK);
    assert_int_equal(n, sizeof(ref));
    int differ = 0;
    for (size_t i = 0; i < sizeof(ref); i++)
        differ += ref[i] != c.last[KHI_PE_REBUILT_HDR + i];
    assert_true(differ >= 2 && differ <= 8);

    /* FileAlignment below 0x200: raw offsets are taken as written */
    uint8_t keep = buf[0x28 + 36 + 1];
    buf[0x28 + 36 + 1] = 0;
    assert_true(khi_pe_parse(buf, len, &pe));
    assert_int_equal(pe.ep_offset, 0x28);
    assert_int_not_equal(khi_pe_packer(buf + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_UPACK);
    buf[0x28 + 36 + 1] = keep;

    /* every cut: KH_OK; where it is still recognised, a warning says it is cut short */
    for (size_t cut = 0x1c0; cut < len; cut += 13) {
        c.parts = c.warnings = 0;
        if (!khi_pe_parse(buf, cut, &pe))
            continue;
        assert_int_equal(khi_pe_unpack_walk(buf, cut, &pe, &cb), KH_OK);
        if (khi_pe_packer(buf + pe.ep_offset, KHI_PE_EP_BYTES, &pe) == KHI_PACKER_UPACK)
            assert_true(c.warnings >= 1);
    }
    /* damage in the loader (header) and in the compressed data and decoder: KH_OK; a damaged
     * stream still hands out the image */
    assert_true(khi_pe_parse(buf, len, &pe));
    int handed = 0;
    for (size_t at = 0x18; at < len; at += 3) {
        keep = buf[at];
        buf[at] = (uint8_t)~keep;
        c.parts = c.warnings = 0;
        khi_pe dp;
        if (khi_pe_parse(buf, len, &dp))
            assert_int_equal(khi_pe_unpack_walk(buf, len, &dp, &cb), KH_OK);
        if (at >= 0x2b2 && at < 0x600 && c.parts)
            handed++;
        buf[at] = keep;
    }
    assert_true(handed > 100);
    free(c.last);
}

/* every allocation failure of the walk is KH_ENOMEM; a cancel from the callback stops it */
static void test_upack_enomem(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    size_t len = testfile("clam-upack.exe", buf, sizeof(buf));
    if (!len)
        skip();
    unpack_fail_paths(buf, len);
}

/* the other packed samples are not Upack, and Upack is none of theirs */
static void test_upack_others(void **state)
{
    (void)state;
    static const char *names[] = {
        "clam-aspack.exe", "clam-fsg.exe", "clam-mew.exe",    "clam-nsis.exe", "clam-pespin.exe",
        "clam-petite.exe", "clam-upx.exe", "clam-wwpack.exe", "clam-yc.exe",   "clam.exe"};
    static uint8_t buf[65536];
    int seen = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len = testfile(names[i], buf, sizeof(buf));
        khi_pe pe;
        if (!len || !khi_pe_parse(buf, len, &pe) || pe.ep_offset >= len)
            continue;
        seen++;
        size_t n = len - (size_t)pe.ep_offset;
        assert_int_not_equal(
            khi_pe_packer(buf + pe.ep_offset, n > KHI_PE_EP_BYTES ? KHI_PE_EP_BYTES : n, &pe),
            KHI_PACKER_UPACK);
    }
    if (!seen)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upack_lzma),
        cmocka_unit_test(test_upack_sample),
        cmocka_unit_test(test_upack_enomem),
        cmocka_unit_test(test_upack_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
