/*
 * fuzz_policy.c - unit policies as the server receives them from an administrator and as the
 * agent receives them in a heartbeat reply: validation, completion from the default, and the
 * planned-scan question, on any bytes; the same bytes as a command for an agent.
 *
 * Properties: a policy that passes validation, once completed from the default, passes again
 * (what the server stores is always what the agent can follow), and its plan is never "bad"
 * to kh_plan_due; a command that passes validation passes again as stored.
 */
#include "console/console_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *ok = in ? khi_policy_check(in, why, sizeof(why)) : NULL;
    json_t *cmd = in ? khi_command_check(in, why, sizeof(why)) : NULL;
    json_decref(in);
    if (cmd) {
        json_t *cmd2 = khi_command_check(cmd, why, sizeof(why));
        if (!cmd2)
            abort(); /* what the server keeps is what it accepts */
        json_decref(cmd2);
        json_decref(cmd);
    }
    if (!ok)
        return 0;
    char *text = json_dumps(ok, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ok);
    if (!text)
        return 0;
    json_t *eff = khi_policy_default();
    if (!eff) {
        free(text);
        return 0;
    }
    khi_policy_overlay(eff, text);
    khi_policy_overlay(eff, text); /* twice: a unit repeating its parent's policy */
    free(text);
    json_t *again = khi_policy_check(eff, why, sizeof(why));
    if (!again)
        abort(); /* a stored policy, completed, must validate */
    json_t *plan = json_object_get(eff, "scan_plan");
    int due = kh_plan_due(json_string_value(json_object_get(plan, "every")),
                          (int)json_integer_value(json_object_get(plan, "day")),
                          (int)json_integer_value(json_object_get(plan, "hour")), 0, 1795000000, NULL);
    if (due < 0)
        abort();
    json_decref(again);
    json_decref(eff);
    return 0;
}
