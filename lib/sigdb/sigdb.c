/*
 * sigdb.c - loading signature databases: files, directories, and the line loop.
 *
 * A database directory is read in name order so that the same directory always gives the same
 * signature set (and so the same compiled-cache key). Each file's extension picks its line
 * parser; a line that does not parse is reported with file and line number and skipped, and
 * the rest of the file and directory go on loading. Files of ClamAV formats that this version
 * does not read yet are reported as skipped rather than silently ignored.
 */
#include "sigdb/sigdb.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Largest database file accepted (ClamAV's daily.cvd unpacked is ~400 MB of text in all). */
#define MAX_DB_FILE (1024u * 1024u * 1024u)

typedef enum db_format {
    FMT_NONE = 0,
    FMT_HDB,  /* hash:size:name, size required */
    FMT_HSB,  /* hash:size:name, size may be '*' */
    FMT_FP,   /* allow-list in .hdb form */
    FMT_SFP,  /* allow-list in .hsb form */
    FMT_NDB,
    FMT_LDB,
    FMT_MDB,  /* PE section hashes: size:hash:name (.mdb MD5, .msb SHA-1/SHA-256) */
    FMT_IGN2,
    FMT_YARA,  /* YARA source */
    FMT_YARC,  /* compiled YARA rules */
    FMT_CVD,   /* ClamAV container: .cvd .cld .cud */
    FMT_LATER /* a ClamAV format this version does not read yet */
} db_format;

static const struct {
    const char *ext;
    db_format fmt;
} formats[] = {
    {".hdb", FMT_HDB}, {".hdu", FMT_HDB}, {".hsb", FMT_HSB}, {".hsu", FMT_HSB},
    {".fp", FMT_FP},   {".sfp", FMT_SFP}, {".ndb", FMT_NDB}, {".ndu", FMT_NDB},
    {".ign2", FMT_IGN2}, {".ign", FMT_IGN2},
    {".ldb", FMT_LDB}, {".ldu", FMT_LDB}, {".mdb", FMT_MDB}, {".mdu", FMT_MDB},
    {".msb", FMT_MDB}, {".msu", FMT_MDB}, {".cdb", FMT_LATER}, {".cvd", FMT_CVD},
    {".cld", FMT_CVD}, {".cud", FMT_CVD}, {".yar", FMT_YARA}, {".yara", FMT_YARA},
    {".yarc", FMT_YARC}, {".pdb", FMT_LATER}, {".wdb", FMT_LATER}, {".idb", FMT_LATER},
    {".cbc", FMT_LATER}, {".crb", FMT_LATER}, {".ftm", FMT_LATER},
};

static db_format format_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return FMT_NONE;
    for (size_t i = 0; i < KHI_ARRAY_LEN(formats); i++)
        if (strcasecmp(dot, formats[i].ext) == 0)
            return formats[i].fmt;
    return FMT_NONE;
}

void khi_sigdb_init(khi_sigdb *db, kh_diag_fn diag, void *ud)
{
    memset(db, 0, sizeof(*db));
    khi_pool_init(&db->names);
    khi_pool_init(&db->patterns);
    db->diag = diag;
    db->diag_ud = ud;
}

void khi_sigdb_cleanup(khi_sigdb *db)
{
    khi_pool_cleanup(&db->names);
    khi_pool_cleanup(&db->patterns);
    khi_free(db->hashes);
    khi_free(db->sects);
    khi_free(db->bodies);
    khi_free(db->ignores);
    for (size_t i = 0; i < db->nyara; i++) {
        khi_free(db->yara[i].name);
        khi_free(db->yara[i].data);
    }
    khi_free(db->yara);
    khi_free(db->ldbs);
    khi_free(db->trust_dir);
    memset(db, 0, sizeof(*db));
}

kh_err khi_sigdb_add_body(khi_sigdb *db, const khi_bodysig *b)
{
    if (db->nbodies == db->capbodies) {
        size_t ncap = db->capbodies ? db->capbodies * 2 : 1024;
        khi_bodysig *nb = khi_reallocarray(db->bodies, ncap, sizeof(*nb));
        if (!nb)
            return KH_ENOMEM;
        db->bodies = nb;
        db->capbodies = ncap;
    }
    db->bodies[db->nbodies++] = *b;
    return KH_OK;
}

void khi_sigdb_diag(khi_sigdb *db, kh_diag_level level, const char *file, unsigned line,
                    const char *fmt, ...)
{
    if (level == KH_DIAG_ERROR)
        db->rejected++;
    else if (level == KH_DIAG_SKIP)
        db->skipped++;
    if (!db->diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    db->diag(db->diag_ud, level, file, line, msg);
}

kh_err khi_sigdb_load_mem(khi_sigdb *db, const char *name, const char *data, size_t len)
{
    db_format fmt = format_of(name);
    if (fmt == FMT_NONE)
        return KH_EFORMAT;
    db->files++;
    if (fmt == FMT_LATER) {
        db->files--;
        if (db->diag)
            db->diag(db->diag_ud, KH_DIAG_SKIP, name, 0,
                     "this database format is not supported yet; file skipped");
        db->skipped++;
        return KH_OK;
    }
    if (fmt == FMT_YARA || fmt == FMT_YARC)
        return khi_yara_load(db, name, data, len, fmt == FMT_YARC);
    if (fmt == FMT_CVD) {
        db->files--; /* its members count as files */
        return khi_cvd_load(db, name, data, len);
    }
    unsigned lineno = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!eol)
            eol = end;
        size_t n = (size_t)(eol - p);
        lineno++;
        if (n && p[n - 1] == '\r')
            n--;
        /* blank lines and '#' comments are not signatures */
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i == n || p[i] == '#') {
            p = next;
            continue;
        }
        kh_err err = KH_OK;
        switch (fmt) {
        case FMT_HDB:
            err = khi_hdb_parse_line(db, name, lineno, p, n, 0, 0);
            break;
        case FMT_HSB:
            err = khi_hdb_parse_line(db, name, lineno, p, n, 1, 0);
            break;
        case FMT_FP:
            err = khi_hdb_parse_line(db, name, lineno, p, n, 0, 1);
            break;
        case FMT_SFP:
            err = khi_hdb_parse_line(db, name, lineno, p, n, 1, 1);
            break;
        case FMT_NDB:
            err = khi_ndb_parse_line(db, name, lineno, p, n);
            break;
        case FMT_LDB:
            err = khi_ldb_parse_line(db, name, lineno, p, n);
            break;
        case FMT_MDB:
            err = khi_mdb_parse_line(db, name, lineno, p, n);
            break;
        case FMT_IGN2:
            err = khi_ign_parse_line(db, name, lineno, p, n);
            break;
        default:
            break;
        }
        if (err == KH_ENOMEM)
            return err;
        p = next;
    }
    return KH_OK;
}

static kh_err load_file(khi_sigdb *db, const char *path, int named_directly)
{
    if (format_of(path) == FMT_NONE) {
        if (named_directly) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, path, 0,
                           "unknown database format (expected .hdb .hsb .mdb .msb .ndb .ldb .fp .sfp .ign2 .yar .yara .yarc .cvd .cld .cud)");
            return KH_EFORMAT;
        }
        return KH_OK;
    }
    char *data = NULL;
    size_t len = 0;
    char errbuf[256];
    kh_err err = khi_file_read_all(path, MAX_DB_FILE, &data, &len, errbuf, sizeof(errbuf));
    if (err != KH_OK) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, path, 0, "cannot read: %s", errbuf);
        return err;
    }
    err = khi_sigdb_load_mem(db, path, data, len);
    khi_free(data);
    return err;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static kh_err load_dir(khi_sigdb *db, const char *path)
{
    kh_err err = KH_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        khi_sigdb_diag(db, KH_DIAG_ERROR, path, 0, "cannot open directory: %s", strerror(e));
        return khi_errno_to_kh(e);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || format_of(de->d_name) == FMT_NONE)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = khi_reallocarray(names, ncap, sizeof(*names));
            if (!nn) {
                err = KH_ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = khi_strdup(de->d_name);
        if (!names[n]) {
            err = KH_ENOMEM;
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        khi_buf full;
        khi_buf_init(&full);
        if (khi_buf_printf(&full, "%s/%s", path, names[i]) != KH_OK) {
            err = KH_ENOMEM;
            goto out;
        }
        struct stat st;
        kh_err e2 = KH_OK;
        if (stat(full.data, &st) == 0 && S_ISREG(st.st_mode))
            e2 = load_file(db, full.data, 0);
        khi_buf_cleanup(&full);
        if (e2 == KH_ENOMEM) {
            err = e2;
            goto out;
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        khi_free(names[i]);
    khi_free(names);
    closedir(d);
    return err;
}

kh_err khi_sigdb_load_path(khi_sigdb *db, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        khi_sigdb_diag(db, KH_DIAG_ERROR, path, 0, "cannot open: %s", strerror(e));
        return khi_errno_to_kh(e);
    }
    if (S_ISDIR(st.st_mode))
        return load_dir(db, path);
    return load_file(db, path, 1);
}
