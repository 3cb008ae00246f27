/*
 * dns.h - DNS-log analysis: indicator sets, resolver-log parsers, DGA scoring, per-client
 * findings and RPZ output.
 *
 * The data path is: log bytes -> reader (one parser per format) -> kh_dns_rec (client, qname,
 * qtype, rcode, time) -> analyzer (indicator set + DGA model) -> per-client findings. Nothing
 * here depends on the scanning engine. Every fallible call returns a kh_err; pointers are
 * marked borrowed (the caller keeps ownership and must keep it alive), owned (the callee frees
 * it) or copied.
 */
#ifndef KHIEN_DNS_H
#define KHIEN_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest presentation-form domain name accepted (RFC 1035: 253 characters + a dot). */
#define KH_DNS_NAME_MAX 254

/* ---- names ---- */

/*
 * Normalise a domain name: lower-case, trailing dot removed, Unicode labels converted to
 * their IDNA (punycode "xn--") form; "www." and other labels are kept as given.
 * in/in_len: borrowed bytes (need not be NUL-terminated). out: caller buffer of out_cap bytes
 * (KH_DNS_NAME_MAX + 1 suffices), NUL-terminated on success, *out_len its length.
 * Returns KH_OK, KH_EFORMAT (empty, too long, empty label, bytes not allowed in a name, bad
 * IDNA), KH_EINVAL (NULL arguments or out_cap too small).
 */
KH_API kh_err kh_dns_name_normalize(const char *in, size_t in_len, char *out, size_t out_cap,
                                    size_t *out_len);

/*
 * The registrable domain of a normalised name by the Public Suffix List (libpsl, the system
 * list when present, else the one built into libpsl): "a.b.example.co.uk" -> "example.co.uk".
 * name: borrowed, NUL-terminated. *out_reg points into name (borrowed from it); NULL when the
 * name is itself a public suffix. Returns KH_OK or KH_EINVAL.
 */
KH_API kh_err kh_dns_registrable(const char *name, const char **out_reg);

/* ---- indicator sets ---- */

typedef struct kh_dns_indset kh_dns_indset;

typedef enum kh_dns_list_format {
    KH_DNS_LIST_AUTO = 0, /* by file name and content */
    KH_DNS_LIST_PLAIN,    /* one domain a line, # comments (Maltrail trails: IP:port, URL too) */
    KH_DNS_LIST_HOSTS,    /* hosts file: "0.0.0.0 domain [domain...]" */
    KH_DNS_LIST_ABP,      /* Adblock Plus: "||domain^" */
    KH_DNS_LIST_RPZ,      /* RPZ zone file: "name CNAME ." and "*.name CNAME ." */
    KH_DNS_LIST_CSV,      /* "domain,family,source" (a header line is recognised) */
} kh_dns_list_format;

typedef enum kh_dns_ind_kind {
    KH_DNS_IND_DOMAIN = 0, /* matched against query names, exact or by parent domain */
    KH_DNS_IND_IP = 1,     /* an address, kept as given ("1.2.3.4" or "1.2.3.4:443") */
    KH_DNS_IND_URL = 2,    /* a URL or host/path, kept as given */
} kh_dns_ind_kind;

/* Called for every line a loader rejects. file, msg: borrowed for the call. */
typedef void (*kh_dns_diag_fn)(void *ud, const char *file, uint64_t line, const char *msg);

typedef struct kh_dns_indset_stats {
    uint64_t domains, ips, urls, allowed; /* distinct entries of each kind */
    uint64_t families;                    /* distinct family names */
    uint64_t rejected;                    /* lines rejected by loaders */
    uint64_t duplicates;                  /* entries already present */
    uint64_t bytes_read;                  /* bytes of list files loaded */
    uint64_t memory;                      /* bytes held by the tables */
} kh_dns_indset_stats;

/* Create an empty set. *out_set: owned by the caller (kh_dns_indset_destroy). KH_ENOMEM. */
KH_API kh_err kh_dns_indset_create(kh_dns_indset **out_set);
/* Free a set; NULL is accepted. */
KH_API void kh_dns_indset_destroy(kh_dns_indset *set);

/*
 * Add one indicator. name: borrowed, normalised here. family: borrowed, copied; NULL or ""
 * means "unknown". allow != 0 puts the name on the allow-list instead (family ignored).
 * Names containing ':' or '/' (or bare IPv4 addresses) are kept as IP or URL indicators.
 * Returns KH_OK (also for a duplicate), KH_EFORMAT (not a usable name), KH_ENOMEM, KH_ELIMIT
 * (more than 2^31 entries or 65,535 families).
 */
KH_API kh_err kh_dns_indset_add(kh_dns_indset *set, const char *name, size_t name_len,
                                const char *family, int allow);

/*
 * Load a list file (or a directory of them, recursively, as Maltrail's trails). path:
 * borrowed. family: borrowed, or NULL to take it from each file's name ("emotet.txt" ->
 * "emotet") or, for CSV, from the second column. allow != 0 loads an allow-list. Rejected
 * lines are counted and passed to diag (may be NULL) with file and line. Gzip/zstd/xz files
 * are read directly. Returns KH_OK, KH_ENOENT/KH_EACCES/KH_EIO, KH_ENOMEM, KH_ELIMIT.
 */
KH_API kh_err kh_dns_indset_load(kh_dns_indset *set, const char *path, kh_dns_list_format fmt,
                                 const char *family, int allow, kh_dns_diag_fn diag, void *ud);

/* Load a list from memory (as kh_dns_indset_load; name is used for diagnostics). */
KH_API kh_err kh_dns_indset_load_mem(kh_dns_indset *set, const char *name, const char *data,
                                     size_t len, kh_dns_list_format fmt, const char *family,
                                     int allow, kh_dns_diag_fn diag, void *ud);

/*
 * Match a query name (as found in logs; normalised here: case, trailing dot) against the
 * domain indicators: the name itself, then each parent at a label boundary. An allow-list
 * entry for the name or any parent overrides. Returns 1 on a hit with *out_family (borrowed
 * from the set, "unknown" when none was given) and *out_domain, *out_domain_len (the listed
 * domain, borrowed from the set, not NUL-terminated); 0 when not listed or allowed; out_
 * pointers may be NULL.
 * Thread-safe for concurrent readers once loading is over.
 */
KH_API int kh_dns_indset_match(const kh_dns_indset *set, const char *qname, size_t qname_len,
                               const char **out_family, const char **out_domain,
                               size_t *out_domain_len);

/* 1 when the name or a parent is on the allow-list. */
KH_API int kh_dns_indset_allowed(const kh_dns_indset *set, const char *qname, size_t qname_len);

/* Exact lookup of an IP or URL indicator; returns 1 and *out_family (borrowed) when present. */
KH_API int kh_dns_indset_match_other(const kh_dns_indset *set, const char *text, size_t len,
                                     const char **out_family);

KH_API void kh_dns_indset_get_stats(const kh_dns_indset *set, kh_dns_indset_stats *out_stats);

/*
 * Visit every entry (allow != 0: the allow-list). name (name_len bytes, not NUL-terminated)
 * and family are borrowed for the call. A non-zero return from fn stops the walk. Order is unspecified.
 */
typedef int (*kh_dns_ind_fn)(void *ud, kh_dns_ind_kind kind, const char *name, size_t name_len,
                             const char *family);
KH_API void kh_dns_indset_foreach(const kh_dns_indset *set, int allow, kh_dns_ind_fn fn, void *ud);

/* ---- log readers ---- */

typedef enum kh_dns_format {
    KH_DNS_FMT_AUTO = 0,
    KH_DNS_FMT_BIND,     /* BIND 9 query log (category queries) */
    KH_DNS_FMT_UNBOUND,  /* Unbound log-queries / log-replies */
    KH_DNS_FMT_DNSMASQ,  /* dnsmasq log-queries (and log-queries=extra) */
    KH_DNS_FMT_ZEEK,     /* Zeek dns.log, TSV with its #fields header */
    KH_DNS_FMT_EVE,      /* Suricata EVE JSON, event_type dns, versions 2 and 3 */
    KH_DNS_FMT_WINDOWS,  /* Windows DNS Server debug log (packet logging) */
    KH_DNS_FMT_PDNS,     /* PowerDNS Recursor structured log (logfmt or JSON) */
    KH_DNS_FMT_CSV,      /* CSV: time,client,qname,qtype,rcode (header names recognised) */
    KH_DNS_FMT_DNSTAP,   /* dnstap: Frame Streams of Dnstap protobuf messages (binary) */
    KH_DNS_FMT_COUNT
} kh_dns_format;

/* "bind", "unbound", ... for a format; "auto" for KH_DNS_FMT_AUTO; never NULL. */
KH_API const char *kh_dns_format_name(kh_dns_format fmt);
/* The format of a name as kh_dns_format_name gives it; KH_EINVAL when unknown. */
KH_API kh_err kh_dns_format_parse(const char *name, kh_dns_format *out_fmt);

/*
 * One query or response. All pointers borrow the reader's buffers and are valid until the
 * next kh_dns_reader_next call; they are not NUL-terminated (use the lengths).
 */
typedef struct kh_dns_rec {
    int64_t time_ms; /* milliseconds since 1970 UTC, -1 when the line has none */
    const char *client;
    size_t client_len; /* the client address, without port */
    const char *qname;
    size_t qname_len;
    const char *qtype;
    size_t qtype_len; /* "A", "AAAA", ... or length 0 */
    int rcode;        /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...; -1 unknown (a query line) */
    int is_query;     /* 1 for a query (counted), 0 for a response-only line */
} kh_dns_rec;

typedef struct kh_dns_reader kh_dns_reader;

typedef struct kh_dns_reader_stats {
    uint64_t lines;     /* lines read (dnstap: frames) */
    uint64_t records;   /* records returned */
    uint64_t ignored;   /* well-formed lines that carry no query (headers, other messages) */
    uint64_t malformed; /* lines that did not parse (reported through diag) */
    uint64_t bytes;     /* bytes of log text (after decompression) */
} kh_dns_reader_stats;

/*
 * Open a log file ("-" is standard input) in fmt (KH_DNS_FMT_AUTO: detected from the first
 * lines). Gzip, zstd, xz and bzip2 files are decompressed on the fly. path: borrowed, copied
 * for diagnostics. *out_r: owned by the caller. Returns KH_OK, KH_ENOENT/KH_EACCES/KH_EIO,
 * KH_ENOMEM, KH_EARCHIVE (damaged compressed stream).
 */
KH_API kh_err kh_dns_reader_open(const char *path, kh_dns_format fmt, kh_dns_reader **out_r);
/*
 * A dnstap receiver: listen on endpoint, "unix:PATH" (the socket file is created, replacing a
 * stale socket, mode 0660, and removed on destroy) or "tcp:HOST:PORT", for resolvers that send
 * Frame Streams (bidirectional: READY/ACCEPT/START...STOP/FINISH, or unidirectional from
 * START), any number over time, up to 64 at once. kh_dns_reader_next waits for the next
 * record until the stop flag given to kh_dns_reader_set_follow becomes non-zero. Memory is
 * bounded: 64 KiB + 8 a connection; a bigger frame is skipped and counted as malformed, as is a
 * protocol error (that connection is then closed). endpoint: borrowed. *out_r: owned.
 * Returns KH_OK, KH_EINVAL (bad endpoint, path too long), KH_EEXIST (PATH exists and is not
 * a socket), KH_EACCES, KH_EIO (bind/listen failed), KH_ENOMEM.
 */
KH_API kh_err kh_dns_reader_open_dnstap(const char *endpoint, kh_dns_reader **out_r);
/*
 * Part `part` (0 .. nparts-1) of a plain log file, for reading one big file on several threads:
 * the lines that start in bytes [size*part/nparts, size*(part+1)/nparts) of the file as it is
 * at open. The format is named or detected from the head of the file, and the header lines the
 * head starts with (Zeek's #fields, a CSV header row) are read into the parser first, so every
 * part parses as the whole file would; the parts' records, lines and bytes add up to the whole
 * file's. Diagnostics count lines from the part's first line: add the lines of the parts before
 * (kh_dns_reader_get_stats) for the line in the file. path: borrowed. *out_r: owned.
 * Returns as kh_dns_reader_open, KH_EINVAL for standard input, a compressed or dnstap file or
 * part >= nparts, KH_EFORMAT when fmt is AUTO and the head fits no format.
 */
KH_API kh_err kh_dns_reader_open_part(const char *path, kh_dns_format fmt, unsigned part,
                                      unsigned nparts, kh_dns_reader **out_r);
/* A reader over bytes in memory (borrowed: keep data alive until destroy); name for diags. */
KH_API kh_err kh_dns_reader_open_mem(const char *name, const void *data, size_t len,
                                     kh_dns_format fmt, kh_dns_reader **out_r);
/*
 * Follow mode for a growing file (khien dns watch): follow = 1 waits at end of file and polls
 * (every 0.2 s) for more; follow = 2 also skips what the file holds now (plain files only;
 * the format is detected from what it holds; a dnstap file is read to its end without records,
 * as its frames cannot be picked up at an arbitrary byte). For a dnstap socket reader only
 * stop_flag matters.
 * stop_flag (borrowed, may be NULL): when it becomes non-zero, next returns end of input.
 * Returns KH_OK, or KH_EINVAL when follow = 2 on standard input or a compressed file.
 */
KH_API kh_err kh_dns_reader_set_follow(kh_dns_reader *r, int follow, volatile int *stop_flag);
/* Where malformed lines are reported (input name, line number, message); fn may be NULL. */
KH_API void kh_dns_reader_set_diag(kh_dns_reader *r, kh_dns_diag_fn fn, void *ud);

/*
 * The next record. *out_have = 1 with *out_rec filled, or 0 at end of input. Malformed lines
 * are counted, reported and skipped (the call goes on to the next line). Returns KH_OK,
 * KH_EIO or KH_EARCHIVE (reading failed; the reader is then at end), KH_EFORMAT (auto
 * detection found no known format in the first lines), KH_ENOMEM.
 */
KH_API kh_err kh_dns_reader_next(kh_dns_reader *r, kh_dns_rec *out_rec, int *out_have);
/* The format in use (after detection: once next has returned a record or end). */
KH_API kh_dns_format kh_dns_reader_format(const kh_dns_reader *r);
KH_API void kh_dns_reader_get_stats(const kh_dns_reader *r, kh_dns_reader_stats *out_stats);
/* Close; NULL accepted. */
KH_API void kh_dns_reader_destroy(kh_dns_reader *r);

/* Guess the format of a few lines of log text; KH_DNS_FMT_AUTO when nothing fits. */
KH_API kh_dns_format kh_dns_format_detect(const char *text, size_t len);

/* ---- DGA model ---- */

typedef struct kh_dns_dga kh_dns_dga;

/* The default decision threshold of kh_dns_dga_score (scores >= it are "dga"). */
#define KH_DNS_DGA_THRESHOLD 0.5

/*
 * Train a model: character n-gram statistics of the benign and the DGA names plus a small
 * logistic model over them. benign/dga: borrowed arrays of NUL-terminated names (registrable
 * domains or full names). *out_model: owned (kh_dns_dga_destroy). Returns KH_OK, KH_EINVAL
 * (an empty class), KH_ENOMEM.
 */
KH_API kh_err kh_dns_dga_train(const char *const *benign, size_t nbenign, const char *const *dga,
                               size_t ndga, kh_dns_dga **out_model);
/*
 * As kh_dns_dga_train, with the family of each DGA name: dga_family[i] (borrowed, ndga entries,
 * any small numbers) groups the names so that every family weighs the same in the fit, however
 * many names it brings (without it the largest families decide the weights). NULL = one family.
 */
KH_API kh_err kh_dns_dga_train_families(const char *const *benign, size_t nbenign, const char *const *dga,
                                        const unsigned *dga_family, size_t ndga, kh_dns_dga **out_model);
/* Load / save the text model file (data/dns/dga.model). path: borrowed. errbuf may be NULL.
 * Returns KH_OK, KH_ENOENT/KH_EIO, KH_EFORMAT (with the line in errbuf), KH_ENOMEM. */
KH_API kh_err kh_dns_dga_load(const char *path, kh_dns_dga **out_model, char *errbuf,
                              size_t errbuf_len);
KH_API kh_err kh_dns_dga_save(const kh_dns_dga *model, const char *path);
KH_API void kh_dns_dga_destroy(kh_dns_dga *model);
/*
 * Score a name in [0,1]: the probability-like output of the model for the label left of the
 * public suffix ("x7fk2p9q.example.com" scores "example"; "a8dk3j.net" scores "a8dk3j").
 * name: borrowed; normalised here. Returns -1 for a name that cannot be scored (not a name,
 * or nothing left of the suffix).
 */
KH_API double kh_dns_dga_score(const kh_dns_dga *model, const char *name, size_t name_len);
/* The FPR levels the model holds set thresholds for (see kh_dns_analyzer_opts.dga_set_fpr):
 * their count, *out_fpr (may be NULL) borrowed from the model. 0 for a version-2 model. */
KH_API size_t kh_dns_dga_set_levels(const kh_dns_dga *model, const double **out_fpr);

/* ---- analysis: findings per client ---- */

typedef struct kh_dns_analyzer kh_dns_analyzer;

typedef struct kh_dns_analyzer_opts {
    double dga_threshold;  /* default KH_DNS_DGA_THRESHOLD */
    unsigned dga_min;      /* distinct DGA-scored names that flag a client alone (default 3) */
    unsigned nx_burst;     /* NXDOMAIN answers within nx_window_s that make a burst (20) */
    unsigned nx_window_s;  /* seconds (60) */
    unsigned max_names;    /* names kept per client in the report (default 32) */
    unsigned dga_cache;    /* distinct names whose score is remembered (default 1<<20) */
    int dga_sets;          /* test each client's NXDOMAIN names as a set (default 1; needs a
                              model with set thresholds at dga_set_fpr, version 3) */
    double dga_set_fpr;    /* share of benign sets the test may flag: a level the model holds
                              (kh_dns_dga_set_levels; trained ones: 0.001, the default, and 0.0001);
                              another one: no set test */
    unsigned dga_set_window_s; /* a set's names are at most this many seconds apart (86400) */
} kh_dns_analyzer_opts;

KH_API void kh_dns_analyzer_opts_default(kh_dns_analyzer_opts *out_opts);

/*
 * Create an analyzer. set, model: borrowed, must outlive the analyzer; model may be NULL (no
 * DGA scoring); set may be NULL (DGA only). opts: copied; NULL for defaults. *out_an: owned.
 * Returns KH_OK, KH_ENOMEM.
 */
KH_API kh_err kh_dns_analyzer_create(const kh_dns_indset *set, const kh_dns_dga *model,
                                     const kh_dns_analyzer_opts *opts, kh_dns_analyzer **out_an);
KH_API void kh_dns_analyzer_destroy(kh_dns_analyzer *an);
/* Account one record. rec: borrowed for the call. Returns KH_OK or KH_ENOMEM. */
KH_API kh_err kh_dns_analyzer_feed(kh_dns_analyzer *an, const kh_dns_rec *rec);
/*
 * Be told of every name the set test makes a DGA hit, as it happens (khien dns watch): fn gets
 * the client's address, the name and its score (borrowed for the call). NULL fn: no calls.
 */
typedef void (*kh_dns_set_hit_fn)(void *ud, const char *client, const char *name, double score);
KH_API void kh_dns_analyzer_on_set_hit(kh_dns_analyzer *an, kh_dns_set_hit_fn fn, void *ud);
/* Add everything src has seen into dst (parallel runs, one analyzer per thread). */
KH_API kh_err kh_dns_analyzer_merge(kh_dns_analyzer *dst, const kh_dns_analyzer *src);

typedef struct kh_dns_hit {
    const char *name;   /* the query name (a listed domain or one of its subdomains) */
    const char *family; /* indicator family, "dga" for a DGA-scored name */
    double score;       /* DGA score, or 1 for an indicator hit */
    uint64_t count;     /* queries for it (for a name the set test found: its NXDOMAIN
                           answers, as its queries came before it was a hit) */
} kh_dns_hit;

typedef struct kh_dns_client {
    const char *client;          /* address as in the log */
    int64_t first_ms, last_ms;   /* first/last record of the client, -1 if no times */
    uint64_t queries, nxdomain;  /* queries, NXDOMAIN answers */
    uint64_t hit_queries;        /* queries that hit an indicator */
    uint64_t dga_names;          /* distinct names scored as DGA (beyond max_names: records) */
    uint32_t nx_burst_max;       /* most NXDOMAIN within one window */
    uint64_t dga_sets;           /* sets of NXDOMAIN names that together looked generated */
    int infected;                /* indicator hit, DGA names and a burst/dga_min, or a DGA set */
    const char *const *families; /* distinct families, nfamilies of them */
    size_t nfamilies;
    const kh_dns_hit *hits;      /* up to max_names hit names */
    size_t nhits;
    uint64_t hits_dropped;       /* hit records whose name was not kept (beyond max_names) */
} kh_dns_client;

typedef struct kh_dns_summary {
    uint64_t records, queries, clients, infected_clients, hit_queries, dga_names, nxdomain;
    uint64_t names_scored;
} kh_dns_summary;

/*
 * Visit clients (all, or only infected ones) in order of first appearance. c and everything
 * it points to are borrowed for the call. A non-zero return stops the walk.
 */
typedef int (*kh_dns_client_fn)(void *ud, const kh_dns_client *c);
KH_API void kh_dns_analyzer_foreach(const kh_dns_analyzer *an, int infected_only,
                                    kh_dns_client_fn fn, void *ud);
KH_API void kh_dns_analyzer_get_summary(const kh_dns_analyzer *an, kh_dns_summary *out_sum);

/* ---- RPZ output ---- */

typedef struct kh_dns_rpz_opts {
    const char *origin;   /* zone apex, default "rpz.khien.local" */
    const char *sinkhole; /* NULL: action NXDOMAIN ("CNAME ."); else an IPv4/IPv6 address */
    uint32_t serial;      /* 0: seconds since 1970 */
    uint32_t ttl;         /* default 300 */
} kh_dns_rpz_opts;

/*
 * Write an RPZ zone of the domain indicators of set: SOA, NS, then "name" and "*.name" per
 * domain with the action, and "rpz-passthru." for each allow-list name. path: borrowed;
 * written atomically. opts may be NULL. *out_count (may be NULL) gets the domains written.
 * Returns KH_OK, KH_EINVAL (bad origin or sinkhole), KH_EIO, KH_ENOMEM.
 */
KH_API kh_err kh_dns_rpz_write(const kh_dns_indset *set, const kh_dns_rpz_opts *opts,
                               const char *path, uint64_t *out_count);

#ifdef __cplusplus
}
#endif
#endif
