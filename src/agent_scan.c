/*
 * agent_scan.c - the agent's scans: walk the chosen paths at low priority, scan each file with
 * libkhien, and turn its detections into queued events (uid, time, path, SHA-256, signature,
 * action), after moving the file into the quarantine when the policy says so.
 *
 * A file's detections are gathered while it is scanned and acted on after: the file is not
 * moved while the engine reads it, and one file with several detections is quarantined once,
 * its events all naming the same entry so that one restore command brings it back.
 */
#include "agent.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <khien/quarantine.h>

static int excluded(const agent_scan *a, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(a->exclude, i, v)
    {
        const char *x = json_string_value(v);
        size_t n = x ? strlen(x) : 0;
        while (n > 1 && x[n - 1] == '/')
            n--;
        if (n && !strncmp(path, x, n) && (path[n] == '\0' || path[n] == '/'))
            return 1;
    }
    return 0;
}

static void sha256_file(const char *path, char out[65])
{
    unsigned char buf[65536], h[32];
    unsigned hl = 0;
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(c, buf, n);
    EVP_DigestFinal_ex(c, h, &hl);
    EVP_MD_CTX_free(c);
    fclose(f);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int on_event(void *ud, const kh_event *ev)
{
    agent_scan *a = ud;
    if (ev->kind == KH_EVENT_DETECTION && json_array_size(a->hits) < 64)
        json_array_append_new(a->hits, json_pack("{s:o, s:o}", "object", cli_json_str(ev->object), "name",
                                                 cli_json_str(ev->name)));
    return 0;
}

static int new_uid(char uid[33])
{
    unsigned char r[16];
    FILE *u = fopen("/dev/urandom", "rb");
    int ok = u && fread(r, 1, sizeof(r), u) == sizeof(r);
    if (u)
        fclose(u);
    for (int i = 0; ok && i < 16; i++)
        snprintf(uid + 2 * i, 3, "%02x", r[i]);
    return ok ? 0 : -1;
}

void agent_scan_file(kh_scanner *sc, agent_scan *a, const char *path)
{
    kh_scan_result res;
    struct stat st;
    if (stat(path, &st) == 0) {
        a->files++;
        a->bytes += (int64_t)st.st_size;
    }
    if (!(a->hits = json_array()))
        return;
    kh_scan_file(sc, path, on_event, a, &res);
    if (!json_array_size(a->hits)) {
        json_decref(a->hits);
        a->hits = NULL;
        return;
    }
    char sha[65], qid[64] = "", why[256] = "";
    sha256_file(path, sha);
    const char *action = "reported";
    if (a->quarantine) {
        const char *first = json_string_value(json_object_get(json_array_get(a->hits, 0), "name"));
        kh_err e = kh_quarantine_put(a->qdir, path, first, qid, sizeof(qid), why, sizeof(why));
        action = e == KH_OK ? "quarantined" : "quarantine-failed";
        if (e != KH_OK)
            fprintf(stderr, "khien agent: cannot quarantine %s: %s\n", path, why[0] ? why : kh_strerror(e));
    }
    size_t i;
    json_t *h;
    json_array_foreach(a->hits, i, h)
    {
        char uid[33];
        if (new_uid(uid) != 0)
            continue;
        json_t *j = json_pack("{s:s, s:I, s:O, s:s, s:O, s:s}", "uid", uid, "time", (json_int_t)time(NULL), "path",
                              json_object_get(h, "object"), "sha256", sha, "signature", json_object_get(h, "name"),
                              "action", action);
        if (!j)
            fprintf(stderr, "khien agent: cannot record a detection in %s (out of memory)\n", path);
        if (j && qid[0])
            json_object_set_new(j, "quarantine_id", json_string(qid));
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text && kh_queue_push(a->q, text, 1) == KH_OK)
            a->found++;
        free(text);
        json_decref(j);
    }
    json_decref(a->hits);
    a->hits = NULL;
}

static void walk(kh_scanner *sc, agent_scan *a, const char *path, int depth)
{
    struct stat st;
    if (depth > 64 || excluded(a, path) || lstat(path, &st) != 0)
        return;
    if (S_ISREG(st.st_mode)) {
        agent_scan_file(sc, a, path);
    } else if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char child[4200];
            snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
            walk(sc, a, child, depth + 1);
        }
        closedir(d);
    }
}

void agent_scan_tree(kh_scanner *sc, agent_scan *a, const char *path)
{
    walk(sc, a, path, 0);
}
