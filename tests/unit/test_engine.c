/*
 * test_engine.c - the public engine and scanner API: lifetimes, states, threads, the compiled
 * database cache, and every allocation failing in turn.
 */
#include <archive.h>
#include <archive_entry.h>
#include <pthread.h>
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

#include <khien/khien.h>
#include "core/core.h"

static const char NDB[] = "Test.Body:0:*:4556494c2d5041594c4f4144\n"
                          "Test.Eof:0:EOF-4:454e4421\n"
                          "Test.Var:0:2:4142{1-3}4344\n";
static const char HDB[] = "5d41402abc4b2a76b9719d911017c592:5:Test.Hello\n";
static const char FP[] = "00000000000000000000000000000000:7:Known.Good\n";
static const char IGN[] = "Test.Nothing\n";

static kh_err make_engine(const char *cache, kh_engine **out)
{
    kh_engine_opts o;
    kh_engine_opts_default(&o);
    o.cache_dir = cache;
    kh_engine *e = NULL;
    kh_err err = kh_engine_create(&o, &e);
    if (err != KH_OK)
        return err;
    if ((err = kh_engine_load_mem(e, "t.ndb", NDB, strlen(NDB))) != KH_OK ||
        (err = kh_engine_load_mem(e, "t.hdb", HDB, strlen(HDB))) != KH_OK ||
        (err = kh_engine_load_mem(e, "t.fp", FP, strlen(FP))) != KH_OK ||
        (err = kh_engine_load_mem(e, "t.ign2", IGN, strlen(IGN))) != KH_OK ||
        (err = kh_engine_compile(e)) != KH_OK) {
        kh_engine_release(e);
        return err;
    }
    *out = e;
    return KH_OK;
}

typedef struct sink {
    char *d;
    size_t n;
} sink;

static la_ssize_t wcb(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    sink *s = ud;
    s->d = realloc(s->d, s->n + n);
    memcpy(s->d + s->n, p, n);
    s->n += n;
    return (la_ssize_t)n;
}

/* A tar.gz with "hello" and a member carrying the body pattern. */
static sink make_tgz(void)
{
    sink s = {NULL, 0};
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    archive_write_add_filter_gzip(a);
    archive_write_open(a, &s, NULL, wcb, NULL);
    const char *names[] = {"hello.txt", "dir/evil.bin"};
    const char *data[] = {"hello", "..EVIL-PAYLOAD.."};
    for (int i = 0; i < 2; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(data[i]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, data[i], strlen(data[i]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return s;
}

typedef struct seen {
    int hello, evil;
} seen;

static int on_event(void *ud, const kh_event *ev)
{
    seen *s = ud;
    if (ev->kind != KH_EVENT_DETECTION)
        return 0;
    if (!strcmp(ev->name, "Test.Hello") && !strcmp(ev->object, "a.tgz//hello.txt"))
        s->hello++;
    if (!strcmp(ev->name, "Test.Body") && !strcmp(ev->object, "a.tgz//dir/evil.bin"))
        s->evil++;
    return 0;
}

static void test_engine_scan_archive(void **state)
{
    (void)state;
    kh_engine *e = NULL;
    assert_int_equal(make_engine(NULL, &e), KH_OK);
    kh_scan_opts so;
    kh_scan_opts_default(&so);
    so.flags |= KH_SCAN_ALLMATCH;
    kh_scanner *sc = NULL;
    assert_int_equal(kh_scanner_create(e, &so, &sc), KH_OK);
    sink t = make_tgz();
    seen s = {0, 0};
    kh_scan_result r;
    assert_int_equal(kh_scan_mem(sc, t.d, t.n, "a.tgz", on_event, &s, &r), KH_OK);
    assert_int_equal(r.verdict, KH_VERDICT_INFECTED);
    assert_int_equal(s.hello, 1);
    assert_int_equal(s.evil, 1);
    assert_int_equal(r.detections, 2);
    assert_int_equal(r.objects, 3);
    kh_scanner_destroy(sc);
    kh_engine_release(e);
    free(t.d);
}

static void test_engine_states(void **state)
{
    (void)state;
    kh_engine *e = NULL;
    kh_scanner *sc = NULL;
    assert_int_equal(kh_engine_create(NULL, &e), KH_OK);
    assert_int_equal(kh_scanner_create(e, NULL, &sc), KH_ESTATE);
    assert_int_equal(kh_engine_compile(e), KH_ENOSIGS);
    assert_int_equal(kh_engine_load_mem(e, "x.txt", "a", 1), KH_EFORMAT);
    assert_int_equal(kh_engine_load(e, "/nonexistent/db"), KH_ENOENT);
    kh_engine_release(e);
    assert_int_equal(make_engine(NULL, &e), KH_OK);
    assert_int_equal(kh_engine_load_mem(e, "t.ndb", NDB, strlen(NDB)), KH_ESTATE);
    assert_int_equal(kh_engine_compile(e), KH_ESTATE);
    kh_engine_stats st;
    kh_engine_get_stats(e, &st);
    assert_int_equal(st.body_sigs, 3);
    assert_int_equal(st.hash_sigs, 1);
    assert_int_equal(st.fp_sigs, 1);
    assert_int_equal(kh_scanner_create(e, NULL, &sc), KH_OK);
    kh_scan_result r;
    assert_int_equal(kh_scan_file(sc, "/nonexistent/file", NULL, NULL, &r), KH_ENOENT);
    assert_int_equal(r.verdict, KH_VERDICT_ERROR);
    assert_non_null(strstr(r.error, "No such file"));
    assert_int_equal(kh_scan_file(sc, "/tmp", NULL, NULL, &r), KH_ENOTREG);
    assert_int_equal(kh_scan_mem(sc, "", 0, "empty", NULL, NULL, &r), KH_OK);
    assert_int_equal(r.verdict, KH_VERDICT_CLEAN);
    /* the scanner keeps the engine alive after the caller's release */
    kh_engine_release(e);
    assert_int_equal(kh_scan_mem(sc, "..ABxCD", 7, "m", NULL, NULL, &r), KH_OK);
    assert_int_equal(r.verdict, KH_VERDICT_INFECTED);
    kh_scanner_destroy(sc);
    kh_scanner_destroy(NULL);
    kh_engine_release(NULL);
}

static void test_engine_strerror(void **state)
{
    (void)state;
    for (int i = 0; i < KH_ERR_COUNT; i++) {
        assert_non_null(kh_strerror((kh_err)i));
        assert_true(strlen(kh_strerror((kh_err)i)) > 3);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(kh_strerror((kh_err)i), kh_strerror((kh_err)j));
    }
    assert_string_equal(kh_strerror((kh_err)999), "unknown error");
}

typedef struct thr {
    kh_engine *e;
    const sink *t;
    int hits;
} thr;

static void *thread_main(void *arg)
{
    thr *t = arg;
    kh_scanner *sc = NULL;
    if (kh_scanner_create(t->e, NULL, &sc) != KH_OK)
        return NULL;
    for (int i = 0; i < 200; i++) {
        kh_scan_result r;
        if (kh_scan_mem(sc, t->t->d, t->t->n, "a.tgz", NULL, NULL, &r) == KH_OK &&
            r.verdict == KH_VERDICT_INFECTED)
            t->hits++;
    }
    kh_scanner_destroy(sc);
    return NULL;
}

static void test_engine_threads(void **state)
{
    (void)state;
    kh_engine *e = NULL;
    assert_int_equal(make_engine(NULL, &e), KH_OK);
    sink t = make_tgz();
    pthread_t th[4];
    thr args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr){e, &t, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].hits, 200);
    }
    kh_engine_release(e);
    free(t.d);
}

static void test_engine_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/khien-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    kh_engine *e = NULL;
    kh_engine_stats st;
    assert_int_equal(make_engine(dir, &e), KH_OK);
    kh_engine_get_stats(e, &st);
    assert_int_equal(st.cache_hit, 0);
    kh_engine_release(e);
    assert_int_equal(make_engine(dir, &e), KH_OK);
    kh_engine_get_stats(e, &st);
    assert_int_equal(st.cache_hit, 1);
    /* the cached database still finds what the compiled one found */
    kh_scanner *sc = NULL;
    kh_scan_result r;
    assert_int_equal(kh_scanner_create(e, NULL, &sc), KH_OK);
    assert_int_equal(kh_scan_mem(sc, "xxABxCDyyEND!", 13, "m", NULL, NULL, &r), KH_OK);
    assert_int_equal(r.verdict, KH_VERDICT_INFECTED);
    kh_scanner_destroy(sc);
    kh_engine_release(e);
    /* a damaged cache file is not trusted: the engine compiles again */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "for f in %s/hs-*.db; do head -c 100 \"$f\" > \"$f.x\" && mv \"$f.x\" \"$f\"; done", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(make_engine(dir, &e), KH_OK);
    kh_engine_get_stats(e, &st);
    assert_int_equal(st.cache_hit, 0);
    kh_engine_release(e);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Make every allocation of libkhien fail in turn, through load, compile and a scan of a
 * tar.gz: each must give KH_ENOMEM (or carry on) and never crash or leak (ASan checks). */
static void test_engine_alloc_failures(void **state)
{
    (void)state;
    sink t = make_tgz();
    int clean_run = 0;
    for (long n = 0; n < 5000 && !clean_run; n++) {
        khi_mem_fail_after(n);
        kh_engine *e = NULL;
        kh_scanner *sc = NULL;
        kh_err err = make_engine(NULL, &e);
        if (err == KH_OK)
            err = kh_scanner_create(e, NULL, &sc);
        if (err == KH_OK) {
            kh_scan_result r;
            err = kh_scan_mem(sc, t.d, t.n, "a.tgz", NULL, NULL, &r);
            if (err == KH_OK)
                assert_int_not_equal(r.verdict, KH_VERDICT_ERROR);
            else
                assert_int_equal(r.verdict, KH_VERDICT_ERROR);
        }
        if (err == KH_OK)
            clean_run = 1;
        else
            assert_int_equal(err, KH_ENOMEM);
        khi_mem_fail_after(-1);
        kh_scanner_destroy(sc);
        kh_engine_release(e);
    }
    assert_true(clean_run);
    free(t.d);
}

typedef struct reloader {
    kh_engine_slot *slot;
    const sink *t;
    int scans, hits;
    volatile int *stop;
} reloader;

static void *slot_reader(void *arg)
{
    reloader *r = arg;
    while (!*r->stop) {
        kh_engine *e = kh_engine_slot_acquire(r->slot);
        kh_scanner *sc = NULL;
        if (kh_scanner_create(e, NULL, &sc) == KH_OK) {
            kh_scan_result res;
            if (kh_scan_mem(sc, r->t->d, r->t->n, "a.tgz", NULL, NULL, &res) == KH_OK &&
                res.verdict == KH_VERDICT_INFECTED)
                r->hits++;
            r->scans++;
            kh_scanner_destroy(sc);
        }
        kh_engine_release(e);
    }
    return NULL;
}

/* Engines replaced 30 times while 3 threads scan: every scan sees a whole engine (and finds
 * the payload); ASan checks that no replaced engine is used after it is freed. */
static void test_engine_slot_reload(void **state)
{
    (void)state;
    sink t = make_tgz();
    kh_engine *e = NULL;
    kh_engine_slot *slot = NULL;
    volatile int stop = 0;
    assert_int_equal(make_engine(NULL, &e), KH_OK);
    assert_int_equal(kh_engine_slot_create(e, &slot), KH_OK);
    kh_engine_release(e);
    pthread_t th[3];
    reloader rs[3];
    for (int i = 0; i < 3; i++) {
        rs[i] = (reloader){slot, &t, 0, 0, &stop};
        assert_int_equal(pthread_create(&th[i], NULL, slot_reader, &rs[i]), 0);
    }
    for (int i = 0; i < 30; i++) {
        kh_engine *next = NULL;
        assert_int_equal(make_engine(NULL, &next), KH_OK);
        kh_engine_slot_replace(slot, next);
        kh_engine_release(next);
    }
    stop = 1;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_true(rs[i].scans > 0);
        assert_int_equal(rs[i].hits, rs[i].scans);
    }
    assert_int_equal(kh_engine_slot_generation(slot), 30);
    kh_engine_slot_destroy(slot);
    free(t.d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_scan_archive), cmocka_unit_test(test_engine_states),
        cmocka_unit_test(test_engine_strerror),     cmocka_unit_test(test_engine_threads),
        cmocka_unit_test(test_engine_cache),        cmocka_unit_test(test_engine_alloc_failures),
        cmocka_unit_test(test_engine_slot_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
