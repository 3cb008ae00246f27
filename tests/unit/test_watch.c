/*
 * test_watch.c - real-time protection's file watcher on a real directory tree: a file written
 * and closed, a file moved in, a directory made with files in it at once (found by listing),
 * a file outside the watched tree (not reported), a missing directory refused. inotify always;
 * fanotify too where this process may use it (root with CAP_SYS_ADMIN), said in the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <khien/watch.h>

static char root[64], outside[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The next reported path, waiting up to 5 s; "" when none. */
static const char *next(kh_watch *w)
{
    static char path[4096];
    for (int i = 0; i < 50; i++) {
        int r = kh_watch_next(w, 100, path, sizeof(path));
        assert_true(r >= 0);
        if (r == 1)
            return path;
    }
    return "";
}

/* Collect what is reported for up to 2 s (or until n paths), to check a set. */
static int collect(kh_watch *w, char got[][4096], int n)
{
    int k = 0;
    for (int i = 0; i < 20 && k < n; i++) {
        while (k < n && kh_watch_next(w, 100, got[k], sizeof(got[k])) == 1)
            k++;
    }
    return k;
}

static int has(char got[][4096], int n, const char *path)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(got[i], path))
            return 1;
    return 0;
}

static void run(kh_watch_mode mode)
{
    char err[256] = "", p[512], q[256];
    kh_watch *w = NULL;
    const char *paths[] = {root};
    kh_err e = kh_watch_open(paths, 1, mode, 0, &w, err, sizeof(err));
    if (mode == KH_WATCH_FANOTIFY && e == KH_EACCES) {
        printf("fanotify not permitted here (%s): that mode is not tested in this run\n", err);
        return;
    }
    assert_int_equal(e, KH_OK);
    printf("watching %s with %s\n", root, kh_watch_method(w));
    snprintf(p, sizeof(p), "%s/tệp mới.txt", root);
    write_file(p, "X5O!P%@AP");
    assert_string_equal(next(w), p);
    /* a file outside is not reported; one written in an existing subdirectory is */
    snprintf(q, sizeof(q), "%s/other.txt", outside);
    write_file(q, "x");
    snprintf(p, sizeof(p), "%s/sub/deep.bin", root);
    write_file(p, "y");
    assert_string_equal(next(w), p);
    if (mode != KH_WATCH_FANOTIFY) {
        /* moved in from outside the tree */
        snprintf(p, sizeof(p), "%s/moved.exe", root);
        assert_int_equal(rename(q, p), 0);
        assert_string_equal(next(w), p);
        /* a new directory with files written before the watcher could see it */
        char d[128], f1[256], f2[256], got[8][4096];
        snprintf(d, sizeof(d), "%s/new", root);
        snprintf(f1, sizeof(f1), "%s/a", d);
        snprintf(f2, sizeof(f2), "%s/b", d);
        assert_int_equal(mkdir(d, 0700), 0);
        write_file(f1, "a");
        write_file(f2, "b");
        int n = collect(w, got, 8);
        assert_true(has(got, n, f1));
        assert_true(has(got, n, f2));
        snprintf(p, sizeof(p), "%s/later", d);
        write_file(p, "c"); /* and the new directory is watched from now on */
        assert_string_equal(next(w), p);
    }
    assert_int_equal(kh_watch_overflows(w), 0);
    kh_watch_close(w);
}

static void test_inotify(void **state)
{
    (void)state;
    run(KH_WATCH_INOTIFY);
}

static void test_fanotify(void **state)
{
    (void)state;
    run(KH_WATCH_FANOTIFY);
}

static void test_refused(void **state)
{
    (void)state;
    char err[256] = "";
    kh_watch *w = NULL;
    const char *missing[] = {"/nonexistent/khien-watch"}, *relative[] = {"tmp"};
    assert_int_equal(kh_watch_open(missing, 1, KH_WATCH_INOTIFY, 0, &w, err, sizeof(err)), KH_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/khien-watch"));
    assert_int_equal(kh_watch_open(relative, 1, KH_WATCH_INOTIFY, 0, &w, err, sizeof(err)), KH_EINVAL);
}

static int setup(void **state)
{
    (void)state;
    char sub[96];
    snprintf(root, sizeof(root), "/tmp/khien-watch-XXXXXX");
    snprintf(outside, sizeof(outside), "/tmp/khien-outside-XXXXXX");
    if (!mkdtemp(root) || !mkdtemp(outside))
        return -1;
    snprintf(sub, sizeof(sub), "%s/sub", root);
    return mkdir(sub, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, outside);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inotify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanotify, setup, teardown),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
