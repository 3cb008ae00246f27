/*
 * test_unpack_pespin.c - the PESpin 1.1 unpacker (lib/formats/fmt_pespin.c) on clamav-testfiles'
 * clam-pespin.exe: detection from the entry point's bytes, the unpacked image holding clam.exe
 * (in the section that was encrypted twice and compressed), every cut of the file, damage to
 * each layer of the loader and to the sections, the password option, a stop from the
 * callbacks, and every allocation failure turning into KH_ENOMEM. The helpers shared with the
 * other unpackers' tests are in unpack_test.h.
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

#define EP 0xc87u      /* the entry point's file offset in the sample */
#define CLAM_AT 0x41e0 /* where clam.exe lies in the unpacked PE */

static uint8_t buf[16384], clam[544];
static size_t len;

/* What a walk of the sample hands out: parts and warnings named pespin-unpacked, each warning
 * starting "PESpin-". Each test starts its collect from this. */
static const collect pespin = {.name = "pespin-unpacked", .prefix = "PESpin-"};

static int setup(void **state)
{
    (void)state;
    len = testfile("clam-pespin.exe", buf, sizeof(buf));
    if (testfile("clam.exe", clam, sizeof(clam)) != sizeof(clam))
        len = 0;
    return 0;
}

/* the entry point: `jmp $+3; junk; pusha; call $+5; mov ebx, [esp]; add ebx, N` */
static void test_unpack_pespin_detect(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    khi_pe pe;
    assert_true(khi_pe_parse(buf, len, &pe));
    assert_int_equal(pe.ep_offset, EP);
    const uint8_t *ep = buf + EP;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &pe), KHI_PACKER_PESPIN);
    assert_int_equal(khi_pe_packer(ep, 13, &pe), KHI_PACKER_NONE); /* too few bytes */
    uint8_t copy[KHI_PE_EP_BYTES];
    memcpy(copy, ep, sizeof(copy));
    copy[9] = 0x8b; /* mov ebx, [esp] became mov ecx: an ordinary delta call */
    copy[10] = 0x0c;
    assert_int_equal(khi_pe_packer(copy, sizeof(copy), &pe), KHI_PACKER_NONE);
    /* no room for the loader after the entry point */
    khi_pe small = pe;
    small.sect[small.nsections - 1].raw_size = 0x3217 + 0x87;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &small), KHI_PACKER_NONE);
    /* the entry point outside the last section */
    small = pe;
    small.ep_rva = small.sect[0].va;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &small), KHI_PACKER_NONE);
    small = pe; /* the bytes read from elsewhere than the last section's data */
    small.ep_offset += 0x200;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &small), KHI_PACKER_NONE);
    small = pe;
    small.pe32plus = 1;
    assert_int_equal(khi_pe_packer(ep, KHI_PE_EP_BYTES, &small), KHI_PACKER_NONE);
}

/* the whole file: one part, a PE of one section, clam.exe inside at its place, found by the
 * embedded walk; without the decryption its bytes are not there */
static void test_unpack_pespin_sample(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    assert_null(memmem(buf, len, clam, 64)); /* packed: not in the file as it is */
    collect c = pespin;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + 0x4000); /* four sections of 0x1000 */
    assert_true(c.last_len >= CLAM_AT + sizeof(clam));
    assert_memory_equal(c.last + CLAM_AT, clam, sizeof(clam));
    khi_pe up;
    assert_true(khi_pe_parse(c.last, c.last_len, &up));
    assert_int_equal(up.nsections, 1);
    assert_int_equal(up.sect[0].va, 0x1000);
    /* the first section (encrypted twice, not compressed) is the program's code now */
    assert_memory_not_equal(c.last + KHI_PE_REBUILT_HDR, buf + 0x400, 0x200);
    free(c.last);
}

/* every cut past the entry point's stub: a warning naming the problem, no crash; the part,
 * when there is one, is whole (past the loader the file checksum is wrong: garbage) */
static void test_unpack_pespin_cuts(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    collect c = pespin;
    for (size_t cut = 0x400; cut < len; cut += 7) {
        kh_err e = collect_walk(buf, cut, &c);
        if (e == KH_EFORMAT)
            continue; /* the headers alone do not parse */
        assert_int_equal(e, KH_OK);
        if (cut < EP + 14) { /* the entry point's stub is not there: nothing to recognise */
            assert_int_equal(c.warnings + c.parts, 0);
            continue;
        }
        assert_int_equal(c.warnings, 1);
        assert_true(c.parts <= 1);
        if (cut < EP + 0x321b)
            assert_string_equal(c.detail, "PESpin-packed, but its loader is cut short");
        if (c.parts)
            assert_int_equal(c.last_len, KHI_PE_REBUILT_HDR + 0x4000);
    }
    free(c.last);
}

static void expect_damage(uint8_t *d, size_t at, uint8_t x, const char *detail, int parts)
{
    collect c = pespin;
    uint8_t keep = d[at];
    d[at] ^= x;
    assert_int_equal(collect_walk(d, len, &c), KH_OK);
    d[at] = keep;
    assert_int_equal(c.warnings, 1);
    assert_string_equal(c.detail, detail);
    assert_int_equal(c.parts, parts);
    free(c.last);
}

/* damage to each layer of the loader and to the sections */
static void test_unpack_pespin_damage(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    static const char other[] = "PESpin-like loader of another version than 1.1: not unpacked",
                      layer2[] = "PESpin-packed, but its loader's second layer does not decrypt",
                      layer3[] = "PESpin-packed, but its loader's third layer does not decrypt",
                      layer4[] = "PESpin-packed, but its loader's fourth layer does not decrypt",
                      unknown[] = "PESpin-packed, but its section decryptor has an unknown "
                                  "instruction",
                      section[] = "PESpin-packed, but a compressed section is damaged or "
                                  "truncated";
    static const struct {
        size_t at;
        uint8_t x;
        const char *detail;
        int parts;
    } damage[] = {
        {EP + 0xdb, 0x01, other, 0},    /* mov ebx */
        {EP + 0xe1, 0x01, other, 0},    /* layer A's length */
        {EP + 0x26f0, 0x01, layer2, 0}, /* in A: B's length */
        {EP + 0x644, 0x80, layer3, 0},  /* in B: C's length */
        {EP + 0x28dd, 0x01, layer4, 0}, /* in C: D's length */
        /* D's routine: a byte of `add al, imm8` at 0x28ec+2 is only a constant, the opcode is
         * not */
        {EP + 0x28ec, 0x40, layer4, 0},
        {EP + 0x755, 0x21, unknown, 1}, /* in D: the sections' routine */
        /* the file key (not encrypted): the compressed section decrypts to garbage */
        {EP + 0x3217, 0x01, section, 1},
        {0xa10, 0xff, section, 1}, /* a byte of the compressed section itself */
    };
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++)
        expect_damage(buf, damage[i].at, damage[i].x, damage[i].detail, damage[i].parts);
    /* the section table (at 0x1c0): sections overlapping in the file, in the image,
     * or an image past 64 MiB; nothing is decrypted, nothing handed out */
    size_t t = 0x1c0;
    uint8_t save[40 * 5];
    memcpy(save, buf + t, sizeof(save));
    khi_put_le32(buf + t + 16, 0x3c00); /* section 0's data covers the others' */
    expect_damage(buf, 0, 0, "PESpin-packed, but its sections overlap", 0);
    memcpy(buf + t, save, sizeof(save));
    khi_put_le32(buf + t + 40 + 12, 0x1800); /* section 1 starts inside section 0 */
    expect_damage(buf, 0, 0, "PESpin-packed, but its sections overlap", 0);
    memcpy(buf + t, save, sizeof(save));
    khi_put_le32(buf + t + 3 * 40 + 8, 0x7ffff000u); /* section 3's virtual size */
    expect_damage(buf, 0, 0, "PESpin-packed, but its image is empty or larger than 64 MiB", 0);
    memcpy(buf + t, save, sizeof(save));
    /* the password option */
    uint8_t *flags = buf + EP + 0x1e1;
    uint32_t keep = khi_le32(flags);
    khi_put_le32(flags, keep | 0x200000u);
    collect c = pespin;
    assert_int_equal(collect_walk(buf, len, &c), KH_OK);
    khi_put_le32(flags, keep);
    assert_int_equal(c.warnings, 1);
    assert_string_equal(c.detail,
                        "PESpin-packed with a password: its sections do not decrypt without it");
    /* the flag is part of the file's checksum: the key is wrong now, the image garbage */
    assert_int_equal(c.parts, 1);
    assert_memory_not_equal(c.last + CLAM_AT, clam, sizeof(clam));
    free(c.last);
    /* every byte of the loader's data, flipped: never a crash, at most one part */
    for (size_t at = EP + 0xd0; at < EP + 0x321b; at += 11) {
        uint8_t k = buf[at];
        buf[at] = (uint8_t)~k;
        c.last = NULL;
        assert_int_equal(collect_walk(buf, len, &c), KH_OK);
        assert_true(c.parts <= 1 && c.warnings <= 1);
        free(c.last);
        buf[at] = k;
    }
}

/* The loader's file checksum, written here from the description in fmt_pespin.c. */
static uint32_t spin_sum(const uint8_t *p, size_t n)
{
    uint32_t a = 0xffffffffu, b = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        a = ((a ^ (uint32_t)p[i] << 8) >> 3) & 0x1fffffffu;
        for (int r = 0; r < 4; r++) {
            a = ((a ^ (b >> 8 & 0xff)) + 0x7801a108u) ^ b;
            unsigned k = b & 31;
            a = k ? a >> k | a << (32 - k) : a;
            uint32_t t = a;
            a = b;
            b = t;
        }
    }
    return b;
}

/* A first section grown past 64 KiB (its original bytes, then filler; the size the same modulo
 * 256, so CL runs the same; the others moved up) goes through the table of the section routine: its
 * first 0x200 bytes come out as the sample's; the file key is re-signed for the grown file (the
 * dword holding it lies in the last 0x163 bytes, which the checksum leaves out) */
static void test_unpack_pespin_big_section(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    const size_t grow = 0x11000, n = len + grow;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    memcpy(big, buf, 0x600);                              /* headers, section 0 */
    memset(big + 0x600, 0x5a, grow);                      /* its filler */
    memcpy(big + 0x600 + grow, buf + 0x600, len - 0x600); /* sections 1 to 4 */
    khi_pe pe;
    assert_true(khi_pe_parse(buf, len, &pe));
    uint8_t *table = big + pe.sect_off;
    khi_put_le32(table + 8, 0x1000 + (uint32_t)grow); /* the others move up in both spaces */
    khi_put_le32(table + 16, 0x200 + (uint32_t)grow);
    for (unsigned i = 1; i < pe.nsections; i++) {
        khi_put_le32(table + i * 40 + 12, pe.sect[i].va + (uint32_t)grow);
        khi_put_le32(table + i * 40 + 20, pe.sect[i].raw_off + (uint32_t)grow);
    }
    khi_put_le32(big + pe.pe_off + 24 + 16, pe.ep_rva + (uint32_t)grow);
    uint32_t skip = 0x163; /* the loader's dword at +0x429 (in its second layer) */
    uint32_t key = khi_le32(buf + EP + 0x3217) - spin_sum(buf, len - skip);
    uint8_t *dword = big + EP + grow + 0x3217;
    assert_true(dword + 4 <= big + n && dword >= big + n - skip);
    khi_put_le32(dword, key + spin_sum(big, n - skip));
    collect c = pespin, o = pespin;
    assert_int_equal(collect_walk(buf, len, &o), KH_OK);
    assert_int_equal(collect_walk(big, n, &c), KH_OK);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.last_len, o.last_len + grow);
    assert_memory_equal(c.last + KHI_PE_REBUILT_HDR, o.last + KHI_PE_REBUILT_HDR, 0x200);
    assert_memory_equal(c.last + CLAM_AT + grow, clam, sizeof(clam));
    free(c.last);
    free(o.last);
    free(big);
}

/* Write v as the decrypted dword at +at in the loader's first layer (XORed with a byte key
 * counting down from its last byte at +0x1fe5+0x11fd), then re-sign d's file key so that it
 * is the sample's again. */
static void put_layer_a(uint8_t *d, size_t at, uint32_t v)
{
    uint32_t skip = 0x163, key = khi_le32(buf + EP + 0x3217) - spin_sum(buf, len - skip);
    for (size_t b = 0; b < 4; b++) {
        size_t i = at + b - 0x1fe5;
        d[EP + at + b] = (uint8_t)(v >> (8 * b)) ^ (uint8_t)(d[EP + 0xdc] - (0x11fd - i));
    }
    khi_put_le32(d + EP + 0x3217, key + spin_sum(d, len - skip));
}

/* resources: from the RVA at +0x2fee on, an uncompressed section's rest is aPLib ("ababa"
 * here, in .rsrc, which the loader neither decrypts nor decompresses), zeros after it; a
 * stream that does not decode leaves the bytes as they are */
static void test_unpack_pespin_resources(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    uint8_t *d = malloc(len);
    assert_non_null(d);
    memcpy(d, buf, len);
    memcpy(d + 0x810,
           "a\x6c"
           "b\x05\x00",
           5);
    put_layer_a(d, 0x2fee, 0x3010);
    collect c = pespin;
    assert_int_equal(collect_walk(d, len, &c), KH_OK);
    assert_int_equal(c.warnings, 0);
    assert_int_equal(c.parts, 1);
    const uint8_t *rsrc = c.last + KHI_PE_REBUILT_HDR + 0x2000;
    assert_memory_equal(rsrc, buf + 0x800, 0x10);
    assert_memory_equal(rsrc + 0x10, "ababa", 5);
    for (size_t i = 0x15; i < 0x1000; i++)
        assert_int_equal(rsrc[i], 0);
    assert_memory_equal(c.last + CLAM_AT, clam, sizeof(clam));
    /* not a stream (a match before the start): the section as it was */
    memcpy(d + 0x810, "a\xc0\x0a", 3);
    put_layer_a(d, 0x2fee, 0x3010);
    assert_int_equal(collect_walk(d, len, &c), KH_OK);
    assert_int_equal(c.warnings, 0);
    rsrc = c.last + KHI_PE_REBUILT_HDR + 0x2000;
    assert_memory_equal(rsrc + 0x10, "a\xc0\x0a", 3);
    assert_memory_equal(rsrc, d + 0x800, 0x200);
    /* past the section's raw data, or nowhere: nothing is done */
    put_layer_a(d, 0x2fee, 0x3300);
    assert_int_equal(collect_walk(d, len, &c), KH_OK);
    assert_int_equal(c.warnings, 0);
    put_layer_a(d, 0x2fee, 0x7fff0000);
    assert_int_equal(collect_walk(d, len, &c), KH_OK);
    assert_int_equal(c.warnings, 0);
    free(c.last);
    free(d);
}

/* a callback asking to stop: KH_ECANCELED, from the part and from a warning */
static void test_unpack_pespin_stop(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    collect c = pespin;
    c.stop = 1;
    assert_int_equal(collect_walk(buf, len, &c), KH_ECANCELED);
    assert_int_equal(c.parts, 1);
    buf[0xa10] ^= 0xff;
    assert_int_equal(collect_walk(buf, len, &c), KH_ECANCELED);
    buf[0xa10] ^= 0xff;
    assert_int_equal(c.parts, 0); /* the warning came first and stopped it */
    assert_int_equal(c.warnings, 1);
    free(c.last);
}

/* every allocation failure is KH_ENOMEM, until there are enough: the copy, the image, the
 * output; a callback asking to stop: KH_ECANCELED */
static void test_unpack_pespin_enomem(void **state)
{
    (void)state;
    if (len != sizeof(buf))
        skip();
    assert_int_equal(unpack_fail_paths(buf, len), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unpack_pespin_detect),
        cmocka_unit_test(test_unpack_pespin_sample),
        cmocka_unit_test(test_unpack_pespin_cuts),
        cmocka_unit_test(test_unpack_pespin_damage),
        cmocka_unit_test(test_unpack_pespin_big_section),
        cmocka_unit_test(test_unpack_pespin_stop),
        cmocka_unit_test(test_unpack_pespin_enomem),
        cmocka_unit_test(test_unpack_pespin_resources),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
