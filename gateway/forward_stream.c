/* forward_stream.c — the `stream` forwarder: XADD to a Redis Stream.
 *
 * The district platform reads the stream with consumer groups. Each batch
 * is one EVALSHA of a small script that, per candidate, sets
 * <prefix>:sent:<stream>:<id> with NX and the retention TTL and only then
 * XADDs the entry (MAXLEN ~ maxlen): a batch replayed after a crash or a
 * retry after a lost reply adds nothing twice, so delivery to the stream
 * is exactly once within the retention. The batch runs atomically in
 * Redis, and many batches are pipelined on the connection.
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

#include <hiredis/hiredis.h>

#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
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
    char ttl[24];
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

static const char stream_lua[] =
    "local n=0\n"
    "for i=4,#ARGV,2 do\n"
    "  if redis.call('SET',ARGV[1]..':'..ARGV[i],'1','NX','EX',ARGV[2]) then\n"
    "    redis.call('XADD',KEYS[1],'MAXLEN','~',ARGV[3],'*',\n"
    "               'id',ARGV[i],'candidate',ARGV[i+1])\n"
    "    n=n+1\n"
    "  end\n"
    "end\n"
    "return n\n";

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
    snprintf(x->ttl, sizeof(x->ttl), "%lld", (long long)ttl_s);
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

static void stream_send(struct forwarder *f, struct fwd_batch *b)
{
    struct stream_ctx *x = forwarder_ctx(f);
    size_t n = forwarder_batch_len(b), i, k = 0;
    const char **argv = ig_malloc((2 * n + 4) * sizeof(*argv));
    size_t *len = ig_malloc((2 * n + 4) * sizeof(*len));
    int rc;

    argv[k] = x->stream;
    len[k++] = strlen(x->stream);
    argv[k] = x->sent_prefix;
    len[k++] = strlen(x->sent_prefix);
    argv[k] = x->ttl;
    len[k++] = strlen(x->ttl);
    argv[k] = x->maxlen;
    len[k++] = strlen(x->maxlen);
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
