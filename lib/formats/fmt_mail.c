/*
 * fmt_mail.c - e-mail: RFC 822/MIME messages and mbox files, down to every attachment.
 *
 * A message is headers and a body; a multipart body is split at its boundary lines into parts
 * that are messages of their own (recursively, to a depth limit), message/rfc822 bodies are
 * messages again, and every leaf is decoded by its Content-Transfer-Encoding (base64,
 * quoted-printable, x-uuencode; anything else as is) and handed to the caller under its file
 * name, or "part-N". Text bodies are also searched for bare uuencoded blocks ("begin 644 name"
 * ... "end"), which mailers still produce. An mbox is split at its "From " lines first.
 *
 * Parsing is tolerant, as mail in the wild is broken: a missing closing boundary ends the part
 * at the end of the data, junk in base64 is skipped, and a header without its blank line ends
 * at the end of the data. It never reads past the buffer and never allocates more than the
 * decoded size of a part, which is at most its encoded size.
 */
#include "formats/formats.h"
#include "core/core.h"

#include <ctype.h>
#include <string.h>

#define MAX_DEPTH 16
#define MAX_PARTS 100000 /* past the scanner's max-files (10000), which warns */

typedef struct mctx {
    khi_part_fn cb;
    void *ud;
    unsigned nparts;
    kh_err err;
    int stop;
} mctx;

static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : end;
}

static int starts_ci(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(end - p) >= n && strncasecmp(p, w, n) == 0;
}

/* The value of header name (case-insensitive) with folded lines joined, into out. */
static int header(const char *h, const char *hend, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);
    for (const char *p = h; p < hend; p = line_end(p, hend)) {
        if ((size_t)(hend - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            size_t k = 0;
            const char *v = p + nl + 1;
            for (;;) {
                const char *le = line_end(v, hend);
                for (const char *q = v; q < le && k + 1 < out_len; q++)
                    if (*q != '\r' && *q != '\n')
                        out[k++] = *q == '\t' ? ' ' : *q;
                v = le;
                if (v >= hend || (*v != ' ' && *v != '\t'))
                    break;
            }
            while (k && out[k - 1] == ' ')
                k--;
            out[k] = '\0';
            size_t lead = strspn(out, " ");
            memmove(out, out + lead, k - lead + 1);
            return 1;
        }
    }
    out[0] = '\0';
    return 0;
}

/* Parameter key of a header value ("...; key=value" or key="value"), into out. */
static int param(const char *v, const char *key, char *out, size_t out_len)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(v, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, key, kl) != 0)
            continue;
        q += kl;
        if (*q == '*') /* RFC 2231 form: key*=charset''value */
            q++;
        while (*q == ' ')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ')
            q++;
        size_t k = 0;
        if (*q == '"') {
            q++;
            while (*q && *q != '"' && k + 1 < out_len)
                out[k++] = *q++;
        } else {
            const char *tick = strstr(q, "''");
            if (tick && tick < q + strcspn(q, ";"))
                q = tick + 2;
            while (*q && *q != ';' && *q != ' ' && k + 1 < out_len)
                out[k++] = *q++;
        }
        out[k] = '\0';
        return k > 0;
    }
    out[0] = '\0';
    return 0;
}

static size_t b64_decode(const char *s, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
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

static size_t qp_decode(const char *s, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && khi_hexval((unsigned char)s[i + 1]) >= 0 &&
            khi_hexval((unsigned char)s[i + 2]) >= 0) {
            out[k++] = (uint8_t)(khi_hexval((unsigned char)s[i + 1]) << 4 | khi_hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (s[i] == '=' && i + 1 < n && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
            i += (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n') ? 2 : 1; /* soft break */
        } else {
            out[k++] = (uint8_t)s[i];
        }
    }
    return k;
}

/* One uuencoded block from "begin" (p at its line) to "end"; *next gets where it stopped. */
static size_t uu_decode(const char *p, const char *end, uint8_t *out, char *name, size_t name_len,
                        const char **next)
{
    size_t k = 0;
    const char *le = line_end(p, end);
    const char *sp = memchr(p + 6, ' ', (size_t)(le - p) > 6 ? (size_t)(le - p - 6) : 0);
    size_t nn = 0;
    if (sp)
        for (const char *q = sp + 1; q < le && *q != '\r' && *q != '\n' && nn + 1 < name_len; q++)
            name[nn++] = *q;
    name[nn] = '\0';
    for (p = le; p < end; p = le) {
        le = line_end(p, end);
        if (starts_ci(p, le, "end") && (le - p <= 5))
            break;
        int len = (p[0] - 32) & 63;
        if (len == 0)
            continue;
        const char *q = p + 1;
        for (int got = 0; got < len && q + 3 < le; q += 4) {
            uint32_t v = (uint32_t)((q[0] - 32) & 63) << 18 | (uint32_t)((q[1] - 32) & 63) << 12 |
                         (uint32_t)((q[2] - 32) & 63) << 6 | (uint32_t)((q[3] - 32) & 63);
            for (int b = 2; b >= 0 && got < len; b--, got++)
                out[k++] = (uint8_t)(v >> (8 * b));
        }
    }
    *next = le;
    return k;
}

static void emit(mctx *c, const uint8_t *d, size_t n, const char *name)
{
    if (c->stop)
        return;
    if (++c->nparts > MAX_PARTS) {
        c->stop = 1;
        return;
    }
    char fallback[32];
    if (!name || !*name) {
        khi_snprintf(fallback, sizeof(fallback), "part-%u", c->nparts);
        name = fallback;
    }
    if (c->cb(c->ud, d, n, name))
        c->stop = 1;
}

/* Bare uuencoded blocks in a text body. */
static void find_uu(mctx *c, const char *p, const char *end)
{
    while (p < end && !c->stop) {
        const char *le = line_end(p, end);
        if (le - p > 10 && strncmp(p, "begin ", 6) == 0 && isdigit((unsigned char)p[6])) {
            uint8_t *buf = khi_malloc((size_t)(end - p));
            if (!buf) {
                c->err = KH_ENOMEM;
                c->stop = 1;
                return;
            }
            char name[256];
            const char *next = le;
            size_t n = uu_decode(p, end, buf, name, sizeof(name), &next);
            emit(c, buf, n, name);
            khi_free(buf);
            le = next;
        }
        p = le;
    }
}

static void entity(mctx *c, const char *p, const char *end, int depth, unsigned *counter);

static void multipart(mctx *c, const char *body, const char *end, const char *boundary, int depth,
                      unsigned *counter)
{
    size_t bl = strlen(boundary);
    const char *part = NULL;
    for (const char *p = body; p < end && !c->stop;) {
        const char *le = line_end(p, end);
        if ((size_t)(le - p) >= bl + 2 && p[0] == '-' && p[1] == '-' && memcmp(p + 2, boundary, bl) == 0) {
            if (part) {
                const char *pe = p;
                if (pe > part && pe[-1] == '\n')
                    pe--;
                if (pe > part && pe[-1] == '\r')
                    pe--;
                entity(c, part, pe, depth + 1, counter);
            }
            if ((size_t)(le - p) >= bl + 4 && p[bl + 2] == '-' && p[bl + 3] == '-')
                return; /* closing boundary */
            part = le;
        }
        p = le;
    }
    if (part && !c->stop)
        entity(c, part, end, depth + 1, counter); /* no closing boundary: to the end */
}

static void entity(mctx *c, const char *p, const char *end, int depth, unsigned *counter)
{
    if (depth > MAX_DEPTH || c->stop)
        return;
    const char *h = p, *body = end;
    for (const char *q = p; q < end; q = line_end(q, end)) {
        if (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n')) {
            body = line_end(q, end);
            break;
        }
    }
    const char *hend = body;
    char ctype[1024], cte[128], disp[1024], name[512], boundary[256];
    header(h, hend, "Content-Type", ctype, sizeof(ctype));
    header(h, hend, "Content-Transfer-Encoding", cte, sizeof(cte));
    header(h, hend, "Content-Disposition", disp, sizeof(disp));
    if (!param(disp, "filename", name, sizeof(name)))
        param(ctype, "name", name, sizeof(name));
    if (!strncasecmp(ctype, "multipart/", 10) && param(ctype, "boundary", boundary, sizeof(boundary))) {
        multipart(c, body, end, boundary, depth, counter);
        return;
    }
    if (!strncasecmp(ctype, "message/rfc822", 14)) {
        entity(c, body, end, depth + 1, counter);
        return;
    }
    size_t n = (size_t)(end - body);
    uint8_t *buf = khi_malloc(n ? n : 1);
    if (!buf) {
        c->err = KH_ENOMEM;
        c->stop = 1;
        return;
    }
    size_t k;
    const char *dummy;
    char uuname[256];
    if (!strncasecmp(cte, "base64", 6))
        k = b64_decode(body, n, buf);
    else if (!strncasecmp(cte, "quoted-printable", 16))
        k = qp_decode(body, n, buf);
    else if (strstr(cte, "uuencode") || strstr(cte, "uue")) {
        const char *b = body;
        while (b < end && !((size_t)(end - b) >= 6 && memcmp(b, "begin ", 6) == 0))
            b = line_end(b, end);
        k = b < end ? uu_decode(b, end, buf, uuname, sizeof(uuname), &dummy) : 0;
        if (!name[0])
            khi_snprintf(name, sizeof(name), "%s", uuname);
    } else {
        memcpy(buf, body, n);
        k = n;
    }
    (*counter)++;
    emit(c, buf, k, name);
    khi_free(buf);
    if (!strncasecmp(ctype, "text/", 5) || !ctype[0])
        find_uu(c, body, end);
}

int khi_mail_detect(const uint8_t *d, size_t len)
{
    const char *p = (const char *)d, *end = p + (len < 8192 ? len : 8192);
    if (len > 5 && memcmp(d, "From ", 5) == 0)
        return 1;
    static const char *const strong[] = {"From:", "Received:", "Return-Path:", "MIME-Version:",
                                         "Message-ID:", "Delivered-To:", "Subject:"};
    int lines = 0, strong_seen = 0;
    for (const char *q = p; q < end && lines < 64; q = line_end(q, end)) {
        if (*q == '\n' || *q == '\r')
            break; /* end of headers */
        if (*q == ' ' || *q == '\t')
            continue; /* folded */
        const char *colon = NULL;
        for (const char *r = q; r < end && r - q < 76; r++) {
            if (*r == ':') {
                colon = r;
                break;
            }
            if (*r <= ' ' || *r > '~')
                return 0;
        }
        if (!colon || colon == q)
            return 0;
        for (size_t i = 0; i < KHI_ARRAY_LEN(strong); i++)
            if (starts_ci(q, end, strong[i]))
                strong_seen = 1;
        lines++;
    }
    return lines >= 2 && strong_seen;
}

kh_err khi_mail_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    mctx c = {cb, ud, 0, KH_OK, 0};
    const char *p = (const char *)data, *end = p + len;
    unsigned counter = 0;
    if (len > 5 && memcmp(p, "From ", 5) == 0) {
        /* mbox: messages start at "From " lines that follow an empty line (or the start) */
        const char *msg = line_end(p, end), *prev_blank = NULL;
        for (const char *q = msg; q < end && !c.stop;) {
            const char *le = line_end(q, end);
            if (prev_blank && (size_t)(end - q) > 5 && memcmp(q, "From ", 5) == 0) {
                entity(&c, msg, q, 0, &counter);
                msg = le;
            }
            prev_blank = (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n')) ? q : NULL;
            q = le;
        }
        if (!c.stop)
            entity(&c, msg, end, 0, &counter);
    } else {
        entity(&c, p, end, 0, &counter);
    }
    return c.err;
}
