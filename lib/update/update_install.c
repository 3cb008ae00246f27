/*
 * update_install.c - installing a verified version so that no crash can leave it half done.
 *
 *   DB/versions/N/   the files of version N, its manifest.json and manifest.sig
 *   DB/current       a symlink to versions/N, the only thing scanners read
 *
 * A new version is written and checked in full under versions/.new-N-PID, fsynced, renamed to
 * versions/N, and only then does "current" change, by renaming a new symlink over it; every
 * step before that leaves the old version in use, and the rename itself is atomic. The
 * previous version stays for rollback; older ones and stale staging directories are removed.
 * One update at a time: DB/.lock is held with flock(2) for the whole install.
 */
#include "update/update_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

kh_err khi_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return khi_errno_to_kh(errno);
    kh_err e = fsync(fd) == 0 ? KH_OK : KH_EIO;
    close(fd);
    return e;
}

kh_err khi_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? KH_OK : khi_errno_to_kh(errno);
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? KH_OK : khi_errno_to_kh(errno);
    DIR *d = opendir(path);
    if (!d)
        return khi_errno_to_kh(errno);
    struct dirent *de;
    kh_err e = KH_OK;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[4400];
        khi_snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        kh_err e2 = khi_rm_rf(p);
        if (e2 != KH_OK)
            e = e2;
    }
    closedir(d);
    if (rmdir(path) != 0 && e == KH_OK)
        e = khi_errno_to_kh(errno);
    return e;
}

static int parse_version(const char *s, uint64_t *out)
{
    return khi_parse_u64(s, strlen(s), out) == 0 && *out > 0 ? 0 : -1;
}

kh_err kh_db_state_get(const char *db_dir, kh_db_state *out)
{
    char link[4400], target[256];
    memset(out, 0, sizeof(*out));
    if (!db_dir)
        return KH_EINVAL;
    khi_snprintf(link, sizeof(link), "%s/current", db_dir);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n > 0) {
        target[n] = '\0';
        if (strncmp(target, "versions/", 9) == 0 && parse_version(target + 9, &out->version) == 0)
            khi_snprintf(out->path, sizeof(out->path), "%s/%s", db_dir, target);
    }
    char vdir[4400];
    khi_snprintf(vdir, sizeof(vdir), "%s/versions", db_dir);
    DIR *d = opendir(vdir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            uint64_t v;
            if (de->d_name[0] != '.' && parse_version(de->d_name, &v) == 0 && v != out->version &&
                v > out->previous)
                out->previous = v;
        }
        closedir(d);
    }
    return KH_OK;
}

/* Point DB/current at versions/V, atomically. */
static kh_err switch_current(const char *db_dir, uint64_t v)
{
    char tmp[4400], cur[4400], target[64];
    khi_snprintf(tmp, sizeof(tmp), "%s/.current.tmp", db_dir);
    khi_snprintf(cur, sizeof(cur), "%s/current", db_dir);
    khi_snprintf(target, sizeof(target), "versions/%llu", (unsigned long long)v);
    unlink(tmp);
    if (symlink(target, tmp) != 0)
        return khi_errno_to_kh(errno);
    if (rename(tmp, cur) != 0) {
        kh_err e = khi_errno_to_kh(errno);
        unlink(tmp);
        return e;
    }
    return khi_fsync_dir(db_dir);
}

/* Remove staging leftovers and every version but keep_a and keep_b. */
static void prune(const char *db_dir, uint64_t keep_a, uint64_t keep_b)
{
    char vdir[4400];
    khi_snprintf(vdir, sizeof(vdir), "%s/versions", db_dir);
    DIR *d = opendir(vdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t v = 0;
        int stale = strncmp(de->d_name, ".new-", 5) == 0;
        if (!stale && (de->d_name[0] == '.' || parse_version(de->d_name, &v) != 0 || v == keep_a ||
                       v == keep_b))
            continue;
        char p[4400];
        khi_snprintf(p, sizeof(p), "%s/%s", vdir, de->d_name);
        khi_rm_rf(p);
    }
    closedir(d);
}

static int lock_db(const char *db_dir, char *err, size_t err_len)
{
    char p[4400];
    khi_snprintf(p, sizeof(p), "%s/.lock", db_dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        khi_snprintf(err, err_len, "%s: %s", p, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        khi_snprintf(err, err_len, "%s: another update is running", db_dir);
        close(fd);
        return -1;
    }
    return fd;
}

kh_err kh_db_install(const char *db_dir, const char *pkg_path, const char *trust_dir,
                     kh_install_result *out, char *err, size_t err_len)
{
    kh_err e;
    kh_db_state st;
    khi_pkg_reader *r = NULL;
    khi_manifest m;
    json_t *delta = NULL;
    char vdir[4400], staging[4400], final[4400], p[4400];
    int lockfd = -1, staged = 0;
    memset(&m, 0, sizeof(m));
    if (!db_dir || !pkg_path)
        return KH_EINVAL;
    if (out)
        memset(out, 0, sizeof(*out));
    khi_snprintf(vdir, sizeof(vdir), "%s/versions", db_dir);
    if ((e = khi_mkdir_p(vdir, 0755)) != KH_OK) {
        khi_snprintf(err, err_len, "%s: %s", vdir, kh_strerror(e));
        return e;
    }
    if ((lockfd = lock_db(db_dir, err, err_len)) < 0)
        return KH_ESTATE;
    kh_db_state_get(db_dir, &st);
    prune(db_dir, st.version, st.previous); /* stale staging from an interrupted install */
    e = khi_pkg_open(pkg_path, trust_dir, NULL, &r, &m, &delta, err, err_len);
    if (e != KH_OK)
        goto out;
    if (m.version <= st.version) {
        khi_snprintf(err, err_len, "version %llu is not newer than the installed %llu (rollback)",
                     (unsigned long long)m.version, (unsigned long long)st.version);
        e = KH_ESTATE;
        goto out;
    }
    khi_snprintf(staging, sizeof(staging), "%s/.new-%llu-%ld", vdir, (unsigned long long)m.version,
                 (long)getpid());
    if (mkdir(staging, 0755) != 0) {
        e = khi_errno_to_kh(errno);
        khi_snprintf(err, err_len, "%s: %s", staging, strerror(errno));
        goto out;
    }
    staged = 1;
    if (delta)
        e = khi_delta_install(r, &m, delta, st.version ? st.path : NULL, st.version, staging, err, err_len);
    else
        e = khi_pkg_extract(r, &m, staging, err, err_len);
    if (e != KH_OK)
        goto out;
    khi_snprintf(p, sizeof(p), "%s/manifest.json", staging);
    if ((e = khi_file_write_atomic(p, m.raw, m.rawlen, 0644)) == KH_OK) {
        khi_snprintf(p, sizeof(p), "%s/manifest.sig", staging);
        e = khi_file_write_atomic(p, m.sig, strlen(m.sig), 0644);
    }
    if (e == KH_OK)
        e = khi_fsync_dir(staging);
    khi_snprintf(final, sizeof(final), "%s/%llu", vdir, (unsigned long long)m.version);
    if (e == KH_OK) {
        khi_rm_rf(final); /* left by an install that stopped before switching: never in use */
        if (rename(staging, final) != 0)
            e = khi_errno_to_kh(errno);
        else
            staged = 0;
    }
    if (e == KH_OK)
        e = khi_fsync_dir(vdir);
    if (e == KH_OK)
        e = switch_current(db_dir, m.version);
    if (e != KH_OK) {
        if (!err[0])
            khi_snprintf(err, err_len, "cannot install into %s: %s", db_dir, kh_strerror(e));
        goto out;
    }
    prune(db_dir, m.version, st.version);
    if (out) {
        out->from_version = st.version;
        out->to_version = m.version;
        out->kind = delta ? KH_INSTALL_DELTA : KH_INSTALL_FULL;
    }
out:
    if (staged)
        khi_rm_rf(staging);
    json_decref(delta);
    if (m.raw)
        khi_manifest_cleanup(&m);
    khi_pkg_close(r);
    if (lockfd >= 0)
        close(lockfd);
    return e;
}

kh_err kh_db_rollback(const char *db_dir, kh_install_result *out, char *err, size_t err_len)
{
    kh_db_state st;
    if (!db_dir)
        return KH_EINVAL;
    int lockfd = lock_db(db_dir, err, err_len);
    if (lockfd < 0)
        return KH_ESTATE;
    kh_db_state_get(db_dir, &st);
    kh_err e = KH_OK;
    if (!st.previous) {
        khi_snprintf(err, err_len, "%s: no other version is kept to roll back to", db_dir);
        e = KH_ESTATE;
    } else {
        e = switch_current(db_dir, st.previous);
        if (e != KH_OK)
            khi_snprintf(err, err_len, "%s: %s", db_dir, kh_strerror(e));
        else if (out) {
            out->from_version = st.version;
            out->to_version = st.previous;
            out->kind = KH_INSTALL_FULL;
        }
    }
    close(lockfd);
    return e;
}
