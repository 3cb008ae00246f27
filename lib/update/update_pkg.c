/*
 * update_pkg.c - package manifests, signing, writing and reading packages.
 *
 * The manifest is the only thing signed: it names every file with its size and SHA-256, so one
 * Ed25519 signature over its exact bytes covers the whole package, and a member whose bytes do
 * not hash to what the manifest says is caught while it is read. manifest.json and
 * manifest.sig are the first two members, so a package is checked before a single signature
 * file is written anywhere; a member the manifest does not name, a duplicate, a short member
 * or a missing one all refuse the package.
 */
#include "update/update_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const db_exts[] = {".hdb", ".hsb", ".ndb", ".ldb", ".fp",  ".sfp", ".ign2",
                                      ".yar", ".yara", ".hdu", ".hsu", ".ndu", ".ldu", ".ign"};

int khi_pkg_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.' || strchr(name, '/') || strchr(name, '\\'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return 0;
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < KHI_ARRAY_LEN(db_exts); i++)
        if (strcmp(dot, db_exts[i]) == 0)
            return 1;
    return 0;
}

void khi_manifest_cleanup(khi_manifest *m)
{
    json_decref(m->j);
    khi_free(m->raw);
    khi_free(m->files);
    memset(m, 0, sizeof(*m));
}

const khi_mfile *khi_manifest_find(const khi_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->nfiles; i++)
        if (m->files[i].name && strcmp(m->files[i].name, name) == 0)
            return &m->files[i];
    return NULL;
}

void khi_manifest_digest(const khi_manifest *m, char out[65])
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)m->raw, m->rawlen);
    khi_hex_encode(h, 32, out);
}

kh_err khi_manifest_verify(const char *raw, size_t rawlen, const char *sig_hex, size_t sig_len,
                           const char *trust_dir, const uint8_t *pk_only, khi_manifest *out,
                           char *err, size_t err_len)
{
    json_error_t je;
    memset(out, 0, sizeof(*out));
    if (khi_init_sodium() != KH_OK)
        return KH_ECRYPTO;
    out->raw = khi_strndup(raw, rawlen);
    if (!out->raw)
        return KH_ENOMEM;
    out->rawlen = rawlen;
    out->j = json_loadb(raw, rawlen, 0, &je);
    const char *format = NULL;
    json_int_t version = 0;
    json_t *files = NULL;
    if (!out->j || json_unpack(out->j, "{s:s, s:I, s:s, s:s, s:o}", "format", &format, "version",
                               &version, "publisher", &out->publisher, "key_id", &out->key_id,
                               "files", &files) != 0 ||
        strcmp(format, KHI_PKG_FORMAT) != 0 || version < 1 || !json_is_array(files) ||
        json_array_size(files) > KHI_MAX_FILES || strlen(out->key_id) != 16) {
        khi_snprintf(err, err_len, "manifest is malformed%s%s", je.text[0] && !out->j ? ": " : "",
                     !out->j ? je.text : "");
        khi_manifest_cleanup(out);
        return KH_EFORMAT;
    }
    out->version = (uint64_t)version;
    out->nfiles = json_array_size(files);
    out->files = khi_calloc(out->nfiles ? out->nfiles : 1, sizeof(*out->files));
    if (!out->files) {
        khi_manifest_cleanup(out);
        return KH_ENOMEM;
    }
    for (size_t i = 0; i < out->nfiles; i++) {
        const char *name = NULL, *sha = NULL;
        json_int_t size = -1;
        if (json_unpack(json_array_get(files, i), "{s:s, s:I, s:s}", "name", &name, "size", &size,
                        "sha256", &sha) != 0 ||
            !khi_pkg_name_ok(name) || size < 0 || (uint64_t)size > KHI_MAX_PKG_FILE ||
            strlen(sha) != 64 || khi_hex_decode(sha, 32, out->files[i].sha256) != 0 ||
            khi_manifest_find(out, name)) {
            khi_snprintf(err, err_len, "manifest entry %zu is malformed or repeated", i);
            khi_manifest_cleanup(out);
            return KH_EFORMAT;
        }
        out->files[i].name = name;
        out->files[i].size = (uint64_t)size;
    }
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    char kname[64], own_id[17] = "";
    if (pk_only) {
        memcpy(pk, pk_only, sizeof(pk));
        khi_key_id(pk, own_id);
    }
    if (pk_only ? strcmp(own_id, out->key_id) != 0
                : khi_trust_find(trust_dir, out->key_id, pk, kname) != KH_OK) {
        khi_snprintf(err, err_len,
                     "signed by key %s (publisher '%s'), which is not in the trust directory %s",
                     out->key_id, out->publisher, trust_dir ? trust_dir : "(none given)");
        khi_manifest_cleanup(out);
        return KH_ECRYPTO;
    }
    while (sig_len && (sig_hex[sig_len - 1] == '\n' || sig_hex[sig_len - 1] == '\r'))
        sig_len--;
    if (sig_len != 2 * crypto_sign_BYTES || khi_hex_decode(sig_hex, crypto_sign_BYTES, sig) != 0 ||
        crypto_sign_verify_detached(sig, (const uint8_t *)raw, rawlen, pk) != 0) {
        khi_snprintf(err, err_len,
                     "signature does not verify with key %s: the manifest was altered or forged",
                     out->key_id);
        khi_manifest_cleanup(out);
        return KH_ECRYPTO;
    }
    memcpy(out->sig, sig_hex, sig_len);
    out->sig[sig_len] = '\0';
    return KH_OK;
}

kh_err khi_sha256_file(const char *path, uint8_t out[32], uint64_t *out_size)
{
    crypto_hash_sha256_state st;
    uint8_t buf[65536];
    uint64_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return khi_errno_to_kh(errno);
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return KH_EIO;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    crypto_hash_sha256_final(&st, out);
    if (out_size)
        *out_size = total;
    return KH_OK;
}

kh_err khi_manifest_build(const char *const *names, const char *const *paths, size_t n,
                          uint64_t version, const khi_seckey *key, khi_buf *out_raw,
                          char out_sig[2 * crypto_sign_BYTES + 1], char *err, size_t err_len)
{
    kh_err e = KH_OK;
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *files = json_array();
    json_t *m = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}", "format", KHI_PKG_FORMAT, "version",
                          (json_int_t)version, "created", created, "publisher", key->name,
                          "key_id", key->key_id, "files", files);
    char *text = NULL;
    if (!m) {
        json_decref(files);
        return KH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t h[32];
        char hex[65];
        uint64_t size = 0;
        e = khi_sha256_file(paths[i], h, &size);
        if (e != KH_OK) {
            khi_snprintf(err, err_len, "%s: %s", paths[i], kh_strerror(e));
            goto out;
        }
        khi_hex_encode(h, 32, hex);
        json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "name", names[i], "size",
                                               (json_int_t)size, "sha256", hex));
    }
    text = json_dumps(m, JSON_SORT_KEYS | JSON_INDENT(1));
    if (!text) {
        e = KH_ENOMEM;
        goto out;
    }
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const uint8_t *)text, strlen(text), key->sk);
    khi_hex_encode(sig, sizeof(sig), out_sig);
    e = khi_buf_puts(out_raw, text);
out:
    free(text);
    json_decref(m);
    return e;
}

/* ---- writing ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

kh_err khi_pkg_add_member(struct archive *a, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return KH_ENOMEM;
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0);
    kh_err err = KH_OK;
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        (len && archive_write_data(a, data, len) != (la_ssize_t)len))
        err = KH_EIO;
    archive_entry_free(e);
    return err;
}

static kh_err add_file_member(struct archive *a, const char *name, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    kh_err err = khi_file_read_all(path, KHI_MAX_PKG_FILE, &data, &len, NULL, 0);
    if (err == KH_OK)
        err = khi_pkg_add_member(a, name, data, len);
    khi_free(data);
    return err;
}

/* Open a tar.gz for writing at path.tmp; finish with writer_close. */
struct archive *khi_pkg_writer_open(const char *tmp)
{
    struct archive *a = archive_write_new();
    if (!a)
        return NULL;
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    if (archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
        archive_write_free(a);
        return NULL;
    }
    return a;
}

kh_err khi_pkg_writer_close(struct archive *a, const char *tmp, const char *path, kh_err err)
{
    if (archive_write_close(a) != ARCHIVE_OK && err == KH_OK)
        err = KH_EIO;
    archive_write_free(a);
    if (err == KH_OK && rename(tmp, path) != 0)
        err = khi_errno_to_kh(errno);
    if (err != KH_OK)
        unlink(tmp);
    return err;
}

kh_err kh_pkg_pack(const char *src_dir, uint64_t version, const char *key_path,
                   const char *out_path, char *errbuf, size_t errbuf_len)
{
    kh_err err = KH_OK;
    khi_seckey key;
    char **names = NULL, **paths = NULL, tmp[4200], sig[2 * crypto_sign_BYTES + 1];
    size_t n = 0;
    khi_buf raw;
    khi_buf_init(&raw);
    struct archive *a = NULL;
    if (!src_dir || !key_path || !out_path || version < 1)
        return KH_EINVAL;
    if (khi_init_sodium() != KH_OK)
        return KH_ECRYPTO;
    err = khi_seckey_load(key_path, &key, errbuf, errbuf_len);
    if (err != KH_OK)
        return err;
    DIR *d = opendir(src_dir);
    if (!d) {
        err = khi_errno_to_kh(errno);
        khi_snprintf(errbuf, errbuf_len, "%s: %s", src_dir, strerror(errno));
        goto out;
    }
    names = khi_calloc(KHI_MAX_FILES, sizeof(*names));
    paths = khi_calloc(KHI_MAX_FILES, sizeof(*paths));
    struct dirent *de;
    while (names && paths && (de = readdir(d)) != NULL && n < KHI_MAX_FILES) {
        char p[4200];
        struct stat st;
        khi_snprintf(p, sizeof(p), "%s/%s", src_dir, de->d_name);
        if (!khi_pkg_name_ok(de->d_name) || stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        names[n] = khi_strdup(de->d_name);
        if (!names[n])
            break;
        n++;
    }
    closedir(d);
    if (!names || !paths || (n && !names[n - 1])) {
        err = KH_ENOMEM;
        goto out;
    }
    if (n == 0) {
        khi_snprintf(errbuf, errbuf_len, "%s holds no signature files", src_dir);
        err = KH_ENOSIGS;
        goto out;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        khi_buf p;
        khi_buf_init(&p);
        if (khi_buf_printf(&p, "%s/%s", src_dir, names[i]) != KH_OK) {
            err = KH_ENOMEM;
            goto out;
        }
        paths[i] = p.data;
    }
    err = khi_manifest_build((const char *const *)names, (const char *const *)paths, n, version,
                             &key, &raw, sig, errbuf, errbuf_len);
    if (err != KH_OK)
        goto out;
    khi_snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    a = khi_pkg_writer_open(tmp);
    if (!a) {
        khi_snprintf(errbuf, errbuf_len, "%s: cannot write", tmp);
        err = KH_EIO;
        goto out;
    }
    err = khi_pkg_add_member(a, "manifest.json", raw.data, raw.len);
    if (err == KH_OK)
        err = khi_pkg_add_member(a, "manifest.sig", sig, strlen(sig));
    for (size_t i = 0; i < n && err == KH_OK; i++)
        err = add_file_member(a, names[i], paths[i]);
    err = khi_pkg_writer_close(a, tmp, out_path, err);
    if (err != KH_OK)
        khi_snprintf(errbuf, errbuf_len, "%s: %s", out_path, kh_strerror(err));
out:
    for (size_t i = 0; names && i < n; i++)
        khi_free(names[i]);
    for (size_t i = 0; paths && i < n; i++)
        khi_free(paths[i]);
    khi_free(names);
    khi_free(paths);
    khi_buf_cleanup(&raw);
    sodium_memzero(&key, sizeof(key));
    return err;
}

/* ---- reading ---- */

struct khi_pkg_reader {
    struct archive *a;
    struct archive_entry *e;
    int pending; /* e is a member not yet handed out */
};

void khi_pkg_close(khi_pkg_reader *r)
{
    if (!r)
        return;
    if (r->a)
        archive_read_free(r->a);
    khi_free(r);
}

static kh_err read_member(khi_pkg_reader *r, size_t limit, khi_buf *out, char *err, size_t err_len)
{
    char chunk[65536];
    la_ssize_t n;
    while ((n = archive_read_data(r->a, chunk, sizeof(chunk))) > 0) {
        if (out->len + (size_t)n > limit) {
            khi_snprintf(err, err_len, "%s is larger than %zu bytes", archive_entry_pathname(r->e), limit);
            return KH_EFORMAT;
        }
        if (khi_buf_append(out, chunk, (size_t)n) != KH_OK)
            return KH_ENOMEM;
    }
    if (n < 0) {
        khi_snprintf(err, err_len, "truncated or damaged: %s", archive_error_string(r->a));
        return KH_EFORMAT;
    }
    if (!out->data && khi_buf_append(out, "", 0) != KH_OK)
        return KH_ENOMEM;
    return KH_OK;
}

static kh_err next_header(khi_pkg_reader *r, const char *want, char *err, size_t err_len)
{
    int rc = archive_read_next_header(r->a, &r->e);
    if (rc == ARCHIVE_EOF) {
        khi_snprintf(err, err_len, "truncated: %s missing", want);
        return KH_EFORMAT;
    }
    if (rc != ARCHIVE_OK) {
        khi_snprintf(err, err_len, "not a package, or damaged: %s",
                     archive_error_string(r->a) ? archive_error_string(r->a) : "unreadable");
        return KH_EFORMAT;
    }
    const char *name = archive_entry_pathname(r->e);
    if (want && (!name || strcmp(name, want) != 0)) {
        khi_snprintf(err, err_len, "not a package: member '%s' where %s was expected",
                     name ? name : "?", want);
        return KH_EFORMAT;
    }
    return KH_OK;
}

kh_err khi_pkg_open(const char *path, const char *trust_dir, const uint8_t *pk,
                    khi_pkg_reader **out, khi_manifest *out_manifest, json_t **out_delta,
                    char *err, size_t err_len)
{
    kh_err e = KH_OK;
    khi_buf raw, sig, delta;
    khi_buf_init(&raw);
    khi_buf_init(&sig);
    khi_buf_init(&delta);
    *out_delta = NULL;
    khi_pkg_reader *r = khi_calloc(1, sizeof(*r));
    if (!r || !(r->a = archive_read_new())) {
        khi_free(r);
        return KH_ENOMEM;
    }
    archive_read_support_filter_gzip(r->a);
    archive_read_support_format_tar(r->a);
    if (archive_read_open_filename(r->a, path, 65536) != ARCHIVE_OK) {
        khi_snprintf(err, err_len, "%s: not a package: %s", path,
                     archive_error_string(r->a) ? archive_error_string(r->a) : "cannot open");
        e = access(path, R_OK) == 0 ? KH_EFORMAT : KH_ENOENT;
        goto out;
    }
    if ((e = next_header(r, "manifest.json", err, err_len)) != KH_OK ||
        (e = read_member(r, KHI_MAX_MANIFEST, &raw, err, err_len)) != KH_OK ||
        (e = next_header(r, "manifest.sig", err, err_len)) != KH_OK ||
        (e = read_member(r, 1024, &sig, err, err_len)) != KH_OK)
        goto out;
    e = khi_manifest_verify(raw.data, raw.len, sig.data, sig.len, trust_dir, pk, out_manifest, err,
                            err_len);
    if (e != KH_OK)
        goto out;
    int rc = archive_read_next_header(r->a, &r->e);
    if (rc == ARCHIVE_OK && strcmp(archive_entry_pathname(r->e), "delta.json") == 0) {
        json_error_t je;
        if ((e = read_member(r, KHI_MAX_MANIFEST, &delta, err, err_len)) != KH_OK)
            goto out;
        *out_delta = json_loadb(delta.data, delta.len, 0, &je);
        if (!*out_delta) {
            khi_snprintf(err, err_len, "delta.json is malformed: %s", je.text);
            e = KH_EFORMAT;
            goto out;
        }
    } else if (rc == ARCHIVE_OK) {
        r->pending = 1;
    } else if (rc != ARCHIVE_EOF) {
        khi_snprintf(err, err_len, "truncated or damaged: %s", archive_error_string(r->a));
        e = KH_EFORMAT;
        goto out;
    }
    *out = r;
    r = NULL;
out:
    if (e != KH_OK) {
        if (out_manifest->raw)
            khi_manifest_cleanup(out_manifest);
        json_decref(*out_delta);
        *out_delta = NULL;
    }
    khi_pkg_close(r);
    khi_buf_cleanup(&raw);
    khi_buf_cleanup(&sig);
    khi_buf_cleanup(&delta);
    return e;
}

kh_err khi_pkg_next(khi_pkg_reader *r, const char **out_name, int *out_end, char *err,
                    size_t err_len)
{
    *out_end = 0;
    if (r->pending) {
        r->pending = 0;
    } else {
        int rc = archive_read_next_header(r->a, &r->e);
        if (rc == ARCHIVE_EOF) {
            *out_end = 1;
            *out_name = NULL;
            return KH_OK;
        }
        if (rc != ARCHIVE_OK) {
            khi_snprintf(err, err_len, "truncated or damaged: %s",
                         archive_error_string(r->a) ? archive_error_string(r->a) : "unreadable");
            return KH_EFORMAT;
        }
    }
    *out_name = archive_entry_pathname(r->e);
    if (!*out_name || archive_entry_filetype(r->e) != AE_IFREG) {
        khi_snprintf(err, err_len, "package member of an unexpected kind");
        return KH_EFORMAT;
    }
    return KH_OK;
}

long khi_pkg_read(khi_pkg_reader *r, void *buf, size_t len)
{
    la_ssize_t n = archive_read_data(r->a, buf, len);
    return n < 0 ? -1 : (long)n;
}

/* Stream the current member: hash it (and write it to fd when fd >= 0), compare with f. */
static kh_err check_member(khi_pkg_reader *r, const khi_mfile *f, int fd, char *err, size_t err_len)
{
    crypto_hash_sha256_state st;
    uint8_t buf[65536], h[32];
    uint64_t total = 0;
    long n;
    crypto_hash_sha256_init(&st);
    while ((n = khi_pkg_read(r, buf, sizeof(buf))) > 0) {
        total += (uint64_t)n;
        if (total > f->size) {
            khi_snprintf(err, err_len, "%s is longer than the manifest says: tampered", f->name);
            return KH_EFORMAT;
        }
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        if (fd >= 0 && write(fd, buf, (size_t)n) != n) {
            khi_snprintf(err, err_len, "%s: write error", f->name);
            return KH_EIO;
        }
    }
    if (n < 0) {
        khi_snprintf(err, err_len, "truncated or damaged while reading %s", f->name);
        return KH_EFORMAT;
    }
    crypto_hash_sha256_final(&st, h);
    if (total != f->size || memcmp(h, f->sha256, 32) != 0) {
        khi_snprintf(err, err_len, "%s does not match its manifest entry: %s", f->name,
                     total != f->size ? "truncated" : "tampered");
        return KH_EFORMAT;
    }
    return KH_OK;
}

/* Read every member of a full package, checking it against the manifest; write them into dir
 * when dir is not NULL. Every manifest file must appear exactly once. */
kh_err khi_pkg_extract(khi_pkg_reader *r, const khi_manifest *m, const char *dir, char *err,
                       size_t err_len)
{
    uint8_t *seen = khi_calloc(m->nfiles ? m->nfiles : 1, 1);
    kh_err e = KH_OK;
    if (!seen)
        return KH_ENOMEM;
    for (;;) {
        const char *name;
        int end;
        if ((e = khi_pkg_next(r, &name, &end, err, err_len)) != KH_OK || end)
            break;
        const khi_mfile *f = khi_manifest_find(m, name);
        if (!f) {
            khi_snprintf(err, err_len, "member '%s' is not in the manifest: tampered", name);
            e = KH_EFORMAT;
            break;
        }
        size_t idx = (size_t)(f - m->files);
        if (seen[idx]++) {
            khi_snprintf(err, err_len, "member '%s' appears twice: tampered", name);
            e = KH_EFORMAT;
            break;
        }
        int fd = -1;
        if (dir) {
            char p[4400];
            khi_snprintf(p, sizeof(p), "%s/%s", dir, f->name);
            fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0) {
                khi_snprintf(err, err_len, "%s: %s", p, strerror(errno));
                e = KH_EIO;
                break;
            }
        }
        e = check_member(r, f, fd, err, err_len);
        if (fd >= 0) {
            if (e == KH_OK && fsync(fd) != 0)
                e = KH_EIO;
            close(fd);
        }
        if (e != KH_OK)
            break;
    }
    for (size_t i = 0; e == KH_OK && i < m->nfiles; i++)
        if (!seen[i]) {
            khi_snprintf(err, err_len, "truncated: %s missing", m->files[i].name);
            e = KH_EFORMAT;
        }
    khi_free(seen);
    return e;
}

kh_err kh_pkg_verify(const char *path, const char *trust_dir, kh_pkg_info *out, char *errbuf,
                     size_t errbuf_len)
{
    khi_pkg_reader *r = NULL;
    khi_manifest m;
    json_t *delta = NULL;
    memset(&m, 0, sizeof(m));
    if (!path)
        return KH_EINVAL;
    kh_err e = khi_pkg_open(path, trust_dir, NULL, &r, &m, &delta, errbuf, errbuf_len);
    if (e != KH_OK)
        return e;
    if (out) {
        memset(out, 0, sizeof(*out));
        out->version = m.version;
        out->files = (uint32_t)m.nfiles;
        khi_snprintf(out->publisher, sizeof(out->publisher), "%s", m.publisher);
        khi_snprintf(out->key_id, sizeof(out->key_id), "%s", m.key_id);
    }
    if (delta) {
        e = khi_delta_check(r, &m, delta, errbuf, errbuf_len);
        if (out) {
            out->is_delta = 1;
            out->from_version = (uint64_t)json_integer_value(json_object_get(delta, "from_version"));
        }
    } else {
        e = khi_pkg_extract(r, &m, NULL, errbuf, errbuf_len);
    }
    json_decref(delta);
    khi_manifest_cleanup(&m);
    khi_pkg_close(r);
    return e;
}
