/* workpool.h — CPU-bound work on worker threads, completions on the loop.
 *
 * The gateway's loop thread carries every connection; classifying an item
 * is pure CPU (tens of microseconds) and the one stage that needs no I/O,
 * so it can run beside the loop on another core. A workpool runs `fn` on
 * one of its threads and then `done` on the loop thread, through an
 * eventfd the loop watches: the loop never blocks, and items keep their
 * submission order when the pool has one thread (the default; with more,
 * completions may reorder).
 *
 * Each thread owns a context made by ctx_new() (a classifier scratch):
 * everything fn touches must be either that context, the work's own data
 * (the submitter does not touch it until done), or shared read-only data.
 *
 * Threads: workpool_new/submit/free on the loop thread that owns base.
 */
#ifndef IG_GATEWAY_WORKPOOL_H
#define IG_GATEWAY_WORKPOOL_H

#include <stddef.h>

struct event_base;
struct workpool;

/* One unit of work, owned by the submitter (embed it in the job) and left
 * alone between workpool_submit() and the call of done. */
struct work {
    struct work *next;                            /* the pool's */
    void (*fn)(struct work *w, void *thread_ctx); /* on a worker */
    void (*done)(struct work *w);                 /* then on the loop thread */
};

/* Starts nthreads (>= 1) workers, each with ctx_new()'s context (freed with
 * ctx_free at the end). Returns NULL when a thread or the eventfd cannot
 * be created (the caller then works inline). */
struct workpool *workpool_new(struct event_base *base, size_t nthreads,
                              void *(*ctx_new)(void), void (*ctx_free)(void *));

/* Queues w. Never fails; done(w) is called later on the loop thread, never
 * from inside this call. */
void workpool_submit(struct workpool *p, struct work *w);

/* Lets the workers finish every submitted work, joins them, then calls
 * done for each work not completed yet (inside this call), and frees p.
 * NULL is a no-op. */
void workpool_free(struct workpool *p);

#endif
