/*
 * test_norm.c - the normalised views that ClamAV target types 3 and 7 match
 * (lib/formats/fmt_htmlnorm.c, fmt_textnorm.c).
 *
 * The expected views were written by clamscan 1.4.6 itself (--leave-temps keeps its
 * nocomment.html, notags.html and normalised text) for the same inputs, so these tests pin
 * ClamAV's behaviour, quirks included; the one place where Khiên differs on purpose (bytes above
 * 0x7f in no-tags, which ClamAV mangles) is marked.
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

static void check_html(const char *in, size_t in_len, const char *nc, size_t nc_len, const char *nt,
                       size_t nt_len)
{
    uint8_t *a = NULL, *t = NULL;
    size_t an = 0, tn = 0;
    assert_int_equal(khi_htmlnorm((const uint8_t *)in, in_len, &a, &an, &t, &tn), KH_OK);
    if (an != nc_len || memcmp(a, nc, an) != 0)
        fail_msg("no-comment: got '%.*s', want '%.*s'", (int)an, (const char *)a, (int)nc_len, nc);
    if (tn != nt_len || memcmp(t, nt, tn) != 0)
        fail_msg("no-tags: got '%.*s', want '%.*s'", (int)tn, (const char *)t, (int)nt_len, nt);
    khi_free(a);
    khi_free(t);
}

#define CHECK(in, nc, nt) check_html(in, sizeof(in) - 1, nc, sizeof(nc) - 1, nt, sizeof(nt) - 1)

static void test_norm_html_references(void **state)
{
    (void)state;
    CHECK("<html><P>Refs: &#x41;&#66;&lt;&gt;&amp;&quot;&#65 x&#7871;&euro;&eacute;&bogus;&#x3002;"
          "&#;&amp end</P>",
          "<html><p>refs: ab<>&\"A x&#x1ebf;&#x20ac;\xe9"
          "&bogus;.\x00"
          "&amp end</p>",
          " refs: x end ");
}

static void test_norm_html_comments_scripts(void **state)
{
    (void)state;
    /* a comment ends at the first '>'; inside a script white space goes and ' reads " */
    CHECK("<html><body>Text<!-- Hidden COMMENT > still text? -->After<SCRIPT>\n var A = 'B' ;\n"
          "<!-- in script -->\n</SCRIPT> Tail",
          "<html><body>textstill text? -->after<script>vara=\"b\";<!--inscript--></script>tail",
          " text still text? -->after tail");
}

static void test_norm_html_attributes(void **state)
{
    (void)state;
    /* data: URIs are cut after "data"; an href goes to no-tags as written; the last tag, which
     * ends the input, is never processed (its href is not in no-tags) */
    CHECK(
        "<html><IMG SRC=\"data:image/gif;base64,R0lGOD==\" ALT='Pic'>x<a href=\"HTTP://Ex.COM/P\">"
        "Link</a> <a href=\"X\">",
        "<html><img src=\"data\"alt=\"pic\">x<a href=\"http://ex.com/p\">link</a><a href=\"x\">",
        " x HTTP://Ex.COM/P link ");
}

static void test_norm_html_utf8(void **state)
{
    (void)state;
    /* ideographic full stop and 0xA1 'C' read as '.', other high bytes kept; only ASCII is
     * lower-cased. ClamAV's no-tags has "\xc3\xc3" for each "\xc3\xa9" here: Khiên keeps the
     * text intact. */
    CHECK("<html><p>\xe3\x80\x82"
          "dot \xc3\xa9t\xc3\xa9 \xa1"
          "Cx</p> end",
          "<html><p>.dot \xc3\xa9t\xc3\xa9 .\x00x</p>end", " .dot \xc3\xa9t\xc3\xa9 .\x00x end");
    CHECK("<TITLE>Ti\xe1\xba\xbfng Vi\xe1\xbb\x87t \xc4\x90\xc6\xa0N</TITLE>",
          "<title>ti\xe1\xba\xbfng vi\xe1\xbb\x87t \xc4\x90\xc6\xa0n</title>",
          " ti\xe1\xba\xbfng vi\xe1\xbb\x87t \xc4\x90\xc6\xa0n ");
}

/* Every output stays within 2 * len + 64, even for the references that grow the most. */
static void test_norm_html_bound(void **state)
{
    (void)state;
    static const char *const unit[] = {"&#256;", "&euro;", "<a href=xxxxxxxxxx>", "\xa1\x43",
                                       "&#"};
    for (size_t u = 0; u < sizeof(unit) / sizeof(unit[0]); u++) {
        size_t ul = strlen(unit[u]), n = ul * 4000;
        uint8_t *in = khi_malloc(n), *a = NULL, *t = NULL;
        size_t an = 0, tn = 0;
        assert_non_null(in);
        for (size_t i = 0; i < n; i += ul)
            memcpy(in + i, unit[u], ul);
        assert_int_equal(khi_htmlnorm(in, n, &a, &an, &t, &tn), KH_OK);
        assert_true(an <= 2 * n + 64);
        assert_true(tn <= 2 * n + 64);
        assert_true(an > 0);
        khi_free(in);
        khi_free(a);
        khi_free(t);
    }
    uint8_t *a = NULL;
    size_t an = 1;
    assert_int_equal(khi_htmlnorm((const uint8_t *)"", 0, &a, &an, NULL, NULL), KH_OK);
    assert_int_equal(an, 0);
    khi_free(a);
}

static void test_norm_text(void **state)
{
    (void)state;
    static const char in[] = "Hello   WORLD\tTi\xe1\xba\xbfng Vi\xe1\xbb\x87t\r\n\x01"
                             "CaLL  Me\n";
    static const char want[] = "hello world ting vit call me ";
    uint8_t out[sizeof(in)];
    khi_textnorm_state st = {0};
    size_t n = khi_textnorm(&st, (const uint8_t *)in, sizeof(in) - 1, out);
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
    /* fed in pieces, split inside a white-space run: the same text */
    for (size_t cut = 0; cut < sizeof(in) - 1; cut++) {
        khi_textnorm_state s2 = {0};
        size_t k = khi_textnorm(&s2, (const uint8_t *)in, cut, out);
        k += khi_textnorm(&s2, (const uint8_t *)in + cut, sizeof(in) - 1 - cut, out + k);
        assert_int_equal(k, sizeof(want) - 1);
        assert_memory_equal(out, want, k);
    }
}

static void test_norm_text_detect(void **state)
{
    (void)state;
    assert_true(khi_text_detect((const uint8_t *)"plain text\r\n", 12));
    assert_true(khi_text_detect((const uint8_t *)"Ti\xe1\xba\xbfng Vi\xe1\xbb\x87t", 12));
    assert_true(khi_text_detect((const uint8_t *)"\x1b[1mbold", 9)); /* ESC appears in text */
    assert_false(khi_text_detect((const uint8_t *)"MZ\x90\x00\x03\x00\x00\x00", 8));
    assert_false(khi_text_detect((const uint8_t *)"", 0));
    /* UTF-16 with a byte order mark; without one ClamAV guesses big-endian UTF-16 when no
     * 16-bit unit below 128 is a control character (so a NUL pair rules it out) */
    assert_true(khi_text_detect((const uint8_t *)"\xff\xfeh\0i\0", 6));
    assert_true(khi_text_detect((const uint8_t *)"\0\0\x01\x02\xff\0hello", 11));
    assert_false(khi_text_detect((const uint8_t *)"\0\x01\0\0\x02\xff\0hello", 12));
    /* only the head decides */
    static uint8_t big[4096];
    memset(big, 'a', sizeof(big));
    big[2000] = 0;
    assert_true(khi_text_detect(big, sizeof(big)));
    big[100] = 0;
    big[101] = 0;
    assert_false(khi_text_detect(big, sizeof(big)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_html_references),
        cmocka_unit_test(test_norm_html_comments_scripts),
        cmocka_unit_test(test_norm_html_attributes),
        cmocka_unit_test(test_norm_html_utf8),
        cmocka_unit_test(test_norm_html_bound),
        cmocka_unit_test(test_norm_text),
        cmocka_unit_test(test_norm_text_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
