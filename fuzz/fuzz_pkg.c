/*
 * fuzz_pkg.c - signature packages and deltas as a mirror could serve them.
 *
 * kh_pkg_verify reads a tar.gz, a JSON manifest, a signature, member names and sizes, and
 * delta.json before any signature file is trusted. The input is written to a file and verified
 * against a trust directory holding one real key; the seeds are real packages and deltas signed
 * with that key (fuzz/corpus/pkg/, made by make_pkg_seeds.sh), so mutations reach past the
 * signature check into member checking only where the fuzzer keeps the manifest intact. Any
 * result is fine; a crash, leak or hang is a finding.
 */
#include <khien/khien.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], trust[128], path[128];

static void setup(void)
{
    if (dir[0])
        return;
    snprintf(dir, sizeof(dir), "/tmp/khien-fuzz-pkg-%ld", (long)getpid());
    snprintf(trust, sizeof(trust), "%s/trust", dir);
    snprintf(path, sizeof(path), "%s/in.kpkg", dir);
    char cmd[512], here[4096] = ".";
    const char *src = getenv("KH_FUZZ_PKG_KEY"); /* the public key the seeds are signed with */
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s/ 2>/dev/null", trust,
             src ? src : "fuzz/keys/fuzz.pub", trust);
    if (system(cmd) != 0 && getcwd(here, sizeof(here)))
        fprintf(stderr, "fuzz_pkg: no key (set KH_FUZZ_PKG_KEY); signatures will not verify\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[512];
    kh_pkg_info info;
    kh_pkg_verify(path, trust, &info, err, sizeof(err));
    return 0;
}
