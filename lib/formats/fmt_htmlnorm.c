/*
 * fmt_htmlnorm.c - the two normalised views of an HTML page that ClamAV target type 3
 * signatures are written for.
 *
 * ClamAV never matches type 3 signatures against the bytes of a page. It writes two views and
 * matches those ("no-comment" and "no-tags" in its scan log), so a signature author writes the
 * pattern for them. This file produces the same views, following ClamAV's htmlnorm.c rule by
 * rule (read there, written anew here):
 *  - no-comment: the page with NUL and CR bytes removed, LF read as a space, every ASCII letter
 *    lower-cased (tags, attribute names and values, text), white space runs folded to one space
 *    in text and dropped inside <script> and right after a tag, attributes written as
 *    ` name=value` with ' quotes turned into ", and ' turned into " inside scripts too. Comments
 *    (`<!` up to the next `>`) are dropped outside scripts and kept without white space inside.
 *    Character references are decoded: `&#NN;` and `&#xNN;` below 0x80 give the (lower-cased)
 *    character, from 0x80 to 0xfe the single byte, U+3002/U+FF0E/U+FE52 a '.', anything else
 *    `&#xhhhh;` (four lower-case hex digits of the low 16 bits); without the ';' the value's low
 *    byte is written as it is. Named references need their ';' and give the same forms (the
 *    HTML 4 names and the ISO names of ASCII punctuation here; ClamAV knows about a thousand SGML
 *    names, see docs/internals/FORMATS.md). A data: URI in an attribute value is cut after
 *    "data" (fmt_html.c hands its payload out as a part of its own).
 *  - no-tags: the text only, lower-cased, each tag, character reference and white-space run
 *    read as one space, nothing of scripts, but the href of <a> and the src of <img> written in
 *    place of their tag.
 * Bytes above 0x7f are read in groups of up to three as ClamAV reads them (a group that is an
 * ideographic full stop, U+3002/U+FF0E/U+FE52, or 0xA1 before C, D or O reads '.') and written
 * back unchanged, so UTF-8 text, Vietnamese included, comes out intact: only ASCII is
 * lower-cased. Two slips of ClamAV's code are not copied: its no-tags view gets a group's
 * middle byte twice and its last byte never, and it loses a group that ends the file.
 * tests/unit/test_norm.c holds views written by clamscan itself.
 *
 * Bounds: one pass over the input; each state consumes a byte or moves to a state that does, so
 * the work is linear. A reference never writes more than twice the bytes it was written with
 * and every other input byte writes at most one byte per view (an <a href> writes its value
 * once more into no-tags), so both outputs fit in 2 * len + 64 bytes, allocated once; tag,
 * attribute and value buffers are fixed (1 KiB each, longer ones are cut as ClamAV cuts them).
 */
#include "formats/formats.h"
#include "core/core.h"

#include <string.h>

#define STR_MAX 1024 /* tag names, attribute names and values, entity names */

typedef enum {
    S_NORM,
    S_SKIP_WS,
    S_TRIM_WS,
    S_TAG,
    S_ARG,
    S_ARG_EQUAL,
    S_ARG_VAL,
    S_COMMENT,
    S_CHAR_REF,
    S_ENTITY,
    S_NUMREF,
    S_DATA_TYPE,
    S_DATA,
    S_DATA_ESC,
    S_PROCESS,
    S_8BIT,
} hstate;

enum { Q_NONE, Q_SINGLE, Q_DOUBLE };

typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
} obuf;

typedef struct hn {
    obuf a, t; /* no-comment, no-tags (t.p NULL: not wanted) */
    hstate st, next, ref_ret;
    int in_script, tspace, quoted;
    char tag[STR_MAX + 1], arg[STR_MAX + 1], val[STR_MAX + 1], ent[STR_MAX + 1];
    size_t tag_len, arg_len, val_len, ent_len;
    uint64_t num;
    int hex, esc_left;
    uint32_t mb, mb2; /* bytes above 0x7f read in groups of up to three, as ClamAV does */
    /* attributes of the current tag: only those no-tags needs (href, src) */
    char href[STR_MAX + 1], src[STR_MAX + 1];
    int has_href, has_src;
} hn;

static void put(obuf *o, uint8_t c)
{
    if (o->p && o->len < o->cap)
        o->p[o->len++] = c;
}

static void puts_n(obuf *o, const void *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(o, ((const uint8_t *)s)[i]);
}

static int is_space(uint8_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d);
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static int is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ClamAV's form of a 16-bit code point; returns the bytes written to out (room for 8). */
static size_t u16_form(uint16_t u, uint8_t out[8])
{
    static const char hexd[] = "0123456789abcdef";
    if (u == 0)
        return 0;
    if (u < 0xff) {
        out[0] = (uint8_t)u;
        return 1;
    }
    if (u == 0x3002 || u == 0xff0e || u == 0xfe52) {
        out[0] = '.';
        return 1;
    }
    out[0] = '&';
    out[1] = '#';
    out[2] = 'x';
    for (int i = 6; i >= 3; i--) {
        out[i] = (uint8_t)hexd[u & 15];
        u >>= 4;
    }
    out[7] = ';';
    return 8;
}

static const struct {
    const char *name;
    uint16_t cp;
} named[] = {
    {"quot", 34},     {"amp", 38},      {"lt", 60},       {"gt", 62},       {"apos", 39},
    {"excl", 33},     {"num", 35},      {"dollar", 36},   {"percnt", 37},   {"lpar", 40},
    {"rpar", 41},     {"ast", 42},      {"plus", 43},     {"comma", 44},    {"period", 46},
    {"sol", 47},      {"colon", 58},    {"semi", 59},     {"equals", 61},   {"quest", 63},
    {"commat", 64},   {"lsqb", 91},     {"bsol", 92},     {"rsqb", 93},     {"lowbar", 95},
    {"lcub", 123},    {"verbar", 124},  {"rcub", 125},    {"nbsp", 160},    {"iexcl", 161},
    {"cent", 162},    {"pound", 163},   {"curren", 164},  {"yen", 165},     {"brvbar", 166},
    {"sect", 167},    {"uml", 168},     {"copy", 169},    {"ordf", 170},    {"laquo", 171},
    {"not", 172},     {"shy", 173},     {"reg", 174},     {"macr", 175},    {"deg", 176},
    {"plusmn", 177},  {"sup2", 178},    {"sup3", 179},    {"acute", 180},   {"micro", 181},
    {"para", 182},    {"middot", 183},  {"cedil", 184},   {"sup1", 185},    {"ordm", 186},
    {"raquo", 187},   {"frac14", 188},  {"frac12", 189},  {"frac34", 190},  {"iquest", 191},
    {"Agrave", 192},  {"Aacute", 193},  {"Acirc", 194},   {"Atilde", 195},  {"Auml", 196},
    {"Aring", 197},   {"AElig", 198},   {"Ccedil", 199},  {"Egrave", 200},  {"Eacute", 201},
    {"Ecirc", 202},   {"Euml", 203},    {"Igrave", 204},  {"Iacute", 205},  {"Icirc", 206},
    {"Iuml", 207},    {"ETH", 208},     {"Ntilde", 209},  {"Ograve", 210},  {"Oacute", 211},
    {"Ocirc", 212},   {"Otilde", 213},  {"Ouml", 214},    {"times", 215},   {"Oslash", 216},
    {"Ugrave", 217},  {"Uacute", 218},  {"Ucirc", 219},   {"Uuml", 220},    {"Yacute", 221},
    {"THORN", 222},   {"szlig", 223},   {"agrave", 224},  {"aacute", 225},  {"acirc", 226},
    {"atilde", 227},  {"auml", 228},    {"aring", 229},   {"aelig", 230},   {"ccedil", 231},
    {"egrave", 232},  {"eacute", 233},  {"ecirc", 234},   {"euml", 235},    {"igrave", 236},
    {"iacute", 237},  {"icirc", 238},   {"iuml", 239},    {"eth", 240},     {"ntilde", 241},
    {"ograve", 242},  {"oacute", 243},  {"ocirc", 244},   {"otilde", 245},  {"ouml", 246},
    {"divide", 247},  {"oslash", 248},  {"ugrave", 249},  {"uacute", 250},  {"ucirc", 251},
    {"uuml", 252},    {"yacute", 253},  {"thorn", 254},   {"yuml", 255},    {"OElig", 338},
    {"oelig", 339},   {"Scaron", 352},  {"scaron", 353},  {"Yuml", 376},    {"fnof", 402},
    {"circ", 710},    {"tilde", 732},   {"ensp", 8194},   {"emsp", 8195},   {"thinsp", 8201},
    {"zwnj", 8204},   {"zwj", 8205},    {"lrm", 8206},    {"rlm", 8207},    {"ndash", 8211},
    {"mdash", 8212},  {"lsquo", 8216},  {"rsquo", 8217},  {"sbquo", 8218},  {"ldquo", 8220},
    {"rdquo", 8221},  {"bdquo", 8222},  {"dagger", 8224}, {"Dagger", 8225}, {"bull", 8226},
    {"hellip", 8230}, {"permil", 8240}, {"prime", 8242},  {"Prime", 8243},  {"lsaquo", 8249},
    {"rsaquo", 8250}, {"oline", 8254},  {"frasl", 8260},  {"euro", 8364},   {"trade", 8482},
    {"larr", 8592},   {"uarr", 8593},   {"rarr", 8594},   {"darr", 8595},   {"harr", 8596},
};

/* The value of a named reference (case-sensitive, as in ClamAV), -1 when unknown. */
static int named_ref(const char *name)
{
    for (size_t i = 0; i < KHI_ARRAY_LEN(named); i++)
        if (strcmp(named[i].name, name) == 0)
            return named[i].cp;
    return -1;
}

static void val_add(hn *s, uint8_t c)
{
    if (s->val_len < STR_MAX)
        s->val[s->val_len++] = (char)c;
}

/* A decoded reference: to no-comment, and into the attribute value it stands in. */
static void ref_out(hn *s, const uint8_t *b, size_t n)
{
    puts_n(&s->a, b, n);
    if (s->ref_ret == S_ARG_VAL)
        for (size_t i = 0; i < n; i++)
            val_add(s, b[i]);
}

/* A named reference that is not one: written back, lower-cased ("&name" and ";" if it had one). */
static void ent_dump(hn *s, int semi)
{
    uint8_t amp = '&';
    ref_out(s, &amp, 1);
    for (size_t i = 0; i < s->ent_len; i++) {
        uint8_t c = lower((uint8_t)s->ent[i]);
        ref_out(s, &c, 1);
    }
    if (semi) {
        uint8_t sc = ';';
        ref_out(s, &sc, 1);
    }
}

static void text_space(hn *s)
{
    if (!s->in_script && !s->tspace) {
        put(&s->t, ' ');
        s->tspace = 1;
    }
}

static void goto_ws(hn *s, hstate next)
{
    s->st = S_SKIP_WS;
    s->next = next;
}

/* An attribute is complete: keep what no-tags needs. Quoted values lose their quotes. */
static void arg_done(hn *s, int has_value)
{
    if (!s->arg_len || !has_value)
        return;
    s->arg[s->arg_len] = '\0';
    const char *v = s->val;
    size_t n = s->val_len;
    if (n && v[0] == '"') {
        v++;
        n = n >= 2 ? n - 2 : 0;
    }
    char *dst = NULL;
    if (!strcmp(s->arg, "href") && !s->has_href) {
        dst = s->href;
        s->has_href = 1;
    } else if (!strcmp(s->arg, "src") && !s->has_src) {
        dst = s->src;
        s->has_src = 1;
    }
    if (dst) {
        memcpy(dst, v, n);
        dst[n] = '\0';
    }
}

/* The tag is complete: scripts begin and end, links and images go to no-tags. Like ClamAV this
 * happens when the byte after the tag (and the white space after it) is read, so a tag that
 * ends the input is never processed. */
static void tag_done(hn *s)
{
    s->tag[s->tag_len] = '\0';
    if (!strcmp(s->tag, "/script")) {
        s->in_script = 0;
    } else if (!strcmp(s->tag, "script")) {
        s->in_script = 1;
    } else if (!strcmp(s->tag, "a") && s->has_href && s->href[0]) {
        puts_n(&s->t, s->href, strlen(s->href));
        put(&s->t, ' ');
        s->tspace = 1;
    } else if (!strcmp(s->tag, "img") && s->has_src && s->src[0]) {
        puts_n(&s->t, s->src, strlen(s->src));
        put(&s->t, ' ');
        s->tspace = 1;
    }
    s->has_href = s->has_src = 0;
    goto_ws(s, S_NORM);
}

static void start_tag(hn *s)
{
    s->tag_len = s->arg_len = s->val_len = 0;
    s->has_href = s->has_src = 0;
}

/* ClamAV reads an ideographic full stop (U+3002, U+FF0E, U+FE52) and 0xA1 before C, D or O as
 * '.', so that a phishing domain written with them reads as a domain. */
static int dot_group(uint32_t mb, uint8_t c)
{
    return mb == 0xe38082 || mb == 0xefbc8e || mb == 0xefb992 ||
           (mb == 0xa1 && (c == 'C' || c == 'D' || c == 'O'));
}

/* A group of high bytes, written back as read (its last byte even when the group is empty:
 * ClamAV writes a NUL after the 0xA1 case). */
static size_t group_bytes(uint32_t mb, uint8_t out[3])
{
    uint8_t c0 = (uint8_t)(mb >> 16), c1 = (uint8_t)(mb >> 8), c2 = (uint8_t)mb;
    size_t n = 0;
    if (c0)
        out[n++] = c0;
    if (c0 || c1)
        out[n++] = c1;
    out[n++] = c2;
    return n;
}

/* One step; returns 1 when c was consumed, 0 when the next state must see it again. */
static int step(hn *s, uint8_t c)
{
    switch (s->st) {
    case S_SKIP_WS:
        if (is_space(c))
            return 1;
        s->st = s->next;
        return 0;
    case S_TRIM_WS:
        if (is_space(c))
            return 1;
        if (!s->in_script)
            put(&s->a, ' ');
        s->st = s->next;
        return 0;
    case S_NORM:
        if (c == '<') {
            put(&s->a, '<');
            text_space(s);
            start_tag(s);
            goto_ws(s, S_TAG);
        } else if (is_space(c)) {
            text_space(s);
            s->st = S_TRIM_WS;
            s->next = S_NORM;
        } else if (c == '&') {
            text_space(s);
            s->st = S_CHAR_REF;
            s->ref_ret = S_NORM;
        } else if (c >= 0x80) {
            s->mb = c;
            s->st = S_8BIT;
        } else {
            uint8_t l = lower(c);
            if (s->in_script && l == '\'')
                l = '"';
            put(&s->a, l);
            if (!s->in_script) {
                if (c < 0x20) {
                    text_space(s);
                } else {
                    put(&s->t, l);
                    s->tspace = 0;
                }
            }
        }
        return 1;
    case S_TAG:
        if (s->tag_len == 0 && c == '!') {
            if (s->in_script)
                put(&s->a, '!');
            else if (s->a.len)
                s->a.len--; /* the '<' */
            s->st = S_COMMENT;
        } else if (c == '>') {
            put(&s->a, '>');
            goto_ws(s, S_PROCESS);
        } else if (!is_space(c)) {
            put(&s->a, lower(c));
            if (s->in_script && s->tag_len == 0 && c != '/')
                s->st = S_NORM; /* "a<b" in a script is no tag */
            if (s->tag_len < STR_MAX)
                s->tag[s->tag_len++] = (char)lower(c);
        } else {
            s->arg_len = 0;
            /* inside a script only </script> matters: no attributes */
            goto_ws(s, s->in_script ? S_PROCESS : S_ARG);
        }
        return 1;
    case S_ARG:
        if (c == '=') {
            put(&s->a, '=');
            s->val_len = 0;
            s->quoted = Q_NONE;
            goto_ws(s, S_ARG_VAL);
        } else if (is_space(c)) {
            goto_ws(s, S_ARG_EQUAL);
        } else if (c == '>') {
            put(&s->a, '>');
            s->st = S_PROCESS;
        } else {
            if (s->arg_len == 0)
                put(&s->a, ' ');
            put(&s->a, lower(c));
            if (s->arg_len < STR_MAX)
                s->arg[s->arg_len++] = (char)lower(c);
        }
        return 1;
    case S_ARG_EQUAL:
        if (c == '=') {
            put(&s->a, '=');
            s->val_len = 0;
            s->quoted = Q_NONE;
            goto_ws(s, S_ARG_VAL);
            return 1;
        }
        s->arg_len = 0;
        s->st = S_ARG;
        return 0;
    case S_ARG_VAL:
        if ((s->val_len == 5 && !memcmp(s->val, "data:", 5)) ||
            (s->val_len == 6 && !memcmp(s->val, "\"data:", 6))) {
            if (s->a.len)
                s->a.len--; /* the ':' */
            if (s->quoted != Q_NONE)
                put(&s->a, '"');
            s->val_len = 0;
            s->st = S_DATA_TYPE;
            return 0;
        }
        if (c == '&') {
            s->st = S_CHAR_REF;
            s->ref_ret = S_ARG_VAL;
        } else if (c == '\'' || c == '"') {
            int q = c == '\'' ? Q_SINGLE : Q_DOUBLE;
            put(&s->a, '"');
            val_add(s, '"');
            if (s->val_len == 1) {
                s->quoted = q;
            } else if (s->quoted == q) {
                arg_done(s, 1);
                s->arg_len = 0;
                goto_ws(s, S_ARG);
            }
        } else if (is_space(c) || c == '>') {
            if (s->quoted == Q_NONE) {
                arg_done(s, 1);
                s->arg_len = 0;
                goto_ws(s, S_ARG);
                return 0;
            }
            /* ClamAV reads the rest of a quoted value after white space or '>' as unquoted */
            put(&s->a, c);
            val_add(s, is_space(c) ? ' ' : '>');
            s->quoted = Q_NONE;
            goto_ws(s, S_ARG_VAL);
        } else {
            if (s->mb2 && (c < 0x80 || s->mb2 >= 0x10000)) {
                if (dot_group(s->mb2, c)) {
                    put(&s->a, '.');
                    val_add(s, '.');
                    if (s->mb2 == 0xa1) {
                        s->mb2 = 0;
                        return 1;
                    }
                } else {
                    uint8_t b[3];
                    size_t n = group_bytes(s->mb2, b);
                    puts_n(&s->a, b, n);
                    for (size_t i = 0; i < n; i++)
                        val_add(s, b[i]);
                }
                s->mb2 = 0;
            }
            if (c >= 0x80) {
                s->mb2 = s->mb2 << 8 | c; /* kept until the next byte of a value, as in ClamAV */
            } else {
                put(&s->a, lower(c));
                val_add(s, c);
            }
        }
        return 1;
    case S_COMMENT:
        if (s->in_script && !is_space(c)) {
            uint8_t l = lower(c);
            put(&s->a, l == '\'' ? '"' : l);
        }
        if (c == '>')
            goto_ws(s, S_NORM);
        return 1;
    case S_CHAR_REF:
        if (c == '#') {
            s->num = 0;
            s->hex = 0;
            s->st = S_NUMREF;
            return 1;
        }
        s->ent_len = 0;
        s->st = S_ENTITY;
        return 0;
    case S_ENTITY:
        if (c == ';') {
            s->ent[s->ent_len] = '\0';
            int cp = named_ref(s->ent);
            if (cp >= 0) {
                uint8_t b[8];
                ref_out(s, b, u16_form((uint16_t)cp, b));
            } else {
                ent_dump(s, 1);
            }
            s->st = s->ref_ret;
            return 1;
        }
        if ((is_alnum(c) || c == '_' || c == ':' || c == '-') && s->ent_len < STR_MAX) {
            s->ent[s->ent_len++] = (char)c;
            return 1;
        }
        ent_dump(s, 0);
        s->st = s->ref_ret;
        return 0;
    case S_NUMREF: {
        int d = c >= '0' && c <= '9' ? c - '0' : -1;
        if (s->hex && d < 0)
            d = khi_hexval(c);
        if (s->num == 0 && (c == 'x' || c == 'X')) {
            s->hex = 1;
            return 1;
        }
        if (c == ';') {
            uint8_t b[8];
            if (s->ref_ret == S_ARG_VAL)
                val_add(s, (uint8_t)s->num);
            if (s->num < 0x80) {
                b[0] = lower((uint8_t)s->num);
                puts_n(&s->a, b, 1);
            } else {
                puts_n(&s->a, b, u16_form((uint16_t)s->num, b));
            }
            s->st = s->ref_ret;
            return 1;
        }
        if (d >= 0) {
            uint64_t base = s->hex ? 16 : 10;
            if (s->num > (UINT64_MAX >> 5)) { /* ClamAV gives up on huge values the same way */
                put(&s->a, (uint8_t)s->num);
                s->st = s->ref_ret;
                return 1;
            }
            s->num = s->num * base + (uint64_t)d;
            return 1;
        }
        put(&s->a, (uint8_t)s->num); /* no ';': the low byte as it is */
        s->st = s->ref_ret;
        return 0;
    }
    case S_DATA_TYPE:
        if ((c == '\'' && s->quoted == Q_SINGLE) || (c == '"' && s->quoted == Q_DOUBLE)) {
            s->quoted = Q_NONE;
            s->arg_len = 0;
            goto_ws(s, S_ARG);
        } else if (is_space(c) || c == '>') {
            if (s->quoted == Q_NONE) {
                s->arg_len = 0;
                goto_ws(s, S_ARG);
                return 0;
            }
            s->quoted = Q_NONE;
            goto_ws(s, S_DATA_TYPE);
        } else if (c == ',') {
            s->st = S_DATA;
        }
        return 1;
    case S_DATA:
        if (c == '&') {
            s->st = S_CHAR_REF;
            s->ref_ret = S_DATA;
        } else if (c == '%') {
            s->esc_left = 2;
            s->st = S_DATA_ESC;
        } else if ((c == '\'' && s->quoted == Q_SINGLE) || (c == '"' && s->quoted == Q_DOUBLE) ||
                   (s->quoted == Q_NONE && (is_space(c) || c == '>'))) {
            s->quoted = Q_NONE; /* the closing quote, space or '>' is consumed; the attribute
                                 * name goes on (ClamAV writes no space before the next one) */
            goto_ws(s, S_ARG);
        }
        return 1;
    case S_PROCESS:
        tag_done(s);
        return 0;
    case S_8BIT:
        if (c < 0x80 || s->mb >= 0x10000) {
            if (dot_group(s->mb, c)) {
                put(&s->a, '.');
                put(&s->t, '.');
                if (s->mb == 0xa1) {
                    s->mb = 0;
                    return 1; /* the letter is taken, the group goes on empty */
                }
            } else {
                uint8_t b[3];
                size_t n = group_bytes(s->mb, b);
                puts_n(&s->a, b, n);
                puts_n(&s->t, b, n); /* ClamAV writes these even inside scripts */
            }
            s->mb = 0;
            s->st = S_NORM;
            return 0;
        }
        s->mb = s->mb << 8 | c;
        return 1;
    case S_DATA_ESC:
        /* "%hh": the first byte ends the escape unless it is a hex digit */
        if (--s->esc_left == 0 || khi_hexval(c) < 0)
            s->st = S_DATA;
        return 1;
    }
    return 1;
}

/* End of input inside a reference: what ClamAV writes for it. */
static void finish(hn *s)
{
    if (s->st == S_8BIT) { /* ClamAV loses the last group; its bytes are kept here */
        uint8_t b[3];
        size_t n = group_bytes(s->mb, b);
        puts_n(&s->a, b, n);
        puts_n(&s->t, b, n);
    }
    if (s->st == S_ENTITY) {
        s->ent[s->ent_len] = '\0';
        int cp = named_ref(s->ent);
        uint8_t b[8];
        if (cp >= 0)
            puts_n(&s->a, b, u16_form((uint16_t)cp, b));
    }
}

static kh_err obuf_init(obuf *o, size_t len)
{
    o->cap = 2 * len + 64;
    o->len = 0;
    o->p = khi_malloc(o->cap);
    return o->p ? KH_OK : KH_ENOMEM;
}

kh_err khi_htmlnorm(const uint8_t *d, size_t len, uint8_t **out_nocomment, size_t *out_nc_len,
                    uint8_t **out_notags, size_t *out_nt_len)
{
    kh_err err = KH_OK;
    hn *s = khi_calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    *out_nocomment = NULL;
    *out_nc_len = 0;
    if (out_notags) {
        *out_notags = NULL;
        *out_nt_len = 0;
    }
    err = obuf_init(&s->a, len);
    if (err == KH_OK && out_notags)
        err = obuf_init(&s->t, len);
    if (err != KH_OK)
        goto out;
    s->st = S_SKIP_WS; /* leading white space is skipped */
    s->next = S_NORM;
    for (size_t i = 0; i < len;) {
        uint8_t c = d[i];
        if (c == 0 || (c == '\r' && s->st != S_DATA)) {
            i++;
            continue;
        }
        if (c == '\n' && s->st != S_DATA)
            c = ' ';
        if (step(s, c))
            i++;
    }
    finish(s);
    *out_nocomment = s->a.p;
    *out_nc_len = s->a.len;
    s->a.p = NULL;
    if (out_notags) {
        *out_notags = s->t.p;
        *out_nt_len = s->t.len;
        s->t.p = NULL;
    }
out:
    khi_free(s->a.p);
    khi_free(s->t.p);
    khi_free(s);
    return err;
}
