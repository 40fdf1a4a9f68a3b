/* mem.h — allocation wrappers that abort on exhaustion.
 *
 * A daemon has no better answer to malloc failure than a clear abort; the
 * wrappers keep every caller free of NULL checks. ig_free(NULL) is a no-op.
 */
#ifndef IG_CORE_MEM_H
#define IG_CORE_MEM_H

#include <stddef.h>

void *ig_malloc(size_t n);
void *ig_calloc(size_t nmemb, size_t size);
/* Zeroed, 64-byte aligned (cache lines) and every page written, so the
 * resident size is what it will stay; freed with ig_free(). */
void *ig_calloc_lines(size_t nmemb, size_t size);
void *ig_realloc(void *p, size_t n);
char *ig_strdup(const char *s);
/* Copies n bytes of s and NUL-terminates; s may hold NULs. */
char *ig_strndup(const char *s, size_t n);
/* Returns a malloc'd string formatted as by printf. */
char *ig_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ig_free(void *p);

/* Memory a pool keeps for reuse (given back by its user, not to the
 * allocator) made unaddressable under AddressSanitizer, and addressable
 * again when handed out; no-ops in other builds. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define IG_POISON(b, n) ASAN_POISON_MEMORY_REGION((b), (n))
#define IG_UNPOISON(b, n) ASAN_UNPOISON_MEMORY_REGION((b), (n))
#else
#define IG_POISON(b, n) ((void)(b), (void)(n))
#define IG_UNPOISON(b, n) ((void)(b), (void)(n))
#endif

#endif
