/*
 * main.c - the khien program: one binary, sub-commands like git's.
 *
 * Each sub-command lives in its own cmd_*.c and uses only the public API of libkhien.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <khien/khien.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"scan", cmd_scan, "scan files and directories for malware"},
    {"quarantine", cmd_quarantine, "list, restore or delete quarantined files"},
    {"db", cmd_db, "signature databases: info, keygen, pack, diff, verify, status"},
    {"update", cmd_update, "install the newest signed signatures from mirrors or a file"},
    {"mirror", cmd_mirror, "publish packages to a mirror directory, or sync one from upstream"},
    {"server", cmd_server, "run the central console and/or a signature mirror"},
    {"console", cmd_console, "set up the console: database, organisation tree, tokens, users"},
    {"agent", cmd_agent, "the endpoint agent: enrol, report, scan, queue events"},
    {"dns", cmd_dns, "find infected clients in DNS resolver logs; RPZ zones, DGA scores"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
    fprintf(f, "Khiên %s - malware protection for agencies, endpoints and ISPs\n\n"
               "usage: khien COMMAND [OPTIONS] [ARGS]\n\ncommands:\n",
            KH_VERSION_STRING);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'khien COMMAND --help' tells more about a command.\n");
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("khien %s\n", KH_VERSION_STRING);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    cli_lang_from_env();
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "khien: '%s' is not a command\n\n", argv[1]);
    usage(stderr);
    return 2;
}
