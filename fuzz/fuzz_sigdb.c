/*
 * fuzz_sigdb.c - signature database files (.ndb .hdb .hsb .fp .sfp .ign2) from untrusted text.
 *
 * Databases come from mirrors, third parties and users' own directories, so every line parser
 * in lib/sigdb, the ignore-list pass and the matcher compile in lib/match must survive any
 * bytes. The first input byte picks the format, the rest is the file content given to
 * kh_engine_load_mem; the engine is then compiled (KH_ENOSIGS is fine, any other failure is a
 * finding) and, when it compiled, a scanner runs it over two small fixed buffers so that the
 * offset and target checks of whatever loaded are executed too. Allow-lists and ignore lists
 * alone never make a usable engine, so for those formats a fixed base database (names
 * Base.Body and Base.Hash) is loaded first. A diagnostics callback is set so that every
 * message a rejected line produces is formatted. No cache directory is used.
 */
#include <khien/khien.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"fuzz.ndb", "fuzz.hdb", "fuzz.hsb",
                                    "fuzz.fp",  "fuzz.sfp", "fuzz.ign2"};

static const char base_ndb[] = "Base.Body:0:*:4142434445464748\n";
static const char base_hdb[] = "44d88612fea8a8f36de82e1278abb02f:68:Base.Hash\n";

static size_t sink; /* keeps the diagnostics' reads from being optimised out */

static void on_diag(void *ud, kh_diag_level level, const char *file, unsigned line,
                    const char *msg)
{
    sink += strlen(msg) + (file ? strlen(file) : 0) + line + (unsigned)level;
}

static int on_event(void *ud, const kh_event *ev)
{
    sink += strlen(ev->object) + strlen(ev->name) + (ev->detail ? strlen(ev->detail) : 0);
    return 0;
}

static uint8_t bytes[1024]; /* every byte value, then a text tail */
static const char text[] = "MZ\x90\0ABCDEFGH EVIL-PAYLOAD %PDF-1.4 \x7f" "ELF 0123456789abcdef";

static void scan(kh_scanner *sc, const void *buf, size_t len)
{
    kh_scan_result res;
    kh_err err = kh_scan_mem(sc, buf, len, "buf", on_event, NULL, &res);
    if (err != KH_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned fmt = data[0] % (sizeof(names) / sizeof(names[0]));
    kh_engine_opts eo;
    kh_engine_opts_default(&eo);
    eo.diag = on_diag;
    kh_engine *e = NULL;
    kh_scanner *sc = NULL;
    if (kh_engine_create(&eo, &e) != KH_OK)
        abort();
    if (fmt >= 3 && (kh_engine_load_mem(e, "base.ndb", base_ndb, sizeof(base_ndb) - 1) != KH_OK ||
                     kh_engine_load_mem(e, "base.hdb", base_hdb, sizeof(base_hdb) - 1) != KH_OK))
        abort();
    /* a copy of exactly the file's size, so that ASan sees any read past its end */
    size_t len = size - 1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, data + 1, len);
    if (kh_engine_load_mem(e, names[fmt], copy, len) != KH_OK)
        abort();
    free(copy);
    kh_err err = kh_engine_compile(e);
    if (err == KH_ENOSIGS)
        goto out;
    if (err != KH_OK)
        abort();
    kh_scan_opts so;
    kh_scan_opts_default(&so);
    so.flags = KH_SCAN_ALLMATCH | KH_SCAN_NO_ARCHIVE;
    if (kh_scanner_create(e, &so, &sc) != KH_OK)
        abort();
    if (!bytes[1])
        for (size_t i = 0; i < sizeof(bytes); i++)
            bytes[i] = i < 256 ? (uint8_t)i : (uint8_t)text[i % (sizeof(text) - 1)];
    scan(sc, bytes, sizeof(bytes));
    scan(sc, text, sizeof(text) - 1);
out:
    kh_scanner_destroy(sc);
    kh_engine_release(e);
    return 0;
}
