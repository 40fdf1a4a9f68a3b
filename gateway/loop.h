/* loop.h — thin glue over libevent's event_base: timers, signals, deferred
 * calls.
 *
 * The gateway runs on one event loop that is not ours: libevent carries
 * libcurl's multi_socket interface (fetch.c), hiredis's async context
 * (dedup.c, forward.c) and the HTTP endpoints (api.c, evhttp). This file
 * only adds what every module would otherwise repeat: a timer object that
 * can be re-armed and cancelled, signal handlers that run as ordinary loop
 * callbacks (never in signal context), and "run this on the next loop turn"
 * for breaking deep call chains. Modules that speak to libevent directly
 * (adapters, evhttp) take the event_base from loop_base().
 *
 * Everything here is loop-thread only; libevent is used without its
 * threading support.
 */
#ifndef IG_GATEWAY_LOOP_H
#define IG_GATEWAY_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct loop;
struct loop_timer;

/* Callback of a timer, a signal or a deferred call. Runs on the loop. */
typedef void (*loop_cb)(void *ud);

/* Creates a loop with its own event_base. Never NULL (aborts when libevent
 * cannot create a base: nothing works without one). */
struct loop *loop_new(void);
/* Frees the loop and its base. Timers and signal handlers must be freed
 * first. NULL is a no-op. */
void loop_free(struct loop *l);
/* The underlying event_base, for adapters (hiredis, evhttp, curl). */
struct event_base *loop_base(struct loop *l);

/* Runs until loop_break() or until no events are left. Returns IG_OK or
 * IG_EIO when libevent reports an error. */
int loop_run(struct loop *l);
/* Runs one non-blocking iteration (for tests and draining). */
int loop_run_once(struct loop *l, bool block);
/* Makes loop_run() return after the current callback. Loop thread. */
void loop_break(struct loop *l);

/* Monotonic milliseconds (CLOCK_MONOTONIC). */
int64_t loop_now_ms(struct loop *l);
/* Wall-clock Unix seconds. */
int64_t loop_wall_s(void);

/* Creates an unarmed timer calling cb(ud). Never NULL. */
struct loop_timer *loop_timer_new(struct loop *l, loop_cb cb, void *ud);
/* (Re)arms the timer to fire once after delay_ms (0: next loop turn). */
void loop_timer_arm(struct loop_timer *t, int64_t delay_ms);
/* Disarms the timer; harmless when not armed. */
void loop_timer_cancel(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
/* Cancels and frees. NULL is a no-op. */
void loop_timer_free(struct loop_timer *t);

/* Calls cb(ud) on the loop whenever signo arrives, until loop_free() or
 * loop_signal_del(). Returns IG_OK or IG_EINVAL. One handler per signal. */
int loop_signal_add(struct loop *l, int signo, loop_cb cb, void *ud);
void loop_signal_del(struct loop *l, int signo);

#endif
