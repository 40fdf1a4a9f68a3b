/* forward.h — forwarders: where hazard candidates go.
 *
 * A *kind* is a const struct forwarder_ops; an *instance* is one configured
 * [forward <name>] section pointing at its kind. Built-in kinds:
 *
 *     stream   Redis XADD (MAXLEN ~ N) on the pipelined Redis connection
 *              (rconn), exactly once:
 *              a Lua script sets a per-candidate "sent" key with NX and
 *              only then adds the entry, so a replay adds nothing.
 *     webhook  POST of JSON batches with libcurl (multi on the loop), an
 *              Idempotency-Key header per request and each candidate's id
 *              in the body.
 *     file     JSON Lines to a file, or to stdout with path "-".
 *     capture  records in memory, for tests (forwarder_capture_ops; not in
 *              the registry until forwarder_register() is called).
 *
 * The generic layer (forward.c) batches records, retries a failed attempt
 * with exponential backoff (a kind reports IG_EAGAIN for timeouts, 5xx, 408
 * and 429, with Retry-After honoured), sends permanent rejections
 * (IG_EREJECTED: other 4xx, a refused record) to the dead-letter file, and,
 * when a spool directory is configured, writes records it cannot deliver to
 * the on-disk spool (gateway/spool.h) and replays them in order when the
 * target returns. While the spool holds records, new records are appended
 * behind them, so the target sees the original order.
 *
 * Threads: everything on the loop thread that owns the event_base.
 */
#ifndef IG_GATEWAY_FORWARD_H
#define IG_GATEWAY_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"

struct event_base;
struct ig_diags;
struct forwarder;
struct fwd_batch;
struct redis_cfg;
struct spool_opts;

/* One candidate record to forward. Borrowed by forwarder_send(), which
 * copies it (forwarder_send_ref() does not). */
struct fwd_rec {
    const char *id;   /* candidate id (idempotency key), no NUL inside */
    const char *json; /* one JSON object (candidate_json()), no newline */
    size_t len;
    bool fresh; /* never handed to any forwarder before (the deduplicator
                   just created it); see forwarder_batch_fresh() */
};

/* Completion of one record. Called exactly once per accepted record, on
 * the loop thread, never from inside forwarder_send(). status:
 *   IG_OK        delivered, or durably written to the spool (replayed
 *                later by the forwarder itself);
 *   IG_EREJECTED refused for good by the target; written to the
 *                dead-letter file (or logged when none is configured);
 *   IG_EAGAIN    not delivered and not spooled (retries exhausted without
 *                a spool, spool full, or forwarder_free()): the caller
 *                still owns the item and must try again later. */
typedef void (*forwarder_cb)(void *ud, int status);

/* A kind. Designated initialisers; optional slots may be NULL. */
struct forwarder_ops {
    const char *kind;                  /* "stream", "webhook", ... */
    const struct ig_cfg_field *schema; /* the kind's own keys, {0}-ended */
    size_t cfg_size;                   /* size of the struct schema fills */
    /* Reads forwarder_cfg(f), sets the instance context with
     * forwarder_set_ctx(). Errors go to d. Returns IG_OK or IG_EINVAL. */
    int (*init)(struct forwarder *f, struct ig_diags *d);
    /* One delivery attempt of batch b (forwarder_batch_rec() to read it).
     * Must end with forwarder_batch_done() exactly once, possibly before
     * send returns. */
    void (*send)(struct forwarder *f, struct fwd_batch *b);
    /* Abandons attempts in flight (calling forwarder_batch_done() for
     * them is allowed and ignored: the generic layer fails their records
     * with IG_EAGAIN afterwards), frees the context. Safe after a failed
     * init (context NULL). */
    void (*fini)(struct forwarder *f);
};

/* Generic keys of every [forward <name>] section (the kind's own keys are
 * in its ops->schema):
 *     kind  batch_max  batch_wait  max_queue  concurrency  retries
 *     backoff  backoff_max  spool  dead_letter  only */
extern const struct ig_cfg_field forwarder_cfg_schema[];

/* What every forwarder gets from the gateway. All borrowed for the
 * duration of forwarder_new() (copied as needed). */
struct forwarder_env {
    struct event_base *base;        /* the loop */
    const char *base_dir;           /* relative paths resolve here; NULL:
                                       the working directory */
    const struct redis_cfg *redis;  /* [redis]: default connection of the
                                       stream kind; may be NULL */
    const char *prefix;             /* [redis] prefix for stream keys */
    int64_t ttl_ms;                 /* [redis] retention (sent keys) */
    const char *spool_dir;          /* the spool lives in
                                       <spool_dir>/<name>; NULL/"": none */
    const struct spool_opts *spool; /* NULL: defaults */
    const char *dead_letter_dir;    /* default dead-letter file
                                       <dir>/dead-letter-<name>.jsonl;
                                       NULL: log rejected records */
};

/* Adds a kind to the registry (tests add forwarder_capture_ops). Returns
 * IG_OK or IG_EINVAL (name taken). Call before any forwarder_new(), from
 * one thread. */
int forwarder_register(const struct forwarder_ops *ops);
/* The kind named name, or NULL. */
const struct forwarder_ops *forwarder_kind(const char *name);

/* Creates the instance described by section sec (sec->name is the instance
 * name, `kind` picks the ops) on env->base. Every config error is reported
 * in d. Opens the spool if configured: a damaged spool tail is reported in
 * the log and kept aside as <segment>.corrupt-<offset>, never dropped
 * silently; records left in the spool are replayed. Returns IG_OK and
 * *out, IG_EINVAL (config) or IG_EIO (spool, dead-letter file). Loop
 * thread. */
int forwarder_new(const struct forwarder_env *env,
                  const struct ig_cfg_section *sec, struct ig_diags *d,
                  struct forwarder **out);

/* Checks sec against the generic and the kind's schema without creating
 * anything (gw_check). Returns IG_OK or IG_EINVAL; problems go to d. */
int forwarder_check(const struct ig_cfg_section *sec, struct ig_diags *d);

/* Fails every record not yet completed with IG_EAGAIN (callbacks run
 * inside this call), syncs and closes the spool, frees f. Records already
 * in the spool stay there for the next start. NULL is a no-op. Loop
 * thread, not from inside a forwarder callback. */
void forwarder_free(struct forwarder *f);

/* Queues one record. Returns IG_OK (cb will be called exactly once),
 * IG_E2BIG (max_queue records pending: back-pressure, cb not called) or
 * IG_EINVAL. Loop thread. */
int forwarder_send(struct forwarder *f, const struct fwd_rec *rec,
                   forwarder_cb cb, void *ud);
/* As forwarder_send(), without the copy: rec's id and JSON are borrowed
 * until cb has been called, and must stay unchanged until then. */
int forwarder_send_ref(struct forwarder *f, const struct fwd_rec *rec,
                       forwarder_cb cb, void *ud);

/* Records accepted and not yet completed (queue + in flight). */
size_t forwarder_pending(const struct forwarder *f);
const char *forwarder_name(const struct forwarder *f);
/* The `only` key as a level: 0 all, 1 elevated, 2 high (the values of
 * enum route_level). The gateway sends this forwarder only records whose
 * priority level is at least that; forward.c itself does not filter. */
int forwarder_only(const struct forwarder *f);

struct forwarder_stats {
    uint64_t sent;          /* records accepted by forwarder_send() */
    uint64_t delivered;     /* records the target acknowledged */
    uint64_t attempts;      /* delivery attempts (batches) */
    uint64_t retries;       /* attempts after IG_EAGAIN */
    uint64_t rejected;      /* records dead-lettered */
    uint64_t failed;        /* records completed with IG_EAGAIN */
    uint64_t spooled;       /* records written to the spool */
    uint64_t replayed;      /* spooled records delivered later */
    uint64_t spool_records; /* records in the spool now */
    uint64_t spool_bytes;
    bool up; /* last attempt succeeded */
};
void forwarder_get_stats(const struct forwarder *f,
                         struct forwarder_stats *out);

/* --- for kinds (forward_*.c) ------------------------------------------ */

/* The kind's config struct filled from ops->schema (cfg_size bytes). */
void *forwarder_cfg(const struct forwarder *f);
void forwarder_set_ctx(struct forwarder *f, void *ctx);
void *forwarder_ctx(const struct forwarder *f);
struct event_base *forwarder_base(const struct forwarder *f);
/* The environment given to forwarder_new() (copied; strings owned by f). */
const struct forwarder_env *forwarder_env(const struct forwarder *f);
/* Log prefix "forward:<kind>:<name>". */
const char *forwarder_comp(const struct forwarder *f);

size_t forwarder_batch_len(const struct fwd_batch *b);
/* Record i of b; borrowed until forwarder_batch_done(). */
const struct fwd_rec *forwarder_batch_rec(const struct fwd_batch *b, size_t i);
/* True on the first attempt of a batch of fresh records that did not come
 * from the spool: nothing of it can have reached the target, so a kind may
 * skip its duplicate guard (it must still leave behind whatever guards a
 * later attempt). */
bool forwarder_batch_fresh(const struct fwd_batch *b);
/* A stable key for the whole attempt (same on every retry of the same
 * batch): the Idempotency-Key of a webhook request. Made on first use and
 * kept in b. */
const char *forwarder_batch_key(struct fwd_batch *b);
/* Ends the attempt: status IG_OK, IG_EAGAIN (retry_after_ms > 0 asks for
 * at least that delay, e.g. Retry-After) or IG_EREJECTED; reason (copied,
 * may be NULL) goes to the log and the dead-letter file. */
void forwarder_batch_done(struct fwd_batch *b, int status,
                          int64_t retry_after_ms, const char *reason);

/* --- the capture kind (tests) ----------------------------------------- */

/* Keys: fail_first (attempts answered IG_EAGAIN before succeeding),
 * reject (bool: answer IG_EREJECTED). */
extern const struct forwarder_ops forwarder_capture_ops;
/* Records captured so far, in delivery order; borrowed from f. */
size_t forwarder_capture_count(const struct forwarder *f);
const char *forwarder_capture_json(const struct forwarder *f, size_t i);
const char *forwarder_capture_id(const struct forwarder *f, size_t i);
/* Changes the behaviour at run time: the next n attempts fail with status
 * (IG_EAGAIN or IG_EREJECTED); n == 0 restores success. */
void forwarder_capture_fail(struct forwarder *f, int n, int status);

#endif
