/*
 * console_command.c - what an administrator may ask of an endpoint, checked before it is kept.
 *
 * A command is {"kind": K, "args": {...}} with K one of
 *   "scan"                {"paths": ["/absolute", ...]}  (optional: without it the agent scans
 *                                                          the paths of its scan plan)
 *   "update"              {}                             update the signatures now
 *   "quarantine_restore"  {"id": ENTRY, "to": "/absolute"} (to optional: the original path)
 *   "quarantine_delete"   {"id": ENTRY}
 * where ENTRY is a quarantine entry id (hex, as the detection event reported it). Unknown kinds
 * and members are refused: an agent must never guess what a command meant. The server keeps the
 * checked copy, delivers it with the endpoint's heartbeats until the agent reports it done
 * (or it expires), and the agent reports each result once.
 */
#include "console/console_int.h"

#include <string.h>

#define MAX_PATHS 64
#define MAX_PATH_LEN 4096

static json_t *refuse(char *why, size_t why_len, const char *msg, const char *what)
{
    khi_snprintf(why, why_len, msg, what);
    return NULL;
}

static int abs_path(json_t *v)
{
    const char *p = json_string_value(v);
    return p && p[0] == '/' && json_string_length(v) <= MAX_PATH_LEN && strlen(p) == json_string_length(v);
}

static int entry_id(json_t *v)
{
    const char *p = json_string_value(v);
    size_t n = p ? strlen(p) : 0;
    if (!n || n > 64 || n != json_string_length(v))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

/* Are the members of args all in the space-separated list allowed? */
static const char *unknown_member(json_t *args, const char *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v)
    {
        size_t n = strlen(k);
        const char *a = allowed;
        int found = 0;
        while (!found && *a) {
            size_t m = strcspn(a, " ");
            found = m == n && !strncmp(a, k, n);
            a += m + (a[m] == ' ');
        }
        if (!found)
            return k;
    }
    return NULL;
}

json_t *khi_command_check(json_t *in, char *why, size_t why_len)
{
    const char *k;
    json_t *v;
    if (!json_is_object(in))
        return refuse(why, why_len, "%s", "a command is a JSON object {\"kind\", \"args\"}");
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "kind") && strcmp(k, "args"))
            return refuse(why, why_len, "unknown command member '%s' (kind, args)", k);
    }
    const char *kind = json_string_value(json_object_get(in, "kind"));
    json_t *args = json_object_get(in, "args");
    if (args && !json_is_object(args))
        return refuse(why, why_len, "%s", "args must be an object");
    if (!kind)
        return refuse(why, why_len, "%s", "kind must be scan, update, quarantine_restore or quarantine_delete");
    const char *allowed = !strcmp(kind, "scan")                 ? "paths"
                          : !strcmp(kind, "update")             ? ""
                          : !strcmp(kind, "quarantine_restore") ? "id to"
                          : !strcmp(kind, "quarantine_delete")  ? "id"
                                                                : NULL;
    if (!allowed)
        return refuse(why, why_len, "unknown command kind '%s' (scan, update, quarantine_restore, quarantine_delete)",
                      kind);
    const char *x = args ? unknown_member(args, allowed) : NULL;
    if (x) {
        khi_snprintf(why, why_len, "unknown argument '%s' of a %s command", x, kind);
        return NULL;
    }
    json_t *paths = json_object_get(args, "paths");
    if (paths) {
        size_t i;
        if (!json_is_array(paths) || !json_array_size(paths) || json_array_size(paths) > MAX_PATHS)
            return refuse(why, why_len, "%s", "paths must be a list of 1 to 64 absolute paths");
        json_array_foreach(paths, i, v)
        {
            if (!abs_path(v))
                return refuse(why, why_len, "%s", "paths must hold absolute paths (\"/...\", no NUL, at most 4096 bytes)");
        }
    }
    if (!strncmp(kind, "quarantine_", 11) && !entry_id(json_object_get(args, "id")))
        return refuse(why, why_len, "%s", "id must be a quarantine entry id (1 to 64 lower-case hex digits)");
    json_t *to = json_object_get(args, "to");
    if (to && !abs_path(to))
        return refuse(why, why_len, "%s", "to must be an absolute path (\"/...\", no NUL, at most 4096 bytes)");
    return json_pack("{s:s, s:o}", "kind", kind, "args", args ? json_deep_copy(args) : json_object());
}
