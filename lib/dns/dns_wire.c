/*
 * dns_wire.c - the header and first question of a wire-format DNS message (RFC 1035 section
 * 4.1), for the formats that carry whole messages (dnstap).
 *
 * The bytes are untrusted, so the name walk is bounded three ways: every read is checked
 * against the message length, a compression pointer must point strictly before the run of
 * labels that contains it (so the walk cannot loop and makes at most one jump per earlier
 * offset), and the name may not exceed 255 octets on the wire. Labels are written in
 * presentation form as Unbound and dig print them: "." and "\" escaped, bytes outside
 * printable ASCII as \DDD, no trailing dot; the root name is ".".
 */
#include "dns/dns_int.h"

static const struct {
    unsigned short type;
    const char *name;
} qtypes[] = {
    {1, "A"},      {2, "NS"},     {5, "CNAME"},  {6, "SOA"},      {10, "NULL"}, {12, "PTR"},
    {13, "HINFO"}, {15, "MX"},    {16, "TXT"},   {28, "AAAA"},    {33, "SRV"},  {35, "NAPTR"},
    {39, "DNAME"}, {41, "OPT"},   {43, "DS"},    {46, "RRSIG"},   {47, "NSEC"}, {48, "DNSKEY"},
    {50, "NSEC3"}, {52, "TLSA"},  {59, "CDS"},   {60, "CDNSKEY"}, {64, "SVCB"}, {65, "HTTPS"},
    {99, "SPF"},   {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"},    {256, "URI"}, {257, "CAA"},
};

size_t khi_dns_qtype_name(unsigned type, char *out, size_t cap)
{
    const char *known = NULL;
    for (size_t i = 0; i < KHI_ARRAY_LEN(qtypes) && !known; i++)
        if (qtypes[i].type == type)
            known = qtypes[i].name;
    if (known)
        khi_snprintf(out, cap, "%s", known);
    else
        khi_snprintf(out, cap, "TYPE%u", type);
    return strlen(out);
}

/* Append one label byte in presentation form; 0 when out is full. */
static int put_byte(unsigned char b, char *out, size_t cap, size_t *o)
{
    if (b == '.' || b == '\\') {
        if (*o + 2 >= cap)
            return 0;
        out[(*o)++] = '\\';
        out[(*o)++] = (char)b;
    } else if (b <= ' ' || b >= 0x7f) {
        if (*o + 4 >= cap)
            return 0;
        out[(*o)++] = '\\';
        out[(*o)++] = (char)('0' + b / 100);
        out[(*o)++] = (char)('0' + b / 10 % 10);
        out[(*o)++] = (char)('0' + b % 10);
    } else {
        if (*o + 1 >= cap)
            return 0;
        out[(*o)++] = (char)b;
    }
    return 1;
}

int khi_dns_wire_name(const unsigned char *msg, size_t len, size_t off, char *out, size_t cap,
                      size_t *out_len, size_t *out_end, const char **why)
{
    size_t pos = off, run = off, end = 0, o = 0, wire = 1;
    int jumped = 0;
    if (cap < 2) {
        *why = "no room for the name";
        return -1;
    }
    for (;;) {
        if (pos >= len) {
            *why = "name runs past the end of the message";
            return -1;
        }
        unsigned c = msg[pos];
        if (c == 0) {
            if (!jumped)
                end = pos + 1;
            break;
        }
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= len) {
                *why = "compression pointer runs past the end of the message";
                return -1;
            }
            size_t ptr = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
            if (!jumped)
                end = pos + 2;
            jumped = 1;
            if (ptr >= run) {
                *why = "compression pointer does not point backwards";
                return -1;
            }
            run = pos = ptr;
            continue;
        }
        if (c & 0xc0) {
            *why = "unknown label type";
            return -1;
        }
        if (pos + 1 + c > len) {
            *why = "label runs past the end of the message";
            return -1;
        }
        wire += c + 1;
        if (wire > 255) {
            *why = "name longer than 255 octets";
            return -1;
        }
        if (o) {
            if (o + 1 >= cap)
                goto full;
            out[o++] = '.';
        }
        for (size_t i = 0; i < c; i++)
            if (!put_byte(msg[pos + 1 + i], out, cap, &o))
                goto full;
        pos += 1 + c;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    *out_len = o;
    *out_end = end;
    return 0;
full:
    *why = "name too long for its buffer";
    return -1;
}

int khi_dns_wire_question(const unsigned char *msg, size_t len, char *name, size_t cap,
                          khi_dns_wire_q *out, const char **why)
{
    if (len < 12) {
        *why = "DNS message shorter than its header";
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->id = (uint16_t)(msg[0] << 8 | msg[1]);
    out->flags = (uint16_t)(msg[2] << 8 | msg[3]);
    unsigned qd = (unsigned)(msg[4] << 8 | msg[5]);
    if (qd == 0) {
        *why = "DNS message without a question";
        return -1;
    }
    size_t end = 0;
    if (khi_dns_wire_name(msg, len, 12, name, cap, &out->name_len, &end, why) != 0)
        return -1;
    if (end + 4 > len) {
        *why = "question without type and class";
        return -1;
    }
    out->qtype = (uint16_t)(msg[end] << 8 | msg[end + 1]);
    out->qclass = (uint16_t)(msg[end + 2] << 8 | msg[end + 3]);
    out->is_response = (out->flags & 0x8000) != 0;
    out->rcode = out->flags & 0xf;
    return 0;
}
