/* dedup.h — deduplication of intake items in Redis.
 *
 * Three questions are asked of every item:
 *
 *   1. seen: was this (source, external id) processed before?  Answer:
 *      DEDUP_SEEN, nothing to do.
 *   2. exact: does another candidate carry the same normalised text (the
 *      same words from a hotline call and from a letter)?  DEDUP_EXACT.
 *   3. near: is it a repost or re-wording of a candidate (headline changed,
 *      a sentence added)?  A 64-bit SimHash over character bigrams, split
 *      into 4 bands of 16 bits, plus hashes of the text's first and last
 *      code points, name the buckets holding possible originals; each is
 *      confirmed by Jaccard similarity of character bigrams against the
 *      original's stored normalised text, so two short Chinese posts that
 *      merely share a street name are not merged. DEDUP_NEAR.
 *
 * A duplicate (exact or near) is linked to its original atomically (one
 * script): it is marked seen, the original's report count grows and its
 * channel set gains the duplicate's channel. Otherwise the item becomes a
 * new candidate (DEDUP_NEW) whose id is deterministic (candidate_id(), a
 * hash of source and external id), so a replay after a crash produces the
 * same id and downstream idempotency keys absorb it.
 *
 * The band buckets are held in gateway memory (gateway/nindex.h), rebuilt
 * at start from the fingerprints every new candidate appends to P:index;
 * Redis holds everything else and stays the authority. How the work is
 * split between C and Redis, and why: dedup.c and docs/delivery.md.
 *
 * Crash safety: a new candidate is "pending" until dedup_done() marks it
 * forwarded. A pending candidate seen again from its own (source, ext id)
 * is answered DEDUP_NEW with replay set, so an item whose forwarding was
 * cut off by kill -9 is forwarded again, with the same id, after restart.
 * With near on, "pending" costs Redis no command per item: the record is
 * made in state N once the candidate's P:index entry (marked "n") is
 * written, this process holds it open in memory until dedup_done(), which
 * appends a done mark to P:index (one XADD per loop turn); a start finds
 * the candidates left open there and sets their records to P. Otherwise
 * (near off, the index write failed) the record is made P and
 * dedup_done() sets it to F.
 *
 * Keys (P = configured prefix, all with the retention TTL):
 *     P:rec:<candidate id>       -> string "<state> <first> <channel>\n
 *                                   <text>": state N (see above), P
 *                                   (pending) or F (forwarded), first
 *                                   seen (Unix s), the
 *                                   channel of the first report, the
 *                                   normalised text (capped, near on)
 *     P:seen:<source>:e:<ext_id> -> candidate id a duplicate was linked to
 *                                   (:t:<text hash> without an ext id)
 *     P:exact:<text hash>        -> candidate id
 *     P:cand:<candidate id>      -> hash: reports, chans (comma list);
 *                                   created by the first duplicate (no
 *                                   key: one report), expires with the
 *                                   candidate's record
 *     P:index                    -> stream (near on): one entry per
 *                                   decided batch, field <id> = 80 hex
 *                                   digits (id, SimHash, head and tail
 *                                   anchors, exact hash), and field n
 *                                   when its records are made N; done
 *                                   marks: field done = comma-separated
 *                                   ids; trimmed to the retention (XADD
 *                                   MINID ~)
 *
 * Threads: everything runs on the libevent loop thread that owns base.
 * hiredis stays inside dedup.c; this header exposes no third-party type.
 * The process must ignore SIGPIPE (a write to a Redis that just died would
 * otherwise kill it).
 */
#ifndef IG_GATEWAY_DEDUP_H
#define IG_GATEWAY_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"

struct event_base;
struct ig_diags;
struct dedup;

#define DEDUP_TTL_DEFAULT_S (30 * 24 * 3600)
#define DEDUP_TTL_MIN_S 60 /* shortest retention accepted */
#define DEDUP_ID_LEN 16       /* hex digits of a candidate id */
#define DEDUP_MAX_CHANNELS 16 /* channels returned in a result */
/* Index entries (P:index) held for a resend while Redis does not take
 * them; past this, the newest are dropped and logged with their ids. */
#define DEDUP_INDEX_UNWRITTEN_MAX 4096

/* How to reach Redis. Filled by the caller from the [redis] section of
 * gateway.conf (gateway/conf.h; the password already resolved from its
 * reference); shared by dedup and the `stream` forwarder. */
struct redis_cfg {
    const char *host;     /* borrowed; NULL: "127.0.0.1" */
    int64_t port;         /* 0: 6379 */
    const char *socket;   /* borrowed; unix socket path, wins over host */
    const char *user;     /* borrowed; ACL user, NULL: AUTH password */
    const char *password; /* borrowed secret; NULL: no AUTH */
    int64_t db;           /* SELECT index */
    int64_t timeout_ms;   /* a command unanswered this long (or a
                             connect not done): reconnect; 0: 5000 */
    int64_t retry_ms;     /* first reconnect delay, doubles up to 30 s;
                             0: 250 */
};

/* Configuration of the deduplicator. Everything but the [dedup] keys
 * comes from the caller; defaults from dedup_cfg_defaults(). */
struct dedup_cfg {
    struct redis_cfg redis; /* borrowed strings, copied by dedup_new() */
    const char *prefix;     /* borrowed; key prefix, NULL: "intake" */
    int64_t ttl_ms;         /* retention of every key; 0: 30 days */
    /* [dedup] keys (dedup_cfg_schema): */
    bool near;            /* near-duplicate detection on */
    double near_jaccard;  /* bigram Jaccard at or above which a band
                             candidate is a near duplicate; 0.5 */
    int64_t text_max;     /* normalised text bytes stored and compared
                             per candidate; 4 KiB */
    int64_t max_inflight; /* checks in flight; above: IG_E2BIG */
    int64_t band_max;     /* members looked at per bucket; 16 */
    int64_t index_max;    /* candidates in the in-memory index; 131072 */
    int64_t near_cache;   /* bytes of recent candidates' bigram keys
                             kept in memory; 32 MiB */
    int64_t near_bits;    /* SimHash band members further than this
                             many bits are skipped; 12 */
};

/* {0}-terminated schema of the [dedup] section: near, near_jaccard,
 * near_bits, text_max, max_inflight, band_max, index_max, near_cache
 * (fields of struct dedup_cfg). */
extern const struct ig_cfg_field dedup_cfg_schema[];

/* Zeroes cfg and applies the schema defaults. */
void dedup_cfg_defaults(struct dedup_cfg *cfg);

enum dedup_verdict {
    DEDUP_NEW = 0,   /* a new candidate: forward it */
    DEDUP_SEEN = 1,  /* this source + ext id was processed before */
    DEDUP_EXACT = 2, /* same normalised text as candidate orig_id */
    DEDUP_NEAR = 3,  /* near duplicate of candidate orig_id */
};

/* One item to check. Every pointer is borrowed for the duration of the
 * dedup_check() call only (copied as needed). source_id is required;
 * ext_id may be NULL (the exact-text hash then stands in for it). */
struct dedup_req {
    const char *source_id;
    const char *channel; /* "hotline", "letters", ...; NULL: "" */
    const char *ext_id;
    const char *title; /* may be NULL */
    const char *text;  /* may be NULL */
};

/* The answer. Borrowed: valid only during the callback. */
struct dedup_result {
    enum dedup_verdict verdict;
    bool replay;               /* DEDUP_NEW for a pending candidate again */
    char id[DEDUP_ID_LEN + 1]; /* this item's candidate id */
    char orig_id[DEDUP_ID_LEN + 1]; /* candidate it belongs to (== id for
                                       DEDUP_NEW) */
    int64_t reports;                /* reports of orig_id after this one */
    double similarity;              /* Jaccard for DEDUP_NEAR, 1 for EXACT */
    const char *channels[DEDUP_MAX_CHANNELS]; /* orig_id's channels */
    size_t nchannels;
};

/* Completion of dedup_check(). Called exactly once per accepted check, on
 * the loop thread, never from inside dedup_check() itself. status: IG_OK
 * (res set), IG_EAGAIN (Redis unreachable, timed out or shutting down;
 * res NULL: nothing was recorded or the outcome is unknown, check again
 * later — a repeat is safe), IG_EIO (Redis answered an error, e.g. NOAUTH
 * or OOM; res NULL). */
typedef void (*dedup_cb)(void *ud, int status, const struct dedup_result *res);

/* Creates a deduplicator on base and starts connecting (asynchronously;
 * checks issued before the connection is up are queued by hiredis). cfg and
 * its strings are copied. Returns IG_OK and *out, or IG_EINVAL (bad cfg). Loop
 * thread. */
int dedup_new(struct event_base *base, const struct dedup_cfg *cfg,
              struct dedup **out);

/* Fails every check in flight with IG_EAGAIN (callbacks run inside this
 * call), closes the connection and frees d. NULL is a no-op. Loop thread,
 * not from inside a dedup callback. */
void dedup_free(struct dedup *d);

/* Starts one check. Returns IG_OK (cb will be called exactly once),
 * IG_EAGAIN (Redis known down: cb not called; retry later), IG_E2BIG
 * (max_inflight checks pending: cb not called) or IG_EINVAL (no
 * source_id). Loop thread. */
int dedup_check(struct dedup *d, const struct dedup_req *req, dedup_cb cb,
                void *ud);

/* An item's fingerprints (normalised text, SimHash, anchors, key names),
 * computed ahead of its check — on any thread, for d does not change after
 * dedup_new() — so the loop thread does not spend the time. NULL when req
 * has no source_id. req is borrowed for the call only. */
struct dedup_prep;
struct dedup_prep *dedup_prepare(const struct dedup *d,
                                 const struct dedup_req *req);

/* The candidate id the item will have if it is a new candidate (16 hex
 * digits). Borrowed from p. */
const char *dedup_prep_id(const struct dedup_prep *p);
/* The same id as a number (the 64 bits its hex digits spell, so one id
 * one key): for the caller's tables of items in flight. */
uint64_t dedup_prep_key(const struct dedup_prep *p);

/* Frees a preparation that was not handed to dedup_check_prepared().
 * NULL is a no-op. */
void dedup_prep_free(struct dedup_prep *p);

/* dedup_check() of a prepared item (from dedup_prepare() with this d).
 * On IG_OK takes *p (sets it NULL); otherwise *p stays the caller's, to
 * retry with. Returns as dedup_check. Loop thread. */
int dedup_check_prepared(struct dedup *d, struct dedup_prep **p, dedup_cb cb,
                         void *ud);

/* Marks candidate id (DEDUP_ID_LEN hex digits) forwarded (or durably
 * spooled), so a later replay of its item answers DEDUP_SEEN instead of
 * DEDUP_NEW+replay. cb may be NULL (fire and forget); otherwise as for
 * dedup_check with res NULL. Returns as dedup_check (IG_EINVAL for an id
 * of another length). Loop thread. */
int dedup_done(struct dedup *d, const char *id, dedup_cb cb, void *ud);

/* The item of candidate id (answered DEDUP_NEW) could be neither
 * forwarded nor spooled: it stays pending, so that when it comes again
 * (its source's cursor did not move, the pusher retries) it is a replay,
 * not DEDUP_SEEN. A candidate never marked done is that already (held
 * open in memory, found open in P:index at the next start); this sets
 * its record back to P and lets go of it, so candidates whose items never
 * come again do not pile up in memory. Call it instead of dedup_done()
 * for such an item. Returns IG_OK, IG_EINVAL (not a candidate id) or
 * IG_EAGAIN (Redis down: it stays held). Loop thread. */
int dedup_abandon(struct dedup *d, const char *id);

/* True when the connection is established and authenticated. */
bool dedup_up(const struct dedup *d);

/* Counters for /metrics. */
struct dedup_stats {
    uint64_t checks, fresh, seen, exact, near, replays;
    uint64_t errors; /* IG_EIO + IG_EAGAIN completions */
    uint64_t reconnects;
    uint64_t near_candidates; /* band hits compared by Jaccard */
    size_t inflight;
    uint64_t index_entries; /* candidates in the in-memory index */
    size_t index_unwritten; /* entries whose P:index write failed, held
                               to be sent again */
    uint64_t index_dropped; /* entries given up (each logged) */
    uint64_t cut_off;       /* N records found open at start, set to P */
    bool index_loaded;      /* rebuilt from Redis (checks wait until) */
};
void dedup_get_stats(const struct dedup *d, struct dedup_stats *out);

#endif
