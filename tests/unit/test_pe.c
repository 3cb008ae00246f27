/*
 * test_pe.c - a PE's description and layout: the KH_EVENT_INFO "PE" events of
 * KH_SCAN_DESCRIBE (what `khien scan --json` prints as "pe"), and the section and entry point
 * offsets that EP+n/Sx+n/SL+n/SEx signatures and .mdb hashes are checked against
 * (khi_pe_section_raw, khi_pe_entry_raw), with ClamAV's alignment rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <khien/khien.h>
#include "core/core.h"
#include "formats/formats.h"

#define PE_SIZE 0xC00

/* A PE32 or PE32+ like tests/cases/make_pe_cases.py's: headers 0x400, FileAlignment 0x200,
 * SectionAlignment 0x1000, .text raw 0x400 (0x200), .data raw 0x600 (0x400), .rsrc raw
 * 0xA00 (0x200), entry point RVA 0x1010. */
static void build(uint8_t *d, int plus, int dll)
{
    memset(d, 0, PE_SIZE);
    d[0] = 'M';
    d[1] = 'Z';
    khi_put_le32(d + 0x3c, 0x80);
    memcpy(d + 0x80, "PE\0\0", 4);
    uint8_t *coff = d + 0x84;
    uint16_t optsize = plus ? 240 : 224;
    uint16_t chars = (uint16_t)(0x0102 | (dll ? 0x2000 : 0));
    coff[0] = plus ? 0x64 : 0x4c;
    coff[1] = plus ? 0x86 : 0x01;
    coff[2] = 3;
    coff[16] = (uint8_t)optsize;
    coff[18] = (uint8_t)chars;
    coff[19] = (uint8_t)(chars >> 8);
    uint8_t *opt = d + 0x98;
    opt[0] = 0x0b;
    opt[1] = plus ? 0x02 : 0x01;
    khi_put_le32(opt + 16, 0x1010);
    khi_put_le32(opt + 32, 0x1000);
    khi_put_le32(opt + 36, 0x200);
    khi_put_le32(opt + 56, 0x4000);
    khi_put_le32(opt + 60, 0x400);
    static const uint32_t sect[3][3] = {{0x1000, 0x400, 0x200}, {0x2000, 0x600, 0x400},
                                        {0x3000, 0xA00, 0x200}};
    for (int i = 0; i < 3; i++) {
        uint8_t *s = opt + optsize + 40 * i;
        memcpy(s, i == 0 ? ".text" : i == 1 ? ".data" : ".rsrc", 5);
        khi_put_le32(s + 8, sect[i][2]);
        khi_put_le32(s + 12, sect[i][0]);
        khi_put_le32(s + 16, sect[i][2]);
        khi_put_le32(s + 20, sect[i][1]);
    }
}

typedef struct seen {
    int infos, detections, warnings;
    kh_pe_info pe;
    char object[128];
    uint32_t depth;
} seen;

static int on_event(void *ud, const kh_event *ev)
{
    seen *s = ud;
    if (ev->kind == KH_EVENT_INFO) {
        s->infos++;
        assert_string_equal(ev->name, "PE");
        assert_non_null(ev->pe);
        s->pe = *ev->pe;
        snprintf(s->object, sizeof(s->object), "%s", ev->object);
        s->depth = ev->depth;
    } else {
        assert_null(ev->pe);
        if (ev->kind == KH_EVENT_DETECTION)
            s->detections++;
        else
            s->warnings++;
    }
    return 0;
}

static kh_engine *engine(void)
{
    static const char ndb[] = "Test.Marker:0:*:4b4849454e2d5045\n";
    kh_engine *e = NULL;
    assert_int_equal(kh_engine_create(NULL, &e), KH_OK);
    assert_int_equal(kh_engine_load_mem(e, "t.ndb", ndb, strlen(ndb)), KH_OK);
    assert_int_equal(kh_engine_compile(e), KH_OK);
    return e;
}

static void scan(kh_engine *e, unsigned flags, const uint8_t *d, size_t n, seen *out)
{
    kh_scan_opts o;
    kh_scan_opts_default(&o);
    o.flags = flags;
    kh_scanner *sc = NULL;
    kh_scan_result res;
    memset(out, 0, sizeof(*out));
    assert_int_equal(kh_scanner_create(e, &o, &sc), KH_OK);
    assert_int_equal(kh_scan_mem(sc, d, n, "x.exe", on_event, out, &res), KH_OK);
    assert_int_equal(res.warnings, (uint32_t)out->warnings);
    assert_int_equal(res.detections, (uint32_t)out->detections);
    kh_scanner_destroy(sc);
}

static void test_pe_describe(void **state)
{
    (void)state;
    uint8_t *d = malloc(PE_SIZE);
    kh_engine *e = engine();
    seen s;
    build(d, 0, 0);
    scan(e, KH_SCAN_DESCRIBE, d, PE_SIZE, &s);
    assert_int_equal(s.infos, 1);
    assert_int_equal(s.warnings, 0);
    assert_int_equal(s.pe.pe32plus, 0);
    assert_int_equal(s.pe.dll, 0);
    assert_int_equal(s.pe.machine, 0x14c);
    assert_int_equal(s.pe.nsections, 3);
    assert_int_equal(s.pe.entry_point, 0x1010);
    assert_string_equal(s.object, "x.exe");
    assert_int_equal(s.depth, 0);

    build(d, 1, 1);
    scan(e, KH_SCAN_DESCRIBE, d, PE_SIZE, &s);
    assert_int_equal(s.infos, 1);
    assert_int_equal(s.pe.pe32plus, 1);
    assert_int_equal(s.pe.dll, 1);
    assert_int_equal(s.pe.machine, 0x8664);

    /* not asked for: nothing; not a PE: nothing; a detection still comes after it */
    scan(e, 0, d, PE_SIZE, &s);
    assert_int_equal(s.infos, 0);
    d[0x81] = 'X';
    scan(e, KH_SCAN_DESCRIBE, d, PE_SIZE, &s);
    assert_int_equal(s.infos, 0);
    d[0x81] = 'E';
    memcpy(d + 0x700, "KHIEN-PE", 8);
    scan(e, KH_SCAN_DESCRIBE, d, PE_SIZE, &s);
    assert_int_equal(s.infos, 1);
    assert_int_equal(s.detections, 1);
    kh_engine_release(e);
    free(d);
}

static void test_pe_layout(void **state)
{
    (void)state;
    uint8_t *d = malloc(PE_SIZE);
    khi_pe pe;
    uint64_t raw, size;
    build(d, 0, 0);
    assert_int_equal(khi_pe_parse(d, PE_SIZE, &pe), 1);
    assert_int_equal(pe.file_align, 0x200);
    assert_int_equal(pe.sect_align, 0x1000);
    assert_int_equal(pe.size_of_headers, 0x400);
    assert_int_equal(khi_pe_entry_raw(&pe, PE_SIZE), 0x410);
    khi_pe_section_raw(&pe, 1, PE_SIZE, &raw, &size);
    assert_int_equal(raw, 0x600);
    assert_int_equal(size, 0x400);
    /* a size past the end of the file is cut there */
    khi_pe_section_raw(&pe, 2, 0xB00, &raw, &size);
    assert_int_equal(raw, 0xA00);
    assert_int_equal(size, 0x100);
    /* raw offset rounded down, size up, to FileAlignment */
    pe.sect[1].raw_off = 0x610;
    pe.sect[1].raw_size = 0x3f0;
    pe.file_align = 0x20;
    khi_pe_section_raw(&pe, 1, PE_SIZE, &raw, &size);
    assert_int_equal(raw, 0x600);
    assert_int_equal(size, 0x400);
    /* a section aligned to 0x200 but not to FileAlignment: 0x200 is used (ClamAV's fallback) */
    pe.sect[1].raw_off = 0x600;
    pe.file_align = 0x300;
    khi_pe_section_raw(&pe, 2, PE_SIZE, &raw, &size);
    assert_int_equal(raw, 0xA00);
    assert_int_equal(size, 0x200);
    pe.file_align = 0x200;
    pe.sect[1].raw_size = 0x400;
    /* entry point in the headers, in no section, and in the last section covering it */
    pe.ep_rva = 0x30;
    assert_int_equal(khi_pe_entry_raw(&pe, PE_SIZE), 0x30);
    pe.ep_rva = 0x1300;
    assert_true(khi_pe_entry_raw(&pe, PE_SIZE) == UINT64_MAX);
    pe.sect[2].va = 0x2000; /* .rsrc now overlaps .data: the last one wins, as in ClamAV */
    pe.ep_rva = 0x2010;
    assert_int_equal(khi_pe_entry_raw(&pe, PE_SIZE), 0xA10);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pe_describe),
        cmocka_unit_test(test_pe_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
