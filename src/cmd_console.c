/*
 * cmd_console.c - "khien console": set up the console database (the server need not run).
 *
 * Passwords are read from $KHIEN_PASSWORD or standard input, never from the command line
 * (which other users can see in the process list).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <khien/khien.h>
#include <khien/console.h>

static void usage(FILE *f)
{
    fputs("usage: khien console init --db URL [--demo DIR]\n"
          "         create the database; --demo loads an organisation tree (data/org/laichau)\n"
          "       khien console unit --db URL [--parent NAME] [--kind KIND] NAME\n"
          "       khien console token --db URL --unit NAME [--ttl DAYS] [--uses N]\n"
          "         an enrolment token for agents of that unit (default 7 days, 1000 uses)\n"
          "       khien console pin [--tls-dir DIR]\n"
          "         the console certificate's pin that agents enrol with (made if missing)\n"
          "       khien console user --db URL --role province|unit [--unit NAME] NAME\n"
          "         add or change a login; password from $KHIEN_PASSWORD or standard input\n"
          "URL: sqlite:PATH (default sqlite:/var/lib/khien/console.db)\n", f);
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

/* The last argument that is neither an option nor an option's value. */
static const char *positional(int argc, char **argv)
{
    const char *p = NULL;
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            i++;
            continue;
        }
        p = argv[i];
    }
    return p;
}

int cmd_console(int argc, char **argv)
{
    char err[512] = "";
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *db = opt(argc, argv, "--db", "sqlite:/var/lib/khien/console.db");
    const char *verb = argv[1];
    kh_err e;
    if (!strcmp(verb, "init")) {
        e = kh_console_init(db, opt(argc, argv, "--demo", NULL), err, sizeof(err));
        if (e != KH_OK && e != KH_EEXIST) {
            fprintf(stderr, "khien console init: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("%s: ready%s\n", db, e == KH_EEXIST ? " (demo tree there already)" : "");
        return 0;
    }
    if (!strcmp(verb, "pin")) {
        char crt[4200], key[4200], pin[64];
        e = kh_console_tls_ensure(opt(argc, argv, "--tls-dir", "/var/lib/khien/tls"), crt, sizeof(crt), key,
                                  sizeof(key), pin, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien console pin: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("%s\n", pin);
        return 0;
    }
    if (!strcmp(verb, "unit") && positional(argc, argv)) {
        e = kh_console_add_unit(db, opt(argc, argv, "--parent", NULL), positional(argc, argv),
                                opt(argc, argv, "--kind", "unit"), err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien console unit: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("unit '%s' added\n", positional(argc, argv));
        return 0;
    }
    if (!strcmp(verb, "token") && opt(argc, argv, "--unit", NULL)) {
        uint64_t days = 7, uses = 1000;
        if (cli_parse_uint(opt(argc, argv, "--ttl", "7"), 3650, &days) ||
            cli_parse_uint(opt(argc, argv, "--uses", "1000"), 1000000, &uses) || !days || !uses) {
            usage(stderr);
            return 2;
        }
        char tok[65];
        e = kh_console_token(db, opt(argc, argv, "--unit", NULL), (int64_t)days * 86400, (int)uses,
                             tok, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien console token: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("%s\n", tok);
        return 0;
    }
    if (!strcmp(verb, "user") && positional(argc, argv) && opt(argc, argv, "--role", NULL)) {
        char pw[1024] = "";
        const char *env = getenv("KHIEN_PASSWORD");
        if (env)
            snprintf(pw, sizeof(pw), "%s", env);
        else if (!fgets(pw, sizeof(pw), stdin))
            pw[0] = '\0';
        pw[strcspn(pw, "\r\n")] = '\0';
        e = kh_console_user(db, positional(argc, argv), pw, opt(argc, argv, "--role", NULL),
                            opt(argc, argv, "--unit", NULL), err, sizeof(err));
        memset(pw, 0, sizeof(pw));
        if (e != KH_OK) {
            fprintf(stderr, "khien console user: %s\n", err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("user '%s' saved\n", positional(argc, argv));
        return 0;
    }
    usage(!strcmp(verb, "--help") ? stdout : stderr);
    return !strcmp(verb, "--help") ? 0 : 2;
}
