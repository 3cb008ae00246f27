/*
 * cli_util.c - small helpers shared by the sub-commands: numbers, sizes, default paths.
 */
#include "cli.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KH_DATADIR
#define KH_DATADIR "/usr/local/share/khien"
#endif

int cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        default: return -1;
        }
        end++;
        if ((*end == 'i' && end[1] == 'B' && !end[2]) || (*end == 'B' && !end[1]))
            end += strlen(end);
        if (*end)
            return -1;
    }
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

const char *cli_default_db_dir(void)
{
    static const char *const candidates[] = {"/var/lib/khien/db", KH_DATADIR "/db"};
    const char *env = getenv("KHIEN_DB");
    if (env && *env)
        return env;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        struct stat st;
        if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode))
            return candidates[i];
    }
    return NULL;
}

const char *cli_default_cache_dir(char *buf, unsigned len)
{
    const char *env = getenv("KHIEN_CACHE_DIR");
    if (env && *env)
        return env;
    if (geteuid() == 0) {
        snprintf(buf, len, "/var/cache/khien");
        return buf;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg) {
        snprintf(buf, len, "%s/khien", xdg);
        return buf;
    }
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(buf, len, "%s/.cache/khien", home);
        return buf;
    }
    return NULL;
}

const char *cli_default_trust_dir(void)
{
    static const char *const candidates[] = {"/etc/khien/trust", KH_DATADIR "/trust"};
    const char *env = getenv("KHIEN_TRUST_DIR");
    if (env)
        return *env ? env : NULL;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        struct stat st;
        if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode))
            return candidates[i];
    }
    return NULL;
}

const char *cli_default_update_dir(void)
{
    const char *env = getenv("KHIEN_DB_DIR");
    return env && *env ? env : "/var/lib/khien/db";
}

const char *cli_db_path(const char *path, char *buf, unsigned len)
{
    struct stat st;
    snprintf(buf, len, "%s/current", path);
    if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode))
        return buf;
    return path;
}

/* json_string refuses bytes that are not UTF-8 (a file name from an older system in
 * Windows-1258, say): keep every byte, those as the text \xNN, the rest as they are. */
json_t *cli_json_str(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *buf = malloc(4 * n + 1), *o = buf;
    if (!buf)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        char one[5] = "";
        int ok = len > 0;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[k] & 0xc0) == 0x80;
        if (ok) { /* a whole sequence: let jansson judge it (overlong forms, surrogates) */
            memcpy(one, p, len);
            json_t *t = json_string(one);
            ok = t != NULL;
            json_decref(t);
        }
        if (ok) {
            memcpy(o, p, len);
            o += len;
            p += len;
        } else {
            o += snprintf(o, 5, "\\x%02x", *p);
            p++;
        }
    }
    *o = '\0';
    j = json_string(buf);
    free(buf);
    return j;
}
