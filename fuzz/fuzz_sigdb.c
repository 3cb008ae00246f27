/*
 * fuzz_sigdb.c - signature databases (.ndb .hdb .hsb .fp .sfp .ign2 .yar .cvd .ldb .mdb .msb)
 * from untrusted bytes.
 *
 * Databases come from mirrors, third parties and users' own directories, so every parser in
 * lib/sigdb (the line formats, logical signatures, the YARA recogniser and hex translator, the
 * .cvd container), the ignore-list pass and the matcher compile in lib/match must survive any
 * bytes. The first input byte picks the format (modulo 16, then modulo the 11 formats, so the
 * digits '0'..'9' and ':' name them in the order above), the rest is the file content given to
 * kh_engine_load_mem; the engine is then compiled (KH_ENOSIGS is fine,
 * any other failure is a finding) and, when it compiled, a scanner runs it over two small
 * buffers and a small PE32 (so that offsets relative to its entry point and sections, and
 * .mdb/.msb section hashes, are checked) in block mode and over a file a little over 1 MiB in
 * stream mode (the same PE at its start), so that the offset, target and allow-list logic of
 * whatever loaded runs in both matchers. Allow-lists and ignore
 * lists alone never make a usable engine, so for those formats a fixed base database (names
 * Base.Body and Base.Hash) is loaded first. A diagnostics callback is set so that every
 * message a rejected line produces is formatted. No cache directory and no trust directory are
 * used. Compiled YARA rules (.yarc) are left out: libyara documents them as trusted input.
 */
#include <khien/khien.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"fuzz.ndb", "fuzz.hdb",  "fuzz.hsb", "fuzz.fp", "fuzz.sfp",
                                    "fuzz.ign2", "fuzz.yar", "fuzz.cvd", "fuzz.ldb", "fuzz.mdb",
                                    "fuzz.msb"};
#define NFORMATS (sizeof(names) / sizeof(names[0]))

static const char base_ndb[] = "Base.Body:0:*:4142434445464748\n";
static const char base_hdb[] = "44d88612fea8a8f36de82e1278abb02f:68:Base.Hash\n";

static size_t sink; /* keeps the reads below from being optimised out */

static void on_diag(void *ud, kh_diag_level level, const char *file, unsigned line,
                    const char *msg)
{
    sink += strlen(msg) + (file ? strlen(file) : 0) + line + (unsigned)level;
}

static int on_event(void *ud, const kh_event *ev)
{
    sink += strlen(ev->object) + strlen(ev->name) + (ev->detail ? strlen(ev->detail) : 0);
    for (size_t i = 0; i < ev->nmeta; i++)
        sink += strlen(ev->meta[i].key) + strlen(ev->meta[i].value);
    return 0;
}

static uint8_t bytes[1024]; /* every byte value, then a text tail */
static const char text[] = "MZ\x90\0ABCDEFGH EVIL-PAYLOAD %PDF-1.4 \x7f" "ELF 0123456789abcdef";
#define BIG_SIZE ((1u << 20) + 4096) /* past READ_WHOLE_MAX: scanned in chunks, stream mode */
static int big_fd = -1;
#define PE_SIZE 0x800
static uint8_t pe[PE_SIZE];

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A PE32: headers 0x200, three sections of 0x200 bytes at 0x200, 0x400, 0x600 (VA 0x1000,
 * 0x2000, 0x3000), entry point RVA 0x1010; the sections hold the byte values and text. */
static void make_pe(void)
{
    memcpy(pe + 0x200, bytes, sizeof(bytes));
    memcpy(pe + 0x200 + sizeof(bytes), bytes, PE_SIZE - 0x200 - sizeof(bytes));
    pe[0] = 'M';
    pe[1] = 'Z';
    put32(pe + 0x3c, 0x40);
    memcpy(pe + 0x40, "PE\0\0", 4);
    pe[0x44] = 0x4c;
    pe[0x45] = 0x01;
    pe[0x46] = 3;
    pe[0x54] = 224;
    pe[0x56] = 0x02;
    uint8_t *opt = pe + 0x58;
    opt[0] = 0x0b;
    opt[1] = 0x01;
    put32(opt + 16, 0x1010);
    put32(opt + 32, 0x1000);
    put32(opt + 36, 0x200);
    put32(opt + 56, 0x4000);
    put32(opt + 60, 0x200);
    for (uint32_t i = 0; i < 3; i++) {
        uint8_t *sh = opt + 224 + 40 * i;
        memcpy(sh, ".sect", 5);
        sh[5] = (uint8_t)('0' + i);
        put32(sh + 8, 0x200);
        put32(sh + 12, 0x1000 * (i + 1));
        put32(sh + 16, 0x200);
        put32(sh + 20, 0x200 * (i + 1));
    }
}

static void setup(void)
{
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = i < 256 ? (uint8_t)i : (uint8_t)text[i % (sizeof(text) - 1)];
    /* bytes at the start, text across the 1 MiB chunk boundary, bytes again at the end */
    uint8_t *big = calloc(1, BIG_SIZE);
    if (!big)
        abort();
    make_pe();
    memcpy(big, pe, sizeof(pe));
    memcpy(big + (1u << 20) - 20, text, sizeof(text) - 1);
    memcpy(big + BIG_SIZE - sizeof(bytes), bytes, sizeof(bytes));
    big_fd = memfd_create("fuzz_sigdb", MFD_CLOEXEC);
    if (big_fd < 0 || write(big_fd, big, BIG_SIZE) != (ssize_t)BIG_SIZE)
        abort();
    free(big);
}

static void check(kh_err err, const kh_scan_result *res)
{
    if (err != KH_OK || res->verdict == KH_VERDICT_ERROR) {
        fprintf(stderr, "fuzz_sigdb: scan failed: %s (%s)\n", kh_strerror(err), res->error);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (big_fd < 0)
        setup();
    unsigned fmt = (data[0] % 16u) % NFORMATS;
    kh_engine_opts eo;
    kh_engine_opts_default(&eo);
    eo.diag = on_diag;
    kh_engine *e = NULL;
    kh_scanner *sc = NULL;
    if (kh_engine_create(&eo, &e) != KH_OK)
        abort();
    if (fmt >= 3 && fmt <= 5 &&
        (kh_engine_load_mem(e, "base.ndb", base_ndb, sizeof(base_ndb) - 1) != KH_OK ||
         kh_engine_load_mem(e, "base.hdb", base_hdb, sizeof(base_hdb) - 1) != KH_OK))
        abort();
    /* a copy of exactly the file's size, so that ASan sees any read past its end */
    size_t len = size - 1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, data + 1, len);
    kh_err err = kh_engine_load_mem(e, names[fmt], copy, len);
    free(copy);
    if (err == KH_ENOMEM || err == KH_EINVAL || err == KH_ESTATE) /* else: a .cvd refused */
        abort();
    err = kh_engine_compile(e);
    if (err == KH_ENOSIGS)
        goto out;
    if (err != KH_OK) {
        fprintf(stderr, "fuzz_sigdb: compile failed: %s\n", kh_strerror(err));
        abort();
    }
    kh_scan_opts so;
    kh_scan_opts_default(&so);
    so.flags = KH_SCAN_ALLMATCH | KH_SCAN_NO_ARCHIVE;
    if (kh_scanner_create(e, &so, &sc) != KH_OK)
        abort();
    kh_scan_result res;
    check(kh_scan_mem(sc, bytes, sizeof(bytes), "bytes", on_event, NULL, &res), &res);
    check(kh_scan_mem(sc, text, sizeof(text) - 1, "text", on_event, NULL, &res), &res);
    check(kh_scan_mem(sc, pe, sizeof(pe), "pe", on_event, NULL, &res), &res);
    check(kh_scan_fd(sc, big_fd, "big", on_event, NULL, &res), &res);
out:
    kh_scanner_destroy(sc);
    kh_engine_release(e);
    return 0;
}
