/*
 * dns_log.c - the log reader: blocks of bytes in, one kh_dns_rec per query line out.
 *
 * The reader keeps one large buffer and hands each parser a line found with memchr; nothing
 * is allocated per line. Lines longer than KHI_DNS_LINE_MAX are skipped whole and counted as
 * malformed, as is every line the parser rejects; the first few of those are passed to the
 * diag callback with the input name and line number, and the run goes on. The format is
 * either named or guessed from the first 64 KiB (kh_dns_format_detect). The time and address
 * helpers the parsers share live here too.
 *
 * dnstap is binary: its reader splits Frame Streams frames instead of lines (next_frame) from
 * the same buffer, skipping frames over KHI_DNS_FRAME_MAX with a count, or takes the frames a
 * socket receiver hands it (kh_dns_reader_open_dnstap, dns_dnstap_sock.c). Each data frame is
 * a "line" of the dnstap parser; the counters count frames as lines.
 */
#include "dns/dns_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1 << 20)
#define DIAG_MAX 10

struct kh_dns_reader {
    khi_dns_in *in;
    char *name;
    kh_dns_format fmt;
    khi_dns_parse_fn parse;
    khi_dns_pstate *st;
    char *buf;
    size_t cap, start, end;
    int eof, detected, skipping;
    uint64_t lineno;
    kh_dns_reader_stats stats;
    kh_dns_diag_fn diag;
    void *ud;
    uint64_t diags;
    int follow;
    volatile int *stop;
    uint64_t skip_left;   /* dnstap: bytes of an oversized frame still to skip */
    uint64_t quiet_until; /* dnstap followed from the end: data frames before this offset dropped */
    khi_dns_tapsrv *srv;  /* dnstap: frames from a socket instead of in */
    /* a part of a file (kh_dns_reader_open_part): reading began at file offset origin; lines
     * starting at or past offset limit belong to the next part, and with part_skip the bytes up
     * to the first newline to the part before */
    int limited, part_skip;
    uint64_t origin, limit, read_total;
};

static const char *const fmt_names[KH_DNS_FMT_COUNT] = {
    "auto", "bind", "unbound", "dnsmasq", "zeek", "eve", "windows", "pdns", "csv", "dnstap",
};

const char *kh_dns_format_name(kh_dns_format fmt)
{
    return (unsigned)fmt < KH_DNS_FMT_COUNT ? fmt_names[fmt] : "?";
}

kh_err kh_dns_format_parse(const char *name, kh_dns_format *out)
{
    if (!name || !out)
        return KH_EINVAL;
    for (unsigned i = 0; i < KH_DNS_FMT_COUNT; i++)
        if (strcasecmp(name, fmt_names[i]) == 0) {
            *out = (kh_dns_format)i;
            return KH_OK;
        }
    if (strcasecmp(name, "suricata") == 0) {
        *out = KH_DNS_FMT_EVE;
        return KH_OK;
    }
    if (strcasecmp(name, "powerdns") == 0) {
        *out = KH_DNS_FMT_PDNS;
        return KH_OK;
    }
    return KH_EINVAL;
}

khi_dns_parse_fn khi_dns_parser(kh_dns_format fmt)
{
    switch (fmt) {
    case KH_DNS_FMT_BIND: return khi_dns_parse_bind;
    case KH_DNS_FMT_UNBOUND: return khi_dns_parse_unbound;
    case KH_DNS_FMT_DNSMASQ: return khi_dns_parse_dnsmasq;
    case KH_DNS_FMT_ZEEK: return khi_dns_parse_zeek;
    case KH_DNS_FMT_EVE: return khi_dns_parse_eve;
    case KH_DNS_FMT_WINDOWS: return khi_dns_parse_windows;
    case KH_DNS_FMT_PDNS: return khi_dns_parse_pdns;
    case KH_DNS_FMT_CSV: return khi_dns_parse_csv;
    case KH_DNS_FMT_DNSTAP: return khi_dns_parse_dnstap;
    default: return NULL;
    }
}

/* ---- detection ---- */

#define HAS(s) (memmem(p, n, (s), sizeof(s) - 1) != NULL)

static kh_dns_format detect_line(const char *p, size_t n)
{
    while (n && (p[n - 1] == '\r'))
        n--;
    if (n == 0)
        return KH_DNS_FMT_AUTO;
    if (p[0] == '{') {
        if (HAS("\"event_type\""))
            return KH_DNS_FMT_EVE;
        if (HAS("\"qname\""))
            return KH_DNS_FMT_PDNS;
        return KH_DNS_FMT_AUTO;
    }
    if ((n >= 10 && memcmp(p, "#separator", 10) == 0) || (n >= 7 && memcmp(p, "#fields", 7) == 0))
        return KH_DNS_FMT_ZEEK;
    if (HAS("DNS Server log") || HAS("Message logging key") || (HAS(" PACKET ") && (HAS(" Rcv ") || HAS(" Snd "))))
        return KH_DNS_FMT_WINDOWS;
    if (HAS("msg=\"") && HAS("qname="))
        return KH_DNS_FMT_PDNS;
    if (HAS(" query: ") && HAS("client "))
        return KH_DNS_FMT_BIND;
    if (HAS("dnsmasq[") || HAS("dnsmasq:") || HAS(" query["))
        return KH_DNS_FMT_DNSMASQ;
    if (HAS("unbound[") || HAS("unbound:"))
        return KH_DNS_FMT_UNBOUND;
    if (memchr(p, ',', n) && (HAS("qname") || HAS("query") || HAS("domain")) && (HAS("client") || HAS("src")))
        return KH_DNS_FMT_CSV;
    return KH_DNS_FMT_AUTO;
}

/* A Frame Streams file of dnstap: escape, control length, START, content type field. */
static int is_dnstap(const char *text, size_t len)
{
    const unsigned char *b = (const unsigned char *)text;
    if (len < 12 || b[0] || b[1] || b[2] || b[3])
        return 0;
    size_t cl = (size_t)b[4] << 24 | (size_t)b[5] << 16 | (size_t)b[6] << 8 | b[7];
    if (cl < 4 || cl > 512 || memcmp(b + 8, "\0\0\0\2", 4) != 0)
        return 0;
    size_t n = cl + 8 < len ? cl + 8 : len;
    return memmem(b + 12, n - 12, KHI_DNSTAP_CONTENT_TYPE, sizeof(KHI_DNSTAP_CONTENT_TYPE) - 1) != NULL;
}

kh_dns_format kh_dns_format_detect(const char *text, size_t len)
{
    if (text && is_dnstap(text, len))
        return KH_DNS_FMT_DNSTAP;
    const char *p = text, *e = text + len;
    int csv_like = 0, lines = 0;
    while (p < e && lines < 50) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t n = (size_t)((nl ? nl : e) - p);
        kh_dns_format f = detect_line(p, n);
        if (f != KH_DNS_FMT_AUTO)
            return f;
        /* a CSV without a header: time,addr,name,... */
        if (n && memchr(p, ',', n) && !memchr(p, ' ', n))
            csv_like++;
        lines++;
        p = nl ? nl + 1 : e;
    }
    return csv_like && csv_like == lines ? KH_DNS_FMT_CSV : KH_DNS_FMT_AUTO;
}

/* ---- the reader ---- */

static kh_err reader_new(const char *name, khi_dns_in *in, kh_dns_format fmt, kh_dns_reader **out)
{
    kh_dns_reader *r = khi_calloc(1, sizeof(*r));
    if (!r) {
        khi_dns_in_close(in);
        return KH_ENOMEM;
    }
    r->in = in;
    r->fmt = fmt;
    r->cap = BLOCK + KHI_DNS_LINE_MAX;
    r->buf = in ? khi_malloc(r->cap) : NULL; /* a socket reader keeps its frames per connection */
    r->name = khi_strdup(name);
    r->st = khi_calloc(1, sizeof(*r->st));
    if ((in && !r->buf) || !r->name || !r->st) {
        kh_dns_reader_destroy(r);
        return KH_ENOMEM;
    }
    if (fmt != KH_DNS_FMT_AUTO) {
        r->parse = khi_dns_parser(fmt);
        r->detected = 1;
        if (!r->parse) {
            kh_dns_reader_destroy(r);
            return KH_EINVAL;
        }
        if (fmt == KH_DNS_FMT_DNSTAP && khi_dns_tap_prepare(r->st) != KH_OK) {
            kh_dns_reader_destroy(r);
            return KH_ENOMEM;
        }
    }
    *out = r;
    return KH_OK;
}

kh_err kh_dns_reader_open(const char *path, kh_dns_format fmt, kh_dns_reader **out_r)
{
    if (!path || !out_r || (unsigned)fmt >= KH_DNS_FMT_COUNT)
        return KH_EINVAL;
    *out_r = NULL;
    khi_dns_in *in = NULL;
    kh_err err = khi_dns_in_open(path, &in);
    if (err != KH_OK)
        return err;
    return reader_new(strcmp(path, "-") == 0 ? "stdin" : path, in, fmt, out_r);
}

kh_err kh_dns_reader_open_mem(const char *name, const void *data, size_t len, kh_dns_format fmt,
                              kh_dns_reader **out_r)
{
    if (!out_r || (!data && len) || (unsigned)fmt >= KH_DNS_FMT_COUNT)
        return KH_EINVAL;
    *out_r = NULL;
    khi_dns_in *in = NULL;
    kh_err err = khi_dns_in_open_mem(data, len, &in);
    if (err != KH_OK)
        return err;
    return reader_new(name ? name : "memory", in, fmt, out_r);
}

static kh_err detect(kh_dns_reader *r);
static kh_err fill(kh_dns_reader *r);

/* The header lines a file starts with (Zeek's #separator/#fields, a CSV header row) through the
 * parser, up to its first record, so that a part read from the middle parses as the whole file
 * would. What this reads is not counted and not reported. */
static void prime_header(kh_dns_reader *r)
{
    kh_dns_rec rec;
    const char *p = r->buf + r->start, *e = r->buf + r->end;
    for (unsigned n = 0; p < e && n < 64; n++) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl)
            break;
        size_t len = (size_t)(nl - p);
        if (len && p[len - 1] == '\r')
            len--;
        const char *why = NULL;
        memset(&rec, 0, sizeof(rec));
        if (len && r->parse(r->st, p, len, &rec, &why) == KHI_PARSE_REC)
            break;
        p = nl + 1;
    }
}

kh_err kh_dns_reader_open_part(const char *path, kh_dns_format fmt, unsigned part, unsigned nparts,
                               kh_dns_reader **out_r)
{
    if (!path || !out_r || (unsigned)fmt >= KH_DNS_FMT_COUNT || fmt == KH_DNS_FMT_DNSTAP ||
        part >= nparts || strcmp(path, "-") == 0)
        return KH_EINVAL;
    *out_r = NULL;
    khi_dns_in *in = NULL;
    kh_err err = khi_dns_in_open(path, &in);
    if (err != KH_OK)
        return err;
    uint64_t size = 0;
    err = khi_dns_in_size(in, &size); /* KH_EINVAL for a compressed file */
    if (err != KH_OK) {
        khi_dns_in_close(in);
        return err;
    }
    kh_dns_reader *r = NULL;
    err = reader_new(path, in, fmt, &r);
    if (err != KH_OK)
        return err;
    if (!r->detected) {
        err = detect(r);
        if (err == KH_OK && !r->detected)
            err = KH_EFORMAT; /* empty */
        if (err == KH_OK && r->fmt == KH_DNS_FMT_DNSTAP)
            err = KH_EINVAL;
        if (err != KH_OK)
            goto out;
    } else {
        while (!r->eof && r->end < 65536 && (err = fill(r)) == KH_OK) {
        }
        if (err != KH_OK)
            goto out;
    }
    if (part > 0)
        prime_header(r);
    uint64_t from = size / nparts * part + size % nparts * part / nparts;
    r->limit = size / nparts * (part + 1) + size % nparts * (part + 1) / nparts;
    /* from one byte early: if that byte ends a line, the part's first line starts at from */
    r->origin = from ? from - 1 : 0;
    r->part_skip = from > 0;
    r->limited = 1;
    err = khi_dns_in_seek(r->in, r->origin);
    if (err != KH_OK)
        goto out;
    r->start = r->end = 0;
    r->eof = 0;
    r->read_total = 0;
    memset(&r->stats, 0, sizeof(r->stats));
out:
    if (err != KH_OK) {
        kh_dns_reader_destroy(r);
        return err;
    }
    *out_r = r;
    return KH_OK;
}

kh_err kh_dns_reader_open_dnstap(const char *endpoint, kh_dns_reader **out_r)
{
    if (!endpoint || !out_r)
        return KH_EINVAL;
    *out_r = NULL;
    khi_dns_tapsrv *srv = NULL;
    kh_err err = khi_dns_tapsrv_open(endpoint, &srv);
    if (err != KH_OK)
        return err;
    kh_dns_reader *r = NULL;
    err = reader_new(endpoint, NULL, KH_DNS_FMT_DNSTAP, &r);
    if (err != KH_OK) {
        khi_dns_tapsrv_close(srv);
        return err;
    }
    r->srv = srv;
    *out_r = r;
    return KH_OK;
}

static kh_err detect(kh_dns_reader *r);

kh_err kh_dns_reader_set_follow(kh_dns_reader *r, int follow, volatile int *stop_flag)
{
    if (!r)
        return KH_EINVAL;
    if (r->srv) { /* a socket: always live, nothing to skip */
        r->stop = stop_flag;
        return KH_OK;
    }
    if (follow == 2) {
        /* detect from what the file holds now; dnstap cannot start at an arbitrary byte, so its
         * frames up to the present end are read and dropped (next_frame) instead of seeking */
        uint64_t size = 0;
        kh_err err = khi_dns_in_size(r->in, &size);
        if (err != KH_OK)
            return err;
        if (!r->detected) {
            err = detect(r);
            r->eof = 0;
            if (err != KH_OK && err != KH_EFORMAT)
                return err;
        }
        if (r->fmt == KH_DNS_FMT_DNSTAP) {
            r->quiet_until = size;
        } else {
            err = khi_dns_in_seek_end(r->in);
            if (err != KH_OK)
                return err;
            r->start = r->end = 0;
            r->stats.bytes = 0;
        }
    }
    r->follow = follow != 0;
    r->stop = stop_flag;
    return KH_OK;
}

void kh_dns_reader_set_diag(kh_dns_reader *r, kh_dns_diag_fn fn, void *ud)
{
    if (!r)
        return;
    r->diag = fn;
    r->ud = ud;
}

kh_dns_format kh_dns_reader_format(const kh_dns_reader *r)
{
    return r ? r->fmt : KH_DNS_FMT_AUTO;
}

void kh_dns_reader_get_stats(const kh_dns_reader *r, kh_dns_reader_stats *out)
{
    if (r && out)
        *out = r->stats;
}

void kh_dns_reader_destroy(kh_dns_reader *r)
{
    if (!r)
        return;
    khi_dns_in_close(r->in);
    khi_dns_tapsrv_close(r->srv);
    khi_free(r->buf);
    khi_free(r->name);
    khi_dns_tap_cleanup(r->st);
    khi_free(r->st);
    khi_free(r);
}

/*
 * At the end of a followed file: has it been rotated (dns_io.c)? Returns 0 when not, -1 when
 * the reader now reads the truncated or new file, 1 when bytes were added to buf (what the
 * writer put last in the old file, or the newline that ends a last line the old file left open).
 */
static int rotation(kh_dns_reader *r)
{
    int rot = KHI_DNS_ROT_NONE;
    if (khi_dns_in_rotation(r->in, r->name, &rot) != KH_OK || rot == KHI_DNS_ROT_NONE)
        return 0;
    if (rot == KHI_DNS_ROT_REPLACED) {
        size_t got = 0;
        if (khi_dns_in_read(r->in, r->buf + r->end, r->cap - r->end, &got) == KH_OK && got) {
            r->end += got;
            r->stats.bytes += got;
            return 1;
        }
        if (khi_dns_in_reopen(r->in, r->name) != KH_OK)
            return 0; /* gone again between stat and open: next poll */
    }
    r->skip_left = 0;   /* an oversized dnstap frame of the old file ends there */
    r->quiet_until = 0; /* and nothing of the new file predates the watch */
    if (r->end > 0) {
        if (r->fmt == KH_DNS_FMT_DNSTAP) {
            r->end = 0; /* a frame cut short: the new file starts with its own START */
        } else if (r->end < r->cap) {
            r->buf[r->end++] = '\n'; /* a last line without its newline ends here */
            return 1;
        }
    }
    return -1;
}

/* Read more bytes after compacting; sets eof. */
static kh_err fill(kh_dns_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    for (;;) {
        size_t got = 0;
        kh_err err = khi_dns_in_read(r->in, r->buf + r->end, r->cap - r->end, &got);
        if (err != KH_OK) {
            r->eof = 1;
            return err;
        }
        if (got) {
            r->end += got;
            r->stats.bytes += got;
            r->read_total += got;
            return KH_OK;
        }
        if (!r->follow || (r->stop && *r->stop)) {
            r->eof = 1;
            return KH_OK;
        }
        int rot = rotation(r);
        if (rot > 0)
            return KH_OK;
        if (rot < 0)
            continue;
        usleep(200000);
        if (r->stop && *r->stop) {
            r->eof = 1;
            return KH_OK;
        }
    }
}

static void report(kh_dns_reader *r, const char *why)
{
    r->stats.malformed++;
    if (r->diag && r->diags++ < DIAG_MAX)
        r->diag(r->ud, r->name, r->lineno, why);
}

static kh_err detect(kh_dns_reader *r)
{
    while (!r->eof && r->end < 65536) {
        kh_err err = fill(r);
        if (err != KH_OK)
            return err;
        if (r->follow && r->end > 0)
            break;
    }
    kh_dns_format f = kh_dns_format_detect(r->buf + r->start, r->end - r->start);
    if (f == KH_DNS_FMT_AUTO)
        return r->end == 0 ? KH_OK : KH_EFORMAT;
    if (f == KH_DNS_FMT_DNSTAP && khi_dns_tap_prepare(r->st) != KH_OK)
        return KH_ENOMEM;
    r->fmt = f;
    r->parse = khi_dns_parser(f);
    r->detected = 1;
    return KH_OK;
}

/* One data frame through the parser, as a line is: 1 with a record, 0 when skipped. */
static int parse_frame(kh_dns_reader *r, const unsigned char *p, size_t len, kh_dns_rec *rec)
{
    const char *why = "does not parse";
    memset(rec, 0, sizeof(*rec));
    rec->time_ms = -1;
    rec->rcode = -1;
    rec->is_query = 1;
    int rc = r->parse(r->st, (const char *)p, len, rec, &why);
    if (rc == KHI_PARSE_REC) {
        r->stats.records++;
        return 1;
    }
    if (rc == KHI_PARSE_IGNORE)
        r->stats.ignored++;
    else
        report(r, why);
    return 0;
}

/* dnstap from a file or memory: the next record of the Frame Streams frames in buf. */
static kh_err next_frame(kh_dns_reader *r, kh_dns_rec *rec, int *out_have)
{
    for (;;) {
        size_t avail = r->end - r->start;
        if (r->skip_left) {
            size_t k = avail < r->skip_left ? avail : (size_t)r->skip_left;
            r->start += k;
            r->skip_left -= k;
            avail -= k;
        }
        size_t hdr = 0, len = 0;
        const unsigned char *p = (const unsigned char *)r->buf + r->start;
        int kind = r->skip_left ? KHI_FS_MORE : khi_dns_fs_split(p, avail, &hdr, &len);
        if (kind == KHI_FS_MORE) {
            if (r->eof) {
                if (avail && !r->skip_left) {
                    r->lineno++;
                    r->stats.lines++;
                    report(r, "dnstap: frame cut short at the end of the input");
                }
                r->start = r->end;
                return KH_OK;
            }
            kh_err err = fill(r);
            if (err != KH_OK)
                return err;
            continue;
        }
        if (kind == KHI_FS_DATA && r->quiet_until &&
            r->stats.bytes - (r->end - r->start) + hdr + len <= r->quiet_until) {
            r->start += hdr + len; /* written before watch started */
            continue;
        }
        r->lineno++;
        r->stats.lines++;
        if (kind == KHI_FS_TOO_BIG) {
            report(r, "dnstap: frame larger than 64 KiB skipped");
            r->start += hdr;
            r->skip_left = len;
            continue;
        }
        r->start += hdr + len;
        if (kind == KHI_FS_CONTROL) {
            const char *why = NULL;
            if (khi_dns_tap_control(r->st, p + hdr, len, &why) == KHI_PARSE_BAD)
                report(r, why);
            else
                r->stats.ignored++;
            continue;
        }
        if (parse_frame(r, p + hdr, len, rec)) {
            *out_have = 1;
            return KH_OK;
        }
    }
}

/* dnstap from a socket: frames as the receiver hands them over, until the stop flag. */
static kh_err next_socket(kh_dns_reader *r, kh_dns_rec *rec, int *out_have)
{
    for (;;) {
        int kind = KHI_TAP_STOP;
        const unsigned char *p = NULL;
        size_t len = 0;
        const char *why = NULL;
        kh_err err = khi_dns_tapsrv_next(r->srv, r->stop, &kind, &p, &len, &why);
        if (err != KH_OK || kind == KHI_TAP_STOP)
            return err;
        r->lineno++;
        r->stats.lines++;
        if (kind == KHI_TAP_BAD) {
            report(r, why);
            continue;
        }
        if (kind == KHI_TAP_CONTROL) {
            r->stats.ignored++;
            continue;
        }
        r->stats.bytes += len + 4;
        if (parse_frame(r, p, len, rec)) {
            *out_have = 1;
            return KH_OK;
        }
    }
}

kh_err kh_dns_reader_next(kh_dns_reader *r, kh_dns_rec *rec, int *out_have)
{
    if (!r || !rec || !out_have)
        return KH_EINVAL;
    *out_have = 0;
    if (r->srv)
        return next_socket(r, rec, out_have);
    if (!r->detected) {
        kh_err err = detect(r);
        if (err != KH_OK)
            return err;
        if (!r->detected)
            return KH_OK; /* empty input */
    }
    if (r->fmt == KH_DNS_FMT_DNSTAP)
        return next_frame(r, rec, out_have);
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        if (r->limited) {
            if (r->part_skip) { /* the rest of the part before's last line */
                char *nl = memchr(p, '\n', avail);
                size_t k = nl ? (size_t)(nl - p) + 1 : avail;
                r->start += k;
                r->stats.bytes -= k;
                if (nl) {
                    r->part_skip = 0;
                    continue;
                }
                if (r->eof)
                    return KH_OK;
                kh_err err = fill(r);
                if (err != KH_OK)
                    return err;
                continue;
            }
            if (r->origin + r->read_total - avail >= r->limit && !r->skipping) {
                r->stats.bytes -= avail; /* the next part's */
                r->start = r->end;
                r->eof = 1;
                return KH_OK;
            }
        }
        char *nl = memchr(p, '\n', avail);
        size_t len;
        if (nl) {
            len = (size_t)(nl - p);
            r->start += len + 1;
        } else if (avail >= KHI_DNS_LINE_MAX) {
            /* a line too long: drop what we have and skip to its end */
            if (!r->skipping) {
                r->lineno++;
                r->stats.lines++;
                report(r, "line too long");
            }
            r->skipping = 1;
            r->start = r->end;
            kh_err err = fill(r);
            if (err != KH_OK)
                return err;
            if (r->eof && r->start == r->end)
                return KH_OK;
            continue;
        } else if (!r->eof) {
            kh_err err = fill(r);
            if (err != KH_OK)
                return err;
            continue;
        } else if (avail) {
            len = avail;
            r->start = r->end;
        } else {
            return KH_OK;
        }
        if (r->skipping) {
            r->skipping = 0;
            continue;
        }
        r->lineno++;
        r->stats.lines++;
        if (len && p[len - 1] == '\r')
            len--;
        if (len == 0) {
            r->stats.ignored++;
            continue;
        }
        const char *why = "does not parse";
        memset(rec, 0, sizeof(*rec));
        rec->time_ms = -1;
        rec->rcode = -1;
        rec->is_query = 1;
        int rc = r->parse(r->st, p, len, rec, &why);
        if (rc == KHI_PARSE_REC) {
            r->stats.records++;
            *out_have = 1;
            return KH_OK;
        }
        if (rc == KHI_PARSE_IGNORE)
            r->stats.ignored++;
        else
            report(r, why);
    }
}

/* ---- helpers for the parsers ---- */

int64_t khi_dns_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

unsigned khi_dns_month(const char *s)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char a = (char)khi_dns_lower[(unsigned char)s[0]], b = (char)khi_dns_lower[(unsigned char)s[1]],
         c = (char)khi_dns_lower[(unsigned char)s[2]];
    for (unsigned i = 0; i < 12; i++)
        if (months[i * 3] == a && months[i * 3 + 1] == b && months[i * 3 + 2] == c)
            return i + 1;
    return 0;
}

int64_t khi_dns_epoch_ms(const char *s, size_t n)
{
    int64_t sec = 0, ms = 0;
    size_t i = 0;
    if (n == 0 || n > 24)
        return -1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (i >= 12)
            return -1; /* past the year 33000: not a time (and no overflow) */
        sec = sec * 10 + (s[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < n) {
        if (s[i] != '.')
            return -1;
        i++;
        int64_t scale = 100;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            ms += (s[i] - '0') * scale;
            scale /= 10;
        }
        if (i < n)
            return -1;
    }
    return sec * 1000 + ms;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t khi_dns_iso_ms(const char *s, size_t n)
{
    int y, mo, d, h, mi, se;
    if (n < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int64_t t = (khi_dns_days(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se) * 1000;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        int64_t scale = 100;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            t += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh = 0, om = 0;
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        if (i + 2 <= n && digits(s + i, 2, &oh) == 0) {
            i += 2;
            if (i < n && s[i] == ':')
                i++;
            if (i + 2 <= n && digits(s + i, 2, &om) == 0)
                i += 2;
            t -= sign * (int64_t)(oh * 3600 + om * 60) * 1000;
        }
    }
    return t;
}

int khi_dns_rcode(const char *s, size_t n)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                        "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (n && s[0] >= '0' && s[0] <= '9') {
        int v = 0;
        if (n > 4 || digits(s, n, &v))
            return -1;
        return v;
    }
    for (size_t i = 0; i < KHI_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == n && strncasecmp(s, names[i], n) == 0)
            return (int)i;
    return -1;
}

void khi_dns_strip_port(const char **sp, size_t *np)
{
    const char *s = *sp;
    size_t n = *np;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb) {
            *sp = s + 1;
            *np = (size_t)(rb - s - 1);
        }
        return;
    }
    for (size_t i = n; i-- > 0;) {
        if (s[i] == '#' || s[i] == '/') {
            *np = i;
            return;
        }
    }
    const char *c1 = memchr(s, ':', n);
    if (c1 && !memchr(c1 + 1, ':', n - (size_t)(c1 - s) - 1))
        *np = (size_t)(c1 - s); /* one colon: v4:port */
}

int khi_dns_plausible_name(const char *s, size_t n)
{
    if (n == 0 || n > 1024)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    return 1;
}

int khi_dns_plausible_addr(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
              c == ':' || c == '%' || c == '_' || c == '-' || (c >= 'g' && c <= 'z')))
            return 0;
    }
    return 1;
}

int64_t khi_dns_syslog_ms(const char *s, size_t n)
{
    static _Atomic int64_t year;
    int d, h, mi, se;
    if (n < 15 || s[3] != ' ' || s[9] != ':' || s[12] != ':')
        return -1;
    unsigned mo = khi_dns_month(s);
    if (!mo)
        return -1;
    const char *dd = s + 4;
    if (dd[0] == ' ')
        d = dd[1] - '0';
    else if (digits(dd, 2, &d))
        return -1;
    if (d < 1 || d > 31 || digits(s + 7, 2, &h) || digits(s + 10, 2, &mi) || digits(s + 13, 2, &se))
        return -1;
    int64_t y = year;
    if (!y) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        y = tm.tm_year + 1900;
        year = y;
    }
    return (khi_dns_days(y, mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se) * 1000;
}
