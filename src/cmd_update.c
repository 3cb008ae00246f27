/*
 * cmd_update.c - "khien update": signed signature updates from mirrors or offline media.
 *
 * Exit status: 0 updated or already up to date, 1 nothing could be installed (every mirror
 * failed or what they offered was refused), 2 bad usage. The message says which: "up to date
 * at N", "updated from X to Y (N deltas | full package) from MIRROR", "refused: ...".
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <khien/khien.h>

static void usage(FILE *f)
{
    fputs("usage: khien update [--db-dir DIR] [--trust-dir DIR] --mirror URL [--mirror URL]...\n"
          "       khien update [--db-dir DIR] [--trust-dir DIR] --from FILE.kpkg|FILE.kdelta\n"
          "       khien update [--db-dir DIR] --rollback\n"
          "  --proxy URL        HTTP(S) proxy (default: the http_proxy/https_proxy variables)\n"
          "  --timeout S        give up on a mirror after S seconds without progress (60)\n"
          "  --notify-pid FILE  after installing, send SIGHUP to the process in FILE so that a\n"
          "                     running agent or scanner loads the new version\n"
          "DIR defaults to $KHIEN_DB_DIR or /var/lib/khien/db; scanners read DIR/current.\n", f);
}

static void notify(const char *pidfile)
{
    FILE *f = pidfile ? fopen(pidfile, "r") : NULL;
    long pid = 0;
    if (!pidfile)
        return;
    if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
        fprintf(stderr, "khien update: %s: no process id to notify\n", pidfile);
    } else if (kill((pid_t)pid, SIGHUP) != 0) {
        fprintf(stderr, "khien update: cannot notify process %ld: %s\n", pid, strerror(errno));
    } else {
        printf("notified process %ld to reload\n", pid);
    }
    if (f)
        fclose(f);
}

int cmd_update(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db-dir", required_argument, 0, 'd'}, {"trust-dir", required_argument, 0, 't'},
        {"mirror", required_argument, 0, 'm'}, {"from", required_argument, 0, 'f'},
        {"proxy", required_argument, 0, 'p'},  {"timeout", required_argument, 0, 'T'},
        {"rollback", no_argument, 0, 'r'},     {"notify-pid", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *db = cli_default_update_dir(), *trust = cli_default_trust_dir(), *from = NULL,
               *proxy = NULL, *pidfile = NULL;
    const char *mirrors[32];
    size_t nm = 0;
    int rollback = 0, c;
    uint64_t timeout = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 't': trust = optarg; break;
        case 'm':
            if (nm < 32)
                mirrors[nm++] = optarg;
            break;
        case 'f': from = optarg; break;
        case 'p': proxy = optarg; break;
        case 'T':
            if (cli_parse_uint(optarg, 86400, &timeout) || !timeout) {
                fprintf(stderr, "khien update: --timeout takes seconds, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r': rollback = 1; break;
        case 'n': pidfile = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (!rollback && !from && !nm) || (from && nm)) {
        usage(stderr);
        return 2;
    }
    char err[2048] = "";
    kh_err e;
    if (rollback) {
        kh_install_result r;
        e = kh_db_rollback(db, &r, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien update: %s\n", err);
            return 1;
        }
        printf("rolled back from version %llu to %llu\n", (unsigned long long)r.from_version,
               (unsigned long long)r.to_version);
        notify(pidfile);
        return 0;
    }
    if (from) {
        kh_install_result r;
        e = kh_db_install(db, from, trust, &r, err, sizeof(err));
        if (e != KH_OK) {
            fprintf(stderr, "khien update: %s: refused: %s\n", from, err[0] ? err : kh_strerror(e));
            return 1;
        }
        printf("updated from version %llu to %llu (%s) from %s\n", (unsigned long long)r.from_version,
               (unsigned long long)r.to_version, r.kind == KH_INSTALL_DELTA ? "delta" : "full package",
               from);
        notify(pidfile);
        return 0;
    }
    kh_update_opts o = {mirrors, nm, db, trust, proxy, 0, (long)timeout};
    kh_update_result r;
    e = kh_update_run(&o, &r, err, sizeof(err));
    if (e != KH_OK) {
        fprintf(stderr, "khien update: nothing installed: %s\n", err[0] ? err : kh_strerror(e));
        return 1;
    }
    if (r.up_to_date) {
        printf("up to date at version %llu (%s)\n", (unsigned long long)r.install.to_version, r.mirror);
        return 0;
    }
    if (r.install.kind == KH_INSTALL_DELTA)
        printf("updated from version %llu to %llu (%u delta%s) from %s\n",
               (unsigned long long)r.install.from_version, (unsigned long long)r.install.to_version,
               r.deltas, r.deltas == 1 ? "" : "s", r.mirror);
    else
        printf("updated from version %llu to %llu (full package%s) from %s\n",
               (unsigned long long)r.install.from_version, (unsigned long long)r.install.to_version,
               r.fell_back ? ", no usable delta" : "", r.mirror);
    if (err[0])
        fprintf(stderr, "khien update: note: %s\n", err);
    notify(pidfile);
    return 0;
}
