/*
 * net_static.c - a static file server on libmicrohttpd, for signature mirrors.
 *
 * Only plain relative paths of regular files under the root are served: no "..", no hidden
 * names, no symlinks out of the tree (O_NOFOLLOW on the last component, and every request path
 * is checked component by component). Byte ranges of the form "bytes=N-" are honoured so that
 * an interrupted download resumes; anything else gets the whole file.
 */
#include <khien/net.h>
#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kh_http_server {
    struct MHD_Daemon *d;
    char *root;
    uint16_t port;
};

static int path_ok(const char *url)
{
    if (!url || url[0] != '/' || strlen(url) > 1024)
        return 0;
    const char *p = url + 1;
    if (!*p)
        return 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || p[0] == '.')
            return 0; /* empty component, "..", hidden files */
        p += n + (slash ? 1 : 0);
        if (slash && !*p)
            return 0;
    }
    return 1;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    kh_http_server *s = cls;
    (void)version;
    (void)upload;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (*upload_len)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");
    if (!*state) { /* first call for this request: headers only */
        *state = (void *)1;
        return MHD_YES;
    }
    if (!path_ok(url))
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    char path[4400];
    khi_snprintf(path, sizeof(path), "%s%s", s->root, url);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    uint64_t size = (uint64_t)st.st_size, from = 0;
    unsigned code = MHD_HTTP_OK;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    if (range && strncmp(range, "bytes=", 6) == 0) {
        char *end = NULL;
        unsigned long long v = strtoull(range + 6, &end, 10);
        if (end && end != range + 6 && *end == '-' && end[1] == '\0') {
            if (v >= size) {
                close(fd);
                return reply_text(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            }
            from = v;
            code = MHD_HTTP_PARTIAL_CONTENT;
        }
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(size - from, fd, from);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    size_t ul = strlen(url);
    MHD_add_response_header(r, "Content-Type",
                            ul > 5 && !strcmp(url + ul - 5, ".json") ? "application/json"
                                                                     : "application/octet-stream");
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (code == MHD_HTTP_PARTIAL_CONTENT) {
        char cr[96];
        khi_snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)from,
                     (unsigned long long)(size - 1), (unsigned long long)size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

kh_err kh_http_serve_dir(const char *root, const char *addr, uint16_t port, kh_http_server **out,
                         char *err, size_t err_len)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr ? addr : "127.0.0.1", &sa.sin_addr) != 1) {
        khi_snprintf(err, err_len, "'%s' is not an IPv4 address", addr);
        return KH_EINVAL;
    }
    kh_http_server *s = khi_calloc(1, sizeof(*s));
    if (!s || !(s->root = khi_strdup(root))) {
        khi_free(s);
        return KH_ENOMEM;
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG,
                            port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)256, MHD_OPTION_END);
    if (!s->d) {
        khi_snprintf(err, err_len, "cannot listen on %s:%u", addr ? addr : "127.0.0.1", port);
        kh_http_server_stop(s);
        return KH_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return KH_OK;
}

uint16_t kh_http_server_port(const kh_http_server *s)
{
    return s ? s->port : 0;
}

void kh_http_server_stop(kh_http_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    khi_free(s->root);
    khi_free(s);
}
