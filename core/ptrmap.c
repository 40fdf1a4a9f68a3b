/* ptrmap.c — a fixed-size map from addresses to small integers (see
 * ptrmap.h). */
#include "core/ptrmap.h"

#include <string.h>

#include "core/arena.h"
#include "core/mem.h"

void ig_ptrmap_init(struct ig_ptrmap *m, size_t max, struct ig_arena *a)
{
    size_t slots = 16;

    /* at most half full, so a probe ends at an empty slot soon */
    while (slots < 2 * max) {
        slots *= 2;
    }
    memset(m, 0, sizeof(*m));
    m->heap = a == NULL;
    if (a) {
        m->keys = ig_arena_alloc(a, slots * sizeof(*m->keys));
        m->vals = ig_arena_alloc(a, slots * sizeof(*m->vals));
        memset(m->keys, 0, slots * sizeof(*m->keys));
    } else {
        m->keys = ig_calloc(slots, sizeof(*m->keys));
        m->vals = ig_malloc(slots * sizeof(*m->vals));
    }
    m->mask = slots - 1;
    m->max = max;
}

void ig_ptrmap_fini(struct ig_ptrmap *m)
{
    if (m && m->heap) {
        ig_free(m->keys);
        ig_free(m->vals);
    }
    if (m) {
        memset(m, 0, sizeof(*m));
    }
}

bool ig_ptrmap_add(struct ig_ptrmap *m, const void *k, uint32_t v)
{
    if (!m->keys || !k || m->n == m->max) {
        return false;
    }
    uint64_t h = (uint64_t)(uintptr_t)k * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 32) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == k) {
            return false;
        }
        i = (i + 1) & m->mask;
    }
    m->keys[i] = k;
    m->vals[i] = v;
    m->n++;
    return true;
}
