/* fwd_fixture.h — what the forwarder tests (test_forward, test_webhook)
 * share: a temporary directory and an event base per test binary,
 * forwarders built from config text, a sink counting completions by
 * status, numbered records to send, and the files forwarders write.
 */
#ifndef IG_TESTS_FWD_FIXTURE_H
#define IG_TESTS_FWD_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_request;
struct forwarder;
struct redis_cfg;

extern char fwd_dir[256]; /* the temporary directory */
extern struct event_base *fwd_base;
extern uint64_t fwd_spool_max; /* max_bytes of the next fwd_make()'s spool */

/* cmocka group setup/teardown: name is the directory's prefix. */
int fwd_fx_setup(const char *name);
int fwd_fx_teardown(void);

/* A forwarder from config text (one [forward NAME] section), with the
 * spool at fwd_dir/spool when spool, and rc for the stream kind. */
struct forwarder *fwd_make(const char *text, const struct redis_cfg *rc,
                           bool spool);

struct fwd_sink {
    int calls;
    int ok, rejected, again;
};
/* The completion callback for a struct fwd_sink. */
void fwd_sink_done(void *ud, int status);

/* Sends records c<from>..c<to-1> (JSON {"id":"c0001","n":1}), fresh or
 * not, completing into s. */
void fwd_send_recs(struct forwarder *f, int from, int to, bool fresh,
                   struct fwd_sink *s);
static inline void fwd_send_n(struct forwarder *f, int from, int to,
                              struct fwd_sink *s)
{
    fwd_send_recs(f, from, to, false, s);
}

/* A real HTTP receiver on fwd_base at 127.0.0.1, its port picked by the
 * kernel (into *port): cb answers every request. evhttp_free() it. */
struct evhttp *fwd_receiver(void (*cb)(struct evhttp_request *, void *),
                            void *arg, int *port);
/* A webhook forwarder [forward hook] posting to that port's
 * /v1/candidates (3 retries, 1 ms backoff), plus extra config lines. */
struct forwarder *fwd_make_hook(int port, const char *extra, bool spool);

/* Runs the loop until *n reaches want. */
void fwd_run_until(const int *n, int want);
/* fwd_dir/name's content (up to 64 KiB, a static buffer; "" if absent). */
char *fwd_slurp(const char *name);
int fwd_count_lines(const char *s);

#endif
