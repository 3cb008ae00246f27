/*
 * dns_dga_int.h - what dns_dga.c (features, scoring, training) and dns_dga_file.c (the text
 * model file) share: the model structure and its string tables.
 *
 * A string table maps short strings (public suffixes, vocabulary words) to two counts; it is
 * an open-addressing hash of 64-bit keys with the strings kept in one pool, so a lookup is one
 * hash and one memcmp, and the table can be written back out as text.
 */
#ifndef KHI_DNS_DGA_INT_H
#define KHI_DNS_DGA_INT_H

#include <stddef.h>
#include <stdint.h>
#include "dns/dns_int.h"

#define KHI_DGA_SYM 40
#define KHI_DGA_NTRI (KHI_DGA_SYM * KHI_DGA_SYM * KHI_DGA_SYM)
#define KHI_DGA_NFEAT 21
#define KHI_DGA_LABEL_MAX 64
/* vocabulary words: letter runs of this many characters */
#define KHI_DGA_WMIN 4
#define KHI_DGA_WMAX 12
/* a substring is a word when at least this many benign names hold it */
#define KHI_DGA_WCOUNT 3
/* the file format version written (version 2, without set thresholds, is still read) */
#define KHI_DGA_VERSION 3

typedef struct khi_dga_ent {
    uint64_t h;      /* 0 = empty slot */
    uint32_t off;    /* string in the pool */
    uint32_t len;
    uint32_t cnt[2]; /* [0] benign, [1] dga (suffixes); [0] distinct benign names (words) */
    uint32_t last;   /* training: last name that counted (distinct names) */
} khi_dga_ent;

typedef struct khi_dga_tab {
    khi_dga_ent *e;
    size_t cap, n; /* cap: power of two */
    char *pool;
    size_t plen, pcap;
    double tot[2]; /* sums of cnt[0], cnt[1] */
} khi_dga_tab;

struct kh_dns_dga {
    uint32_t *tri[2];  /* [0] benign, [1] dga: trigram counts */
    uint32_t *ctx[2];  /* context (first two symbols) counts */
    uint32_t *bi[2];   /* bigram counts (last two symbols of each trigram) */
    uint32_t *bctx[2]; /* bigram context counts */
    uint32_t *uni[2];  /* unigram counts */
    double total[2];
    khi_dga_tab sfx;   /* public suffix -> benign, dga name counts */
    khi_dga_tab voc;   /* vocabulary word -> benign names holding it */
    uint8_t *w4;       /* bitmap of the 4-letter words (26^4 bits), NULL while training */
    double mean[KHI_DGA_NFEAT], sd[KHI_DGA_NFEAT];
    double w[KHI_DGA_NFEAT + 1]; /* w[0] bias */
    unsigned nlevels; /* set thresholds for this many FPR levels (0: none, as in version 2) */
    double set_fpr[KHI_DGA_SET_LEVELS];
    double set_thr[KHI_DGA_SET_LEVELS][KHI_DGA_SET_MAX + 1]; /* [level][k], k = SET_MIN..SET_MAX */
};

uint64_t khi_dga_hash(const char *s, size_t n);
/* Find s; NULL when absent. */
const khi_dga_ent *khi_dga_tab_get(const khi_dga_tab *t, const char *s, size_t n, uint64_t h);
/* Find or add s (counts zero when new). *out: the entry, valid until the next add. */
kh_err khi_dga_tab_add(khi_dga_tab *t, const char *s, size_t n, uint64_t h, khi_dga_ent **out);
void khi_dga_tab_cleanup(khi_dga_tab *t);

/* Build m->w4 from the vocabulary (after training or loading). KH_ENOMEM. */
kh_err khi_dga_index_words(kh_dns_dga *m);

/* An empty model (all tables allocated, counts zero). */
kh_err khi_dga_model_new(kh_dns_dga **out);
/* Add one trigram count to class k (the file loader rebuilds the marginals this way). */
void khi_dga_add_tri(kh_dns_dga *m, int k, size_t t, uint32_t c);

/*
 * Parse a model from borrowed memory (data need not be NUL-terminated). name names it in
 * messages. *out_model owned. KH_EFORMAT with a message in errbuf, KH_ENOMEM.
 */
kh_err khi_dga_parse(const char *data, size_t len, const char *name, kh_dns_dga **out_model, char *errbuf,
                     size_t errbuf_len);

#endif
