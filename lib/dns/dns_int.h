/*
 * dns_int.h - what the files of lib/dns share: the suffix hash, the parser entry points of
 * each log format and the small text helpers they use.
 *
 * A parser takes one line (no newline, bounded length) and fills a kh_dns_rec whose pointers
 * borrow the line or the parser's state; it never allocates in the common case.
 */
#ifndef KHI_DNS_INT_H
#define KHI_DNS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <khien/dns.h>
#include "core/core.h"

/* Longest log line accepted; longer ones are counted as malformed and skipped. */
#define KHI_DNS_LINE_MAX 65536
/* Most fields a tabular (Zeek, CSV) line may have. */
#define KHI_DNS_FIELDS_MAX 64

/* ---- names and hashing (dns_name.c) ---- */

/* Lower-case ASCII table. */
extern const unsigned char khi_dns_lower[256];

/*
 * The hash of a name is computed right to left so that one pass over a query name yields the
 * hash of every parent at once. Feed bytes from the last to the first with khi_dns_hstep and
 * finish each suffix with khi_dns_hfin.
 */
#define KHI_DNS_HSEED 0xcbf29ce484222325ULL
static inline uint64_t khi_dns_hstep(uint64_t h, unsigned char c)
{
    return (h ^ c) * 0x100000001b3ULL;
}
static inline uint64_t khi_dns_hfin(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
/* Hash of a whole (already lower-case) name. */
uint64_t khi_dns_hash(const char *s, size_t n);

/* Quick lower-casing + trailing-dot removal into out (cap KH_DNS_NAME_MAX+1) without IDNA;
 * returns the length or 0 when the name is empty or too long. */
size_t khi_dns_fold(const char *in, size_t n, char *out);

/*
 * Sets of names (the analyzer's per-client test): the log-odds of a score, bounded to
 * [-KHI_DGA_LOGIT_MAX, KHI_DGA_LOGIT_MAX]; the set's statistic, the mean log-odds of its k
 * names without the largest (sum, max: of the k log-odds), so that no single odd name decides
 * a set; and the threshold for k names at a level (NAN when the model has no such level or k
 * is outside KHI_DGA_SET_MIN..KHI_DGA_SET_MAX).
 */
#define KHI_DGA_LOGIT_MAX 10.0
#define KHI_DGA_SET_MIN 5
#define KHI_DGA_SET_MAX 32
/* names of one set that differ only in their digits and make it pass alone (dns_detect.c) */
#define KHI_DGA_COUNTER_MIN 5
/* FPR levels a model holds thresholds for (training makes 0.001 and 0.0001) */
#define KHI_DGA_SET_LEVELS 2
double khi_dga_logit(double score);
double khi_dga_set_stat(double sum, double max, unsigned k);
/* The index of the model's thresholds for a share of benign sets flagged; -1 when absent. */
int khi_dga_set_level(const kh_dns_dga *m, double fpr);
double khi_dga_set_threshold(const kh_dns_dga *m, int level, unsigned k);

/* The parent-domain walk of kh_dns_indset_match: 1 listed, 0 not listed, -1 allowed (dns_ind.c). */
int khi_dns_ind_walk(const kh_dns_indset *s, const char *qname, size_t qlen, const char **out_family,
                     const char **out_domain, size_t *out_domain_len);

/* ---- byte sources: files (plain or gzip/zstd/xz/bzip2 via libarchive) and memory (dns_io.c) ---- */

typedef struct khi_dns_in khi_dns_in;

/* Open path ("-" = standard input); compressed files are decompressed. *out owned. */
kh_err khi_dns_in_open(const char *path, khi_dns_in **out);
/* Read from borrowed memory. */
kh_err khi_dns_in_open_mem(const void *data, size_t len, khi_dns_in **out);
/* Up to cap bytes into buf; *out_n = 0 at end of input. */
kh_err khi_dns_in_read(khi_dns_in *in, void *buf, size_t cap, size_t *out_n);
void khi_dns_in_close(khi_dns_in *in);
/* Size of a plain file now; KH_EINVAL for other sources (stdin, compressed, memory). */
kh_err khi_dns_in_size(khi_dns_in *in, uint64_t *out_size);
/* Skip to the current end of a plain file (follow from now on); KH_EINVAL for other sources. */
kh_err khi_dns_in_seek_end(khi_dns_in *in);
/* Go to byte off of a plain file (KH_EINVAL for memory, standard input, compressed input). */
kh_err khi_dns_in_seek(khi_dns_in *in, uint64_t off);
/* What khi_dns_in_rotation found. */
enum { KHI_DNS_ROT_NONE = 0, KHI_DNS_ROT_TRUNCATED, KHI_DNS_ROT_REPLACED };
/*
 * Has the plain file behind in been rotated? KHI_DNS_ROT_TRUNCATED: it is now shorter than what
 * was read (copytruncate); in is rewound to its start. KHI_DNS_ROT_REPLACED: path (borrowed)
 * now names another regular file that is not empty (rename and create); read in to its end,
 * then khi_dns_in_reopen. KH_EINVAL for other sources, or an errno-mapped error.
 */
kh_err khi_dns_in_rotation(khi_dns_in *in, const char *path, int *out_what);
/* Read the file now at path (borrowed) from its start instead of the one open. */
kh_err khi_dns_in_reopen(khi_dns_in *in, const char *path);
/* Whole input into a new NUL-terminated buffer (khi_free); KH_ELIMIT past limit bytes. */
kh_err khi_dns_read_all(const char *path, size_t limit, char **out_data, size_t *out_len);

/* ---- log parsing (dns_log*.c) ---- */

/* Per-reader parser state (formats with headers keep column positions here). */
typedef struct khi_dns_pstate {
    int cols[8];  /* column index of ts, client, qname, qtype, rcode, rcode_name, ... or -1 */
    int have_cols;
    int eve_tried;
    char scratch[1024]; /* decoded copies (Windows names, JSON strings) */
    char scratch2[128];
    char scratch3[64];
    struct khi_dns_tap *tap; /* dnstap only: protobuf arena and Frame Streams state (owned) */
} khi_dns_pstate;

enum { KHI_COL_TS, KHI_COL_CLIENT, KHI_COL_QNAME, KHI_COL_QTYPE, KHI_COL_RCODE, KHI_COL_RCODE_NAME,
       KHI_COL_PORT, KHI_COL_NCOLS };

/* Result of parsing one line. */
enum { KHI_PARSE_REC = 0, KHI_PARSE_IGNORE = 1, KHI_PARSE_BAD = -1 };

/*
 * One parser per format: line/len is the line (no newline); on KHI_PARSE_BAD *why names the
 * problem (static string).
 */
typedef int (*khi_dns_parse_fn)(khi_dns_pstate *st, const char *line, size_t len,
                                kh_dns_rec *rec, const char **why);

int khi_dns_parse_bind(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
int khi_dns_parse_unbound(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
int khi_dns_parse_dnsmasq(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
int khi_dns_parse_zeek(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
int khi_dns_parse_eve(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
/* The same with jansson only: the reference the fast EVE reader falls back to and is tested on. */
int khi_dns_parse_eve_jansson(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec,
                              const char **why);
int khi_dns_parse_windows(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
int khi_dns_parse_pdns(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
int khi_dns_parse_csv(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);
/* dnstap: "line" is the payload of one Frame Streams data frame (a Dnstap protobuf message). */
int khi_dns_parse_dnstap(khi_dns_pstate *st, const char *line, size_t len, kh_dns_rec *rec, const char **why);

/* The parser of a format (never AUTO). */
khi_dns_parse_fn khi_dns_parser(kh_dns_format fmt);

/* ---- dnstap: Frame Streams framing and the protobuf payload (dns_log_dnstap.c) ---- */

/* Largest Frame Streams frame accepted (data or control); bigger ones are skipped and counted. */
#define KHI_DNS_FRAME_MAX 65536
/* The only content type read. */
#define KHI_DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"

/* What starts a Frame Streams buffer (khi_dns_fs_split). */
enum { KHI_FS_MORE = 0, KHI_FS_DATA, KHI_FS_CONTROL, KHI_FS_TOO_BIG };
/*
 * Look at the frame at the head of p/n: KHI_FS_MORE when its header or payload is not all
 * there yet, else its kind with *out_hdr (4 for a data frame, 8 for an escaped control frame)
 * and *out_len (payload bytes; for KHI_FS_TOO_BIG the bytes to skip after the header).
 */
int khi_dns_fs_split(const unsigned char *p, size_t n, size_t *out_hdr, size_t *out_len);
/* The dnstap state of a parser state (allocated once; KH_ENOMEM) and its release. */
kh_err khi_dns_tap_prepare(khi_dns_pstate *st);
void khi_dns_tap_cleanup(khi_dns_pstate *st);
/*
 * A control frame of a Frame Streams file (payload, no escape/length): START with another
 * content type makes the data frames up to STOP ignored. Returns KHI_PARSE_IGNORE, or
 * KHI_PARSE_BAD with *why when it does not decode.
 */
int khi_dns_tap_control(khi_dns_pstate *st, const unsigned char *p, size_t len, const char **why);

/* ---- dnstap receiver: a Unix or TCP socket that resolvers connect to (dns_dnstap_sock.c) ---- */

typedef struct khi_dns_tapsrv khi_dns_tapsrv;
/* endpoint "unix:PATH" or "tcp:HOST:PORT" ("tcp:[::1]:6000"). *out owned. KH_EINVAL (bad
 * endpoint), KH_EEXIST (PATH exists and is not a socket), KH_EIO/KH_EACCES (bind, listen). */
kh_err khi_dns_tapsrv_open(const char *endpoint, khi_dns_tapsrv **out);
/* Events of khi_dns_tapsrv_next. */
enum { KHI_TAP_STOP = 0, KHI_TAP_DATA, KHI_TAP_CONTROL, KHI_TAP_BAD };
/*
 * Wait for the next event of any connection: KHI_TAP_DATA with the payload of a data frame
 * (*out_frame, *out_len: borrowed until the next call), KHI_TAP_CONTROL (a handshake frame,
 * answered), KHI_TAP_BAD (*out_why: an oversized frame, a protocol error; the connection is
 * closed for the latter), or KHI_TAP_STOP once *stop is non-zero and what had arrived by then
 * is read (bounded: 1,024 polls that do not wait). Returns KH_OK or KH_EIO.
 */
kh_err khi_dns_tapsrv_next(khi_dns_tapsrv *s, volatile int *stop, int *out_kind, const unsigned char **out_frame,
                           size_t *out_len, const char **out_why);
/* nowait != 0: next returns KHI_TAP_STOP as soon as nothing is there to read (fuzzing). */
void khi_dns_tapsrv_set_nowait(khi_dns_tapsrv *s, int nowait);
/* Close every connection and the listener (a Unix socket file is removed); NULL accepted. */
void khi_dns_tapsrv_close(khi_dns_tapsrv *s);

/* ---- wire-format DNS messages (dns_wire.c) ---- */

/* Room for a name in presentation form: 255 wire octets, at most 4 characters each. */
#define KHI_DNS_WIRE_NAME_CAP 1024

typedef struct khi_dns_wire_q {
    uint16_t id, flags, qtype, qclass;
    int is_response; /* QR bit */
    int rcode;       /* the header's 4-bit RCODE */
    size_t name_len;
} khi_dns_wire_q;

/*
 * The name at off of the message msg/len into out (cap bytes, NUL-terminated, presentation
 * form, no trailing dot, "." for the root). *out_end: the offset after the name where it
 * stood (after the first compression pointer if any). Returns 0, or -1 with *why.
 */
int khi_dns_wire_name(const unsigned char *msg, size_t len, size_t off, char *out, size_t cap, size_t *out_len,
                      size_t *out_end, const char **why);
/* Header and first question of a message; the name goes to name/cap as above. 0 or -1 + *why. */
int khi_dns_wire_question(const unsigned char *msg, size_t len, char *name, size_t cap, khi_dns_wire_q *out,
                          const char **why);
/* "A", "AAAA", ... or "TYPE65280" into out (cap >= 10); returns its length. */
size_t khi_dns_qtype_name(unsigned type, char *out, size_t cap);

/* ---- helpers (dns_log.c) ---- */

/* Find needle in [s, s+n); NULL when absent. */
static inline const char *khi_dns_find(const char *s, size_t n, const char *needle, size_t nl)
{
    return memmem(s, n, needle, nl);
}
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t khi_dns_days(int64_t y, unsigned m, unsigned d);
/* Month number 1-12 of a three-letter English abbreviation, 0 if none. */
unsigned khi_dns_month(const char *s);
/* Parse "1700000000.123" (seconds, optional fraction) into ms; -1 on junk. */
int64_t khi_dns_epoch_ms(const char *s, size_t n);
/* Parse ISO 8601 "2026-11-25T08:35:01.123456+0000" / "Z" / "+07:00" into ms; -1 on junk. */
int64_t khi_dns_iso_ms(const char *s, size_t n);
/* "NOERROR" -> 0, "NXDOMAIN" -> 3, ... or a decimal number; -1 if unknown. */
int khi_dns_rcode(const char *s, size_t n);
/* Strip a port from an address: "1.2.3.4#53" "1.2.3.4:53" "[::1]:53" "1.2.3.4/53".
 * Adjusts *s and *n. */
void khi_dns_strip_port(const char **s, size_t *n);
/* A name as it appears in a log is plausible (non-empty, bounded, no spaces/controls). */
int khi_dns_plausible_name(const char *s, size_t n);
/* Time of a syslog prefix "Nov 25 08:35:01" at s (no year: the current year is assumed);
 * -1 if s does not start with one. */
int64_t khi_dns_syslog_ms(const char *s, size_t n);
/* Skip blanks; next blank-separated token of [*p, e) into *tok, *tl; 0 when none. */
static inline int khi_dns_token(const char **p, const char *e, const char **tok, size_t *tl)
{
    const char *q = *p;
    while (q < e && (*q == ' ' || *q == '\t'))
        q++;
    if (q >= e)
        return 0;
    const char *t = q;
    while (q < e && *q != ' ' && *q != '\t')
        q++;
    *tok = t;
    *tl = (size_t)(q - t);
    *p = q;
    return 1;
}
/* A plausible address (hex digits, '.', ':', and IPv6 scope). */
int khi_dns_plausible_addr(const char *s, size_t n);

#endif
