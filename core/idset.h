/* idset.h — a growing set of 64-bit ids, each with a small value.
 *
 * For ids that are hashes already (candidate ids): open addressing with
 * linear probing, at most half full (the table doubles), deletion by
 * backward shift (no tombstones, so a set that sees many adds and deletes
 * stays as fast as a fresh one). Id 0 is never stored: callers treat it
 * as "not tracked". It does not shrink; size it by what it holds at most.
 *
 * Not thread-safe.
 */
#ifndef IG_CORE_IDSET_H
#define IG_CORE_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ig_idset {
    uint64_t *k; /* 0: empty slot; NULL until the first add */
    uint8_t *v;
    size_t mask; /* slots - 1 */
    size_t n;    /* ids held */
};

/* An empty set: {0}, or this. */
void ig_idset_init(struct ig_idset *s);
void ig_idset_fini(struct ig_idset *s);

/* id's value, 0 when id is not there (or is 0). */
uint8_t ig_idset_get(const struct ig_idset *s, uint64_t id);

/* Sets id's value (v not 0: that reads as "not there"). False for id 0. */
bool ig_idset_put(struct ig_idset *s, uint64_t id, uint8_t v);

/* Removes id (nothing when it is not there). */
void ig_idset_del(struct ig_idset *s, uint64_t id);

/* Writes the ids held to out (room for s->n), in no particular order;
 * returns how many. */
size_t ig_idset_ids(const struct ig_idset *s, uint64_t *out);

#endif
