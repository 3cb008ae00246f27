/*
 * cmd_db.c - "khien db info PATH...": what a signature database holds and what it rejects.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <khien/khien.h>

typedef struct dstate {
    unsigned errors, skipped, verbose;
} dstate;

static void on_diag(void *ud, kh_diag_level level, const char *file, unsigned line, const char *msg)
{
    dstate *d = ud;
    if (level == KH_DIAG_INFO) {
        if (file && strstr(msg, "ClamAV database"))
            printf("%s: %s\n", file, msg);
        return;
    }
    if (level == KH_DIAG_ERROR)
        d->errors++;
    else
        d->skipped++;
    if (level == KH_DIAG_SKIP && !d->verbose)
        return;
    const char *tag = level == KH_DIAG_ERROR ? "rejected" : "skipped";
    if (file && line)
        printf("%s:%u: %s: %s\n", file, line, tag, msg);
    else
        printf("%s: %s: %s\n", file ? file : "matcher", tag, msg);
}

int cmd_db(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "info") != 0) {
        fputs("usage: khien db info [-v] [--trust-dir DIR] PATH...\n"
              "Load signature files or directories and print what they hold; rejected lines are\n"
              "listed with file and line, skipped ones with -v.\n", argc < 2 ? stderr : stdout);
        return argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) ? 0 : 2;
    }
    dstate d = {0, 0, 0};
    int first = 2;
    const char *trust = cli_default_trust_dir();
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "-v") == 0) {
            d.verbose = 1;
            first++;
        } else if (strcmp(argv[first], "--trust-dir") == 0 && first + 1 < argc) {
            trust = argv[first + 1];
            first += 2;
        } else {
            break;
        }
    }
    kh_engine_opts eo;
    kh_engine_opts_default(&eo);
    eo.trust_dir = trust;
    eo.diag = on_diag;
    eo.diag_ud = &d;
    kh_engine *e = NULL;
    if (kh_engine_create(&eo, &e) != KH_OK)
        return 2;
    int status = 0;
    for (int i = first; i < argc; i++) {
        kh_err err = kh_engine_load(e, argv[i]);
        if (err != KH_OK) {
            fprintf(stderr, "khien db: %s: %s\n", argv[i], kh_strerror(err));
            status = 2;
        }
    }
    kh_err err = kh_engine_compile(e);
    kh_engine_stats st;
    kh_engine_get_stats(e, &st);
    fflush(stdout);
    printf("files: %u\nClamAV containers (.cvd/.cld/.cud): %u\nhash signatures: %u\nbody signatures: %u\nlogical signatures: %u\n"
           "YARA rules: %u (%u hex-only, in the Vectorscan pass)\nallow-list entries: %u\n"
           "ignored by .ign2: %u\nrejected lines: %u\nskipped (not supported yet): %u\n",
           st.files, st.containers, st.hash_sigs, st.body_sigs, st.logical_sigs, st.yara_rules, st.yara_fast, st.fp_sigs,
           st.ignored, st.rejected, st.skipped);
    if (err != KH_OK) {
        printf("usable: no (%s)\n", kh_strerror(err));
        status = 2;
    }
    kh_engine_release(e);
    return status;
}
