/*
 * unpack_test.h - what the PE unpacker tests (test_unpack_*.c, test_upx.c) share: reading
 * clamav-testfiles' samples, collecting the parts and warnings a walk hands out (each checked
 * against the part's name and, when given, the prefix every warning of the unpacker starts
 * with), the allocation-failure and stop paths of a walk, and scanning a file end to end with
 * clam.exe's MD5 as the only signature. Each test includes it once, after cmocka.h; the
 * functions are static inline so that a test need not use them all.
 */
#ifndef KH_UNPACK_TEST_H
#define KH_UNPACK_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <khien/khien.h>

#include "core/core.h"
#include "formats/formats.h"
#include "parts_test.h"

#define TESTFILES "/usr/share/clamav-testfiles/"

/* Read at most cap bytes of clamav-testfiles' file name into buf: how many were read, 0 when
 * the file is not there. */
static inline size_t testfile(const char *name, uint8_t *buf, size_t cap)
{
    char path[256];
    khi_snprintf(path, sizeof(path), TESTFILES "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

typedef struct collect {
    const char *name;   /* every part and warning must name this part */
    const char *prefix; /* every warning's detail starts with this (NULL: any detail) */
    int stop;           /* what the callbacks return: nonzero stops the walk */
    int parts, warnings;
    uint8_t *last; /* a copy of the last part */
    size_t last_len;
    char detail[256]; /* the last warning */
} collect;

static inline int collect_part(void *ud, const uint8_t *d, size_t n, const char *name)
{
    collect *c = ud;
    assert_string_equal(name, c->name);
    c->parts++;
    free(c->last);
    c->last = malloc(n ? n : 1);
    assert_non_null(c->last);
    memcpy(c->last, d, n);
    c->last_len = n;
    return c->stop;
}

static inline int collect_warn(void *ud, khi_fwarn what, const char *part, const char *detail)
{
    collect *c = ud;
    assert_int_equal(what, KHI_FWARN_DAMAGED);
    assert_string_equal(part, c->name);
    if (c->prefix)
        assert_int_equal(strncmp(detail, c->prefix, strlen(c->prefix)), 0);
    khi_snprintf(c->detail, sizeof(c->detail), "%s", detail);
    c->warnings++;
    return c->stop;
}

/* Parse d as a PE and walk its unpacker into c with fresh counts (c->last is kept until the
 * next part replaces it; the caller frees it): KH_EFORMAT when d does not parse, else what the
 * walk returns. */
static inline kh_err collect_walk(const uint8_t *d, size_t n, collect *c)
{
    khi_pe pe;
    c->parts = c->warnings = 0;
    c->detail[0] = '\0';
    if (!khi_pe_parse(d, n, &pe))
        return KH_EFORMAT;
    khi_parts_cb cb = {collect_part, collect_warn, c};
    return khi_pe_unpack_walk(d, n, &pe, &cb);
}

/* Every allocation failure of the unpack walk of d is KH_ENOMEM with no part handed out, until
 * the walk hands out its one part; a callback that stops the walk makes it KH_ECANCELED.
 * Returns how many allocations had to fail in turn (the walk's allocations). */
static inline long unpack_fail_paths(const uint8_t *d, size_t n)
{
    khi_pe pe;
    assert_true(khi_pe_parse(d, n, &pe));
    int parts = 0;
    khi_parts_cb cb = {count_part, NULL, &parts};
    long nth = 0;
    for (;; nth++) {
        assert_true(nth < 50);
        khi_mem_fail_after(nth);
        parts = 0;
        kh_err e = khi_pe_unpack_walk(d, n, &pe, &cb);
        khi_mem_fail_after(-1);
        if (e == KH_OK && parts == 1)
            break;
        assert_int_equal(e, KH_ENOMEM);
        assert_int_equal(parts, 0);
    }
    khi_parts_cb stop = {stop_part, NULL, NULL};
    assert_int_equal(khi_pe_unpack_walk(d, n, &pe, &stop), KH_ECANCELED);
    return nth;
}

typedef struct found {
    int clam;
    char object[256];
} found;

static inline int on_clam(void *ud, const kh_event *ev)
{
    found *s = ud;
    if (ev->kind == KH_EVENT_DETECTION && !strcmp(ev->name, "ClamAV-Test-File")) {
        s->clam++;
        khi_snprintf(s->object, sizeof(s->object), "%s", ev->object);
    }
    return 0;
}

/* Scan d as name with clam.exe's MD5; the detections and the object of the last are in *out. */
static inline void scan_for_clam(const uint8_t *d, size_t n, const char *name, found *out)
{
    static const char hdb[] = "aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n";
    kh_engine *e = NULL;
    assert_int_equal(kh_engine_create(NULL, &e), KH_OK);
    assert_int_equal(kh_engine_load_mem(e, "t.hdb", hdb, strlen(hdb)), KH_OK);
    assert_int_equal(kh_engine_compile(e), KH_OK);
    kh_scanner *sc = NULL;
    assert_int_equal(kh_scanner_create(e, NULL, &sc), KH_OK);
    kh_scan_result r;
    memset(out, 0, sizeof(*out));
    assert_int_equal(kh_scan_mem(sc, d, n, name, on_clam, out, &r), KH_OK);
    assert_int_equal(r.verdict, out->clam ? KH_VERDICT_INFECTED : KH_VERDICT_CLEAN);
    kh_scanner_destroy(sc);
    kh_engine_release(e);
}

#endif
