/* forward_stream.c — the `stream` forwarder: XADD to a Redis Stream.
 *
 * The district platform reads the stream with consumer groups. Every
 * entry leaves a marker — its id in the set <prefix>:sent:<stream>:<day>
 * (days since the epoch, UTC; the set expires a day after the retention)
 * — in the same atomic step as its XADD (MAXLEN ~ maxlen), and a batch that
 * may repeat an earlier delivery — a retry after a lost reply, a replay
 * from the spool or after a crash — is one EVALSHA of a small script that
 * adds only the entries not marked on any day of the retention: delivery to the
 * stream is exactly once within the retention. A batch that cannot repeat
 * anything (forwarder_batch_fresh(): first attempt, records the
 * deduplicator has just created) skips the check and goes as MULTI, an
 * XADD per record, one SADD of all the ids, EXEC: the same writes, atomic
 * as well (an XADD refused inside it has its marker removed again before
 * the retry: on_exec()), at a fraction of the script's Redis CPU (a command
 * issued from Lua costs more than a pipelined one, and one set per day replaces
 * a key with its own TTL per record; docs/delivery.md). Many batches are
 * pipelined on the connection.
 *
 * The stream key itself has no TTL (an EXPIRE would drop the whole stream);
 * MAXLEN ~ bounds it instead. Every Redis error is IG_EAGAIN: a refused
 * XADD (OOM, an ACL missing a command) is fixed by an operator, and until
 * then the records wait in the spool instead of the dead-letter file.
 *
 * Entry fields: id (candidate id), candidate (the JSON record).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/cfg.h"
#include "core/diag.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/dedup.h"
#include "gateway/forward_int.h"
#include "gateway/rconn.h"

struct stream_cfg {
    char *stream;
    int64_t maxlen;
};

struct stream_ctx {
    struct rconn *rc;
    char *stream;      /* owned: key name */
    char *sent_prefix; /* owned: "<prefix>:sent:<stream>" */
    int64_t ttl_days;  /* day sets looked at by the guarded add */
    char ttl[24];      /* of a day set: retention + 1 day */
    char maxlen[24];
};

#define S(f) offsetof(struct stream_cfg, f)
static const struct ig_cfg_field stream_schema[] = {
    {"stream", IG_CFG_STR, NULL, S(stream),
     "stream key (default: <redis prefix>:candidates)", 0, NULL},
    {"maxlen", IG_CFG_INT, "1000000", S(maxlen),
     "approximate cap of the stream (XADD MAXLEN ~)", 0, NULL},
    {0},
};
#undef S

/* The guarded add. KEYS: the stream. ARGV: marker prefix, marker TTL,
 * maxlen, first day, today, then id, json per record. Adds the records
 * whose id is in none of the day sets (nor earlier in the batch) and
 * marks them in today's set. Returns how many it added. */
static const char stream_lua[] =
    "local P,ttl,ml=ARGV[1],ARGV[2],ARGV[3]\n"
    "local d0,d1=tonumber(ARGV[4]),tonumber(ARGV[5])\n"
    "local ids,sent,add,new={},{},{},{}\n"
    "for i=6,#ARGV,2 do ids[#ids+1]=ARGV[i] end\n"
    "for d=d0,d1 do\n"
    "  local k=P..':'..d\n"
    "  if redis.call('EXISTS',k)==1 then\n"
    "    local m=redis.call('SMISMEMBER',k,unpack(ids))\n"
    "    for j=1,#m do if m[j]==1 then sent[j]=true end end\n"
    "  end\n"
    "end\n"
    "for j=1,#ids do\n"
    "  if not sent[j] and not add[ids[j]] then\n"
    "    redis.call('XADD',KEYS[1],'MAXLEN','~',ml,'*',\n"
    "               'id',ids[j],'candidate',ARGV[5+2*j])\n"
    "    add[ids[j]]=true\n"
    "    new[#new+1]=ids[j]\n"
    "  end\n"
    "end\n"
    "if #new>0 then\n"
    "  redis.call('SADD',P..':'..d1,unpack(new))\n"
    "  redis.call('EXPIRE',P..':'..d1,ttl)\n"
    "end\n"
    "return #new\n";

static const char *const stream_scripts[] = {stream_lua, NULL};

static int stream_init(struct forwarder *f, struct ig_diags *d)
{
    struct stream_cfg *c = forwarder_cfg(f);
    const struct forwarder_env *env = forwarder_env(f);
    struct stream_ctx *x;
    int64_t ttl_s;

    if (!env->redis) {
        ig_diags_add(d, IG_DIAG_ERROR, NULL, 0, 0,
                     "[forward %s]: kind stream needs a [redis] section",
                     forwarder_name(f));
        return IG_EINVAL;
    }
    if (c->maxlen < 1) {
        ig_diags_add(d, IG_DIAG_ERROR, NULL, 0, 0,
                     "[forward %s]: maxlen must be >= 1", forwarder_name(f));
        return IG_EINVAL;
    }
    x = ig_calloc(1, sizeof(*x));
    x->stream = c->stream && *c->stream
                    ? ig_strdup(c->stream)
                    : ig_asprintf("%s:candidates", env->prefix);
    x->sent_prefix = ig_asprintf("%s:sent:%s", env->prefix, x->stream);
    ttl_s = env->ttl_ms > 0 ? (env->ttl_ms + 999) / 1000 : DEDUP_TTL_DEFAULT_S;
    x->ttl_days = (ttl_s + 86399) / 86400;
    snprintf(x->ttl, sizeof(x->ttl), "%lld", (long long)ttl_s + 86400);
    snprintf(x->maxlen, sizeof(x->maxlen), "%lld", (long long)c->maxlen);
    x->rc = rconn_new(forwarder_base(f), env->redis, forwarder_comp(f),
                      stream_scripts);
    if (!x->rc) {
        ig_free(x->stream);
        ig_free(x->sent_prefix);
        ig_free(x);
        ig_diags_add(d, IG_DIAG_ERROR, NULL, 0, 0,
                     "[forward %s]: bad [redis] settings", forwarder_name(f));
        return IG_EINVAL;
    }
    forwarder_set_ctx(f, x);
    return IG_OK;
}

static void on_added(void *ud, int status, const void *reply)
{
    struct fwd_batch *b = ud;
    const redisReply *r = reply;
    char why[160];

    if (status == IG_OK) {
        forwarder_batch_done(b, IG_OK, 0, NULL);
        return;
    }
    snprintf(why, sizeof(why), "%s",
             status == IG_EIO && r && r->str ? r->str : "redis unreachable");
    forwarder_batch_done(b, IG_EAGAIN, 0, why);
}

/* A fresh batch's EXEC, and what its failure must undo. */
struct fresh {
    struct forwarder *f;
    struct stream_ctx *x;
    struct fwd_batch *b;
    char set[256]; /* today's marker set */
    char why[160];
    size_t nundo; /* markers being removed */
};

static void fresh_done(struct fresh *fr, int status, const char *why)
{
    forwarder_batch_done(fr->b, status, 0, why);
    ig_free(fr);
}

static void on_unmarked(void *ud, int status, const void *reply)
{
    struct fresh *fr = ud;

    (void)reply;
    if (status != IG_OK) {
        /* The retry's guard would take these records for delivered. */
        ig_error(forwarder_comp(fr->f),
                 "%zu record(s) Redis refused keep their sent markers in %s "
                 "(the marker removal failed): a retry will skip them; "
                 "remove them from the set by hand (SREM) to deliver them",
                 fr->nundo, fr->set);
    }
    fresh_done(fr, IG_EAGAIN, fr->why);
}

/* EXEC of a fresh batch: [XADD x n, SADD, EXPIRE]. A transaction does not
 * roll back: an XADD Redis refused inside it (a key of another type) still
 * had its id added to the marker set by the SADD after it, and the retry's
 * guard would then skip the record. Those markers are removed before the
 * batch is handed back for retry. */
static void on_exec(void *ud, int status, const void *reply)
{
    struct fresh *fr = ud;
    const redisReply *r = reply;
    const char *why = rconn_exec_failed(status, reply);
    size_t n = forwarder_batch_len(fr->b), i;
    const char **av;
    int ac = 2;

    if (!why) {
        fresh_done(fr, IG_OK, NULL);
        return;
    }
    snprintf(fr->why, sizeof(fr->why), "%s", why);
    if (status != IG_OK || r->type != REDIS_REPLY_ARRAY || r->elements < n) {
        fresh_done(fr, IG_EAGAIN, fr->why); /* nothing applied */
        return;
    }
    av = ig_malloc((n + 2) * sizeof(*av));
    av[0] = "SREM";
    av[1] = fr->set;
    for (i = 0; i < n; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
            av[ac++] = forwarder_batch_rec(fr->b, i)->id;
        }
    }
    fr->nundo = (size_t)ac - 2;
    if (fr->nundo == 0 ||
        rconn_cmd(fr->x->rc, on_unmarked, fr, ac, av, NULL) < 0) {
        if (fr->nundo) {
            on_unmarked(fr, IG_EAGAIN, NULL);
        } else {
            fresh_done(fr, IG_EAGAIN, fr->why);
        }
    }
    ig_free(av);
}

/* The day sets of markers: <sent_prefix>:<days since the epoch, UTC>. */
static int64_t today(void)
{
    return (int64_t)time(NULL) / 86400;
}

/* A fresh batch: MULTI, XADD per record, SADD of all ids to today's marker
 * set + EXPIRE, EXEC. */
static void send_fresh(struct forwarder *f, struct stream_ctx *x,
                       struct fwd_batch *b)
{
    size_t n = forwarder_batch_len(b), i;
    struct fresh *fr = ig_calloc(1, sizeof(*fr));
    char *set = fr->set;
    const char *argv[10] = {0};
    size_t len[10];
    const char **sv;
    size_t *sl;
    int rc = IG_OK;

    fr->f = f;
    fr->x = x;
    fr->b = b;
    snprintf(set, sizeof(fr->set), "%s:%lld", x->sent_prefix,
             (long long)today());
    argv[0] = "MULTI";
    len[0] = 5;
    if (rconn_cmd(x->rc, rconn_queued, NULL, 1, argv, len) < 0) {
        fresh_done(fr, IG_EAGAIN, "redis unreachable");
        return;
    }
    sv = ig_malloc((n + 2) * sizeof(*sv));
    sl = ig_malloc((n + 2) * sizeof(*sl));
    sv[0] = "SADD";
    sl[0] = 4;
    sv[1] = set;
    sl[1] = strlen(set);
    argv[0] = "XADD";
    argv[1] = x->stream;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = x->maxlen;
    argv[5] = "*";
    argv[6] = "id";
    argv[8] = "candidate";
    for (int k = 0; k < 9; k++) {
        len[k] = argv[k] ? strlen(argv[k]) : 0;
    }
    for (i = 0; i < n && rc == IG_OK; i++) {
        const struct fwd_rec *r = forwarder_batch_rec(b, i);

        argv[7] = r->id;
        len[7] = strlen(r->id);
        argv[9] = r->json;
        len[9] = r->len;
        rc = rconn_cmd(x->rc, rconn_queued, NULL, 10, argv, len);
        sv[i + 2] = r->id;
        sl[i + 2] = len[7];
    }
    if (rc == IG_OK) {
        rc = rconn_cmd(x->rc, rconn_queued, NULL, (int)n + 2, sv, sl);
    }
    if (rc == IG_OK) {
        argv[0] = "EXPIRE";
        argv[1] = set;
        argv[2] = x->ttl;
        len[0] = 6;
        len[1] = strlen(set);
        len[2] = strlen(x->ttl);
        rc = rconn_cmd(x->rc, rconn_queued, NULL, 3, argv, len);
    }
    if (rc == IG_OK) {
        argv[0] = "EXEC";
        len[0] = 4;
        rc = rconn_cmd(x->rc, on_exec, fr, 1, argv, len);
    }
    ig_free(sv);
    ig_free(sl);
    if (rc < 0) {
        /* The connection is gone: Redis drops a transaction that never
         * reached EXEC. */
        fresh_done(fr, IG_EAGAIN, "redis unreachable");
    }
}

static void stream_send(struct forwarder *f, struct fwd_batch *b)
{
    struct stream_ctx *x = forwarder_ctx(f);
    size_t n = forwarder_batch_len(b), i, k = 0;
    const char **argv;
    size_t *len;
    char d0[24], d1[24];
    int rc;

    if (forwarder_batch_fresh(b)) {
        send_fresh(f, x, b);
        return;
    }
    argv = ig_malloc((2 * n + 6) * sizeof(*argv));
    len = ig_malloc((2 * n + 6) * sizeof(*len));
    snprintf(d0, sizeof(d0), "%lld", (long long)(today() - x->ttl_days));
    snprintf(d1, sizeof(d1), "%lld", (long long)today());
    argv[k] = x->stream;
    len[k++] = strlen(x->stream);
    argv[k] = x->sent_prefix;
    len[k++] = strlen(x->sent_prefix);
    argv[k] = x->ttl;
    len[k++] = strlen(x->ttl);
    argv[k] = x->maxlen;
    len[k++] = strlen(x->maxlen);
    argv[k] = d0;
    len[k++] = strlen(d0);
    argv[k] = d1;
    len[k++] = strlen(d1);
    for (i = 0; i < n; i++) {
        const struct fwd_rec *r = forwarder_batch_rec(b, i);

        argv[k] = r->id;
        len[k++] = strlen(r->id);
        argv[k] = r->json;
        len[k++] = r->len;
    }
    rc = rconn_script(x->rc, 0, on_added, b, 1, (int)k, argv, len);
    ig_free(argv);
    ig_free(len);
    if (rc < 0) {
        forwarder_batch_done(b, IG_EAGAIN, 0, "redis unreachable");
    }
}

static void stream_fini(struct forwarder *f)
{
    struct stream_ctx *x = forwarder_ctx(f);

    if (!x) {
        return;
    }
    /* Commands in flight complete with IG_EAGAIN inside rconn_free(); the
     * batches they end are still alive and are failed and freed by the
     * generic layer right after fini returns. */
    forwarder_set_ctx(f, NULL);
    rconn_free(x->rc);
    ig_free(x->stream);
    ig_free(x->sent_prefix);
    ig_free(x);
}

const struct forwarder_ops forwarder_stream_ops = {
    .kind = "stream",
    .schema = stream_schema,
    .cfg_size = sizeof(struct stream_cfg),
    .init = stream_init,
    .send = stream_send,
    .fini = stream_fini,
};
