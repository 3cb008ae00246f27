/*
 * update_mirror.c - mirrors: plain directories of packages and deltas with an index.
 *
 *   latest.json            {"format": "khien-mirror-1", "version": N,
 *                           "full": {"file", "size", "sha256"},
 *                           "deltas": [{"from", "to", "file", "size", "sha256"}, ...]}
 *   khien-db-N.kpkg        full packages (the newest is the one listed)
 *   khien-db-A-B.kdelta    deltas from version A to B
 *
 * Any web server (or a directory on a USB stick) can serve one. The index is not signed and
 * need not be: it only says what to fetch; every package and delta is verified on its own,
 * and the index's sizes and hashes only spare a client from installing a broken download.
 * Files are added by copying to a temporary name and renaming, and latest.json is rewritten
 * last and atomically, so a client never sees an index naming a file that is not complete.
 */
#include "update/update_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kh_err copy_to(const char *src, const char *dst)
{
    char *data = NULL, tmp[4400];
    size_t len = 0;
    kh_err e = khi_file_read_all(src, KHI_MAX_PKG_FILE, &data, &len, NULL, 0);
    if (e == KH_OK) {
        khi_snprintf(tmp, sizeof(tmp), "%s", dst);
        e = khi_file_write_atomic(tmp, data, len, 0644);
    }
    khi_free(data);
    return e;
}

static json_t *file_entry(const char *dir, const char *name)
{
    char p[4400], hex[65];
    uint8_t h[32];
    uint64_t size = 0;
    khi_snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (khi_sha256_file(p, h, &size) != KH_OK)
        return NULL;
    khi_hex_encode(h, 32, hex);
    return json_pack("{s:s, s:I, s:s}", "file", name, "size", (json_int_t)size, "sha256", hex);
}

/* Rebuild latest.json from the files in dir. */
kh_err khi_mirror_index(const char *dir, char *err, size_t err_len);

kh_err khi_mirror_index(const char *dir, char *err, size_t err_len)
{
    DIR *d = opendir(dir);
    if (!d) {
        khi_snprintf(err, err_len, "%s: %s", dir, strerror(errno));
        return khi_errno_to_kh(errno);
    }
    uint64_t newest = 0;
    char full[256] = "";
    json_t *deltas = json_array();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long a = 0, b = 0;
        char tail[16] = "";
        if (sscanf(de->d_name, "khien-db-%llu-%llu.kdelt%1s", &a, &b, tail) == 3 && !strcmp(tail, "a")) {
            json_t *e = file_entry(dir, de->d_name);
            if (e) {
                json_object_set_new(e, "from", json_integer((json_int_t)a));
                json_object_set_new(e, "to", json_integer((json_int_t)b));
                json_array_append_new(deltas, e);
            }
        } else if (sscanf(de->d_name, "khien-db-%llu.kpk%1s", &a, tail) == 2 && !strcmp(tail, "g") &&
                   a > newest) {
            newest = a;
            khi_snprintf(full, sizeof(full), "%s", de->d_name);
        }
    }
    closedir(d);
    if (!newest) {
        json_decref(deltas);
        khi_snprintf(err, err_len, "%s holds no package", dir);
        return KH_ENOENT;
    }
    json_t *idx = json_pack("{s:s, s:I, s:o, s:o}", "format", "khien-mirror-1", "version",
                            (json_int_t)newest, "full", file_entry(dir, full), "deltas", deltas);
    char *text = idx ? json_dumps(idx, JSON_SORT_KEYS | JSON_INDENT(1)) : NULL;
    kh_err e = KH_ENOMEM;
    if (text) {
        char p[4400];
        khi_snprintf(p, sizeof(p), "%s/latest.json", dir);
        e = khi_file_write_atomic(p, text, strlen(text), 0644);
    }
    free(text);
    json_decref(idx);
    return e;
}

kh_err kh_mirror_add(const char *dir, const char *const *paths, size_t n, const char *trust_dir,
                     char *err, size_t err_len)
{
    kh_err e = khi_mkdir_p(dir, 0755);
    if (e != KH_OK) {
        khi_snprintf(err, err_len, "%s: %s", dir, kh_strerror(e));
        return e;
    }
    for (size_t i = 0; i < n; i++) {
        kh_pkg_info info;
        char why[512] = "", dst[4400];
        e = kh_pkg_verify(paths[i], trust_dir, &info, why, sizeof(why));
        if (e != KH_OK) {
            khi_snprintf(err, err_len, "%s: refused: %s", paths[i], why);
            return e;
        }
        if (info.is_delta)
            khi_snprintf(dst, sizeof(dst), "%s/khien-db-%llu-%llu.kdelta", dir,
                         (unsigned long long)info.from_version, (unsigned long long)info.version);
        else
            khi_snprintf(dst, sizeof(dst), "%s/khien-db-%llu.kpkg", dir, (unsigned long long)info.version);
        if ((e = copy_to(paths[i], dst)) != KH_OK) {
            khi_snprintf(err, err_len, "%s: %s", dst, kh_strerror(e));
            return e;
        }
    }
    return khi_mirror_index(dir, err, err_len);
}
