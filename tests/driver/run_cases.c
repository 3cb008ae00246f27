/*
 * run_cases.c - the one driver of the data-driven tests (docs/tests/CASEFORMAT.md).
 *
 * For each .case file given: write its databases to a temporary directory, load and compile
 * them through the public API, build the input (hex, text, or a real archive written with
 * libarchive), scan it, and check every expectation. Prints "ok"/"FAIL" per case and a last
 * line "N passed, N failed"; exits non-zero if any case failed.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <khien/khien.h>

typedef struct sbuf {
    char *d;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1)
            c *= 2;
        b->d = realloc(b->d, c);
        if (!b->d) {
            perror("realloc");
            exit(3);
        }
        b->cap = c;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
    b->d[b->n] = '\0';
}

typedef struct section {
    char head[512];
    sbuf body; /* raw lines, each ending in \n */
} section;

typedef struct tcase {
    section *s;
    size_t ns;
    char diags[65536];
    size_t ndiags;
} tcase;

typedef struct result {
    char **found; /* "NAME\tOBJECT" */
    size_t nfound;
    char **warn;
    size_t nwarn;
} result;

static int failures_in_case;
static const char *case_name;

static void failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s: ", case_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures_in_case++;
}

static int parse_case(const char *path, tcase *tc)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    section *cur = NULL;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (n >= 4 && strncmp(line, "--- ", 4) == 0) {
            tc->s = realloc(tc->s, (tc->ns + 1) * sizeof(*tc->s));
            cur = &tc->s[tc->ns++];
            memset(cur, 0, sizeof(*cur));
            size_t l = (size_t)n - 4;
            while (l && (line[4 + l - 1] == '\n' || line[4 + l - 1] == '\r'))
                l--;
            snprintf(cur->head, sizeof(cur->head), "%.*s", (int)l, line + 4);
            continue;
        }
        if (!cur)
            continue; /* header comments */
        sb_add(&cur->body, line, (size_t)n);
    }
    free(line);
    fclose(f);
    return 0;
}

static int head_is(const section *s, const char *kind)
{
    size_t l = strlen(kind);
    return strncmp(s->head, kind, l) == 0 && (s->head[l] == ' ' || s->head[l] == '\0');
}

static const char *head_arg(const section *s, int k)
{
    static char out[4][256];
    const char *p = s->head;
    for (int i = 0; i <= k; i++) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    size_t l = 0;
    while (p[l] && p[l] != ' ')
        l++;
    snprintf(out[k & 3], sizeof(out[0]), "%.*s", (int)l, p);
    return out[k & 3];
}

static void decode_hex(const sbuf *in, sbuf *out)
{
    int hi = -1;
    for (size_t i = 0; i < in->n; i++) {
        int c = (unsigned char)in->d[i];
        if (isspace(c))
            continue;
        int v = isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (v < 0) {
            failf("bad hex digit '%c' in input", c);
            return;
        }
        if (hi < 0) {
            hi = v;
        } else {
            unsigned char b = (unsigned char)(hi << 4 | v);
            sb_add(out, &b, 1);
            hi = -1;
        }
    }
}

static void text_of(const sbuf *in, sbuf *out)
{
    size_t n = in->n;
    if (n && in->d[n - 1] == '\n')
        n--;
    sb_add(out, in->d ? in->d : "", n);
}

/* The bytes of a member section: "--- member NAME hex|text|zeros SIZE" */
static void member_bytes(const section *s, sbuf *out)
{
    const char *how = head_arg(s, 1);
    if (strcmp(how, "hex") == 0) {
        decode_hex(&s->body, out);
    } else if (strcmp(how, "text") == 0) {
        text_of(&s->body, out);
    } else if (strcmp(how, "zeros") == 0) {
        size_t size = strtoull(head_arg(s, 2), NULL, 10);
        char *z = calloc(1, size ? size : 1);
        sb_add(out, z, size);
        free(z);
    } else {
        failf("member kind '%s' unknown", how);
    }
}

static la_ssize_t to_sbuf(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    sb_add(ud, p, n);
    return (la_ssize_t)n;
}

static int set_filter(struct archive *a, const char *filter)
{
    if (!*filter || strcmp(filter, "none") == 0)
        return ARCHIVE_OK;
    return archive_write_add_filter_by_name(a, filter);
}

static void build_archive(tcase *tc, size_t first_member, const char *format, const char *filter,
                          const char *options, int stream, sbuf *out)
{
    struct archive *a = archive_write_new();
    int r = stream ? archive_write_set_format_raw(a) : archive_write_set_format_by_name(a, format);
    if (r == ARCHIVE_OK && set_filter(a, filter) == ARCHIVE_OK && *options)
        r = archive_write_set_options(a, options);
    if (r != ARCHIVE_OK || set_filter(a, filter) != ARCHIVE_OK) {
        failf("libarchive cannot write %s/%s: %s", format, filter, archive_error_string(a));
        archive_write_free(a);
        return;
    }
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, out, NULL, to_sbuf, NULL);
    for (size_t i = first_member; i < tc->ns && head_is(&tc->s[i], "member"); i++) {
        sbuf data = {0};
        member_bytes(&tc->s[i], &data);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, head_arg(&tc->s[i], 0));
        archive_entry_set_size(e, (la_int64_t)data.n);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            failf("write header: %s", archive_error_string(a));
        else if (data.n && archive_write_data(a, data.d, data.n) != (la_ssize_t)data.n)
            failf("write data: %s", archive_error_string(a));
        archive_entry_free(e);
        free(data.d);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static void on_diag(void *ud, kh_diag_level level, const char *file, unsigned line, const char *msg)
{
    tcase *tc = ud;
    char tmp[1024];
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : file ? file : "-";
    int n = snprintf(tmp, sizeof(tmp), "%s:%u: %s: %s\n", base, line,
                     level == KH_DIAG_ERROR ? "error" : level == KH_DIAG_SKIP ? "skip" : "info", msg);
    if (n > 0 && tc->ndiags + (size_t)n < sizeof(tc->diags)) {
        memcpy(tc->diags + tc->ndiags, tmp, (size_t)n);
        tc->ndiags += (size_t)n;
        tc->diags[tc->ndiags] = '\0';
    }
}

static int on_event(void *ud, const kh_event *ev)
{
    result *r = ud;
    char *s = malloc(strlen(ev->name) + strlen(ev->object) + 2);
    sprintf(s, "%s\t%s", ev->name, ev->object);
    if (ev->kind == KH_EVENT_DETECTION) {
        r->found = realloc(r->found, (r->nfound + 1) * sizeof(char *));
        r->found[r->nfound++] = s;
    } else {
        r->warn = realloc(r->warn, (r->nwarn + 1) * sizeof(char *));
        r->warn[r->nwarn++] = s;
    }
    return 0;
}

static int has_event(char **v, size_t n, const char *name, const char *object, int *used)
{
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(name);
        if (strncmp(v[i], name, nl) == 0 && v[i][nl] == '\t' &&
            (!object || strcmp(v[i] + nl + 1, object) == 0)) {
            if (used)
                used[i] = 1;
            return 1;
        }
    }
    return 0;
}

static int via_file;

static void apply_option(kh_scan_opts *o, const char *line)
{
    char key[64];
    unsigned long long v = 0;
    int n = sscanf(line, "%63s %llu", key, &v);
    if (n < 1)
        return;
    if (!strcmp(key, "via-file")) via_file = 1;
    else if (!strcmp(key, "allmatch")) o->flags |= KH_SCAN_ALLMATCH;
    else if (!strcmp(key, "no-archive")) o->flags |= KH_SCAN_NO_ARCHIVE;
    else if (!strcmp(key, "alert-exceeds")) o->flags |= KH_SCAN_ALERT_EXCEEDS;
    else if (!strcmp(key, "alert-encrypted")) o->flags |= KH_SCAN_ALERT_ENCRYPTED;
    else if (!strcmp(key, "max-depth")) o->limits.max_depth = (uint32_t)v;
    else if (!strcmp(key, "max-filesize")) o->limits.max_filesize = v;
    else if (!strcmp(key, "max-scansize")) o->limits.max_scansize = v;
    else if (!strcmp(key, "max-files")) o->limits.max_files = (uint32_t)v;
    else if (!strcmp(key, "max-ratio")) o->limits.max_ratio = (uint32_t)v;
    else if (!strcmp(key, "ratio-min")) o->limits.ratio_min_bytes = v;
    else failf("unknown option '%s'", key);
}

static int run_case(const char *path)
{
    tcase tc;
    memset(&tc, 0, sizeof(tc));
    result res = {0};
    failures_in_case = 0;
    via_file = 0;
    case_name = path;
    if (parse_case(path, &tc) != 0)
        return 1;
    char dir[] = "/tmp/khien-case-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    kh_engine_opts eo;
    kh_engine_opts_default(&eo);
    eo.diag = on_diag;
    eo.diag_ud = &tc;
    kh_engine *e = NULL;
    kh_engine_create(&eo, &e);
    kh_scan_opts so;
    kh_scan_opts_default(&so);
    sbuf input = {0};
    int have_input = 0;
    for (size_t i = 0; i < tc.ns; i++) {
        section *s = &tc.s[i];
        if (head_is(s, "sigs")) {
            char p[1024];
            snprintf(p, sizeof(p), "%s/%.255s", dir, head_arg(s, 0));
            FILE *f = fopen(p, "wb");
            if (f) {
                fwrite(s->body.d ? s->body.d : "", 1, s->body.n, f);
                fclose(f);
            }
        } else if (head_is(s, "input")) {
            const char *how = head_arg(s, 0);
            have_input = 1;
            if (!strcmp(how, "hex"))
                decode_hex(&s->body, &input);
            else if (!strcmp(how, "text"))
                text_of(&s->body, &input);
            else if (!strcmp(how, "archive"))
                build_archive(&tc, i + 1, head_arg(s, 1), head_arg(s, 2), head_arg(s, 3), 0, &input);
            else if (!strcmp(how, "stream"))
                build_archive(&tc, i + 1, "raw", head_arg(s, 1), "", 1, &input);
            else if (!strcmp(how, "zeros")) {
                size_t z = strtoull(head_arg(s, 1), NULL, 10);
                char *zb = calloc(1, z ? z : 1);
                sb_add(&input, zb, z);
                free(zb);
            }
            else
                failf("input kind '%s' unknown", how);
        } else if (head_is(s, "patch")) {
            size_t off = strtoull(head_arg(s, 0), NULL, 10);
            sbuf bytes = {0};
            decode_hex(&s->body, &bytes);
            if (off + bytes.n > input.n) {
                char *z = calloc(1, off + bytes.n - input.n);
                sb_add(&input, z, off + bytes.n - input.n);
                free(z);
            }
            if (bytes.n)
                memcpy(input.d + off, bytes.d, bytes.n);
            free(bytes.d);
        } else if (head_is(s, "truncate")) {
            size_t t = strtoull(head_arg(s, 0), NULL, 10);
            if (t < input.n)
                input.n = t;
        } else if (head_is(s, "options")) {
            char *save = NULL;
            for (char *l = strtok_r(s->body.d, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                apply_option(&so, l);
        }
    }
    kh_err lerr = kh_engine_load(e, dir);
    kh_err cerr = lerr == KH_OK ? kh_engine_compile(e) : lerr;
    kh_engine_stats st;
    kh_engine_get_stats(e, &st);
    if (cerr == KH_OK && have_input) {
        kh_scanner *sc = NULL;
        kh_err err = kh_scanner_create(e, &so, &sc);
        if (err != KH_OK) {
            failf("scanner: %s", kh_strerror(err));
        } else {
            kh_scan_result r;
            if (via_file) {
                /* through a real file, so that large inputs take the streaming path */
                char p[1100];
                snprintf(p, sizeof(p), "%s/input", dir);
                FILE *f = fopen(p, "wb");
                if (f) {
                    fwrite(input.d ? input.d : "", 1, input.n, f);
                    fclose(f);
                }
                int fd = open(p, O_RDONLY);
                err = kh_scan_fd(sc, fd, "input", on_event, &res, &r);
                if (fd >= 0)
                    close(fd);
            } else {
                err = kh_scan_mem(sc, input.d ? input.d : "", input.n, "input", on_event, &res, &r);
            }
            if (err != KH_OK)
                failf("scan: %s (%s)", kh_strerror(err), r.error);
            kh_scanner_destroy(sc);
        }
    }
    int *used = calloc(res.nfound + 1, sizeof(int));
    int any_found_line = 0;
    for (size_t i = 0; i < tc.ns; i++) {
        if (!head_is(&tc.s[i], "expect"))
            continue;
        char *save = NULL;
        for (char *l = strtok_r(tc.s[i].body.d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char a[512] = "", b[512] = "", c[512] = "", obj[512] = "";
            int n = sscanf(l, "%511s %511s %511s %511s", a, b, c, obj);
            if (n < 4 || strcmp(c, "in") != 0)
                obj[0] = '\0';
            else /* the object is the rest of the line: member names may hold spaces */
                snprintf(obj, sizeof(obj), "%s", strstr(l, " in ") + 4);
            if (n < 1)
                continue;
            if (!strcmp(a, "found")) {
                any_found_line = 1;
                if (!has_event(res.found, res.nfound, b, obj[0] ? obj : NULL, used))
                    failf("expected detection %s%s%s, not reported", b, obj[0] ? " in " : "", obj);
            } else if (!strcmp(a, "warning")) {
                if (!has_event(res.warn, res.nwarn, b, NULL, NULL))
                    failf("expected warning %s, not reported", b);
            } else if (!strcmp(a, "clean")) {
                if (res.nfound)
                    failf("expected clean, got %zu detection(s), first %s", res.nfound, res.found[0]);
            } else if (!strcmp(a, "detections")) {
                if (res.nfound != strtoul(b, NULL, 10))
                    failf("expected %s detection(s), got %zu", b, res.nfound);
            } else if (!strcmp(a, "warnings")) {
                if (res.nwarn != strtoul(b, NULL, 10))
                    failf("expected %s warning(s), got %zu", b, res.nwarn);
            } else if (!strcmp(a, "rejected")) {
                if (st.rejected != strtoul(b, NULL, 10))
                    failf("expected %s rejected, got %u", b, st.rejected);
            } else if (!strcmp(a, "skipped")) {
                if (st.skipped != strtoul(b, NULL, 10))
                    failf("expected %s skipped, got %u", b, st.skipped);
            } else if (!strcmp(a, "loaded-body")) {
                if (st.body_sigs != strtoul(b, NULL, 10))
                    failf("expected %s body signatures, got %u", b, st.body_sigs);
            } else if (!strcmp(a, "loaded-hash")) {
                if (st.hash_sigs != strtoul(b, NULL, 10))
                    failf("expected %s hash signatures, got %u", b, st.hash_sigs);
            } else if (!strcmp(a, "diag")) {
                const char *want = l + 5;
                if (!strstr(tc.diags, want))
                    failf("no diagnostic contains '%s'", want);
            } else if (!strcmp(a, "load-fails")) {
                if (cerr == KH_OK)
                    failf("expected the engine to fail to compile");
            } else {
                failf("unknown expectation '%s'", a);
            }
        }
    }
    if (cerr != KH_OK) {
        int expected_fail = 0;
        for (size_t i = 0; i < tc.ns; i++)
            if (head_is(&tc.s[i], "expect") && tc.s[i].body.d && strstr(tc.s[i].body.d, "load-fails"))
                expected_fail = 1;
        if (!expected_fail)
            failf("engine: %s", kh_strerror(cerr));
    }
    if (any_found_line)
        for (size_t i = 0; i < res.nfound; i++)
            if (!used[i])
                failf("unexpected detection %s", res.found[i]);
    if (failures_in_case && tc.ndiags)
        fprintf(stderr, "  diagnostics:\n%s", tc.diags);
    /* clean up */
    free(used);
    for (size_t i = 0; i < res.nfound; i++)
        free(res.found[i]);
    for (size_t i = 0; i < res.nwarn; i++)
        free(res.warn[i]);
    free(res.found);
    free(res.warn);
    for (size_t i = 0; i < tc.ns; i++)
        free(tc.s[i].body.d);
    free(tc.s);
    free(input.d);
    kh_engine_release(e);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
    return failures_in_case ? 1 : 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        if (run_case(argv[i]) == 0) {
            passed++;
            printf("ok   %s\n", argv[i]);
        } else {
            failed++;
            printf("FAIL %s\n", argv[i]);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
