/*
 * sigdb.h - the parsed, not yet compiled, signature set (internal).
 *
 * Parsers turn ClamAV-format text into these records; lib/match compiles them. Names and
 * patterns live in string pools owned by the khi_sigdb and are freed with it.
 */
#ifndef KHI_SIGDB_H
#define KHI_SIGDB_H

#include <khien/engine.h>
#include <khien/scan.h>
#include "core/core.h"

/* The ClamAV functionality level this engine matches (lines needing a newer one are skipped). */
#define KHI_FLEVEL 200

typedef enum khi_hash_type {
    KHI_HASH_MD5 = 0,
    KHI_HASH_SHA1 = 1,
    KHI_HASH_SHA256 = 2,
    KHI_HASH_TYPES
} khi_hash_type;

#define KHI_SIZE_ANY UINT64_MAX
#define KHI_LEN_INF UINT64_MAX

typedef struct khi_hashsig {
    uint8_t digest[32];
    uint64_t size; /* KHI_SIZE_ANY for "*" */
    const char *name;
    uint8_t type;  /* khi_hash_type */
    uint8_t is_fp; /* allow-list entry (.fp/.sfp) */
} khi_hashsig;

typedef enum khi_off_kind {
    KHI_OFF_ANY = 0, /* "*" */
    KHI_OFF_ABS = 1, /* "n" or "n,m": start in [n, n+m] */
    KHI_OFF_EOF = 2, /* "EOF-n" or "EOF-n,m": start in [size-n, size-n+m] */
    /* Relative to the executable's layout (valid for target 1 only; see sigdb_ndb.c): */
    KHI_OFF_EP_PLUS = 3,  /* "EP+n[,m]": start in [ep+n, ep+n+m], ep the entry point's file offset */
    KHI_OFF_EP_MINUS = 4, /* "EP-n[,m]": start in [ep-n, ep-n+m] */
    KHI_OFF_SX = 5,       /* "Sx+n[,m]": start in [raw(x)+n, raw(x)+n+m] */
    KHI_OFF_SL = 6,       /* "SL+n[,m]": the same for the last section */
    KHI_OFF_SE = 7,       /* "SEx[,m]": start in [raw(x), raw(x)+rawsize(x)+m] */
} khi_off_kind;

/* Does this offset kind need the object's executable layout? */
#define KHI_OFF_IS_EXE(k) ((k) >= KHI_OFF_EP_PLUS)

typedef struct khi_bodysig {
    const char *name;  /* pool */
    const kh_meta *meta; /* YARA fast-path rules: their metadata (names pool), else NULL */
    const char *regex; /* Vectorscan expression of the hex pattern (pattern pool) */
    uint64_t off;      /* n */
    uint64_t shift;    /* m */
    uint64_t minlen, maxlen; /* match length bounds; maxlen KHI_LEN_INF when unbounded */
    uint16_t target;   /* ClamAV target type, 0 = any */
    uint16_t nmeta;
    uint8_t off_kind;  /* khi_off_kind */
    uint8_t yara;      /* a YARA rule translated for the Vectorscan pass */
    uint8_t caseless;  /* .ldb "::i": compile with HS_FLAG_CASELESS */
    uint8_t multi;     /* every match counts (.ldb counts), not only the first */
    uint16_t sub;      /* .ldb: subsignature number */
    uint32_t sect;     /* KHI_OFF_SX, KHI_OFF_SE: section number x */
    uint32_t ldb1;     /* .ldb: 1 + index of its logical signature; 0 = a plain body signature */
} khi_bodysig;

/* A logical expression in reverse Polish notation. */
enum { KHI_LOP_SUB, KHI_LOP_AND, KHI_LOP_OR, KHI_LOP_EQ, KHI_LOP_GT, KHI_LOP_LT };
typedef struct khi_lop {
    uint8_t op;
    uint16_t sub;  /* KHI_LOP_SUB */
    uint32_t n, m; /* comparisons: count op n, and at least m distinct subsignatures (m > 0) */
} khi_lop;

typedef struct khi_ldb {
    const char *name;        /* names pool */
    const khi_lop *expr;     /* names pool */
    uint16_t nexpr, nsub;
    uint16_t target;
    uint32_t first_sub;      /* index of subsignature 0 among the body signatures */
    uint64_t fsize_min, fsize_max;
    const char *container;   /* file type label the parent container must have, or NULL */
    uint8_t pe_keys;         /* EntryPoint or NumberOfSections given: the object must be a PE */
    uint64_t ep_min, ep_max; /* EntryPoint: file offset of the entry point */
    uint64_t ns_min, ns_max; /* NumberOfSections */
} khi_ldb;

/* YARA rules that need libyara: source text, or compiled rules (.yarc). */
typedef struct khi_yarasrc {
    char *name; /* file name (owned) */
    char *data; /* owned */
    size_t len;
    int compiled; /* .yarc */
} khi_yarasrc;

typedef struct khi_sigdb {
    khi_pool names;    /* signature names, live as long as the engine */
    khi_pool patterns; /* regex text, dropped after compile */
    khi_hashsig *hashes;
    size_t nhashes, caphashes;
    khi_hashsig *sects; /* .mdb/.msb: digests of PE sections, size = the section's raw size */
    size_t nsects, capsects;
    khi_bodysig *bodies;
    size_t nbodies, capbodies;
    khi_yarasrc *yara;
    size_t nyara, capyara;
    khi_ldb *ldbs;
    size_t nldbs, capldbs;
    uint32_t yara_fast; /* YARA rules translated into body signatures */
    uint32_t exe_offsets; /* body signatures whose offset needs the executable layout */
    const char **ignores; /* names from .ign2 (names pool) */
    size_t nignores, capignores;
    uint32_t rejected, skipped, files, containers;
    char *trust_dir; /* owned; NULL = no publisher keys */
    kh_diag_fn diag;
    void *diag_ud;
} khi_sigdb;

void khi_sigdb_init(khi_sigdb *db, kh_diag_fn diag, void *ud);
void khi_sigdb_cleanup(khi_sigdb *db);

/* Load a file or directory. */
kh_err khi_sigdb_load_path(khi_sigdb *db, const char *path);
/* Load one file's content; name's extension picks the parser. */
kh_err khi_sigdb_load_mem(khi_sigdb *db, const char *name, const char *data, size_t len);

/* Report through the diag callback (file may be NULL, line 0 = whole file). */
void khi_sigdb_diag(khi_sigdb *db, kh_diag_level level, const char *file, unsigned line,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One line parser per format. line is not NUL-terminated; n is its length without EOL. */
kh_err khi_hdb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n, int allow_any_size, int is_fp);
kh_err khi_ndb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n);
/* The same for the "wide" form (each byte followed by a NUL, as UTF-16LE text). */
kh_err khi_ndb_pattern_to_regex_wide(const char *hex, size_t n, int wide, khi_buf *out,
                                     uint64_t *out_minlen, uint64_t *out_maxlen, char *err,
                                     size_t err_len);
/* Offsets as in .ndb: "*", "n", "EOF-n", "EP+n", "EP-n", "Sx+n", "SL+n", "SEx", each with an
 * optional ",m". Returns 1 ok, 0 malformed, -1 "VI" (version information; not supported yet).
 * Whether the target type allows an executable-relative offset is khi_ndb_exe_offset_ok's. */
int khi_ndb_parse_offset(const char *s, size_t n, khi_bodysig *b);
/* For a signature of target type target with an executable-relative offset: 1 usable (PE),
 * 0 valid in ClamAV but for an executable format this version has no layout of (ELF 6, Mach-O
 * 9: skipped), -1 invalid for that target (ClamAV rejects the line too). */
int khi_ndb_exe_offset_ok(unsigned target);
/* .mdb/.msb line: SECTIONSIZE:HASH:NAME[:MINFL[:MAXFL]]; size may be "*". */
kh_err khi_mdb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n);

/* A ClamAV .cvd/.cld/.cud: header checked (MD5 and, with a key in trust_dir, the RSA
 * signature for .cvd), then every database in its tar loaded as "file.cvd/member". */
kh_err khi_cvd_load(khi_sigdb *db, const char *file, const char *data, size_t len);
/* Parse and check a 512-byte header against body; exposed for tests and the fuzz target. */
typedef struct khi_cvd_info {
    char name[64], builder[64], built[64];
    unsigned version, sigs, flevel;
    uint64_t stime;
    int md5_ok;    /* body MD5 equals the header's */
    int signed_ok; /* 1 verified, 0 no key, -1 wrong */
} khi_cvd_info;
kh_err khi_cvd_header(const char *trust_dir, const char *data, size_t len, int check_body,
                      khi_cvd_info *out, char *err, size_t err_len);

/* A YARA file: hex-only rules become body signatures, anything else is kept for libyara. */
kh_err khi_yara_load(khi_sigdb *db, const char *file, const char *data, size_t len, int compiled);
/* Translate a YARA hex string body (between the braces) into a Vectorscan expression. */
kh_err khi_yara_hex_to_regex(const char *hex, size_t n, khi_buf *out, uint64_t *out_minlen,
                             uint64_t *out_maxlen);
/* Append a body signature (copies name; regex must be in the patterns pool). */
kh_err khi_sigdb_add_body(khi_sigdb *db, const khi_bodysig *b);
kh_err khi_ldb_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n);
/* Parse a logical expression into RPN (ops has room for max_ops). Returns the op count, or -1
 * with a reason in err. */
int khi_ldb_parse_expr(const char *s, size_t n, unsigned nsub, khi_lop *ops, size_t max_ops,
                       int *out_has_counts, char *err, size_t err_len);
kh_err khi_ign_parse_line(khi_sigdb *db, const char *file, unsigned lineno, const char *line,
                          size_t n);

/* Translate a ClamAV hex body pattern into a Vectorscan expression appended to out.
 * Returns KH_OK, KH_EFORMAT (reason in err), KH_ENOMEM. */
kh_err khi_ndb_pattern_to_regex(const char *hex, size_t n, khi_buf *out, uint64_t *out_minlen,
                                uint64_t *out_maxlen, char *err, size_t err_len);

#endif
