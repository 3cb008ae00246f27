/*
 * cmd_mirror.c - "khien mirror add|sync": the publisher's and the relay's side of updates.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <khien/khien.h>

static void usage(FILE *f)
{
    fputs("usage: khien mirror add [--trust-dir DIR] MIRROR_DIR FILE.kpkg|FILE.kdelta...\n"
          "         verify packages and deltas, copy them into MIRROR_DIR, rewrite latest.json\n"
          "       khien mirror sync [--trust-dir DIR] [--proxy URL] UPSTREAM_URL MIRROR_DIR\n"
          "         fetch what an upstream mirror lists (verified) into MIRROR_DIR\n"
          "Serve MIRROR_DIR with 'khien server --mirror MIRROR_DIR' or any web server.\n", f);
}

int cmd_mirror(int argc, char **argv)
{
    const char *trust = cli_default_trust_dir(), *proxy = NULL;
    const char *args[64];
    int na = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--trust-dir") == 0 && i + 1 < argc)
            trust = argv[++i];
        else if (strcmp(argv[i], "--proxy") == 0 && i + 1 < argc)
            proxy = argv[++i];
        else if (na < 64)
            args[na++] = argv[i];
    }
    char err[2048] = "";
    if (argc >= 2 && strcmp(argv[1], "add") == 0 && na >= 2) {
        kh_err e = kh_mirror_add(args[0], args + 1, (size_t)(na - 1), trust, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien mirror add: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("%s: %d file(s) added, latest.json rewritten\n", args[0], na - 1);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "sync") == 0 && na == 2) {
        kh_update_opts o = {NULL, 0, NULL, trust, proxy, 0, 0};
        kh_err e = kh_mirror_sync(args[0], args[1], &o, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien mirror sync: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("%s: in step with %s\n", args[1], args[0]);
        return 0;
    }
    usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
    return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
}
