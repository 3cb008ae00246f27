/*
 * test_sigdb.c - the ClamAV hex pattern language as Vectorscan expressions, and line parsers.
 *
 * The data-driven cases (tests/cases/ndb-*) check matching behaviour end to end; these check
 * the translation itself, the length bounds that offset checks rely on, and the loader's
 * counting of rejected and skipped lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sigdb/sigdb.h"

static void expect_regex(const char *pat, const char *want, uint64_t minlen, uint64_t maxlen)
{
    khi_buf b;
    khi_buf_init(&b);
    uint64_t lo = 0, hi = 0;
    char err[160] = "";
    kh_err e = khi_ndb_pattern_to_regex(pat, strlen(pat), &b, &lo, &hi, err, sizeof(err));
    if (e != KH_OK)
        fail_msg("%s: %s", pat, err);
    assert_string_equal(b.data, want);
    assert_int_equal(lo, minlen);
    assert_true(hi == maxlen);
    khi_buf_cleanup(&b);
}

static void expect_error(const char *pat, const char *fragment)
{
    khi_buf b;
    khi_buf_init(&b);
    uint64_t lo, hi;
    char err[160] = "";
    kh_err e = khi_ndb_pattern_to_regex(pat, strlen(pat), &b, &lo, &hi, err, sizeof(err));
    assert_int_equal(e, KH_EFORMAT);
    if (!strstr(err, fragment))
        fail_msg("%s: error '%s' lacks '%s'", pat, err, fragment);
    khi_buf_cleanup(&b);
}

static void test_sigdb_literal(void **state)
{
    (void)state;
    expect_regex("4142", "\\x41\\x42", 2, 2);
    expect_regex("00ff0A", "\\x00\\xff\\x0a", 3, 3);
}

static void test_sigdb_wildcards(void **state)
{
    (void)state;
    expect_regex("4142??43", "\\x41\\x42.\\x43", 4, 4);
    expect_regex("41424?", "\\x41\\x42[\\x40-\\x4f]", 3, 3);
    expect_regex("4142?5",
                 "\\x41\\x42[\\x05\\x15\\x25\\x35\\x45\\x55\\x65\\x75\\x85\\x95\\xa5\\xb5\\xc5\\xd5\\xe5\\xf5]",
                 3, 3);
}

static void test_sigdb_gaps(void **state)
{
    (void)state;
    expect_regex("4142{3}4344", "\\x41\\x42.{3}\\x43\\x44", 7, 7);
    expect_regex("4142{2-5}4344", "\\x41\\x42.{2,5}\\x43\\x44", 6, 9);
    expect_regex("4142{-4}4344", "\\x41\\x42.{0,4}\\x43\\x44", 4, 8);
    expect_regex("4142{4-}4344", "\\x41\\x42.{4,}\\x43\\x44", 8, KHI_LEN_INF);
    expect_regex("4142*4344", "\\x41\\x42.*\\x43\\x44", 4, KHI_LEN_INF);
    expect_regex("4142[1-2]4344", "\\x41\\x42.{1,2}\\x43\\x44", 5, 6);
}

static void test_sigdb_alternatives(void **state)
{
    (void)state;
    expect_regex("4142(43|44)", "\\x41\\x42(?:\\x43|\\x44)", 3, 3);
    expect_regex("4142(4344|45)", "\\x41\\x42(?:\\x43\\x44|\\x45)", 3, 4);
    expect_regex("4142!(43|44)", "\\x41\\x42[^\\x43\\x44]", 3, 3);
}

static void test_sigdb_malformed(void **state)
{
    (void)state;
    expect_error("", "empty");
    expect_error("414", "odd number");
    expect_error("41x2", "'x'");
    expect_error("*4142", "begin or end");
    expect_error("4142{2}", "begin or end");
    expect_error("4142{3-1}43", "bounds");
    expect_error("4142{70000}43", "bounds");
    expect_error("4142(43", "unclosed");
    expect_error("4142(|43)44", "empty alternative");
    expect_error("4142!(4344|45)46", "single fixed bytes");
    expect_error("41??42", "two fixed bytes");
    expect_error("4142(B)43", "boundary");
    expect_error("4142**4344", "two gaps");
}

typedef struct counts {
    unsigned errors, skips;
    char last[512];
} counts;

static void diag(void *ud, kh_diag_level level, const char *file, unsigned line, const char *msg)
{
    counts *c = ud;
    if (level == KH_DIAG_ERROR)
        c->errors++;
    if (level == KH_DIAG_SKIP)
        c->skips++;
    snprintf(c->last, sizeof(c->last), "%s:%u: %s", file ? file : "-", line, msg);
}

static void test_sigdb_lines_counted(void **state)
{
    (void)state;
    counts c = {0, 0, ""};
    khi_sigdb db;
    khi_sigdb_init(&db, diag, &c);
    const char *text = "A:0:*:41424344\n"
                       "B:0:*:zz\n"
                       "\n"
                       "# a comment\n"
                       "C:1:EP+4:41424344\n"
                       "D:0:EOF-10,4:41424344\r\n";
    assert_int_equal(khi_sigdb_load_mem(&db, "x.ndb", text, strlen(text)), KH_OK);
    assert_int_equal(db.nbodies, 3);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.skips, 0);
    assert_string_equal(db.bodies[1].name, "C");
    assert_int_equal(db.bodies[1].off_kind, KHI_OFF_EP_PLUS);
    assert_int_equal(db.bodies[1].off, 4);
    assert_int_equal(db.exe_offsets, 1);
    assert_string_equal(db.bodies[2].name, "D");
    assert_int_equal(db.bodies[2].off_kind, KHI_OFF_EOF);
    assert_int_equal(db.bodies[2].off, 10);
    assert_int_equal(db.bodies[2].shift, 4);
    khi_sigdb_cleanup(&db);
}

/* Every executable-relative offset form, with and without ",m", and the malformed ones. */
static void test_sigdb_exe_offsets(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ret, kind;
        uint64_t off, shift;
        uint32_t sect;
    } t[] = {
        {"EP+0", 1, KHI_OFF_EP_PLUS, 0, 0, 0},     {"EP+16,8", 1, KHI_OFF_EP_PLUS, 16, 8, 0},
        {"EP-3", 1, KHI_OFF_EP_MINUS, 3, 0, 0},    {"EP-3,100000", 1, KHI_OFF_EP_MINUS, 3, 100000, 0},
        {"S2+5", 1, KHI_OFF_SX, 5, 0, 2},          {"S0+0,4", 1, KHI_OFF_SX, 0, 4, 0},
        {"SL+7", 1, KHI_OFF_SL, 7, 0, 0},          {"SL+7,2", 1, KHI_OFF_SL, 7, 2, 0},
        {"SE1", 1, KHI_OFF_SE, 0, 0, 1},           {"SE12,64", 1, KHI_OFF_SE, 0, 64, 12},
        {"VI", -1, 0, 0, 0, 0},                    {"EP", 0, 0, 0, 0, 0},
        {"EP+", 0, 0, 0, 0, 0},                    {"EP*4", 0, 0, 0, 0, 0},
        {"EP+4,", 0, 0, 0, 0, 0},                  {"S+4", 0, 0, 0, 0, 0},
        {"S1", 0, 0, 0, 0, 0},                     {"S1-4", 0, 0, 0, 0, 0},
        {"SE", 0, 0, 0, 0, 0},                     {"SEx", 0, 0, 0, 0, 0},
        {"SL-4", 0, 0, 0, 0, 0},                   {"Sfoo", 0, 0, 0, 0, 0},
        {"SE1+4", 0, 0, 0, 0, 0},                  {"10,5", 1, KHI_OFF_ABS, 10, 5, 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        khi_bodysig b;
        memset(&b, 0, sizeof(b));
        int r = khi_ndb_parse_offset(t[i].s, strlen(t[i].s), &b);
        if (r != t[i].ret)
            fail_msg("offset '%s': %d, expected %d", t[i].s, r, t[i].ret);
        if (r == 1) {
            assert_int_equal(b.off_kind, t[i].kind);
            assert_int_equal(b.off, t[i].off);
            assert_int_equal(b.shift, t[i].shift);
            assert_int_equal(b.sect, t[i].sect);
        }
    }
    assert_int_equal(khi_ndb_exe_offset_ok(1), 1);
    assert_int_equal(khi_ndb_exe_offset_ok(6), 0);
    assert_int_equal(khi_ndb_exe_offset_ok(9), 0);
    assert_int_equal(khi_ndb_exe_offset_ok(0), -1);
    assert_int_equal(khi_ndb_exe_offset_ok(2), -1);
}

/* .mdb/.msb lines go to the section hashes, never to the whole-object ones. */
static void test_sigdb_section_hashes(void **state)
{
    (void)state;
    counts c = {0, 0, ""};
    khi_sigdb db;
    khi_sigdb_init(&db, diag, &c);
    const char *text = "512:3ea7d00dedd30bcdf46191f2ecbd4f1f:Sect.A\n"
                       "*:3ea7d00dedd30bcdf46191f2ecbd4f1f:Sect.Any:73\n"
                       "512:da39a3ee5e6b4b0d3255bfef95601890afd80709:Sect.Sha1\n"
                       "3ea7d00dedd30bcdf46191f2ecbd4f1f:512:Sect.Swapped\n"
                       "512:3ea7:Sect.Short\n"
                       "512:3ea7d00dedd30bcdf46191f2ecbd4f1f:\n"
                       "512:3ea7d00dedd30bcdf46191f2ecbd4f1f:Sect.Future:999\n";
    assert_int_equal(khi_sigdb_load_mem(&db, "x.mdb", text, strlen(text)), KH_OK);
    assert_int_equal(db.nhashes, 0);
    assert_int_equal(db.nsects, 3);
    assert_int_equal(c.errors, 3);
    assert_int_equal(c.skips, 1);
    assert_int_equal(db.sects[0].size, 512);
    assert_int_equal(db.sects[0].type, KHI_HASH_MD5);
    assert_true(db.sects[1].size == KHI_SIZE_ANY);
    assert_int_equal(db.sects[2].type, KHI_HASH_SHA1);
    assert_string_equal(db.sects[2].name, "Sect.Sha1");
    khi_sigdb_cleanup(&db);
}

static void test_sigdb_hash_types(void **state)
{
    (void)state;
    counts c = {0, 0, ""};
    khi_sigdb db;
    khi_sigdb_init(&db, diag, &c);
    const char *text = "5d41402abc4b2a76b9719d911017c592:5:M\n"
                       "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d:*:S1\n"
                       "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824:5:S2\n";
    assert_int_equal(khi_sigdb_load_mem(&db, "x.hsb", text, strlen(text)), KH_OK);
    assert_int_equal(db.nhashes, 3);
    assert_int_equal(db.hashes[0].type, KHI_HASH_MD5);
    assert_int_equal(db.hashes[1].type, KHI_HASH_SHA1);
    assert_true(db.hashes[1].size == KHI_SIZE_ANY);
    assert_int_equal(db.hashes[2].type, KHI_HASH_SHA256);
    assert_int_equal(db.hashes[0].digest[0], 0x5d);
    khi_sigdb_cleanup(&db);
    /* the same "*" in an .hdb is an error naming the line */
    khi_sigdb_init(&db, diag, &c);
    assert_int_equal(khi_sigdb_load_mem(&db, "y.hdb", text, strlen(text)), KH_OK);
    assert_int_equal(db.nhashes, 2);
    assert_non_null(strstr(c.last, "y.hdb:2"));
    khi_sigdb_cleanup(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigdb_literal),      cmocka_unit_test(test_sigdb_wildcards),
        cmocka_unit_test(test_sigdb_gaps),         cmocka_unit_test(test_sigdb_alternatives),
        cmocka_unit_test(test_sigdb_malformed),    cmocka_unit_test(test_sigdb_lines_counted),
        cmocka_unit_test(test_sigdb_hash_types),  cmocka_unit_test(test_sigdb_exe_offsets),
        cmocka_unit_test(test_sigdb_section_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
