/* forward_capture.c — the `capture` forwarder: records kept in memory.
 *
 * A real kind for tests (CONVENTIONS §2: test doubles are real kinds): it
 * goes through the same queue, batches, retries, spool and dead letters as
 * any target, and can be told to fail the next n attempts. It is not in
 * the registry until a test calls forwarder_register().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/cfg.h"
#include "core/err.h"
#include "core/mem.h"
#include "gateway/forward_int.h"

struct capture_cfg {
    int64_t fail_first;
    bool reject;
};

struct capture_ctx {
    char **ids;
    char **json;
    size_t n, cap;
    int fail_n;
    int fail_status;
};

#define C(f) offsetof(struct capture_cfg, f)
static const struct ig_cfg_field capture_schema[] = {
    {"fail_first", IG_CFG_INT, "0", C(fail_first),
     "answer the first n attempts with IG_EAGAIN", 0, NULL},
    {"reject", IG_CFG_BOOL, "false", C(reject),
     "answer every attempt with IG_EREJECTED", 0, NULL},
    {0},
};
#undef C

static int capture_init(struct forwarder *f, struct ig_diags *d)
{
    struct capture_cfg *c = forwarder_cfg(f);
    struct capture_ctx *x = ig_calloc(1, sizeof(*x));

    (void)d;
    x->fail_n = (int)c->fail_first;
    x->fail_status = IG_EAGAIN;
    if (c->reject) {
        x->fail_n = -1;
        x->fail_status = IG_EREJECTED;
    }
    forwarder_set_ctx(f, x);
    return IG_OK;
}

static void capture_send(struct forwarder *f, struct fwd_batch *b)
{
    struct capture_ctx *x = forwarder_ctx(f);
    size_t i;

    if (x->fail_n != 0) {
        if (x->fail_n > 0) {
            x->fail_n--;
        }
        forwarder_batch_done(b, x->fail_status, 0,
                             x->fail_status == IG_EREJECTED
                                 ? "capture: rejected"
                                 : "capture: unavailable");
        return;
    }
    for (i = 0; i < forwarder_batch_len(b); i++) {
        const struct fwd_rec *r = forwarder_batch_rec(b, i);

        if (x->n == x->cap) {
            x->cap = x->cap ? x->cap * 2 : 64;
            x->ids = ig_realloc(x->ids, x->cap * sizeof(*x->ids));
            x->json = ig_realloc(x->json, x->cap * sizeof(*x->json));
        }
        x->ids[x->n] = ig_strdup(r->id);
        x->json[x->n] = ig_strndup(r->json, r->len);
        x->n++;
    }
    forwarder_batch_done(b, IG_OK, 0, NULL);
}

static void capture_fini(struct forwarder *f)
{
    struct capture_ctx *x = forwarder_ctx(f);
    size_t i;

    if (!x) {
        return;
    }
    for (i = 0; i < x->n; i++) {
        ig_free(x->ids[i]);
        ig_free(x->json[i]);
    }
    ig_free(x->ids);
    ig_free(x->json);
    ig_free(x);
}

const struct forwarder_ops forwarder_capture_ops = {
    .kind = "capture",
    .schema = capture_schema,
    .cfg_size = sizeof(struct capture_cfg),
    .init = capture_init,
    .send = capture_send,
    .fini = capture_fini,
};

size_t forwarder_capture_count(const struct forwarder *f)
{
    const struct capture_ctx *x = forwarder_ctx(f);

    return x ? x->n : 0;
}

const char *forwarder_capture_json(const struct forwarder *f, size_t i)
{
    const struct capture_ctx *x = forwarder_ctx(f);

    return x && i < x->n ? x->json[i] : NULL;
}

const char *forwarder_capture_id(const struct forwarder *f, size_t i)
{
    const struct capture_ctx *x = forwarder_ctx(f);

    return x && i < x->n ? x->ids[i] : NULL;
}

void forwarder_capture_fail(struct forwarder *f, int n, int status)
{
    struct capture_ctx *x = forwarder_ctx(f);

    if (x) {
        x->fail_n = n;
        x->fail_status = status == IG_EREJECTED ? IG_EREJECTED : IG_EAGAIN;
    }
}
