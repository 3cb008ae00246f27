/*
 * sigdb_ldb.c - ClamAV logical signatures (.ldb).
 *
 * Form: NAME;TARGET-DESCRIPTION;LOGICAL-EXPRESSION;SUBSIG0;SUBSIG1;...
 *   target description  Engine:a-b, Target:N (0-7, 9-12; 3 and 7 match the normalised HTML and
 *                       text views that lib/scan builds, as ClamAV does), FileSize:a-b,
 *                       Container:CL_TYPE_X,
 *                       EntryPoint:a-b (file offset), NumberOfSections:a-b (PE objects only)
 *                       (IconGroup*, Intermediates and HandlerType need resources or the
 *                       container chain: such signatures are counted as skipped)
 *   expression          subsignature numbers with & and | (& binds tighter), parentheses, and
 *                       counts: X=n, X>n, X<n, each optionally ",m" (at least m distinct
 *                       subsignatures of X matched)
 *   subsignature        [OFFSET:]HEX[::MODIFIERS] with the .ndb hex syntax and offsets
 *                       (EP+n, Sx+n, SL+n, SEx only with Target:1, as in .ndb);
 *                       modifiers i (ASCII case-insensitive), w (wide), a (ASCII and wide),
 *                       f (whole word; with "*" offsets only)
 * Each subsignature becomes one body signature in the shared Vectorscan database, tagged with
 * its logical signature; lib/match/match_ldb.c evaluates the expression once an object has been
 * matched. When the expression compares counts, its subsignatures report every match instead of
 * the first. PCRE, byte-compare and macro subsignatures are counted as skipped.
 */
#include "sigdb/sigdb.h"

#include <string.h>

#define MAX_SUBSIGS 64
#define MAX_OPS 512
#define MAX_DEPTH 32

typedef struct lparse {
    const char *s;
    size_t n, i;
    unsigned nsub;
    khi_lop *ops;
    size_t nops, max_ops;
    int depth, has_counts;
    char *err;
    size_t err_len;
} lparse;

static int emit_op(lparse *p, khi_lop op)
{
    if (p->nops == p->max_ops) {
        khi_snprintf(p->err, p->err_len, "logical expression too long");
        return -1;
    }
    p->ops[p->nops++] = op;
    return 0;
}

static int number(lparse *p, uint32_t *out)
{
    size_t st = p->i;
    uint64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    if (p->i == st || khi_parse_u64(p->s + st, p->i - st, &v) != 0 || v > UINT32_MAX) {
        khi_snprintf(p->err, p->err_len, "logical expression: number expected at position %zu",
                     st + 1);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int p_or(lparse *p);

static int p_term(lparse *p)
{
    if (p->i < p->n && p->s[p->i] == '(') {
        if (++p->depth > MAX_DEPTH) {
            khi_snprintf(p->err, p->err_len, "logical expression nested deeper than %d", MAX_DEPTH);
            return -1;
        }
        p->i++;
        if (p_or(p) != 0)
            return -1;
        if (p->i >= p->n || p->s[p->i] != ')') {
            khi_snprintf(p->err, p->err_len, "logical expression: ')' expected at position %zu",
                         p->i + 1);
            return -1;
        }
        p->i++;
        p->depth--;
    } else {
        uint32_t sub;
        if (number(p, &sub) != 0)
            return -1;
        if (sub >= p->nsub) {
            khi_snprintf(p->err, p->err_len,
                         "logical expression refers to subsignature %u, but there are %u", sub,
                         p->nsub);
            return -1;
        }
        if (emit_op(p, (khi_lop){KHI_LOP_SUB, (uint16_t)sub, 0, 0}) != 0)
            return -1;
    }
    if (p->i < p->n && (p->s[p->i] == '=' || p->s[p->i] == '>' || p->s[p->i] == '<')) {
        char c = p->s[p->i++];
        khi_lop op = {c == '=' ? KHI_LOP_EQ : c == '>' ? KHI_LOP_GT : KHI_LOP_LT, 0, 0, 0};
        if (number(p, &op.n) != 0)
            return -1;
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            if (number(p, &op.m) != 0)
                return -1;
        }
        p->has_counts = 1;
        return emit_op(p, op);
    }
    return 0;
}

static int p_and(lparse *p)
{
    if (p_term(p) != 0)
        return -1;
    while (p->i < p->n && p->s[p->i] == '&') {
        p->i++;
        if (p_term(p) != 0 || emit_op(p, (khi_lop){KHI_LOP_AND, 0, 0, 0}) != 0)
            return -1;
    }
    return 0;
}

static int p_or(lparse *p)
{
    if (p_and(p) != 0)
        return -1;
    while (p->i < p->n && p->s[p->i] == '|') {
        p->i++;
        if (p_and(p) != 0 || emit_op(p, (khi_lop){KHI_LOP_OR, 0, 0, 0}) != 0)
            return -1;
    }
    return 0;
}

int khi_ldb_parse_expr(const char *s, size_t n, unsigned nsub, khi_lop *ops, size_t max_ops,
                       int *out_has_counts, char *err, size_t err_len)
{
    lparse p = {s, n, 0, nsub, ops, 0, max_ops, 0, 0, err, err_len};
    if (n == 0) {
        khi_snprintf(err, err_len, "empty logical expression");
        return -1;
    }
    if (p_or(&p) != 0)
        return -1;
    if (p.i != n) {
        khi_snprintf(err, err_len, "logical expression: unexpected '%c' at position %zu",
                     s[p.i], p.i + 1);
        return -1;
    }
    *out_has_counts = p.has_counts;
    return (int)p.nops;
}

/* Container types of the target description, as the file type labels of lib/scan. */
static const struct {
    const char *cl, *label;
} containers[] = {
    {"CL_TYPE_ZIP", "zip"},         {"CL_TYPE_RAR", "rar"},         {"CL_TYPE_7Z", "7z"},
    {"CL_TYPE_GZ", "gzip"},         {"CL_TYPE_BZ", "bzip2"},        {"CL_TYPE_XZ", "xz"},
    {"CL_TYPE_MSCAB", "cab"},       {"CL_TYPE_CPIO_OLD", "cpio"},   {"CL_TYPE_CPIO_ODC", "cpio"},
    {"CL_TYPE_CPIO_NEWC", "cpio"},  {"CL_TYPE_CPIO_CRC", "cpio"},   {"CL_TYPE_POSIX_TAR", "tar"},
    {"CL_TYPE_OLD_TAR", "tar"},     {"CL_TYPE_ISO9660", "iso9660"}, {"CL_TYPE_ANY", NULL},
};

static int range(const char *v, size_t n, uint64_t *lo, uint64_t *hi)
{
    const char *dash = memchr(v, '-', n);
    if (!dash)
        return khi_parse_u64(v, n, lo) == 0 && ((*hi = *lo), 1) ? 0 : -1;
    if (khi_parse_u64(v, (size_t)(dash - v), lo) != 0 ||
        khi_parse_u64(dash + 1, n - (size_t)(dash - v) - 1, hi) != 0 || *hi < *lo)
        return -1;
    return 0;
}

/* Returns 1 ok, 0 malformed (reason in why), -1 valid but not supported yet (reason in why). */
static int parse_tdb(const char *t, size_t n, khi_ldb *l, char *why, size_t why_len)
{
    l->fsize_min = l->ep_min = l->ns_min = 0;
    l->fsize_max = l->ep_max = l->ns_max = UINT64_MAX;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && t[j] != ',')
            j++;
        const char *k = t + i, *colon = memchr(k, ':', j - i);
        if (!colon) {
            khi_snprintf(why, why_len, "target description item '%.*s' has no ':'", (int)(j - i), k);
            return 0;
        }
        size_t kl = (size_t)(colon - k), vl = j - i - kl - 1;
        const char *v = colon + 1;
        uint64_t lo, hi;
        if (kl == 6 && !memcmp(k, "Engine", 6)) {
            if (range(v, vl, &lo, &hi) != 0) {
                khi_snprintf(why, why_len, "Engine range '%.*s' is malformed", (int)vl, v);
                return 0;
            }
            if (lo > KHI_FLEVEL || hi < KHI_FLEVEL) {
                khi_snprintf(why, why_len, "signature is for engine functionality levels %llu-%llu",
                             (unsigned long long)lo, (unsigned long long)hi);
                return -1;
            }
        } else if (kl == 6 && !memcmp(k, "Target", 6)) {
            if (khi_parse_u64(v, vl, &lo) != 0 || lo > 14) {
                khi_snprintf(why, why_len, "Target '%.*s' is not a number from 0 to 14", (int)vl, v);
                return 0;
            }
            l->target = (uint16_t)lo;
            if (lo == 8 || lo == 13 || lo == 14) {
                khi_snprintf(why, why_len, "target type %llu is not supported yet",
                             (unsigned long long)lo);
                return -1;
            }
        } else if (kl == 8 && !memcmp(k, "FileSize", 8)) {
            if (range(v, vl, &l->fsize_min, &l->fsize_max) != 0) {
                khi_snprintf(why, why_len, "FileSize range '%.*s' is malformed", (int)vl, v);
                return 0;
            }
        } else if (kl == 9 && !memcmp(k, "Container", 9)) {
            size_t c;
            for (c = 0; c < KHI_ARRAY_LEN(containers); c++)
                if (strlen(containers[c].cl) == vl && !memcmp(containers[c].cl, v, vl))
                    break;
            if (c == KHI_ARRAY_LEN(containers)) {
                khi_snprintf(why, why_len, "container type '%.*s' not supported yet", (int)vl, v);
                return -1;
            }
            l->container = containers[c].label;
        } else if ((kl == 10 && !memcmp(k, "EntryPoint", 10)) ||
                   (kl == 16 && !memcmp(k, "NumberOfSections", 16))) {
            int ep = kl == 10;
            if (range(v, vl, ep ? &l->ep_min : &l->ns_min, ep ? &l->ep_max : &l->ns_max) != 0) {
                khi_snprintf(why, why_len, "%.*s range '%.*s' is malformed", (int)kl, k, (int)vl, v);
                return 0;
            }
            l->pe_keys = 1;
        } else if ((kl >= 9 && !memcmp(k, "IconGroup", 9)) ||
                   (kl == 13 && !memcmp(k, "Intermediates", 13)) ||
                   (kl == 11 && !memcmp(k, "HandlerType", 11))) {
            khi_snprintf(why, why_len, "target description '%.*s' not supported yet", (int)kl, k);
            return -1;
        } else {
            khi_snprintf(why, why_len, "unknown target description item '%.*s'", (int)kl, k);
            return 0;
        }
        i = j + 1;
    }
    return 1;
}

/* One subsignature into b (regex in the patterns pool). 1 ok, 0 malformed, -1 not yet. */
static int parse_subsig(khi_sigdb *db, const char *s, size_t n, khi_bodysig *b, char *why,
                        size_t why_len)
{
    if (memchr(s, '/', n)) {
        khi_snprintf(why, why_len, "PCRE subsignatures are not supported yet");
        return -1;
    }
    if ((n > 2 && s[0] == '$' && s[1] == '{') || (n && s[0] == '(' && memchr(s, '#', n))) {
        khi_snprintf(why, why_len, "macro and byte-compare subsignatures are not supported yet");
        return -1;
    }
    int ci = 0, wide = 0, ascii = 0, full = 0;
    const char *mods = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ':' && s[i + 1] == ':') {
            mods = s + i + 2;
            for (const char *m = mods; m < s + n; m++) {
                if (*m == 'i')
                    ci = 1;
                else if (*m == 'w')
                    wide = 1;
                else if (*m == 'a')
                    ascii = 1;
                else if (*m == 'f')
                    full = 1;
                else {
                    khi_snprintf(why, why_len, "unknown subsignature modifier '%c'", *m);
                    return 0;
                }
            }
            n = i;
            break;
        }
    const char *hex = s;
    size_t hl = n;
    const char *colon = memchr(s, ':', n);
    b->off_kind = KHI_OFF_ANY;
    if (colon) {
        int off = khi_ndb_parse_offset(s, (size_t)(colon - s), b);
        if (off == 0) {
            khi_snprintf(why, why_len, "subsignature offset '%.*s' is malformed", (int)(colon - s), s);
            return 0;
        }
        if (off < 0) {
            khi_snprintf(why, why_len, "offset '%.*s' (version information) is not supported yet",
                         (int)(colon - s), s);
            return -1;
        }
        hex = colon + 1;
        hl = n - (size_t)(hex - s);
    }
    if (full && (b->off_kind != KHI_OFF_ANY || wide || ascii)) {
        khi_snprintf(why, why_len, "'::f' with an offset or wide text is not supported yet");
        return -1;
    }
    khi_buf re;
    khi_buf_init(&re);
    uint64_t lo1 = 0, hi1 = 0, lo2 = 0, hi2 = 0;
    char err[160];
    kh_err e = KH_OK;
    int both = ascii && wide;
    if (both) {
        e = khi_buf_puts(&re, "(?:");
        if (e == KH_OK)
            e = khi_ndb_pattern_to_regex_wide(hex, hl, 0, &re, &lo1, &hi1, err, sizeof(err));
        if (e == KH_OK)
            e = khi_buf_puts(&re, "|");
        if (e == KH_OK)
            e = khi_ndb_pattern_to_regex_wide(hex, hl, 1, &re, &lo2, &hi2, err, sizeof(err));
        if (e == KH_OK)
            e = khi_buf_puts(&re, ")");
        b->minlen = lo1 < lo2 ? lo1 : lo2;
        b->maxlen = hi1 > hi2 ? hi1 : hi2;
    } else {
        if (full)
            e = khi_buf_puts(&re, "(?:^|[^A-Za-z0-9])(?:");
        if (e == KH_OK)
            e = khi_ndb_pattern_to_regex_wide(hex, hl, wide, &re, &b->minlen, &b->maxlen, err,
                                              sizeof(err));
        if (e == KH_OK && full)
            e = khi_buf_puts(&re, ")(?:[^A-Za-z0-9]|$)");
    }
    if (e != KH_OK) {
        khi_buf_cleanup(&re);
        if (e == KH_EFORMAT)
            khi_snprintf(why, why_len, "%s", err);
        return e == KH_EFORMAT ? 0 : -2;
    }
    b->regex = khi_pool_strndup(&db->patterns, re.data, re.len);
    khi_buf_cleanup(&re);
    if (!b->regex)
        return -2;
    b->caseless = (uint8_t)ci;
    return 1;
}

kh_err khi_ldb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n)
{
    const char *f[MAX_SUBSIGS + 4];
    size_t fl[MAX_SUBSIGS + 4], nf = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || line[i] == ';') {
            if (nf == KHI_ARRAY_LEN(f)) {
                khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "more than %d subsignatures",
                               MAX_SUBSIGS);
                return KH_EFORMAT;
            }
            f[nf] = line + start;
            fl[nf++] = i - start;
            start = i + 1;
        }
    }
    if (nf < 4 || fl[0] == 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "expected NAME;TARGET-DESCRIPTION;EXPRESSION;SUBSIG[;SUBSIG...]");
        return KH_EFORMAT;
    }
    const char *nm = f[0];
    int nml = (int)fl[0];
    char why[200];
    khi_ldb l;
    memset(&l, 0, sizeof(l));
    int t = parse_tdb(f[1], fl[1], &l, why, sizeof(why));
    if (t <= 0) {
        khi_sigdb_diag(db, t == 0 ? KH_DIAG_ERROR : KH_DIAG_SKIP, file, lineno, "%.*s: %s", nml, nm, why);
        return t == 0 ? KH_EFORMAT : KH_OK;
    }
    unsigned nsub = (unsigned)(nf - 3);
    khi_lop ops[MAX_OPS];
    int has_counts = 0;
    int nops = khi_ldb_parse_expr(f[2], fl[2], nsub, ops, MAX_OPS, &has_counts, why, sizeof(why));
    if (nops < 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "%.*s: %s", nml, nm, why);
        return KH_EFORMAT;
    }
    khi_bodysig subs[MAX_SUBSIGS];
    int skip = 0;
    for (unsigned k = 0; k < nsub; k++) {
        memset(&subs[k], 0, sizeof(subs[k]));
        int r = parse_subsig(db, f[3 + k], fl[3 + k], &subs[k], why, sizeof(why));
        if (r == -2)
            return KH_ENOMEM;
        if (r == 0) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "%.*s: subsignature %u: %s", nml, nm, k, why);
            return KH_EFORMAT;
        }
        if (r > 0 && KHI_OFF_IS_EXE(subs[k].off_kind)) {
            int ok = khi_ndb_exe_offset_ok(l.target);
            if (ok < 0) {
                khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                               "%.*s: subsignature %u: its offset is relative to an executable's "
                               "layout: valid only with Target:1 (PE), 6 (ELF) or 9 (Mach-O), not %u",
                               nml, nm, k, (unsigned)l.target);
                return KH_EFORMAT;
            }
            if (ok == 0 && !skip) {
                skip = 1;
                khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno,
                               "%.*s: subsignature %u: its offset needs the layout of an %s, which "
                               "this version does not read", nml, nm, k,
                               l.target == 6 ? "ELF file" : "Mach-O file");
            }
        }
        if (r < 0 && !skip) {
            skip = 1;
            khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno, "%.*s: subsignature %u: %s", nml, nm, k, why);
        }
    }
    if (skip)
        return KH_OK;
    l.name = khi_pool_strndup(&db->names, nm, (size_t)nml);
    khi_lop *ex = khi_pool_alloc(&db->names, (size_t)nops * sizeof(khi_lop));
    if (!l.name || !ex)
        return KH_ENOMEM;
    memcpy(ex, ops, (size_t)nops * sizeof(khi_lop));
    l.expr = ex;
    l.nexpr = (uint16_t)nops;
    l.nsub = (uint16_t)nsub;
    if (db->nldbs == db->capldbs) {
        size_t nc = db->capldbs ? db->capldbs * 2 : 64;
        khi_ldb *nl = khi_reallocarray(db->ldbs, nc, sizeof(*nl));
        if (!nl)
            return KH_ENOMEM;
        db->ldbs = nl;
        db->capldbs = nc;
    }
    l.first_sub = (uint32_t)db->nbodies;
    db->ldbs[db->nldbs++] = l;
    for (unsigned k = 0; k < nsub; k++) {
        subs[k].name = l.name;
        subs[k].target = l.target;
        subs[k].sub = (uint16_t)k;
        subs[k].ldb1 = (uint32_t)db->nldbs;
        subs[k].multi = (uint8_t)has_counts;
        if (KHI_OFF_IS_EXE(subs[k].off_kind))
            db->exe_offsets++;
        kh_err e = khi_sigdb_add_body(db, &subs[k]);
        if (e != KH_OK)
            return e;
    }
    return KH_OK;
}
