/* arena.c — bump allocator with destructors (see arena.h).
 *
 * Blocks are chained; a request larger than the block size gets a block of
 * its own, so big items do not waste a half-used block. No per-object free:
 * that is the point. The first block shares one allocation with the arena
 * itself: an item whose derived data fits one block costs one malloc.
 */
#include "core/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"

#define ALIGN 16u

struct block {
    struct block *next;
    size_t size;
    size_t used;
    /* Keep the payload aligned for any type. */
    _Alignas(16) unsigned char data[];
};

struct defer {
    struct defer *next;
    void (*fn)(void *);
    void *p;
};

struct ig_arena {
    struct block *head;
    struct defer *defers;
    size_t block_size;
    size_t used;
    struct block *first; /* inside this allocation; not freed on its own */
};

/* Where the first block starts: past the arena, aligned like a block. */
#define FIRST_OFF                                                              \
    ((sizeof(struct ig_arena) + _Alignof(struct block) - 1) &                  \
     ~(size_t)(_Alignof(struct block) - 1))

struct ig_arena *ig_arena_new(size_t block_size)
{
    size_t size = block_size ? block_size : 4096;
    struct ig_arena *a = ig_malloc(FIRST_OFF + sizeof(struct block) + size);
    struct block *b = (struct block *)(void *)((char *)a + FIRST_OFF);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    a->head = b;
    a->defers = NULL;
    a->block_size = size;
    a->used = 0;
    a->first = b;
    return a;
}

void ig_arena_reset(struct ig_arena *a)
{
    struct defer *d = a->defers;
    while (d) {
        struct defer *next = d->next;
        d->fn(d->p);
        d = next;
    }
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        if (b != a->first) {
            ig_free(b);
        }
        b = next;
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->head = a->first;
    a->defers = NULL;
    a->used = 0;
}

void ig_arena_free(struct ig_arena *a)
{
    if (!a) {
        return;
    }
    ig_arena_reset(a);
    ig_free(a);
}

/* ig_arena_alloc() when the head block is full: a new block. Out of line,
 * so the common case (a bump in the head block) saves and restores no
 * registers; it is most of the item parsers' allocations. */
__attribute__((noinline)) static void *alloc_block(struct ig_arena *a, size_t n,
                                                   size_t need)
{
    struct block *b = a->head;
    size_t size = need > a->block_size ? need : a->block_size;
    struct block *nb = ig_malloc(sizeof(*nb) + size);

    nb->size = size;
    nb->used = need;
    a->used += n;
    if (b && size == need && b->size - b->used >= ALIGN) {
        /* Oversized request: keep the current block as the head so its
         * free space is still used by later small requests. */
        nb->next = b->next;
        b->next = nb;
        return nb->data;
    }
    nb->next = b;
    a->head = nb;
    return nb->data;
}

void *ig_arena_alloc(struct ig_arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need == 0) {
        need = ALIGN;
    }
    struct block *b = a->head;
    if (!b || b->size - b->used < need) {
        return alloc_block(a, n, need);
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += n;
    return p;
}

void *ig_arena_zalloc(struct ig_arena *a, size_t n)
{
    void *p = ig_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *ig_arena_strndup(struct ig_arena *a, const char *s, size_t n)
{
    char *p = ig_arena_alloc(a, n + 1);
    if (n) {
        memcpy(p, s, n);
    }
    p[n] = '\0';
    return p;
}

char *ig_arena_strdup(struct ig_arena *a, const char *s)
{
    return ig_arena_strndup(a, s, strlen(s));
}

char *ig_arena_printf(struct ig_arena *a, const char *fmt, ...)
{
    /* Format straight into the head block's free space first: when it
     * fits, that is the allocation, and the format runs once. */
    struct block *b = a->head;
    size_t room = b ? b->size - b->used : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room ? (char *)b->data + b->used : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return ig_arena_strdup(a, "");
    }
    size_t need = ((size_t)n + 1 + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need <= room) {
        char *q = (char *)b->data + b->used;
        b->used += need;
        a->used += (size_t)n + 1;
        return q;
    }
    char *p = ig_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void ig_arena_defer(struct ig_arena *a, void (*fn)(void *), void *p)
{
    struct defer *d = ig_arena_alloc(a, sizeof(*d));
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}

size_t ig_arena_used(const struct ig_arena *a)
{
    return a->used;
}

void *ig_arena_once(struct ig_arena *a, _Atomic(void *) *slot,
                    void *(*build)(const void *arg), void (*free_fn)(void *),
                    const void *arg)
{
    void *v = atomic_load_explicit(slot, memory_order_acquire);
    if (v) {
        return v;
    }
    void *mine = build(arg);
    if (atomic_compare_exchange_strong_explicit(
            slot, &v, mine, memory_order_acq_rel, memory_order_acquire)) {
        ig_arena_defer(a, free_fn, mine);
        return mine;
    }
    free_fn(mine);
    return v;
}
