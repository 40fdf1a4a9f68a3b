/* review.h — the review queue: candidates a person should look at, in
 * Redis, highest priority first.
 *
 * One sorted set, <prefix>:review, holds candidate ids. The score orders
 * the queue for ZREVRANGE / ZPOPMAX: the priority level first (high above
 * elevated above normal, whatever the confidence), then low confidence
 * first, then the older candidate first. Members are added with ZADD GT,
 * so a later report that raises a candidate's priority moves it up and
 * nothing ever moves it down; the key's TTL is refreshed on every add.
 * Past REVIEW_MAX members the lowest-scored are trimmed (logged, summed
 * while the queue stays full).
 *
 * The record itself is not stored here: the platform reads the id from
 * the queue and the candidate from its stream or webhook (see
 * docs/gateway.md, "Review queue").
 *
 * Threads: the loop thread that owns base. hiredis stays inside review.c
 * (through rconn).
 */
#ifndef IG_GATEWAY_REVIEW_H
#define IG_GATEWAY_REVIEW_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct redis_cfg;
struct review;

/* Members kept at most; a district sees far fewer open candidates. */
#define REVIEW_MAX 100000

/* Completion of review_add(): exactly once per accepted add, on the loop
 * thread, never from inside review_add(). status IG_OK, IG_EIO (Redis
 * answered an error) or IG_EAGAIN (connection lost, shutting down). */
typedef void (*review_cb)(void *ud, int status);

/* Opens the queue's own Redis connection on base (asynchronously). redis
 * and prefix (NULL: "intake") are copied; ttl_ms (0: 30 days) is the
 * key's retention. Trims of a full queue are logged: the first at once,
 * the next ones summed into one line per trim_log_ms (0: a minute; a full
 * queue trims at every flush) and at review_free(). Returns IG_OK and
 * *out, or IG_EINVAL. Loop thread. */
int review_new(struct event_base *base, const struct redis_cfg *redis,
               const char *prefix, int64_t ttl_ms, int64_t trim_log_ms,
               struct review **out);

/* Fails the adds in flight with IG_EAGAIN (callbacks run inside this
 * call), closes and frees r. NULL is a no-op. Not from a callback. */
void review_free(struct review *r);

/* The queue order as one number (exact in a double): level (0 normal,
 * 1 elevated, 2 high) * 1e13 + (100 - confidence in percent) * 1e10 +
 * (1e10 - 1 - received Unix seconds). Larger sorts first. Pure. */
double review_score(int level, double confidence, int64_t received_s);

/* True when a candidate belongs in the queue: unclassified, confidence
 * below `below`, or level elevated or high. Pure. */
bool review_wanted(bool classified, double confidence, double below, int level);

/* Adds (or raises) candidate id with score. Returns IG_OK (cb called
 * once), IG_EAGAIN (no connection now: cb not called) or IG_EINVAL.
 * Loop thread. */
int review_add(struct review *r, const char *id, double score, review_cb cb,
               void *ud);

/* The queue's key ("<prefix>:review"), borrowed from r. */
const char *review_key(const struct review *r);

#endif
