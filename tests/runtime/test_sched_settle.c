/* test_sched_settle.c — the scheduler's commit contract around reloads,
 * against a real local HTTP server (tests/lib/fixture_http) and a real
 * state directory, with the hotline kind.
 *
 * A source has at most one poll in flight or unsettled, also across a
 * reload that changes its configuration: the new record does not poll
 * while the old record's batch is unsettled, and when that batch commits,
 * the new record starts from what it committed (its validators: a 304),
 * not from the state read at reload time (a second full fetch of items
 * still in the pipeline, and two records writing one state file). The
 * same after a second reload while the first poll is still unsettled.
 * A local (file) source that fails keeps the connector's reason; one
 * with more lines than max_items reads them in turns, a second apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "gateway/scheduler.h"
#include "gateway/sources.h"
#include "tests/lib/fixture_http.h"
#include "tests/lib/test_dirs.h"

static struct fixture_http *g_srv;
static char g_tmp[256];

struct run {
    struct event_base *base;
    struct sched *s;
    bool hold;        /* keep batches unsettled (their token in held) */
    uint64_t held[8]; /* tokens of unsettled batches */
    size_t nheld;
    size_t batches; /* batches received */
    size_t items;   /* items in the last batch */
    bool not_modified;
};

static void on_batch(void *ud, struct sched_batch *b)
{
    struct run *r = ud;
    r->batches++;
    r->items = b->nitems;
    r->not_modified = b->not_modified;
    for (size_t i = 0; i < b->nitems; i++) {
        ig_item_free(b->items[i]);
        b->items[i] = NULL;
    }
    if (r->hold && r->nheld < 8) {
        r->held[r->nheld++] = b->token;
    } else {
        sched_done(r->s, b->token, IG_OK, 0);
    }
    event_base_loopbreak(r->base);
}

static void on_guard(evutil_socket_t fd, short w, void *ud)
{
    (void)fd;
    (void)w;
    event_base_loopbreak(ud);
}

/* Runs the loop until a batch arrives or ms pass. */
static void run_for(struct run *r, int ms)
{
    struct event *guard = evtimer_new(r->base, on_guard, r->base);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(guard, &tv);
    event_base_dispatch(r->base);
    event_free(guard);
}

static struct source_set *load_set(const char *conf)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/sources.conf", g_tmp);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(conf, f);
    fclose(f);
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = NULL;
    int rc = source_set_load(p, &set, &d);
    ig_diags_print(&d, stderr);
    ig_diags_fini(&d);
    assert_int_equal(rc, IG_OK);
    return set;
}

static char *hotline_src(const char *id, const char *path, const char *extra)
{
    char *url = fixture_http_url(g_srv, path);
    char *s = ig_asprintf("[source %s]\nkind = hotline\nurl = %s\n"
                          "id = /gdbh\ntime = /slsj\ntitle = /title\n"
                          "text = /sqnr\nlink = /url\nok_pointer = /code\n"
                          "ok_value = 200\ninterval = 60s\n%s\n",
                          id, url, extra);
    free(url);
    return s;
}

/* A reload that changes a source while its poll is unsettled: no second
 * poll of that source until the first is settled, then the new record
 * starts from the committed validators. */
static void changed_source_waits_for_its_unsettled_poll(void **state)
{
    (void)state;
    const char *path = "/feeds/zh/hotline_page2_last.json";
    char *a = hotline_src("s1", path, "timeout = 5s\n");
    char *b = hotline_src("s1", path, "timeout = 7s\n");
    char sdir[400];
    snprintf(sdir, sizeof(sdir), "%s/state", g_tmp);
    struct run r;
    memset(&r, 0, sizeof(r));
    r.base = event_base_new();
    struct sched_opts o = {
        .state_dir = sdir,
        .seed = 7,
        .on_batch = on_batch,
        .ud = &r,
    };
    assert_int_equal(sched_new(r.base, load_set(a), &o, &r.s), IG_OK);
    assert_int_equal(sched_start(r.s), IG_OK);

    /* The first poll: its two items are still in the pipeline. */
    r.hold = true;
    run_for(&r, 10000);
    assert_int_equal(r.batches, 1);
    assert_int_equal(r.items, 2);
    assert_int_equal(r.nheld, 1);
    size_t hits = fixture_http_hits(g_srv, path);

    /* Reloaded with a changed timeout: the new record must not poll (on
     * request or by its timer) while that batch is unsettled. */
    assert_int_equal(sched_reload(r.s, load_set(b)), IG_OK);
    assert_int_equal(sched_poll_now(r.s, "s1"), IG_EAGAIN);
    run_for(&r, 3500);
    assert_int_equal(r.batches, 1);
    assert_int_equal(fixture_http_hits(g_srv, path), hits);
    /* Changed again (back): still the one unsettled poll to wait for. */
    assert_int_equal(sched_reload(r.s, load_set(a)), IG_OK);
    assert_int_equal(sched_poll_now(r.s, "s1"), IG_EAGAIN);

    /* Settled: the validators it committed are the new record's. */
    r.hold = false;
    sched_done(r.s, r.held[0], IG_OK, 2);
    assert_int_equal(sched_poll_now(r.s, "s1"), IG_OK);
    run_for(&r, 10000);
    assert_int_equal(r.batches, 2);
    assert_true(r.not_modified);
    assert_int_equal(r.items, 0);

    sched_free(r.s);
    event_base_free(r.base);
    ig_free(a);
    ig_free(b);
}

static void probe(void *ud, const struct source_health *h)
{
    struct source_health *out = ud;
    if (strcmp(h->id, "f1") == 0) {
        *out = *h;
    }
}

/* Writes n JSON Lines items F-0 .. F-(n-1) to dir/items.jsonl. */
static void write_items(char *path, size_t cap, int n)
{
    snprintf(path, cap, "%s/items.jsonl", g_tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "{\"id\":\"F-%d\",\"title\":\"t\",\"text\":\"x\"}\n", i);
    }
    fclose(f);
}

/* A scheduler for the one source f1 of conf, state in sdir, and its
 * first poll (made at once: a local source answers within the call). */
static void start_f1(struct run *r, const char *conf, const char *sdir)
{
    memset(r, 0, sizeof(*r));
    r->base = event_base_new();
    struct sched_opts o = {
        .state_dir = sdir,
        .seed = 7,
        .on_batch = on_batch,
        .ud = r,
    };
    assert_int_equal(sched_new(r->base, load_set(conf), &o, &r->s), IG_OK);
    assert_int_equal(sched_poll_now(r->s, "f1"), IG_OK);
}

static struct source_health health_of_f1(struct sched *s)
{
    struct source_health h;
    memset(&h, 0, sizeof(h));
    sched_health_each(s, probe, &h);
    return h;
}

/* A local source that fails says why (the connector's reason, as for a
 * fetched one), and commits nothing. */
static void local_failure_keeps_its_reason(void **state)
{
    (void)state;
    char items[400], sdir[400];
    snprintf(items, sizeof(items), "%s/no-such-items.jsonl", g_tmp);
    snprintf(sdir, sizeof(sdir), "%s/state-local", g_tmp);
    char *conf = ig_asprintf("[source f1]\nkind = file\nurl = %s\n"
                             "interval = 60s\n",
                             items);
    struct run r;
    start_f1(&r, conf, sdir);
    assert_int_equal(r.batches, 1);
    struct source_health h = health_of_f1(r.s);
    assert_int_equal(h.consecutive_failures, 1);
    assert_non_null(h.last_error);
    assert_non_null(strstr(h.last_error, "No such file"));
    sched_free(r.s);
    event_base_free(r.base);
    ig_free(conf);
}

/* More lines than max_items: a poll takes max_items of them and commits
 * a cursor before the first line it refused; the next poll comes a
 * second later (not after the 60 s interval) and takes the rest; then
 * the source is back on its interval. Nothing is skipped, nothing read
 * twice, no failure. */
static void backlog_over_max_items_is_read_in_turns(void **state)
{
    (void)state;
    char items[400], sdir[400];
    write_items(items, sizeof(items), 7);
    snprintf(sdir, sizeof(sdir), "%s/state-backlog", g_tmp);
    char *conf = ig_asprintf("[source f1]\nkind = file\nurl = %s\n"
                             "interval = 60s\nmax_items = 3\n",
                             items);
    struct run r;
    start_f1(&r, conf, sdir);
    assert_int_equal(r.batches, 1);
    assert_int_equal(r.items, 3);
    /* the second and third polls come on their own, within seconds */
    run_for(&r, 5000);
    assert_int_equal(r.batches, 2);
    assert_int_equal(r.items, 3);
    run_for(&r, 5000);
    assert_int_equal(r.batches, 3);
    assert_int_equal(r.items, 1);
    /* caught up: the interval again */
    run_for(&r, 3000);
    assert_int_equal(r.batches, 3);
    struct source_health h = health_of_f1(r.s);
    assert_int_equal(h.consecutive_failures, 0);
    assert_int_equal(h.items_total, 7);
    /* a new line is the next poll's, read from the cursor */
    FILE *f = fopen(items, "a");
    assert_non_null(f);
    fputs("{\"id\":\"F-7\",\"title\":\"t\",\"text\":\"x\"}\n", f);
    fclose(f);
    assert_int_equal(sched_poll_now(r.s, "f1"), IG_OK);
    assert_int_equal(r.batches, 4);
    assert_int_equal(r.items, 1);
    sched_free(r.s);
    event_base_free(r.base);
    ig_free(conf);
}

static int setup(void **state)
{
    (void)state;
    return fixture_http_setup("sched", g_tmp, sizeof(g_tmp), &g_srv);
}

static int teardown(void **state)
{
    (void)state;
    return fixture_http_teardown(g_srv, g_tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(changed_source_waits_for_its_unsettled_poll),
        cmocka_unit_test(local_failure_keeps_its_reason),
        cmocka_unit_test(backlog_over_max_items_is_read_in_turns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
