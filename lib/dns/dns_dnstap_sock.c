/*
 * dns_dnstap_sock.c - the receiving end of dnstap over a Unix or TCP socket: the Frame Streams
 * handshake and frame splitting per connection, for "khien dns watch --dnstap-socket".
 *
 * libfstrm has writers (the resolver side) and a file reader but no receiver, so this is the
 * small server: one listening socket and up to MAX_CONNS connections in one poll(2) loop, no
 * threads. A bidirectional sender (Unbound, BIND, dnsdist) opens with READY naming its content
 * types; we answer ACCEPT with "protobuf:dnstap.Dnstap", it sends START, data frames, and STOP,
 * which we answer with FINISH before closing. A unidirectional sender starts with START. The
 * control frames are decoded and encoded with libfstrm (fstrm_control_*).
 *
 * Bounded memory over days of input: each connection has one buffer of KHI_DNS_FRAME_MAX + 8
 * bytes; a longer frame is skipped byte-wise and reported, a protocol error closes that
 * connection only, connections beyond MAX_CONNS are refused. Resolvers reconnect when a
 * connection drops, so nothing is lost beyond what was in flight.
 */
#include "dns/dns_int.h"

#include <errno.h>
#include <fcntl.h>
#include <fstrm.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNS 64
#define CONN_BUF (KHI_DNS_FRAME_MAX + 8)
#define POLL_MS 200
#define DRAIN_ROUNDS 1024 /* polls after the stop flag, while data is still there to read */

enum { C_HANDSHAKE = 0, C_DATA };

typedef struct conn {
    int fd;
    int state;
    int bidi;
    unsigned char *buf;
    size_t start, end;
    uint64_t skip_left;
} conn;

struct khi_dns_tapsrv {
    int lfd;
    char *unix_path; /* removed on close */
    conn conns[MAX_CONNS];
    size_t nconns, rr;
    unsigned drain_rounds;
    int nowait;
    struct fstrm_control *ctl;
    struct pollfd pfd[MAX_CONNS + 1];
};

static kh_err listen_unix(khi_dns_tapsrv *s, const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(sa.sun_path))
        return KH_EINVAL;
    memcpy(sa.sun_path, path, n);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return KH_EEXIST;
        unlink(path); /* a stale socket of an earlier run */
    }
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->lfd < 0)
        return khi_errno_to_kh(errno);
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return errno == EACCES ? KH_EACCES : KH_EIO;
    s->unix_path = khi_strdup(path);
    if (!s->unix_path)
        return KH_ENOMEM;
    if (chmod(path, 0660) != 0 || listen(s->lfd, 16) != 0)
        return KH_EIO;
    return KH_OK;
}

static kh_err listen_tcp(khi_dns_tapsrv *s, const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1] || (size_t)(colon - hostport) >= sizeof(host))
        return KH_EINVAL;
    size_t hl = (size_t)(colon - hostport);
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
        return KH_EINVAL;
    kh_err err = KH_OK;
    s->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (s->lfd < 0)
        err = khi_errno_to_kh(errno);
    else if (setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
             bind(s->lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s->lfd, 16) != 0)
        err = errno == EACCES ? KH_EACCES : KH_EIO;
    freeaddrinfo(ai);
    return err;
}

kh_err khi_dns_tapsrv_open(const char *endpoint, khi_dns_tapsrv **out)
{
    *out = NULL;
    khi_dns_tapsrv *s = khi_calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->lfd = -1;
    kh_err err = KH_OK;
    s->ctl = fstrm_control_init();
    if (!s->ctl)
        err = KH_ENOMEM;
    else if (strncmp(endpoint, "unix:", 5) == 0)
        err = listen_unix(s, endpoint + 5);
    else if (strncmp(endpoint, "tcp:", 4) == 0)
        err = listen_tcp(s, endpoint + 4);
    else
        err = KH_EINVAL;
    if (err != KH_OK) {
        khi_dns_tapsrv_close(s);
        return err;
    }
    *out = s;
    return KH_OK;
}

void khi_dns_tapsrv_set_nowait(khi_dns_tapsrv *s, int nowait)
{
    s->nowait = nowait;
}

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    khi_free(c->buf);
    c->buf = NULL;
}

void khi_dns_tapsrv_close(khi_dns_tapsrv *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nconns; i++)
        conn_close(&s->conns[i]);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->unix_path) {
        unlink(s->unix_path);
        khi_free(s->unix_path);
    }
    if (s->ctl)
        fstrm_control_destroy(&s->ctl);
    khi_free(s);
}

/* Send a control frame (ACCEPT or FINISH, with the dnstap content type for ACCEPT). */
static int send_control(khi_dns_tapsrv *s, conn *c, fstrm_control_type type)
{
    unsigned char frame[FSTRM_CONTROL_FRAME_LENGTH_MAX + 8];
    size_t len = sizeof(frame);
    fstrm_control_reset(s->ctl);
    if (fstrm_control_set_type(s->ctl, type) != fstrm_res_success)
        return -1;
    if (type == FSTRM_CONTROL_ACCEPT &&
        fstrm_control_add_field_content_type(s->ctl, (const uint8_t *)KHI_DNSTAP_CONTENT_TYPE,
                                             sizeof(KHI_DNSTAP_CONTENT_TYPE) - 1) !=
            fstrm_res_success)
        return -1;
    if (fstrm_control_encode(s->ctl, frame, &len, FSTRM_CONTROL_FLAG_WITH_HEADER) !=
        fstrm_res_success)
        return -1;
    for (size_t off = 0; off < len;) {
        ssize_t w = send(c->fd, frame + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1; /* a fresh socket takes a few bytes at once: EAGAIN means a dead peer */
        off += (size_t)w;
    }
    return 0;
}

static int matches_dnstap(khi_dns_tapsrv *s)
{
    return fstrm_control_match_field_content_type(s->ctl, (const uint8_t *)KHI_DNSTAP_CONTENT_TYPE,
                                                  sizeof(KHI_DNSTAP_CONTENT_TYPE) - 1) ==
           fstrm_res_success;
}

/* A control frame of connection c: the handshake. Returns an event kind; *why for BAD. */
static int on_control(khi_dns_tapsrv *s, conn *c, const unsigned char *p, size_t len,
                      const char **why)
{
    fstrm_control_type type;
    if (fstrm_control_decode(s->ctl, p, len, 0) != fstrm_res_success ||
        fstrm_control_get_type(s->ctl, &type) != fstrm_res_success) {
        *why = "dnstap socket: damaged control frame, connection closed";
        goto bad;
    }
    switch (type) {
    case FSTRM_CONTROL_READY:
        if (c->state != C_HANDSHAKE || !matches_dnstap(s)) {
            *why = "dnstap socket: READY without the dnstap content type, connection closed";
            goto bad;
        }
        c->bidi = 1;
        if (send_control(s, c, FSTRM_CONTROL_ACCEPT) != 0) {
            *why = "dnstap socket: cannot send ACCEPT, connection closed";
            goto bad;
        }
        return KHI_TAP_CONTROL;
    case FSTRM_CONTROL_START:
        if (c->state != C_HANDSHAKE || !matches_dnstap(s)) {
            *why = "dnstap socket: START of another content type, connection closed";
            goto bad;
        }
        c->state = C_DATA;
        return KHI_TAP_CONTROL;
    case FSTRM_CONTROL_STOP:
        if (c->bidi)
            (void)send_control(s, c, FSTRM_CONTROL_FINISH);
        conn_close(c);
        return KHI_TAP_CONTROL;
    default:
        *why = "dnstap socket: unexpected control frame, connection closed";
        goto bad;
    }
bad:
    conn_close(c);
    return KHI_TAP_BAD;
}

/* The next event in c's buffer: a kind, or -1 when more bytes are needed. */
static int conn_event(khi_dns_tapsrv *s, conn *c, const unsigned char **out_p, size_t *out_len,
                      const char **why)
{
    if (c->skip_left) {
        size_t avail = c->end - c->start;
        size_t k = avail < c->skip_left ? avail : (size_t)c->skip_left;
        c->start += k;
        c->skip_left -= k;
    }
    size_t hdr = 0, len = 0;
    const unsigned char *p = c->buf + c->start;
    int kind = c->skip_left ? KHI_FS_MORE : khi_dns_fs_split(p, c->end - c->start, &hdr, &len);
    switch (kind) {
    case KHI_FS_MORE:
        if (c->start) { /* keep the partial frame at the front: the buffer fits a whole frame */
            memmove(c->buf, c->buf + c->start, c->end - c->start);
            c->end -= c->start;
            c->start = 0;
        }
        return -1;
    case KHI_FS_TOO_BIG:
        c->start += hdr;
        c->skip_left = len;
        *why = "dnstap socket: frame larger than 64 KiB skipped";
        return KHI_TAP_BAD;
    case KHI_FS_CONTROL:
        c->start += hdr + len;
        return on_control(s, c, p + hdr, len, why);
    default:
        c->start += hdr + len;
        if (c->state != C_DATA) {
            *why = "dnstap socket: data frame before START, connection closed";
            conn_close(c);
            return KHI_TAP_BAD;
        }
        *out_p = p + hdr;
        *out_len = len;
        return KHI_TAP_DATA;
    }
}

static void accept_new(khi_dns_tapsrv *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        unsigned char *buf = s->nconns < MAX_CONNS ? khi_malloc(CONN_BUF) : NULL;
        if (!buf) {
            close(fd); /* too many senders at once (or no memory): refused */
            continue;
        }
        conn *c = &s->conns[s->nconns++];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->buf = buf;
    }
}

/* Drop closed connections from the table (only between calls: frames borrow their buffers). */
static void sweep(khi_dns_tapsrv *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i].fd >= 0)
            s->conns[k++] = s->conns[i];
    s->nconns = k;
    if (s->rr >= k)
        s->rr = 0;
}

kh_err khi_dns_tapsrv_next(khi_dns_tapsrv *s, volatile int *stop, int *out_kind,
                           const unsigned char **out_frame, size_t *out_len, const char **out_why)
{
    sweep(s);
    for (;;) {
        /* what is buffered first, round robin so that one busy sender cannot starve another */
        for (size_t i = 0; i < s->nconns; i++) {
            size_t idx = (s->rr + i) % s->nconns;
            conn *c = &s->conns[idx];
            if (c->fd < 0)
                continue;
            int kind = conn_event(s, c, out_frame, out_len, out_why);
            if (kind >= 0) {
                s->rr = (idx + 1) % s->nconns;
                *out_kind = kind;
                return KH_OK;
            }
        }
        /* once stopping: what has arrived already is still read (polls that do not wait),
         * for a bounded number of rounds */
        int stopping = stop && *stop;
        if (!stopping)
            s->drain_rounds = 0;
        else if (s->drain_rounds++ >= DRAIN_ROUNDS) {
            *out_kind = KHI_TAP_STOP;
            return KH_OK;
        }
        sweep(s);
        s->pfd[0].fd = s->lfd;
        s->pfd[0].events = POLLIN;
        for (size_t i = 0; i < s->nconns; i++) {
            s->pfd[i + 1].fd = s->conns[i].fd;
            s->pfd[i + 1].events = POLLIN;
        }
        int wait_ms = stopping || s->nowait ? 0 : POLL_MS;
        int n = poll(s->pfd, s->nconns + 1, wait_ms);
        if (n < 0 && errno != EINTR)
            return KH_EIO;
        if (n == 0 && wait_ms == 0) {
            *out_kind = KHI_TAP_STOP;
            return KH_OK;
        }
        if (n <= 0)
            continue;
        for (size_t i = 0; i < s->nconns; i++) {
            conn *c = &s->conns[i];
            if (!(s->pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(c->fd, c->buf + c->end, CONN_BUF - c->end);
            if (r > 0)
                c->end += (size_t)r;
            else if (r == 0 || (errno != EINTR && errno != EAGAIN))
                conn_close(c); /* the sender went away; it reconnects when it has more */
        }
        if (s->pfd[0].revents & POLLIN)
            accept_new(s);
    }
}
