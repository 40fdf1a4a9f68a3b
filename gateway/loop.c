/* loop.c — libevent glue: timers and signals (see loop.h).
 *
 * Signals use libevent's evsignal, which turns the signal into a byte on a
 * socketpair so the handler runs as a normal callback; that is why the
 * gateway's SIGHUP and SIGTERM handlers may free memory and write logs. At
 * most a handful of signals are watched, so they live in a small fixed
 * table rather than a map.
 */
#include "gateway/loop.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"

#define LOOP_MAX_SIGNALS 8

struct loop_sig {
    int signo;        /* 0 = free slot */
    struct event *ev; /* owned */
    loop_cb cb;
    void *ud;
};

struct loop {
    struct event_base *base; /* owned */
    struct loop_sig sigs[LOOP_MAX_SIGNALS];
};

struct loop_timer {
    struct event *ev; /* owned */
    loop_cb cb;
    void *ud;
};

struct loop *loop_new(void)
{
    struct loop *l = ig_calloc(1, sizeof(*l));
    l->base = event_base_new();
    if (!l->base) {
        abort();
    }
    return l;
}

void loop_free(struct loop *l)
{
    if (!l) {
        return;
    }
    for (int i = 0; i < LOOP_MAX_SIGNALS; i++) {
        if (l->sigs[i].ev) {
            event_free(l->sigs[i].ev);
        }
    }
    event_base_free(l->base);
    ig_free(l);
}

struct event_base *loop_base(struct loop *l)
{
    return l->base;
}

int loop_run(struct loop *l)
{
    /* EVLOOP_NO_EXIT_ON_EMPTY: the gateway keeps running while it waits
     * for its first timer to be armed; loop_break() is the only exit. */
    int rc = event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return rc < 0 ? IG_EIO : IG_OK;
}

int loop_run_once(struct loop *l, bool block)
{
    int flags = EVLOOP_ONCE;
    if (!block) {
        flags |= EVLOOP_NONBLOCK;
    }
    int rc = event_base_loop(l->base, flags);
    return rc < 0 ? IG_EIO : IG_OK;
}

void loop_break(struct loop *l)
{
    event_base_loopbreak(l->base);
}

int64_t loop_now_ms(struct loop *l)
{
    (void)l;
    return ig_mono_ms();
}

int64_t loop_wall_s(void)
{
    return (int64_t)time(NULL);
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct loop_timer *t = arg;
    t->cb(t->ud);
}

struct loop_timer *loop_timer_new(struct loop *l, loop_cb cb, void *ud)
{
    struct loop_timer *t = ig_calloc(1, sizeof(*t));
    t->cb = cb;
    t->ud = ud;
    t->ev = evtimer_new(l->base, timer_fire, t);
    if (!t->ev) {
        abort();
    }
    return t;
}

void loop_timer_arm(struct loop_timer *t, int64_t delay_ms)
{
    if (delay_ms < 0) {
        delay_ms = 0;
    }
    struct timeval tv = {
        .tv_sec = (time_t)(delay_ms / 1000),
        .tv_usec = (suseconds_t)((delay_ms % 1000) * 1000),
    };
    evtimer_add(t->ev, &tv);
}

void loop_timer_cancel(struct loop_timer *t)
{
    evtimer_del(t->ev);
}

bool loop_timer_armed(const struct loop_timer *t)
{
    return evtimer_pending(t->ev, NULL) != 0;
}

void loop_timer_free(struct loop_timer *t)
{
    if (!t) {
        return;
    }
    event_free(t->ev);
    ig_free(t);
}

static void signal_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct loop_sig *s = arg;
    s->cb(s->ud);
}

int loop_signal_add(struct loop *l, int signo, loop_cb cb, void *ud)
{
    struct loop_sig *slot = NULL;
    for (int i = 0; i < LOOP_MAX_SIGNALS; i++) {
        if (l->sigs[i].signo == signo) {
            return IG_EINVAL;
        }
        if (!slot && l->sigs[i].signo == 0) {
            slot = &l->sigs[i];
        }
    }
    if (!slot || signo <= 0) {
        return IG_EINVAL;
    }
    slot->signo = signo;
    slot->cb = cb;
    slot->ud = ud;
    slot->ev = evsignal_new(l->base, signo, signal_fire, slot);
    if (!slot->ev || evsignal_add(slot->ev, NULL) != 0) {
        if (slot->ev) {
            event_free(slot->ev);
        }
        slot->ev = NULL;
        slot->signo = 0;
        return IG_EINVAL;
    }
    return IG_OK;
}

void loop_signal_del(struct loop *l, int signo)
{
    for (int i = 0; i < LOOP_MAX_SIGNALS; i++) {
        if (l->sigs[i].signo == signo) {
            event_free(l->sigs[i].ev);
            l->sigs[i].ev = NULL;
            l->sigs[i].signo = 0;
        }
    }
}
