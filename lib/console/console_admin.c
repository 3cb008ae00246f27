/*
 * console_admin.c - setting up a console database: schema, organisation tree, tokens, users.
 *
 * The organisation tree is data, not code: `init` with a directory loads departments.tsv
 * (unit, kind) and communes-since-2025.tsv (unit, former_district, merged_from) under one
 * province root, so a province after the 2025 reform (departments and communes/wards, no
 * districts) is one call; another province brings its own files.
 */
#include <khien/console.h>
#include "core/core.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each data line of a TSV (header skipped): the first field and the second (or NULL). */
static kh_err load_tsv(khi_store *s, const char *path, int64_t parent, const char *default_kind,
                       char *err, size_t err_len)
{
    char *data = NULL;
    size_t len = 0;
    kh_err e = khi_file_read_all(path, 1u << 24, &data, &len, err, err_len);
    if (e != KH_OK)
        return e;
    int first = 1;
    for (char *save = NULL, *line = strtok_r(data, "\n", &save); line && e == KH_OK;
         line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (first || !l) {
            first = 0;
            continue;
        }
        char *tab = strchr(line, '\t');
        if (tab)
            *tab = '\0';
        const char *kind = default_kind;
        if (!strcmp(default_kind, "commune") && !strncmp(line, "Phường", strlen("Phường")))
            kind = "ward";
        if (!strcmp(default_kind, "department") && tab && tab[1] && !strchr(tab + 1, '\t'))
            kind = tab + 1;
        e = khi_store_unit_add(s, parent, line, kind, NULL, NULL);
    }
    khi_free(data);
    if (e != KH_OK)
        khi_snprintf(err, err_len, "%s: cannot store the units", path);
    return e;
}

kh_err kh_console_init(const char *db_url, const char *demo_dir, char *err, size_t err_len)
{
    khi_store *s = NULL;
    kh_err e = khi_store_open(db_url, &s, err, err_len);
    if (e != KH_OK || !demo_dir)
        goto out;
    int64_t root = 0;
    if (khi_store_unit_find(s, "Tỉnh Lai Châu", &root) == KH_OK) {
        khi_snprintf(err, err_len, "the demo tree is there already");
        e = KH_EEXIST;
        goto out;
    }
    char p[4200];
    e = khi_store_unit_add(s, 0, "Tỉnh Lai Châu", "province", "12", &root);
    khi_snprintf(p, sizeof(p), "%s/departments.tsv", demo_dir);
    if (e == KH_OK)
        e = load_tsv(s, p, root, "department", err, err_len);
    khi_snprintf(p, sizeof(p), "%s/communes-since-2025.tsv", demo_dir);
    if (e == KH_OK)
        e = load_tsv(s, p, root, "commune", err, err_len);
out:
    khi_store_close(s);
    return e;
}

kh_err kh_console_add_unit(const char *db_url, const char *parent_name, const char *name,
                           const char *kind, char *err, size_t err_len)
{
    khi_store *s = NULL;
    int64_t parent = 0;
    kh_err e = khi_store_open(db_url, &s, err, err_len);
    if (e == KH_OK && parent_name && (e = khi_store_unit_find(s, parent_name, &parent)) != KH_OK)
        khi_snprintf(err, err_len, "no unit called '%s'", parent_name);
    if (e == KH_OK)
        e = khi_store_unit_add(s, parent, name, kind ? kind : "unit", NULL, NULL);
    khi_store_close(s);
    return e;
}

kh_err kh_console_token(const char *db_url, const char *unit_name, int64_t ttl, int uses,
                        char out[65], char *err, size_t err_len)
{
    khi_store *s = NULL;
    int64_t unit = 0;
    kh_err e = khi_store_open(db_url, &s, err, err_len);
    if (e == KH_OK && (e = khi_store_unit_find(s, unit_name, &unit)) != KH_OK)
        khi_snprintf(err, err_len, "no unit called '%s'", unit_name);
    if (e == KH_OK)
        e = khi_store_token_create(s, unit, ttl, uses, (int64_t)time(NULL), out);
    khi_store_close(s);
    return e;
}

kh_err kh_console_user(const char *db_url, const char *name, const char *password, const char *role,
                       const char *unit_name, char *err, size_t err_len)
{
    khi_store *s = NULL;
    int64_t unit = 0;
    if (strcmp(role, "province") != 0 && strcmp(role, "unit") != 0) {
        khi_snprintf(err, err_len, "role must be 'province' or 'unit'");
        return KH_EINVAL;
    }
    if (!strcmp(role, "unit") && !unit_name) {
        khi_snprintf(err, err_len, "a 'unit' user needs its unit");
        return KH_EINVAL;
    }
    if (strlen(password) < 8) {
        khi_snprintf(err, err_len, "the password needs at least 8 characters");
        return KH_EINVAL;
    }
    kh_err e = khi_store_open(db_url, &s, err, err_len);
    if (e == KH_OK && unit_name && (e = khi_store_unit_find(s, unit_name, &unit)) != KH_OK)
        khi_snprintf(err, err_len, "no unit called '%s'", unit_name);
    if (e == KH_OK)
        e = khi_store_user_set(s, name, password, role, unit);
    khi_store_close(s);
    return e;
}
