/* fwd_fixture.c — see fwd_fixture.h. */
#include "tests/lib/fwd_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>

#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "gateway/forward.h"
#include "gateway/spool.h"
#include "tests/lib/test_dirs.h"

char fwd_dir[256];
struct event_base *fwd_base;
uint64_t fwd_spool_max;

int fwd_fx_setup(const char *name)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(fwd_dir, sizeof(fwd_dir), "%s/%s-XXXXXX",
             tmp && *tmp ? tmp : "/tmp", name);
    assert_non_null(mkdtemp(fwd_dir));
    fwd_base = event_base_new();
    return 0;
}

int fwd_fx_teardown(void)
{
    event_base_free(fwd_base);
    test_rm_tree(fwd_dir);
    return 0;
}

struct forwarder *fwd_make(const char *text, const struct redis_cfg *rc,
                           bool spool)
{
    struct ig_cfg_doc doc;
    struct ig_diags d;
    struct forwarder *f = NULL;
    struct spool_opts so = {.fsync = SPOOL_FSYNC_NEVER,
                            .max_bytes = fwd_spool_max};
    char spool_dir[300];
    struct forwarder_env env = {.base = fwd_base,
                                .base_dir = fwd_dir,
                                .redis = rc,
                                .prefix = "t",
                                .ttl_ms = 3600 * 1000,
                                .spool = &so,
                                .dead_letter_dir = fwd_dir};

    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", fwd_dir);
    if (spool) {
        env.spool_dir = spool_dir;
    }
    ig_cfg_doc_init(&doc);
    ig_diags_init(&d);
    assert_int_equal(ig_cfg_parse_mem(&doc, "t.conf", text, strlen(text), &d),
                     IG_OK);
    assert_int_equal(doc.n, 1);
    if (forwarder_new(&env, &doc.s[0], &d, &f) != IG_OK) {
        ig_diags_print(&d, stderr);
        fail();
    }
    ig_diags_fini(&d);
    ig_cfg_doc_fini(&doc);
    return f;
}

struct evhttp *fwd_receiver(void (*cb)(struct evhttp_request *, void *),
                            void *arg, int *port)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    struct evhttp *http = evhttp_new(fwd_base);

    evhttp_set_gencb(http, cb, arg);
    bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    assert_non_null(bs);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
                                 (struct sockaddr *)&sa, &len),
                     0);
    *port = ntohs(sa.sin_port);
    return http;
}

struct forwarder *fwd_make_hook(int port, const char *extra, bool spool)
{
    char conf[1024];

    snprintf(conf, sizeof(conf),
             "[forward hook]\nkind = webhook\n"
             "url = http://127.0.0.1:%d/v1/candidates\nretries = 3\n"
             "backoff = 1ms\n%s",
             port, extra ? extra : "");
    return fwd_make(conf, NULL, spool);
}

void fwd_sink_done(void *ud, int status)
{
    struct fwd_sink *s = ud;

    s->calls++;
    s->ok += status == IG_OK;
    s->rejected += status == IG_EREJECTED;
    s->again += status == IG_EAGAIN;
}

void fwd_send_recs(struct forwarder *f, int from, int to, bool fresh,
                   struct fwd_sink *s)
{
    char id[32], json[128];
    int i;

    for (i = from; i < to; i++) {
        struct fwd_rec r = {.fresh = fresh};

        snprintf(id, sizeof(id), "c%04d", i);
        snprintf(json, sizeof(json), "{\"id\":\"c%04d\",\"n\":%d}", i, i);
        r.id = id;
        r.json = json;
        r.len = strlen(json);
        assert_int_equal(forwarder_send(f, &r, fwd_sink_done, s), IG_OK);
    }
}

void fwd_run_until(const int *n, int want)
{
    while (*n < want) {
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
}

char *fwd_slurp(const char *name)
{
    char path[400];
    FILE *fp;
    static char buf[1 << 16];
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", fwd_dir, name);
    fp = fopen(path, "r");
    if (!fp) {
        buf[0] = '\0';
        return buf;
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

int fwd_count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}
