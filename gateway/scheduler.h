/* scheduler.h — when each source is polled, and what a poll hands over.
 *
 * The scheduler runs on the gateway's event_base. For every enabled source
 * of a struct source_set it keeps a timer: interval +- jitter after the
 * last poll, exponential backoff after failures (doubling from the
 * interval up to the source's max_backoff, never giving up for good), and
 * at least the Retry-After of a 429/503. A poll is one run of the
 * connector: begin, request/fetch/parse per page (up to max_pages), end;
 * local kinds (`file`) read without fetching. A source has at most one
 * poll in flight, and is not polled again before the gateway has settled
 * the previous batch (that is the backpressure on sources).
 *
 * Handover and commit (the "nothing lost" half of the contract):
 *
 *     on_batch(ud, batch)          the poll's items, with batch->token
 *        ... gateway classifies, dedups, forwards or spools ...
 *     sched_done(s, token, IG_OK)  items are safe: the cursor and the
 *                                  HTTP validators (ETag/Last-Modified)
 *                                  of this poll are committed and written
 *                                  to the state dir
 *     sched_done(s, token, err)    not safe: nothing is committed; the
 *                                  next poll starts from the old cursor
 *                                  and re-fetches (dedup absorbs repeats)
 *
 * Every batch gets exactly one sched_done, also on failure polls (which
 * may still carry items, e.g. pages fetched before a paging trap) and
 * polls with no items. sched_done may be called from inside on_batch.
 *
 * Reload (SIGHUP): build a new source set with source_set_load(); on
 * success pass it to sched_reload(), which takes ownership, keeps cursor,
 * validators, health and timer of every source whose configuration is
 * unchanged, starts new sources, stops removed ones (a poll in flight
 * still delivers its batch and its sched_done still commits) and frees the
 * old set once nothing refers to it. On failure keep the old set.
 *
 * Health (per source): last success, last error and why, consecutive
 * failures, items in the last poll, last time a poll yielded a new item
 * (fed back by the gateway through sched_done's count), persisted in the
 * state dir next to the cursor. Read it with sched_health_json() (for
 * GET /v1/sources) or sched_health_each() (for metrics).
 *
 * All functions: loop thread only.
 */
#ifndef IG_GATEWAY_SCHEDULER_H
#define IG_GATEWAY_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ig_item;
struct ig_jsonw;
struct source_set;
struct sched;

/* One poll's result. Everything is borrowed and valid until sched_done()
 * for its token, except the items (see below). */
struct sched_batch {
    uint64_t token; /* pass to sched_done() */
    const char *source_id;
    const char *kind;
    const char *channel;
    struct ig_item **items; /* items[i] ownership is *transferred* to
                             * the callee, who must ig_item_free() each
                             * (set the slot to NULL if freed early;
                             * sched_done frees non-NULL leftovers) */
    size_t nitems;
    int rc;            /* IG_OK, or the poll's error: the items
                        * are what came before the failure */
    const char *error; /* why rc != IG_OK, else NULL */
    size_t nskipped;   /* malformed items the connector skipped */
    bool not_modified; /* 304: nothing new, nitems == 0 */
};

/* Receives each poll's batch (see the contract above). */
typedef void (*sched_batch_cb)(void *ud, struct sched_batch *b);

/* Called once after --once mode has polled every source and every batch
 * got its sched_done. */
typedef void (*sched_idle_cb)(void *ud);

struct sched_opts {
    const char *state_dir;   /* cursor/validator/health files; NULL:
                              * nothing persisted (dry runs) */
    bool state_readonly;     /* read cursors/validators from
                              * state_dir but never write (intake poll) */
    bool once;               /* poll each enabled source once, then
                              * call on_idle */
    int max_per_host;        /* fetch concurrency per host; 0: 2 */
    int max_total;           /* fetch concurrency overall; 0: 32 */
    uint32_t seed;           /* jitter PRNG seed; 0: from the clock */
    sched_batch_cb on_batch; /* required */
    sched_idle_cb on_idle;   /* optional (once mode) */
    void *ud;
};

/* Creates a scheduler on base (borrowed) for set (ownership transferred,
 * also on failure). Loads each source's state from o->state_dir (a missing
 * dir is created; unreadable state files are logged and ignored). Does not
 * poll yet. Returns IG_OK and *out, or IG_EIO (state dir unusable). */
int sched_new(struct event_base *base, struct source_set *set,
              const struct sched_opts *o, struct sched **out);

/* Arms the timers: every enabled source is polled soon (spread over the
 * first few seconds, or immediately in once mode). Returns IG_OK. */
int sched_start(struct sched *s);

/* Polls one source now (even if disabled), outside its timer, unless a
 * poll of it is in flight. Returns IG_OK, IG_ENOENT (unknown id) or
 * IG_EAGAIN (busy). The batch arrives through on_batch as usual. */
int sched_poll_now(struct sched *s, const char *id);

/* Settles a batch. status IG_OK commits (cursor, validators, health
 * "success"); a negative status commits nothing. new_items is how many of
 * the batch were new to the gateway (not duplicates): it feeds the "last
 * new item" health field. Unknown tokens are ignored. */
void sched_done(struct sched *s, uint64_t token, int status, size_t new_items);

/* Replaces the source set (ownership of set transferred). Returns IG_OK. */
int sched_reload(struct sched *s, struct source_set *set);

/* Stops all timers and cancels fetches: polls in flight end with batches
 * whose rc is IG_EIO ("shutting down"); their sched_done still commits
 * nothing. Idempotent. Used by SIGTERM drain before sched_free(). */
void sched_stop(struct sched *s);

/* Frees the scheduler and the current set. Outstanding batches must have
 * been settled (or are dropped with their items). NULL is a no-op. */
void sched_free(struct sched *s);

/* Per-source health, as kept in memory and in the state dir. */
struct source_health {
    const char *id;
    const char *kind;
    bool enabled;
    int64_t last_poll_ts; /* Unix seconds; 0 = never */
    int64_t last_success_ts;
    int64_t last_error_ts;
    const char *last_error; /* why, or NULL */
    int64_t consecutive_failures;
    int64_t items_last_poll;
    int64_t empty_polls; /* successful polls in a row that
                          * returned no item (304s and sources
                          * with a cursor excluded): a page that
                          * stopped yielding items */
    int64_t last_new_item_ts;
    int64_t next_poll_ts;    /* 0 when not scheduled */
    int64_t polls, failures; /* totals since start */
    int64_t items_total;
};

/* Calls fn for each source of the current set, in config order. h is
 * borrowed for the call. */
void sched_health_each(const struct sched *s,
                       void (*fn)(void *ud, const struct source_health *h),
                       void *ud);

/* Writes a JSON array of the sources' health (one object per source, keys
 * as in struct source_health; times as ISO 8601 UTC and Unix seconds). */
void sched_health_json(const struct sched *s, struct ig_jsonw *w);

/* Writes one health record as a JSON object (also used by `intake sources
 * status`, which reads the state dir without a scheduler). */
void sched_health_obj_json(const struct source_health *h, struct ig_jsonw *w);

#endif
