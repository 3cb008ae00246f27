/*
 * core.h - what every part of libkhien shares: allocation, growable buffers, a string pool,
 * small text helpers and the OS wrappers that turn errno into kh_err.
 *
 * Allocation goes through khi_malloc & co. so that tests can make the Nth allocation fail
 * (khi_mem_fail_after) and check that every path returns KH_ENOMEM cleanly.
 */
#ifndef KHI_CORE_H
#define KHI_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <khien/error.h>

#define KHI_HIDDEN __attribute__((visibility("hidden")))
#define KHI_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- memory (core_mem.c) --- */
void *khi_malloc(size_t n);
void *khi_calloc(size_t count, size_t n);
void *khi_realloc(void *p, size_t n);
/* Grow-array helper: realloc p to count*size bytes, failing (NULL) on overflow. */
void *khi_reallocarray(void *p, size_t count, size_t size);
char *khi_strdup(const char *s);
char *khi_strndup(const char *s, size_t n);
void khi_free(void *p);
/* Test hook: the allocation after n more succeed fails; n < 0 turns failures off. */
void khi_mem_fail_after(long n);

/* --- growable byte buffer (core_buf.c) --- */
typedef struct khi_buf {
    char *data; /* owned; always NUL-terminated when len > 0 or after append */
    size_t len;
    size_t cap;
} khi_buf;

void khi_buf_init(khi_buf *b);
void khi_buf_cleanup(khi_buf *b);
kh_err khi_buf_reserve(khi_buf *b, size_t extra);
kh_err khi_buf_append(khi_buf *b, const void *data, size_t len);
kh_err khi_buf_puts(khi_buf *b, const char *s);
kh_err khi_buf_printf(khi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void khi_buf_truncate(khi_buf *b, size_t len);

/* --- string pool: many small immutable strings, freed at once (core_buf.c) --- */
typedef struct khi_pool_block khi_pool_block;
typedef struct khi_pool {
    khi_pool_block *head;
} khi_pool;

void khi_pool_init(khi_pool *p);
void khi_pool_cleanup(khi_pool *p);
/* Copy n bytes of s plus a NUL into the pool; NULL on out of memory. */
char *khi_pool_strndup(khi_pool *p, const char *s, size_t n);
/* n bytes aligned for any object, zeroed; NULL on out of memory. */
void *khi_pool_alloc(khi_pool *p, size_t n);

/* --- text (core_text.c) --- */
/* Safe bounded formatting: always NUL-terminates, truncates. */
void khi_snprintf(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parse an unsigned decimal of [s, s+n) into *out. Returns 0 on success, -1 on junk/overflow. */
int khi_parse_u64(const char *s, size_t n, uint64_t *out);
/* Hex digit value or -1. */
int khi_hexval(int c);
/* Decode 2*n hex chars into n bytes. Returns 0 or -1. */
int khi_hex_decode(const char *hex, size_t n, uint8_t *out);
void khi_hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);

/* --- checksums (core_crc32.c) --- */
/* CRC-32 (ZIP, ARJ, gzip) of len bytes, continuing from crc (0 to start). */
uint32_t khi_crc32(uint32_t crc, const void *data, size_t len);

/* --- OS wrappers: the only place that reads errno (core_os.c) --- */
kh_err khi_errno_to_kh(int e);
/* Read a whole file into a new buffer (owned by caller, khi_free). Limit in bytes. */
kh_err khi_file_read_all(const char *path, size_t limit, char **out_data, size_t *out_len,
                         char *errbuf, size_t errbuf_len);
/* Write data to path atomically (temp file + fsync + rename). */
kh_err khi_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* pread until len bytes or end of file; returns the count read (short on error or EOF). */
size_t khi_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* mkdir -p with mode for the components created. */
kh_err khi_mkdir_p(const char *path, unsigned mode);

/* Monotonic seconds. */
double khi_now(void);


/* Little-endian integers in untrusted bytes (the caller has checked the length). */
static inline uint16_t khi_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t khi_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void khi_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif
