/* review.c — the review queue in Redis (see review.h).
 *
 * Adds wait in a queue for the next loop turn and go out together, as one
 * transaction per flush: MULTI, a variadic ZADD GT of all of them, the
 * trim (ZREMRANGEBYRANK 0 -(REVIEW_MAX+1): the lowest ranks past the
 * cap, nothing when under it), the TTL refresh, EXEC — so they move
 * together, in one round trip (pipelined with every other flush on the
 * queue's own connection, an rconn). One script per add cost ~7 us of
 * Redis CPU each; one script per flush, doing the same, still cost Redis
 * ~2.7 k instructions per add, the plain transaction ~1.5 k (Lua converts
 * every argument and reply both ways; docs/gateway.md, sixth session).
 * ZADD GT (Redis 6.2+) only ever raises a member's score: a report that
 * makes a candidate high priority moves it up; a later, calmer duplicate
 * cannot move it down.
 *
 * The connection is separate from dedup's: the review queue is advisory
 * (the candidate has been forwarded already), so a slow or failing queue
 * must never hold dedup's checks.
 */
#include "gateway/review.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pool.h"
#include "gateway/dedup.h"
#include "gateway/rconn.h"

#define REVIEW_COMP "review"

/* Adds flushed in one transaction at most (ZADD's arguments). */
#define REVIEW_BATCH 512

/* Room for an id in a reusable add (candidate ids have 16 digits). */
#define REVIEW_ID_ROOM 32
/* Finished adds kept for reuse, at most. */
#define REVIEW_FREE_MAX 1024
/* Trims summed into one log line per this much time, by default. */
#define REVIEW_TRIM_LOG_MS 60000

/* One add waiting for the next flush, or in flight. */
struct add {
    struct add *next;
    struct review *r; /* set: goes back to r's free list when done */
    review_cb cb;
    void *ud;
    char sc[24];
    size_t id_len;
    char id[]; /* in this allocation */
};

struct review {
    struct rconn *rc;
    struct event *flush_ev;
    struct add *head, *tail; /* waiting */
    struct ig_pool adds;     /* finished, with REVIEW_ID_ROOM for the id */
    char *key;               /* owned: "<prefix>:review" */
    char ttl[24];
    char cut[24];  /* "-(REVIEW_MAX+1)": ZREMRANGEBYRANK's stop */
    bool refusing; /* Redis refused the last flush (logged once) */
    struct event *trim_ev; /* logs the trims summed since the last line */
    int64_t trim_log_ms;
    long long trimmed; /* members trimmed and not yet logged */
    bool trim_quiet;   /* a trim line went out less than trim_log_ms ago */
};

/* The adds of one transaction. */
struct flight {
    struct review *r;
    struct add *adds;
};

static void flush_cb(evutil_socket_t fd, short what, void *arg);
static void trim_cb(evutil_socket_t fd, short what, void *arg);
static bool log_trimmed(struct review *r);
static void finish_all(struct add *a, int status);

int review_new(struct event_base *base, const struct redis_cfg *redis,
               const char *prefix, int64_t ttl_ms, int64_t trim_log_ms,
               struct review **out)
{
    struct review *r;
    size_t n;

    if (!base || !redis || !out) {
        return IG_EINVAL;
    }
    r = ig_calloc(1, sizeof(*r));
    ig_pool_init(&r->adds, sizeof(struct add) + REVIEW_ID_ROOM,
                 REVIEW_FREE_MAX);
    r->rc = rconn_new(base, redis, REVIEW_COMP, NULL);
    r->flush_ev = event_new(base, -1, 0, flush_cb, r);
    r->trim_ev = event_new(base, -1, 0, trim_cb, r);
    r->trim_log_ms = trim_log_ms > 0 ? trim_log_ms : REVIEW_TRIM_LOG_MS;
    if (!r->rc || !r->flush_ev || !r->trim_ev) {
        rconn_free(r->rc);
        if (r->flush_ev) {
            event_free(r->flush_ev);
        }
        if (r->trim_ev) {
            event_free(r->trim_ev);
        }
        ig_free(r);
        return IG_EINVAL;
    }
    prefix = prefix && *prefix ? prefix : "intake";
    n = strlen(prefix) + sizeof(":review");
    r->key = ig_malloc(n);
    snprintf(r->key, n, "%s:review", prefix);
    snprintf(
        r->ttl, sizeof(r->ttl), "%lld",
        (long long)(ttl_ms > 0 ? ttl_ms : (int64_t)DEDUP_TTL_DEFAULT_S * 1000));
    snprintf(r->cut, sizeof(r->cut), "%d", -(REVIEW_MAX + 1));
    *out = r;
    return IG_OK;
}

void review_free(struct review *r)
{
    if (!r) {
        return;
    }
    rconn_free(r->rc); /* fails the flushes in flight */
    r->rc = NULL;
    finish_all(r->head, IG_EAGAIN);
    ig_pool_fini(&r->adds);
    log_trimmed(r);
    event_free(r->trim_ev);
    event_free(r->flush_ev);
    ig_free(r->key);
    ig_free(r);
}

double review_score(int level, double confidence, int64_t received_s)
{
    /* Confidence in whole percent, so the three parts never overlap: the
     * age part stays below 1e10, the confidence part below 1.01e12 and
     * the total below 2^53 (every score is an exact integer). */
    if (level < 0) {
        level = 0;
    }
    if (level > 2) {
        level = 2;
    }
    if (!(confidence >= 0)) {
        confidence = 0;
    }
    if (confidence > 1) {
        confidence = 1;
    }
    int64_t pct = (int64_t)(confidence * 100 + 0.5);
    if (received_s < 0) {
        received_s = 0;
    }
    if (received_s > 9999999999LL) {
        received_s = 9999999999LL;
    }
    return (double)level * 1e13 + (double)(100 - pct) * 1e10 +
           (double)(9999999999LL - received_s);
}

bool review_wanted(bool classified, double confidence, double below, int level)
{
    return !classified || confidence < below || level >= 1;
}

/* Completes a list of adds and frees it. */
static void finish_all(struct add *a, int status)
{
    while (a) {
        struct add *next = a->next;

        struct review *r = a->r;

        if (a->cb) {
            a->cb(a->ud, status);
        }
        if (r) {
            ig_pool_put(&r->adds, a);
        } else {
            ig_free(a);
        }
        a = next;
    }
}

/* Logs a refusal once, not per flush (a wrong-type key or a missing ACL
 * right refuses every flush until someone fixes it; each failed add is
 * counted by the caller), and the recovery. */
static void note_refusal(struct review *r, const char *why)
{
    if (why && !r->refusing) {
        ig_error(REVIEW_COMP,
                 "redis refused the review queue's adds: %.200s (logged "
                 "once until they are accepted again)",
                 why);
    } else if (!why && r->refusing) {
        ig_info(REVIEW_COMP, "redis accepts the review queue's adds again");
    }
    r->refusing = why != NULL;
}

/* Logs the trims summed since the last line, if any; true when it did. */
static bool log_trimmed(struct review *r)
{
    if (r->trimmed == 0) {
        return false;
    }
    ig_warn(REVIEW_COMP,
            "review queue over %d members: %lld more lowest-priority "
            "entries trimmed in the last %lld s",
            REVIEW_MAX, r->trimmed, (long long)(r->trim_log_ms + 999) / 1000);
    r->trimmed = 0;
    return true;
}

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    struct review *r = arg;
    struct timeval tv = {r->trim_log_ms / 1000, r->trim_log_ms % 1000 * 1000};

    (void)fd;
    (void)what;
    /* Quiet again only after a whole interval without trims. */
    r->trim_quiet = log_trimmed(r);
    if (r->trim_quiet) {
        event_add(r->trim_ev, &tv);
    }
}

/* A flush trimmed n members: the first trim is logged at once, the next
 * ones summed into a line per trim_log_ms (a full queue trims at every
 * flush: a line each would flood the log). */
static void note_trim(struct review *r, long long n)
{
    struct timeval tv = {r->trim_log_ms / 1000, r->trim_log_ms % 1000 * 1000};

    if (r->trim_quiet) {
        r->trimmed += n;
        return;
    }
    ig_warn(REVIEW_COMP,
            "review queue over %d members: %lld lowest-priority entries "
            "trimmed (further trims are summed, a line per %lld s)",
            REVIEW_MAX, n, (long long)(r->trim_log_ms + 999) / 1000);
    r->trim_quiet = true;
    event_add(r->trim_ev, &tv);
}

/* EXEC's answer: ZADD's count, ZREMRANGEBYRANK's (members trimmed) and
 * PEXPIRE's, or an error in place of one (the key holds another type). */
static void on_exec(void *ud, int status, const void *reply)
{
    struct flight *f = ud;
    const redisReply *rp = reply;
    const char *why;

    if (status == IG_EAGAIN) { /* connection lost: rconn has said so */
        finish_all(f->adds, IG_EAGAIN);
        ig_free(f);
        return;
    }
    why = rconn_exec_failed(status, reply);
    if (!why && rp->elements == 3 &&
        rp->element[1]->type == REDIS_REPLY_INTEGER &&
        rp->element[1]->integer > 0) {
        note_trim(f->r, (long long)rp->element[1]->integer);
    }
    note_refusal(f->r, why);
    finish_all(f->adds, why ? IG_EIO : IG_OK);
    ig_free(f);
}

/* Sends up to REVIEW_BATCH waiting adds (r->head is not NULL) as one
 * transaction. */
static void send_some(struct review *r)
{
    const char *argv[3 + 2 * REVIEW_BATCH];
    size_t len[3 + 2 * REVIEW_BATCH];
    struct flight *f = ig_calloc(1, sizeof(*f));
    struct add *last = r->head;
    int k = 0, n = 1, rc;

    argv[k++] = "ZADD";
    argv[k++] = r->key;
    argv[k++] = "GT";
    f->r = r;
    f->adds = r->head;
    for (int i = 0; i < k; i++) {
        len[i] = strlen(argv[i]);
    }
    len[k] = strlen(last->sc);
    argv[k++] = last->sc;
    len[k] = last->id_len;
    argv[k++] = last->id;
    while (last->next && n < REVIEW_BATCH) {
        last = last->next;
        len[k] = strlen(last->sc);
        argv[k++] = last->sc;
        len[k] = last->id_len;
        argv[k++] = last->id;
        n++;
    }
    r->head = last->next;
    last->next = NULL;
    if (!r->head) {
        r->tail = NULL;
    }
    /* Short NUL-terminated commands: rconn measures them (NULL lengths). */
    rc = rconn_cmd(r->rc, rconn_queued, NULL, 1, (const char *[]){"MULTI"},
                   NULL);
    if (rc == IG_OK) {
        rc = rconn_cmd(r->rc, rconn_queued, NULL, k, argv, len);
    }
    if (rc == IG_OK) {
        const char *trim[] = {"ZREMRANGEBYRANK", r->key, "0", r->cut};

        rc = rconn_cmd(r->rc, rconn_queued, NULL, 4, trim, NULL);
    }
    if (rc == IG_OK) {
        const char *ttl[] = {"PEXPIRE", r->key, r->ttl};

        rc = rconn_cmd(r->rc, rconn_queued, NULL, 3, ttl, NULL);
    }
    if (rc == IG_OK) {
        rc = rconn_cmd(r->rc, on_exec, f, 1, (const char *[]){"EXEC"}, NULL);
    }
    if (rc != IG_OK) {
        /* The connection is gone: Redis drops a transaction that never
         * reached EXEC. */
        finish_all(f->adds, IG_EAGAIN);
        ig_free(f);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct review *r = arg;

    (void)fd;
    (void)what;
    while (r->head) {
        send_some(r);
    }
}

int review_add(struct review *r, const char *id, double score, review_cb cb,
               void *ud)
{
    struct add *a;
    size_t n;

    if (!r || !id || !*id) {
        return IG_EINVAL;
    }
    if (!rconn_accepting(r->rc)) {
        return IG_EAGAIN;
    }
    /* One allocation: the add, then its id; one that fits the usual
     * room is reused. */
    n = strlen(id);
    if (n < REVIEW_ID_ROOM) {
        a = ig_pool_get(&r->adds);
        a->r = r;
    } else {
        a = ig_malloc(sizeof(*a) + n + 1);
        a->r = NULL;
    }
    a->next = NULL;
    a->cb = cb;
    a->ud = ud;
    a->id_len = n;
    memcpy(a->id, id, n + 1);
    if (score >= 0 && score < 9007199254740992.0 &&
        score == (double)(int64_t)score) {
        /* Scores are exact integers below 2^53 (review_score()): the
         * digits "%.0f" gives, without printf's float formatting. */
        *ig_fmt_u64(a->sc, (uint64_t)score) = '\0';
    } else {
        snprintf(a->sc, sizeof(a->sc), "%.0f", score);
    }
    if (r->tail) {
        r->tail->next = a;
    } else {
        r->head = a;
    }
    r->tail = a;
    event_active(r->flush_ev, 0, 0);
    return IG_OK;
}

const char *review_key(const struct review *r)
{
    return r->key;
}
