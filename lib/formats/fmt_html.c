/*
 * fmt_html.c - HTML pages: a normalised text for signatures, and the payloads hidden in them.
 *
 * Pages hide what they carry behind the freedoms of HTML: tags in any case, entities
 * (&#77;&#x5a;), white space anywhere, and whole files inlined as data: URIs or as long base64
 * strings decoded by a script. The walker hands out three kinds of part:
 *  - "normalised": the page with tag and attribute names lower-cased (attribute values and text
 *    keep their case), character references decoded outside <script> (named: amp lt gt quot
 *    apos nbsp; numeric &#NN; and &#xNN;, the ';' optional, as browsers do; code points above
 *    127 as UTF-8) and every run of white space collapsed to one space;
 *  - "data-N": the payload of every data: URI of the normalised text (";base64" decoded, else
 *    percent-decoded);
 *  - "script-N": every run of at least 128 base64 characters inside a <script> element that is
 *    not a data: URI already handed out, decoded.
 * Each is then scanned like any file. lib/scan does not walk a part named "normalised" again
 * (normalising is idempotent, so that would only repeat the same text). This text is Khiên's
 * own; the views ClamAV target type 3 signatures are written for are made by fmt_htmlnorm.c.
 *
 * Bounds: every output is at most as long as the input (an entity never decodes to more bytes
 * than it is written with), so one buffer of the input's size holds the normalised text and
 * one more holds one decoded part at a time. Each pass is linear; at most 100000 parts (the
 * scanner's max-files, 10000 by default, stops earlier and reports it).
 */
#include "formats/formats.h"
#include "core/core.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MAX_PARTS 100000
#define MIN_SCRIPT_B64 128

static const char *const tags[] = {
    "html",     "head",   "body",  "script", "iframe", "a",     "meta", "div",  "form", "object",
    "embed",    "img",    "p",     "table",  "title",  "style", "svg",  "link", "span", "br",
    "frameset", "applet", "input", "center", "font",   "b",     "h1",   "ul"};

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int khi_html_detect(const uint8_t *data, size_t len)
{
    size_t i = 0, lim = len < 4096 ? len : 4096;
    if (lim >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < lim && is_space(data[i]))
        i++;
    if (i >= lim || data[i] != '<')
        return 0;
    for (; i + 2 < lim; i++) {
        if (data[i] != '<')
            continue;
        const uint8_t *p = data + i + 1;
        size_t rest = lim - i - 1;
        if (rest >= 9 && strncasecmp((const char *)p, "!doctype", 8) == 0 && is_space(p[8]))
            return 1;
        for (size_t t = 0; t < KHI_ARRAY_LEN(tags); t++) {
            size_t tl = strlen(tags[t]);
            if (rest > tl && strncasecmp((const char *)p, tags[t], tl) == 0 &&
                (is_space(p[tl]) || p[tl] == '>' || p[tl] == '/'))
                return 1;
        }
    }
    return 0;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* A character reference at d[i] == '&': decoded into o, *used gets its length in the input.
 * Returns the bytes written, 0 when it is not a reference. Never more than *used. */
static size_t entity(const uint8_t *d, size_t len, size_t i, uint8_t *o, size_t *used)
{
    static const struct {
        const char *name;
        uint32_t cp;
    } named[] = {{"amp;", '&'},  {"lt;", '<'},    {"gt;", '>'},
                 {"quot;", '"'}, {"apos;", '\''}, {"nbsp;", 0xa0}};
    size_t j = i + 1;
    if (j < len && d[j] == '#') {
        j++;
        int hex = j < len && (d[j] == 'x' || d[j] == 'X');
        if (hex)
            j++;
        uint32_t cp = 0;
        size_t digits = 0;
        while (j < len && (hex ? khi_hexval(d[j]) >= 0 : isdigit(d[j]))) {
            if (cp <= 0x10ffff)
                cp = cp * (hex ? 16 : 10) + (uint32_t)(hex ? khi_hexval(d[j]) : d[j] - '0');
            j++;
            digits++;
        }
        if (!digits)
            return 0;
        if (j < len && d[j] == ';')
            j++;
        if (cp > 0x10ffff || cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
            cp = 0xfffd;
        *used = j - i;
        size_t n = put_utf8(o, cp);
        if (n > *used) /* "&#9" style references are short; keep the bound strict */
            return 0;
        return n;
    }
    for (size_t k = 0; k < KHI_ARRAY_LEN(named); k++) {
        size_t nl = strlen(named[k].name);
        if (len - j >= nl && strncasecmp((const char *)d + j, named[k].name, nl) == 0) {
            *used = nl + 1;
            return put_utf8(o, named[k].cp);
        }
    }
    return 0;
}

typedef struct norm {
    const uint8_t *d;
    size_t len, i;
    uint8_t *o;
    size_t k;
    int space; /* a space is pending */
} norm;

static void out_c(norm *s, uint8_t c)
{
    if (s->space) {
        s->o[s->k++] = ' ';
        s->space = 0;
    }
    s->o[s->k++] = c;
}

/* Text (or an attribute value) byte at s->i; decodes references when refs is set. */
static void text_byte(norm *s, int refs)
{
    uint8_t c = s->d[s->i];
    if (is_space(c)) {
        s->space = s->k > 0;
        s->i++;
        return;
    }
    if (c == '&' && refs) {
        uint8_t tmp[4];
        size_t used = 0, n = entity(s->d, s->len, s->i, tmp, &used);
        if (n) {
            for (size_t t = 0; t < n; t++)
                out_c(s, tmp[t]);
            s->i += used;
            return;
        }
    }
    out_c(s, c);
    s->i++;
}

/* A tag from '<': names lower-cased, values kept; returns 1 if it was an opening <script>. */
static int tag(norm *s)
{
    size_t start = s->k + (s->space ? 1 : 0);
    out_c(s, '<');
    s->i++;
    uint8_t quote = 0;
    int in_value = 0;
    while (s->i < s->len) {
        uint8_t c = s->d[s->i];
        if (quote) {
            if (c == quote) {
                quote = 0;
                in_value = 0;
                out_c(s, c);
                s->i++;
            } else {
                text_byte(s, 1);
            }
            continue;
        }
        if (c == '>') {
            s->space = 0;
            out_c(s, '>');
            s->i++;
            break;
        }
        if (is_space(c)) {
            in_value = 0;
            s->space = 1;
            s->i++;
            continue;
        }
        if (in_value == 1 && (c == '"' || c == '\'')) {
            quote = c;
            out_c(s, c);
            s->i++;
            continue;
        }
        if (c == '=' && !in_value) {
            s->space = 0;
            out_c(s, '=');
            s->i++;
            while (s->i < s->len && is_space(s->d[s->i]))
                s->i++;
            in_value = 1;
            continue;
        }
        if (in_value) {
            in_value = 2;
            text_byte(s, 1);
            continue;
        }
        out_c(s, (uint8_t)tolower(c));
        s->i++;
    }
    return s->k - start >= 8 && memcmp(s->o + start, "<script", 7) == 0 &&
           (s->o[start + 7] == ' ' || s->o[start + 7] == '>');
}

/* The page normalised into o (room for len bytes); returns its length. */
static size_t normalise(const uint8_t *d, size_t len, uint8_t *o)
{
    norm s = {d, len, 0, o, 0, 0};
    while (s.i < len) {
        uint8_t c = d[s.i];
        if (c == '<' && len - s.i >= 4 && memcmp(d + s.i, "<!--", 4) == 0) {
            const uint8_t *e = len - s.i > 4 ? memchr(d + s.i + 4, '>', len - s.i - 4) : NULL;
            while (e && !(e - d >= (long)s.i + 6 && e[-1] == '-' && e[-2] == '-'))
                e = memchr(e + 1, '>', (size_t)(d + len - e - 1));
            size_t stop = e ? (size_t)(e - d) + 1 : len;
            while (s.i < stop)
                text_byte(&s, 0);
            continue;
        }
        if (c == '<' && len - s.i >= 2 &&
            (isalpha(d[s.i + 1]) || d[s.i + 1] == '/' || d[s.i + 1] == '!' || d[s.i + 1] == '?')) {
            if (tag(&s)) {
                /* script body: no references, up to "</script" */
                while (s.i < len) {
                    if (d[s.i] == '<' && len - s.i >= 8 &&
                        strncasecmp((const char *)d + s.i, "</script", 8) == 0)
                        break;
                    text_byte(&s, 0);
                }
            }
            continue;
        }
        text_byte(&s, 1);
    }
    return s.k;
}

typedef struct hctx {
    khi_part_fn cb;
    void *ud;
    unsigned nparts;
    int stop;
} hctx;

static void emit(hctx *c, const uint8_t *d, size_t n, const char *name)
{
    if (c->stop || ++c->nparts > MAX_PARTS) {
        c->stop = 1;
        return;
    }
    if (c->cb(c->ud, d, n, name))
        c->stop = 1;
}

static int b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

static size_t b64_decode(const uint8_t *s, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (s[i] == '=')
            break;
        if (v < 0)
            continue;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    return k;
}

static size_t pct_decode(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && n - i > 2 && khi_hexval(s[i + 1]) >= 0 && khi_hexval(s[i + 2]) >= 0) {
            out[k++] = (uint8_t)(khi_hexval(s[i + 1]) << 4 | khi_hexval(s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    return k;
}

/* Every data: URI of the normalised text t. */
static void data_uris(hctx *c, const uint8_t *t, size_t n, uint8_t *buf)
{
    unsigned count = 0;
    for (size_t i = 0; i + 5 <= n && !c->stop; i++) {
        if ((t[i] | 0x20) != 'd' || strncasecmp((const char *)t + i, "data:", 5) != 0)
            continue;
        size_t j = i + 5, hs = j;
        while (j < n && j - hs < 256 && t[j] != ',' && t[j] != '"' && t[j] != '\'' && t[j] != '<' &&
               t[j] != '>' && !is_space(t[j]))
            j++;
        if (j >= n || t[j] != ',')
            continue;
        int b64 = j - hs >= 7 && strncasecmp((const char *)t + j - 7, ";base64", 7) == 0;
        size_t ps = ++j;
        while (j < n && t[j] != '"' && t[j] != '\'' && t[j] != '<' && t[j] != '>' && t[j] != ')' &&
               !(is_space(t[j]) && !b64))
            j++;
        size_t k = b64 ? b64_decode(t + ps, j - ps, buf) : pct_decode(t + ps, j - ps, buf);
        char name[32];
        khi_snprintf(name, sizeof(name), "data-%u", ++count);
        emit(c, buf, k, name);
        i = j - 1;
    }
}

/* Long base64 runs inside <script> elements of the normalised text t. */
static void script_blobs(hctx *c, const uint8_t *t, size_t n, uint8_t *buf)
{
    unsigned count = 0;
    int in_script = 0;
    for (size_t i = 0; i < n && !c->stop;) {
        if (t[i] == '<') {
            if (n - i >= 8 && memcmp(t + i, "<script", 7) == 0 &&
                (t[i + 7] == ' ' || t[i + 7] == '>'))
                in_script = 1;
            else if (n - i >= 8 && memcmp(t + i, "</script", 8) == 0)
                in_script = 0;
            i++;
            continue;
        }
        if (!in_script || b64val(t[i]) < 0 || t[i] == '-' || t[i] == '_') {
            i++;
            continue;
        }
        size_t s = i;
        while (i < n && b64val(t[i]) >= 0 && t[i] != '-' && t[i] != '_')
            i++;
        if (i - s < MIN_SCRIPT_B64 ||
            (s >= 8 && strncasecmp((const char *)t + s - 8, ";base64,", 8) == 0))
            continue;
        size_t k = b64_decode(t + s, i - s, buf);
        char name[32];
        khi_snprintf(name, sizeof(name), "script-%u", ++count);
        emit(c, buf, k, name);
    }
}

kh_err khi_html_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    hctx c = {cb, ud, 0, 0};
    uint8_t *t = khi_malloc(len + 1), *buf = khi_malloc(len + 1);
    kh_err err = KH_OK;
    if (!t || !buf) {
        err = KH_ENOMEM;
        goto out;
    }
    size_t n = normalise(data, len, t);
    emit(&c, t, n, "normalised");
    data_uris(&c, t, n, buf);
    script_blobs(&c, t, n, buf);
out:
    khi_free(t);
    khi_free(buf);
    return err;
}
