/*
 * fuzz_dns_tapsock.c - libFuzzer target: the dnstap socket receiver (lib/dns/dns_dnstap_sock.c)
 * on arbitrary bytes from a sender. One receiver on a Unix socket in TMPDIR for the whole run;
 * each input is written by a fresh connection that then closes, and the receiver is drained
 * in its no-wait mode (it reads what has arrived and stops when nothing more is there). Handshake replies are
 * left unread. Every data frame handed out must lie within the 64 KiB frame limit and go
 * through the dnstap parser; nothing may crash, leak or read out of bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "dns/dns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static khi_dns_tapsrv *srv;
static struct sockaddr_un sa;
static khi_dns_pstate st;

static void done(void)
{
    khi_dns_tapsrv_close(srv);
    khi_dns_tap_cleanup(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) {
        const char *tmp = getenv("TMPDIR");
        char ep[200];
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/khien-fuzz-tap.%ld.sock", tmp ? tmp : "/tmp", (long)getpid());
        snprintf(ep, sizeof(ep), "unix:%s", sa.sun_path);
        if (khi_dns_tapsrv_open(ep, &srv) != KH_OK || khi_dns_tap_prepare(&st) != KH_OK)
            abort();
        khi_dns_tapsrv_set_nowait(srv, 1);
        atexit(done);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
    for (size_t off = 0; off < size;) { /* inputs are small: the socket buffer takes them whole */
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    for (;;) {
        int kind = KHI_TAP_STOP;
        const unsigned char *p = NULL;
        size_t len = 0;
        const char *why = NULL;
        if (khi_dns_tapsrv_next(srv, NULL, &kind, &p, &len, &why) != KH_OK || kind == KHI_TAP_STOP)
            break;
        if (kind == KHI_TAP_BAD && !why)
            __builtin_trap();
        if (kind == KHI_TAP_DATA) {
            if (len > KHI_DNS_FRAME_MAX)
                __builtin_trap();
            kh_dns_rec rec;
            memset(&rec, 0, sizeof(rec));
            (void)khi_dns_parse_dnstap(&st, (const char *)p, len, &rec, &why);
        }
    }
    return 0;
}
