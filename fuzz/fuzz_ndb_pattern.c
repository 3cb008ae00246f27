/*
 * fuzz_ndb_pattern.c - ClamAV hex body patterns translated into Vectorscan expressions.
 *
 * khi_ndb_pattern_to_regex (lib/sigdb/sigdb_ndb.c) is a hand-written parser of ClamAV's
 * pattern language (bytes, nibble wildcards, gaps, alternatives) that emits regular-expression
 * text, so besides memory errors it can go wrong by emitting an expression that does not mean
 * what the pattern says. The input is a pattern; when the translator accepts it, the
 * expression is compiled with Vectorscan as the engine does (HS_FLAG_DOTALL, block mode), and
 * two properties are checked:
 *   - Vectorscan accepts it: an accepted pattern whose expression Vectorscan rejects is a
 *     translator bug (the engine would drop the signature at compile time), except when
 *     Vectorscan says a resource limit was hit (very large bounded repeats), which is noted
 *     with KH_FUZZ_VERBOSE=1 and not treated as a finding;
 *   - the match length bounds the translator reports (used to place offset signatures) equal
 *     the widths Vectorscan computes for the expression.
 * Vectorscan needs seconds (tens under ASan) and a gigabyte to compile bounded repeats of
 * thousands of bytes, so expressions whose repeat bounds add up past MAX_BOUNDED are only
 * translated, not compiled: the translator does the same work for {20} and {20000}.
 */
#include "sigdb/sigdb.h"

#include <hs/hs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BOUNDED 2048

static int verbose = -1;

static void report(const uint8_t *pat, size_t n, const char *expr, const char *what)
{
    fprintf(stderr, "fuzz_ndb_pattern: %s\n  pattern:    %.*s\n  expression: %s\n", what,
            (int)n, (const char *)pat, expr);
}

/* The sum of the largest bound of every repeat ".{n}", ".{n,m}", ".{n,}" in expr. */
static unsigned long long repeat_total(const char *expr)
{
    unsigned long long total = 0;
    for (const char *p = strchr(expr, '{'); p; p = strchr(p + 1, '{')) {
        unsigned long long v = 0, top = 0;
        for (p++; *p && *p != '}'; p++) {
            if (*p >= '0' && *p <= '9') {
                v = v * 10 + (unsigned)(*p - '0');
                if (v > top)
                    top = v;
            } else {
                v = 0;
            }
        }
        total += top;
        if (!*p)
            break;
    }
    return total;
}

/* Vectorscan's own limits, not a translator bug. */
static int resource_limit(const char *msg)
{
    return strstr(msg, "Resource limit exceeded") != NULL ||
           strstr(msg, "too large") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (verbose < 0) {
        const char *v = getenv("KH_FUZZ_VERBOSE");
        verbose = v && *v == '1';
    }
    /* a copy of exactly the pattern's size, so that ASan sees any read past its end */
    char *pat = malloc(size ? size : 1);
    if (!pat)
        abort();
    memcpy(pat, data, size);
    khi_buf re;
    khi_buf_init(&re);
    uint64_t minlen = 0, maxlen = 0;
    char why[160];
    why[0] = '\0';
    kh_err err = khi_ndb_pattern_to_regex(pat, size, &re, &minlen, &maxlen, why, sizeof(why));
    if (err == KH_ENOMEM)
        abort();
    if (err != KH_OK) {
        if (!why[0] || !memchr(why, '\0', sizeof(why)))
            abort(); /* every rejection has a reason */
        goto out;
    }
    if (!re.data || strlen(re.data) != re.len)
        abort();
    if (repeat_total(re.data) > MAX_BOUNDED)
        goto out;
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_compile(re.data, HS_FLAG_DOTALL, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
        const char *msg = ce ? ce->message : "(no message)";
        if (resource_limit(msg)) {
            if (verbose)
                report(data, size, re.data, msg);
        } else {
            report(data, size, re.data, msg);
            abort();
        }
        hs_free_compile_error(ce);
        goto out;
    }
    hs_free_database(db);
    hs_expr_info_t *info = NULL;
    if (hs_expression_info(re.data, HS_FLAG_DOTALL, &info, &ce) != HS_SUCCESS) {
        report(data, size, re.data, ce ? ce->message : "hs_expression_info failed");
        abort();
    }
    uint64_t hs_max = info->max_width == UINT_MAX ? KHI_LEN_INF : info->max_width;
    if (info->min_width != minlen || hs_max != maxlen) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "length bounds differ: translator [%llu, %llu], Vectorscan [%u, %u]",
                 (unsigned long long)minlen, (unsigned long long)maxlen, info->min_width,
                 info->max_width);
        report(data, size, re.data, msg);
        abort();
    }
    free(info);
out:
    khi_buf_cleanup(&re);
    free(pat);
    return 0;
}
