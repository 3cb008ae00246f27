/*
 * cmd_quarantine.c - "khien quarantine list|restore|delete": the quarantine store by hand.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <khien/khien.h>

static void usage(FILE *f)
{
    fputs("usage: khien quarantine [--dir DIR] list [--json]\n"
          "       khien quarantine [--dir DIR] restore ID [--to PATH]\n"
          "       khien quarantine [--dir DIR] delete ID\n"
          "DIR defaults to $KHIEN_QUARANTINE or /var/lib/khien/quarantine.\n", f);
}

static int print_entry(void *ud, const kh_qentry *e)
{
    int json = *(int *)ud;
    if (json) {
        json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:I, s:i, s:I}", "id", e->id, "original_path",
                              cli_json_str(e->original_path), "sha256", e->sha256, "signature", cli_json_str(e->signature),
                              "size", (json_int_t)e->size, "mode", (int)e->mode, "time",
                              (json_int_t)e->time);
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
        return 0;
    }
    char when[32];
    time_t t = e->time;
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
    printf("%s  %s  %-30s %s\n", e->id, when, e->signature, e->original_path);
    return 0;
}

int cmd_quarantine(int argc, char **argv)
{
    const char *dir = getenv("KHIEN_QUARANTINE");
    if (!dir || !*dir)
        dir = "/var/lib/khien/quarantine";
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
        dir = argv[i + 1];
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    const char *verb = argv[i++];
    char err[512] = "";
    if (strcmp(verb, "list") == 0) {
        int json = i < argc && strcmp(argv[i], "--json") == 0;
        unsigned damaged = 0;
        kh_err e = kh_quarantine_list(dir, print_entry, &json, &damaged);
        if (e == KH_ENOENT) {
            fprintf(stderr, "khien quarantine: %s: no quarantine here yet\n", dir);
            return 0;
        }
        if (e != KH_OK) {
            fprintf(stderr, "khien quarantine: %s: %s\n", dir, kh_strerror(e));
            return 2;
        }
        if (damaged)
            fprintf(stderr, "khien quarantine: %u damaged record(s) in %s\n", damaged, dir);
        return 0;
    }
    if (strcmp(verb, "restore") == 0 && i < argc) {
        const char *id = argv[i++], *to = NULL;
        if (i + 1 < argc && strcmp(argv[i], "--to") == 0)
            to = argv[i + 1];
        kh_err e = kh_quarantine_restore(dir, id, to, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien quarantine: %s\n", err[0] ? err : kh_strerror(e));
            return 2;
        }
        printf("restored %s\n", id);
        return 0;
    }
    if (strcmp(verb, "delete") == 0 && i < argc) {
        kh_err e = kh_quarantine_delete(dir, argv[i]);
        if (e != KH_OK) {
            fprintf(stderr, "khien quarantine: %s: %s\n", argv[i], kh_strerror(e));
            return 2;
        }
        printf("deleted %s\n", argv[i]);
        return 0;
    }
    usage(stderr);
    return 2;
}
