/* test_fetch.c — fetch.c and the scheduler against a real local HTTP
 * server (tests/lib/fixture_http), with the hotline kind.
 *
 * Covered: hotline paging and the committed cursor, the three paging
 * traps, conditional GET (validators stored only on commit), 429 with
 * Retry-After, 500 with backoff, a stalled server, redirects (same host,
 * other host:port, file://, loops), every http_* hostile response
 * including the generated gzip bomb, the 50 MiB JSON string, gzip, auth
 * headers, and one broken source not stopping the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "gateway/fetch.h"
#include "gateway/scheduler.h"
#include "gateway/sources.h"
#include "gateway/state.h"
#include "tests/lib/fixture_http.h"
#include "tests/lib/test_dirs.h"

static struct fixture_http *g_srv;
static char g_tmp[256];

/* --- a scheduler run ----------------------------------------------------- */

struct got {
    char *ids[64];
    size_t n;
    int rc;
    char *error;
    bool not_modified;
    bool seen;
};

struct run {
    struct event_base *base;
    struct sched *s;
    int settle; /* status passed to sched_done */
    struct got by_src[8];
    char *names[8];
    size_t nnames;
    size_t pending; /* batches still expected */
    bool idle;
};

static struct got *got_for(struct run *r, const char *id)
{
    for (size_t i = 0; i < r->nnames; i++) {
        if (strcmp(r->names[i], id) == 0) {
            return &r->by_src[i];
        }
    }
    r->names[r->nnames] = ig_strdup(id);
    return &r->by_src[r->nnames++];
}

static void got_reset(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        ig_free(g->ids[i]);
    }
    ig_free(g->error);
    memset(g, 0, sizeof(*g));
}

static void on_batch(void *ud, struct sched_batch *b)
{
    struct run *r = ud;
    struct got *g = got_for(r, b->source_id);
    got_reset(g);
    g->seen = true;
    g->rc = b->rc;
    g->error = b->error ? ig_strdup(b->error) : NULL;
    g->not_modified = b->not_modified;
    for (size_t i = 0; i < b->nitems; i++) {
        if (g->n < 64) {
            g->ids[g->n++] = ig_strdup(b->items[i]->ext_id);
        }
        ig_item_free(b->items[i]);
        b->items[i] = NULL;
    }
    size_t n = b->nitems;
    sched_done(r->s, b->token, r->settle, n);
    if (r->pending && --r->pending == 0) {
        event_base_loopbreak(r->base);
    }
}

static void on_idle(void *ud)
{
    struct run *r = ud;
    r->idle = true;
    event_base_loopbreak(r->base);
}

static void on_guard(evutil_socket_t fd, short w, void *ud)
{
    (void)fd;
    (void)w;
    event_base_loopbreak(ud);
}

/* Runs the loop until the expected batches arrived (or 30 s passed). */
static void dispatch(struct run *r)
{
    struct event *guard = evtimer_new(r->base, on_guard, r->base);
    struct timeval tv = {30, 0};
    evtimer_add(guard, &tv);
    event_base_dispatch(r->base);
    event_free(guard);
}

static const char *write_conf(const char *text)
{
    static char p[512];
    snprintf(p, sizeof(p), "%s/sources.conf", g_tmp);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int g_per_host;

static void run_start(struct run *r, const char *conf, const char *state,
                      bool once)
{
    memset(r, 0, sizeof(*r));
    r->settle = IG_OK;
    r->base = event_base_new();
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = NULL;
    int rc = source_set_load(write_conf(conf), &set, &d);
    ig_diags_print(&d, stderr);
    ig_diags_fini(&d);
    assert_int_equal(rc, IG_OK);
    struct sched_opts o = {
        .state_dir = state,
        .once = once,
        .max_per_host = g_per_host,
        .seed = 42,
        .on_batch = on_batch,
        .on_idle = on_idle,
        .ud = r,
    };
    assert_int_equal(sched_new(r->base, set, &o, &r->s), IG_OK);
}

static void run_stop(struct run *r)
{
    sched_free(r->s);
    event_base_free(r->base);
    for (size_t i = 0; i < r->nnames; i++) {
        got_reset(&r->by_src[i]);
        ig_free(r->names[i]);
    }
}

static struct got *poll_now(struct run *r, const char *id)
{
    struct got *g = got_for(r, id);
    g->seen = false;
    r->pending = 1;
    assert_int_equal(sched_poll_now(r->s, id), IG_OK);
    if (!g->seen) {
        dispatch(r);
    }
    assert_true(g->seen);
    return g;
}

struct health_probe {
    const char *id;
    struct source_health h;
};

static void probe(void *ud, const struct source_health *h)
{
    struct health_probe *p = ud;
    if (strcmp(h->id, p->id) == 0) {
        p->h = *h;
    }
}

static struct source_health health(struct run *r, const char *id)
{
    struct health_probe p = {.id = id};
    sched_health_each(r->s, probe, &p);
    return p.h;
}

/* "[source ID]\nkind = hotline\nurl = http://127.0.0.1:PORT<path>\n..." */
static char *hotline_src(const char *id, const char *path, const char *extra)
{
    char *url = fixture_http_url(g_srv, path);
    char *s = ig_asprintf("[source %s]\nkind = hotline\nurl = %s\n"
                          "id = /gdbh\ntime = /slsj\ntitle = /title\n"
                          "text = /sqnr\nlink = /url\nok_pointer = /code\n"
                          "ok_value = 200\ninterval = 60s\n%s\n",
                          id, url, extra ? extra : "timeout = 5s\n");
    free(url);
    return s;
}

/* --- tests -----------------------------------------------------------------
 */

static void hotline_paging_and_cursor(void **state)
{
    (void)state;
    fixture_http_route(g_srv, "/api/orders", "-", "feeds/zh/hotline_page1.json",
                       0, "application/json;charset=UTF-8", 0);
    fixture_http_route(g_srv, "/api/orders", "cursor=eyJvZmZzZXQiOjJ9",
                       "feeds/zh/hotline_page2_last.json", 0, NULL, 0);
    char *conf = hotline_src("rx", "/api/orders", "auth = env:IG_TEST_TOKEN\n");
    setenv("IG_TEST_TOKEN", "tok-xyz", 1);
    char sdir[400];
    snprintf(sdir, sizeof(sdir), "%s/state1", g_tmp);
    struct run r;
    run_start(&r, conf, sdir, false);
    struct got *g = poll_now(&r, "rx");
    assert_int_equal(g->rc, IG_OK);
    assert_int_equal(g->n, 4);
    assert_string_equal(g->ids[0], "QP12345-20220925-0001");
    assert_string_equal(g->ids[3], "QP12345-20220924-0098");
    char *head = fixture_http_last_head(g_srv, "/api/orders");
    assert_non_null(strstr(head, "Authorization: Bearer tok-xyz"));
    free(head);
    size_t hits = fixture_http_hits(g_srv, "/api/orders");
    assert_int_equal(hits, 2);

    /* Committed: the state record holds the cursor. */
    struct source_state st;
    assert_int_equal(state_load(sdir, "rx", &st), IG_OK);
    assert_non_null(st.cursor);
    assert_non_null(strstr(st.cursor, "QP12345-20220925-0001"));
    assert_int_equal(st.h.items_last_poll, 4);
    source_state_fini(&st);

    /* Second poll: page 1 is all old, so one request and no items. */
    g = poll_now(&r, "rx");
    assert_int_equal(g->rc, IG_OK);
    assert_int_equal(g->n, 0);
    assert_int_equal(fixture_http_hits(g_srv, "/api/orders"), hits + 1);
    run_stop(&r);

    /* A restart reads the cursor back. */
    run_start(&r, conf, sdir, false);
    g = poll_now(&r, "rx");
    assert_int_equal(g->n, 0);
    run_stop(&r);
    ig_free(conf);
}

static void paging_traps_stop_with_error(void **state)
{
    (void)state;
    fixture_http_route(g_srv, "/never", NULL,
                       "hostile/json_paging_cursor_never_advances.json", 0,
                       NULL, 0);
    fixture_http_route(g_srv, "/cycle", "-", "hostile/json_paging_cycle_a.json",
                       0, NULL, 0);
    fixture_http_route(g_srv, "/cycle", "Y3Vyc29yLUE%3D",
                       "hostile/json_paging_cycle_a.json", 0, NULL, 0);
    fixture_http_route(g_srv, "/cycle", "Y3Vyc29yLUI%3D",
                       "hostile/json_paging_cycle_b.json", 0, NULL, 0);
    fixture_http_route(g_srv, "/empty", NULL,
                       "hostile/json_paging_empty_but_more.json", 0, NULL, 0);
    char *a = hotline_src("never", "/never", NULL);
    char *b = hotline_src("cycle", "/cycle", NULL);
    char *c = hotline_src("empty", "/empty", NULL);
    char *conf = ig_asprintf("%s%s%s", a, b, c);
    struct run r;
    run_start(&r, conf, NULL, false);
    struct got *g = poll_now(&r, "never");
    assert_true(g->rc < 0);
    assert_non_null(strstr(g->error, "repeated"));
    assert_int_equal(g->n, 2);
    assert_int_equal(fixture_http_hits(g_srv, "/never"), 2);
    g = poll_now(&r, "cycle");
    assert_true(g->rc < 0);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->ids[0], "QP12345-20220925-0001");
    assert_string_equal(g->ids[1], "QP12345-20220925-0002");
    g = poll_now(&r, "empty");
    assert_true(g->rc < 0);
    assert_int_equal(g->n, 0);
    assert_true(fixture_http_hits(g_srv, "/empty") <= 2);
    run_stop(&r);
    ig_free(a);
    ig_free(b);
    ig_free(c);
    ig_free(conf);
}

static void conditional_get_commits_validators(void **state)
{
    (void)state;
    char *a = hotline_src("cond", "/feeds/zh/hotline_page2_last.json", NULL);
    char *b =
        hotline_src("cond2", "/feeds/zh/hotline_page2_last.json?x=1", NULL);
    char *nov =
        hotline_src("nov", "/feeds/zh/hotline_page2_last.json?noetag=1", NULL);
    char *conf = ig_asprintf("%s%s%s", a, b, nov);
    ig_free(nov);
    char sdir[400];
    snprintf(sdir, sizeof(sdir), "%s/state2", g_tmp);
    struct run r;
    run_start(&r, conf, sdir, false);
    struct got *g = poll_now(&r, "cond");
    assert_int_equal(g->n, 2);
    assert_false(g->not_modified);
    g = poll_now(&r, "cond");
    assert_true(g->not_modified);
    assert_int_equal(g->rc, IG_OK);
    assert_int_equal(g->n, 0);
    char *head =
        fixture_http_last_head(g_srv, "/feeds/zh/hotline_page2_last.json");
    assert_non_null(strstr(head, "If-None-Match:"));
    free(head);

    /* Without validators, an unchanged body counts as not modified. */
    g = poll_now(&r, "nov");
    assert_int_equal(g->n, 2);
    g = poll_now(&r, "nov");
    assert_true(g->not_modified);
    assert_int_equal(g->n, 0);

    /* Not settled as safe: no validators stored, the next poll gets the
     * full body again. */
    r.settle = IG_EAGAIN;
    g = poll_now(&r, "cond2");
    assert_int_equal(g->n, 2);
    g = poll_now(&r, "cond2");
    assert_false(g->not_modified);
    assert_int_equal(g->n, 2);
    run_stop(&r);
    ig_free(a);
    ig_free(b);
    ig_free(conf);
}

static void status_429_500_and_stall(void **state)
{
    (void)state;
    char *a = hotline_src(
        "limited", "/feeds/zh/hotline_page1.json?status=429&retry_after=120",
        NULL);
    char *b =
        hotline_src("broken", "/feeds/zh/hotline_page1.json?status=500", NULL);
    char *c =
        hotline_src("stalled", "/feeds/zh/hotline_page1.json?stall_ms=4000",
                    "timeout = 1s\n");
    char *t =
        hotline_src("trickle", "/feeds/zh/hotline_page1.json?trickle_ms=200",
                    "low_speed_limit = 1k\nlow_speed_time = 1s\n");
    char *conf = ig_asprintf("%s%s%s%s", a, b, c, t);
    ig_free(t);
    struct run r;
    run_start(&r, conf, NULL, false);
    int64_t t0 = (int64_t)time(NULL);
    struct got *g = poll_now(&r, "limited");
    assert_int_equal(g->rc, IG_EAGAIN);
    assert_non_null(strstr(g->error, "429"));
    struct source_health h = health(&r, "limited");
    assert_true(h.next_poll_ts >= t0 + 110);
    assert_int_equal(h.consecutive_failures, 1);

    g = poll_now(&r, "broken");
    assert_int_equal(g->rc, IG_EAGAIN);
    h = health(&r, "broken");
    int64_t first = h.next_poll_ts;
    g = poll_now(&r, "broken");
    h = health(&r, "broken");
    assert_int_equal(h.consecutive_failures, 2);
    assert_non_null(h.last_error);
    /* Backoff doubles (60 s -> 120 s, +-10 % jitter). */
    assert_true(h.next_poll_ts > first + 30);

    g = poll_now(&r, "stalled");
    assert_true(g->rc < 0);
    assert_non_null(g->error);

    /* A server that trickles one byte every 200 ms is cut off by the
     * low-speed limit (1 KiB/s over 1 s), not after the whole body. */
    g = poll_now(&r, "trickle");
    assert_int_equal(g->rc, IG_EAGAIN);
    assert_non_null(g->error);
    run_stop(&r);
    ig_free(a);
    ig_free(b);
    ig_free(c);
    ig_free(conf);
}

static void redirects_are_checked(void **state)
{
    (void)state;
    fixture_http_route(g_srv, "/rss/qpxw.xml", NULL,
                       "hostile/http_redirect_loop.http", 0, NULL, 0);
    char *a = hotline_src(
        "same", "/x?redirect=/feeds/zh/hotline_page2_last.json", NULL);
    char *b = hotline_src(
        "other", "/x?redirect=http%3A%2F%2F127.0.0.1%3A1%2Fadmin", NULL);
    char *c = hotline_src("loopback", "/hostile/http_redirect_to_loopback.http",
                          NULL);
    char *d =
        hotline_src("tofile", "/hostile/http_redirect_to_file.http", NULL);
    char *e = hotline_src("loop", "/hostile/http_redirect_loop.http", NULL);
    char *conf = ig_asprintf("%s%s%s%s%s", a, b, c, d, e);
    struct run r;
    run_start(&r, conf, NULL, false);
    struct got *g = poll_now(&r, "same");
    assert_int_equal(g->rc, IG_OK);
    assert_int_equal(g->n, 2);
    g = poll_now(&r, "other");
    assert_int_equal(g->rc, IG_EREJECTED);
    assert_non_null(strstr(g->error, "another host"));
    g = poll_now(&r, "loopback");
    assert_int_equal(g->rc, IG_EREJECTED);
    /* Refused, not followed (a followed one fails to connect instead). */
    assert_non_null(strstr(g->error, "another host"));
    g = poll_now(&r, "tofile");
    assert_int_equal(g->rc, IG_EREJECTED);
    assert_non_null(strstr(g->error, "non-http"));
    g = poll_now(&r, "loop");
    assert_int_equal(g->rc, IG_EREJECTED);
    assert_non_null(strstr(g->error, "too many redirects"));
    assert_true(fixture_http_hits(g_srv, "/rss/qpxw.xml") <= 5);
    run_stop(&r);
    ig_free(a);
    ig_free(b);
    ig_free(c);
    ig_free(d);
    ig_free(e);
    ig_free(conf);
}

/* --- fetch.c directly on the raw hostile responses ----------------------- */

struct fres {
    int rc, status;
    size_t len;
    char *error;
    bool rss; /* the body holds "<rss" (decoded, not compressed bytes) */
    int64_t retry_after_s;
    bool done;
};

static void on_fetch(void *ud, const struct fetch_result *res)
{
    struct fres *f = ud;
    f->rc = res->rc;
    f->status = res->status;
    f->len = res->len;
    f->rss = memmem(res->body, res->len, "<rss", 4) != NULL;
    f->retry_after_s = res->retry_after_s;
    f->error = res->error ? ig_strdup(res->error) : NULL;
    f->done = true;
}

/* Fetches req (url filled in from path) on a fresh loop and waits for
 * the result in *out. */
static void fetch_req_one(struct fetch_req *req, const char *path,
                          struct fres *out)
{
    struct event_base *base = event_base_new();
    struct fetch *f = fetch_new(base, NULL);
    char *url = fixture_http_url(g_srv, path);
    req->url = url;
    memset(out, 0, sizeof(*out));
    assert_int_equal(fetch_start(f, req, on_fetch, out, NULL), IG_OK);
    struct event *guard = evtimer_new(base, on_guard, base);
    struct timeval tv = {30, 0};
    evtimer_add(guard, &tv);
    while (!out->done) {
        if (event_base_loop(base, EVLOOP_ONCE) < 0) {
            break;
        }
    }
    event_free(guard);
    assert_true(out->done);
    fetch_free(f);
    event_base_free(base);
    free(url);
}

static void fetch_one(const char *path, int64_t max_bytes, struct fres *out)
{
    struct fetch_req req = {.timeout_ms = 20000, .max_bytes = max_bytes};
    fetch_req_one(&req, path, out);
}

/* A 429 whose body claims a Content-Encoding it does not have: the
 * status and its Retry-After count (the body of an error answer is not
 * read); it used to come back as an encoding error with no status, and
 * the source retried on its own backoff instead of when asked. */
static void error_status_with_bad_encoding(void **state)
{
    (void)state;
    char raw[400];
    snprintf(raw, sizeof(raw), "%s/429-fake-gzip.http", g_tmp);
    FILE *fp = fopen(raw, "w");
    assert_non_null(fp);
    fputs("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
          "Content-Encoding: gzip\r\nContent-Length: 5\r\n"
          "Connection: close\r\n\r\nslow!",
          fp);
    fclose(fp);
    fixture_http_route(g_srv, "/busy-gz", NULL, raw, 0, NULL, 0);
    struct fetch_req req = {.timeout_ms = 20000};
    struct fres out;
    fetch_req_one(&req, "/busy-gz", &out);
    assert_int_equal(out.rc, IG_OK);
    assert_int_equal(out.status, 429);
    assert_int_equal(out.retry_after_s, 7);
    ig_free(out.error);
}

/* timeout bounds the whole fetch, redirects included: two hops that each
 * stall 700 ms under a 1 s timeout time out (each hop used to get the
 * whole timeout afresh: 5 redirects could take 6 times it). */
static void timeout_covers_redirects(void **state)
{
    (void)state;
    struct fetch_req req = {.timeout_ms = 1000};
    struct fres out;
    fetch_req_one(&req,
                  "/hop1?stall_ms=700&redirect=%2Ffeeds%2Fzh%2F"
                  "hotline_page1.json%3Fstall_ms%3D700",
                  &out);
    assert_int_equal(out.rc, IG_EAGAIN);
    /* the second hop was made: it is the sum that timed out */
    assert_true(fixture_http_hits(g_srv, "/feeds/zh/hotline_page1.json") > 0);
    ig_free(out.error);
    /* One hop of 700 ms is well within it. */
    fetch_req_one(&req, "/feeds/zh/hotline_page2_last.json?stall_ms=700", &out);
    assert_int_equal(out.rc, IG_OK);
    assert_int_equal(out.status, 200);
    ig_free(out.error);
}

/* The source's credentials go to its own scheme, host and port only: a
 * redirect to another host that redirect_hosts allows (localhost for
 * 127.0.0.1: the same server under another name) is followed without
 * them; a redirect within the origin keeps them. Other headers follow. */
static void credentials_stay_with_their_origin(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path),
             "/cred-away?redirect=http%%3A%%2F%%2Flocalhost%%3A%d%%2Ffeeds%%2F"
             "zh%%2Fhotline_page1.json",
             fixture_http_port(g_srv));
    const char *hdrs[] = {"X-Trace: t1"};
    const char *allow[] = {"localhost"};
    struct fetch_req req = {.headers = hdrs,
                            .nheaders = 1,
                            .secret_header = "Authorization: Bearer s3cret",
                            .allow_hosts = allow,
                            .nallow_hosts = 1,
                            .timeout_ms = 20000};
    struct fres out;
    fetch_req_one(&req, path, &out);
    assert_int_equal(out.rc, IG_OK);
    assert_int_equal(out.status, 200);
    char *h = fixture_http_last_head(g_srv, "/cred-away");
    assert_non_null(h);
    assert_non_null(strstr(h, "s3cret"));
    free(h);
    h = fixture_http_last_head(g_srv, "/feeds/zh/hotline_page1.json");
    assert_non_null(h);
    assert_null(strstr(h, "s3cret"));
    assert_non_null(strstr(h, "X-Trace: t1"));
    free(h);
    ig_free(out.error);
    /* within the origin: kept */
    fetch_req_one(&req, "/cred-home?redirect=/feeds/zh/hotline_page2_last.json",
                  &out);
    assert_int_equal(out.status, 200);
    h = fixture_http_last_head(g_srv, "/feeds/zh/hotline_page2_last.json");
    assert_non_null(h);
    assert_non_null(strstr(h, "s3cret"));
    free(h);
    ig_free(out.error);
}

static void hostile_http_responses(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int want; /* 0 error, 1 ok (HTTP 200), 2 either */
    } cases[] = {
        {"http_fake_gzip.http", 0},
        {"http_gzip_truncated.http", 0},  /* curl alone says ok */
        {"http_deflate_is_gzip.http", 1}, /* decoded, as browsers do */
        {"http_content_length_short.http", 0},
        {"http_redirect_to_file.http", 0},
        {"http_redirect_to_loopback.http", 0},
        {"http_redirect_loop.http", 0},
        {"http_charset_bogus.http", 1},
        {"http_200_html_instead_of_feed.http", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/hostile/%s", cases[i].file);
        struct fres f;
        fetch_one(path, 0, &f);
        if (cases[i].want == 0) {
            assert_true(f.rc < 0);
            assert_non_null(f.error);
        } else if (cases[i].want == 1) {
            assert_int_equal(f.rc, IG_OK);
            assert_int_equal(f.status, 200);
        }
        /* gzip labelled deflate is decoded to the feed, not passed on. */
        if (strcmp(cases[i].file, "http_deflate_is_gzip.http") == 0) {
            assert_true(f.rss);
        }
        ig_free(f.error);
    }

    /* A truncated gzip body (libcurl alone reports success) and an
     * anti-bot page are errors for the source, never "0 items". */
    char *a = hotline_src("trunc", "/hostile/http_gzip_truncated.http", NULL);
    char *b = hotline_src("antibot",
                          "/hostile/http_200_html_instead_of_feed.http", NULL);
    char *conf = ig_asprintf("%s%s", a, b);
    struct run r;
    run_start(&r, conf, NULL, false);
    struct got *g = poll_now(&r, "trunc");
    assert_true(g->rc < 0);
    assert_non_null(strstr(g->error, "truncated"));
    assert_int_equal(g->n, 0);
    g = poll_now(&r, "antibot");
    assert_true(g->rc < 0);
    assert_non_null(strstr(g->error, "not JSON"));
    run_stop(&r);
    ig_free(a);
    ig_free(b);
    ig_free(conf);
}

/* gen.sh output, made once into the build dir. */
static const char *generated_dir(void)
{
    static char dir[512];
    snprintf(dir, sizeof(dir), "%s/hostile-generated", test_build_dir());
    char probe[600];
    snprintf(probe, sizeof(probe), "%s/http_gzip_bomb.http", dir);
    struct stat st;
    if (stat(probe, &st) != 0) {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "bash %s/hostile/gen.sh %s >/dev/null",
                 test_shared_dir(), dir);
        assert_int_equal(system(cmd), 0);
    }
    return dir;
}

static void gzip_bomb_and_huge_json_are_capped(void **state)
{
    (void)state;
    const char *dir = generated_dir();
    char file[700];
    snprintf(file, sizeof(file), "%s/http_gzip_bomb.http", dir);
    fixture_http_route(g_srv, "/bomb", NULL, file, 0, NULL, 0);
    snprintf(file, sizeof(file), "%s/json_50mb_string.json", dir);
    fixture_http_route(g_srv, "/huge.json", NULL, file, 0, NULL, 0);

    struct fres f;
    fetch_one("/bomb", 16 * 1024 * 1024, &f);
    assert_int_equal(f.rc, IG_E2BIG);
    assert_non_null(strstr(f.error, "max_bytes"));
    ig_free(f.error);

    /* The same 50 MiB line through the file kind: skipped at max_line,
     * counted, and the poll itself succeeds with memory bounded by the
     * line cap. */
    char *fconf = ig_asprintf("[source bigfile]\nkind = file\nurl = %s\n"
                              "suffix = .json\n",
                              file);
    struct run fr;
    run_start(&fr, fconf, NULL, false);
    struct got *fg = poll_now(&fr, "bigfile");
    assert_int_equal(fg->rc, IG_OK);
    assert_int_equal(fg->n, 0);
    run_stop(&fr);
    ig_free(fconf);

    char *conf = hotline_src("huge", "/huge.json", "max_bytes = 8MiB\n");
    struct run r;
    run_start(&r, conf, NULL, false);
    struct got *g = poll_now(&r, "huge");
    assert_int_equal(g->rc, IG_E2BIG);
    assert_int_equal(g->n, 0);
    run_stop(&r);
    ig_free(conf);
}

static void gzip_and_one_broken_source_among_others(void **state)
{
    (void)state;
    char *a =
        hotline_src("good", "/feeds/zh/hotline_page2_last.json?gzip=1", NULL);
    char *b =
        hotline_src("down", "/feeds/zh/hotline_page1.json?status=500", NULL);
    char *c = hotline_src("slow", "/feeds/zh/hotline_page1.json?stall_ms=3000",
                          "timeout = 1s\n");
    char *d = hotline_src("gone", "/no/such/file.json", NULL);
    char *conf = ig_asprintf("%s%s%s%s", a, b, c, d);
    struct run r;
    run_start(&r, conf, NULL, true);
    assert_int_equal(sched_start(r.s), IG_OK);
    dispatch(&r);
    assert_true(r.idle);
    struct got *g = got_for(&r, "good");
    assert_true(g->seen);
    assert_int_equal(g->rc, IG_OK);
    assert_int_equal(g->n, 2);
    assert_true(got_for(&r, "down")->rc < 0);
    assert_true(got_for(&r, "slow")->rc < 0);
    assert_int_equal(got_for(&r, "gone")->rc, IG_EREJECTED);
    /* Health JSON for GET /v1/sources. */
    assert_int_equal(health(&r, "good").items_last_poll, 2);
    assert_int_equal(health(&r, "down").consecutive_failures, 1);
    run_stop(&r);
    ig_free(a);
    ig_free(b);
    ig_free(c);
    ig_free(d);
    ig_free(conf);
}

static struct source_set *load_set(const char *conf)
{
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = NULL;
    assert_int_equal(source_set_load(write_conf(conf), &set, &d), IG_OK);
    ig_diags_fini(&d);
    return set;
}

/* SIGHUP: unchanged sources keep their state, removed ones go (also with
 * a poll in flight), new ones start, changed ones re-read disk state. */
static void reload_keeps_unchanged_sources(void **state)
{
    (void)state;
    char *s1 = hotline_src("s1", "/feeds/zh/hotline_page2_last.json", NULL);
    char *s2 = hotline_src("s2", "/feeds/zh/hotline_page2_last.json?x=2", NULL);
    char *slow = hotline_src(
        "slow", "/feeds/zh/hotline_page2_last.json?stall_ms=800", NULL);
    char *s3 = hotline_src("s3", "/feeds/zh/hotline_page1.json?x=3", NULL);
    char *s1b = hotline_src("s1", "/feeds/zh/hotline_page2_last.json",
                            "timeout = 7s\n");
    char sdir[400];
    snprintf(sdir, sizeof(sdir), "%s/state3", g_tmp);
    char *conf = ig_asprintf("%s%s%s", s1, s2, slow);
    struct run r;
    run_start(&r, conf, sdir, false);
    assert_int_equal(poll_now(&r, "s1")->n, 2);
    assert_int_equal(poll_now(&r, "s2")->n, 2);
    /* A poll in flight while its source is removed. */
    assert_int_equal(sched_poll_now(r.s, "slow"), IG_OK);

    char *conf2 = ig_asprintf("%s%s", s1, s3);
    assert_int_equal(sched_reload(r.s, load_set(conf2)), IG_OK);
    assert_int_equal(health(&r, "s1").polls, 1);
    assert_int_equal(health(&r, "s1").items_last_poll, 2);
    assert_null(health(&r, "s2").id);
    assert_non_null(health(&r, "s3").id);
    assert_null(health(&r, "slow").id);
    /* The in-flight poll still delivers, and is settled. */
    struct got *g = got_for(&r, "slow");
    if (!g->seen) {
        r.pending = 1;
        dispatch(&r);
    }
    assert_true(g->seen);
    /* Unchanged: validators kept, so a 304. */
    g = poll_now(&r, "s1");
    assert_true(g->not_modified);
    assert_int_equal(poll_now(&r, "s3")->n, 2);

    /* Changed: a new record, state re-read from the state dir. */
    char *conf3 = ig_asprintf("%s%s", s1b, s3);
    assert_int_equal(sched_reload(r.s, load_set(conf3)), IG_OK);
    assert_int_equal(health(&r, "s1").polls, 2);
    g = poll_now(&r, "s1");
    assert_true(g->not_modified);
    run_stop(&r);
    ig_free(s1);
    ig_free(s2);
    ig_free(slow);
    ig_free(s3);
    ig_free(s1b);
    ig_free(conf);
    ig_free(conf2);
    ig_free(conf3);
}

static void per_host_limit(void **state)
{
    (void)state;
    struct fixture_http *saved = g_srv;
    g_srv = fixture_http_start(test_shared_dir(), 0);
    char *conf = NULL;
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "h%d", i);
        char *one = hotline_src(
            id, "/feeds/zh/hotline_page2_last.json?stall_ms=300", NULL);
        char *both = ig_asprintf("%s%s", conf ? conf : "", one);
        ig_free(conf);
        ig_free(one);
        conf = both;
    }
    g_per_host = 2;
    struct run r;
    run_start(&r, conf, NULL, true);
    assert_int_equal(sched_start(r.s), IG_OK);
    dispatch(&r);
    assert_true(r.idle);
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "h%d", i);
        assert_int_equal(got_for(&r, id)->n, 2);
    }
    assert_true(fixture_http_max_active(g_srv) <= 2);
    run_stop(&r);
    g_per_host = 0;
    fixture_http_stop(g_srv);
    g_srv = saved;
    ig_free(conf);
}

/* The proxy comes from the environment: with http_proxy pointing at the
 * fixture server, a name that does not resolve is fetched through it. */
static void proxy_from_environment(void **state)
{
    (void)state;
    char *proxy = fixture_http_url(g_srv, "");
    setenv("http_proxy", proxy, 1);
    struct fres f;
    struct event_base *base = event_base_new();
    struct fetch *fe = fetch_new(base, NULL);
    struct fetch_req req = {
        .url = "http://hotline.invalid/feeds/zh/hotline_page1.json",
        .timeout_ms = 10000};
    memset(&f, 0, sizeof(f));
    assert_int_equal(fetch_start(fe, &req, on_fetch, &f, NULL), IG_OK);
    while (!f.done && event_base_loop(base, EVLOOP_ONCE) == 0) {
    }
    fetch_free(fe);
    event_base_free(base);
    unsetenv("http_proxy");
    free(proxy);
    assert_int_equal(f.rc, IG_OK);
    assert_int_equal(f.status, 200);
    assert_true(f.len > 500);
    ig_free(f.error);
    char *head = fixture_http_last_head(g_srv, "/feeds/zh/hotline_page1.json");
    assert_non_null(strstr(head, "GET http://hotline.invalid/"));
    free(head);
}

static int setup(void **state)
{
    (void)state;
    return fixture_http_setup("fetch", g_tmp, sizeof(g_tmp), &g_srv);
}

static int teardown(void **state)
{
    (void)state;
    return fixture_http_teardown(g_srv, g_tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hotline_paging_and_cursor),
        cmocka_unit_test(paging_traps_stop_with_error),
        cmocka_unit_test(conditional_get_commits_validators),
        cmocka_unit_test(status_429_500_and_stall),
        cmocka_unit_test(redirects_are_checked),
        cmocka_unit_test(credentials_stay_with_their_origin),
        cmocka_unit_test(timeout_covers_redirects),
        cmocka_unit_test(error_status_with_bad_encoding),
        cmocka_unit_test(hostile_http_responses),
        cmocka_unit_test(gzip_bomb_and_huge_json_are_capped),
        cmocka_unit_test(gzip_and_one_broken_source_among_others),
        cmocka_unit_test(reload_keeps_unchanged_sources),
        cmocka_unit_test(per_host_limit),
        cmocka_unit_test(proxy_from_environment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
