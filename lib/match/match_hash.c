/*
 * match_hash.c - whole-object hash signatures with a size pre-filter.
 *
 * Hashing is the expensive part, not the look-up, so the first question is whether an object
 * of this size could match anything at all: a hash set of the sizes named by signatures (per
 * digest type) answers it in one probe, and only when it says yes is the object hashed, with
 * only the digest types that could match. Signatures of any size ("*", from .hsb) switch the
 * filter off for their type. The digests themselves go into open-addressing tables keyed by
 * their first eight bytes, which are already uniformly distributed.
 */
#include "match/match.h"

#include <openssl/evp.h>
#include <string.h>

#define EMPTY_SIZE UINT64_MAX
#define EMPTY_IDX UINT32_MAX

typedef struct size_set {
    uint64_t *slots; /* EMPTY_SIZE = free */
    size_t mask;
    int any; /* a "*" size signature exists */
} size_set;

typedef struct digest_table {
    uint32_t *slots; /* index into sigs, EMPTY_IDX = free */
    size_t mask;
    size_t count;
} digest_table;

struct khi_hashmatch {
    khi_hashsig *sigs;
    size_t nsigs;
    size_set sizes[KHI_HASH_TYPES];
    digest_table tables[2][KHI_HASH_TYPES]; /* [is_fp][type] */
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t digest_key(const uint8_t *d)
{
    uint64_t k;
    memcpy(&k, d, sizeof(k));
    return k;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

static void size_set_add(size_set *s, uint64_t size)
{
    size_t i = (size_t)mix64(size) & s->mask;
    while (s->slots[i] != EMPTY_SIZE && s->slots[i] != size)
        i = (i + 1) & s->mask;
    s->slots[i] = size;
}

static int size_set_has(const size_set *s, uint64_t size)
{
    if (!s->slots)
        return 0;
    size_t i = (size_t)mix64(size) & s->mask;
    while (s->slots[i] != EMPTY_SIZE) {
        if (s->slots[i] == size)
            return 1;
        i = (i + 1) & s->mask;
    }
    return 0;
}

void khi_hashmatch_destroy(khi_hashmatch *m)
{
    if (!m)
        return;
    for (int t = 0; t < KHI_HASH_TYPES; t++) {
        khi_free(m->sizes[t].slots);
        khi_free(m->tables[0][t].slots);
        khi_free(m->tables[1][t].slots);
    }
    khi_free(m->sigs);
    khi_free(m);
}

kh_err khi_hashmatch_create(const khi_hashsig *sigs, size_t n, khi_hashmatch **out)
{
    kh_err err = KH_OK;
    size_t count_size[KHI_HASH_TYPES] = {0};
    khi_hashmatch *m = khi_calloc(1, sizeof(*m));
    if (!m)
        return KH_ENOMEM;
    m->sigs = khi_reallocarray(NULL, n ? n : 1, sizeof(*m->sigs));
    if (!m->sigs) {
        err = KH_ENOMEM;
        goto out;
    }
    if (n)
        memcpy(m->sigs, sigs, n * sizeof(*sigs));
    m->nsigs = n;
    for (size_t i = 0; i < n; i++) {
        m->tables[sigs[i].is_fp][sigs[i].type].count++;
        if (sigs[i].size == KHI_SIZE_ANY)
            m->sizes[sigs[i].type].any = 1;
        else
            count_size[sigs[i].type]++;
    }
    for (int t = 0; t < KHI_HASH_TYPES; t++) {
        if (count_size[t]) {
            size_t cap = pow2_at_least(count_size[t] * 2);
            m->sizes[t].slots = khi_reallocarray(NULL, cap, sizeof(uint64_t));
            if (!m->sizes[t].slots) {
                err = KH_ENOMEM;
                goto out;
            }
            memset(m->sizes[t].slots, 0xff, cap * sizeof(uint64_t));
            m->sizes[t].mask = cap - 1;
        }
        for (int fp = 0; fp < 2; fp++) {
            digest_table *dt = &m->tables[fp][t];
            if (!dt->count)
                continue;
            size_t cap = pow2_at_least(dt->count * 2);
            dt->slots = khi_reallocarray(NULL, cap, sizeof(uint32_t));
            if (!dt->slots) {
                err = KH_ENOMEM;
                goto out;
            }
            memset(dt->slots, 0xff, cap * sizeof(uint32_t));
            dt->mask = cap - 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const khi_hashsig *s = &m->sigs[i];
        if (s->size != KHI_SIZE_ANY)
            size_set_add(&m->sizes[s->type], s->size);
        digest_table *dt = &m->tables[s->is_fp][s->type];
        size_t j = (size_t)digest_key(s->digest) & dt->mask;
        while (dt->slots[j] != EMPTY_IDX)
            j = (j + 1) & dt->mask;
        dt->slots[j] = (uint32_t)i;
    }
    *out = m;
    m = NULL;
out:
    khi_hashmatch_destroy(m);
    return err;
}

unsigned khi_hashmatch_types_for_size(const khi_hashmatch *m, uint64_t size)
{
    unsigned mask = 0;
    for (int t = 0; t < KHI_HASH_TYPES; t++)
        if (m->sizes[t].any || size_set_has(&m->sizes[t], size))
            mask |= 1u << t;
    return mask;
}

const khi_hashsig *khi_hashmatch_find(const khi_hashmatch *m, int fp, unsigned type,
                                      const uint8_t *digest, uint64_t size)
{
    const digest_table *dt = &m->tables[fp ? 1 : 0][type];
    if (!dt->slots)
        return NULL;
    size_t dlen = khi_digest_len(type);
    size_t j = (size_t)digest_key(digest) & dt->mask;
    while (dt->slots[j] != EMPTY_IDX) {
        const khi_hashsig *s = &m->sigs[dt->slots[j]];
        if ((s->size == size || s->size == KHI_SIZE_ANY) && memcmp(s->digest, digest, dlen) == 0)
            return s;
        j = (j + 1) & dt->mask;
    }
    return NULL;
}

int khi_hashmatch_has_fp(const khi_hashmatch *m)
{
    for (int t = 0; t < KHI_HASH_TYPES; t++)
        if (m->tables[1][t].count)
            return 1;
    return 0;
}

static const EVP_MD *md_of(unsigned type)
{
    switch (type) {
    case KHI_HASH_MD5:
        return EVP_md5();
    case KHI_HASH_SHA1:
        return EVP_sha1();
    case KHI_HASH_SHA256:
        return EVP_sha256();
    default:
        return NULL;
    }
}

kh_err khi_digests_init(khi_digests *d, unsigned types)
{
    memset(d, 0, sizeof(*d));
    d->types = types;
    for (unsigned t = 0; t < KHI_HASH_TYPES; t++) {
        if (!(types & (1u << t)))
            continue;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        d->ctx[t] = c;
        if (!c)
            return KH_ENOMEM;
        if (EVP_DigestInit_ex(c, md_of(t), NULL) != 1)
            return KH_ECRYPTO;
    }
    return KH_OK;
}

kh_err khi_digests_update(khi_digests *d, const void *data, size_t len)
{
    for (unsigned t = 0; t < KHI_HASH_TYPES; t++)
        if (d->ctx[t] && EVP_DigestUpdate(d->ctx[t], data, len) != 1)
            return KH_ECRYPTO;
    return KH_OK;
}

kh_err khi_digests_final(khi_digests *d, uint8_t out[KHI_HASH_TYPES][32])
{
    for (unsigned t = 0; t < KHI_HASH_TYPES; t++) {
        unsigned olen = 0;
        if (d->ctx[t] && EVP_DigestFinal_ex(d->ctx[t], out[t], &olen) != 1)
            return KH_ECRYPTO;
    }
    return KH_OK;
}

void khi_digests_cleanup(khi_digests *d)
{
    for (unsigned t = 0; t < KHI_HASH_TYPES; t++)
        EVP_MD_CTX_free(d->ctx[t]);
    memset(d, 0, sizeof(*d));
}

size_t khi_digest_len(unsigned type)
{
    static const size_t lens[KHI_HASH_TYPES] = {16, 20, 32};
    return type < KHI_HASH_TYPES ? lens[type] : 0;
}

kh_err khi_digest(unsigned type, const void *data, size_t len, uint8_t *out)
{
    const EVP_MD *md = md_of(type);
    if (!md)
        return KH_EINVAL;
    unsigned int olen = 0;
    if (EVP_Digest(data, len, out, &olen, md, NULL) != 1)
        return KH_ECRYPTO;
    return KH_OK;
}
