/*
 * fuzz_container.c - scanning untrusted files: type detection and the archive walker.
 *
 * Every file a user scans is attacker-controlled, and the scan pipeline hands anything whose
 * first bytes look like an archive or a compressed stream to libarchive, then scans each member
 * again, recursively. This target scans its input with kh_scan_mem, exercising
 * khi_ftype_detect (lib/scan/scan_ftype.c), the libarchive walk with its limit checks and
 * member sink (lib/container/container_archive.c), the nesting and layered names of
 * lib/scan/scan_object.c and both matchers on every member. The engine has one body signature
 * and one MD5 signature (the MD5 of "EVIL-PAYLOAD\n"). Each input is scanned twice:
 *   - with small limits, so that bombs stop quickly and every limit check is reached:
 *     max_filesize 1 MiB, max_scansize 8 MiB, max_files 200, max_depth 6, max_ratio 100 past
 *     1 MiB;
 *   - with max_filesize 3 MiB, max_scansize 6 MiB and no ratio check, so that members larger
 *     than KHI_INMEM_MAX (1 MiB) get through: they are spilled to an unlinked temporary file
 *     and matched from it in chunks (Vectorscan stream mode, streamed digests), a path the
 *     first limits never reach.
 * KH_SCAN_ALLMATCH keeps the walk going after a detection. Temporary files go to a directory
 * of its own under /tmp.
 */
#include <khien/khien.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char sig_ndb[] = "Fuzz.Body:0:*:4556494c2d5041594c4f4144\n"; /* "EVIL-PAYLOAD" */
static const char sig_hdb[] = "e8817b4e965c2e442113769c491a92f9:13:Fuzz.Hash\n";

static kh_engine *engine;
static kh_scanner *scanner, *scanner_big;
static char tmp_dir[] = "/tmp/khien-fuzz-container.XXXXXX";
static size_t sink;

static void cleanup(void)
{
    kh_scanner_destroy(scanner);
    kh_scanner_destroy(scanner_big);
    kh_engine_release(engine);
    rmdir(tmp_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (!mkdtemp(tmp_dir))
        abort();
    if (kh_engine_create(NULL, &engine) != KH_OK ||
        kh_engine_load_mem(engine, "fuzz.ndb", sig_ndb, sizeof(sig_ndb) - 1) != KH_OK ||
        kh_engine_load_mem(engine, "fuzz.hdb", sig_hdb, sizeof(sig_hdb) - 1) != KH_OK ||
        kh_engine_compile(engine) != KH_OK)
        abort();
    kh_engine_stats st;
    kh_engine_get_stats(engine, &st);
    if (st.body_sigs != 1 || st.hash_sigs != 1)
        abort();
    kh_scan_opts so;
    kh_scan_opts_default(&so);
    so.limits.max_filesize = 1u << 20;
    so.limits.max_scansize = 8u << 20;
    so.limits.max_files = 200;
    so.limits.max_depth = 6;
    so.limits.max_ratio = 100;
    so.limits.ratio_min_bytes = 1u << 20;
    so.flags = KH_SCAN_ALLMATCH;
    so.tmp_dir = tmp_dir;
    if (kh_scanner_create(engine, &so, &scanner) != KH_OK)
        abort();
    so.limits.max_filesize = 3u << 20;
    so.limits.max_scansize = 6u << 20;
    so.limits.max_ratio = 0;
    if (kh_scanner_create(engine, &so, &scanner_big) != KH_OK)
        abort();
    atexit(cleanup);
    return 0;
}

static int on_event(void *ud, const kh_event *ev)
{
    sink += strlen(ev->object) + strlen(ev->name) + (ev->detail ? strlen(ev->detail) : 0);
    for (size_t i = 0; i < ev->nmeta; i++)
        sink += strlen(ev->meta[i].key) + strlen(ev->meta[i].value);
    return 0;
}

static void scan(kh_scanner *sc, const uint8_t *data, size_t size)
{
    kh_scan_result res;
    kh_err err = kh_scan_mem(sc, data, size, "input", on_event, NULL, &res);
    if (err != KH_OK || res.verdict == KH_VERDICT_ERROR || res.objects == 0) {
        fprintf(stderr, "fuzz_container: scan failed: %s (%s)\n", kh_strerror(err), res.error);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scan(scanner, data, size);
    scan(scanner_big, data, size);
    return 0;
}
