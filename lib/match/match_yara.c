/*
 * match_yara.c - YARA rules that need libyara's condition engine.
 *
 * libyara compiles a whole source at once and gives up on the first error, while a shared rule
 * set with one broken rule should still load the others. So each file is first compiled on its
 * own; when it fails, the rule around the reported line is blanked out (newlines kept, so line
 * numbers stay true), the error is reported with file and line, and the file is compiled again.
 * The cleaned files then go into one compiler, each in a namespace named after its file.
 * Compiled rules (.yarc) are loaded as they are, one YR_RULES each.
 *
 * Scanning uses one YR_SCANNER per rule set per kh_scanner (thread), in fast mode (a string
 * stops being searched after its first match: a rule either matches or not).
 */
#include "match/match.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <yara.h>

#define MAX_FIX_ROUNDS 1000
#define MAX_META 32
#define SCAN_TIMEOUT_S 60

struct khi_yaramatch {
    YR_RULES **rules;
    size_t n;
    uint32_t nrules;
    int initialized;
};

struct khi_yarascan {
    YR_SCANNER **sc;
    size_t n;
    khi_yara_hit_fn cb;
    void *ud;
    int stopped;
    kh_meta meta[MAX_META];
    char num[MAX_META][24];
};

typedef struct cerr {
    int line;
    int errors;
    char msg[300];
} cerr;

static void on_compile(int level, const char *file, int line, const YR_RULE *rule,
                       const char *message, void *ud)
{
    cerr *c = ud;
    if (level != YARA_ERROR_LEVEL_ERROR)
        return;
    if (c->errors++ == 0) {
        c->line = line;
        khi_snprintf(c->msg, sizeof(c->msg), "%s", message);
    }
}

/* Is line (1-based) "[private|global ]*rule NAME"? */
static int rule_header(const char *p, const char *end)
{
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        size_t n = (size_t)(p - w);
        if (n == 4 && memcmp(w, "rule", 4) == 0)
            return p < end && (*p == ' ' || *p == '\t');
        if (!((n == 7 && memcmp(w, "private", 7) == 0) || (n == 6 && memcmp(w, "global", 6) == 0)))
            return 0;
    }
}

/* Blank the rule holding line (or the line itself before any rule), keeping newlines. */
static void blank_rule(char *text, size_t len, int line)
{
    char *end = text + len;
    char *p = text, *rule_start = NULL, *target = NULL;
    int ln = 1;
    for (; p < end && ln <= line; ln++) {
        if (rule_header(p, end))
            rule_start = p;
        if (ln == line)
            target = p;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    char *from = rule_start ? rule_start : target;
    if (!from)
        return;
    char *to;
    if (rule_start) {
        /* up to the next rule header after the error line */
        to = p;
        while (to < end && !rule_header(to, end)) {
            char *nl = memchr(to, '\n', (size_t)(end - to));
            to = nl ? nl + 1 : end;
        }
    } else {
        char *nl = memchr(from, '\n', (size_t)(end - from));
        to = nl ? nl + 1 : end;
    }
    for (char *q = from; q < to; q++)
        if (*q != '\n')
            *q = ' ';
}

static kh_err clean_source(khi_yarasrc *src, kh_diag_fn diag, void *ud, uint32_t *rejected)
{
    for (int round = 0; round < MAX_FIX_ROUNDS; round++) {
        YR_COMPILER *c = NULL;
        cerr ce = {0, 0, ""};
        if (yr_compiler_create(&c) != ERROR_SUCCESS)
            return KH_ENOMEM;
        yr_compiler_set_callback(c, on_compile, &ce);
        yr_compiler_add_string(c, src->data, src->name);
        yr_compiler_destroy(c);
        if (!ce.errors)
            return KH_OK;
        (*rejected)++;
        if (diag) {
            char text[400];
            khi_snprintf(text, sizeof(text), "YARA rule does not compile, skipped: %s", ce.msg);
            diag(ud, KH_DIAG_ERROR, src->name, (unsigned)(ce.line > 0 ? ce.line : 0), text);
        }
        if (ce.line <= 0)
            break;
        blank_rule(src->data, src->len, ce.line);
    }
    /* could not be mended: drop the file's text */
    memset(src->data, ' ', src->len);
    return KH_OK;
}

typedef struct mstream {
    const char *p;
    size_t left;
} mstream;

static size_t mread(void *ptr, size_t size, size_t count, void *ud)
{
    mstream *m = ud;
    if (!size || count > m->left / size)
        return 0;
    memcpy(ptr, m->p, size * count);
    m->p += size * count;
    m->left -= size * count;
    return count;
}

static kh_err add_rules(khi_yaramatch *m, YR_RULES *r)
{
    YR_RULES **nr = khi_reallocarray(m->rules, m->n + 1, sizeof(*nr));
    if (!nr) {
        yr_rules_destroy(r);
        return KH_ENOMEM;
    }
    m->rules = nr;
    m->rules[m->n++] = r;
    const YR_RULE *rule;
    yr_rules_foreach(r, rule)
    {
        m->nrules++;
    }
    return KH_OK;
}

void khi_yaramatch_destroy(khi_yaramatch *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        yr_rules_destroy(m->rules[i]);
    khi_free(m->rules);
    if (m->initialized)
        yr_finalize();
    khi_free(m);
}

kh_err khi_yaramatch_create(khi_yarasrc *src, size_t n, kh_diag_fn diag, void *ud,
                            uint32_t *out_rejected, khi_yaramatch **out)
{
    kh_err err = KH_OK;
    YR_COMPILER *c = NULL;
    *out_rejected = 0;
    khi_yaramatch *m = khi_calloc(1, sizeof(*m));
    if (!m)
        return KH_ENOMEM;
    if (yr_initialize() != ERROR_SUCCESS) {
        khi_free(m);
        return KH_EMATCHER;
    }
    m->initialized = 1;
    size_t nsrc = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i].compiled) {
            YR_RULES *r = NULL;
            mstream ms = {src[i].data, src[i].len};
            YR_STREAM st = {&ms, mread, NULL};
            if (yr_rules_load_stream(&st, &r) != ERROR_SUCCESS) {
                (*out_rejected)++;
                if (diag)
                    diag(ud, KH_DIAG_ERROR, src[i].name, 0,
                         "not compiled YARA rules of this libyara version; file skipped");
                continue;
            }
            if ((err = add_rules(m, r)) != KH_OK)
                goto out;
        } else {
            if ((err = clean_source(&src[i], diag, ud, out_rejected)) != KH_OK)
                goto out;
            nsrc++;
        }
    }
    if (nsrc) {
        cerr ce = {0, 0, ""};
        if (yr_compiler_create(&c) != ERROR_SUCCESS) {
            err = KH_ENOMEM;
            goto out;
        }
        yr_compiler_set_callback(c, on_compile, &ce);
        for (size_t i = 0; i < n && !ce.errors; i++)
            if (!src[i].compiled)
                yr_compiler_add_string(c, src[i].data, src[i].name);
        YR_RULES *r = NULL;
        if (ce.errors || yr_compiler_get_rules(c, &r) != ERROR_SUCCESS) {
            if (diag)
                diag(ud, KH_DIAG_ERROR, NULL, 0, ce.errors ? ce.msg : "libyara could not build the rules");
            err = KH_EMATCHER;
            goto out;
        }
        if ((err = add_rules(m, r)) != KH_OK)
            goto out;
    }
    *out = m;
    m = NULL;
out:
    if (c)
        yr_compiler_destroy(c);
    khi_yaramatch_destroy(m);
    return err;
}

uint32_t khi_yaramatch_count(const khi_yaramatch *m)
{
    return m ? m->nrules : 0;
}

static int on_scan(YR_SCAN_CONTEXT *ctx, int message, void *data, void *ud)
{
    khi_yarascan *s = ud;
    (void)ctx;
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    const YR_RULE *rule = data;
    const YR_META *meta;
    size_t nm = 0;
    yr_rule_metas_foreach(rule, meta)
    {
        if (nm == MAX_META)
            break;
        s->meta[nm].key = meta->identifier;
        if (meta->type == META_TYPE_STRING) {
            s->meta[nm].value = meta->string;
        } else if (meta->type == META_TYPE_BOOLEAN) {
            s->meta[nm].value = meta->integer ? "true" : "false";
        } else {
            khi_snprintf(s->num[nm], sizeof(s->num[nm]), "%lld", (long long)meta->integer);
            s->meta[nm].value = s->num[nm];
        }
        nm++;
    }
    if (s->cb(s->ud, rule->identifier, s->meta, nm)) {
        s->stopped = 1;
        return CALLBACK_ABORT;
    }
    return CALLBACK_CONTINUE;
}

kh_err khi_yarascan_create(const khi_yaramatch *m, khi_yarascan **out)
{
    khi_yarascan *s = khi_calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->sc = khi_calloc(m->n ? m->n : 1, sizeof(*s->sc));
    if (!s->sc) {
        khi_free(s);
        return KH_ENOMEM;
    }
    for (size_t i = 0; i < m->n; i++) {
        int rc = yr_scanner_create(m->rules[i], &s->sc[i]);
        if (rc != ERROR_SUCCESS) {
            khi_yarascan_destroy(s);
            return rc == ERROR_TOO_MANY_SCAN_THREADS ? KH_ELIMIT : KH_ENOMEM;
        }
        s->n++;
        yr_scanner_set_callback(s->sc[i], on_scan, s);
        yr_scanner_set_flags(s->sc[i], SCAN_FLAGS_FAST_MODE);
        yr_scanner_set_timeout(s->sc[i], SCAN_TIMEOUT_S);
    }
    *out = s;
    return KH_OK;
}

void khi_yarascan_destroy(khi_yarascan *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        yr_scanner_destroy(s->sc[i]);
    khi_free(s->sc);
    khi_free(s);
}

static kh_err run(khi_yarascan *s, const uint8_t *data, size_t len, int fd, khi_yara_hit_fn cb,
                  void *ud)
{
    s->cb = cb;
    s->ud = ud;
    s->stopped = 0;
    for (size_t i = 0; i < s->n && !s->stopped; i++) {
        int rc = data ? yr_scanner_scan_mem(s->sc[i], data, len) : yr_scanner_scan_fd(s->sc[i], fd);
        if (rc == ERROR_SCAN_TIMEOUT)
            return KH_ELIMIT;
        if (rc == ERROR_INSUFFICIENT_MEMORY)
            return KH_ENOMEM;
        if (rc != ERROR_SUCCESS && !s->stopped)
            return KH_EMATCHER;
    }
    return KH_OK;
}

kh_err khi_yarascan_run(khi_yarascan *s, const uint8_t *data, size_t len, khi_yara_hit_fn cb,
                        void *ud)
{
    return run(s, data ? data : (const uint8_t *)"", len, -1, cb, ud);
}

kh_err khi_yarascan_run_fd(khi_yarascan *s, int fd, khi_yara_hit_fn cb, void *ud)
{
    return run(s, NULL, 0, fd, cb, ud);
}
