/* pool.h — finished blocks of one size kept for reuse.
 *
 * For the records made and dropped once or more per item on the event
 * loop (a job, a pending Redis command, a queued record, a review add): a
 * block given back waits on a free list, up to `max` of them, and the next
 * get takes it instead of calling malloc. Blocks come zeroed. A block on
 * the list is poisoned for AddressSanitizer (all but the link in its first
 * bytes), so code that still uses it after giving it back is reported as a
 * use after free would be.
 *
 * One thread per pool (no locking).
 */
#ifndef IG_CORE_POOL_H
#define IG_CORE_POOL_H

#include <stddef.h>

struct ig_pool {
    void *head; /* the free list, linked through each block's first bytes */
    size_t n, max;
    size_t size; /* bytes per block, at least a pointer's */
};

/* A pool of size-byte blocks keeping at most max of them. */
void ig_pool_init(struct ig_pool *p, size_t size, size_t max);
/* Frees the blocks on the list (not those in use). */
void ig_pool_fini(struct ig_pool *p);
/* A zeroed block (never NULL: allocation failure aborts, as ig_malloc). */
void *ig_pool_get(struct ig_pool *p);
/* Gives b back (freed when the list is full); NULL is ignored. */
void ig_pool_put(struct ig_pool *p, void *b);

#endif
