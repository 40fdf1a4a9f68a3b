/* workpool.c — worker threads with completions on the loop (see
 * workpool.h).
 *
 * Two lists under one mutex: the queue workers take from, and the
 * completions the loop drains. While work is queued a worker writes the
 * eventfd once per WORKPOOL_WAKE_EVERY completions, and at once when it
 * runs out of work; the loop drains the whole list per wake-up. So a busy
 * pool costs one syscall per batch of items, not per item, and no
 * completion waits longer than that many items' work.
 *
 * Submits are gathered too: a submit only queues, and one deferred event
 * (run by the loop after the callback that submitted) wakes idle workers
 * for everything queued in that turn. Waking a worker per submit made the
 * worker and the loop take turns on one core, a context switch per item:
 * the woken worker ran on the waker's core and preempted it.
 */
#include "gateway/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/mem.h"

#define WORKPOOL_WAKE_EVERY 32

struct workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct work *qhead, *qtail; /* waiting for a worker */
    struct work *dhead, *dtail; /* finished, waiting for the loop */
    size_t idle;                /* workers waiting on cv */
    size_t unseen;              /* completions since the last wake-up */
    bool signaled;              /* a wake-up is written, not drained */
    bool stopping;
    bool kicking;               /* kick_ev is active (loop thread only) */
    int efd;
    struct event *ev;
    struct event *kick_ev; /* wakes idle workers for this turn's submits */
    pthread_t *threads;
    size_t nthreads;
    void *(*ctx_new)(void);
    void (*ctx_free)(void *);
};

static void push(struct work **head, struct work **tail, struct work *w)
{
    w->next = NULL;
    if (*tail) {
        (*tail)->next = w;
    } else {
        *head = w;
    }
    *tail = w;
}

static void *worker(void *arg)
{
    struct workpool *p = arg;
    void *ctx = p->ctx_new ? p->ctx_new() : NULL;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct work *w = p->qhead;
        bool wake;

        if (!w) {
            if (p->stopping) {
                break;
            }
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
            continue;
        }
        p->qhead = w->next;
        if (!p->qhead) {
            p->qtail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        w->fn(w, ctx);
        pthread_mutex_lock(&p->mu);
        /* Wake the loop when this worker runs out of work, and otherwise
         * every WORKPOOL_WAKE_EVERY completions (a write and a loop
         * wake-up per item cost more than classifying a short one) —
         * unless a wake-up is pending already: the loop's drain takes the
         * whole list, this completion included. */
        push(&p->dhead, &p->dtail, w);
        p->unseen++;
        wake = !p->signaled && (!p->qhead || p->unseen >= WORKPOOL_WAKE_EVERY);
        if (wake) {
            p->signaled = true;
            p->unseen = 0;
        }
        if (wake) {
            uint64_t one = 1;

            /* Cannot fail short of a closed fd: the counter never gets
             * near its limit, the loop reads it back to zero. */
            while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (p->ctx_free) {
        p->ctx_free(ctx);
    }
    return NULL;
}

/* Runs the done callbacks of everything finished so far. */
static void drain(struct workpool *p)
{
    struct work *w;

    pthread_mutex_lock(&p->mu);
    w = p->dhead;
    p->dhead = p->dtail = NULL;
    p->signaled = false;
    pthread_mutex_unlock(&p->mu);
    while (w) {
        struct work *next = w->next;

        w->done(w);
        w = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;

    (void)what;
    while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR) {
    }
    drain(arg);
}

/* After the submits of a loop turn: wakes as many idle workers as there
 * is work for (one per queued work at most). */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct workpool *p = arg;
    size_t n = 0;

    (void)fd;
    (void)what;
    p->kicking = false;
    pthread_mutex_lock(&p->mu);
    for (struct work *w = p->qhead; w && n < p->idle; w = w->next) {
        n++;
    }
    if (n == p->idle) {
        pthread_cond_broadcast(&p->cv);
    } else {
        while (n-- > 0) {
            pthread_cond_signal(&p->cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
}

struct workpool *workpool_new(struct event_base *base, size_t nthreads,
                              void *(*ctx_new)(void), void (*ctx_free)(void *))
{
    struct workpool *p;
    size_t i;

    if (!base || nthreads == 0) {
        return NULL;
    }
    p = ig_calloc(1, sizeof(*p));
    p->ctx_new = ctx_new;
    p->ctx_free = ctx_free;
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->efd < 0) {
        ig_free(p);
        return NULL;
    }
    p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_wake, p);
    p->kick_ev = event_new(base, -1, 0, on_kick, p);
    if (!p->ev || !p->kick_ev || event_add(p->ev, NULL) < 0) {
        if (p->ev) {
            event_free(p->ev);
        }
        if (p->kick_ev) {
            event_free(p->kick_ev);
        }
        close(p->efd);
        ig_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = ig_calloc(nthreads, sizeof(*p->threads));
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            ig_error("workpool", "cannot start worker thread %zu", i);
            break;
        }
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        workpool_free(p);
        return NULL;
    }
    return p;
}

void workpool_submit(struct workpool *p, struct work *w)
{
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        /* From a done callback inside workpool_free(): the workers are
         * gone; do it here, done comes from free's drain loop. */
        void *ctx;

        pthread_mutex_unlock(&p->mu);
        ctx = p->ctx_new ? p->ctx_new() : NULL;
        w->fn(w, ctx);
        if (p->ctx_free) {
            p->ctx_free(ctx);
        }
        pthread_mutex_lock(&p->mu);
        push(&p->dhead, &p->dtail, w);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    push(&p->qhead, &p->qtail, w);
    pthread_mutex_unlock(&p->mu);
    if (!p->kicking) {
        p->kicking = true;
        event_active(p->kick_ev, EV_TIMEOUT, 0);
    }
}

void workpool_free(struct workpool *p)
{
    size_t i;

    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    /* Every work is finished now; hand the rest back (a done callback
     * that submits more gets it done inline, and drained here too). */
    while (p->dhead) {
        drain(p);
    }
    event_free(p->ev);
    event_free(p->kick_ev);
    close(p->efd);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    ig_free(p->threads);
    ig_free(p);
}
