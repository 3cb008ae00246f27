/*
 * test_policy.c - unit policies: what validation accepts and refuses, how the policies of the
 * province and of the units below it are laid over the default, and when a monthly or quarterly planned scan is due (in UTC and
 * in Vietnam's UTC+7, at the edges of the window).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "console/console_int.h"

static json_t *check(const char *text, char *why, size_t why_len)
{
    json_t *in = json_loads(text, 0, NULL);
    assert_non_null(in);
    json_t *out = khi_policy_check(in, why, why_len);
    json_decref(in);
    return out;
}

static void test_policy_check(void **state)
{
    (void)state;
    char why[256];
    static const char *const good[] = {
        "{}",
        "{\"realtime\": true}",
        "{\"realtime\": true, \"realtime_paths\": [\"/home\", \"/srv/Tải về\"], \"action\": \"quarantine\"}",
        "{\"action\": \"report\"}",
        ("{\"scan_plan\": {\"every\": \"quarter\", \"day\": 28, \"hour\": 23, \"paths\": [\"/home\", \"/srv/Tài liệu\"],"
         " \"exclude\": [\"/home/cache\"]}, \"update_interval\": 300}"),
    };
    static const struct {
        const char *text, *reason;
    } bad[] = {
        {"[]", "JSON object"},
        {"{\"scan_plans\": {}}", "unknown policy member 'scan_plans'"},
        {"{\"scan_plan\": {\"every\": \"week\"}}", "\"month\" or \"quarter\""},
        {"{\"scan_plan\": {\"day\": 29}}", "day must be 1 to 28"},
        {"{\"scan_plan\": {\"hour\": -1}}", "hour 0 to 23"},
        {"{\"scan_plan\": {\"paths\": [\"relative/dir\"]}}", "absolute paths"},
        {"{\"scan_plan\": {\"exclude\": \"/tmp\"}}", "scan_plan.exclude must be a list"},
        {"{\"scan_plan\": {\"path\": [\"/tmp\"]}}", "unknown scan_plan member 'path'"},
        {"{\"realtime\": 1}", "true or false"},
        {"{\"update_interval\": 10}", "300 to 604800"},
        {"{\"realtime_paths\": [\"home\"]}", "realtime_paths must hold absolute paths"},
        {"{\"realtime_paths\": \"/home\"}", "realtime_paths must be a list"},
        {"{\"action\": \"delete\"}", "\"report\" or \"quarantine\""},
        {"{\"action\": true}", "\"report\" or \"quarantine\""},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *p = check(good[i], why, sizeof(why));
        assert_non_null(p);
        json_decref(p);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_null(check(bad[i].text, why, sizeof(why)));
        if (!strstr(why, bad[i].reason))
            fail_msg("%s: reason '%s' lacks '%s'", bad[i].text, why, bad[i].reason);
    }
}

static void test_command_check(void **state)
{
    (void)state;
    char why[256];
    static const struct {
        const char *text, *kind;
    } good[] = {
        {"{\"kind\": \"scan\"}", "scan"},
        {"{\"kind\": \"scan\", \"args\": {\"paths\": [\"/home/Người dùng\"]}}", "scan"},
        {"{\"kind\": \"update\", \"args\": {}}", "update"},
        {"{\"kind\": \"quarantine_restore\", \"args\": {\"id\": \"0a1b2c\", \"to\": \"/tmp/x\"}}",
         "quarantine_restore"},
        {"{\"kind\": \"quarantine_delete\", \"args\": {\"id\": \"ff00\"}}", "quarantine_delete"},
    };
    static const struct {
        const char *text, *reason;
    } bad[] = {
        {"[]", "JSON object"},
        {"{}", "kind must be"},
        {"{\"kind\": \"format_disk\"}", "unknown command kind 'format_disk'"},
        {"{\"kind\": \"scan\", \"when\": 1}", "unknown command member 'when'"},
        {"{\"kind\": \"scan\", \"args\": []}", "args must be an object"},
        {"{\"kind\": \"scan\", \"args\": {\"paths\": []}}", "1 to 64 absolute paths"},
        {"{\"kind\": \"scan\", \"args\": {\"paths\": [\"etc\"]}}", "absolute paths"},
        {"{\"kind\": \"update\", \"args\": {\"force\": true}}", "unknown argument 'force' of a update"},
        {"{\"kind\": \"quarantine_delete\"}", "quarantine entry id"},
        {"{\"kind\": \"quarantine_delete\", \"args\": {\"id\": \"../../etc/passwd\"}}", "quarantine entry id"},
        {"{\"kind\": \"quarantine_restore\", \"args\": {\"id\": \"ab\", \"to\": \"x\"}}", "to must be an absolute"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *in = json_loads(good[i].text, 0, NULL), *c = khi_command_check(in, why, sizeof(why));
        json_decref(in);
        if (!c)
            fail_msg("%s refused: %s", good[i].text, why);
        assert_string_equal(json_string_value(json_object_get(c, "kind")), good[i].kind);
        assert_true(json_is_object(json_object_get(c, "args")));
        json_decref(c);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *in = json_loads(bad[i].text, 0, NULL);
        why[0] = '\0';
        assert_null(khi_command_check(in, why, sizeof(why)));
        json_decref(in);
        if (!strstr(why, bad[i].reason))
            fail_msg("%s: reason '%s' lacks '%s'", bad[i].text, why, bad[i].reason);
    }
}

static void test_policy_overlay(void **state)
{
    (void)state;
    json_t *d = khi_policy_default();
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "scan_plan"), "every")), "month");
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "scan_plan"), "paths")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "update_interval")), 3600);
    /* the province's plan, then a commune that only changes the day and its update interval */
    khi_policy_overlay(d, "{\"scan_plan\": {\"every\": \"quarter\", \"paths\": [\"/srv\"]}, \"realtime\": true}");
    khi_policy_overlay(d, "{\"scan_plan\": {\"day\": 5}, \"update_interval\": 7200}");
    khi_policy_overlay(d, NULL);
    json_t *plan = json_object_get(d, "scan_plan");
    assert_string_equal(json_string_value(json_object_get(plan, "every")), "quarter");
    assert_int_equal(json_integer_value(json_object_get(plan, "day")), 5);
    assert_int_equal(json_integer_value(json_object_get(plan, "hour")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(plan, "paths"), 0)), "/srv");
    assert_true(json_is_true(json_object_get(d, "realtime")));
    assert_int_equal(json_integer_value(json_object_get(d, "update_interval")), 7200);
    /* a lower unit may clear the paths: no planned scan there */
    khi_policy_overlay(d, "{\"scan_plan\": {\"paths\": []}}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "scan_plan"), "paths")), 0);
    json_decref(d);
}

/* unix time of a UTC calendar moment */
static int64_t utc(int y, int mon, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm);
}

static void test_plan_due_utc(void **state)
{
    (void)state;
    setenv("TZ", "UTC0", 1);
    tzset();
    int64_t planned = 0;
    /* monthly, day 10 at 02:00: before the planned time nothing is due */
    assert_int_equal(kh_plan_due("month", 10, 2, 0, utc(2026, 11, 10, 1, 59), &planned), 0);
    assert_int_equal(planned, utc(2026, 11, 10, 2, 0));
    assert_int_equal(kh_plan_due("month", 10, 2, 0, utc(2026, 11, 10, 2, 0), NULL), 1);
    /* done after the planned time: not again this month; due again in December */
    assert_int_equal(kh_plan_due("month", 10, 2, utc(2026, 11, 10, 3, 0), utc(2026, 11, 30, 23, 59), NULL), 0);
    assert_int_equal(kh_plan_due("month", 10, 2, utc(2026, 11, 10, 3, 0), utc(2026, 12, 10, 2, 0), &planned), 1);
    assert_int_equal(planned, utc(2026, 12, 10, 2, 0));
    /* the endpoint was off at the planned time: due when it comes back, within the window */
    assert_int_equal(kh_plan_due("month", 1, 0, utc(2026, 10, 1, 0, 30), utc(2026, 11, 25, 9, 0), NULL), 1);
    /* quarterly: windows start in January, April, July, October */
    assert_int_equal(kh_plan_due("quarter", 5, 8, 0, utc(2026, 12, 31, 23, 0), &planned), 1);
    assert_int_equal(planned, utc(2026, 10, 5, 8, 0));
    assert_int_equal(kh_plan_due("quarter", 5, 8, utc(2026, 10, 6, 0, 0), utc(2026, 12, 31, 23, 0), NULL), 0);
    assert_int_equal(kh_plan_due("quarter", 5, 8, utc(2026, 10, 6, 0, 0), utc(2027, 1, 5, 8, 0), &planned), 1);
    assert_int_equal(planned, utc(2027, 1, 5, 8, 0));
    assert_int_equal(kh_plan_due("quarter", 5, 8, utc(2026, 10, 6, 0, 0), utc(2027, 2, 1, 0, 0), NULL), 1);
    /* bad plans */
    assert_int_equal(kh_plan_due("week", 1, 0, 0, 0, NULL), -1);
    assert_int_equal(kh_plan_due(NULL, 1, 0, 0, 0, NULL), -1);
    assert_int_equal(kh_plan_due("month", 29, 0, 0, 0, NULL), -1);
    assert_int_equal(kh_plan_due("month", 1, 24, 0, 0, NULL), -1);
}

static void test_plan_due_vietnam(void **state)
{
    (void)state;
    setenv("TZ", "ICT-7", 1); /* Vietnam: UTC+7, no daylight saving */
    tzset();
    int64_t planned = 0;
    /* 30 November 23:59 in Hà Nội (16:59 UTC): November's window, planned 1 November 02:00 */
    assert_int_equal(kh_plan_due("month", 1, 2, 0, utc(2026, 11, 30, 16, 59), &planned), 1);
    assert_int_equal(planned, utc(2026, 10, 31, 19, 0));
    /* 1 December 01:59 there is already December's window, whose 02:00 (19:00 UTC) is not yet */
    assert_int_equal(kh_plan_due("month", 1, 2, 0, utc(2026, 11, 30, 18, 59), &planned), 0);
    assert_int_equal(planned, utc(2026, 11, 30, 19, 0));
    assert_int_equal(kh_plan_due("month", 1, 2, utc(2026, 11, 2, 0, 0), utc(2026, 11, 30, 18, 59), NULL), 0);
    assert_int_equal(kh_plan_due("month", 1, 2, utc(2026, 11, 2, 0, 0), utc(2026, 11, 30, 19, 0), &planned), 1);
    assert_int_equal(planned, utc(2026, 11, 30, 19, 0));
    setenv("TZ", "UTC0", 1);
    tzset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_check),
        cmocka_unit_test(test_policy_overlay),
        cmocka_unit_test(test_command_check),
        cmocka_unit_test(test_plan_due_utc),
        cmocka_unit_test(test_plan_due_vietnam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
