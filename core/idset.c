/* idset.c — see idset.h. */
#include "core/idset.h"

#include <string.h>

#include "core/mem.h"

#define IDSET_MIN 1024

static size_t home(const struct ig_idset *s, uint64_t id)
{
    return (size_t)(id ^ id >> 29) & s->mask;
}

void ig_idset_init(struct ig_idset *s)
{
    memset(s, 0, sizeof(*s));
}

void ig_idset_fini(struct ig_idset *s)
{
    ig_free(s->k);
    ig_free(s->v);
    memset(s, 0, sizeof(*s));
}

uint8_t ig_idset_get(const struct ig_idset *s, uint64_t id)
{
    size_t i;

    if (!s->k || id == 0) {
        return 0;
    }
    for (i = home(s, id); s->k[i]; i = (i + 1) & s->mask) {
        if (s->k[i] == id) {
            return s->v[i];
        }
    }
    return 0;
}

/* Doubles the table (or makes the first one). */
static void grow(struct ig_idset *s)
{
    struct ig_idset g;
    size_t cap = s->k ? 2 * (s->mask + 1) : IDSET_MIN, i;

    g.k = ig_calloc(cap, sizeof(*g.k));
    g.v = ig_calloc(cap, 1);
    g.mask = cap - 1;
    g.n = 0;
    for (i = 0; s->k && i <= s->mask; i++) {
        if (s->k[i]) {
            ig_idset_put(&g, s->k[i], s->v[i]);
        }
    }
    ig_idset_fini(s);
    *s = g;
}

bool ig_idset_put(struct ig_idset *s, uint64_t id, uint8_t v)
{
    size_t i;

    if (id == 0) {
        return false;
    }
    if (!s->k || 2 * (s->n + 1) > s->mask + 1) {
        grow(s);
    }
    for (i = home(s, id); s->k[i]; i = (i + 1) & s->mask) {
        if (s->k[i] == id) {
            s->v[i] = v;
            return true;
        }
    }
    s->k[i] = id;
    s->v[i] = v;
    s->n++;
    return true;
}

void ig_idset_del(struct ig_idset *s, uint64_t id)
{
    size_t i, j;

    if (!s->k || id == 0) {
        return;
    }
    for (i = home(s, id); s->k[i] != id; i = (i + 1) & s->mask) {
        if (!s->k[i]) {
            return;
        }
    }
    /* Backward shift: a later member of the run moves into the hole
     * unless its home lies cyclically after the hole (it would then be
     * found before reaching the hole). */
    for (j = (i + 1) & s->mask; s->k[j]; j = (j + 1) & s->mask) {
        size_t h = home(s, s->k[j]);

        if (((j - h) & s->mask) >= ((j - i) & s->mask)) {
            s->k[i] = s->k[j];
            s->v[i] = s->v[j];
            i = j;
        }
    }
    s->k[i] = 0;
    s->v[i] = 0;
    s->n--;
}

size_t ig_idset_ids(const struct ig_idset *s, uint64_t *out)
{
    size_t i, n = 0;

    for (i = 0; s->k && i <= s->mask; i++) {
        if (s->k[i]) {
            out[n++] = s->k[i];
        }
    }
    return n;
}
