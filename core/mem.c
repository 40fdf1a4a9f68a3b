/* mem.c — abort-on-exhaustion allocation wrappers. */
#include "core/mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "intake: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ig_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *ig_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p) {
        oom(nmemb * size);
    }
    return p;
}

void *ig_calloc_lines(size_t nmemb, size_t size)
{
    size_t n;
    void *p;

    if (size && nmemb > (SIZE_MAX - 63) / size) {
        oom(SIZE_MAX);
    }
    n = (nmemb * size + 63) & ~(size_t)63;
    p = aligned_alloc(64, n ? n : 64);
    if (!p) {
        oom(n);
    }
    /* Written, not only zeroed: every page is resident from now on. */
    memset(p, 0, n ? n : 64);
    return p;
}

void *ig_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    return q;
}

char *ig_strdup(const char *s)
{
    return ig_strndup(s, strlen(s));
}

char *ig_strndup(const char *s, size_t n)
{
    char *p = ig_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ig_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return ig_strdup("");
    }
    char *p = ig_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void ig_free(void *p)
{
    free(p);
}
