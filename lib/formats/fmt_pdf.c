/*
 * fmt_pdf.c - PDF documents: every stream decoded, the objects of object streams, JavaScript
 * and embedded files.
 *
 * A malicious PDF carries its payload where a scan of the raw bytes does not see it: in a
 * compressed stream (JavaScript, an embedded executable, shell code), in an object packed
 * into a compressed object stream, or in a /JS string written with escapes. The walker finds
 * objects by scanning the whole file for "N G obj" headers, never through the xref table,
 * so a broken or missing xref changes nothing and each incremental update's copy of an object
 * is simply one more part. Parts:
 *  - "obj-N" ("obj-N.G" when the generation is not 0): each stream, decoded by its /Filter
 *    chain (fmt_pdf_filter.c; names may be abbreviated or #-escaped); a filter this module does
 *    not decode (DCT, JBIG2, CCITT, JPX, Crypt) ends the chain there;
 *  - "objstm-N/obj-M": the text of object M inside the object stream N (/Type /ObjStm), which
 *    is not handed out whole; object streams are expanded one level (their objects cannot be
 *    streams, and nothing inside them is searched for headers);
 *  - "js-N" (then "js-N-2"...): each /JS string of object N, literal (escapes decoded) or hex;
 *    a /JS stream is named "js-N" instead of "obj-N";
 *  - a stream referenced from the /EF dictionary of a file specification is named by the
 *    file name (/UF, else /F) found in the same object.
 * Encrypted documents (/Encrypt in a trailer or an xref stream): when the Standard security
 * handler opens them with the empty user password (fmt_pdf_crypt.c; what every reader does
 * without asking, and how malware is usually "encrypted"), each stream is decrypted before its
 * filters, and the strings of objects outside object streams before they are read (/JS, file
 * names); cross-reference streams, and metadata when /EncryptMetadata is false, are not
 * encrypted. Otherwise (a user password, another handler) the file is reported encrypted once,
 * and each stream is handed out raw, unless its filter chain decodes it without a single
 * error (which encrypted data never does), so that a fake /Encrypt key does not switch
 * decoding off.
 *
 * Bounds: one pass over the file for headers with cursors for "endobj" and "endstream" that
 * only move forward, so the indexing is linear; each object's dictionary is parsed only up to
 * its "endobj" or the next header. At most 100000 objects. Decoding stops at 64 MiB per stream,
 * 64 MiB per file, and at 1000 times a stream's encoded size once past 1 MiB; each stop is
 * reported through the part callback (its warn callback) before the cut part is
 * handed out. Memory: the object index (about 48 bytes an object) plus the decoder buffers,
 * at most the caps.
 */
#include "formats/formats.h"
#include "formats/fmt_pdf.h"
#include "core/core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJECTS 100000
#define MAX_STREAM (64u << 20)
#define MAX_TOTAL (64u << 20)
#define MAX_FILTERS 8
#define NO_POS SIZE_MAX

int khi_pdf_detect(const uint8_t *data, size_t len)
{
    size_t lim = len < 1024 ? len : 1024;
    return lim >= 5 && memmem(data, lim, "%PDF-", 5) != NULL;
}

/* ---- lexer ---- */

enum { T_END, T_NAME, T_INT, T_STR, T_HEX, T_DOPEN, T_DCLOSE, T_AOPEN, T_ACLOSE, T_WORD, T_JUNK };

typedef struct tok {
    int t;
    size_t s, e; /* [s, e) in the text; a name without its '/' */
} tok;

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

static int is_delim(uint8_t c)
{
    return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' ||
           c == '}' || c == '/' || c == '%';
}

static size_t skip_ws(const uint8_t *d, size_t n, size_t i)
{
    while (i < n) {
        if (is_ws(d[i])) {
            i++;
        } else if (d[i] == '%') {
            while (i < n && d[i] != '\n' && d[i] != '\r')
                i++;
        } else {
            break;
        }
    }
    return i;
}

/* The end of the literal string that opens at i (after its ')', or n). */
static size_t str_end(const uint8_t *d, size_t n, size_t i)
{
    int depth = 0;
    for (; i < n; i++) {
        if (d[i] == '\\')
            i++;
        else if (d[i] == '(')
            depth++;
        else if (d[i] == ')' && --depth == 0)
            return i + 1;
    }
    return n;
}

static void lex(const uint8_t *d, size_t n, size_t *pos, tok *t)
{
    size_t i = skip_ws(d, n, *pos);
    t->s = i;
    if (i >= n) {
        t->t = T_END;
        t->e = *pos = n;
        return;
    }
    uint8_t c = d[i];
    size_t j = i + 1;
    if (c == '/') {
        while (j < n && !is_ws(d[j]) && !is_delim(d[j]))
            j++;
        t->t = T_NAME;
        t->s = i + 1;
    } else if (c == '(') {
        j = str_end(d, n, i);
        t->t = T_STR;
    } else if (c == '<' && j < n && d[j] == '<') {
        j++;
        t->t = T_DOPEN;
    } else if (c == '<') {
        const uint8_t *gt = memchr(d + j, '>', n - j);
        j = gt ? (size_t)(gt - d) + 1 : n;
        t->t = T_HEX;
    } else if (c == '>' && j < n && d[j] == '>') {
        j++;
        t->t = T_DCLOSE;
    } else if (c == '[') {
        t->t = T_AOPEN;
    } else if (c == ']') {
        t->t = T_ACLOSE;
    } else if (is_delim(c)) {
        t->t = T_JUNK;
    } else {
        int digits = isdigit(c) || c == '+' || c == '-';
        while (j < n && !is_ws(d[j]) && !is_delim(d[j])) {
            digits = digits && isdigit(d[j]);
            j++;
        }
        t->t = digits && isdigit(d[j - 1]) ? T_INT : T_WORD;
    }
    t->e = j;
    *pos = j;
}

/* A name with its #xx escapes decoded, cut to out_len - 1 bytes. */
static size_t name_of(const uint8_t *d, const tok *t, char *out, size_t out_len)
{
    size_t k = 0;
    for (size_t i = t->s; i < t->e && k + 1 < out_len; i++) {
        int hi, lo;
        if (d[i] == '#' && i + 2 < t->e && (hi = khi_hexval(d[i + 1])) >= 0 &&
            (lo = khi_hexval(d[i + 2])) >= 0) {
            out[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[k++] = (char)d[i];
        }
    }
    out[k] = '\0';
    return k;
}

static int name_is(const uint8_t *d, const tok *t, const char *want)
{
    char buf[64];
    if (t->t != T_NAME)
        return 0;
    name_of(d, t, buf, sizeof(buf));
    return strcmp(buf, want) == 0;
}

static int word_is(const uint8_t *d, const tok *t, const char *want)
{
    size_t l = strlen(want);
    return t->t == T_WORD && t->e - t->s == l && memcmp(d + t->s, want, l) == 0;
}

static int64_t int_of(const uint8_t *d, const tok *t)
{
    int64_t v = 0;
    size_t i = t->s;
    int neg = d[i] == '-';
    if (d[i] == '-' || d[i] == '+')
        i++;
    for (; i < t->e; i++)
        v = v < (INT64_C(1) << 40) ? v * 10 + (d[i] - '0') : v;
    return neg ? -v : v;
}

/* At *pos, "N G R"? Consumes it and gives N when so. */
static int ref_at(const uint8_t *d, size_t n, size_t *pos, uint32_t *out_num)
{
    size_t i = *pos;
    tok a, b, c;
    lex(d, n, &i, &a);
    if (a.t != T_INT)
        return 0;
    lex(d, n, &i, &b);
    if (b.t != T_INT)
        return 0;
    lex(d, n, &i, &c);
    if (!word_is(d, &c, "R"))
        return 0;
    int64_t v = int_of(d, &a);
    if (v < 0 || v > UINT32_MAX)
        return 0;
    *out_num = (uint32_t)v;
    *pos = i;
    return 1;
}

/* Skip one value at *pos (a reference is one value). */
static void skip_value(const uint8_t *d, size_t n, size_t *pos)
{
    uint32_t num;
    if (ref_at(d, n, pos, &num))
        return;
    tok t;
    int depth = 0;
    do {
        lex(d, n, pos, &t);
        if (t.t == T_DOPEN || t.t == T_AOPEN)
            depth++;
        else if (t.t == T_DCLOSE || t.t == T_ACLOSE)
            depth--;
    } while (depth > 0 && t.t != T_END);
}

/* In the dictionary opening at dict ("<<"), the position of key's value, or NO_POS. */
static size_t dict_get(const uint8_t *d, size_t n, size_t dict, const char *key)
{
    size_t i = dict + 2;
    tok t;
    for (;;) {
        lex(d, n, &i, &t);
        if (t.t == T_END || t.t == T_DCLOSE)
            return NO_POS;
        if (t.t != T_NAME)
            continue;
        if (name_is(d, &t, key))
            return i;
        skip_value(d, n, &i);
    }
}

/* A direct integer (not a reference) at pos. */
static int int_at(const uint8_t *d, size_t n, size_t pos, int64_t *out)
{
    uint32_t num;
    size_t i = pos;
    if (pos == NO_POS || ref_at(d, n, &i, &num))
        return 0;
    tok t;
    lex(d, n, &pos, &t);
    if (t.t != T_INT)
        return 0;
    *out = int_of(d, &t);
    return 1;
}

static int dict_int(const uint8_t *d, size_t n, size_t dict, const char *key, int64_t *out)
{
    return int_at(d, n, dict_get(d, n, dict, key), out);
}

static int dict_name_is(const uint8_t *d, size_t n, size_t dict, const char *key, const char *want)
{
    size_t i = dict_get(d, n, dict, key);
    tok t;
    if (i == NO_POS)
        return 0;
    lex(d, n, &i, &t);
    return name_is(d, &t, want);
}

/* ---- strings ---- */

/* Decode the literal (T_STR) or hex (T_HEX) string t into out (at least t->e - t->s bytes). */
static size_t string_of(const uint8_t *d, const tok *t, uint8_t *out)
{
    size_t k = 0;
    if (t->t == T_HEX) {
        int hi = -1;
        for (size_t i = t->s + 1; i < t->e && d[i] != '>'; i++) {
            int v = khi_hexval(d[i]);
            if (v < 0)
                continue;
            if (hi < 0) {
                hi = v;
            } else {
                out[k++] = (uint8_t)(hi << 4 | v);
                hi = -1;
            }
        }
        if (hi >= 0)
            out[k++] = (uint8_t)(hi << 4);
        return k;
    }
    size_t end = t->e;
    if (end > t->s + 1 && d[end - 1] == ')')
        end--; /* the closing parenthesis; a string cut by the end of the file has none */
    for (size_t i = t->s + 1; i < end; i++) {
        uint8_t c = d[i];
        if (c != '\\' || i + 1 >= end) {
            out[k++] = c;
            continue;
        }
        c = d[++i];
        switch (c) {
        case 'n':
            out[k++] = '\n';
            break;
        case 'r':
            out[k++] = '\r';
            break;
        case 't':
            out[k++] = '\t';
            break;
        case 'b':
            out[k++] = '\b';
            break;
        case 'f':
            out[k++] = '\f';
            break;
        case '\r':
            if (i + 1 < end && d[i + 1] == '\n')
                i++;
            break; /* a line continuation */
        case '\n':
            break;
        default:
            if (c >= '0' && c <= '7') {
                unsigned v = (unsigned)(c - '0');
                for (int j = 0; j < 2 && i + 1 < end && d[i + 1] >= '0' && d[i + 1] <= '7'; j++)
                    v = v * 8 + (unsigned)(d[++i] - '0');
                out[k++] = (uint8_t)v;
            } else {
                out[k++] = c; /* \( \) \\ and any other escaped byte */
            }
        }
    }
    return k;
}

/* A file name for a part: UTF-16BE (with its BOM) as UTF-8, the base name, no '/' or
 * control characters. */
static void file_name(const uint8_t *s, size_t n, char *out, size_t out_len)
{
    size_t k = 0;
    if (n >= 2 && s[0] == 0xfe && s[1] == 0xff) {
        for (size_t i = 2; i + 1 < n && k + 4 < out_len; i += 2) {
            unsigned cp = (unsigned)s[i] << 8 | s[i + 1];
            if (cp < 0x80) {
                out[k++] = (char)cp;
            } else if (cp < 0x800) {
                out[k++] = (char)(0xc0 | cp >> 6);
                out[k++] = (char)(0x80 | (cp & 0x3f));
            } else {
                out[k++] = (char)(0xe0 | cp >> 12);
                out[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[k++] = (char)(0x80 | (cp & 0x3f));
            }
        }
    } else {
        for (size_t i = 0; i < n && k + 1 < out_len; i++)
            out[k++] = (char)s[i];
    }
    out[k] = '\0';
    size_t base = 0;
    for (size_t i = 0; i < k; i++)
        if (out[i] == '/' || out[i] == '\\' || out[i] == ':')
            base = i + 1;
    memmove(out, out + base, k - base + 1);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
}

/* ---- the walk ---- */

typedef struct pobj {
    uint32_t num, gen;
    size_t text, text_end; /* after "obj": up to "endobj", the next header or "stream" */
    size_t dict;           /* "<<" when the object is a dictionary, else NO_POS */
    size_t sdata, slen;    /* stream data; sdata NO_POS when not a stream */
} pobj;

enum { MARK_JS = 1, MARK_FILE = 2 };

typedef struct mark {
    uint32_t num;
    int kind;
    const char *name; /* MARK_FILE: in the pool */
} mark;

typedef struct pdf {
    const uint8_t *d;
    size_t n;
    const khi_parts_cb *cb;
    pobj *objs;
    size_t nobjs, cap;
    mark *marks;
    size_t nmarks, capmarks;
    khi_pool pool;
    uint8_t *sbuf; /* a decoded string */
    size_t sbuf_cap;
    size_t total; /* bytes decoded so far */
    size_t count; /* objects, those in object streams included */
    int encrypted; /* encrypted, and not decrypted */
    size_t enc_at, id_at, enc_bound; /* the trailer's /Encrypt and /ID values (NO_POS: none) */
    int crypt_on;                    /* decrypting with crypt */
    khi_pdf_crypt crypt;
    int encrypt_metadata;
    uint8_t *cbuf; /* a decrypted string (sbuf_cap bytes) */
    int total_warned, parts_warned;
    int stop;
    kh_err err;
} pdf;

static void part(pdf *p, const uint8_t *data, size_t len, const char *name)
{
    if (!p->stop && p->cb->part(p->cb->ud, data ? data : (const uint8_t *)"", len, name))
        p->stop = 1;
}

/* A bound reached, said before the part it cut is handed out (name NULL: the whole file). */
static void warn(pdf *p, khi_fwarn w, const char *name)
{
    char detail[200];
    switch (w) {
    case KHI_FWARN_RATIO:
        khi_snprintf(detail, sizeof(detail),
                     "pdf part decodes to more than %u times its encoded size (past %u MiB); decoding stopped there",
                     KHI_FMT_RATIO, KHI_FMT_RATIO_MIN >> 20);
        break;
    case KHI_FWARN_TOOBIG:
        khi_snprintf(detail, sizeof(detail), "pdf part cut at 64 MiB of decoded data");
        break;
    case KHI_FWARN_TOTAL:
        khi_snprintf(detail, sizeof(detail), "more than 64 MiB decoded from this pdf; the rest is scanned undecoded");
        break;
    case KHI_FWARN_ENCRYPTED:
        khi_snprintf(detail, sizeof(detail),
                     "pdf is encrypted and does not open without a password (or its security handler "
                     "is not the Standard one); streams scanned as they are");
        break;
    default:
        khi_snprintf(detail, sizeof(detail), "more objects in this pdf than its parser reads; the rest not scanned");
        break;
    }
    if (!p->stop && p->cb->warn(p->cb->ud, w, name, detail))
        p->stop = 1;
}

static int add_mark(pdf *p, uint32_t num, int kind, const char *name, size_t name_len)
{
    if (p->nmarks == p->capmarks) {
        size_t nc = p->capmarks ? p->capmarks * 2 : 16;
        mark *nm = khi_reallocarray(p->marks, nc, sizeof(*nm));
        if (!nm)
            return -1;
        p->marks = nm;
        p->capmarks = nc;
    }
    mark *m = &p->marks[p->nmarks];
    m->num = num;
    m->kind = kind;
    m->name = NULL;
    if (name && name_len) {
        m->name = khi_pool_strndup(&p->pool, name, name_len);
        if (!m->name)
            return -1;
    }
    p->nmarks++;
    return 0;
}

/* Marks by number, the one that names a part best first: /JS, then a named file. */
static int mark_cmp(const void *a, const void *b)
{
    const mark *x = a, *y = b;
    if (x->num != y->num)
        return x->num < y->num ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return (y->name && y->name[0]) - (x->name && x->name[0]);
}

/* Sort the marks and keep the best one of each number. */
static void sort_marks(pdf *p)
{
    size_t k = 0;
    if (!p->nmarks)
        return;
    qsort(p->marks, p->nmarks, sizeof(*p->marks), mark_cmp);
    for (size_t i = 1; i < p->nmarks; i++)
        if (p->marks[i].num != p->marks[k].num)
            p->marks[++k] = p->marks[i];
    p->nmarks = k + 1;
}

static const mark *find_mark(const pdf *p, uint32_t num)
{
    size_t lo = 0, hi = p->nmarks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->marks[mid].num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nmarks && p->marks[lo].num == num ? &p->marks[lo] : NULL;
}

/* One more object (in an object stream or not); warns once past MAX_OBJECTS. */
static int count_object(pdf *p)
{
    if (p->count < MAX_OBJECTS) {
        p->count++;
        return 1;
    }
    if (!p->parts_warned)
        warn(p, KHI_FWARN_PARTS, NULL);
    p->parts_warned = 1;
    return 0;
}

/* A string of object num/gen, decoded into p->sbuf (l bytes), decrypted when the document is
 * (top: the object is not inside an object stream, whose objects are not encrypted one by
 * one). Returns the bytes to use, *l updated. */
static const uint8_t *plain_string(pdf *p, uint32_t num, uint32_t gen, int top, size_t *l)
{
    if (!p->crypt_on || !top)
        return p->sbuf;
    size_t out = 0;
    if (khi_pdf_crypt_data(&p->crypt, 1, num, gen, p->sbuf, *l, p->cbuf, &out) != KH_OK)
        return p->sbuf;
    *l = out;
    return p->cbuf;
}

/* The /JS strings, /JS stream references and embedded-file references of one object's text. */
static void examine(pdf *p, const uint8_t *d, size_t n, uint32_t num, uint32_t gen, int top)
{
    size_t i = 0, nfile = 0;
    uint32_t files[16];
    char fname[256] = "";
    int have_uf = 0;
    unsigned njs = 0;
    tok t, v;
    if (n + 1 > p->sbuf_cap) { /* a decoded string is never longer than its text */
        uint8_t *nb = khi_realloc(p->sbuf, n + 1);
        if (!nb) {
            p->err = KH_ENOMEM;
            return;
        }
        p->sbuf = nb;
        nb = khi_realloc(p->cbuf, n + 1);
        if (!nb) {
            p->err = KH_ENOMEM;
            return;
        }
        p->cbuf = nb;
        p->sbuf_cap = n + 1;
    }
    while (!p->stop && p->err == KH_OK) {
        lex(d, n, &i, &t);
        if (t.t == T_END)
            break;
        if (t.t != T_NAME)
            continue;
        char key[8];
        name_of(d, &t, key, sizeof(key));
        uint32_t ref;
        if (strcmp(key, "JS") == 0) {
            if (ref_at(d, n, &i, &ref)) {
                if (add_mark(p, ref, MARK_JS, NULL, 0))
                    p->err = KH_ENOMEM;
                continue;
            }
            size_t at = i;
            lex(d, n, &at, &v);
            if (v.t != T_STR && v.t != T_HEX)
                continue;
            i = at;
            size_t l = string_of(d, &v, p->sbuf);
            const uint8_t *js = plain_string(p, num, gen, top, &l);
            char name[48];
            if (++njs == 1)
                khi_snprintf(name, sizeof(name), "js-%u", num);
            else
                khi_snprintf(name, sizeof(name), "js-%u-%u", num, njs);
            part(p, js, l, name);
        } else if ((strcmp(key, "UF") == 0 || (strcmp(key, "F") == 0 && !have_uf))) {
            size_t at = i;
            lex(d, n, &at, &v);
            if (v.t != T_STR && v.t != T_HEX)
                continue;
            i = at;
            size_t l = string_of(d, &v, p->sbuf);
            const uint8_t *fn = plain_string(p, num, gen, top, &l);
            file_name(fn, l, fname, sizeof(fname));
            have_uf = have_uf || key[0] == 'U';
        } else if (strcmp(key, "EF") == 0) {
            size_t at = i;
            lex(d, n, &at, &v);
            if (v.t != T_DOPEN)
                continue;
            i = at;
            for (;;) { /* every reference in the /EF dictionary */
                if (ref_at(d, n, &i, &ref)) {
                    if (nfile < KHI_ARRAY_LEN(files))
                        files[nfile++] = ref;
                    continue;
                }
                lex(d, n, &i, &v);
                if (v.t == T_END || v.t == T_DCLOSE || v.t == T_DOPEN)
                    break;
            }
        }
    }
    for (size_t k = 0; k < nfile && p->err == KH_OK; k++)
        if (add_mark(p, files[k], MARK_FILE, fname, strlen(fname)))
            p->err = KH_ENOMEM;
}

/* The filters and their parameters of the stream dictionary at dict. Returns the count. */
static size_t filters_of(const uint8_t *d, size_t n, size_t dict, khi_pdf_filter *f,
                         khi_pdf_parms *parms)
{
    size_t nf = 0, i = dict_get(d, n, dict, "Filter");
    tok t;
    char name[32];
    if (i == NO_POS)
        return 0;
    lex(d, n, &i, &t);
    if (t.t == T_NAME) {
        f[nf++] = khi_pdf_filter_by_name(name, name_of(d, &t, name, sizeof(name)));
    } else if (t.t == T_AOPEN) {
        for (;;) {
            lex(d, n, &i, &t);
            if (t.t == T_END || t.t == T_ACLOSE || t.t == T_DCLOSE || nf == MAX_FILTERS)
                break;
            f[nf++] = t.t == T_NAME
                          ? khi_pdf_filter_by_name(name, name_of(d, &t, name, sizeof(name)))
                          : KHI_PDF_F_OTHER;
        }
    }
    for (size_t k = 0; k < nf; k++)
        khi_pdf_parms_default(&parms[k]);
    i = dict_get(d, n, dict, "DecodeParms");
    if (i == NO_POS)
        i = dict_get(d, n, dict, "DP");
    if (i == NO_POS)
        return nf;
    size_t at = i;
    lex(d, n, &at, &t);
    size_t k = 0, one = t.t == T_DOPEN;
    if (t.t == T_AOPEN)
        i = at;
    else if (!one)
        return nf;
    while (k < nf) {
        size_t v = i;
        lex(d, n, &v, &t);
        if (t.t == T_DOPEN) {
            int64_t x;
            if (dict_int(d, n, t.s, "Predictor", &x) && x >= 0 && x < 100)
                parms[k].predictor = (int)x;
            if (dict_int(d, n, t.s, "Colors", &x) && x > 0 && x < 1000)
                parms[k].colors = (int)x;
            if (dict_int(d, n, t.s, "BitsPerComponent", &x) && x > 0 && x < 1000)
                parms[k].bpc = (int)x;
            if (dict_int(d, n, t.s, "Columns", &x) && x > 0 && x < (INT64_C(1) << 30))
                parms[k].columns = (long)x;
            if (dict_int(d, n, t.s, "EarlyChange", &x))
                parms[k].early_change = x != 0;
        } else if (t.t == T_END || t.t == T_ACLOSE) {
            break;
        }
        if (one)
            break;
        skip_value(d, n, &i);
        k++;
    }
    return nf;
}

/* Is o's stream encrypted in a document being decrypted? Not a cross-reference stream, not
 * metadata unless /EncryptMetadata says so, not one with its own /Crypt filter (Identity). */
static int stream_encrypted(const pdf *p, const pobj *o)
{
    if (o->dict == NO_POS)
        return 1;
    if (dict_name_is(p->d, o->text_end, o->dict, "Type", "XRef"))
        return 0;
    if (!p->encrypt_metadata && dict_name_is(p->d, o->text_end, o->dict, "Type", "Metadata"))
        return 0;
    size_t i = dict_get(p->d, o->text_end, o->dict, "Filter");
    tok t;
    if (i == NO_POS)
        return 1;
    lex(p->d, o->text_end, &i, &t);
    if (t.t == T_AOPEN)
        lex(p->d, o->text_end, &i, &t);
    return !(t.t == T_NAME && name_is(p->d, &t, "Crypt"));
}

/* Decode the stream of an object by its filter chain. On return *out is either raw (nothing
 * allocated) or *out_owned (khi_free). Limits are reported under name. */
static void decode(pdf *p, const pobj *o, const char *name, uint8_t **out_owned,
                   const uint8_t **out, size_t *out_len)
{
    khi_pdf_filter f[MAX_FILTERS];
    khi_pdf_parms parms[MAX_FILTERS];
    size_t nf = o->dict == NO_POS ? 0 : filters_of(p->d, o->text_end, o->dict, f, parms);
    const uint8_t *raw = p->d + o->sdata;
    *out_owned = NULL;
    *out = raw;
    *out_len = o->slen;
    if (p->crypt_on && stream_encrypted(p, o)) { /* decrypted first: the filters come after */
        uint8_t *dec = khi_malloc(o->slen ? o->slen : 1);
        size_t dl = 0;
        if (!dec) {
            p->err = KH_ENOMEM;
            return;
        }
        if (khi_pdf_crypt_data(&p->crypt, 0, o->num, o->gen, raw, o->slen, dec, &dl) != KH_OK) {
            khi_free(dec);
        } else {
            *out_owned = dec;
            *out = dec;
            *out_len = dl;
        }
    }
    uint64_t ratio_cap = (uint64_t)o->slen * KHI_FMT_RATIO;
    if (ratio_cap < KHI_FMT_RATIO_MIN)
        ratio_cap = KHI_FMT_RATIO_MIN;
    int clean = 1;
    for (size_t k = 0; k < nf && !p->stop; k++) {
        if (f[k] == KHI_PDF_F_OTHER) {
            clean = 0;
            break;
        }
        khi_pdf_out ob = {NULL, 0, 0, MAX_STREAM};
        khi_fwarn why = KHI_FWARN_TOOBIG;
        if (ratio_cap < ob.max) {
            ob.max = (size_t)ratio_cap;
            why = KHI_FWARN_RATIO;
        }
        if (MAX_TOTAL - p->total < ob.max) {
            ob.max = MAX_TOTAL - p->total;
            why = KHI_FWARN_TOTAL;
        }
        if (ob.max == 0) {
            if (!p->total_warned)
                warn(p, KHI_FWARN_TOTAL, name);
            p->total_warned = 1;
            clean = 0;
            break;
        }
        khi_pdf_status st;
        if (khi_pdf_decode(f[k], &parms[k], *out, *out_len, &ob, &st) != KH_OK) {
            p->err = KH_ENOMEM;
            break;
        }
        p->total += ob.len;
        khi_free(*out_owned);
        *out_owned = ob.data;
        *out = ob.data;
        *out_len = ob.len;
        if (st == KHI_PDF_FULL && !p->encrypted) {
            if (why != KHI_FWARN_TOTAL || !p->total_warned)
                warn(p, why, name);
            p->total_warned = p->total_warned || why == KHI_FWARN_TOTAL;
        }
        if (st != KHI_PDF_OK) {
            clean = 0;
            if (st == KHI_PDF_FULL)
                break;
        }
    }
    if (p->encrypted && !clean) { /* encrypted: raw, unless it decoded cleanly */
        khi_free(*out_owned);
        *out_owned = NULL;
        *out = raw;
        *out_len = o->slen;
    }
}

static void obj_name(const pobj *o, char *out, size_t out_len)
{
    if (o->gen)
        khi_snprintf(out, out_len, "obj-%u.%u", o->num, o->gen);
    else
        khi_snprintf(out, out_len, "obj-%u", o->num);
}

/* An object stream: each object's text as "objstm-N/obj-M", and what examine() finds in it. */
static void objstm(pdf *p, const pobj *o)
{
    char name[64];
    obj_name(o, name, sizeof(name));
    uint8_t *owned;
    const uint8_t *s;
    size_t sl;
    int64_t nobj, first;
    if (!dict_int(p->d, o->text_end, o->dict, "N", &nobj) ||
        !dict_int(p->d, o->text_end, o->dict, "First", &first) || nobj < 0 || first < 0) {
        decode(p, o, name, &owned, &s, &sl);
        part(p, s, sl, name); /* not a usable object stream: a stream like any other */
        khi_free(owned);
        return;
    }
    decode(p, o, name, &owned, &s, &sl);
    if (!owned && p->encrypted) { /* not decrypted: hand it out as it is */
        part(p, s, sl, name);
        return;
    }
    size_t i = 0, hdr_end = (uint64_t)first < sl ? (size_t)first : sl, prev_end = hdr_end;
    for (int64_t k = 0; k < nobj && !p->stop && p->err == KH_OK; k++) {
        tok a, b;
        lex(s, hdr_end, &i, &a);
        lex(s, hdr_end, &i, &b);
        if (a.t != T_INT || b.t != T_INT)
            break;
        int64_t num = int_of(s, &a), off = int_of(s, &b);
        if (num < 0 || num > UINT32_MAX || off < 0 || off > (int64_t)(sl - hdr_end))
            continue;
        size_t start = hdr_end + (size_t)off, end = sl, j = i;
        tok c, e;
        lex(s, hdr_end, &j, &c);
        lex(s, hdr_end, &j, &e);
        if (c.t == T_INT && e.t == T_INT && int_of(s, &e) > off &&
            int_of(s, &e) <= (int64_t)(sl - hdr_end))
            end = hdr_end + (size_t)int_of(s, &e);
        if (start < prev_end)
            continue; /* overlapping objects: each byte is handed out once */
        prev_end = end;
        if (!count_object(p))
            break;
        char oname[96];
        khi_snprintf(oname, sizeof(oname), "objstm-%u/obj-%u", o->num, (uint32_t)num);
        part(p, s + start, end - start, oname);
        examine(p, s + start, end - start, (uint32_t)num, 0, 0);
    }
    khi_free(owned);
}

/* The next "N G obj" header at or after from. */
static int find_header(const uint8_t *d, size_t n, size_t from, pobj *o, size_t *out_start)
{
    size_t i = from;
    while (i + 3 <= n) {
        const uint8_t *h = memmem(d + i, n - i, "obj", 3);
        if (!h)
            return 0;
        size_t k = (size_t)(h - d), j = k;
        i = k + 3;
        if (k + 3 < n && !is_ws(d[k + 3]) && !is_delim(d[k + 3]))
            continue;
        while (j > from && k - j < 64 && is_ws(d[j - 1]))
            j--;
        size_t ge = j;
        while (j > from && ge - j < 10 && isdigit(d[j - 1]))
            j--;
        size_t gs = j;
        while (j > from && gs - j < 64 && is_ws(d[j - 1]))
            j--;
        size_t ne = j;
        while (j > from && ne - j < 10 && isdigit(d[j - 1]))
            j--;
        if (ge == gs || gs == ne || ne == j || (j > 0 && !is_ws(d[j - 1]) && !is_delim(d[j - 1])))
            continue;
        uint64_t num = 0, gen = 0;
        for (size_t x = j; x < ne; x++)
            num = num * 10 + (uint64_t)(d[x] - '0');
        for (size_t x = gs; x < ge; x++)
            gen = gen * 10 + (uint64_t)(d[x] - '0');
        if (num > UINT32_MAX || gen > UINT32_MAX)
            continue;
        o->num = (uint32_t)num;
        o->gen = (uint32_t)gen;
        o->text = k + 3;
        *out_start = j;
        return 1;
    }
    return 0;
}

/* A cursor: the first occurrence of word at or after from (n when none), searched again only
 * when from has passed the last one found. */
typedef struct cursor {
    const char *word;
    size_t at; /* NO_POS: not searched yet */
} cursor;

static size_t cursor_next(cursor *c, const uint8_t *d, size_t n, size_t from)
{
    if (c->at != NO_POS && c->at >= from)
        return c->at;
    size_t wl = strlen(c->word);
    const uint8_t *h = from < n ? memmem(d + from, n - from, c->word, wl) : NULL;
    c->at = h ? (size_t)(h - d) : n;
    return c->at;
}

/* Where the stream data of o, starting at o->sdata, ends; returns where indexing resumes. */
static size_t stream_extent(pdf *p, pobj *o, cursor *endstream, cursor *endobj)
{
    const uint8_t *d = p->d;
    size_t n = p->n, s = o->sdata;
    int64_t len;
    if (o->dict != NO_POS && dict_int(d, o->text_end, o->dict, "Length", &len) && len >= 0 &&
        (uint64_t)len <= n - s) {
        size_t e = skip_ws(d, n, s + (size_t)len);
        if (n - e >= 9 && memcmp(d + e, "endstream", 9) == 0) {
            o->slen = (size_t)len;
            return e + 9;
        }
    }
    size_t e = cursor_next(endstream, d, n, s), resume = e + 9;
    if (e == n) { /* truncated: up to "endobj", else to the end */
        e = cursor_next(endobj, d, n, s);
        resume = e;
    }
    if (e > s && d[e - 1] == '\n')
        e--;
    if (e > s && d[e - 1] == '\r')
        e--;
    o->slen = e - s;
    return resume < n ? resume : n;
}

/* Find every object; sets p->encrypted. */
static void index_objects(pdf *p)
{
    const uint8_t *d = p->d;
    size_t n = p->n, nstart = 0;
    cursor endobj = {"endobj", NO_POS}, endstream = {"endstream", NO_POS};
    pobj cur, next;
    int have = find_header(d, n, 0, &next, &nstart);
    while (have && p->err == KH_OK && !p->stop) {
        cur = next;
        have = find_header(d, n, cur.text, &next, &nstart);
        size_t bound = have ? nstart : n, eo = cursor_next(&endobj, d, n, cur.text);
        cur.text_end = eo < bound ? eo : bound;
        cur.dict = cur.sdata = NO_POS;
        cur.slen = 0;
        size_t i = skip_ws(d, cur.text_end, cur.text);
        if (cur.text_end - i >= 2 && d[i] == '<' && d[i + 1] == '<') {
            cur.dict = i;
            skip_value(d, cur.text_end, &i);
            size_t k = skip_ws(d, n, i);
            if (n - k >= 6 && memcmp(d + k, "stream", 6) == 0 &&
                (n - k == 6 || !isalnum(d[k + 6]))) {
                cur.text_end = k;
                k += 6;
                while (k < n && (d[k] == ' ' || d[k] == '\t'))
                    k++;
                if (k < n && d[k] == '\r')
                    k++;
                if (k < n && d[k] == '\n')
                    k++;
                cur.sdata = k;
                size_t resume = stream_extent(p, &cur, &endstream, &endobj);
                if (have && nstart < resume)
                    have = find_header(d, n, resume, &next, &nstart);
            }
            if (!p->encrypted && dict_name_is(d, cur.text_end, cur.dict, "Type", "XRef") &&
                (p->enc_at = dict_get(d, cur.text_end, cur.dict, "Encrypt")) != NO_POS) {
                p->encrypted = 1; /* a cross-reference stream is also the trailer */
                p->id_at = dict_get(d, cur.text_end, cur.dict, "ID");
                p->enc_bound = cur.text_end;
            }
        }
        if (!count_object(p))
            break;
        if (p->nobjs == p->cap) {
            size_t nc = p->cap ? p->cap * 2 : 64;
            pobj *no = khi_reallocarray(p->objs, nc, sizeof(*no));
            if (!no) {
                p->err = KH_ENOMEM;
                break;
            }
            p->objs = no;
            p->cap = nc;
        }
        p->objs[p->nobjs++] = cur;
    }
    /* classic trailers, each dictionary read up to the next "trailer" at most */
    const uint8_t *h = memmem(d, n, "trailer", 7);
    while (h && !p->encrypted) {
        size_t k = (size_t)(h - d) + 7;
        const uint8_t *nh = memmem(d + k, n - k, "trailer", 7);
        size_t bound = nh ? (size_t)(nh - d) : n;
        k = skip_ws(d, bound, k);
        if (bound - k >= 2 && d[k] == '<' && d[k + 1] == '<' &&
            (p->enc_at = dict_get(d, bound, k, "Encrypt")) != NO_POS) {
            p->encrypted = 1;
            p->id_at = dict_get(d, bound, k, "ID");
            p->enc_bound = bound;
        }
        h = nh;
    }
}

/* ---- decryption set-up ---- */

/* The string value at pos (borrowed text d[..n)) decoded into a new pool copy. */
static const uint8_t *string_at(pdf *p, const uint8_t *d, size_t n, size_t pos, size_t *out_len)
{
    tok t;
    *out_len = 0;
    if (pos == NO_POS)
        return NULL;
    lex(d, n, &pos, &t);
    if (t.t != T_STR && t.t != T_HEX)
        return NULL;
    uint8_t *buf = khi_pool_alloc(&p->pool, t.e - t.s + 1);
    if (!buf) {
        p->err = KH_ENOMEM;
        return NULL;
    }
    *out_len = string_of(d, &t, buf);
    return buf;
}

/* The method of crypt filter `which` (/StmF or /StrF) of a V 4/5 dictionary: its /CFM in /CF. */
static khi_pdf_cm crypt_filter(const uint8_t *d, size_t n, size_t dict, const char *which)
{
    size_t i = dict_get(d, n, dict, which), cf = dict_get(d, n, dict, "CF");
    tok t, c;
    char fname[64];
    if (i == NO_POS)
        return KHI_PDF_CM_NONE; /* Identity */
    lex(d, n, &i, &t);
    if (t.t != T_NAME || name_is(d, &t, "Identity") || cf == NO_POS)
        return KHI_PDF_CM_NONE;
    name_of(d, &t, fname, sizeof(fname));
    lex(d, n, &cf, &c);
    if (c.t != T_DOPEN)
        return KHI_PDF_CM_NONE;
    size_t f = dict_get(d, n, c.s, fname);
    if (f == NO_POS)
        return KHI_PDF_CM_NONE;
    lex(d, n, &f, &c);
    if (c.t != T_DOPEN)
        return KHI_PDF_CM_NONE;
    if (dict_name_is(d, n, c.s, "CFM", "AESV2"))
        return KHI_PDF_CM_AESV2;
    if (dict_name_is(d, n, c.s, "CFM", "AESV3"))
        return KHI_PDF_CM_AESV3;
    if (dict_name_is(d, n, c.s, "CFM", "V2"))
        return KHI_PDF_CM_RC4;
    return KHI_PDF_CM_NONE;
}

/* An encrypted document: open it with the empty user password if the Standard handler allows,
 * else say once that it is encrypted. */
static void setup_crypt(pdf *p)
{
    const uint8_t *d = p->d;
    size_t n = p->enc_bound, dict = NO_POS, i = p->enc_at;
    uint32_t ref;
    tok t;
    if (ref_at(d, n, &i, &ref)) { /* the last copy of the object (incremental updates) */
        for (size_t k = p->nobjs; k-- > 0;)
            if (p->objs[k].num == ref && p->objs[k].dict != NO_POS) {
                dict = p->objs[k].dict;
                n = p->objs[k].text_end;
                break;
            }
    } else {
        lex(d, n, &i, &t);
        if (t.t == T_DOPEN)
            dict = t.s;
    }
    khi_pdf_sec s;
    memset(&s, 0, sizeof(s));
    int64_t x;
    int ok = dict != NO_POS && dict_name_is(d, n, dict, "Filter", "Standard") &&
             dict_int(d, n, dict, "V", &x) && x >= 1 && x <= 5;
    if (ok) {
        s.v = (int)x;
        ok = dict_int(d, n, dict, "R", &x) && x >= 2 && x <= 6;
        s.r = ok ? (int)x : 0;
    }
    if (ok) {
        s.length_bits = dict_int(d, n, dict, "Length", &x) && x >= 40 && x <= 256 ? (unsigned)x : 40;
        s.p = dict_int(d, n, dict, "P", &x) ? (int32_t)(uint32_t)x : 0;
        size_t em = dict_get(d, n, dict, "EncryptMetadata");
        s.encrypt_metadata = 1;
        if (em != NO_POS) {
            lex(d, n, &em, &t);
            s.encrypt_metadata = !word_is(d, &t, "false");
        }
        s.o = string_at(p, d, n, dict_get(d, n, dict, "O"), &s.o_len);
        s.u = string_at(p, d, n, dict_get(d, n, dict, "U"), &s.u_len);
        s.ue = string_at(p, d, n, dict_get(d, n, dict, "UE"), &s.ue_len);
        if (s.v >= 4) {
            s.stm = crypt_filter(d, n, dict, "StmF");
            s.str = crypt_filter(d, n, dict, "StrF");
        } else {
            s.stm = s.str = KHI_PDF_CM_RC4;
        }
        size_t id = p->id_at;
        if (id != NO_POS) {
            lex(d, p->enc_bound, &id, &t);
            if (t.t == T_AOPEN)
                s.id0 = string_at(p, d, p->enc_bound, id, &s.id0_len);
        }
        if (!s.id0)
            s.id0 = (const uint8_t *)"";
    }
    if (p->err != KH_OK)
        return;
    kh_err err = ok && s.o && s.u ? khi_pdf_crypt_open(&s, &p->crypt) : KH_EFORMAT;
    if (err == KH_ENOMEM) {
        p->err = err;
        return;
    }
    if (err == KH_OK) {
        p->crypt_on = 1;
        p->encrypted = 0;
        p->encrypt_metadata = s.encrypt_metadata;
        return;
    }
    warn(p, KHI_FWARN_ENCRYPTED, NULL);
}

kh_err khi_pdf_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    pdf p;
    memset(&p, 0, sizeof(p));
    p.d = data;
    p.n = len;
    p.cb = cb;
    khi_pool_init(&p.pool);
    p.enc_at = p.id_at = NO_POS;
    index_objects(&p);
    if (p.encrypted && p.err == KH_OK)
        setup_crypt(&p);
    /* what the objects' own texts hold: /JS strings, /JS and /EF references */
    for (size_t k = 0; k < p.nobjs && !p.stop && p.err == KH_OK; k++) {
        const pobj *o = &p.objs[k];
        examine(&p, data + o->text, o->text_end - o->text, o->num, o->gen, 1);
    }
    /* object streams, whose objects may hold more of the same */
    for (size_t k = 0; k < p.nobjs && !p.stop && p.err == KH_OK; k++) {
        const pobj *o = &p.objs[k];
        if (o->sdata != NO_POS && dict_name_is(data, o->text_end, o->dict, "Type", "ObjStm"))
            objstm(&p, o);
    }
    sort_marks(&p);
    /* every other stream */
    for (size_t k = 0; k < p.nobjs && !p.stop && p.err == KH_OK; k++) {
        const pobj *o = &p.objs[k];
        if (o->sdata == NO_POS || dict_name_is(data, o->text_end, o->dict, "Type", "ObjStm"))
            continue;
        char name[300];
        const mark *m = find_mark(&p, o->num);
        if (m && m->kind == MARK_JS)
            khi_snprintf(name, sizeof(name), "js-%u", o->num);
        else if (m && m->name && m->name[0])
            khi_snprintf(name, sizeof(name), "%s", m->name);
        else
            obj_name(o, name, sizeof(name));
        uint8_t *owned;
        const uint8_t *s;
        size_t sl;
        decode(&p, o, name, &owned, &s, &sl);
        if (p.err == KH_OK)
            part(&p, s, sl, name);
        khi_free(owned);
    }
    khi_free(p.sbuf);
    khi_free(p.cbuf);
    khi_free(p.objs);
    khi_free(p.marks);
    khi_pool_cleanup(&p.pool);
    return p.err;
}
