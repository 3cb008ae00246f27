/*
 * sigdb_yara.c - YARA rule files: a Vectorscan fast path for hex-only rules, libyara for the rest.
 *
 * Most shared indicator sets are rules of one hex string and the condition "$a" or "any of
 * them". Running 10,000 of those through libyara costs its Aho-Corasick pass plus a condition
 * evaluation per rule per file; as Vectorscan expressions they join the one body-signature pass
 * and cost almost nothing. So each file is read with a small recogniser of exactly that shape:
 *
 *   rule NAME [: tags] { [meta: k = "v" | n | true ...] strings: $x = { hex } condition: C }
 *   with C one of: $x, any of them, all of them, 1 of them, any of ($*)
 *
 * and hex made of bytes, ??, nibble wildcards, jumps [n] [n-m] [n-] [-] and alternatives of
 * those without jumps. When every rule of a file has that shape the file becomes body
 * signatures named YARA.<rule> carrying the rule's metadata; when any rule does not (imports,
 * private/global rules, text or regex strings, other conditions...), the whole file goes to
 * libyara unchanged, so that rules referring to each other keep working. Either way the matches
 * are the same as the yara program's.
 */
#include "sigdb/sigdb.h"

#include <ctype.h>
#include <string.h>

#define MAX_META 32

typedef struct lex {
    const char *p, *end;
} lex;

static void skip_space(lex *x)
{
    for (;;) {
        while (x->p < x->end && isspace((unsigned char)*x->p))
            x->p++;
        if (x->end - x->p >= 2 && x->p[0] == '/' && x->p[1] == '/') {
            while (x->p < x->end && *x->p != '\n')
                x->p++;
        } else if (x->end - x->p >= 2 && x->p[0] == '/' && x->p[1] == '*') {
            const char *e = NULL;
            for (const char *q = x->p + 2; q + 1 < x->end; q++)
                if (q[0] == '*' && q[1] == '/') {
                    e = q + 2;
                    break;
                }
            x->p = e ? e : x->end;
        } else {
            return;
        }
    }
}

/* An identifier (letters, digits, _), optionally starting with '$'. */
static int ident(lex *x, const char **s, size_t *n)
{
    skip_space(x);
    const char *st = x->p;
    if (x->p < x->end && *x->p == '$')
        x->p++;
    while (x->p < x->end && (isalnum((unsigned char)*x->p) || *x->p == '_'))
        x->p++;
    *s = st;
    *n = (size_t)(x->p - st);
    return *n > 0;
}

static int word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int punct(lex *x, char c)
{
    skip_space(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return 1;
    }
    return 0;
}

/* A double-quoted string with the escapes YARA allows, decoded into out. */
static int quoted(lex *x, khi_buf *out)
{
    skip_space(x);
    if (x->p >= x->end || *x->p != '"')
        return 0;
    x->p++;
    while (x->p < x->end && *x->p != '"') {
        char c = *x->p++;
        if (c == '\n')
            return 0;
        if (c == '\\' && x->p < x->end) {
            char e = *x->p++;
            if (e == 'n')
                c = '\n';
            else if (e == 't')
                c = '\t';
            else if (e == 'x' && x->end - x->p >= 2 && khi_hexval((unsigned char)x->p[0]) >= 0 &&
                     khi_hexval((unsigned char)x->p[1]) >= 0) {
                c = (char)(khi_hexval((unsigned char)x->p[0]) << 4 | khi_hexval((unsigned char)x->p[1]));
                x->p += 2;
            } else if (e == '"' || e == '\\')
                c = e;
            else
                return 0;
        }
        if (khi_buf_append(out, &c, 1) != KH_OK)
            return 0;
    }
    if (x->p >= x->end)
        return 0;
    x->p++;
    if (!out->data && khi_buf_append(out, "", 0) != KH_OK)
        return 0;
    return 1;
}

/* YARA hex string body -> Vectorscan expression. KH_EFORMAT means "not for the fast path". */
kh_err khi_yara_hex_to_regex(const char *s, size_t n, khi_buf *out, uint64_t *out_minlen,
                             uint64_t *out_maxlen)
{
    uint64_t minlen = 0, maxlen = 0;
    int in_alt = 0, last_jump = 0, any = 0, run = 0, best_run = 0;
    uint64_t alt_min = 0, alt_max = 0, cur = 0, group_min = 0, group_max = 0;
    kh_err err = KH_OK;
    size_t i = 0;
    while (i < n && err == KH_OK) {
        char c = s[i];
        if (isspace((unsigned char)c)) {
            i++;
            continue;
        }
        if (c == '[') {
            if (in_alt || !any)
                return KH_EFORMAT;
            size_t j = i + 1;
            uint64_t lo = 0, hi = 0;
            int has_lo = 0, has_hi = 0, dash = 0;
            while (j < n && isdigit((unsigned char)s[j])) {
                lo = lo * 10 + (uint64_t)(s[j++] - '0');
                has_lo = 1;
                if (lo > 65535)
                    return KH_EFORMAT;
            }
            if (j < n && s[j] == '-') {
                dash = 1;
                j++;
                while (j < n && isdigit((unsigned char)s[j])) {
                    hi = hi * 10 + (uint64_t)(s[j++] - '0');
                    has_hi = 1;
                    if (hi > 65535)
                        return KH_EFORMAT;
                }
            }
            if (j >= n || s[j] != ']' || (!dash && !has_lo) || (has_hi && hi < lo))
                return KH_EFORMAT;
            i = j + 1;
            if ((!dash || has_hi) && hi == 0 && lo == 0) {
                /* [0] or [0-0]: no gap (Vectorscan rejects ".{0}") */
            } else if (!dash) {
                err = khi_buf_printf(out, ".{%llu}", (unsigned long long)lo);
                minlen += lo;
                if (maxlen != KHI_LEN_INF)
                    maxlen += lo;
            } else if (has_hi) {
                err = khi_buf_printf(out, ".{%llu,%llu}", (unsigned long long)lo, (unsigned long long)hi);
                minlen += lo;
                if (maxlen != KHI_LEN_INF)
                    maxlen += hi;
            } else {
                err = khi_buf_printf(out, ".{%llu,}", (unsigned long long)lo);
                minlen += lo;
                maxlen = KHI_LEN_INF;
            }
            last_jump = 1;
            run = 0;
            continue;
        }
        if (c == '(') {
            if (in_alt)
                return KH_EFORMAT;
            in_alt = 1;
            cur = 0;
            group_min = KHI_LEN_INF;
            group_max = 0;
            err = khi_buf_puts(out, "(?:");
            i++;
            continue;
        }
        if (c == '|' || c == ')') {
            if (!in_alt || cur == 0)
                return KH_EFORMAT;
            if (cur < group_min)
                group_min = cur;
            if (cur > group_max)
                group_max = cur;
            cur = 0;
            i++;
            if (c == '|') {
                err = khi_buf_puts(out, "|");
            } else {
                in_alt = 0;
                err = khi_buf_puts(out, ")");
                alt_min = group_min;
                alt_max = group_max;
                minlen += alt_min;
                if (maxlen != KHI_LEN_INF)
                    maxlen += alt_max;
                any = 1;
                last_jump = 0;
                run = 0;
            }
            continue;
        }
        if (i + 1 >= n)
            return KH_EFORMAT;
        char d = s[i + 1];
        int hc = khi_hexval((unsigned char)c), hd = khi_hexval((unsigned char)d);
        int literal = 0;
        if (hc >= 0 && hd >= 0) {
            static const char digits[] = "0123456789abcdef";
            char b[4] = {'\\', 'x', digits[hc], digits[hd]};
            err = khi_buf_append(out, b, 4);
            literal = 1;
        } else if (c == '?' && d == '?') {
            err = khi_buf_puts(out, ".");
        } else if (hc >= 0 && d == '?') {
            err = khi_buf_printf(out, "[\\x%x0-\\x%xf]", hc, hc);
        } else if (c == '?' && hd >= 0) {
            err = khi_buf_puts(out, "[");
            for (int h = 0; h < 16 && err == KH_OK; h++)
                err = khi_buf_printf(out, "\\x%x%x", h, hd);
            if (err == KH_OK)
                err = khi_buf_puts(out, "]");
        } else {
            return KH_EFORMAT;
        }
        i += 2;
        if (in_alt) {
            cur++;
        } else {
            minlen++;
            if (maxlen != KHI_LEN_INF)
                maxlen++;
            any = 1;
            last_jump = 0;
            run = literal ? run + 1 : 0;
            if (run > best_run)
                best_run = run;
        }
    }
    if (err != KH_OK)
        return err;
    /* the shapes libyara refuses, or could match everywhere, stay with libyara */
    if (in_alt || !any || last_jump || best_run < 2)
        return KH_EFORMAT;
    *out_minlen = minlen;
    *out_maxlen = maxlen;
    return KH_OK;
}

typedef struct frule {
    const char *name;
    size_t name_len;
    khi_buf regex;
    uint64_t minlen, maxlen;
    kh_meta meta[MAX_META];
    khi_buf metabuf[MAX_META][2];
    size_t nmeta;
} frule;

static void frule_cleanup(frule *r)
{
    khi_buf_cleanup(&r->regex);
    for (size_t i = 0; i < r->nmeta; i++) {
        khi_buf_cleanup(&r->metabuf[i][0]);
        khi_buf_cleanup(&r->metabuf[i][1]);
    }
    r->nmeta = 0;
}

/* meta: section entries; stops at the next section keyword. */
static int parse_meta(lex *x, frule *r)
{
    for (;;) {
        lex save = *x;
        const char *k;
        size_t kn;
        if (!ident(x, &k, &kn))
            return 0;
        if (!punct(x, '=')) {
            *x = save; /* a section keyword, not a meta entry */
            return 1;
        }
        if (r->nmeta == MAX_META)
            return 0;
        khi_buf *kv = r->metabuf[r->nmeta];
        khi_buf_init(&kv[0]);
        khi_buf_init(&kv[1]);
        r->nmeta++;
        if (khi_buf_append(&kv[0], k, kn) != KH_OK)
            return 0;
        skip_space(x);
        if (x->p < x->end && *x->p == '"') {
            if (!quoted(x, &kv[1]))
                return 0;
        } else {
            const char *v;
            size_t vn;
            int neg = punct(x, '-');
            if (!ident(x, &v, &vn) || (neg && !isdigit((unsigned char)v[0])))
                return 0;
            if ((neg && khi_buf_puts(&kv[1], "-") != KH_OK) || khi_buf_append(&kv[1], v, vn) != KH_OK)
                return 0;
        }
    }
}

/* One rule of the fast-path shape at x; 1 = parsed into r, 0 = not that shape. */
static int parse_rule(lex *x, frule *r)
{
    const char *w, *sname = NULL;
    size_t wn, sn = 0;
    if (!ident(x, &w, &wn) || !word_is(w, wn, "rule"))
        return 0;
    if (!ident(x, &r->name, &r->name_len) || r->name[0] == '$')
        return 0;
    if (punct(x, ':'))
        while (ident(x, &w, &wn))
            ;
    if (!punct(x, '{'))
        return 0;
    if (!ident(x, &w, &wn))
        return 0;
    if (word_is(w, wn, "meta")) {
        if (!punct(x, ':') || !parse_meta(x, r) || !ident(x, &w, &wn))
            return 0;
    }
    if (!word_is(w, wn, "strings") || !punct(x, ':'))
        return 0;
    if (!ident(x, &sname, &sn) || sname[0] != '$' || !punct(x, '=') || !punct(x, '{'))
        return 0;
    const char *hex = x->p;
    while (x->p < x->end && *x->p != '}' && *x->p != '/' && *x->p != '~')
        x->p++;
    if (x->p >= x->end || *x->p != '}')
        return 0;
    if (khi_yara_hex_to_regex(hex, (size_t)(x->p - hex), &r->regex, &r->minlen, &r->maxlen) != KH_OK)
        return 0;
    x->p++;
    if (!ident(x, &w, &wn) || !word_is(w, wn, "condition") || !punct(x, ':'))
        return 0;
    /* the condition: "$x" (this string), or "any|all|1 of them", or "any of ($*)" */
    const char *c1, *c2, *c3;
    size_t n1, n2, n3;
    if (!ident(x, &c1, &n1))
        return 0;
    if (c1[0] == '$') {
        if (n1 != sn || memcmp(c1, sname, sn) != 0)
            return 0;
    } else {
        if (!(word_is(c1, n1, "any") || word_is(c1, n1, "all") || word_is(c1, n1, "1")))
            return 0;
        if (!ident(x, &c2, &n2) || !word_is(c2, n2, "of"))
            return 0;
        if (punct(x, '(')) {
            if (!ident(x, &c3, &n3) || !word_is(c3, n3, "$") || !punct(x, '*') || !punct(x, ')'))
                return 0;
        } else if (!ident(x, &c3, &n3) || !word_is(c3, n3, "them")) {
            return 0;
        }
    }
    return punct(x, '}');
}

static kh_err add_fast_rule(khi_sigdb *db, frule *r)
{
    khi_bodysig b;
    memset(&b, 0, sizeof(b));
    khi_buf name;
    khi_buf_init(&name);
    kh_err err = khi_buf_puts(&name, "YARA.");
    if (err == KH_OK)
        err = khi_buf_append(&name, r->name, r->name_len);
    if (err != KH_OK)
        goto out;
    b.name = khi_pool_strndup(&db->names, name.data, name.len);
    b.regex = khi_pool_strndup(&db->patterns, r->regex.data, r->regex.len);
    kh_meta *meta = r->nmeta ? khi_pool_alloc(&db->names, r->nmeta * sizeof(kh_meta)) : NULL;
    if (!b.name || !b.regex || (r->nmeta && !meta)) {
        err = KH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->nmeta; i++) {
        meta[i].key = khi_pool_strndup(&db->names, r->metabuf[i][0].data, r->metabuf[i][0].len);
        meta[i].value = khi_pool_strndup(&db->names, r->metabuf[i][1].data ? r->metabuf[i][1].data : "",
                                         r->metabuf[i][1].len);
        if (!meta[i].key || !meta[i].value) {
            err = KH_ENOMEM;
            goto out;
        }
    }
    b.meta = meta;
    b.nmeta = (uint16_t)r->nmeta;
    b.minlen = r->minlen;
    b.maxlen = r->maxlen;
    b.off_kind = KHI_OFF_ANY;
    b.yara = 1;
    err = khi_sigdb_add_body(db, &b);
out:
    khi_buf_cleanup(&name);
    return err;
}

static kh_err keep_for_libyara(khi_sigdb *db, const char *file, const char *data, size_t len,
                               int compiled)
{
    if (db->nyara == db->capyara) {
        size_t ncap = db->capyara ? db->capyara * 2 : 8;
        khi_yarasrc *ny = khi_reallocarray(db->yara, ncap, sizeof(*ny));
        if (!ny)
            return KH_ENOMEM;
        db->yara = ny;
        db->capyara = ncap;
    }
    khi_yarasrc *y = &db->yara[db->nyara];
    y->name = khi_strdup(file);
    y->data = khi_malloc(len + 1);
    if (!y->name || !y->data) {
        khi_free(y->name);
        khi_free(y->data);
        return KH_ENOMEM;
    }
    memcpy(y->data, data, len);
    y->data[len] = '\0';
    y->len = len;
    y->compiled = compiled;
    db->nyara++;
    return KH_OK;
}

kh_err khi_yara_load(khi_sigdb *db, const char *file, const char *data, size_t len, int compiled)
{
    if (compiled || memchr(data, '\0', len))
        return keep_for_libyara(db, file, data, len, compiled);
    /* first pass: is every rule of the fast-path shape? */
    lex x = {data, data + len};
    size_t nrules = 0;
    int simple = 1;
    for (;;) {
        skip_space(&x);
        if (x.p >= x.end)
            break;
        frule r;
        memset(&r, 0, sizeof(r));
        khi_buf_init(&r.regex);
        int ok = parse_rule(&x, &r);
        frule_cleanup(&r);
        if (!ok) {
            simple = 0;
            break;
        }
        nrules++;
    }
    if (!simple || nrules == 0)
        return keep_for_libyara(db, file, data, len, 0);
    /* second pass: add them */
    x.p = data;
    kh_err err = KH_OK;
    for (size_t i = 0; i < nrules && err == KH_OK; i++) {
        frule r;
        memset(&r, 0, sizeof(r));
        khi_buf_init(&r.regex);
        parse_rule(&x, &r);
        err = add_fast_rule(db, &r);
        frule_cleanup(&r);
    }
    if (err == KH_OK)
        db->yara_fast += (uint32_t)nrules;
    return err;
}
