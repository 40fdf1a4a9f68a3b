/* test_gateway_engine.c — the engine in-process through gateway.h, with a
 * real redis-server and the capture forwarder.
 *
 * The same hazard pushed from two channels gives one new candidate and one
 * exact duplicate with two reports over both channels; a re-pushed item is
 * "seen"; a malformed item is answered at its index without failing the
 * others; the same item pushed again while the first is in flight waits
 * for it and is answered "seen" once the record is delivered (once). A second
 * gateway on the same Redis with a broken rules directory refuses to start with
 * the rule file's diagnostics. Under the sanitizer build this also proves
 * gw_free() releases everything after a run.
 *
 * Priority: a red-line item (a crowd of 上百名 blocking a road, no B/S
 * code) is forwarded with priority high, heads the review queue ahead of
 * a low-confidence normal item, and reaches the `only = high` forwarder,
 * which a normal item does not; three reports of one hazard over two
 * channels give update records with growing reports and priority high;
 * an item's own address field narrows the town found in its text.
 * SIGTERM while a job waits for room at one forwarder and another holds
 * its record: the job ends only after that forwarder's callback. An
 * item neither delivered nor spooled is a new candidate again when pushed
 * again (its record stays pending), and "seen" once delivered.
 * The report texts are written for this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/conf.h"
#include "gateway/forward.h"
#include "gateway/gateway.h"
#include "tests/lib/redis_up.h"
#include "tests/lib/test_dirs.h"

#include <hiredis/hiredis.h>

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
    const char *src = test_source_dir();
    snprintf(f.rules, sizeof(f.rules), "%s/rules", src);
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

static struct gw *make_gw_conf(struct fx *f, const char *text,
                               struct ig_diags *d, int *rc);

static struct gw *make_gw(struct fx *f, const char *rules, struct ig_diags *d,
                          int *rc)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "[gateway]\nrules = %s\nsources = sources.conf\n"
             "state_dir = state\n"
             "[redis]\nsocket = %s\nprefix = gwt\n"
             "[forward cap]\nkind = capture\n"
             "[api]\nlisten = \"\"\n",
             rules, redis_up_socket(f->r));
    return make_gw_conf(f, text, d, rc);
}

static struct gw *make_gw_with(struct fx *f, const char *text,
                               struct ig_diags *d, int *rc, bool signals);

static struct gw *make_gw_conf(struct fx *f, const char *text,
                               struct ig_diags *d, int *rc)
{
    return make_gw_with(f, text, d, rc, false);
}

/* The engine classifies on the loop (the default) or on worker threads:
 * main() runs every test both ways, this set into each test's config
 * (-1: the default). */
static int g_threads = -1;

/* signals: the gateway handles SIGTERM/SIGHUP itself, as in production. */
static struct gw *make_gw_with(struct fx *f, const char *text,
                               struct ig_diags *d, int *rc, bool signals)
{
    static const char head[] = "[gateway]\n";
    char path[512], with[4096];
    if (g_threads >= 0) {
        assert_int_equal(strncmp(text, head, sizeof(head) - 1), 0);
        assert_true((size_t)snprintf(
                        with, sizeof(with), "%sclassify_threads = %d\n%s", head,
                        g_threads, text + sizeof(head) - 1) < sizeof(with));
        text = with;
    }
    snprintf(path, sizeof(path), "%s/sources.conf", f->dir);
    FILE *s = fopen(path, "w");
    assert_non_null(s);
    fclose(s);
    struct gw_conf *conf = NULL;
    *rc = gw_conf_load_mem("gwtest.conf", text, strlen(text), f->dir, &conf, d);
    if (*rc < 0) {
        return NULL;
    }
    struct gw_opts o = {.no_api = true, .no_signals = !signals};
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

/* The same item pushed twice while the first is still on its way (a
 * hotline client that timed out and sent it again): the second waits for
 * the first and is then answered "seen" — never before the first is safe
 * (it used to be answered at once from the in-memory index, while the
 * record was still on its way to the target), and the target gets the
 * record once. The file forwarder's batch_wait keeps the first in flight
 * for 300 ms. */
struct twin {
    struct gw *g;
    char out[600];
    int answers;
    char *body[2];
    long lines_at[2]; /* the output's lines when each answer came */
};

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int c;
    if (!f) {
        return 0;
    }
    while ((c = fgetc(f)) != EOF) {
        n += c == '\n';
    }
    fclose(f);
    return n;
}

static void on_twin(struct twin *t, int k, const struct ig_buf *body)
{
    t->body[k] = strdup(body->data);
    t->lines_at[k] = count_lines(t->out);
    if (++t->answers == 2) {
        gw_stop(t->g);
    }
}

static void on_twin0(void *ud, int http, const struct ig_buf *body)
{
    (void)http;
    on_twin(ud, 0, body);
}

static void on_twin1(void *ud, int http, const struct ig_buf *body)
{
    (void)http;
    on_twin(ud, 1, body);
}

static void test_twin_push_waits_for_the_first(void **state)
{
    struct fx *f = *state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct twin t;
    memset(&t, 0, sizeof(t));
    snprintf(t.out, sizeof(t.out), "%s/twin.jsonl", f->dir);
    char text[2048];
    snprintf(text, sizeof(text),
             "[gateway]\nrules = %s\nsources = sources.conf\n"
             "state_dir = state\n"
             "[redis]\nsocket = %s\nprefix = twin\n"
             "[forward out]\nkind = file\npath = %s\nbatch_wait = 300ms\n"
             "[api]\nlisten = \"\"\n",
             f->rules, redis_up_socket(f->r), t.out);
    int rc;
    struct gw *g = make_gw_conf(f, text, &d, &rc);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);
    t.g = g;
    static const char body[] =
        "{\"id\":\"T-1\",\"channel\":\"hotline\",\"title\":\"路灯不亮\","
        "\"text\":\"青浦大道旁边的路灯一连三天晚上都不亮，走夜路很危险。\"}";
    void *h = NULL;
    const char *why = NULL;
    assert_int_equal(gw_push(g, body, strlen(body), on_twin0, &t, &h, &why),
                     IG_OK);
    assert_int_equal(gw_push(g, body, strlen(body), on_twin1, &t, &h, &why),
                     IG_OK);
    assert_int_equal(gw_run(g), IG_OK);
    assert_int_equal(t.answers, 2);
    assert_non_null(strstr(t.body[0], "\"verdict\":\"new\""));
    assert_non_null(strstr(t.body[1], "\"verdict\":\"seen\""));
    assert_non_null(strstr(t.body[1], "\"accepted\":true"));
    /* "seen" only once the record was delivered, and delivered once */
    assert_int_equal(t.lines_at[1], 1);
    assert_int_equal(count_lines(t.out), 1);
    free(t.body[0]);
    free(t.body[1]);
    gw_free(g);
    ig_diags_fini(&d);
}

/* SIGTERM while a job waits for room at one forwarder and another still
 * holds its record: the job may only end once that forwarder has called
 * back (it used to be ended at once, and the late callback then wrote to
 * a freed job: ASan reports it). Forwarder b is full (max_queue 1, its one
 * record failing with backoff), so the second item waits in the retry
 * list; forwarder a fails both records once and gives them up after its
 * backoff, well after the signal. */
static void *term_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGTERM);
    return NULL;
}

static void test_stop_while_waiting_for_a_forwarder(void **state)
{
    struct fx *f = *state;
    struct ig_diags d;
    ig_diags_init(&d);
    char text[2048];
    snprintf(text, sizeof(text),
             "[gateway]\nrules = %s\nsources = sources.conf\n"
             "state_dir = state\ndrain_timeout = 5s\n"
             "[redis]\nsocket = %s\nprefix = gwstop\n"
             "[forward a]\nkind = capture\nfail_first = 100\nretries = 1\n"
             "backoff = 400ms\nspool = false\n"
             "[forward b]\nkind = capture\nfail_first = 100\nretries = 1\n"
             "backoff = 400ms\nspool = false\nmax_queue = 1\nbatch_max = 1\n"
             "[api]\nlisten = \"\"\n",
             f->rules, redis_up_socket(f->r));
    /* The real signal path: the loop's own SIGTERM handler stops it. */
    int rc;
    struct gw *g = make_gw_with(f, text, &d, &rc, true);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);

    static const char body[] =
        "[{\"id\":\"S-1\",\"title\":\"雨水井盖缺失\",\"text\":\"城南新村东门外"
        "的雨水井盖不见了，留下一个黑洞洞的口子，傍晚放学的孩子差点踩进去。\"},"
        "{\"id\":\"S-2\",\"title\":\"路灯不亮\",\"text\":\"城北小区门口的路灯"
        "坏了一个多星期，晚上一片漆黑，老人出门很不方便。\"}]";
    struct answer a;
    void *h = NULL;
    const char *why = NULL;
    memset(&a, 0, sizeof(a));
    a.g = g;
    assert_int_equal(gw_push(g, body, strlen(body), on_answer, &a, &h, &why),
                     IG_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, term_later, NULL), 0);
    assert_int_equal(gw_run(g), IG_OK);
    pthread_join(t, NULL);
    /* Both items answered, neither accepted: nothing was delivered, and
     * their source (the pusher) must send them again. */
    assert_int_equal(a.calls, 1);
    assert_non_null(a.body);
    assert_null(strstr(a.body, "\"accepted\":true"));
    assert_non_null(strstr(a.body, "\"index\":1"));
    free(a.body);
    gw_free(g);
    ig_diags_fini(&d);
}

/* An item that could be neither delivered nor spooled (the target fails,
 * no spool) is answered not accepted, and its candidate stays pending:
 * pushed again, it is a new candidate again (the same id, a replay), not
 * "seen" — which would lose it. Pushed a third time, once delivered, it is
 * "seen". Each push is made from the answer to the one before, in one
 * run. */
struct chain {
    struct gw *g;
    const char *body;
    char *ans[3];
    int n;
};

static void on_chain(void *ud, int http, const struct ig_buf *body)
{
    struct chain *c = ud;
    (void)http;
    c->ans[c->n++] = strdup(body->data);
    if (c->n == 3) {
        gw_stop(c->g);
        return;
    }
    void *h = NULL;
    const char *why = NULL;
    assert_int_equal(
        gw_push(c->g, c->body, strlen(c->body), on_chain, c, &h, &why), IG_OK);
}

static void test_undelivered_item_is_replayed(void **state)
{
    struct fx *f = *state;
    struct ig_diags d;
    ig_diags_init(&d);
    char text[2048];
    snprintf(text, sizeof(text),
             "[gateway]\nrules = %s\nsources = sources.conf\n"
             "state_dir = state\n"
             "[redis]\nsocket = %s\nprefix = gwundel\n"
             "[forward cap]\nkind = capture\nfail_first = 1\nretries = 0\n"
             "spool = false\n"
             "[api]\nlisten = \"\"\n",
             f->rules, redis_up_socket(f->r));
    int rc;
    struct gw *g = make_gw_conf(f, text, &d, &rc);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);
    static const char body[] =
        "{\"id\":\"U-1\",\"channel\":\"hotline\",\"title\":\"窨井盖破损\","
        "\"text\":\"香花桥街道天一路上的窨井盖裂成了两半，车轮压上去"
        "咣当咣当响，迟早要出事。\"}";
    struct chain c;
    memset(&c, 0, sizeof(c));
    c.g = g;
    c.body = body;
    void *h = NULL;
    const char *why = NULL;
    assert_int_equal(gw_push(g, body, strlen(body), on_chain, &c, &h, &why),
                     IG_OK);
    (void)gw_run(g); /* the first push failed: items were left over */
    assert_int_equal(c.n, 3);
    assert_non_null(strstr(c.ans[0], "\"accepted\":false"));
    assert_non_null(strstr(c.ans[1], "\"verdict\":\"new\""));
    assert_non_null(strstr(c.ans[1], "\"accepted\":true"));
    assert_non_null(strstr(c.ans[2], "\"verdict\":\"seen\""));
    for (int i = 0; i < 3; i++) {
        free(c.ans[i]);
    }
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

/* The whole file at path (NUL-terminated, caller frees). */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* The line of recs holding all of the given fragments, copied into out;
 * false if there is none. */
static bool find_line(const char *recs, const char *a, const char *b, char *out,
                      size_t cap)
{
    const char *p = recs;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        assert_true(n < cap);
        memcpy(out, p, n);
        out[n] = '\0';
        if (strstr(out, a) && (!b || strstr(out, b))) {
            return true;
        }
        p += n + (e ? 1 : 0);
    }
    return false;
}

/* The candidate id of the record for external id ext in recs. */
static void cand_id(const char *recs, const char *ext, char id[17])
{
    char line[8192], frag[64];
    snprintf(frag, sizeof(frag), "\"external_id\":\"%s\"", ext);
    assert_true(
        find_line(recs, frag, "\"type\":\"candidate\"", line, sizeof(line)));
    const char *p = strstr(line, "\"id\":\"");
    assert_non_null(p);
    memcpy(id, p + 6, 16);
    id[16] = '\0';
}

static long rank_of(redisReply *r, const char *id)
{
    for (size_t i = 0; i < r->elements; i++) {
        if (strcmp(r->element[i]->str, id) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void test_priority_review_only(void **state)
{
    struct fx *f = *state;
    struct ig_diags d;
    ig_diags_init(&d);
    char text[2048];
    snprintf(text, sizeof(text),
             "[gateway]\nrules = %s\nsources = sources.conf\n"
             "state_dir = state\nreview_below = 0.5\n"
             "[redis]\nsocket = %s\nprefix = gwp\n"
             "[forward all]\nkind = file\npath = all.jsonl\n"
             "[forward hot]\nkind = file\npath = hot.jsonl\nonly = high\n"
             "batch_wait = 0\nbatch_max = 1\n"
             "[api]\nlisten = \"\"\n",
             f->rules, redis_up_socket(f->r));
    int rc;
    struct gw *g = make_gw_conf(f, text, &d, &rc);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);

    /* red line, no B/S code. N-1: a weak manhole-cover match.
     * N-2: street lights on a road through two towns, the ticket's
     * address names one. M-1..3: one hazard over two channels. */
    static const char body[] =
        "[{\"id\":\"R-1\",\"channel\":\"hotline\",\"title\":\"堵路\","
        "\"text\":\"上百名村民聚集在徐泾镇崧泽大道上，堵住了道路，"
        "车辆无法通行。\"},"
        "{\"id\":\"N-1\",\"channel\":\"hotline\",\"title\":\"井盖\","
        "\"text\":\"城南新村东门外的雨水井盖不见了，留下一个黑洞洞的口子，"
        "傍晚放学的孩子差点踩进去。\"},"
        "{\"id\":\"N-2\",\"channel\":\"hotline\",\"title\":\"路灯\","
        "\"text\":\"崧泽大道的路灯坏了一排，晚上一片漆黑。\","
        "\"place\":\"徐泾镇崧泽大道188号\"},"
        "{\"id\":\"M-1\",\"channel\":\"hotline\",\"title\":\"窨井盖\","
        "\"text\":\"华新镇新凤中路有个窨井盖破损了，"
        "车开过去哐哐响。\"},"
        "{\"id\":\"M-2\",\"channel\":\"letters\",\"title\":\"窨井盖\","
        "\"text\":\"华新镇新凤中路有个窨井盖破损了，"
        "车开过去哐哐响。\"},"
        "{\"id\":\"M-3\",\"channel\":\"letters\",\"title\":\"窨井盖\","
        "\"text\":\"华新镇新凤中路有个窨井盖破损了，"
        "车开过去哐哐响。\"}]";
    struct answer a;
    push(g, body, &a);
    assert_int_equal(a.http, 200);
    free(a.body);
    gw_free(g);
    ig_diags_fini(&d);

    char path[512];
    snprintf(path, sizeof(path), "%s/all.jsonl", f->dir);
    char *all = slurp(path);
    snprintf(path, sizeof(path), "%s/hot.jsonl", f->dir);
    char *hot = slurp(path);
    char line[8192];

    /* The red-line item is forwarded, unclassified, with priority high. */
    assert_true(find_line(all, "\"external_id\":\"R-1\"",
                          "\"priority\":{\"level\":\"high\"", line,
                          sizeof(line)));
    assert_non_null(strstr(line, "\"code\":null"));
    assert_non_null(strstr(line, "上百名"));
    /* The address field narrowed 崧泽大道 (徐泾镇, 赵巷镇) to 徐泾镇. */
    assert_true(
        find_line(all, "\"external_id\":\"N-2\"", NULL, line, sizeof(line)));
    assert_non_null(strstr(line, "\"town\":[\"徐泾镇\"]"));

    /* Three reports, two channels: updates r2 and r3, priority high. */
    char rid[17], n1[17], n2[17], m1[17], frag[64];
    cand_id(all, "R-1", rid);
    cand_id(all, "N-1", n1);
    cand_id(all, "N-2", n2);
    cand_id(all, "M-1", m1);
    for (int k = 2; k <= 3; k++) {
        snprintf(frag, sizeof(frag), "\"update_id\":\"%s-r%d\"", m1, k);
        assert_true(
            find_line(all, "\"type\":\"update\"", frag, line, sizeof(line)));
        snprintf(frag, sizeof(frag), "\"reports\":%d", k);
        assert_non_null(strstr(line, frag));
        assert_non_null(strstr(line, "\"channels\":[\"hotline\",\"letters\"]"));
        assert_non_null(strstr(line, "\"priority\":{\"level\":\"high\""));
        assert_non_null(strstr(line, "\"dedup\":\"exact\""));
        /* The dedicated webhook gets the updates that made it high. */
        snprintf(frag, sizeof(frag), "\"update_id\":\"%s-r%d\"", m1, k);
        assert_non_null(strstr(hot, frag));
    }

    /* only = high: the red-line candidate, not the normal ones. */
    assert_non_null(strstr(hot, "\"external_id\":\"R-1\""));
    assert_null(strstr(hot, "\"external_id\":\"N-1\""));
    assert_null(strstr(hot, "\"external_id\":\"N-2\""));

    /* The review queue: high first (whatever the confidence), then the
     * low-confidence normal item; the confident normal one is absent. */
    redisContext *c = redisConnectUnix(redis_up_socket(f->r));
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, "ZREVRANGE gwp:review 0 -1");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long rr = rank_of(r, rid), rn1 = rank_of(r, n1), rm = rank_of(r, m1);
    assert_true(rr >= 0 && rn1 >= 0 && rm >= 0);
    assert_true(rr < rn1);
    assert_true(rm < rn1);
    assert_int_equal(rank_of(r, n2), -1);
    freeReplyObject(r);
    r = redisCommand(c, "PTTL gwp:review");
    assert_non_null(r);
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 0);
    freeReplyObject(r);
    redisFree(c);
    free(all);
    free(hot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_channels_one_candidate),
        cmocka_unit_test(test_broken_rules_refused),
        cmocka_unit_test(test_stop_while_waiting_for_a_forwarder),
        cmocka_unit_test(test_priority_review_only),
        cmocka_unit_test(test_twin_push_waits_for_the_first),
        cmocka_unit_test(test_undelivered_item_is_replayed),
    };
    int failed = cmocka_run_group_tests_name("classify on the loop (default)",
                                             tests, setup, teardown);
    g_threads = 1;
    failed += cmocka_run_group_tests_name("classify on a worker thread", tests,
                                          setup, teardown);
    return failed;
}
