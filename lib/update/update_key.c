/*
 * update_key.c - publisher keys: Ed25519 key pairs (libsodium) and the trust directory.
 *
 * NAME.key holds the secret key (mode 0600) and never leaves the publisher; NAME.pub holds the
 * public key and goes into every client's trust directory. A key is named in manifests by its
 * id, the first 8 bytes of the SHA-256 of the public key, so a client finds the right public
 * key without trying them all, and a package signed by a key it does not hold is refused with
 * that id in the message.
 */
#include "update/update_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kh_err khi_init_sodium(void)
{
    return sodium_init() < 0 ? KH_ECRYPTO : KH_OK;
}

void khi_key_id(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], char out[17])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, crypto_sign_PUBLICKEYBYTES);
    khi_hex_encode(h, 8, out);
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 60)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return name[0] != '.';
}

static kh_err write_new(const char *path, const char *text, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return khi_errno_to_kh(errno);
    size_t n = strlen(text);
    kh_err err = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 ? KH_OK : KH_EIO;
    close(fd);
    if (err != KH_OK)
        unlink(path);
    return err;
}

kh_err kh_key_generate(const char *dir, const char *name, char *errbuf, size_t errbuf_len)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char skhex[2 * crypto_sign_SECRETKEYBYTES + 1], pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    char id[17], path[4096], text[512];
    if (!dir || !name)
        return KH_EINVAL;
    if (!name_ok(name)) {
        khi_snprintf(errbuf, errbuf_len, "key name '%s': use letters, digits, '-', '_' and '.'", name);
        return KH_EINVAL;
    }
    if (khi_init_sodium() != KH_OK)
        return KH_ECRYPTO;
    kh_err err = khi_mkdir_p(dir, 0700);
    if (err != KH_OK) {
        khi_snprintf(errbuf, errbuf_len, "%s: %s", dir, kh_strerror(err));
        return err;
    }
    crypto_sign_keypair(pk, sk);
    khi_hex_encode(sk, sizeof(sk), skhex);
    khi_hex_encode(pk, sizeof(pk), pkhex);
    khi_key_id(pk, id);
    khi_snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    khi_snprintf(text, sizeof(text), "khien-ed25519-secret-key\nname=%s\nid=%s\nsecret=%s\n", name,
                 id, skhex);
    err = write_new(path, text, 0600);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(skhex, sizeof(skhex));
    sodium_memzero(text, sizeof(text));
    if (err != KH_OK) {
        khi_snprintf(errbuf, errbuf_len, "%s: %s", path,
                     err == KH_EEXIST ? "exists already; not overwritten" : kh_strerror(err));
        return err;
    }
    khi_snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
    khi_snprintf(text, sizeof(text), "khien-ed25519-public-key\nname=%s\nid=%s\npublic=%s\n", name,
                 id, pkhex);
    err = write_new(path, text, 0644);
    if (err != KH_OK)
        khi_snprintf(errbuf, errbuf_len, "%s: %s", path,
                     err == KH_EEXIST ? "exists already; not overwritten" : kh_strerror(err));
    return err;
}

/* "key=value" on its own line of text, copied into out. */
static int field(const char *text, const char *key, char *out, size_t out_len)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t vl = strcspn(v, "\r\n");
            if (vl >= out_len)
                return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

kh_err khi_seckey_load(const char *path, khi_seckey *out, char *err, size_t err_len)
{
    char *text = NULL, hex[2 * crypto_sign_SECRETKEYBYTES + 8];
    size_t len = 0;
    kh_err e = khi_file_read_all(path, 4096, &text, &len, err, err_len);
    if (e != KH_OK)
        return e;
    memset(out, 0, sizeof(*out));
    if (strncmp(text, "khien-ed25519-secret-key\n", 25) != 0 ||
        field(text, "name", out->name, sizeof(out->name)) != 0 || field(text, "secret", hex, sizeof(hex)) != 0 ||
        strlen(hex) != 2 * crypto_sign_SECRETKEYBYTES ||
        khi_hex_decode(hex, crypto_sign_SECRETKEYBYTES, out->sk) != 0) {
        khi_snprintf(err, err_len, "%s: not a Khiên secret key (see 'khien db keygen')", path);
        e = KH_EFORMAT;
    } else {
        crypto_sign_ed25519_sk_to_pk(out->pk, out->sk);
        khi_key_id(out->pk, out->key_id);
    }
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(text, len);
    khi_free(text);
    return e;
}

kh_err khi_trust_find(const char *dir, const char *key_id, uint8_t pk[crypto_sign_PUBLICKEYBYTES],
                      char name[64])
{
    if (!dir)
        return KH_ENOENT;
    DIR *d = opendir(dir);
    if (!d)
        return KH_ENOENT;
    kh_err found = KH_ENOENT;
    struct dirent *de;
    while (found != KH_OK && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".pub") != 0)
            continue;
        char path[4096], *text = NULL, hex[2 * crypto_sign_PUBLICKEYBYTES + 8];
        size_t tl = 0;
        khi_snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (khi_file_read_all(path, 4096, &text, &tl, NULL, 0) != KH_OK)
            continue;
        uint8_t k[crypto_sign_PUBLICKEYBYTES];
        char id[17];
        if (strncmp(text, "khien-ed25519-public-key\n", 25) == 0 &&
            field(text, "public", hex, sizeof(hex)) == 0 && strlen(hex) == 2 * sizeof(k) &&
            khi_hex_decode(hex, sizeof(k), k) == 0) {
            khi_key_id(k, id);
            if (strcmp(id, key_id) == 0) {
                memcpy(pk, k, sizeof(k));
                if (field(text, "name", name, 64) != 0)
                    khi_snprintf(name, 64, "%s", de->d_name);
                found = KH_OK;
            }
        }
        khi_free(text);
    }
    closedir(d);
    return found;
}
