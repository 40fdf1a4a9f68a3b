/* arena.h — a bump allocator with destructors.
 *
 * Objects that live and die together (one item and everything derived from
 * it; one compiled ruleset) are allocated from one arena and released at
 * once by ig_arena_free(). Foreign objects (PCRE2 code, an automaton) are
 * tied to the arena with ig_arena_defer(), run in reverse order at free.
 * Not thread-safe: an arena belongs to one thread at a time.
 */
#ifndef IG_CORE_ARENA_H
#define IG_CORE_ARENA_H

#include <stdatomic.h>
#include <stddef.h>

struct ig_arena;

/* Creates an arena whose blocks are at least block_size bytes (0: 4 KiB). */
struct ig_arena *ig_arena_new(size_t block_size);
/* Runs the deferred destructors (last registered first), frees all memory.
 * NULL is a no-op. */
void ig_arena_free(struct ig_arena *a);
/* Runs the deferred destructors and frees all blocks but the first, as
 * ig_arena_free() would, leaving a with nothing allocated: the next
 * allocations are those of a new arena of its block size (for pools of
 * arenas: items). */
void ig_arena_reset(struct ig_arena *a);
/* Returns n bytes aligned for any type; never NULL (aborts on exhaustion). */
void *ig_arena_alloc(struct ig_arena *a, size_t n);
/* As ig_arena_alloc, zero-filled. */
void *ig_arena_zalloc(struct ig_arena *a, size_t n);
/* Copies n bytes of s into the arena and NUL-terminates. */
char *ig_arena_strndup(struct ig_arena *a, const char *s, size_t n);
char *ig_arena_strdup(struct ig_arena *a, const char *s);
char *ig_arena_printf(struct ig_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Registers fn(p) to run when the arena is freed. */
void ig_arena_defer(struct ig_arena *a, void (*fn)(void *), void *p);
/* A value made once for the arena's lifetime and published in *slot (a
 * field that starts NULL), for caches built on first use from data the
 * arena holds: the first callers build it with build(arg); one value is
 * kept (its builder alone touches the arena, deferring free_fn on it) and
 * the others are freed at once; every caller gets the kept one. Safe from
 * several threads at once as long as nothing else uses the arena then. */
void *ig_arena_once(struct ig_arena *a, _Atomic(void *) *slot,
                    void *(*build)(const void *arg), void (*free_fn)(void *),
                    const void *arg);
/* Total bytes handed out (for metrics and tests). */
size_t ig_arena_used(const struct ig_arena *a);

#endif
