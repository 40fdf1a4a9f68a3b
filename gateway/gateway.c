/* gateway.c — the engine: owns the loop and wires the stages (see
 * gateway.h).
 *
 * Skeleton: the loop, signals and stop/reload requests. The stages are
 * wired in as their modules land.
 */
#include "gateway/gateway.h"

#include <signal.h>

#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/conf.h"
#include "gateway/loop.h"

struct gw {
    struct gw_conf *conf;     /* owned */
    struct gw_opts opts;
    struct loop *loop;        /* owned */
    uint64_t generation;
    bool stopping;
};

int gw_check(const struct gw_conf *conf, const struct gw_opts *o,
             struct ig_diags *d)
{
    (void)conf;
    (void)o;
    return ig_diags_has_errors(d) ? IG_EINVAL : IG_OK;
}

static void on_term(void *ud)
{
    gw_stop(ud);
}

static void on_hup(void *ud)
{
    gw_reload(ud);
}

int gw_new(struct gw_conf *conf, const struct gw_opts *o, struct gw **out,
           struct ig_diags *d)
{
    *out = NULL;
    struct gw *g = ig_calloc(1, sizeof(*g));
    g->conf = conf;
    g->opts = *o;
    g->loop = loop_new();
    g->generation = 1;
    int rc = gw_check(conf, o, d);
    if (rc < 0) {
        goto out;
    }
    if (!o->no_signals) {
        loop_signal_add(g->loop, SIGTERM, on_term, g);
        loop_signal_add(g->loop, SIGINT, on_term, g);
        loop_signal_add(g->loop, SIGHUP, on_hup, g);
    }
out:
    if (rc < 0) {
        gw_free(g);
        return rc;
    }
    *out = g;
    return IG_OK;
}

int gw_run(struct gw *g)
{
    if (g->opts.once) {
        return IG_OK;
    }
    return loop_run(g->loop);
}

void gw_stop(struct gw *g)
{
    g->stopping = true;
    loop_break(g->loop);
}

void gw_reload(struct gw *g)
{
    ig_info("gateway", "reload requested");
    (void)g;
}

uint64_t gw_generation(const struct gw *g)
{
    return g->generation;
}

int gw_api_port(const struct gw *g)
{
    (void)g;
    return 0;
}

void gw_free(struct gw *g)
{
    if (!g) {
        return;
    }
    loop_free(g->loop);
    gw_conf_free(g->conf);
    ig_free(g);
}
