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
/* Appends n bytes. Returns IG_OK or IG_E2BIG (nothing appended). */
int ig_buf_add(struct ig_buf *b, const void *p, size_t n);
int ig_buf_adds(struct ig_buf *b, const char *s);
int ig_buf_addc(struct ig_buf *b, char c);
int ig_buf_addf(struct ig_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ig_buf_vaddf(struct ig_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hands the content to the caller (free with ig_free) and empties b.
 * Never returns NULL: an empty buffer gives "". */
char *ig_buf_take(struct ig_buf *b);

#endif
