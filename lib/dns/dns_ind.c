/*
 * dns_ind.c - indicator sets: domains (matched exactly or by parent domain), IP and URL
 * indicators, families and the allow-list, in one compact hash table.
 *
 * Every entry is stored once in a growing pool as [len u8][name], no NUL: the length byte is
 * the only per-name overhead, so the pool is the size of the list file (the byte of the
 * newline pays for it). What an entry is (its kind, block and allow flags, its family) lives
 * beside it in runs: one (pool offset, meta) pair wherever the meta changes from the entry
 * before, so a file of one family is one run. An entry whose meta changes after it was added
 * (a blocked name later allowed, or the reverse) gets an override in a small hash by offset.
 * Both are read only on a hit. The index is open addressing over 32-bit slots: pool offset + 1
 * in the low obits bits and the top bits of the name's hash as a tag above, so most probes that
 * miss never touch the pool; obits grows with the pool (the table is rebuilt from the pool),
 * and the slot count is not a power of two (the hash is mapped by multiply-shift), so after
 * each load the table is resized to a load of 0.7 whatever the count. Names are hashed right to
 * left (dns_int.h), which gives the hash of every parent of a query name in one pass; the
 * lookups for "a.b.evil.com", "b.evil.com", "evil.com" are then prefetched together. Parents
 * are taken only at label boundaries, so "michigan.org" never matches "higan.org". An allow
 * flag on the name or on any parent overrides a block. Two million bare names take their list
 * size in pool plus ~5.7 bytes a name of slots (1.3x the list); docs/internals/DNS.md.
 */
#include "dns/dns_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define F_KIND 0x03
#define F_BLOCK 0x04
#define F_ALLOW 0x08
#define MAX_ENTRIES (1u << 31)
#define MAX_LIST_BYTES ((size_t)4 << 30)
/* Slots hold offset+1 in at most 31 bits: the pool stays below 2 GiB (~100M names). */
#define MAX_OBITS 31
#define MIN_OBITS 16
/* Load factors: the table grows (x2) past GROW_LOAD while loading, and is fitted to
 * FINAL_LOAD once a load is done. In percent. */
#define GROW_LOAD 80
#define FINAL_LOAD 70
#define MIN_SLOTS 1024

/* meta of an entry: family in the low 16 bits, flags (F_*) above */
#define META(fam, flags) ((uint32_t)(fam) | ((uint32_t)(flags) << 16))
#define META_FAM(m) ((uint16_t)((m) & 0xffff))
#define META_FLAGS(m) ((unsigned)((m) >> 16))

typedef struct ind_run {
    uint32_t start; /* pool offset of the first entry of the run */
    uint32_t meta;
} ind_run;

typedef struct ind_ovr {
    uint32_t off1; /* pool offset + 1; 0 = empty */
    uint32_t meta;
} ind_ovr;

struct kh_dns_indset {
    unsigned char *pool; /* [len u8][name] per entry */
    size_t pool_len, pool_cap;
    uint32_t *slots;     /* 0 empty, else (tag << obits) | (offset + 1) */
    size_t nslots, nused;
    unsigned obits;
    ind_run *runs;       /* by start, ascending */
    size_t nruns, runcap;
    ind_ovr *ovr;        /* open addressing by offset, power-of-two size (0 = none yet) */
    size_t novr, novrslots;
    char **fam;          /* family names, id 0 = "unknown" */
    size_t nfam, famcap;
    uint32_t *famslots;  /* open addressing: id+1, 0 empty */
    size_t nfamslots;
    int has_single;      /* some domain entry has a single label */
    kh_dns_indset_stats st;
};

static const char *const unknown_family = "unknown";

kh_err kh_dns_indset_create(kh_dns_indset **out_set)
{
    if (!out_set)
        return KH_EINVAL;
    *out_set = NULL;
    kh_dns_indset *s = khi_calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->nslots = MIN_SLOTS;
    s->obits = MIN_OBITS;
    s->slots = khi_calloc(s->nslots, sizeof(uint32_t));
    s->nfamslots = 256;
    s->famslots = khi_calloc(s->nfamslots, sizeof(uint32_t));
    s->famcap = 64;
    s->fam = khi_calloc(s->famcap, sizeof(char *));
    if (!s->slots || !s->famslots || !s->fam) {
        kh_dns_indset_destroy(s);
        return KH_ENOMEM;
    }
    s->fam[0] = NULL; /* "unknown" */
    s->nfam = 1;
    *out_set = s;
    return KH_OK;
}

void kh_dns_indset_destroy(kh_dns_indset *s)
{
    if (!s)
        return;
    if (s->fam)
        for (size_t i = 0; i < s->nfam; i++)
            khi_free(s->fam[i]);
    khi_free(s->fam);
    khi_free(s->famslots);
    khi_free(s->slots);
    khi_free(s->runs);
    khi_free(s->ovr);
    khi_free(s->pool);
    khi_free(s);
}

/* ---- families ---- */

static kh_err family_id(kh_dns_indset *s, const char *name, uint16_t *out_id)
{
    *out_id = 0;
    if (!name || !*name || strcmp(name, unknown_family) == 0)
        return KH_OK;
    size_t n = strlen(name);
    uint64_t h = khi_dns_hash(name, n);
    size_t mask = s->nfamslots - 1, i = h & mask;
    while (s->famslots[i]) {
        uint32_t id = s->famslots[i] - 1;
        if (strcmp(s->fam[id], name) == 0) {
            *out_id = (uint16_t)id;
            return KH_OK;
        }
        i = (i + 1) & mask;
    }
    if (s->nfam >= 65535)
        return KH_ELIMIT;
    if (s->nfam == s->famcap) {
        char **nf = khi_reallocarray(s->fam, s->famcap * 2, sizeof(char *));
        if (!nf)
            return KH_ENOMEM;
        s->fam = nf;
        s->famcap *= 2;
    }
    char *copy = khi_strdup(name);
    if (!copy)
        return KH_ENOMEM;
    s->fam[s->nfam] = copy;
    s->famslots[i] = (uint32_t)s->nfam + 1;
    *out_id = (uint16_t)s->nfam;
    s->nfam++;
    s->st.families = s->nfam - 1;
    if (s->nfam * 2 > s->nfamslots) {
        size_t nn = s->nfamslots * 2;
        uint32_t *ns = khi_calloc(nn, sizeof(uint32_t));
        if (!ns)
            return KH_OK; /* the table still works, only fuller */
        for (size_t id = 1; id < s->nfam; id++) {
            size_t j = khi_dns_hash(s->fam[id], strlen(s->fam[id])) & (nn - 1);
            while (ns[j])
                j = (j + 1) & (nn - 1);
            ns[j] = (uint32_t)id + 1;
        }
        khi_free(s->famslots);
        s->famslots = ns;
        s->nfamslots = nn;
    }
    return KH_OK;
}

static const char *family_name(const kh_dns_indset *s, uint16_t id)
{
    return id && id < s->nfam ? s->fam[id] : unknown_family;
}

/* ---- meta: runs and overrides ---- */

static inline size_t ovr_home(uint32_t off1, size_t nslots)
{
    return (size_t)((off1 * 0x9e3779b1u) >> 7) & (nslots - 1);
}

/* The meta of the entry at pool offset off. */
static uint32_t meta_of(const kh_dns_indset *s, uint32_t off)
{
    if (s->novr) {
        uint32_t off1 = off + 1;
        for (size_t i = ovr_home(off1, s->novrslots);; i = (i + 1) & (s->novrslots - 1)) {
            if (s->ovr[i].off1 == off1)
                return s->ovr[i].meta;
            if (!s->ovr[i].off1)
                break;
        }
    }
    size_t lo = 0, hi = s->nruns; /* the last run with start <= off; runs[0].start == 0 */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->runs[mid].start <= off)
            lo = mid;
        else
            hi = mid;
    }
    return s->runs[lo].meta;
}

static kh_err ovr_set(kh_dns_indset *s, uint32_t off, uint32_t meta)
{
    if ((s->novr + 1) * 2 > s->novrslots) {
        size_t nn = s->novrslots ? s->novrslots * 2 : 64;
        ind_ovr *no = khi_calloc(nn, sizeof(ind_ovr));
        if (!no)
            return KH_ENOMEM;
        for (size_t i = 0; i < s->novrslots; i++) {
            if (!s->ovr[i].off1)
                continue;
            size_t j = ovr_home(s->ovr[i].off1, nn);
            while (no[j].off1)
                j = (j + 1) & (nn - 1);
            no[j] = s->ovr[i];
        }
        khi_free(s->ovr);
        s->ovr = no;
        s->novrslots = nn;
    }
    uint32_t off1 = off + 1;
    size_t i = ovr_home(off1, s->novrslots);
    while (s->ovr[i].off1 && s->ovr[i].off1 != off1)
        i = (i + 1) & (s->novrslots - 1);
    if (!s->ovr[i].off1)
        s->novr++;
    s->ovr[i].off1 = off1;
    s->ovr[i].meta = meta;
    return KH_OK;
}

/* ---- the table ---- */

static inline size_t home(const kh_dns_indset *s, uint64_t h)
{
    return (size_t)(((h & 0xffffffffu) * (uint64_t)s->nslots) >> 32);
}

static inline uint32_t tag_of(const kh_dns_indset *s, uint64_t h)
{
    return (uint32_t)(h >> (32 + s->obits));
}

static inline uint32_t slot_off(const kh_dns_indset *s, uint32_t v)
{
    return (v & ((1u << s->obits) - 1)) - 1;
}

/* Find name (lower-case) with hash h; returns the pool offset of its entry or UINT32_MAX. */
static inline uint32_t find(const kh_dns_indset *s, const char *name, size_t n, uint64_t h)
{
    size_t i = home(s, h);
    uint32_t tag = tag_of(s, h);
    unsigned ob = s->obits;
    for (;;) {
        uint32_t v = s->slots[i];
        if (!v)
            return UINT32_MAX;
        if ((v >> ob) == tag) {
            uint32_t off = slot_off(s, v);
            const unsigned char *e = s->pool + off;
            if (e[0] == n && memcmp(e + 1, name, n) == 0)
                return off;
        }
        if (++i == s->nslots)
            i = 0;
    }
}

static void place(const kh_dns_indset *s, uint32_t *slots, size_t nslots, uint64_t h, uint32_t off)
{
    size_t i = (size_t)(((h & 0xffffffffu) * (uint64_t)nslots) >> 32);
    while (slots[i])
        if (++i == nslots)
            i = 0;
    slots[i] = (uint32_t)((h >> (32 + s->obits)) << s->obits) | (off + 1);
}

/* Rebuild the slots from the pool with nn slots and ob offset bits. */
static kh_err rebuild(kh_dns_indset *s, size_t nn, unsigned ob)
{
    uint32_t *ns = khi_calloc(nn, sizeof(uint32_t));
    if (!ns)
        return KH_ENOMEM;
    khi_free(s->slots);
    s->slots = ns;
    s->nslots = nn;
    s->obits = ob;
    for (size_t off = 0; off < s->pool_len; off += (size_t)s->pool[off] + 1)
        place(s, ns, nn, khi_dns_hash((const char *)s->pool + off + 1, s->pool[off]),
              (uint32_t)off);
    return KH_OK;
}

static kh_err add_meta(kh_dns_indset *s, uint32_t meta)
{
    if (s->nruns && s->runs[s->nruns - 1].meta == meta)
        return KH_OK;
    if (s->nruns == s->runcap) {
        size_t nc = s->runcap ? s->runcap * 2 : 16;
        ind_run *nr = khi_reallocarray(s->runs, nc, sizeof(ind_run));
        if (!nr)
            return KH_ENOMEM;
        s->runs = nr;
        s->runcap = nc;
    }
    s->runs[s->nruns].start = (uint32_t)s->pool_len;
    s->runs[s->nruns].meta = meta;
    s->nruns++;
    return KH_OK;
}

static void count(kh_dns_indset *s, kh_dns_ind_kind kind, int allow)
{
    if (allow)
        s->st.allowed++;
    else if (kind == KH_DNS_IND_DOMAIN)
        s->st.domains++;
    else if (kind == KH_DNS_IND_IP)
        s->st.ips++;
    else
        s->st.urls++;
}

/* Room for one more entry of n bytes: slots under GROW_LOAD, offset bits, pool capacity. */
static kh_err make_room(kh_dns_indset *s, size_t n)
{
    if (s->nused >= MAX_ENTRIES || s->pool_len + n + 2 >= ((size_t)1 << MAX_OBITS))
        return KH_ELIMIT;
    size_t nn = s->nslots;
    unsigned ob = s->obits;
    if ((s->nused + 1) * 100 > s->nslots * GROW_LOAD)
        nn = s->nslots * 2;
    while (s->pool_len + n + 2 >= ((size_t)1 << ob))
        ob++;
    if (nn != s->nslots || ob != s->obits) {
        kh_err err = rebuild(s, nn, ob);
        if (err != KH_OK)
            return err;
    }
    if (s->pool_len + n + 1 > s->pool_cap) {
        size_t nc = s->pool_cap ? s->pool_cap + s->pool_cap / 2 : 1 << 16;
        while (nc < s->pool_len + n + 1)
            nc += nc / 2;
        unsigned char *np = khi_realloc(s->pool, nc);
        if (!np)
            return KH_ENOMEM;
        s->pool = np;
        s->pool_cap = nc;
    }
    return KH_OK;
}

/* Insert or update an entry of a normalised name. */
static kh_err put(kh_dns_indset *s, const char *name, size_t n, kh_dns_ind_kind kind, uint16_t fam,
                  int allow)
{
    if (n == 0 || n > 255)
        return KH_EFORMAT;
    uint64_t h = khi_dns_hash(name, n);
    uint32_t off = find(s, name, n, h);
    unsigned flag = allow ? F_ALLOW : F_BLOCK;
    if (off != UINT32_MAX) {
        uint32_t m = meta_of(s, off);
        if (META_FLAGS(m) & flag) {
            s->st.duplicates++;
            return KH_OK;
        }
        uint32_t nm =
            allow ? META(META_FAM(m), META_FLAGS(m) | flag) : META(fam, META_FLAGS(m) | flag);
        kh_err err = ovr_set(s, off, nm);
        if (err != KH_OK)
            return err;
        count(s, kind, allow);
        return KH_OK;
    }
    kh_err err = make_room(s, n);
    if (err == KH_OK)
        err = add_meta(s, META(allow ? 0 : fam, (unsigned)kind | flag));
    if (err != KH_OK)
        return err;
    off = (uint32_t)s->pool_len;
    s->pool[off] = (unsigned char)n;
    memcpy(s->pool + off + 1, name, n);
    s->pool_len += n + 1;
    place(s, s->slots, s->nslots, h, off);
    s->nused++;
    count(s, kind, allow);
    if (kind == KH_DNS_IND_DOMAIN && !memchr(name, '.', n))
        s->has_single = 1;
    return KH_OK;
}

static int is_ipv4ish(const char *s, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return dots == 3;
}

/* Classify a list entry: an IP (v4, v4:port, v4/cidr, v6), a URL, or a domain. */
static kh_dns_ind_kind classify(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    const char *colon = memchr(s, ':', n);
    if (slash && !colon && is_ipv4ish(s, (size_t)(slash - s)))
        return KH_DNS_IND_IP; /* CIDR */
    if (slash || (colon && n > 3 && memmem(s, n, "://", 3)))
        return KH_DNS_IND_URL;
    if (colon)
        return KH_DNS_IND_IP; /* ip:port, host:port, IPv6 */
    if (is_ipv4ish(s, n))
        return KH_DNS_IND_IP;
    return KH_DNS_IND_DOMAIN;
}

static kh_err add_fam(kh_dns_indset *s, const char *name, size_t n, uint16_t fam, int allow)
{
    while (n && (name[0] == '.' || name[0] == '*')) { /* "*.evil.com", ".evil.com" */
        name++;
        n--;
    }
    if (n == 0)
        return KH_EFORMAT;
    kh_dns_ind_kind kind = classify(name, n);
    if (kind != KH_DNS_IND_DOMAIN) {
        if (allow)
            return KH_EFORMAT;
        char low[256];
        if (n > 255)
            return KH_EFORMAT;
        for (size_t i = 0; i < n; i++)
            low[i] = (char)khi_dns_lower[(unsigned char)name[i]];
        return put(s, low, n, kind, fam, 0);
    }
    char norm[KH_DNS_NAME_MAX + 1];
    size_t nl = 0;
    kh_err err = kh_dns_name_normalize(name, n, norm, sizeof(norm), &nl);
    if (err != KH_OK)
        return err;
    if (memchr(norm, '*', nl) || !memchr(norm, '.', nl))
        return KH_EFORMAT; /* wildcards inside, or a whole top-level domain */
    return put(s, norm, nl, KH_DNS_IND_DOMAIN, fam, allow);
}

kh_err kh_dns_indset_add(kh_dns_indset *s, const char *name, size_t n, const char *family, int allow)
{
    if (!s || !name)
        return KH_EINVAL;
    uint16_t fam = 0;
    kh_err err = allow ? KH_OK : family_id(s, family, &fam);
    if (err != KH_OK)
        return err;
    return add_fam(s, name, n, fam, allow);
}

/* ---- matching ---- */

int khi_dns_ind_walk(const kh_dns_indset *s, const char *qname, size_t qlen, const char **out_family,
                     const char **out_domain, size_t *out_domain_len)
{
    char buf[KH_DNS_NAME_MAX + 1];
    size_t n = khi_dns_fold(qname, qlen, buf);
    if (!s || n == 0 || s->nused == 0)
        return 0;
    /* the hash of every suffix at a label boundary, most general first */
    uint64_t hs[128];
    size_t at[128], k = 0;
    int top = 1;
    uint64_t h = KHI_DNS_HSEED;
    for (size_t i = n; i-- > 0;) {
        h = khi_dns_hstep(h, (unsigned char)buf[i]);
        if (i == 0 || buf[i - 1] == '.') {
            if (top && i > 0 && !s->has_single) {
                top = 0;
                continue; /* the top-level label alone is never listed */
            }
            top = 0;
            if (k < 128) {
                hs[k] = khi_dns_hfin(h);
                at[k] = i;
                __builtin_prefetch(&s->slots[home(s, hs[k])]);
                k++;
            }
        }
    }
    const unsigned char *best = NULL;
    uint32_t best_meta = 0;
    for (size_t j = k; j-- > 0;) {
        uint32_t off = find(s, buf + at[j], n - at[j], hs[j]);
        if (off == UINT32_MAX)
            continue;
        uint32_t m = meta_of(s, off);
        unsigned fl = META_FLAGS(m);
        if ((fl & F_KIND) != KH_DNS_IND_DOMAIN)
            continue;
        if (fl & F_ALLOW)
            return -1;
        if (!best && (fl & F_BLOCK)) {
            best = s->pool + off;
            best_meta = m;
        }
    }
    if (!best)
        return 0;
    if (out_family)
        *out_family = family_name(s, META_FAM(best_meta));
    if (out_domain)
        *out_domain = (const char *)best + 1;
    if (out_domain_len)
        *out_domain_len = best[0];
    return 1;
}

int kh_dns_indset_match(const kh_dns_indset *s, const char *qname, size_t qlen, const char **out_family,
                        const char **out_domain, size_t *out_domain_len)
{
    return khi_dns_ind_walk(s, qname, qlen, out_family, out_domain, out_domain_len) > 0;
}

int kh_dns_indset_allowed(const kh_dns_indset *s, const char *qname, size_t qlen)
{
    char buf[KH_DNS_NAME_MAX + 1];
    size_t n = khi_dns_fold(qname, qlen, buf);
    if (!s || n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || buf[i - 1] == '.') {
            uint32_t off = find(s, buf + i, n - i, khi_dns_hash(buf + i, n - i));
            if (off != UINT32_MAX && (META_FLAGS(meta_of(s, off)) & F_ALLOW))
                return 1;
        }
    }
    return 0;
}

int kh_dns_indset_match_other(const kh_dns_indset *s, const char *text, size_t len, const char **out_family)
{
    char low[256];
    if (!s || !text || len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)khi_dns_lower[(unsigned char)text[i]];
    uint32_t off = find(s, low, len, khi_dns_hash(low, len));
    if (off == UINT32_MAX)
        return 0;
    uint32_t m = meta_of(s, off);
    if ((META_FLAGS(m) & F_KIND) == KH_DNS_IND_DOMAIN || !(META_FLAGS(m) & F_BLOCK))
        return 0;
    if (out_family)
        *out_family = family_name(s, META_FAM(m));
    return 1;
}

void kh_dns_indset_get_stats(const kh_dns_indset *s, kh_dns_indset_stats *out)
{
    if (!s || !out)
        return;
    *out = s->st;
    out->memory = s->pool_cap + s->nslots * sizeof(uint32_t) + s->runcap * sizeof(ind_run) +
                  s->novrslots * sizeof(ind_ovr) + s->famcap * sizeof(char *) +
                  s->nfamslots * sizeof(uint32_t);
    for (size_t i = 1; i < s->nfam; i++)
        out->memory += strlen(s->fam[i]) + 1;
}

void kh_dns_indset_foreach(const kh_dns_indset *s, int allow, kh_dns_ind_fn fn, void *ud)
{
    if (!s || !fn)
        return;
    unsigned want = allow ? F_ALLOW : F_BLOCK;
    size_t r = 0;
    for (size_t off = 0; off < s->pool_len; off += (size_t)s->pool[off] + 1) {
        while (r + 1 < s->nruns && s->runs[r + 1].start <= off)
            r++;
        uint32_t m = s->novr ? meta_of(s, (uint32_t)off) : s->runs[r].meta;
        if (!(META_FLAGS(m) & want))
            continue;
        if (fn(ud, (kh_dns_ind_kind)(META_FLAGS(m) & F_KIND), (const char *)s->pool + off + 1,
               s->pool[off], allow ? unknown_family : family_name(s, META_FAM(m))))
            return;
    }
}

/* ---- list files ---- */

typedef struct lctx {
    kh_dns_indset *s;
    const char *file;
    uint64_t line;
    uint16_t fam;
    int allow;
    kh_dns_diag_fn diag;
    void *ud;
    char origin[KH_DNS_NAME_MAX + 2];
    size_t origin_len;
    int in_parens;
    char owner[KH_DNS_NAME_MAX + 2];
    size_t owner_len;
    int csv_header_seen;
} lctx;

static void reject(lctx *c, const char *msg)
{
    c->s->st.rejected++;
    if (c->diag)
        c->diag(c->ud, c->file, c->line, msg);
}

static kh_err add_line_name(lctx *c, const char *name, size_t n, uint16_t fam, int allow)
{
    for (size_t i = 0; i < n; i++)
        if (name[i] == '(' || name[i] == '[' || name[i] == '\\' || name[i] == '|' || name[i] == '+') {
            reject(c, "a regular expression (Maltrail regex trails are not supported)");
            return KH_OK;
        }
    kh_err err = add_fam(c->s, name, n, fam, allow);
    if (err == KH_EFORMAT) {
        reject(c, "not a domain name, IP or URL");
        return KH_OK;
    }
    return err;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Split [p, e) at blanks into up to max tokens. */
static size_t tokens(const char *p, const char *e, const char **tok, size_t *tl, size_t max)
{
    size_t k = 0;
    while (p < e && k < max) {
        while (p < e && is_space(*p))
            p++;
        if (p >= e)
            break;
        const char *t = p;
        while (p < e && !is_space(*p))
            p++;
        tok[k] = t;
        tl[k] = (size_t)(p - t);
        k++;
    }
    return k;
}

static kh_err line_plain(lctx *c, const char *p, const char *e)
{
    const char *tok[2];
    size_t tl[2];
    size_t k = tokens(p, e, tok, tl, 2);
    if (k == 0)
        return KH_OK;
    if (k > 1) {
        reject(c, "more than one word on a line");
        return KH_OK;
    }
    return add_line_name(c, tok[0], tl[0], c->fam, c->allow);
}

static kh_err line_hosts(lctx *c, const char *p, const char *e)
{
    const char *tok[16];
    size_t tl[16];
    size_t k = tokens(p, e, tok, tl, 16);
    if (k == 0)
        return KH_OK;
    if (k == 1) {
        reject(c, "hosts line without a name");
        return KH_OK;
    }
    for (size_t i = 1; i < k; i++) {
        static const char *const skip[] = {"localhost", "localhost.localdomain", "local",
                                           "broadcasthost", "ip6-localhost", "ip6-loopback",
                                           "0.0.0.0", "ip6-allnodes", "ip6-allrouters"};
        int skipit = 0;
        for (size_t j = 0; j < KHI_ARRAY_LEN(skip); j++)
            if (tl[i] == strlen(skip[j]) && memcmp(tok[i], skip[j], tl[i]) == 0)
                skipit = 1;
        if (skipit)
            continue;
        kh_err err = add_line_name(c, tok[i], tl[i], c->fam, c->allow);
        if (err != KH_OK)
            return err;
    }
    return KH_OK;
}

static kh_err line_abp(lctx *c, const char *p, const char *e)
{
    while (e > p && is_space(e[-1]))
        e--;
    if (p == e || *p == '!' || *p == '[')
        return KH_OK;
    int allow = c->allow;
    if (e - p >= 2 && p[0] == '@' && p[1] == '@') {
        allow = 1;
        p += 2;
    }
    if (e - p < 3 || p[0] != '|' || p[1] != '|')
        return KH_OK; /* element hiding, path rules: not about domains */
    p += 2;
    const char *q = p;
    while (q < e && *q != '^' && *q != '$' && *q != '/' && *q != '|')
        q++;
    if (q < e && *q == '/')
        return KH_OK; /* a path rule */
    return add_line_name(c, p, (size_t)(q - p), allow ? 0 : c->fam, allow);
}

/* Make an RPZ owner absolute-stripped: relative names are policy names as they are; absolute
 * ones lose the origin. */
static kh_err rpz_owner(lctx *c, const char *o, size_t n, int allow)
{
    if (n == 1 && o[0] == '@')
        return KH_OK;
    if (n && o[n - 1] == '.') {
        if (c->origin_len && n > c->origin_len + 1 &&
            strncasecmp(o + n - c->origin_len - 1, c->origin, c->origin_len) == 0 &&
            o[n - c->origin_len - 2] == '.') {
            n -= c->origin_len + 2;
        } else if (c->origin_len && n == c->origin_len + 1) {
            return KH_OK; /* the apex */
        }
    }
    if (n > 2 && o[0] == '*' && o[1] == '.') {
        o += 2;
        n -= 2;
    }
    static const char *const trig[] = {".rpz-ip", ".rpz-nsip", ".rpz-nsdname", ".rpz-client-ip"};
    for (size_t i = 0; i < KHI_ARRAY_LEN(trig); i++) {
        size_t tl = strlen(trig[i]);
        if (n > tl && strncasecmp(o + n - tl, trig[i], tl) == 0)
            return KH_OK; /* IP and NS triggers: not query names */
    }
    return add_line_name(c, o, n, allow ? 0 : c->fam, allow);
}

static kh_err line_rpz(lctx *c, const char *p, const char *e)
{
    const char *semi = memchr(p, ';', (size_t)(e - p));
    if (semi)
        e = semi;
    if (c->in_parens) {
        if (memchr(p, ')', (size_t)(e - p)))
            c->in_parens = 0;
        return KH_OK;
    }
    const char *tok[8];
    size_t tl[8];
    int cont = p < e && is_space(*p);
    size_t k = tokens(p, e, tok, tl, 8);
    if (k == 0)
        return KH_OK;
    if (tok[0][0] == '$') {
        if (tl[0] == 7 && strncasecmp(tok[0], "$ORIGIN", 7) == 0 && k >= 2) {
            size_t n = tl[1];
            while (n && tok[1][n - 1] == '.')
                n--;
            if (n > KH_DNS_NAME_MAX)
                n = 0;
            memcpy(c->origin, tok[1], n);
            c->origin[n] = '\0';
            c->origin_len = n;
        }
        return KH_OK;
    }
    size_t i = 0;
    const char *owner = c->owner;
    size_t owner_len = c->owner_len;
    if (!cont) {
        owner = tok[0];
        owner_len = tl[0];
        i = 1;
    }
    /* skip TTL and class */
    while (i < k && ((tok[i][0] >= '0' && tok[i][0] <= '9') ||
                     (tl[i] == 2 && strncasecmp(tok[i], "IN", 2) == 0)))
        i++;
    if (i >= k) {
        reject(c, "RPZ record without a type");
        return KH_OK;
    }
    const char *type = tok[i];
    size_t typel = tl[i];
    if (memchr(p, '(', (size_t)(e - p)) && !memchr(p, ')', (size_t)(e - p)))
        c->in_parens = 1;
    if (!cont && owner_len < sizeof(c->owner)) {
        memcpy(c->owner, owner, owner_len);
        c->owner_len = owner_len;
    }
    if (typel == 3 && strncasecmp(type, "SOA", 3) == 0) {
        if (!c->origin_len && owner_len && owner[owner_len - 1] == '.' && owner_len <= KH_DNS_NAME_MAX) {
            memcpy(c->origin, owner, owner_len - 1);
            c->origin_len = owner_len - 1;
            c->origin[c->origin_len] = '\0';
        }
        return KH_OK;
    }
    if ((typel == 2 && strncasecmp(type, "NS", 2) == 0))
        return KH_OK;
    int allow = c->allow;
    if (typel == 5 && strncasecmp(type, "CNAME", 5) == 0 && i + 1 < k &&
        tl[i + 1] >= 12 && strncasecmp(tok[i + 1], "rpz-passthru", 12) == 0)
        allow = 1;
    return rpz_owner(c, owner, owner_len, allow);
}

static kh_err line_csv(lctx *c, const char *p, const char *e)
{
    const char *f[3] = {p, NULL, NULL};
    size_t fl[3] = {0, 0, 0};
    size_t k = 0;
    const char *q = p;
    while (k < 3) {
        const char *comma = memchr(q, ',', (size_t)(e - q));
        const char *end = comma ? comma : e;
        f[k] = q;
        fl[k] = (size_t)(end - q);
        while (fl[k] && is_space(f[k][fl[k] - 1]))
            fl[k]--;
        while (fl[k] && is_space(*f[k])) {
            f[k]++;
            fl[k]--;
        }
        if (fl[k] >= 2 && f[k][0] == '"' && f[k][fl[k] - 1] == '"') {
            f[k]++;
            fl[k] -= 2;
        }
        k++;
        if (!comma)
            break;
        q = comma + 1;
    }
    if (fl[0] == 0)
        return KH_OK;
    if (!c->csv_header_seen) {
        c->csv_header_seen = 1;
        if ((fl[0] == 6 && strncasecmp(f[0], "domain", 6) == 0) ||
            (fl[0] == 9 && strncasecmp(f[0], "indicator", 9) == 0))
            return KH_OK;
    }
    uint16_t fam = c->fam;
    if (!c->allow && fl[1] && fam == 0) {
        char name[256];
        size_t n = fl[1] < 255 ? fl[1] : 255;
        memcpy(name, f[1], n);
        name[n] = '\0';
        kh_err err = family_id(c->s, name, &fam);
        if (err != KH_OK)
            return err;
    }
    return add_line_name(c, f[0], fl[0], fam, c->allow);
}

static kh_dns_list_format sniff(const char *name, const char *data, size_t len)
{
    size_t nl = strlen(name);
    if (nl > 4 && strcasecmp(name + nl - 4, ".csv") == 0)
        return KH_DNS_LIST_CSV;
    if ((nl > 4 && strcasecmp(name + nl - 4, ".rpz") == 0) || (nl > 5 && strcasecmp(name + nl - 5, ".zone") == 0))
        return KH_DNS_LIST_RPZ;
    /* ABP, RPZ and CSV announce themselves; hosts against plain is a vote of the first lines */
    size_t seen = 0, hosts = 0, plain = 0;
    for (const char *p = data, *e = data + len; p < e && seen < 50;) {
        const char *nlp = memchr(p, '\n', (size_t)(e - p));
        const char *le = nlp ? nlp : e;
        const char *q = p;
        while (q < le && is_space(*q))
            q++;
        if (q < le && *q != '#') {
            seen++;
            if (*q == '!' || *q == '[' || (le - q > 2 && q[0] == '|' && q[1] == '|') ||
                (le - q > 4 && q[0] == '@' && q[1] == '@'))
                return KH_DNS_LIST_ABP;
            if (*q == '$' || *q == ';' || memmem(q, (size_t)(le - q), " SOA ", 5) ||
                memmem(q, (size_t)(le - q), "\tSOA\t", 5) || memmem(q, (size_t)(le - q), " CNAME ", 7))
                return KH_DNS_LIST_RPZ;
            if (seen == 1 && ((le - q > 7 && strncasecmp(q, "domain,", 7) == 0) ||
                              (le - q > 10 && strncasecmp(q, "indicator,", 10) == 0)))
                return KH_DNS_LIST_CSV;
            const char *hash = memchr(q, '#', (size_t)(le - q));
            const char *ce = hash ? hash : le;
            const char *tok[2];
            size_t tl[2];
            size_t k = tokens(q, ce, tok, tl, 2);
            if (k == 2 && (is_ipv4ish(tok[0], tl[0]) || memchr(tok[0], ':', tl[0])))
                hosts++;
            else if (k == 1)
                plain++;
        }
        p = nlp ? nlp + 1 : e;
    }
    return hosts > plain ? KH_DNS_LIST_HOSTS : KH_DNS_LIST_PLAIN;
}

static void family_from_file(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    static const char *const ext[] = {".gz", ".zst", ".xz", ".bz2", ".txt", ".csv", ".hosts",
                                      ".rpz", ".zone", ".list"};
    for (int again = 0; again < 2; again++)
        for (size_t i = 0; i < KHI_ARRAY_LEN(ext); i++) {
            size_t el = strlen(ext[i]);
            if (n > el && strcasecmp(b + n - el, ext[i]) == 0)
                n -= el;
        }
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)khi_dns_lower[(unsigned char)b[i]];
    out[n] = '\0';
}

static kh_err load_mem(kh_dns_indset *s, const char *name, const char *data, size_t len, kh_dns_list_format fmt,
                       const char *family, int allow, kh_dns_diag_fn diag, void *ud)
{
    if (!s || !name || (!data && len))
        return KH_EINVAL;
    lctx c;
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.file = name;
    c.allow = allow;
    c.diag = diag;
    c.ud = ud;
    kh_err err = KH_OK;
    if (!allow) {
        char fam[128];
        if (family)
            khi_snprintf(fam, sizeof(fam), "%s", family);
        else
            family_from_file(name, fam, sizeof(fam));
        if (fmt == KH_DNS_LIST_AUTO)
            fmt = sniff(name, data, len);
        /* a CSV carries its own family per line unless the caller names one */
        if (!(fmt == KH_DNS_LIST_CSV && !family)) {
            err = family_id(s, fam, &c.fam);
            if (err != KH_OK)
                return err;
        }
    } else if (fmt == KH_DNS_LIST_AUTO) {
        fmt = sniff(name, data, len);
    }
    s->st.bytes_read += len;
    const char *p = data, *end = data + len;
    while (p < end && err == KH_OK) {
        const char *nlp = memchr(p, '\n', (size_t)(end - p));
        const char *le = nlp ? nlp : end;
        c.line++;
        const char *q = p;
        while (q < le && is_space(*q))
            q++;
        if (q < le && *q != '#') {
            const char *e = le;
            /* "# comment" after the entry (not inside ABP/RPZ syntax) */
            if (fmt == KH_DNS_LIST_PLAIN || fmt == KH_DNS_LIST_HOSTS || fmt == KH_DNS_LIST_CSV) {
                const char *hash = memchr(q, '#', (size_t)(le - q));
                if (hash)
                    e = hash;
            }
            if (le - p > 4096)
                reject(&c, "line too long");
            else if (fmt == KH_DNS_LIST_HOSTS)
                err = line_hosts(&c, q, e);
            else if (fmt == KH_DNS_LIST_ABP)
                err = line_abp(&c, q, e);
            else if (fmt == KH_DNS_LIST_RPZ)
                err = line_rpz(&c, p, e); /* leading blanks mean "same owner" */
            else if (fmt == KH_DNS_LIST_CSV)
                err = line_csv(&c, q, e);
            else
                err = line_plain(&c, q, e);
        }
        p = nlp ? nlp + 1 : end;
    }
    return err;
}

static int skip_file(const char *base)
{
    size_t n = strlen(base);
    if (base[0] == '.' || strncmp(base, "LICENSE", 7) == 0 || strncmp(base, "README", 6) == 0 ||
        strncmp(base, "SOURCE", 6) == 0 || strncmp(base, "__", 2) == 0)
        return 1;
    return (n > 3 && strcmp(base + n - 3, ".py") == 0) || (n > 3 && strcmp(base + n - 3, ".md") == 0);
}

static kh_err load_path(kh_dns_indset *s, const char *path, kh_dns_list_format fmt, const char *family,
                        int allow, kh_dns_diag_fn diag, void *ud, int depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return KH_ENOENT;
    if (S_ISDIR(sb.st_mode)) {
        if (depth > 8)
            return KH_ELIMIT;
        struct dirent **ents = NULL;
        int n = scandir(path, &ents, NULL, alphasort);
        if (n < 0)
            return KH_EACCES;
        kh_err err = KH_OK;
        for (int i = 0; i < n; i++) {
            if (err == KH_OK && !skip_file(ents[i]->d_name)) {
                khi_buf b;
                khi_buf_init(&b);
                err = khi_buf_printf(&b, "%s/%s", path, ents[i]->d_name);
                if (err == KH_OK)
                    err = load_path(s, b.data, fmt, family, allow, diag, ud, depth + 1);
                khi_buf_cleanup(&b);
            }
            free(ents[i]); /* allocated by scandir(3) with malloc */
        }
        free(ents);
        return err;
    }
    char *data = NULL;
    size_t len = 0;
    kh_err err = khi_dns_read_all(path, MAX_LIST_BYTES, &data, &len);
    if (err != KH_OK)
        return err;
    err = load_mem(s, path, data, len, fmt, family, allow, diag, ud);
    khi_free(data);
    return err;
}

/* After a load: give back the growth slack of the pool and the runs (a large block: realloc
 * moves no bytes), and fit the slots to FINAL_LOAD. Failing to shrink leaves the set as it was. */
static void trim(kh_dns_indset *s)
{
    if (s->pool_len && s->pool_cap > s->pool_len + 4096) {
        unsigned char *np = khi_realloc(s->pool, s->pool_len);
        if (np) {
            s->pool = np;
            s->pool_cap = s->pool_len;
        }
    }
    if (s->nruns && s->runcap > s->nruns + 16) {
        ind_run *nr = khi_reallocarray(s->runs, s->nruns, sizeof(ind_run));
        if (nr) {
            s->runs = nr;
            s->runcap = s->nruns;
        }
    }
    size_t want = s->nused * 100 / FINAL_LOAD + 1;
    if (want < MIN_SLOTS)
        want = MIN_SLOTS;
    if (s->nslots > want + want / 16 || s->nslots < want - want / 16)
        (void)rebuild(s, want, s->obits);
}

kh_err kh_dns_indset_load_mem(kh_dns_indset *s, const char *name, const char *data, size_t len,
                              kh_dns_list_format fmt, const char *family, int allow, kh_dns_diag_fn diag,
                              void *ud)
{
    kh_err err = load_mem(s, name, data, len, fmt, family, allow, diag, ud);
    if (s)
        trim(s);
    return err;
}

kh_err kh_dns_indset_load(kh_dns_indset *s, const char *path, kh_dns_list_format fmt, const char *family,
                          int allow, kh_dns_diag_fn diag, void *ud)
{
    if (!s || !path)
        return KH_EINVAL;
    kh_err err = load_path(s, path, fmt, family, allow, diag, ud, 0);
    trim(s);
    return err;
}
