/*
 * cmd_db.c - "khien db info PATH...": what a signature database holds and what it rejects.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <stdint.h>
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

static void usage(FILE *f)
{
    fputs("usage: khien db info [-v] [--trust-dir DIR] PATH...\n"
          "         load signature files or directories and print what they hold\n"
          "       khien db keygen NAME [-o DIR]\n"
          "         make a publisher key pair NAME.key (secret) and NAME.pub (for trust dirs)\n"
          "       khien db pack SRC_DIR --version N --key NAME.key -o OUT.kpkg\n"
          "         build a signed signature package of the files in SRC_DIR\n"
          "       khien db diff OLD.kpkg NEW.kpkg --key NAME.key -o OUT.kdelta\n"
          "         build a signed delta from one package version to the next\n"
          "       khien db verify [--trust-dir DIR] FILE...\n"
          "         check packages or deltas completely\n"
          "       khien db status [--db-dir DIR]\n"
          "         the installed version and the one kept for rollback\n", f);
}

static const char *opt_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int cmd_keygen(int argc, char **argv)
{
    char err[512] = "";
    const char *dir = opt_value(argc, argv, "-o");
    if (argc < 3 || argv[2][0] == '-') {
        usage(stderr);
        return 2;
    }
    kh_err e = kh_key_generate(dir ? dir : ".", argv[2], err, sizeof(err));
    if (e != KH_OK) {
        fprintf(stderr, "khien db keygen: %s\n", err[0] ? err : kh_strerror(e));
        return 2;
    }
    printf("made %s/%s.key (secret: keep it off the network) and %s/%s.pub (copy it into the trust\n"
           "directory of every scanner and agent)\n", dir ? dir : ".", argv[2], dir ? dir : ".", argv[2]);
    return 0;
}

static int cmd_pack(int argc, char **argv)
{
    char err[512] = "";
    const char *ver = opt_value(argc, argv, "--version"), *key = opt_value(argc, argv, "--key"),
               *out = opt_value(argc, argv, "-o");
    uint64_t v = 0;
    if (argc < 3 || !ver || !key || !out || cli_parse_uint(ver, UINT64_MAX / 2, &v) || v == 0) {
        usage(stderr);
        return 2;
    }
    kh_err e = kh_pkg_pack(argv[2], v, key, out, err, sizeof(err));
    if (e != KH_OK) {
        fprintf(stderr, "khien db pack: %s\n", err[0] ? err : kh_strerror(e));
        return 2;
    }
    printf("%s: version %llu\n", out, (unsigned long long)v);
    return 0;
}

static int cmd_diff(int argc, char **argv)
{
    char err[512] = "";
    const char *key = opt_value(argc, argv, "--key"), *out = opt_value(argc, argv, "-o");
    if (argc < 4 || !key || !out) {
        usage(stderr);
        return 2;
    }
    kh_err e = kh_pkg_diff(argv[2], argv[3], key, out, err, sizeof(err));
    if (e != KH_OK) {
        fprintf(stderr, "khien db diff: %s\n", err[0] ? err : kh_strerror(e));
        return 2;
    }
    printf("%s: delta from %s to %s\n", out, argv[2], argv[3]);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    const char *trust = opt_value(argc, argv, "--trust-dir");
    if (!trust)
        trust = cli_default_trust_dir();
    int status = 0, any = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--trust-dir") == 0) {
            i++;
            continue;
        }
        any = 1;
        char err[512] = "";
        kh_pkg_info info;
        kh_err e = kh_pkg_verify(argv[i], trust, &info, err, sizeof(err));
        if (e != KH_OK) {
            printf("%s: refused: %s\n", argv[i], err[0] ? err : kh_strerror(e));
            status = 2;
        } else if (info.is_delta) {
            printf("%s: good delta from version %llu to %llu, signed by %s (key %s)\n", argv[i],
                   (unsigned long long)info.from_version, (unsigned long long)info.version,
                   info.publisher, info.key_id);
        } else {
            printf("%s: good package, version %llu, %u files, signed by %s (key %s)\n", argv[i],
                   (unsigned long long)info.version, info.files, info.publisher, info.key_id);
        }
    }
    if (!any) {
        usage(stderr);
        return 2;
    }
    return status;
}

static int cmd_status(int argc, char **argv)
{
    const char *dir = opt_value(argc, argv, "--db-dir");
    kh_db_state st;
    if (!dir)
        dir = cli_default_update_dir();
    kh_db_state_get(dir, &st);
    if (!st.version) {
        printf("%s: no version installed\n", dir);
        return 1;
    }
    printf("%s: version %llu installed (%s)", dir, (unsigned long long)st.version, st.path);
    if (st.previous)
        printf(", version %llu kept for rollback", (unsigned long long)st.previous);
    printf("\n");
    return 0;
}

int cmd_db(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "pack") == 0)
        return cmd_pack(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "diff") == 0)
        return cmd_diff(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return cmd_status(argc, argv);
    if (argc < 3 || strcmp(argv[1], "info") != 0) {
        usage(argc < 2 ? stderr : stdout);
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
    printf("files: %u\nClamAV containers (.cvd/.cld/.cud): %u\nhash signatures: %u\nPE section hash signatures: %u\nbody signatures: %u\nlogical signatures: %u\n"
           "YARA rules: %u (%u hex-only, in the Vectorscan pass)\nallow-list entries: %u\n"
           "ignored by .ign2: %u\nrejected lines: %u\nskipped (not supported yet): %u\n",
           st.files, st.containers, st.hash_sigs, st.section_sigs, st.body_sigs, st.logical_sigs, st.yara_rules, st.yara_fast, st.fp_sigs,
           st.ignored, st.rejected, st.skipped);
    if (err != KH_OK) {
        printf("usable: no (%s)\n", kh_strerror(err));
        status = 2;
    }
    kh_engine_release(e);
    return status;
}
