/* ptrmap.h — a fixed-size map from addresses to small integers.
 *
 * For caches keyed by the address of a string that lives as long as the
 * cache (a rule's id, a department's name in a loaded rule set): the
 * address is the identity, so a lookup is one multiply and a probe or
 * two, never a string compare. Open addressing with linear probing, at
 * most half full; sized once for the number of keys it will hold (adds
 * beyond that are refused), storage from an arena or the heap. The value
 * is usually an index into the caller's own array of what it prepared.
 *
 * Not thread-safe for writers; readers may share a map nobody writes to.
 */
#ifndef IG_CORE_PTRMAP_H
#define IG_CORE_PTRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ig_arena;

struct ig_ptrmap {
    const void **keys; /* NULL: empty slot */
    uint32_t *vals;
    size_t mask; /* slots - 1 */
    size_t n, max;
    bool heap;
};

/* Room for max keys; from a, or the heap when a is NULL (then
 * ig_ptrmap_fini() frees it). */
void ig_ptrmap_init(struct ig_ptrmap *m, size_t max, struct ig_arena *a);
void ig_ptrmap_fini(struct ig_ptrmap *m);

/* Adds k -> v. False when k is NULL, already there (its value is kept)
 * or the map holds max keys already. */
bool ig_ptrmap_add(struct ig_ptrmap *m, const void *k, uint32_t v);

/* True and *v when k is there. */
static inline bool ig_ptrmap_get(const struct ig_ptrmap *m, const void *k,
                                 uint32_t *v)
{
    if (!m->keys || !k) {
        return false;
    }
    uint64_t h = (uint64_t)(uintptr_t)k * 0x9E3779B97F4A7C15ull;
    for (size_t i = (size_t)(h >> 32) & m->mask; m->keys[i];
         i = (i + 1) & m->mask) {
        if (m->keys[i] == k) {
            *v = m->vals[i];
            return true;
        }
    }
    return false;
}

#endif
