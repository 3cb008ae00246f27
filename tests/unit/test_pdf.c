/*
 * test_pdf.c - the PDF stream decoders (fmt_pdf_filter.c) and the part walker (fmt_pdf.c):
 * the edges a .case file cannot show (status values, output caps, EarlyChange 0, TIFF
 * predictor, the part list of one file, the object limit, allocation failures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "core/core.h"
#include "formats/fmt_pdf.h"
#include "formats/formats.h"

static khi_pdf_status dec(khi_pdf_filter f, const khi_pdf_parms *pp, const void *in, size_t n,
                          size_t max, khi_pdf_out *o)
{
    khi_pdf_status st = KHI_PDF_OK;
    memset(o, 0, sizeof(*o));
    o->max = max;
    assert_int_equal(khi_pdf_decode(f, pp, in, n, o, &st), KH_OK);
    return st;
}

static void test_pdf_filter_names(void **state)
{
    (void)state;
    assert_int_equal(khi_pdf_filter_by_name("FlateDecode", 11), KHI_PDF_F_FLATE);
    assert_int_equal(khi_pdf_filter_by_name("Fl", 2), KHI_PDF_F_FLATE);
    assert_int_equal(khi_pdf_filter_by_name("A85", 3), KHI_PDF_F_A85);
    assert_int_equal(khi_pdf_filter_by_name("RL", 2), KHI_PDF_F_RL);
    assert_int_equal(khi_pdf_filter_by_name("DCTDecode", 9), KHI_PDF_F_OTHER);
    assert_int_equal(khi_pdf_filter_by_name("Flate", 5), KHI_PDF_F_OTHER);
}

static void test_pdf_ahx_a85_rl(void **state)
{
    (void)state;
    khi_pdf_out o;
    assert_int_equal(dec(KHI_PDF_F_AHX, NULL, "4d 5A\n4>ff", 10, 100, &o), KHI_PDF_OK);
    assert_int_equal(o.len, 3);
    assert_memory_equal(o.data, "MZ@", 3); /* the odd last digit is padded with 0 */
    khi_free(o.data);
    assert_int_equal(dec(KHI_PDF_F_AHX, NULL, "4d5", 3, 100, &o), KHI_PDF_CORRUPT); /* no '>' */
    assert_int_equal(o.len, 2);
    khi_free(o.data);
    /* "z" is four zeros; a last group of 3 characters gives 2 bytes */
    assert_int_equal(dec(KHI_PDF_F_A85, NULL, "<~z9jq~>", 8, 100, &o), KHI_PDF_OK);
    assert_int_equal(o.len, 6);
    assert_memory_equal(o.data, "\0\0\0\0Ma", 6);
    khi_free(o.data);
    const uint8_t rl[] = {2, 'a', 'b', 'c', 254, 'x', 128, 'j', 'u', 'n', 'k'};
    assert_int_equal(dec(KHI_PDF_F_RL, NULL, rl, sizeof(rl), 100, &o), KHI_PDF_OK);
    assert_int_equal(o.len, 6);
    assert_memory_equal(o.data, "abcxxx", 6);
    khi_free(o.data);
    /* the output cap holds: a run of 128 into 5 bytes */
    const uint8_t run[] = {129, 'y', 128};
    assert_int_equal(dec(KHI_PDF_F_RL, NULL, run, sizeof(run), 5, &o), KHI_PDF_FULL);
    assert_int_equal(o.len, 5);
    khi_free(o.data);
}

static void test_pdf_flate(void **state)
{
    (void)state;
    uint8_t plain[4096], z[8192];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i * 7 % 13);
    uLongf zl = sizeof(z);
    assert_int_equal(compress(z, &zl, plain, sizeof(plain)), Z_OK);
    khi_pdf_out o;
    assert_int_equal(dec(KHI_PDF_F_FLATE, NULL, z, zl, 1 << 20, &o), KHI_PDF_OK);
    assert_int_equal(o.len, sizeof(plain));
    assert_memory_equal(o.data, plain, sizeof(plain));
    khi_free(o.data);
    /* exactly as long as the cap: still a whole stream */
    assert_int_equal(dec(KHI_PDF_F_FLATE, NULL, z, zl, sizeof(plain), &o), KHI_PDF_OK);
    khi_free(o.data);
    assert_int_equal(dec(KHI_PDF_F_FLATE, NULL, z, zl, 100, &o), KHI_PDF_FULL);
    assert_int_equal(o.len, 100);
    khi_free(o.data);
    /* truncated: what inflated comes out */
    assert_int_equal(dec(KHI_PDF_F_FLATE, NULL, z, zl / 2, 1 << 20, &o), KHI_PDF_CORRUPT);
    assert_true(o.len > 0 && o.len < sizeof(plain));
    assert_memory_equal(o.data, plain, o.len);
    khi_free(o.data);
    /* no zlib header (raw deflate, as some writers do): still read */
    assert_int_equal(dec(KHI_PDF_F_FLATE, NULL, z + 2, zl - 6, 1 << 20, &o), KHI_PDF_OK);
    assert_int_equal(o.len, sizeof(plain));
    khi_free(o.data);
}

static void test_pdf_predictors(void **state)
{
    (void)state;
    /* TIFF 2, 3 colours of 8 bits, 2 columns: each sample adds the one a pixel before */
    const uint8_t tiff[] = {10, 20, 30, 1, 2, 3, 5, 5, 5, 1, 1, 1};
    uint8_t z[128];
    uLongf zl = sizeof(z);
    assert_int_equal(compress(z, &zl, tiff, sizeof(tiff)), Z_OK);
    khi_pdf_parms pp;
    khi_pdf_parms_default(&pp);
    pp.predictor = 2;
    pp.colors = 3;
    pp.columns = 2;
    khi_pdf_out o;
    assert_int_equal(dec(KHI_PDF_F_FLATE, &pp, z, zl, 1000, &o), KHI_PDF_OK);
    const uint8_t want[] = {10, 20, 30, 11, 22, 33, 5, 5, 5, 6, 6, 6};
    assert_int_equal(o.len, sizeof(want));
    assert_memory_equal(o.data, want, sizeof(want));
    khi_free(o.data);
    /* PNG: rows of None, Sub, Up, Average, Paeth over 3 columns */
    const uint8_t png[] = {0, 1, 2, 3, 1, 1, 1, 1, 2, 1, 1, 1, 3, 0, 0, 0, 4, 0, 0, 0};
    zl = sizeof(z);
    assert_int_equal(compress(z, &zl, png, sizeof(png)), Z_OK);
    khi_pdf_parms_default(&pp);
    pp.predictor = 12;
    pp.columns = 3;
    assert_int_equal(dec(KHI_PDF_F_FLATE, &pp, z, zl, 1000, &o), KHI_PDF_OK);
    const uint8_t wpng[] = {1, 2, 3, 1, 2, 3, 2, 3, 4, 1, 2, 3, 1, 2, 3};
    assert_int_equal(o.len, sizeof(wpng));
    assert_memory_equal(o.data, wpng, sizeof(wpng));
    khi_free(o.data);
}

/* A plain LZW encoder, as the PDF reference describes it. */
static size_t lzw_encode(const uint8_t *in, size_t n, int early, uint8_t *out)
{
    static uint16_t tab[4096][256];
    memset(tab, 0, sizeof(tab));
    unsigned next = 258, bits = 9, nacc = 0;
    uint32_t acc = 0;
    size_t k = 0;
#define EMIT(c)                                                                                    \
    do {                                                                                           \
        acc = acc << bits | (c);                                                                   \
        nacc += bits;                                                                              \
        while (nacc >= 8) {                                                                        \
            out[k++] = (uint8_t)(acc >> (nacc - 8));                                               \
            nacc -= 8;                                                                             \
        }                                                                                          \
    } while (0)
    EMIT(256u);
    unsigned w = in[0];
    for (size_t i = 1; i < n; i++) {
        if (tab[w][in[i]]) {
            w = tab[w][in[i]];
            continue;
        }
        EMIT(w);
        if (next < 4096) {
            tab[w][in[i]] = (uint16_t)next++;
            if (next + (unsigned)early > (1u << bits) && bits < 12)
                bits++;
        }
        w = in[i];
    }
    EMIT(w);
    EMIT(257u);
    if (nacc)
        out[k++] = (uint8_t)(acc << (8 - nacc));
#undef EMIT
    return k;
}

static void test_pdf_lzw(void **state)
{
    (void)state;
    /* the example of the PDF reference (7.4.4.2) */
    const uint8_t ex[] = {0x80, 0x0b, 0x60, 0x50, 0x22, 0x0c, 0x0c, 0x85, 0x01};
    khi_pdf_out o;
    assert_int_equal(dec(KHI_PDF_F_LZW, NULL, ex, sizeof(ex), 100, &o), KHI_PDF_OK);
    assert_int_equal(o.len, 10);
    assert_memory_equal(o.data, "-----A---B", 10);
    khi_free(o.data);
    /* past 512 and 1024 codes, with either EarlyChange */
    static uint8_t plain[20000], enc[40000];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)((i * i) % 61 + (i / 1000));
    for (int early = 0; early <= 1; early++) {
        size_t el = lzw_encode(plain, sizeof(plain), early, enc);
        khi_pdf_parms pp;
        khi_pdf_parms_default(&pp);
        pp.early_change = early;
        assert_int_equal(dec(KHI_PDF_F_LZW, &pp, enc, el, 1 << 20, &o), KHI_PDF_OK);
        assert_int_equal(o.len, sizeof(plain));
        assert_memory_equal(o.data, plain, sizeof(plain));
        khi_free(o.data);
    }
}

typedef struct parts {
    char names[32][64];
    size_t n;
    int warnings[8];
    size_t nwarn;
} parts;

static int on_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    parts *p = ud;
    (void)part;
    assert_non_null(detail);
    if (p->nwarn < 8)
        p->warnings[p->nwarn++] = (int)what;
    return 0;
}

static int on_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    parts *p = ud;
    (void)n;
    assert_non_null(d);
    if (p->n < 32)
        khi_snprintf(p->names[p->n++], 64, "%s", name);
    return 0;
}

static kh_err walk(const uint8_t *data, size_t len, parts *p)
{
    khi_parts_cb cb = {on_part, on_warn, p};
    return khi_pdf_walk(data, len, &cb);
}

static const char doc[] =
    "%PDF-1.5\n"
    "1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (a\\(b\\)) >> >> endobj\n"
    "2 3 obj << /Length 3 >> stream\nabc\nendstream endobj\n"
    "4 0 obj << /Length 99 >>stream\r\nxyz\r\nendstream\nendobj\n" /* wrong /Length */
    "5 0 obj << /JS 6 0 R >> endobj\n"
    "6 0 obj << /Filter /DCTDecode >> stream\nraw\nendstream endobj\n"
    "7 0 obj << /Type /ObjStm /N 2 /First 8 >> stream\n8 0 9 4\n1234<< /JS (x) >>\nendstream "
    "endobj\n"
    "trailer << /Root 1 0 R >>\n";

static void test_pdf_walk_parts(void **state)
{
    (void)state;
    parts p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(walk((const uint8_t *)doc, sizeof(doc) - 1, &p), KH_OK);
    const char *want[] = {"js-1", "objstm-7/obj-8", "objstm-7/obj-9", "js-9", "obj-2.3", "obj-4",
                          "js-6"};
    assert_int_equal(p.n, KHI_ARRAY_LEN(want));
    for (size_t i = 0; i < p.n; i++)
        assert_string_equal(p.names[i], want[i]);
    assert_int_equal(p.nwarn, 0);
    assert_true(khi_pdf_detect((const uint8_t *)doc, sizeof(doc) - 1));
    assert_false(khi_pdf_detect((const uint8_t *)"%PDF", 4));
}

static void test_pdf_walk_limits(void **state)
{
    (void)state;
    const char one[] = "1 0 obj null endobj\n";
    size_t n = 100001, ol = sizeof(one) - 1;
    char *big = malloc(n * ol);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        memcpy(big + i * ol, one, ol);
    parts p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(walk((const uint8_t *)big, n * ol, &p), KH_OK);
    assert_int_equal(p.nwarn, 1);
    assert_int_equal(p.warnings[0], KHI_FWARN_PARTS);
    free(big);
}

static void test_pdf_walk_nomem(void **state)
{
    (void)state;
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        parts p;
        memset(&p, 0, sizeof(p));
        khi_mem_fail_after(k);
        kh_err err = walk((const uint8_t *)doc, sizeof(doc) - 1, &p);
        khi_mem_fail_after(-1);
        assert_true(err == KH_OK || err == KH_ENOMEM);
        ok = err == KH_OK;
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pdf_filter_names), cmocka_unit_test(test_pdf_ahx_a85_rl),
        cmocka_unit_test(test_pdf_flate),        cmocka_unit_test(test_pdf_predictors),
        cmocka_unit_test(test_pdf_lzw),          cmocka_unit_test(test_pdf_walk_parts),
        cmocka_unit_test(test_pdf_walk_limits),  cmocka_unit_test(test_pdf_walk_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
