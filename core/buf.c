/* buf.c — growable byte buffer with a hard cap (see buf.h). */
#include "core/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

void ig_buf_init(struct ig_buf *b, size_t max_len)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len;
}

void ig_buf_fini(struct ig_buf *b)
{
    ig_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ig_buf_reset(struct ig_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

int ig_buf_reserve(struct ig_buf *b, size_t extra)
{
    if (b->max_len && (extra > b->max_len || b->len > b->max_len - extra)) {
        return IG_E2BIG;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return IG_OK;
    }
    /* The first allocation is 256 bytes: most buffers end up holding a
     * key, a line or a short record, and 64 meant two or three reallocs
     * on the way for each. */
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) {
        ncap *= 2;
    }
    b->data = ig_realloc(b->data, ncap);
    b->cap = ncap;
    return IG_OK;
}

int ig_buf_add_slow(struct ig_buf *b, const void *p, size_t n)
{
    int rc = ig_buf_reserve(b, n);
    if (rc < 0) {
        return rc;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return IG_OK;
}

int ig_buf_vaddf(struct ig_buf *b, const char *fmt, va_list ap)
{
    /* Format straight into the free space first: most calls fit, and
     * then the format runs once instead of twice. */
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap - b->len;
    int n = room ? vsnprintf(b->data + b->len, room, fmt, ap2)
                 : vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (room) {
            b->data[b->len] = '\0';
        }
        return IG_EINVAL;
    }
    if ((size_t)n < room && ig_buf_fits(b, (size_t)n)) {
        b->len += (size_t)n;
        return IG_OK;
    }
    if (room) {
        b->data[b->len] = '\0';
    }
    int rc = ig_buf_reserve(b, (size_t)n);
    if (rc < 0) {
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return IG_OK;
}

/* The number of decimal digits of v: four at a time, so the common
 * short values take one or two compares. */
static unsigned decimal_digits(uint64_t v)
{
    unsigned n = 1;

    for (;;) {
        if (v < 10) {
            return n;
        }
        if (v < 100) {
            return n + 1;
        }
        if (v < 1000) {
            return n + 2;
        }
        if (v < 10000) {
            return n + 3;
        }
        v /= 10000;
        n += 4;
    }
}

char *ig_fmt_u64_long(char *p, uint64_t v)
{
    /* Counted first, then written in place from the end, two digits a
     * step (a table of the hundred pairs): no scratch copy. */
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    char *end = p + decimal_digits(v);
    char *q = end;

    while (v >= 100) {
        q -= 2;
        memcpy(q, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        memcpy(q - 2, pairs + 2 * v, 2);
    } else {
        q[-1] = (char)('0' + v);
    }
    return end;
}

int ig_buf_addf(struct ig_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ig_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *ig_buf_take(struct ig_buf *b)
{
    char *p = b->data ? b->data : ig_strdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

int ig_read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return errno == ENOENT ? IG_ENOENT : IG_EIO;
    }
    struct ig_buf b;
    char chunk[65536];
    size_t n;
    int rc = IG_OK, err;

    ig_buf_init(&b, max);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = ig_buf_add(&b, chunk, n);
        if (rc < 0) {
            break;
        }
    }
    if (rc == IG_OK && ferror(f)) {
        rc = IG_EIO;
    }
    err = errno;
    fclose(f);
    errno = err;
    if (rc < 0) {
        ig_buf_fini(&b);
        return rc;
    }
    *len = b.len;
    *out = ig_buf_take(&b);
    return IG_OK;
}
