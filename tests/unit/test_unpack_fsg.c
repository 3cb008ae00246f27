/*
 * test_unpack_fsg.c - the FSG unpacker (lib/formats/fmt_fsg.c).
 *
 * FSG's packer is not in Debian and clamav-testfiles' clam-fsg.exe is not FSG-packed (it is a
 * plain program carrying clam.exe verbatim in a section), so the packed files are made here
 * the way FSG lays them out: an empty section for the program, a data section with the loader
 * (its first bytes as FSG 1.31, 1.33 and 2.0 write them), the loader's addresses (a register
 * block for 2.0, support data in the header padding for 1.x) and the image compressed with an
 * aPLib encoder of the test's own (one stream for 2.0, two for 1.x). The program holds
 * clamav-testfiles' clam.exe. Each file is unpacked and compared with the program, cut at every
 * length, damaged at every byte of its data section, starved of every allocation, and scanned
 * end to end (clam.exe's MD5 found under file.exe//fsg-unpacked//embedded-pe-...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unpack_test.h"

/* ---- an aPLib encoder: greedy, literals, short and long matches ---- */
typedef struct enc {
    uint8_t *o;
    size_t n, tagpos;
    int bits;
} enc;

static void put_bit(enc *e, unsigned b)
{
    if (!e->bits) {
        e->tagpos = e->n;
        e->o[e->n++] = 0;
        e->bits = 8;
    }
    e->bits--;
    if (b)
        e->o[e->tagpos] |= (uint8_t)(1u << e->bits);
}

static void put_gamma(enc *e, uint32_t v)
{
    int top = 31;
    while (!(v >> top))
        top--;
    for (int i = top - 1; i >= 0; i--) {
        put_bit(e, (v >> i) & 1);
        put_bit(e, i > 0);
    }
}

/* in (n >= 1 bytes) compressed into out (at least 2n + 16 bytes); returns the length. */
static size_t aplib_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    enc e = {out, 0, 0, 0};
    e.o[e.n++] = in[0];
    int after_lit = 1;
    for (size_t pos = 1; pos < n;) {
        size_t best = 0, boff = 0, win = pos < 0x4000 ? pos : 0x4000;
        for (size_t off = 1; off <= win && best < 255; off++) {
            size_t l = 0;
            while (pos + l < n && l < 255 && in[pos + l] == in[pos + l - off])
                l++;
            if (l > best || (l == best && l && off < boff)) {
                best = l;
                boff = off;
            }
        }
        if (best >= 4) {
            unsigned adj = (boff >= 0x500) + (boff <= 0x7f ? 2u : 0u);
            put_bit(&e, 1);
            put_bit(&e, 0);
            put_gamma(&e, (uint32_t)(boff >> 8) + 2u + (unsigned)after_lit);
            e.o[e.n++] = (uint8_t)boff;
            put_gamma(&e, (uint32_t)(best - adj));
            after_lit = 0;
        } else if (best >= 2 && boff < 128) {
            best = best > 3 ? 3 : best;
            put_bit(&e, 1);
            put_bit(&e, 1);
            put_bit(&e, 0);
            e.o[e.n++] = (uint8_t)(boff << 1 | (best - 2));
            after_lit = 0;
        } else {
            best = 1;
            put_bit(&e, 0);
            e.o[e.n++] = in[pos];
            after_lit = 1;
        }
        pos += best;
    }
    put_bit(&e, 1);
    put_bit(&e, 1);
    put_bit(&e, 0);
    e.o[e.n++] = 0;
    return e.n;
}

/* ---- FSG-packed files ---- */
#define BASE 0x400000u
#define DST 0x1000u     /* the empty section */
#define IMG 0x2000u     /* its size, the program's image */
#define SRC 0x3000u     /* the data section */
#define CLAM_AT 0x1200u /* where clam.exe lies in the image */
#define OEP 0x1010u
#define SUP 0x1d0u /* FSG 1.x support data in the header padding */

static uint8_t clam[544];
static uint8_t image[IMG];
static size_t streams_end; /* where make_fsg's last stream ends in the file */

static void put32(uint8_t *p, uint32_t v)
{
    khi_put_le32(p, v);
}

/* The PE headers of a two-section file whose data section has raw_size bytes at 0x400. */
static void headers(uint8_t *f, uint32_t ep, uint32_t raw_size)
{
    f[0] = 'M';
    f[1] = 'Z';
    put32(f + 0x3c, 0x80);
    memcpy(f + 0x80, "PE\0\0", 4);
    uint8_t *c = f + 0x84;
    c[0] = 0x4c;
    c[1] = 0x01;
    c[2] = 2;     /* NumberOfSections */
    c[16] = 0xe0; /* SizeOfOptionalHeader */
    c[18] = 0x0f; /* Characteristics */
    c[19] = 0x01;
    uint8_t *o = f + 0x98;
    o[0] = 0x0b;
    o[1] = 0x01;
    put32(o + 16, ep);
    put32(o + 28, BASE);
    put32(o + 32, 0x1000);
    put32(o + 36, 0x200);
    o[40] = 4; /* OS version */
    o[48] = 4; /* subsystem version */
    put32(o + 56, SRC + 0x1000);
    put32(o + 60, 0x400);
    o[68] = 2;
    put32(o + 92, 16);
    uint8_t *s = f + 0x178;
    put32(s + 8, IMG);
    put32(s + 12, DST);
    put32(s + 36, 0xe00000e0u);
    s += 40;
    put32(s + 8, 0x1000);
    put32(s + 12, SRC);
    put32(s + 16, raw_size);
    put32(s + 20, 0x400);
    put32(s + 36, 0xe00000e0u);
}

enum { V131, V133, V200 };

/* An FSG-packed copy of image into f (0x400 + 0x1000 bytes); returns its length. */
static size_t make_fsg(int v, uint8_t *f)
{
    memset(f, 0, 0x1400);
    uint8_t *sec = f + 0x400;
    size_t n = 0x200; /* the streams start here, after the loader */
    uint32_t ep = SRC + 0x40;
    uint8_t *stub = sec + 0x40;
    if (v == V200) {
        put32(sec + 12, BASE + OEP);           /* the table: [ebx+12] */
        put32(sec + 0x10, BASE + DST);         /* popad: edi */
        put32(sec + 0x14, BASE + SRC + 0x200); /* esi */
        put32(sec + 0x20, BASE + SRC);         /* ebx */
        put32(sec + 0x30, BASE + SRC + 0x10);  /* P: the register block */
        stub[0] = 0x87;
        stub[1] = 0x25;
        put32(stub + 2, BASE + SRC + 0x30);
        memcpy(stub + 6, "\x61\x94\x55\xa4\xb6\x80\xff\x13\x73\xf9\x33\xc9", 12);
        n += aplib_encode(image, IMG, sec + n);
    } else {
        /* two streams: the first 0x1000 bytes, then the rest */
        if (v == V133) {
            put32(f + SUP + 4, BASE + DST);
            put32(f + SUP + 8, BASE + SRC + 0x200);
            put32(f + SUP + 12, BASE + DST + 0x1000 + 1);
            stub[0] = 0xbe;
            put32(stub + 1, BASE + SUP);
            memcpy(stub + 5, "\xad\x93\xad\x97\xad\x56\x96\xb2\x80\xa4\xb6\x80\xff\x13\x73", 15);
            stub[161] = 0x0f;
            stub[162] = 0x84;
            put32(stub + 163, OEP - (ep + 167));
        } else {
            f[SUP] = (uint8_t)(((BASE + DST + 0x1000) >> 12) + 2);
            f[SUP + 1] = (uint8_t)((((BASE + DST + 0x1000) >> 12) + 2) >> 8);
            f[SUP + 2] = 2;
            stub[0] = 0xbb;
            put32(stub + 1, BASE + SUP);
            stub[5] = 0xbf;
            put32(stub + 6, BASE + DST);
            stub[10] = 0xbe;
            put32(stub + 11, BASE + SRC + 0x200);
            stub[15] = 0x53;
            stub[16] = 0xbb;
            put32(stub + 17, BASE + SRC + 0x100);
            memcpy(stub + 21, "\xb2\x80\xa4\xb6\x80\xff\xd3\x73\xf9\x33\xc9", 11);
            stub[0xda] = 0x0f;
            stub[0xdb] = 0x84;
            put32(stub + 0xdc, OEP - (ep + 0xda + 6));
        }
        n += aplib_encode(image, 0x1000, sec + n);
        n += aplib_encode(image + 0x1000, IMG - 0x1000, sec + n);
    }
    assert_true(n <= 0x1000);
    streams_end = 0x400 + n;
    size_t raw = (n + 0x1ff) & ~(size_t)0x1ff;
    headers(f, ep, (uint32_t)raw);
    return 0x400 + raw;
}

static int setup(void **state)
{
    (void)state;
    FILE *fp = fopen("/usr/share/clamav-testfiles/clam.exe", "rb");
    if (!fp)
        return 0;
    size_t got = fread(clam, 1, sizeof(clam), fp);
    fclose(fp);
    if (got != sizeof(clam))
        return -1;
    memset(image, 0, sizeof(image));
    static const uint8_t code[] = "\x55\x8b\xec\x6a\x00\x68\x00\x20\x40\x00\xe8\x00\x00\x00\x00";
    memcpy(image + 0x10, code, sizeof(code));
    for (unsigned i = 0; i < 0x600; i++) /* something that compresses, but not to nothing */
        image[0x100 + i] = (uint8_t)("The program FSG packed. "[i % 24] ^ (i / 97));
    memcpy(image + CLAM_AT, clam, sizeof(clam));
    return 0;
}

/* Every version unpacks to the image, with the original entry point, clam.exe inside. */
static void test_unpack_fsg_versions(void **state)
{
    (void)state;
    if (!clam[0])
        skip();
    static uint8_t f[0x1400];
    for (int v = V131; v <= V200; v++) {
        size_t len = make_fsg(v, f);
        khi_pe pe, up;
        assert_true(khi_pe_parse(f, len, &pe));
        assert_int_equal(khi_pe_packer(f + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_FSG);
        collect c = {.name = "fsg-unpacked"};
        khi_parts_cb cb = {collect_part, collect_warn, &c};
        assert_int_equal(khi_pe_unpack_walk(f, len, &pe, &cb), KH_OK);
        assert_int_equal(c.warnings, 0);
        assert_int_equal(c.parts, 1);
        assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + IMG);
        assert_memory_equal(c.last + KHI_PE_REBUILT_HDR, image, IMG);
        assert_true(khi_pe_parse(c.last, c.last_len, &up));
        assert_int_equal(up.nsections, 1);
        assert_int_equal(up.ep_rva, OEP);
        assert_int_equal(up.sect[0].va, DST);
        assert_int_equal(khi_pe_packer(c.last + up.ep_offset, KHI_PE_EP_BYTES, &up),
                         KHI_PACKER_NONE);
        free(c.last);
    }
}

/* Not FSG: clam.exe, clam-fsg.exe (a plain program despite its name), a stub without its
 * empty section, a 1.x stub whose support data is not in the headers, a PE32+ file. */
static void test_unpack_fsg_detect(void **state)
{
    (void)state;
    static uint8_t f[0x1a00];
    khi_pe pe;
    FILE *fp = fopen("/usr/share/clamav-testfiles/clam-fsg.exe", "rb");
    if (fp) {
        size_t len = fread(f, 1, sizeof(f), fp);
        fclose(fp);
        assert_true(khi_pe_parse(f, len, &pe));
        assert_int_equal(khi_pe_packer(f + pe.ep_offset, KHI_PE_EP_BYTES, &pe), KHI_PACKER_NONE);
    }
    if (!clam[0])
        skip();
    assert_true(khi_pe_parse(clam, sizeof(clam), &pe));
    assert_int_equal(khi_pe_packer(clam + pe.ep_offset, sizeof(clam) - pe.ep_offset, &pe),
                     KHI_PACKER_NONE);
    for (int v = V131; v <= V200; v++) {
        size_t len = make_fsg(v, f);
        assert_true(khi_pe_parse(f, len, &pe));
        const uint8_t *ep = f + pe.ep_offset;
        assert_int_equal(khi_pe_packer(ep, 31, &pe), KHI_PACKER_NONE); /* too few bytes */
        khi_pe p2 = pe;
        p2.sect[0].raw_size = 0x200; /* no empty section */
        assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &p2), KHI_PACKER_NONE);
        p2 = pe;
        p2.pe32plus = 1;
        assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &p2), KHI_PACKER_NONE);
        if (v != V200) {
            p2 = pe;
            p2.image_base -= 0x10000; /* the support data's address is past the sections */
            assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &p2), KHI_PACKER_NONE);
        }
        f[pe.ep_offset + (v == V131 ? 22 : 7)] ^= 1; /* one byte of the loader */
        assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &pe), KHI_PACKER_NONE);
    }
}

/* Every cut of every version and every damaged byte of the data section: KH_OK, no crash;
 * a cut inside the streams or a damaged address is a warning. */
static void test_unpack_fsg_damage(void **state)
{
    (void)state;
    if (!clam[0])
        skip();
    static uint8_t f[0x1400];
    collect c = {.name = "fsg-unpacked"};
    khi_parts_cb cb = {collect_part, collect_warn, &c};
    for (int v = V131; v <= V200; v++) {
        size_t len = make_fsg(v, f);
        khi_pe pe;
        size_t inside = 0;
        for (size_t cut = 0; cut < len; cut++) {
            c.parts = c.warnings = 0;
            if (!khi_pe_parse(f, cut, &pe))
                continue;
            assert_int_equal(khi_pe_unpack_walk(f, cut, &pe, &cb), KH_OK);
            if (cut > 0x600 && cut < streams_end) { /* inside the streams */
                assert_int_equal(c.warnings, 1);
                assert_int_equal(c.parts, 1);
                inside++;
            }
        }
        assert_int_equal(inside, streams_end - 0x601);
        c.warnings = 0;
        c.parts = 0;
        assert_true(khi_pe_parse(f, len, &pe));
        for (size_t at = 0x400; at < len; at++) {
            uint8_t keep = f[at];
            f[at] = (uint8_t)~keep;
            assert_int_equal(khi_pe_unpack_walk(f, len, &pe, &cb), KH_OK);
            f[at] = keep;
        }
        assert_true(c.warnings > 0);
        /* the destination moved: the loader would not write the empty section */
        size_t edi = v == V200 ? 0x410 : v == V133 ? SUP + 4 : 0x440 + 6;
        f[edi + 1] ^= 0x10;
        c.warnings = c.parts = 0;
        assert_int_equal(khi_pe_unpack_walk(f, len, &pe, &cb), KH_OK);
        assert_int_equal(c.warnings, 1);
        assert_int_equal(c.parts, 0);
        assert_non_null(strstr(c.detail, "FSG-packed, but"));
        f[edi + 1] ^= 0x10;
    }
    free(c.last);
}

/* Every allocation failure of the walk is KH_ENOMEM, for every version; a callback that
 * stops the walk makes it KH_ECANCELED. */
static void test_unpack_fsg_enomem(void **state)
{
    (void)state;
    if (!clam[0])
        skip();
    static uint8_t f[0x1400];
    for (int v = V131; v <= V200; v++)
        unpack_fail_paths(f, make_fsg(v, f));
}

/* The scan unpacks the file and finds clam.exe in the program by its MD5. */
static void test_unpack_fsg_scan(void **state)
{
    (void)state;
    if (!clam[0])
        skip();
    static uint8_t f[0x1400];
    for (int v = V131; v <= V200; v++) {
        found s;
        scan_for_clam(f, make_fsg(v, f), "fsg.exe", &s);
        assert_int_equal(s.clam, 1);
        assert_string_equal(s.object, "fsg.exe//fsg-unpacked//embedded-pe-1600");
    }
}

/* `test_unpack_fsg DIR` writes the three packed files into DIR (fuzz/corpus/fsg's seeds). */
static int write_seeds(const char *dir)
{
    static const char *names[] = {"0001-fsg131", "0002-fsg133", "0003-fsg200"};
    static uint8_t f[0x1400];
    if (setup(NULL) || !clam[0])
        return 1;
    for (int v = V131; v <= V200; v++) {
        size_t len = make_fsg(v, f);
        char path[1024];
        khi_snprintf(path, sizeof(path), "%s/%s", dir, names[v]);
        FILE *o = fopen(path, "wb");
        if (!o || fwrite(f, 1, len, o) != len || fclose(o))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return write_seeds(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unpack_fsg_versions), cmocka_unit_test(test_unpack_fsg_detect),
        cmocka_unit_test(test_unpack_fsg_damage),   cmocka_unit_test(test_unpack_fsg_enomem),
        cmocka_unit_test(test_unpack_fsg_scan),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
