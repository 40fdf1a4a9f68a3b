/* review.c — the review queue in Redis (see review.h).
 *
 * One small Lua script per add, so the ZADD, the trim and the TTL refresh
 * move together and take one round trip (pipelined with every other add
 * on the queue's own connection, an rconn). ZADD GT (Redis 6.2+) only ever
 * raises a member's score: a report that makes a candidate high priority
 * moves it up; a later, calmer duplicate cannot move it down.
 *
 * The connection is separate from dedup's: the review queue is advisory
 * (the candidate has been forwarded already), so a slow or failing queue
 * must never hold dedup's checks, and dedup's script may be rewritten
 * without touching this one.
 */
#include "gateway/review.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/dedup.h"
#include "gateway/rconn.h"

#define REVIEW_COMP "review"

/* KEYS[1] the set; ARGV: score, id, ttl ms, max members. Returns the
 * number of members trimmed. */
static const char add_lua[] =
    "redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "local cut = 0\n"
    "if n > tonumber(ARGV[4]) then\n"
    "  cut = redis.call('ZREMRANGEBYRANK', KEYS[1], 0,\n"
    "                   n - tonumber(ARGV[4]) - 1)\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "return cut\n";
static const char *const scripts[] = {add_lua, NULL};

struct review {
    struct rconn *rc;
    char *key; /* owned: "<prefix>:review" */
    char ttl[24];
    char max[24];
};

struct add_ctx {
    review_cb cb;
    void *ud;
};

int review_new(struct event_base *base, const struct redis_cfg *redis,
               const char *prefix, int64_t ttl_ms, struct review **out)
{
    struct review *r;
    size_t n;

    if (!base || !redis || !out) {
        return IG_EINVAL;
    }
    r = ig_calloc(1, sizeof(*r));
    r->rc = rconn_new(base, redis, REVIEW_COMP, scripts);
    if (!r->rc) {
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
    snprintf(r->max, sizeof(r->max), "%d", REVIEW_MAX);
    *out = r;
    return IG_OK;
}

void review_free(struct review *r)
{
    if (!r) {
        return;
    }
    rconn_free(r->rc);
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

static void on_added(void *ud, int status, const void *reply)
{
    struct add_ctx *c = ud;
    const redisReply *rp = reply;

    if (status == IG_OK && rp && rp->type == REDIS_REPLY_INTEGER &&
        rp->integer > 0) {
        ig_warn(REVIEW_COMP,
                "review queue over %d members: %lld lowest-priority "
                "entries trimmed",
                REVIEW_MAX, (long long)rp->integer);
    }
    if (c->cb) {
        c->cb(c->ud, status);
    }
    ig_free(c);
}

int review_add(struct review *r, const char *id, double score, review_cb cb,
               void *ud)
{
    char sc[32];
    const char *argv[5];
    size_t len[5];
    struct add_ctx *c;
    int rc;

    if (!r || !id || !*id) {
        return IG_EINVAL;
    }
    if (score >= 0 && score < 9007199254740992.0 &&
        score == (double)(int64_t)score) {
        /* Scores are exact integers below 2^53 (review_score()): the
         * digits "%.0f" gives, without printf's float formatting. */
        uint64_t v = (uint64_t)score;
        size_t k = sizeof(sc);
        sc[--k] = '\0';
        do {
            sc[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        memmove(sc, sc + k, sizeof(sc) - k);
    } else {
        snprintf(sc, sizeof(sc), "%.0f", score);
    }
    argv[0] = r->key;
    argv[1] = sc;
    argv[2] = id;
    argv[3] = r->ttl;
    argv[4] = r->max;
    for (int i = 0; i < 5; i++) {
        len[i] = strlen(argv[i]);
    }
    c = ig_calloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    rc = rconn_script(r->rc, 0, on_added, c, 1, 5, argv, len);
    if (rc < 0) {
        ig_free(c);
    }
    return rc;
}

const char *review_key(const struct review *r)
{
    return r->key;
}
