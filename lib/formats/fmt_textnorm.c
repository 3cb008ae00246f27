/*
 * fmt_textnorm.c - the normalised text that ClamAV target type 7 signatures are written for.
 *
 * ClamAV matches .ndb/.ldb signatures of target type 7 ("ASCII text") not against the bytes of a
 * text file but against a normalised copy: ASCII upper case becomes lower case, every run of
 * white space (space, TAB, LF, VT, FF, CR) becomes one space, and every other byte below 0x20 and
 * every byte above 0x7f is dropped. So "Tiếng   Việt" reads "ting vit" there; a signature
 * author writes the pattern for that form, and matching the same form is the only way to fire
 * where ClamAV fires. Nothing here is meant for display: the view exists only to be matched.
 *
 * The normaliser is a table lookup per byte with one bit of state (a space was just written),
 * so it runs in one pass, can be fed in pieces, and never writes more bytes than it reads.
 *
 * Which objects are text is decided as ClamAV decides it (its textdet.c, after file(1)): no
 * byte of the head is one that "never appears in text" (NUL, most control characters, DEL);
 * bytes above 0x7f are allowed (ISO-8859, UTF-8 and the old PC code pages all pass), and a
 * UTF-16 head of printable characters counts as well.
 */
#include "formats/formats.h"

#include <string.h>

enum { T_DROP = 0, T_COPY = 1, T_SPACE = 2, T_LOWER = 3 };

static uint8_t action(uint8_t c)
{
    if (c == ' ' || (c >= 0x09 && c <= 0x0d))
        return T_SPACE;
    if (c >= 'A' && c <= 'Z')
        return T_LOWER;
    if (c > 0x20 && c < 0x80)
        return T_COPY;
    return T_DROP;
}

size_t khi_textnorm(khi_textnorm_state *st, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t k = 0;
    int space = st->space;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        switch (action(c)) {
        case T_SPACE:
            if (!space)
                out[k++] = ' ';
            space = 1;
            break;
        case T_LOWER:
            out[k++] = (uint8_t)(c + 32);
            space = 0;
            break;
        case T_COPY:
            out[k++] = c;
            space = 0;
            break;
        default:
            break;
        }
    }
    st->space = space;
    return k;
}

/* Bytes that never appear in text: NUL..ACK, VT, SO..SUB, FS..US, DEL (BEL, BS, TAB, LF, FF,
 * CR and ESC do). */
static int never_text(unsigned c)
{
    if (c == 0x7f)
        return 1;
    if (c < 0x20)
        return !(c == 0x07 || c == 0x08 || c == 0x09 || c == 0x0a || c == 0x0c || c == 0x0d ||
                 c == 0x1b);
    return 0;
}

/* Printable UTF-16 (with a byte order mark, or without one and only text characters). */
static int utf16_text(const uint8_t *d, size_t len)
{
    int be, bom = 1;
    size_t bad = 0;
    if (len < 2)
        return 0;
    if (d[0] == 0xff && d[1] == 0xfe)
        be = 0;
    else if (d[0] == 0xfe && d[1] == 0xff)
        be = 1;
    else
        be = 1, bom = 0;
    for (size_t i = 2; i + 1 < len; i += 2) {
        unsigned c = be ? (unsigned)d[i] << 8 | d[i + 1] : (unsigned)d[i + 1] << 8 | d[i];
        if (c == 0xfffe)
            return 0;
        if (c < 128 && never_text(c)) {
            if (!bom)
                return 0;
            bad++;
        }
    }
    return !bom || bad < len / 2;
}

int khi_text_detect(const uint8_t *d, size_t len)
{
    size_t n = len < KHI_TEXT_HEAD ? len : KHI_TEXT_HEAD;
    if (n == 0)
        return 0;
    size_t i = 0;
    while (i < n && !never_text(d[i]))
        i++;
    return i == n || utf16_text(d, n);
}
