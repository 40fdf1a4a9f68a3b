/* buf.h — a growable byte buffer with a hard cap.
 *
 * Every buffer filled from outside (a response body, a field, a log line)
 * has a cap set at creation; an append past the cap fails with IG_E2BIG and
 * leaves the buffer as it was, so truncation is never silent. The content is
 * always NUL-terminated (the NUL is not counted in len), but may itself hold
 * NUL bytes: use len, not strlen.
 */
#ifndef IG_CORE_BUF_H
#define IG_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"

struct ig_buf {
    char *data;      /* owned; NULL until the first append */
    size_t len;      /* bytes used, excluding the terminating NUL */
    size_t cap;      /* bytes allocated */
    size_t max_len;  /* hard cap on len; 0 means no cap */
};

/* Initialises an empty buffer that may grow to max_len bytes (0: no cap). */
void ig_buf_init(struct ig_buf *b, size_t max_len);
/* Frees the content; the buffer is empty and reusable afterwards. */
void ig_buf_fini(struct ig_buf *b);
/* Empties the buffer, keeping its allocation. */
void ig_buf_reset(struct ig_buf *b);
/* Makes room for extra more bytes (and the NUL) without changing the
 * content, so a caller may write up to extra bytes at data + len itself
 * and then advance len and re-terminate. Returns IG_OK or IG_E2BIG. */
int ig_buf_reserve(struct ig_buf *b, size_t extra);
/* The out-of-line half of ig_buf_add(): grows, then appends. */
int ig_buf_add_slow(struct ig_buf *b, const void *p, size_t n);

/* True when n more bytes fit both the allocation (with its NUL) and the
 * cap: the appends below then copy without a call. len never exceeds
 * max_len, so max_len - len cannot wrap. */
static inline int ig_buf_fits(const struct ig_buf *b, size_t n)
{
    return n < b->cap - b->len && (!b->max_len || n <= b->max_len - b->len);
}

/* Appends n bytes. Returns IG_OK or IG_E2BIG (nothing appended). Inline:
 * the JSON writer and the parsers append a few bytes at a time, and the
 * common case (room left) is a copy. */
static inline int ig_buf_add(struct ig_buf *b, const void *p, size_t n)
{
    if (!ig_buf_fits(b, n)) {
        return ig_buf_add_slow(b, p, n);
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return IG_OK;
}

static inline int ig_buf_adds(struct ig_buf *b, const char *s)
{
    return ig_buf_add(b, s, strlen(s));
}

static inline int ig_buf_addc(struct ig_buf *b, char c)
{
    if (!ig_buf_fits(b, 1)) {
        return ig_buf_add_slow(b, &c, 1);
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return IG_OK;
}

char *ig_fmt_u64_long(char *p, uint64_t v);

/* The decimal digits of v written at p (1 to 20 bytes, no NUL); returns
 * their end. The one integer writer: JSON numbers, Redis protocol
 * lengths, record headers, review scores. One digit inline (most Redis
 * protocol lengths and counts); longer ones in ig_fmt_u64_long(). */
static inline char *ig_fmt_u64(char *p, uint64_t v)
{
    if (v < 10) {
        *p = (char)('0' + v);
        return p + 1;
    }
    return ig_fmt_u64_long(p, v);
}

/* Appends the decimal digits of v: in place when the longest would fit. */
static inline int ig_buf_add_u64(struct ig_buf *b, uint64_t v)
{
    char t[20];

    if (ig_buf_fits(b, sizeof(t))) {
        b->len = (size_t)(ig_fmt_u64(b->data + b->len, v) - b->data);
        b->data[b->len] = '\0';
        return IG_OK;
    }
    return ig_buf_add(b, t, (size_t)(ig_fmt_u64(t, v) - t));
}

int ig_buf_addf(struct ig_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ig_buf_vaddf(struct ig_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hands the content to the caller (free with ig_free) and empties b.
 * Never returns NULL: an empty buffer gives "". */
char *ig_buf_take(struct ig_buf *b);

/* Reads the whole file at path into a new NUL-terminated string (*out,
 * free with ig_free; *len bytes, which may include NULs) of at most max
 * bytes (0: no cap). Returns IG_OK, IG_ENOENT (no such file), IG_EIO (it
 * cannot be opened or read; errno says why) or IG_E2BIG (longer than max).
 * On an error nothing is allocated. For the data files read whole (rules,
 * routing tables, configuration), each capped so that a path pointing at
 * the wrong file (a log, a dump) is refused rather than swallowed. */
int ig_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
