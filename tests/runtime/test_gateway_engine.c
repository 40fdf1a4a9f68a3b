/* test_gateway_engine.c — the engine in-process through gateway.h, with a
 * real redis-server and the capture forwarder.
 *
 * The same hazard pushed from two channels gives one new candidate and one
 * exact duplicate with two reports over both channels; a re-pushed item is
 * "seen"; a malformed item is answered at its index without failing the
 * others. A second gateway on the same Redis with a broken rules directory
 * refuses to start with the rule file's diagnostics. Under the sanitizer
 * build this also proves gw_free() releases everything after a run.
 * The report texts are written for this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/conf.h"
#include "gateway/forward.h"
#include "gateway/gateway.h"
#include "tests/lib/redis_up.h"

struct fx {
    struct redis_up *r;
    char dir[256];
    char rules[512];
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof(f));
    ig_log_set_level(IG_LOG_WARN);
    f.r = redis_up_start(NULL);
    assert_non_null(f.r);
    snprintf(f.dir, sizeof(f.dir), "/tmp/ig-gwtest-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    const char *src = getenv("IG_SOURCE_DIR");
    snprintf(f.rules, sizeof(f.rules), "%s/rules", src ? src : ".");
    forwarder_register(&forwarder_capture_ops);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[512];
    redis_up_stop(f->r);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static struct gw *make_gw(struct fx *f, const char *rules, struct ig_diags *d,
                          int *rc)
{
    char text[2048], path[512];
    snprintf(path, sizeof(path), "%s/sources.conf", f->dir);
    FILE *s = fopen(path, "w");
    assert_non_null(s);
    fclose(s);
    snprintf(text, sizeof(text),
             "[gateway]\nrules = %s\nsources = sources.conf\n"
             "state_dir = state\n"
             "[redis]\nsocket = %s\nprefix = gwt\n"
             "[forward cap]\nkind = capture\n"
             "[api]\nlisten = \"\"\n",
             rules, redis_up_socket(f->r));
    struct gw_conf *conf = NULL;
    *rc = gw_conf_load_mem("gwtest.conf", text, strlen(text), f->dir, &conf, d);
    if (*rc < 0) {
        return NULL;
    }
    struct gw_opts o = {.no_api = true, .no_signals = true};
    struct gw *g = NULL;
    *rc = gw_new(conf, &o, &g, d);
    return g;
}

struct answer {
    struct gw *g;
    int http;
    char *body;
    int calls;
};

static void on_answer(void *ud, int http, const struct ig_buf *body)
{
    struct answer *a = ud;
    a->calls++;
    a->http = http;
    a->body = strdup(body->data);
    gw_stop(a->g);
}

/* Pushes body into a fresh gateway run and returns the answer. */
static void push(struct gw *g, const char *body, struct answer *a)
{
    void *h = NULL;
    const char *why = NULL;
    memset(a, 0, sizeof(*a));
    a->g = g;
    assert_int_equal(gw_push(g, body, strlen(body), on_answer, a, &h, &why),
                     IG_OK);
    assert_int_equal(a->calls, 0); /* never from inside gw_push */
    assert_int_equal(gw_run(g), IG_OK);
    assert_int_equal(a->calls, 1);
}

static void test_two_channels_one_candidate(void **state)
{
    struct fx *f = *state;
    struct ig_diags d;
    ig_diags_init(&d);
    int rc;
    struct gw *g = make_gw(f, f->rules, &d, &rc);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);

    static const char body[] =
        "[{\"id\":\"H-1\",\"channel\":\"hotline\",\"title\":\"雨水井盖缺失\","
        "\"text\":\"城南新村东门外的雨水井盖不见了，留下一个黑洞洞的口子，"
        "傍晚放学的孩子差点踩进去。\"},"
        "{\"id\":\"L-7\",\"channel\":\"letters\",\"title\":\"来信\","
        "\"text\":\"城南新村东门外的雨水井盖不见了，留下一个黑洞洞的口子，"
        "傍晚放学的孩子差点踩进去。\"},"
        "{\"title\":\"no id\"}]";
    struct answer a;
    push(g, body, &a);
    assert_int_equal(a.http, 200);
    /* Item 0: a new candidate with a code; item 1: the same hazard from
     * the letters channel, linked; item 2: refused at its index. */
    assert_non_null(strstr(a.body, "\"index\":0"));
    assert_non_null(strstr(a.body, "\"verdict\":\"new\""));
    assert_non_null(strstr(a.body, "\"verdict\":\"exact\""));
    assert_non_null(strstr(a.body, "\"reports\":2"));
    assert_non_null(strstr(a.body, "\"channels\":[\"hotline\",\"letters\"]"));
    assert_non_null(strstr(a.body, "\"code\":\"B01-03\""));
    assert_non_null(strstr(a.body, "missing \\\"id\\\""));
    free(a.body);
    gw_free(g);

    /* A restarted gateway on the same Redis: the item is "seen". */
    g = make_gw(f, f->rules, &d, &rc);
    assert_int_equal(rc, IG_OK);
    push(g,
         "{\"id\":\"H-1\",\"channel\":\"hotline\",\"title\":\"雨水井盖缺失\"}",
         &a);
    assert_int_equal(a.http, 200);
    if (!strstr(a.body, "\"verdict\":\"seen\"")) {
        fprintf(stderr, "%s\n", a.body);
    }
    assert_non_null(strstr(a.body, "\"verdict\":\"seen\""));
    assert_int_equal(gw_generation(g), 1);
    free(a.body);
    gw_free(g);
    ig_diags_fini(&d);
}

static void test_broken_rules_refused(void **state)
{
    struct fx *f = *state;
    char bad[512], cmd[2048];
    snprintf(bad, sizeof(bad), "%s/badrules", f->dir);
    snprintf(cmd, sizeof(cmd),
             "cp -r '%s' '%s' && printf '\\nnot a rule\\n'"
             " >> \"$(ls '%s'/*.rules | head -1)\"",
             f->rules, bad, bad);
    assert_int_equal(system(cmd), 0);
    struct ig_diags d;
    ig_diags_init(&d);
    int rc;
    struct gw *g = make_gw(f, bad, &d, &rc);
    assert_null(g);
    assert_int_equal(rc, IG_EINVAL);
    bool found = false;
    for (size_t i = 0; i < d.n; i++) {
        found |= strstr(d.v[i].file, ".rules") != NULL && d.v[i].line > 0;
    }
    assert_true(found);
    ig_diags_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_channels_one_candidate),
        cmocka_unit_test(test_broken_rules_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
