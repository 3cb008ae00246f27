/*
 * sigdb_ign.c - ignore lists (.ign2): signature names that must not be reported.
 *
 * Form: NAME or NAME:MD5 (ClamAV's optional MD5 of the signature line; accepted and not
 * checked, so an entry ignores every signature of that name). Names are kept here and applied
 * when the engine compiles, so the order in which files are loaded does not matter.
 */
#include "sigdb/sigdb.h"

#include <string.h>

kh_err khi_ign_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n)
{
    const char *colon = memchr(line, ':', n);
    size_t nl = colon ? (size_t)(colon - line) : n;
    while (nl && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
        nl--;
    if (nl == 0) {
        khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno, "empty signature name");
        return KH_EFORMAT;
    }
    if (colon) {
        const char *h = colon + 1;
        size_t hl = (size_t)(line + n - h); /* nl may have dropped blanks before ':' */
        uint8_t tmp[16];
        if (hl != 32 || khi_hex_decode(h, 16, tmp) != 0) {
            khi_sigdb_diag(db, KH_DIAG_ERROR, file, lineno,
                           "expected NAME or NAME:MD5, '%.*s' is not an MD5", (int)hl, h);
            return KH_EFORMAT;
        }
    }
    const char *name = khi_pool_strndup(&db->names, line, nl);
    if (!name)
        return KH_ENOMEM;
    if (db->nignores == db->capignores) {
        size_t ncap = db->capignores ? db->capignores * 2 : 32;
        const char **ni = khi_reallocarray(db->ignores, ncap, sizeof(*ni));
        if (!ni)
            return KH_ENOMEM;
        db->ignores = ni;
        db->capignores = ncap;
    }
    db->ignores[db->nignores++] = name;
    return KH_OK;
}
