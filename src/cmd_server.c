/*
 * cmd_server.c - "khien server": for now, a signature mirror over HTTP (the central console
 * joins it later). Runs in the foreground until SIGINT or SIGTERM.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <khien/khien.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int cmd_server(int argc, char **argv)
{
    const char *mirror = NULL, *listen = "127.0.0.1:8081", *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mirror") == 0 && i + 1 < argc)
            mirror = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
            port_file = argv[++i];
        else {
            fputs("usage: khien server --mirror DIR [--listen ADDR:PORT] [--port-file FILE]\n"
                  "Serve DIR (packages, deltas, latest.json) over HTTP; PORT 0 picks a free one,\n"
                  "written to FILE. Default listen address 127.0.0.1:8081.\n",
                  strcmp(argv[i], "--help") ? stderr : stdout);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (!mirror) {
        fputs("khien server: give the directory to serve with --mirror DIR\n", stderr);
        return 2;
    }
    char addr[64];
    uint64_t port = 0;
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(addr) || cli_parse_uint(colon + 1, 65535, &port)) {
        fprintf(stderr, "khien server: --listen takes ADDR:PORT, not '%s'\n", listen);
        return 2;
    }
    memcpy(addr, listen, (size_t)(colon - listen));
    addr[colon - listen] = '\0';
    char err[512] = "";
    kh_http_server *s = NULL;
    kh_err e = kh_http_serve_dir(mirror, addr, (uint16_t)port, &s, err, sizeof(err));
    if (e != KH_OK) {
        fprintf(stderr, "khien server: %s\n", err[0] ? err : kh_strerror(e));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("serving %s on http://%s:%u/\n", mirror, addr, kh_http_server_port(s));
    fflush(stdout);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u\n", kh_http_server_port(s));
            fclose(f);
        }
    }
    while (!stop)
        pause();
    kh_http_server_stop(s);
    return 0;
}
