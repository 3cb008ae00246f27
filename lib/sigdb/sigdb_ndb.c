/*
 * sigdb_ndb.c - body signatures (.ndb) and ClamAV's hex pattern language.
 *
 * Line form: NAME:TARGET:OFFSET:HEX[:MIN_FLEVEL[:MAX_FLEVEL]]
 *   TARGET  0 any, 1 PE, 2 OLE2, 3 HTML, 4 mail, 5 graphics, 6 ELF, 7 text, 9 Mach-O, 10 PDF,
 *           11 Flash, 12 Java class (8, 13 and 14 are skipped). As in ClamAV, 3 and 7 never see
 *           the raw bytes: lib/scan matches them against the normalised views of HTML pages
 *           (no-comment, no-tags) and of text objects (lib/formats/fmt_htmlnorm.c,
 *           fmt_textnorm.c); 4 matches the raw bytes of mail.
 *   OFFSET  "*", "n", "n,m" (start in [n, n+m]), "EOF-n", "EOF-n,m", and relative to the
 *           executable's layout, each also with ",m": "EP+n"/"EP-n" (the entry point's file
 *           offset), "Sx+n" (section x's raw start, x from 0), "SL+n" (the last section's), and
 *           "SEx" (a start anywhere in section x's raw data, or up to m bytes past it). As in
 *           ClamAV (cli_caloff) these are valid only for targets 1 PE, 6 ELF and 9 Mach-O; this
 *           version has the PE layout (lib/formats/fmt_pe.c) only, so ELF and Mach-O ones are
 *           counted as skipped, and an object that is not a PE never matches them. "VI"
 *           (version information) is skipped too.
 *
 * The hex pattern is translated into one Vectorscan expression (compiled with HS_FLAG_DOTALL,
 * so "." is any byte): bytes become \xHH, "??" is ".", nibble wildcards "a?"/"?a" become
 * classes, gaps "*", "{n}", "{n-m}", "{-n}", "{n-}", "[n-m]" become bounded repeats, and
 * "(aa|bbcc)" alternatives a non-capturing group ("!(aa|bb)" a negated class). Vectorscan then
 * checks the whole pattern itself; only offsets are checked after a match (lib/match).
 * Like ClamAV, a pattern must hold a run of at least two fixed bytes and may not begin or end
 * with a gap.
 */
#include "sigdb/sigdb.h"

#include <string.h>

#define MAX_PATTERN_CHARS 65536
#define MAX_GAP 32767u /* Vectorscan's largest bounded repeat */

typedef struct conv {
    khi_buf *out;
    unsigned f; /* bytes per pattern byte: 1, or 2 for the "wide" (UTF-16LE) form */
    uint64_t minlen, maxlen;
    size_t run, best_run;
    char *err;
    size_t err_len;
} conv;

static void add_len(conv *c, uint64_t lo, uint64_t hi)
{
    c->minlen += lo;
    if (c->maxlen != KHI_LEN_INF)
        c->maxlen = hi == KHI_LEN_INF ? KHI_LEN_INF : c->maxlen + hi;
}

/* "\xHH"; written by hand, as this runs for every byte of every pattern at start-up. */
static kh_err emit_byte(khi_buf *out, unsigned b)
{
    static const char digits[] = "0123456789abcdef";
    char s[4] = {'\\', 'x', digits[(b >> 4) & 15], digits[b & 15]};
    return khi_buf_append(out, s, 4);
}

/* One byte-sized atom at s[*i]: "xy", "??", "x?", "?x" (followed by a NUL byte when wide).
 * Sets *literal when fixed. Returns KH_OK, KH_EFORMAT (not an atom at this position; nothing
 * consumed), KH_ENOMEM. */
static kh_err atom(const char *s, size_t n, size_t *i, khi_buf *out, int *literal, int wide)
{
    if (*i + 1 >= n)
        return KH_EFORMAT;
    int a = s[*i], b = s[*i + 1];
    int ha = khi_hexval(a), hb = khi_hexval(b);
    kh_err err;
    if (ha >= 0 && hb >= 0) {
        *literal = 1;
        err = emit_byte(out, (unsigned)(ha << 4 | hb));
    } else if (a == '?' && b == '?') {
        *literal = 0;
        err = khi_buf_puts(out, ".");
    } else if (ha >= 0 && b == '?') {
        *literal = 0;
        err = khi_buf_printf(out, "[\\x%x0-\\x%xf]", ha, ha);
    } else if (a == '?' && hb >= 0) {
        *literal = 0;
        err = khi_buf_puts(out, "[");
        for (int h = 0; h < 16 && err == KH_OK; h++)
            err = emit_byte(out, (unsigned)(h << 4 | hb));
        if (err == KH_OK)
            err = khi_buf_puts(out, "]");
    } else {
        return KH_EFORMAT;
    }
    if (err == KH_OK && wide)
        err = emit_byte(out, 0);
    if (err == KH_OK)
        *i += 2;
    return err;
}

/* Parses a decimal at s[*i] up to a delimiter; returns -1 when none. */
static int number(const char *s, size_t n, size_t *i, uint64_t *v)
{
    size_t st = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    if (*i == st)
        return -1;
    return khi_parse_u64(s + st, *i - st, v);
}

static kh_err fail(conv *c, const char *fmt, size_t pos, int ch)
{
    char what[32];
    if (ch >= 0x20 && ch < 0x7f)
        khi_snprintf(what, sizeof(what), "'%c'", ch);
    else if (ch >= 0)
        khi_snprintf(what, sizeof(what), "byte 0x%02x", ch & 0xff);
    else
        khi_snprintf(what, sizeof(what), "end of pattern");
    khi_snprintf(c->err, c->err_len, fmt, what, pos + 1);
    return KH_EFORMAT;
}

/* "{n}", "{n-m}", "{-n}", "{n-}" at s[*i] == '{', or "[n-m]" when close == ']'. */
static kh_err gap(conv *c, const char *s, size_t n, size_t *i, char close)
{
    size_t start = *i;
    uint64_t lo = 0, hi = 0;
    int has_lo, has_hi, dash = 0;
    (*i)++;
    has_lo = number(s, n, i, &lo) == 0;
    if (*i < n && s[*i] == '-') {
        dash = 1;
        (*i)++;
        has_hi = number(s, n, i, &hi) == 0;
    } else {
        has_hi = has_lo;
        hi = lo;
    }
    if (*i >= n || s[*i] != close || (!has_lo && !has_hi) || (close == ']' && (!has_lo || !has_hi)))
        return fail(c, "malformed gap: unexpected %s at position %zu", *i, *i < n ? (unsigned char)s[*i] : -1);
    (*i)++;
    if (!has_lo)
        lo = 0;
    if ((has_hi && hi < lo) || lo > MAX_GAP || (has_hi && hi > MAX_GAP)) {
        khi_snprintf(c->err, c->err_len, "gap at position %zu: bounds must be 0 <= n <= m <= %u",
                     start + 1, MAX_GAP);
        return KH_EFORMAT;
    }
    kh_err err = KH_OK;
    lo *= c->f;
    hi *= c->f;
    if ((!dash || has_hi) && hi == 0) {
        /* "{0}", "{0-0}", "{-0}", "[0-0]": no gap at all (Vectorscan rejects ".{0}") */
    } else if (!dash || (has_hi && hi == lo)) {
        err = khi_buf_printf(c->out, ".{%llu}", (unsigned long long)lo);
        add_len(c, lo, lo);
    } else if (has_hi) {
        err = khi_buf_printf(c->out, ".{%llu,%llu}", (unsigned long long)lo, (unsigned long long)hi);
        add_len(c, lo, hi);
    } else {
        err = khi_buf_printf(c->out, ".{%llu,}", (unsigned long long)lo);
        add_len(c, lo, KHI_LEN_INF);
    }
    c->run = 0;
    return err;
}

/* "(alt|alt...)" at s[*i] == '(' ; negate for "!(" form (single bytes only). */
static kh_err alternatives(conv *c, const char *s, size_t n, size_t *i, int negate)
{
    size_t open = *i;
    (*i)++;
    if (*i + 1 < n && s[*i + 1] == ')' && (s[*i] == 'B' || s[*i] == 'L')) {
        khi_snprintf(c->err, c->err_len,
                     "boundary marker (%c) at position %zu is not supported yet", s[*i], open + 1);
        return KH_EFORMAT;
    }
    kh_err err = khi_buf_puts(c->out, negate ? "[^" : "(?:");
    uint64_t amin = KHI_LEN_INF, amax = 0, len = 0;
    size_t nalts = 0;
    for (;;) {
        if (*i >= n)
            return fail(c, "unclosed alternative group: unexpected %s at position %zu", *i, -1);
        char ch = s[*i];
        if (ch == '|' || ch == ')') {
            if (len == 0)
                return fail(c, "empty alternative: unexpected %s at position %zu", *i, (unsigned char)ch);
            if (len < amin)
                amin = len;
            if (len > amax)
                amax = len;
            nalts++;
            len = 0;
            (*i)++;
            if (ch == ')')
                break;
            if (!negate && err == KH_OK)
                err = khi_buf_puts(c->out, "|");
            continue;
        }
        int lit = 0;
        size_t at = *i;
        kh_err e2 = atom(s, n, i, c->out, &lit, c->f == 2 && !negate);
        if (e2 == KH_ENOMEM)
            return e2;
        if (e2 != KH_OK)
            return fail(c, "unexpected %s at position %zu inside alternatives", at, (unsigned char)s[at]);
        if (negate && (!lit || len > 0)) {
            khi_snprintf(c->err, c->err_len,
                         "negated alternatives at position %zu must be single fixed bytes",
                         open + 1);
            return KH_EFORMAT;
        }
        len++;
    }
    if (err == KH_OK)
        err = khi_buf_puts(c->out, negate ? "]" : ")");
    if (err == KH_OK && negate && c->f == 2)
        err = emit_byte(c->out, 0);
    if (nalts < 2 && !negate) {
        khi_snprintf(c->err, c->err_len, "alternative group at position %zu has one choice",
                     open + 1);
        return KH_EFORMAT;
    }
    add_len(c, amin * c->f, amax * c->f);
    c->run = 0;
    return err;
}

kh_err khi_ndb_pattern_to_regex(const char *s, size_t n, khi_buf *out, uint64_t *out_minlen,
                                uint64_t *out_maxlen, char *err_text, size_t err_len)
{
    return khi_ndb_pattern_to_regex_wide(s, n, 0, out, out_minlen, out_maxlen, err_text, err_len);
}

kh_err khi_ndb_pattern_to_regex_wide(const char *s, size_t n, int wide, khi_buf *out,
                                     uint64_t *out_minlen, uint64_t *out_maxlen, char *err_text,
                                     size_t err_len)
{
    conv c = {out, wide ? 2u : 1u, 0, 0, 0, 0, err_text, err_len};
    kh_err err = KH_OK;
    if (n == 0) {
        khi_snprintf(err_text, err_len, "empty pattern");
        return KH_EFORMAT;
    }
    if (n > MAX_PATTERN_CHARS) {
        khi_snprintf(err_text, err_len, "pattern longer than %d characters", MAX_PATTERN_CHARS);
        return KH_EFORMAT;
    }
    if (s[0] == '*' || s[0] == '{' || s[0] == '[' || s[n - 1] == '*' || s[n - 1] == '}' ||
        s[n - 1] == ']') {
        khi_snprintf(err_text, err_len, "pattern may not begin or end with a gap");
        return KH_EFORMAT;
    }
    size_t i = 0;
    while (i < n && err == KH_OK) {
        char ch = s[i];
        if (ch == '*') {
            err = khi_buf_puts(out, ".*");
            add_len(&c, 0, KHI_LEN_INF);
            c.run = 0;
            i++;
            if (i < n && (s[i] == '*' || s[i] == '{' || s[i] == '['))
                return fail(&c, "two gaps in a row: unexpected %s at position %zu", i, (unsigned char)s[i]);
        } else if (ch == '{' || ch == '[') {
            err = gap(&c, s, n, &i, ch == '{' ? '}' : ']');
            if (err == KH_OK && i < n && (s[i] == '*' || s[i] == '{' || s[i] == '['))
                return fail(&c, "two gaps in a row: unexpected %s at position %zu", i, (unsigned char)s[i]);
        } else if (ch == '(') {
            err = alternatives(&c, s, n, &i, 0);
        } else if (ch == '!' && i + 1 < n && s[i + 1] == '(') {
            i++;
            err = alternatives(&c, s, n, &i, 1);
        } else {
            int lit = 0;
            size_t at = i;
            err = atom(s, n, &i, out, &lit, c.f == 2);
            if (err == KH_EFORMAT) {
                if (at + 1 >= n)
                    return fail(&c, "unexpected %s at position %zu (odd number of hex digits?)",
                                at + 1, -1);
                size_t bad = (khi_hexval((unsigned char)s[at]) >= 0 || s[at] == '?') ? at + 1 : at;
                return fail(&c, "unexpected %s at position %zu", bad, (unsigned char)s[bad]);
            }
            add_len(&c, c.f, c.f);
            if (lit) {
                c.run++;
                if (c.run > c.best_run)
                    c.best_run = c.run;
            } else {
                c.run = 0;
            }
        }
    }
    if (err != KH_OK)
        return err;
    if (c.best_run < 2) {
        khi_snprintf(err_text, err_len, "pattern needs at least two fixed bytes in a row");
        return KH_EFORMAT;
    }
    *out_minlen = c.minlen;
    *out_maxlen = c.maxlen;
    return KH_OK;
}

/* "EP+n", "EP-n", "Sx+n", "SL+n", "SEx" (without ",m"), as ClamAV's cli_caloff reads them. */
static int exe_offset(const char *s, size_t n, khi_bodysig *b)
{
    size_t i;
    uint64_t x = 0;
    if (n > 3 && s[0] == 'E' && s[1] == 'P' && (s[2] == '+' || s[2] == '-')) {
        b->off_kind = s[2] == '+' ? KHI_OFF_EP_PLUS : KHI_OFF_EP_MINUS;
        i = 3;
    } else if (n > 2 && s[0] == 'S' && s[1] == 'E') {
        i = 2;
        if (number(s, n, &i, &x) != 0 || i != n)
            return 0;
        b->off_kind = KHI_OFF_SE;
        b->sect = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x; /* never matches, as in ClamAV */
        b->off = 0;
        return 1;
    } else if (n > 3 && s[0] == 'S' && s[1] == 'L' && s[2] == '+') {
        b->off_kind = KHI_OFF_SL;
        i = 3;
    } else if (n > 1 && s[0] == 'S') {
        i = 1;
        if (number(s, n, &i, &x) != 0 || i >= n || s[i] != '+')
            return 0;
        i++;
        b->off_kind = KHI_OFF_SX;
        b->sect = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
    } else {
        return 0;
    }
    return number(s, n, &i, &b->off) == 0 && i == n && b->off <= (1ull << 40);
}

int khi_ndb_parse_offset(const char *s, size_t n, khi_bodysig *b)
{
    size_t i = 0;
    if (n == 1 && s[0] == '*') {
        b->off_kind = KHI_OFF_ANY;
        return 1;
    }
    if (n >= 2 && memcmp(s, "VI", 2) == 0)
        return -1;
    /* ",m" first, then what it shifts */
    const char *comma = memchr(s, ',', n);
    size_t base = comma ? (size_t)(comma - s) : n;
    b->shift = 0;
    if (comma) {
        i = base + 1;
        if (number(s, n, &i, &b->shift) != 0 || i != n)
            return 0;
    }
    if (base >= 2 && (s[0] == 'S' || memcmp(s, "EP", 2) == 0))
        return exe_offset(s, base, b) && b->shift <= UINT32_MAX;
    i = 0;
    if (base > 4 && memcmp(s, "EOF-", 4) == 0) {
        b->off_kind = KHI_OFF_EOF;
        i = 4;
    } else {
        b->off_kind = KHI_OFF_ABS;
    }
    if (number(s, base, &i, &b->off) != 0 || i != base || b->off > (1ull << 40) ||
        b->shift > MAX_GAP)
        return 0;
    return 1;
}

int khi_ndb_exe_offset_ok(unsigned target)
{
    return target == 1 ? 1 : (target == 6 || target == 9) ? 0 : -1;
}

static int target_supported(unsigned t)
{
    switch (t) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 10: case 11:
    case 12:
        return 1;
    default:
        return 0;
    }
}

kh_err khi_ndb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n)
{
    const char *f[7];
    size_t fl[7], nf = 0, start = 0;
    for (size_t i = 0; i <= n && nf < 7; i++) {
        if (i == n || line[i] == ':') {
            f[nf] = line + start;
            fl[nf++] = i - start;
            start = i + 1;
        }
    }
    if (nf < 4 || nf > 6) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "expected NAME:TARGET:OFFSET:HEX[:MINFL[:MAXFL]], found %zu field(s)", nf);
        return KH_EFORMAT;
    }
    if (fl[0] == 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "signature name is empty");
        return KH_EFORMAT;
    }
    khi_bodysig b;
    memset(&b, 0, sizeof(b));
    uint64_t target;
    if (khi_parse_u64(f[1], fl[1], &target) != 0 || target > 14) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "%.*s: target type '%.*s' is not a number from 0 to 14", (int)fl[0], f[0],
                       (int)fl[1], f[1]);
        return KH_EFORMAT;
    }
    b.target = (uint16_t)target;
    int off = khi_ndb_parse_offset(f[2], fl[2], &b);
    if (off == 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "%.*s: offset '%.*s' is malformed (expected *, n, EOF-n, EP+n, EP-n, Sx+n, "
                       "SL+n or SEx, each optionally followed by ,m)",
                       (int)fl[0], f[0], (int)fl[2], f[2]);
        return KH_EFORMAT;
    }
    int exe = off > 0 && KHI_OFF_IS_EXE(b.off_kind) ? khi_ndb_exe_offset_ok(b.target) : 1;
    if (exe < 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                       "%.*s: offset '%.*s' is relative to an executable's layout: valid only for "
                       "target type 1 (PE), 6 (ELF) or 9 (Mach-O), not %u",
                       (int)fl[0], f[0], (int)fl[2], f[2], (unsigned)b.target);
        return KH_EFORMAT;
    }
    for (size_t k = 4; k < nf; k++) {
        uint64_t v;
        if (fl[k] && khi_parse_u64(f[k], fl[k], &v) != 0) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                           "%.*s: functionality level '%.*s' is not a number", (int)fl[0], f[0],
                           (int)fl[k], f[k]);
            return KH_EFORMAT;
        }
        if (fl[k] && ((k == 4 && v > KHI_FLEVEL) || (k == 5 && v < KHI_FLEVEL))) {
            khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno,
                           "%.*s: signature is for engine functionality level %s %llu",
                           (int)fl[0], f[0], k == 4 ? ">=" : "<=", (unsigned long long)v);
            return KH_OK;
        }
    }
    char why[160];
    khi_buf re;
    khi_buf_init(&re);
    kh_err err = khi_ndb_pattern_to_regex(f[3], fl[3], &re, &b.minlen, &b.maxlen, why, sizeof(why));
    if (err != KH_OK) {
        khi_buf_cleanup(&re);
        if (err == KH_EFORMAT)
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "%.*s: %s", (int)fl[0], f[0], why);
        return err;
    }
    /* Validated in full before deciding it cannot be used yet, so a bad line is an error. */
    if (off < 0 || exe == 0 || !target_supported(b.target)) {
        khi_buf_cleanup(&re);
        if (off < 0)
            khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno,
                           "%.*s: offset '%.*s' (version information) is not supported yet",
                           (int)fl[0], f[0], (int)fl[2], f[2]);
        else if (exe == 0)
            khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno,
                           "%.*s: offset '%.*s' needs the layout of an %s, which this version does "
                           "not read", (int)fl[0], f[0], (int)fl[2], f[2],
                           b.target == 6 ? "ELF file" : "Mach-O file");
        else
            khi_sigdb_diag(db, KH_DIAG_SKIP, file, lineno,
                           "%.*s: target type %u is not supported yet",
                           (int)fl[0], f[0], (unsigned)b.target);
        return KH_OK;
    }
    b.name = khi_pool_strndup(&db->names, f[0], fl[0]);
    b.regex = khi_pool_strndup(&db->patterns, re.data, re.len);
    khi_buf_cleanup(&re);
    if (!b.name || !b.regex)
        return KH_ENOMEM;
    if (KHI_OFF_IS_EXE(b.off_kind))
        db->exe_offsets++;
    return khi_sigdb_add_body(db, &b);
}
