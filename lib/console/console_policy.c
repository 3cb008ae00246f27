/*
 * console_policy.c - a unit's policy (scan plan, real-time protection, update interval): its
 * validation on the server, and the agent's question "is the planned scan due now?".
 *
 * A policy is a JSON object, every member optional:
 *   {"scan_plan": {"every": "month" | "quarter", "day": 1-28, "hour": 0-23,
 *                  "paths": ["/absolute", ...], "exclude": ["/absolute", ...]},
 *    "realtime": true | false, "realtime_paths": ["/absolute", ...],
 *    "action": "report" | "quarantine", "update_interval": 300-604800 (seconds)}
 * realtime_paths are the directories real-time protection watches when realtime is on; action
 * is what the agent does with a file it detects (quarantine: moved into its quarantine, from
 * where a restore command brings it back).
 * Unknown members are refused rather than ignored: a misspelt "scan_plan" must not quietly
 * mean "no plan". What an endpoint follows is the built-in default (a monthly plan on day 1 at
 * 02:00 with no paths, so nothing is scanned until paths are set; real-time off; hourly
 * updates; detections reported, not moved), overlaid member by member (the plan's members too) with the province's policy
 * (unit 0), then each unit's from the top down to the endpoint's own: a commune that sets only
 * its update interval keeps the province's scan plan.
 *
 * The planned time of a window (the calendar month, or the quarter starting in January, April,
 * July and October; the endpoint's local time) is the window's first day + (day - 1) days at
 * hour:00. From then until the window ends the scan is due once: an endpoint that was off at
 * the planned time scans when it comes back.
 */
#include "console/console_int.h"

#include <string.h>
#include <time.h>

#define MAX_PATHS 64
#define MAX_PATH_LEN 4096

json_t *khi_policy_default(void)
{
    return json_pack("{s:{s:s, s:i, s:i, s:[], s:[]}, s:b, s:[], s:s, s:i}", "scan_plan", "every", "month", "day", 1,
                     "hour", 2, "paths", "exclude", "realtime", 0, "realtime_paths", "action", "report",
                     "update_interval", 3600);
}

static int bad(char *why, size_t why_len, const char *fmt, const char *what)
{
    khi_snprintf(why, why_len, fmt, what);
    return 0;
}

static int check_paths(json_t *arr, const char *key, char *why, size_t why_len)
{
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_PATHS)
        return bad(why, why_len, "%s must be a list of at most 64 absolute paths", key);
    json_array_foreach(arr, i, v)
    {
        const char *p = json_string_value(v);
        if (!p || p[0] != '/' || json_string_length(v) > MAX_PATH_LEN || strlen(p) != json_string_length(v))
            return bad(why, why_len, "%s must hold absolute paths (\"/...\", no NUL, at most 4096 bytes)", key);
    }
    return 1;
}

static int int_in(json_t *o, const char *key, json_int_t lo, json_int_t hi)
{
    json_t *v = json_object_get(o, key);
    return !v || (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi);
}

json_t *khi_policy_check(json_t *in, char *why, size_t why_len)
{
    const char *k;
    json_t *v;
    if (!json_is_object(in)) {
        bad(why, why_len, "%s", "a policy is a JSON object");
        return NULL;
    }
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "scan_plan") && strcmp(k, "realtime") && strcmp(k, "realtime_paths") && strcmp(k, "action") &&
            strcmp(k, "update_interval")) {
            bad(why, why_len, "unknown policy member '%s' (scan_plan, realtime, realtime_paths, action, update_interval)",
                k);
            return NULL;
        }
    }
    json_t *plan = json_object_get(in, "scan_plan");
    if (plan) {
        if (!json_is_object(plan)) {
            bad(why, why_len, "%s", "scan_plan must be an object");
            return NULL;
        }
        json_object_foreach(plan, k, v)
        {
            if (strcmp(k, "every") && strcmp(k, "day") && strcmp(k, "hour") && strcmp(k, "paths") &&
                strcmp(k, "exclude")) {
                bad(why, why_len, "unknown scan_plan member '%s' (every, day, hour, paths, exclude)", k);
                return NULL;
            }
        }
        const char *every = json_string_value(json_object_get(plan, "every"));
        if (json_object_get(plan, "every") && (!every || (strcmp(every, "month") && strcmp(every, "quarter")))) {
            bad(why, why_len, "%s", "scan_plan.every must be \"month\" or \"quarter\"");
            return NULL;
        }
        if (!int_in(plan, "day", 1, 28) || !int_in(plan, "hour", 0, 23)) {
            bad(why, why_len, "%s", "scan_plan.day must be 1 to 28 and scan_plan.hour 0 to 23");
            return NULL;
        }
        if ((json_object_get(plan, "paths") && !check_paths(json_object_get(plan, "paths"), "scan_plan.paths", why, why_len)) ||
            (json_object_get(plan, "exclude") &&
             !check_paths(json_object_get(plan, "exclude"), "scan_plan.exclude", why, why_len)))
            return NULL;
    }
    v = json_object_get(in, "realtime");
    if (v && !json_is_boolean(v)) {
        bad(why, why_len, "%s", "realtime must be true or false");
        return NULL;
    }
    if (json_object_get(in, "realtime_paths") &&
        !check_paths(json_object_get(in, "realtime_paths"), "realtime_paths", why, why_len))
        return NULL;
    const char *action = json_string_value(json_object_get(in, "action"));
    if (json_object_get(in, "action") && (!action || (strcmp(action, "report") && strcmp(action, "quarantine")))) {
        bad(why, why_len, "%s", "action must be \"report\" or \"quarantine\"");
        return NULL;
    }
    if (!int_in(in, "update_interval", 300, 604800)) {
        bad(why, why_len, "%s", "update_interval must be 300 to 604800 seconds");
        return NULL;
    }
    return json_deep_copy(in);
}

void khi_policy_overlay(json_t *p, const char *stored)
{
    json_t *over = stored ? json_loads(stored, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(over, k, v)
    {
        json_t *mine = json_object_get(p, k);
        if (!strcmp(k, "scan_plan") && json_is_object(mine) && json_is_object(v))
            json_object_update(mine, v);
        else
            json_object_set(p, k, v);
    }
    json_decref(over);
}

int kh_plan_due(const char *every, int day, int hour, int64_t last_done, int64_t now, int64_t *out_planned)
{
    if (!every || (strcmp(every, "month") && strcmp(every, "quarter")) || day < 1 || day > 28 || hour < 0 ||
        hour > 23)
        return -1;
    time_t t = (time_t)now;
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return -1;
    struct tm p = {0};
    p.tm_year = tm.tm_year;
    p.tm_mon = strcmp(every, "quarter") ? tm.tm_mon : tm.tm_mon - tm.tm_mon % 3;
    p.tm_mday = day;
    p.tm_hour = hour;
    p.tm_isdst = -1;
    time_t planned = mktime(&p);
    if (planned == (time_t)-1)
        return -1;
    if (out_planned)
        *out_planned = (int64_t)planned;
    return now >= (int64_t)planned && last_done < (int64_t)planned;
}
