/*
 * net.h - serving over HTTP: a static file tree (a signature mirror) for now; the console
 * API of the central server builds on the same daemon.
 */
#ifndef KHIEN_NET_H
#define KHIEN_NET_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kh_http_server kh_http_server;

/* Serve the regular files under root (copied) on addr:port (addr NULL = 127.0.0.1; port 0 =
 * any free one, see kh_http_server_port). GET and HEAD, byte ranges ("Range: bytes=N-"), no
 * directory listings, nothing outside root. Runs on its own threads until stopped. */
KH_API kh_err kh_http_serve_dir(const char *root, const char *addr, uint16_t port,
                                kh_http_server **out_server, char *errbuf, size_t errbuf_len);
KH_API uint16_t kh_http_server_port(const kh_http_server *server);
/* Stop and free; NULL accepted. */
KH_API void kh_http_server_stop(kh_http_server *server);

#ifdef __cplusplus
}
#endif
#endif
