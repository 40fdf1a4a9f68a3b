/* gateway.h — the embeddable gateway engine: poll, classify, dedup,
 * forward, and lose nothing.
 *
 * One struct gw owns one event loop and everything on it: the scheduler
 * polling the sources, the classifier's current rule set, the Redis
 * deduplicator, the forwarders with their spool, and the HTTP API. Items
 * flow
 *
 *     source poll -> item -> classify -> dedup (async) -> forward | spool
 *                                                      -> cursor commit
 *
 * and a source's cursor is committed only after every item of its poll is
 * forwarded or durably spooled, so kill -9 at any moment loses nothing.
 * The in-flight queue is bounded; when it is full the sources wait.
 *
 * Only cmd_run.c, api.c, the tests and the benchmarks include this header.
 */
#ifndef IG_GATEWAY_GATEWAY_H
#define IG_GATEWAY_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw;
struct gw_conf;
struct ig_buf;
struct ig_diags;

struct gw_opts {
    const char *rules_dir; /* overrides [gateway] rules; NULL: conf, else
                            * default_rules_dir */
    const char *default_rules_dir; /* borrowed; used when neither is set */
    bool once;                     /* poll every source once, drain, return */
    bool no_api;                   /* do not open the HTTP listener */
    bool no_signals;    /* leave SIGHUP/SIGTERM/SIGINT alone (tests) */
    const char *listen; /* overrides [api] listen (tests: port 0) */
};

/* Checks everything gw_new() would build without opening a socket: rules,
 * sources, dedup/spool/forward sections, secrets. All problems go to d.
 * Returns IG_OK or IG_EINVAL. Any thread. */
int gw_check(const struct gw_conf *conf, const struct gw_opts *o,
             struct ig_diags *d);

/* Builds a gateway from conf (ownership of conf is *transferred*, also on
 * failure). Loads rules and sources, opens the state directory and spool,
 * starts connecting to Redis and binds the API. Problems go to d. Returns
 * IG_OK and *out, or IG_EINVAL (configuration), IG_EIO (state dir, bind).
 * Call from the thread that will call gw_run(). */
int gw_new(struct gw_conf *conf, const struct gw_opts *o, struct gw **out,
           struct ig_diags *d);

/* Runs the loop until gw_stop() (or, with opts.once, until every source was
 * polled once and every item forwarded or spooled). Returns IG_OK, or a
 * negative ig_err when the gateway had to stop on its own (drain timeout:
 * IG_EAGAIN; items were left in the spool). */
int gw_run(struct gw *g);

/* Asks gw_run() to drain and return: no new polls, in-flight items finish
 * or are spooled, cursors are committed. Loop thread (signal handlers run
 * there too). */
void gw_stop(struct gw *g);

/* Requests a reload of rules and sources (coalesced; build-then-swap).
 * Loop thread. */
void gw_reload(struct gw *g);

/* Rule-set generation: 1 after start, +1 per successful reload. */
uint64_t gw_generation(const struct gw *g);

/* The bound API port (for tests that listen on port 0), or 0. */
int gw_api_port(const struct gw *g);

/* Completion of gw_push(): http is the HTTP status the API answers (200;
 * 503 when some items could not be taken in), body the JSON answer
 * ({"generation":N,"items":[...]}; borrowed for the call). Called exactly
 * once, on the loop, never from inside gw_push(); also on shutdown (503). */
typedef void (*gw_push_cb)(void *ud, int http, const struct ig_buf *body);

/* Runs a JSON body (one item object or an array; format in
 * docs/gateway.md) through the pipeline, as POST /v1/items does; also the
 * way to feed an embedded gateway. Returns IG_OK (cb will be called;
 * *handle identifies the request until then), or, with cb not called and
 * a static message in *why: IG_EPARSE (not JSON), IG_E2BIG (over
 * [api] max_push_items), IG_EAGAIN (shutting down). Loop thread (before
 * gw_run() or from a loop callback). */
int gw_push(struct gw *g, const char *body, size_t len, gw_push_cb cb, void *ud,
            void **handle, const char **why);
/* The client went away: the items still finish, cb is not called. */
void gw_push_cancel(struct gw *g, void *handle);

/* Frees everything. NULL is a no-op. Not while gw_run() is running. */
void gw_free(struct gw *g);

#endif
