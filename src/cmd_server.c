/*
 * cmd_server.c - "khien server": the central console (--db) and/or a signature mirror
 * (--mirror), each on its own address. Runs in the foreground until SIGINT or SIGTERM.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <khien/khien.h>
#include <khien/console.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int parse_listen(const char *listen, char *addr, size_t addr_len, uint16_t *port)
{
    uint64_t p = 0;
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= addr_len || cli_parse_uint(colon + 1, 65535, &p))
        return -1;
    memcpy(addr, listen, (size_t)(colon - listen));
    addr[colon - listen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static void write_port(const char *file, unsigned port)
{
    FILE *f = file ? fopen(file, "w") : NULL;
    if (f) {
        fprintf(f, "%u\n", port);
        fclose(f);
    }
}

int cmd_server(int argc, char **argv)
{
    const char *mirror = NULL, *db = NULL, *listen = "127.0.0.1:8080", *mlisten = NULL,
               *port_file = NULL, *mport_file = NULL, *tls_dir = NULL;
    int plain = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mirror") && i + 1 < argc)
            mirror = argv[++i];
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(argv[i], "--mirror-listen") && i + 1 < argc)
            mlisten = argv[++i];
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
            port_file = argv[++i];
        else if (!strcmp(argv[i], "--mirror-port-file") && i + 1 < argc)
            mport_file = argv[++i];
        else if (!strcmp(argv[i], "--tls-dir") && i + 1 < argc)
            tls_dir = argv[++i];
        else if (!strcmp(argv[i], "--plain-http"))
            plain = 1;
        else {
            fputs("usage: khien server [--db URL] [--listen ADDR:PORT] [--port-file FILE]\n"
                  "                    [--tls-dir DIR | --plain-http]\n"
                  "                    [--mirror DIR] [--mirror-listen ADDR:PORT] [--mirror-port-file F]\n"
                  "--db runs the console (default 127.0.0.1:8080; see 'khien console' to set it up),\n"
                  "over HTTPS with the certificate in --tls-dir (made at first start; default\n"
                  "/var/lib/khien/tls); agents enrol with its pin ('khien console pin').\n"
                  "--mirror serves signature packages (on --listen when alone, else --mirror-listen,\n"
                  "default 127.0.0.1:8081). PORT 0 picks a free one, written to the port file.\n",
                  strcmp(argv[i], "--help") ? stderr : stdout);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (!mirror && !db) {
        fputs("khien server: give --db URL (console) and/or --mirror DIR\n", stderr);
        return 2;
    }
    char addr[64], err[512] = "";
    uint16_t port;
    kh_console *console = NULL;
    kh_http_server *ms = NULL;
    if (db) {
        if (parse_listen(listen, addr, sizeof(addr), &port)) {
            fprintf(stderr, "khien server: --listen takes ADDR:PORT, not '%s'\n", listen);
            return 2;
        }
        kh_console_opts o;
        memset(&o, 0, sizeof(o));
        o.db_url = db;
        o.addr = addr;
        o.port = port;
        char crt[4200], key[4200], pin[64];
        if (!plain) {
            kh_err te = kh_console_tls_ensure(tls_dir ? tls_dir : "/var/lib/khien/tls", crt, sizeof(crt),
                                              key, sizeof(key), pin, err, sizeof(err));
            if (te != KH_OK) {
                fprintf(stderr, "khien server: %s\n", err[0] ? err : kh_strerror(te));
                return 1;
            }
            o.tls_cert = crt;
            o.tls_key = key;
        }
        kh_err e = kh_console_start(&o, &console, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien server: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("console on %s://%s:%u/ (database %s)\n", plain ? "http" : "https", addr,
               kh_console_port(console), db);
        if (!plain)
            printf("certificate pin for agents: %s\n", pin);
        write_port(port_file, kh_console_port(console));
    }
    if (mirror) {
        const char *ml = mlisten ? mlisten : db ? "127.0.0.1:8081" : listen;
        if (parse_listen(ml, addr, sizeof(addr), &port)) {
            fprintf(stderr, "khien server: '%s' is not ADDR:PORT\n", ml);
            kh_console_stop(console);
            return 2;
        }
        kh_err e = kh_http_serve_dir(mirror, addr, port, &ms, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien server: %s\n", err[0] ? err : kh_strerror(e));
            kh_console_stop(console);
            return 1;
        }
        printf("serving %s on http://%s:%u/\n", mirror, addr, kh_http_server_port(ms));
        write_port(db ? mport_file : (mport_file ? mport_file : port_file), kh_http_server_port(ms));
    }
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop)
        pause();
    kh_http_server_stop(ms);
    kh_console_stop(console);
    return 0;
}
