/*
 * dns_log_dnstap.c - dnstap (https://dnstap.info): Frame Streams frames whose payloads are
 * Dnstap protobuf messages, as Unbound, BIND, Knot Resolver and dnsdist write them to a file
 * or send them to a socket.
 *
 * A Frame Streams stream is a sequence of frames, each a 32-bit big-endian length and that many
 * bytes; a length of 0 escapes a control frame (32-bit length, 32-bit type START/STOP/READY/
 * ACCEPT/FINISH, then fields such as the content type "protobuf:dnstap.Dnstap"). The framing
 * is done here rather than with libfstrm's reader because that reader gives up on the whole
 * stream at the first oversized or damaged frame, while a log reader must skip it, count it and
 * go on; libfstrm decodes the control frames (fstrm_control_decode). The payload is decoded
 * with protobuf-c (code generated from dnstap.proto) into a fixed arena per reader, reset for
 * every frame, so that a frame never costs a malloc and a hostile one cannot grow memory.
 *
 * Records: CLIENT_QUERY and AUTH_QUERY (is_query 1), CLIENT_RESPONSE and AUTH_RESPONSE
 * (is_query 0, rcode from the response header). The client is query_address; the name, type
 * and code come from the wire message (dns_wire.c). A resolver's own upstream traffic
 * (RESOLVER_, FORWARDER_, STUB_, TOOL_, UPDATE_) names the resolver, not a subscriber, and
 * is ignored.
 */
#include "dns/dns_int.h"
#include "dns/dnstap.pb-c.h"

#include <arpa/inet.h>
#include <fstrm.h>
#include <stdalign.h>
#include <stddef.h>

/* Decoding memory per frame: the structs and copies of the bytes fields of a 64 KiB frame. */
#define ARENA_SIZE (256 * 1024)

struct khi_dns_tap {
    ProtobufCAllocator alloc;
    unsigned char *arena;
    size_t used;
    struct fstrm_control *ctl;
    int foreign; /* a START with another content type: data frames ignored until STOP */
};

static void *arena_alloc(void *ud, size_t n)
{
    struct khi_dns_tap *t = ud;
    size_t a = alignof(max_align_t);
    size_t at = (t->used + a - 1) & ~(a - 1);
    if (n > ARENA_SIZE || at > ARENA_SIZE - n)
        return NULL; /* protobuf-c then fails the unpack: the frame is malformed */
    t->used = at + n;
    return t->arena + at;
}

static void arena_free(void *ud, void *p)
{
    (void)ud;
    (void)p; /* everything goes at once when the next frame resets the arena */
}

kh_err khi_dns_tap_prepare(khi_dns_pstate *st)
{
    if (st->tap)
        return KH_OK;
    struct khi_dns_tap *t = khi_calloc(1, sizeof(*t));
    if (!t)
        return KH_ENOMEM;
    t->arena = khi_malloc(ARENA_SIZE);
    t->ctl = fstrm_control_init();
    if (!t->arena || !t->ctl) {
        if (t->ctl)
            fstrm_control_destroy(&t->ctl);
        khi_free(t->arena);
        khi_free(t);
        return KH_ENOMEM;
    }
    t->alloc.alloc = arena_alloc;
    t->alloc.free = arena_free;
    t->alloc.allocator_data = t;
    st->tap = t;
    return KH_OK;
}

void khi_dns_tap_cleanup(khi_dns_pstate *st)
{
    if (!st || !st->tap)
        return;
    fstrm_control_destroy(&st->tap->ctl);
    khi_free(st->tap->arena);
    khi_free(st->tap);
    st->tap = NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int khi_dns_fs_split(const unsigned char *p, size_t n, size_t *out_hdr, size_t *out_len)
{
    if (n < 4)
        return KHI_FS_MORE;
    uint32_t l = be32(p);
    int kind = KHI_FS_DATA;
    size_t hdr = 4;
    if (l == 0) {
        if (n < 8)
            return KHI_FS_MORE;
        l = be32(p + 4);
        hdr = 8;
        kind = KHI_FS_CONTROL;
    }
    *out_hdr = hdr;
    *out_len = l;
    if (l > KHI_DNS_FRAME_MAX)
        return KHI_FS_TOO_BIG;
    if (n - hdr < l)
        return KHI_FS_MORE;
    return kind;
}

int khi_dns_tap_control(khi_dns_pstate *st, const unsigned char *p, size_t len, const char **why)
{
    struct khi_dns_tap *t = st->tap;
    fstrm_control_type type;
    if (fstrm_control_decode(t->ctl, p, len, 0) != fstrm_res_success ||
        fstrm_control_get_type(t->ctl, &type) != fstrm_res_success) {
        *why = "dnstap: damaged Frame Streams control frame";
        return KHI_PARSE_BAD;
    }
    if (type == FSTRM_CONTROL_START)
        t->foreign = fstrm_control_match_field_content_type(
                         t->ctl, (const uint8_t *)KHI_DNSTAP_CONTENT_TYPE,
                         sizeof(KHI_DNSTAP_CONTENT_TYPE) - 1) != fstrm_res_success;
    else if (type == FSTRM_CONTROL_STOP)
        t->foreign = 0;
    return KHI_PARSE_IGNORE;
}

/* Milliseconds of a dnstap time, -1 when absent or beyond the year 5000. */
static int64_t tap_ms(protobuf_c_boolean has_sec, uint64_t sec, protobuf_c_boolean has_nsec,
                      uint32_t nsec)
{
    if (!has_sec || sec > 95617584000ULL)
        return -1;
    return (int64_t)sec * 1000 + (has_nsec && nsec < 1000000000u ? nsec / 1000000 : 0);
}

int khi_dns_parse_dnstap(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec,
                         const char **why)
{
    struct khi_dns_tap *t = st->tap;
    if (!t) {
        *why = "dnstap: no decoder state";
        return KHI_PARSE_BAD;
    }
    if (t->foreign)
        return KHI_PARSE_IGNORE;
    t->used = 0;
    Dnstap__Dnstap *d = dnstap__dnstap__unpack(&t->alloc, len, (const uint8_t *)line);
    if (!d) {
        *why = "dnstap: frame is not a Dnstap protobuf message";
        return KHI_PARSE_BAD;
    }
    if (d->type != DNSTAP__DNSTAP__TYPE__MESSAGE || !d->message)
        return KHI_PARSE_IGNORE;
    const Dnstap__Message *m = d->message;
    int query;
    switch (m->type) {
    case DNSTAP__MESSAGE__TYPE__CLIENT_QUERY:
    case DNSTAP__MESSAGE__TYPE__AUTH_QUERY:
        query = 1;
        break;
    case DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE:
    case DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE:
        query = 0;
        break;
    default:
        return KHI_PARSE_IGNORE; /* the resolver's own upstream traffic, tools, updates */
    }
    const ProtobufCBinaryData *a = &m->query_address;
    int af = !m->has_query_address ? 0 : a->len == 4 ? AF_INET : a->len == 16 ? AF_INET6 : 0;
    if (!af || !inet_ntop(af, a->data, st->scratch2, sizeof(st->scratch2))) {
        *why = "dnstap: message without a client address (query_address)";
        return KHI_PARSE_BAD;
    }
    const ProtobufCBinaryData *w = NULL;
    int from_response = 0;
    if (!query && m->has_response_message) {
        w = &m->response_message;
        from_response = 1;
    } else if (m->has_query_message) {
        w = &m->query_message;
    }
    if (!w) {
        *why = query ? "dnstap: query without query_message"
                     : "dnstap: response without response_message";
        return KHI_PARSE_BAD;
    }
    khi_dns_wire_q q;
    const char *wwhy = NULL;
    if (khi_dns_wire_question(w->data, w->len, st->scratch, sizeof(st->scratch), &q, &wwhy) != 0) {
        *why = wwhy;
        return KHI_PARSE_BAD;
    }
    rec->client = st->scratch2;
    rec->client_len = strlen(st->scratch2);
    rec->qname = st->scratch;
    rec->qname_len = q.name_len;
    rec->qtype = st->scratch3;
    rec->qtype_len = khi_dns_qtype_name(q.qtype, st->scratch3, sizeof(st->scratch3));
    rec->is_query = query;
    rec->rcode = from_response ? q.rcode : -1;
    if (query)
        rec->time_ms = tap_ms(m->has_query_time_sec, m->query_time_sec, m->has_query_time_nsec,
                              m->query_time_nsec);
    else
        rec->time_ms = tap_ms(m->has_response_time_sec, m->response_time_sec,
                              m->has_response_time_nsec, m->response_time_nsec);
    if (rec->time_ms < 0)
        rec->time_ms = tap_ms(m->has_query_time_sec, m->query_time_sec, m->has_query_time_nsec,
                              m->query_time_nsec);
    return KHI_PARSE_REC;
}
