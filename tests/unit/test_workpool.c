/* test_workpool.c — worker threads with completions on the loop: every
 * work runs once on a worker (with that worker's context) and completes
 * once on the loop thread, in order with one worker; idle workers are
 * woken once per loop turn, after the submitting code returns to the loop;
 * freeing the pool completes what is still queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "gateway/workpool.h"

#define N 2000

struct item {
    struct work w; /* first: the pool hands back the struct work */
    int i;
    pthread_t ran_on;
    void *ctx;
    int done_calls;
};

static pthread_t g_loop;
static int g_order[N];
static int g_ndone;
static int g_nctx;

static void *ctx_new(void)
{
    int *c = malloc(sizeof(*c));

    *c = __atomic_add_fetch(&g_nctx, 1, __ATOMIC_SEQ_CST);
    return c;
}

static void ctx_free(void *c)
{
    free(c);
}

static void work_fn(struct work *w, void *ctx)
{
    struct item *it = (struct item *)w;

    it->ran_on = pthread_self();
    it->ctx = ctx;
}

static void done_fn(struct work *w)
{
    struct item *it = (struct item *)w;

    assert_true(pthread_equal(pthread_self(), g_loop));
    it->done_calls++;
    g_order[g_ndone++] = it->i;
}

static void submit_all(struct workpool *p, struct item *items)
{
    int i;

    for (i = 0; i < N; i++) {
        items[i].i = i;
        items[i].w.fn = work_fn;
        items[i].w.done = done_fn;
        workpool_submit(p, &items[i].w);
    }
}

/* A pool of nthreads on a new base, with N works submitted. */
static struct workpool *start(struct event_base **base, struct item **items,
                              size_t nthreads)
{
    struct workpool *p;

    *base = event_base_new();
    *items = calloc(N, sizeof(**items));
    g_loop = pthread_self();
    g_ndone = 0;
    p = workpool_new(*base, nthreads, ctx_new, ctx_free);
    assert_non_null(p);
    submit_all(p, *items);
    return p;
}

static void one_worker_keeps_order(void **state)
{
    struct event_base *base;
    struct item *items;
    struct workpool *p = start(&base, &items, 1);
    int i;

    (void)state;
    assert_int_equal(g_ndone, 0); /* never from inside submit */
    while (g_ndone < N) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    for (i = 0; i < N; i++) {
        assert_int_equal(g_order[i], i);
        assert_int_equal(items[i].done_calls, 1);
        assert_false(pthread_equal(items[i].ran_on, g_loop));
        assert_non_null(items[i].ctx);
    }
    workpool_free(p);
    event_base_free(base);
    free(items);
}

/* Submits only queue: an idle worker starts when the loop runs the pool's
 * wake-up, after the code that submitted has returned to the loop (so a
 * batch of submits costs one wake-up, and the woken worker does not
 * preempt the submitter once per item). */
static void submits_wake_workers_at_the_next_turn(void **state)
{
    struct event_base *base = event_base_new();
    struct item *items = calloc(N, sizeof(*items));
    struct workpool *p;
    int i;

    (void)state;
    g_loop = pthread_self();
    g_ndone = 0;
    p = workpool_new(base, 2, ctx_new, ctx_free);
    assert_non_null(p);
    /* Both workers reach their wait (nothing queued). */
    usleep(50 * 1000);
    submit_all(p, items);
    usleep(50 * 1000);
    for (i = 0; i < N; i++) {
        assert_null(items[i].ctx); /* not run: no worker was woken */
    }
    while (g_ndone < N) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    for (i = 0; i < N; i++) {
        assert_int_equal(items[i].done_calls, 1);
        assert_non_null(items[i].ctx);
    }
    workpool_free(p);
    event_base_free(base);
    free(items);
}

static void free_completes_the_rest(void **state)
{
    struct event_base *base;
    struct item *items;
    struct workpool *p = start(&base, &items, 3);
    int i;

    (void)state;
    /* No loop turn: everything completes inside free. */
    workpool_free(p);
    assert_int_equal(g_ndone, N);
    for (i = 0; i < N; i++) {
        assert_int_equal(items[i].done_calls, 1);
        assert_non_null(items[i].ctx);
    }
    event_base_free(base);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_worker_keeps_order),
        cmocka_unit_test(submits_wake_workers_at_the_next_turn),
        cmocka_unit_test(free_completes_the_rest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
