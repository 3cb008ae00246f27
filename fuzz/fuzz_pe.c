/*
 * fuzz_pe.c - PE headers (lib/formats/fmt_pe.c) and what signatures do with them.
 *
 * The headers are parsed as the scan parses them (from the first 36 KiB), then the layout that
 * EP+n/Sx+n/SL+n/SEx offsets and .mdb/.msb hashes are checked against is computed for every
 * section, with the whole input as the file: a section must never reach past the file's end.
 * Then the input is scanned with an engine (built once) holding a signature of each
 * executable-relative offset form, fixed and variable length, and section hashes of any size,
 * with KH_SCAN_DESCRIBE, so that the matcher's window arithmetic and the section hashing run
 * on whatever section table and entry point the input declares.
 */
#include <khien/khien.h>
#include "formats/formats.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ndb[] = "F.EP:1:EP+0:4d5a\n"
                          "F.EPM:1:EP-2,64:9090\n"
                          "F.S0:1:S0+0,16:0000\n"
                          "F.S2:1:S2+1:ffff\n"
                          "F.SL:1:SL+0,4096:0000\n"
                          "F.SE:1:SE1:0000{1-4}0000\n"
                          "F.SE9:1:SE9,100:ffff\n"
                          "F.EPV:1:EP+0,8:4d5a*0000\n"
                          "F.SLV:1:SL+4:0000??0000\n";
static const char mdb[] = "*:d41d8cd98f00b204e9800998ecf8427e:F.Md5:73\n"
                          "512:bf619eac0cdf3f68d496ea9344137e8b:F.Zero512\n";
static const char msb[] = "*:da39a3ee5e6b4b0d3255bfef95601890afd80709:F.Sha1:73\n";
static const char ldb[] = "F.Ldb;Target:1;0|1;EP+0:4d5a;SE0:0000\n";

static kh_scanner *sc;
static size_t sink;

static int on_event(void *ud, const kh_event *ev)
{
    (void)ud;
    sink += strlen(ev->object) + strlen(ev->name);
    if (ev->pe)
        sink += ev->pe->nsections + ev->pe->entry_point + (unsigned)ev->pe->dll;
    return 0;
}

static void setup(void)
{
    kh_engine *e = NULL;
    kh_scan_opts so;
    if (kh_engine_create(NULL, &e) != KH_OK ||
        kh_engine_load_mem(e, "f.ndb", ndb, sizeof(ndb) - 1) != KH_OK ||
        kh_engine_load_mem(e, "f.mdb", mdb, sizeof(mdb) - 1) != KH_OK ||
        kh_engine_load_mem(e, "f.msb", msb, sizeof(msb) - 1) != KH_OK ||
        kh_engine_load_mem(e, "f.ldb", ldb, sizeof(ldb) - 1) != KH_OK || kh_engine_compile(e) != KH_OK)
        abort();
    kh_engine_stats st;
    kh_engine_get_stats(e, &st);
    if (st.rejected || st.skipped || st.section_sigs != 3)
        abort();
    kh_scan_opts_default(&so);
    so.flags = KH_SCAN_ALLMATCH | KH_SCAN_NO_ARCHIVE | KH_SCAN_DESCRIBE;
    if (kh_scanner_create(e, &so, &sc) != KH_OK)
        abort();
    kh_engine_release(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static khi_pe pe;
    if (!sc)
        setup();
    if (khi_pe_parse(data, size > 36864 ? 36864 : size, &pe)) {
        if (pe.nsections == 0 || pe.nsections > KHI_PE_MAX_SECTIONS)
            abort();
        for (unsigned i = 0; i < pe.nsections; i++) {
            uint64_t raw, len;
            khi_pe_section_raw(&pe, i, size, &raw, &len);
            if (len && raw + len > size)
                abort();
        }
        uint64_t ep = khi_pe_entry_raw(&pe, size);
        if (ep != UINT64_MAX && ep >= size)
            abort();
    }
    /* a copy of exactly the input's size, so that ASan sees any read past its end */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    kh_scan_result res;
    kh_err err = kh_scan_mem(sc, copy, size, "pe", on_event, NULL, &res);
    free(copy);
    if (err != KH_OK || res.verdict == KH_VERDICT_ERROR) {
        fprintf(stderr, "fuzz_pe: scan failed: %s (%s)\n", kh_strerror(err), res.error);
        abort();
    }
    return 0;
}
