/*
 * fmt_rtf.c - RTF documents: the embedded objects (\objdata), decoded.
 *
 * Malicious RTF carries its payload in \objdata groups: hex digits (white space, line breaks
 * and stray control words between them are allowed) or \binN followed by N raw bytes. Each
 * such group is decoded and handed out as "objdata-N". The decoded data is usually an OLE1
 * object: version, format (2 = embedded), class name, topic, item, then the native data with
 * its length. When the class is "Package" the native data is a Package stream (label,
 * original path, then the embedded file with its length) and the embedded file is handed out
 * too, under the base name of its path (or its label); any other embedded class (an OLE2
 * Word or Excel file, say) has its native data handed out as "objdata-N.<class>".
 *
 * Groups nested inside \objdata (such as {\*\foo 00}, which Word ignores and droppers insert to
 * break hex signatures) are skipped, their \bin data included.
 *
 * Bounds: the document is scanned once for "\objdata"; a group's decoding ends at its closing
 * brace (nested groups inside it are counted, not recursed into) and the next search starts
 * there, so the work is linear. A decoded object is at most as long as the text it came from,
 * so one buffer, sized for the first, serves them all. At most 100000 objects are handed out
 * (the scanner's max-files, 10000 by default, stops earlier and reports it).
 */
#include "formats/formats.h"
#include "core/core.h"

#include <ctype.h>
#include <string.h>

#define MAX_OBJECTS 100000

int khi_rtf_detect(const uint8_t *data, size_t len)
{
    return len >= 5 && memcmp(data, "{\\rt", 4) == 0;
}

/* A length-prefixed field of an OLE1 header at *off; the string is copied (cut) into out. */
static int ole1_str(const uint8_t *d, size_t n, size_t *off, char *out, size_t out_len)
{
    if (n - *off < 4)
        return 0;
    uint32_t l = khi_le32(d + *off);
    *off += 4;
    if (l > n - *off)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < l && k + 1 < out_len && d[*off + i]; i++)
        out[k++] = (d[*off + i] < 0x20 || d[*off + i] == '/' || d[*off + i] == 0x7f)
                       ? '_'
                       : (char)d[*off + i];
    out[k] = '\0';
    *off += l;
    return 1;
}

/* A NUL-terminated string at *off (within n), copied (cut) into out. */
static int cstr(const uint8_t *d, size_t n, size_t *off, char *out, size_t out_len)
{
    const uint8_t *z = *off < n ? memchr(d + *off, 0, n - *off) : NULL;
    if (!z)
        return 0;
    size_t l = (size_t)(z - (d + *off)), k = 0;
    for (size_t i = 0; i < l && k + 1 < out_len; i++)
        out[k++] = (char)d[*off + i];
    out[k] = '\0';
    *off += l + 1;
    return 1;
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '/' || *s == 0x7f)
            *s = '_';
}

int khi_ole1_package(const uint8_t *d, size_t n, const char *fallback, khi_part_fn cb, void *ud)
{
    char label[256], path[512], name[256];
    size_t off = 2;
    if (n < 2 || !cstr(d, n, &off, label, sizeof(label)) || !cstr(d, n, &off, path, sizeof(path)))
        return 0;
    if (n - off < 8)
        return 0;
    uint32_t utype = khi_le32(d + off);
    off += 4;
    if (utype != 0x00030000)
        return 0; /* a link (0x00010000) carries no file */
    uint32_t pl = khi_le32(d + off);
    off += 4;
    if (pl > n - off || n - off - pl < 4)
        return 0;
    off += pl;
    uint32_t fl = khi_le32(d + off);
    off += 4;
    size_t l = fl < n - off ? fl : n - off;
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/' || *p == ':')
            base = p + 1;
    khi_snprintf(name, sizeof(name), "%s", *base ? base : label[0] ? label : fallback);
    sanitize(name);
    return cb(ud, d + off, l, name);
}

/* The embedded object of an OLE1 header, if there is one; returns non-zero to stop. */
static int ole1(const uint8_t *d, size_t n, const char *objname, khi_part_fn cb, void *ud)
{
    char cls[128], topic[256], item[256], name[300];
    size_t off = 8;
    if (n < 8 || khi_le32(d + 4) != 2)
        return 0;
    if (!ole1_str(d, n, &off, cls, sizeof(cls)) || !ole1_str(d, n, &off, topic, sizeof(topic)) ||
        !ole1_str(d, n, &off, item, sizeof(item)) || n - off < 4)
        return 0;
    uint32_t nl = khi_le32(d + off);
    off += 4;
    size_t l = nl < n - off ? nl : n - off;
    if (strcmp(cls, "Package") == 0)
        return khi_ole1_package(d + off, l, objname, cb, ud);
    khi_snprintf(name, sizeof(name), "%s.%s", objname, cls[0] ? cls : "native");
    return cb(ud, d + off, l, name);
}

/* Decode one \objdata group from p (just after the control word) into out; returns where the
 * group ended. */
static size_t objdata(const uint8_t *d, size_t len, size_t i, uint8_t *out, size_t *out_len)
{
    size_t k = 0;
    int depth = 0, hi = -1;
    while (i < len) {
        uint8_t c = d[i];
        if (c == '}') {
            if (depth-- == 0)
                break;
            i++;
        } else if (c == '{') {
            depth++;
            i++;
        } else if (c == '\\') {
            size_t w = ++i;
            while (i < len && isalpha(d[i]))
                i++;
            size_t wl = i - w;
            int neg = i < len && d[i] == '-';
            if (neg)
                i++;
            uint64_t num = 0;
            int digits = 0;
            while (i < len && isdigit(d[i])) {
                if (num < (1u << 31))
                    num = num * 10 + (uint64_t)(d[i] - '0');
                i++;
                digits++;
            }
            if (wl && i < len && d[i] == ' ')
                i++;
            if (!wl && i < len && w == i)
                i++; /* a control symbol such as \' or \{ */
            if (wl == 3 && memcmp(d + w, "bin", 3) == 0 && digits && !neg) {
                size_t nb = num < len - i ? (size_t)num : len - i;
                if (depth == 0) {
                    memcpy(out + k, d + i, nb);
                    k += nb;
                    hi = -1;
                }
                i += nb;
            }
        } else {
            int v = khi_hexval(c);
            if (v >= 0 && depth == 0) {
                if (hi < 0) {
                    hi = v;
                } else {
                    out[k++] = (uint8_t)(hi << 4 | v);
                    hi = -1;
                }
            }
            i++;
        }
    }
    *out_len = k;
    return i;
}

kh_err khi_rtf_walk(const uint8_t *data, size_t len, khi_part_fn cb, void *ud)
{
    static const char word[] = "\\objdata";
    const size_t wl = sizeof(word) - 1;
    unsigned count = 0;
    size_t i = 0;
    uint8_t *buf = NULL;
    while (i + wl <= len && count < MAX_OBJECTS) {
        const uint8_t *hit = memchr(data + i, '\\', len - i);
        if (!hit)
            break;
        i = (size_t)(hit - data);
        if (len - i < wl || memcmp(data + i, word, wl) != 0 ||
            (len - i > wl && isalpha(data[i + wl]))) {
            i++;
            continue;
        }
        i += wl;
        if (!buf) {
            buf = khi_malloc(len - i + 1); /* big enough for this and every later object */
            if (!buf)
                return KH_ENOMEM;
        }
        size_t n;
        i = objdata(data, len, i, buf, &n);
        char name[32];
        count++;
        khi_snprintf(name, sizeof(name), "objdata-%u", count);
        if (cb(ud, buf, n, name) || ole1(buf, n, name, cb, ud))
            break;
    }
    khi_free(buf);
    return KH_OK;
}
