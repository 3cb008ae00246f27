/*
 * update_fetch.c - khien update and mirror sync over HTTP(S) (libcurl), with resume.
 *
 * A client reads each mirror's latest.json in turn. From the installed version it follows the
 * chain of deltas to the newest; when the chain is complete each delta is downloaded and
 * installed (and checked) in order, and whenever a delta is missing, does not apply or fails,
 * the full package is used instead. Downloads go to DB/downloads/NAME.part and resume from
 * where an interrupted one stopped (a server that ignores the range starts it over); a file
 * whose size or SHA-256 differs from the index is discarded. A mirror that fails, or goes away
 * mid-download, is left for the next one. Proxies come from the options or from libcurl's
 * usual environment variables; file:// URLs work too, for mirrors on removable media.
 */
#include "update/update_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kh_err khi_mirror_index(const char *dir, char *err, size_t err_len);

typedef struct sink {
    khi_buf *mem;
    size_t limit;
    int fd;
    int truncate_first; /* resuming: drop the partial file if the server sends it whole */
    CURL *c;
    int over;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->truncate_first) {
        long code = 0;
        curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200 && ftruncate(s->fd, 0) != 0)
            return 0;
        s->truncate_first = 0;
    }
    if (s->mem) {
        if (s->mem->len + len > s->limit) {
            s->over = 1;
            return 0;
        }
        return khi_buf_append(s->mem, p, len) == KH_OK ? len : 0;
    }
    return write(s->fd, p, len) == (ssize_t)len ? len : 0;
}

static CURL *new_handle(const kh_update_opts *o)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout > 0 ? o->connect_timeout : 20L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout > 0 ? o->stall_timeout : 60L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "khien-update/1");
    if (o->proxy)
        curl_easy_setopt(c, CURLOPT_PROXY, o->proxy);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    return c;
}

static kh_err perform(CURL *c, const char *url, sink *s, int resuming, char *err, size_t err_len)
{
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_RANGE_ERROR || code == 416)
        return resuming ? KH_EEXIST : KH_EIO; /* nothing left to fetch */
    if (rc != CURLE_OK) {
        khi_snprintf(err, err_len, "%s: %s", url, s->over ? "larger than expected" : cerr[0] ? cerr : curl_easy_strerror(rc));
        return KH_EIO;
    }
    if (code >= 400 || (code != 0 && code < 200)) {
        khi_snprintf(err, err_len, "%s: HTTP status %ld", url, code);
        return code == 404 ? KH_ENOENT : KH_EIO;
    }
    return KH_OK;
}

static kh_err get_json(CURL *c, const char *url, json_t **out, char *err, size_t err_len)
{
    khi_buf b;
    khi_buf_init(&b);
    sink s = {&b, 1u << 20, -1, 0, c, 0};
    curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)0);
    kh_err e = perform(c, url, &s, 0, err, err_len);
    if (e == KH_OK) {
        json_error_t je;
        *out = json_loadb(b.data ? b.data : "", b.len, 0, &je);
        if (!*out) {
            khi_snprintf(err, err_len, "%s: not a mirror index: %s", url, je.text);
            e = KH_EFORMAT;
        }
    }
    khi_buf_cleanup(&b);
    return e;
}

/* Download url to dir/name (via name.part, resuming), checking size and sha256 if given. */
static kh_err get_file(CURL *c, const char *url, const char *dir, const char *name, json_t *entry,
                       char *out_path, size_t out_len, char *err, size_t err_len)
{
    char part[4400];
    khi_snprintf(part, sizeof(part), "%s/%s.part", dir, name);
    khi_snprintf(out_path, out_len, "%s/%s", dir, name);
    int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        khi_snprintf(err, err_len, "%s: %s", part, strerror(errno));
        return khi_errno_to_kh(errno);
    }
    struct stat st;
    off_t have = fstat(fd, &st) == 0 ? st.st_size : 0;
    sink s = {NULL, 0, fd, have > 0, c, 0};
    curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
    kh_err e = perform(c, url, &s, have > 0, err, err_len);
    if (e == KH_EEXIST)
        e = KH_OK;
    if (fsync(fd) != 0 && e == KH_OK)
        e = KH_EIO;
    close(fd);
    if (e != KH_OK)
        return e; /* the .part stays for the next attempt */
    json_int_t want_size = json_integer_value(json_object_get(entry, "size"));
    const char *want_sha = json_string_value(json_object_get(entry, "sha256"));
    uint8_t h[32];
    char hex[65];
    uint64_t size = 0;
    e = khi_sha256_file(part, h, &size);
    khi_hex_encode(h, 32, hex);
    if (e == KH_OK && ((want_size > 0 && (uint64_t)want_size != size) || (want_sha && strcmp(want_sha, hex) != 0))) {
        khi_snprintf(err, err_len, "%s: downloaded %llu bytes that do not match the mirror index; discarded",
                     url, (unsigned long long)size);
        unlink(part);
        return KH_EFORMAT;
    }
    if (e == KH_OK && rename(part, out_path) != 0)
        e = khi_errno_to_kh(errno);
    return e;
}

static const char *entry_file(json_t *entry)
{
    const char *f = json_string_value(json_object_get(entry, "file"));
    /* a plain file name only: the index must not point elsewhere */
    return f && *f && !strchr(f, '/') && f[0] != '.' ? f : NULL;
}

static kh_err fetch_install(CURL *c, const char *mirror, json_t *entry, const kh_update_opts *o,
                            const char *dl, kh_install_result *res, char *err, size_t err_len)
{
    const char *f = entry_file(entry);
    char url[4400], path[4400];
    if (!f) {
        khi_snprintf(err, err_len, "%s: mirror index entry without a usable file name", mirror);
        return KH_EFORMAT;
    }
    khi_snprintf(url, sizeof(url), "%s/%s", mirror, f);
    kh_err e = get_file(c, url, dl, f, entry, path, sizeof(path), err, err_len);
    if (e == KH_OK) {
        e = kh_db_install(o->db_dir, path, o->trust_dir, res, err, err_len);
        unlink(path);
    }
    return e;
}

/* One mirror: KH_OK (updated or up to date), or why it could not be used. */
static kh_err from_mirror(CURL *c, const char *mirror, const kh_update_opts *o, const char *dl,
                          kh_update_result *out, char *err, size_t err_len)
{
    char url[4400];
    json_t *idx = NULL;
    kh_db_state st;
    khi_snprintf(url, sizeof(url), "%s/latest.json", mirror);
    kh_err e = get_json(c, url, &idx, err, err_len);
    if (e != KH_OK)
        return e;
    kh_db_state_get(o->db_dir, &st);
    json_int_t newest = json_integer_value(json_object_get(idx, "version"));
    json_t *deltas = json_object_get(idx, "deltas"), *full = json_object_get(idx, "full");
    if (newest <= 0 || !json_is_object(full)) {
        khi_snprintf(err, err_len, "%s: not a mirror index", url);
        json_decref(idx);
        return KH_EFORMAT;
    }
    if ((uint64_t)newest <= st.version) {
        out->up_to_date = 1;
        out->install.from_version = out->install.to_version = st.version;
        if ((uint64_t)newest < st.version)
            khi_snprintf(err, err_len, "%s offers version %lld, older than the installed %llu",
                         mirror, (long long)newest, (unsigned long long)st.version);
        json_decref(idx);
        return (uint64_t)newest == st.version ? KH_OK : KH_ESTATE;
    }
    uint64_t start = st.version;
    /* the chain of deltas from the installed version, if the mirror has all of it */
    uint64_t cur = st.version;
    size_t steps = 0;
    while (cur && cur < (uint64_t)newest && steps < 1000) {
        size_t i;
        json_t *d, *next = NULL;
        json_array_foreach(deltas, i, d)
        {
            if ((uint64_t)json_integer_value(json_object_get(d, "from")) == cur &&
                (uint64_t)json_integer_value(json_object_get(d, "to")) > cur)
                next = d;
        }
        if (!next)
            break;
        cur = (uint64_t)json_integer_value(json_object_get(next, "to"));
        steps++;
    }
    if (cur == (uint64_t)newest && steps) {
        for (cur = st.version; cur < (uint64_t)newest;) {
            size_t i;
            json_t *d, *next = NULL;
            json_array_foreach(deltas, i, d)
            {
                if ((uint64_t)json_integer_value(json_object_get(d, "from")) == cur)
                    next = d;
            }
            kh_install_result r;
            char why[512] = "";
            if (!next || fetch_install(c, mirror, next, o, dl, &r, why, sizeof(why)) != KH_OK) {
                out->fell_back = 1;
                khi_snprintf(err, err_len, "delta from %llu failed (%s); using the full package",
                             (unsigned long long)cur, why);
                break;
            }
            out->deltas++;
            cur = r.to_version;
        }
        if (cur == (uint64_t)newest) {
            out->install.from_version = start;
            out->install.to_version = cur;
            out->install.kind = KH_INSTALL_DELTA;
            json_decref(idx);
            return KH_OK;
        }
    } else if (st.version) {
        out->fell_back = 1;
    }
    kh_install_result r;
    e = fetch_install(c, mirror, full, o, dl, &r, err, err_len);
    if (e == KH_OK) {
        out->install = r;
        out->install.from_version = start;
    }
    json_decref(idx);
    return e;
}

kh_err kh_update_run(const kh_update_opts *o, kh_update_result *out, char *err, size_t err_len)
{
    char dl[4400];
    kh_err e = KH_EINVAL;
    if (!o || !o->db_dir || !o->nmirrors || !out)
        return KH_EINVAL;
    memset(out, 0, sizeof(*out));
    khi_snprintf(dl, sizeof(dl), "%s/downloads", o->db_dir);
    if ((e = khi_mkdir_p(dl, 0755)) != KH_OK) {
        khi_snprintf(err, err_len, "%s: %s", dl, kh_strerror(e));
        return e;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return KH_ENOMEM;
    CURL *c = new_handle(o);
    if (!c)
        return KH_ENOMEM;
    khi_buf reasons;
    khi_buf_init(&reasons);
    for (size_t i = 0; i < o->nmirrors; i++) {
        char why[1024] = "";
        khi_snprintf(out->mirror, sizeof(out->mirror), "%s", o->mirrors[i]);
        e = from_mirror(c, o->mirrors[i], o, dl, out, why, sizeof(why));
        if (e == KH_OK) {
            if (why[0])
                khi_snprintf(err, err_len, "%s", why);
            break;
        }
        khi_buf_printf(&reasons, "%s%s", reasons.len ? "; " : "", why);
        /* a refusal of what a mirror offers (signature, rollback) is final for that file, but
         * another mirror may have a good copy: go on */
    }
    if (e != KH_OK)
        khi_snprintf(err, err_len, "%s", reasons.data ? reasons.data : "no mirror could be used");
    khi_buf_cleanup(&reasons);
    curl_easy_cleanup(c);
    return e;
}

kh_err kh_mirror_sync(const char *upstream, const char *dir, const kh_update_opts *o, char *err,
                      size_t err_len)
{
    char url[4400], path[4400];
    json_t *idx = NULL;
    kh_err e = khi_mkdir_p(dir, 0755);
    if (e != KH_OK)
        return e;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return KH_ENOMEM;
    CURL *c = new_handle(o);
    if (!c)
        return KH_ENOMEM;
    khi_snprintf(url, sizeof(url), "%s/latest.json", upstream);
    e = get_json(c, url, &idx, err, err_len);
    json_t *list = json_array();
    if (e == KH_OK) {
        json_array_append(list, json_object_get(idx, "full"));
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(idx, "deltas"), i, d) json_array_append(list, d);
    }
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry)
    {
        if (e != KH_OK)
            break;
        const char *f = entry_file(entry);
        if (!f) {
            khi_snprintf(err, err_len, "%s: index entry without a usable file name", url);
            e = KH_EFORMAT;
            break;
        }
        khi_snprintf(path, sizeof(path), "%s/%s", dir, f);
        uint8_t h[32];
        char hex[65];
        const char *want = json_string_value(json_object_get(entry, "sha256"));
        if (khi_sha256_file(path, h, NULL) == KH_OK) {
            khi_hex_encode(h, 32, hex);
            if (want && strcmp(want, hex) == 0)
                continue; /* have it */
        }
        char furl[4400], got[4400], why[512] = "";
        khi_snprintf(furl, sizeof(furl), "%s/%s", upstream, f);
        char tmpdir[4400];
        khi_snprintf(tmpdir, sizeof(tmpdir), "%s/.incoming", dir);
        khi_mkdir_p(tmpdir, 0755);
        e = get_file(c, furl, tmpdir, f, entry, got, sizeof(got), err, err_len);
        if (e == KH_OK && (e = kh_pkg_verify(got, o ? o->trust_dir : NULL, NULL, why, sizeof(why))) != KH_OK) {
            khi_snprintf(err, err_len, "%s: refused: %s", furl, why);
            unlink(got);
        }
        if (e == KH_OK && rename(got, path) != 0)
            e = khi_errno_to_kh(errno);
    }
    if (e == KH_OK)
        e = khi_mirror_index(dir, err, err_len);
    json_decref(list);
    json_decref(idx);
    curl_easy_cleanup(c);
    return e;
}
