/* test_fetch_feeds.c — the parsing kinds through the real fetch path.
 *
 * The parsers' own tests read files; this one serves the Chinese feed
 * corpus (/work/shared/feeds/zh) over HTTP with the Content-Type each
 * manifest line gives (and with lying ones), polls it through sources.c,
 * the scheduler and fetch.c, and compares the items with expected.jsonl:
 * count, titles (whitespace removed, as the manifest asks) and ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <event2/event.h>

#include "connectors/connector.h"
#include "core/buf.h"
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

struct got {
    char *title[64];
    char *id[64];
    uint32_t flags[64];
    size_t n;
    int rc;
    char *error;
    bool seen;
};

struct run {
    struct event_base *base;
    struct sched *s;
    struct got g;
};

static void on_batch(void *ud, struct sched_batch *b)
{
    struct run *r = ud;
    r->g.seen = true;
    r->g.rc = b->rc;
    r->g.error = b->error ? ig_strdup(b->error) : NULL;
    for (size_t i = 0; i < b->nitems; i++) {
        struct ig_item *it = b->items[i];
        if (r->g.n < 64) {
            r->g.title[r->g.n] = it->title ? ig_strdup(it->title) : NULL;
            r->g.id[r->g.n] = it->ext_id ? ig_strdup(it->ext_id) : NULL;
            r->g.flags[r->g.n] = it->flags;
            r->g.n++;
        }
        ig_item_free(it);
        b->items[i] = NULL;
    }
    sched_done(r->s, b->token, IG_EAGAIN, 0);
    event_base_loopbreak(r->base);
}

static void got_fini(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        ig_free(g->title[i]);
        ig_free(g->id[i]);
    }
    ig_free(g->error);
    memset(g, 0, sizeof(*g));
}

static void url_escape(struct ig_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '/' || c == '+' || c == '-') {
            ig_buf_addc(b, (char)c);
        } else {
            ig_buf_addf(b, "%%%02X", c);
        }
    }
}

/* Polls the source "feed" of the config text once. */
static void poll_conf(const char *conf, struct got *out)
{
    char conf_path[512];
    snprintf(conf_path, sizeof(conf_path), "%s/feed.conf", g_tmp);
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fputs(conf, f);
    fclose(f);
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = NULL;
    int rc = source_set_load(conf_path, &set, &d);
    ig_diags_print(&d, stderr);
    ig_diags_fini(&d);
    assert_int_equal(rc, IG_OK);
    struct run r;
    memset(&r, 0, sizeof(r));
    r.base = event_base_new();
    struct sched_opts o = {.on_batch = on_batch, .ud = &r, .seed = 1};
    assert_int_equal(sched_new(r.base, set, &o, &r.s), IG_OK);
    assert_int_equal(sched_poll_now(r.s, "feed"), IG_OK);
    if (!r.g.seen) {
        event_base_dispatch(r.base);
    }
    assert_true(r.g.seen);
    sched_free(r.s);
    event_base_free(r.base);
    *out = r.g;
}

/* Polls one rss source for path (served with ctype) once. */
static void poll_feed(const char *path, const char *ctype, struct got *out)
{
    struct ig_buf q;
    ig_buf_init(&q, 0);
    ig_buf_adds(&q, path);
    if (ctype) {
        ig_buf_adds(&q, "?ctype=");
        url_escape(&q, ctype);
    }
    char *url = fixture_http_url(g_srv, q.data);
    ig_buf_fini(&q);
    char *conf = ig_asprintf("[source feed]\nkind = rss\nurl = %s\n"
                             "timeout = 10s\n",
                             url);
    free(url);
    poll_conf(conf, out);
    ig_free(conf);
}

/* Copy of s without whitespace (ASCII, U+00A0, U+3000). */
static char *squash(const char *s)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            continue;
        }
        if (strncmp(p, "\xC2\xA0", 2) == 0) {
            p += 1;
            continue;
        }
        if (strncmp(p, "\xE3\x80\x80", 3) == 0) {
            p += 2;
            continue;
        }
        ig_buf_addc(&b, *p);
    }
    return ig_buf_take(&b);
}

static void check_against(const cJSON *exp, const struct got *g,
                          const char *file)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(exp, "items");
    int want = cJSON_GetArraySize(items);
    if (g->rc != IG_OK || (int)g->n != want) {
        fprintf(stderr, "%s: rc %d (%s), %zu items, want %d\n", file, g->rc,
                g->error ? g->error : "-", g->n, want);
    }
    assert_int_equal(g->rc, IG_OK);
    assert_int_equal((int)g->n, want);
    for (int i = 0; i < want; i++) {
        const cJSON *it = cJSON_GetArrayItem(items, i);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "title");
        if (cJSON_IsString(t)) {
            char *a = squash(t->valuestring);
            char *b = squash(g->title[i]);
            if (strcmp(a, b) != 0) {
                fprintf(stderr, "%s[%d]: title '%s', want '%s'\n", file, i, b,
                        a);
            }
            assert_string_equal(a, b);
            ig_free(a);
            ig_free(b);
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsString(id)) {
            assert_non_null(g->id[i]);
            assert_string_equal(id->valuestring, g->id[i]);
        }
    }
}

/* Every rss20/atom10/rdf file of the zh corpus, served as the manifest
 * says. */
static void zh_feeds_over_http(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof(p), "%s/feeds/zh/expected.jsonl", test_shared_dir());
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ig_read_file(p, 0, &text, &len), IG_OK);
    size_t done = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *exp = cJSON_Parse(line);
        assert_non_null(exp);
        const char *fmt =
            cJSON_GetObjectItemCaseSensitive(exp, "format")->valuestring;
        if (strcmp(fmt, "rss20") != 0 && strcmp(fmt, "atom10") != 0 &&
            strcmp(fmt, "rdf") != 0) {
            cJSON_Delete(exp);
            continue;
        }
        const char *file =
            cJSON_GetObjectItemCaseSensitive(exp, "file")->valuestring;
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(exp, "content_type");
        char path[300];
        snprintf(path, sizeof(path), "/feeds/zh/%s", file);
        struct got g;
        poll_feed(path, cJSON_IsString(ct) ? ct->valuestring : NULL, &g);
        check_against(exp, &g, file);
        got_fini(&g);
        cJSON_Delete(exp);
        done++;
    }
    assert_true(done >= 13);
    ig_free(text);
}

/* The common lie: a GBK feed served as UTF-8 by the HTTP header. Either
 * decoded right and flagged, never garbled. */
static void gbk_served_as_utf8(void **state)
{
    (void)state;
    struct got g;
    poll_feed("/feeds/zh/rss20_news_gbk.xml", "text/xml; charset=utf-8", &g);
    assert_int_equal(g.rc, IG_OK);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.title[0], "金泽镇开展汛期防汛设施专项检查");
    assert_true(g.flags[0] != 0);
    got_fini(&g);
}

/* Raw hostile responses through the rss kind. */
static void hostile_http_through_rss(void **state)
{
    (void)state;
    struct got g;
    poll_feed("/hostile/http_200_html_instead_of_feed.http", NULL, &g);
    assert_true(g.rc < 0);
    assert_int_equal(g.n, 0);
    got_fini(&g);
    poll_feed("/hostile/http_gzip_truncated.http", NULL, &g);
    assert_true(g.rc < 0);
    assert_int_equal(g.n, 0);
    got_fini(&g);
    poll_feed("/hostile/http_fake_gzip.http", NULL, &g);
    assert_true(g.rc < 0);
    got_fini(&g);
    poll_feed("/hostile/http_content_length_short.http", NULL, &g);
    assert_true(g.rc < 0);
    assert_int_equal(g.n, 0);
    got_fini(&g);
    /* gzip labelled deflate: decoded, its item comes through. */
    poll_feed("/hostile/http_deflate_is_gzip.http", NULL, &g);
    assert_int_equal(g.rc, IG_OK);
    assert_int_equal(g.n, 1);
    got_fini(&g);
    /* An unknown charset name: the item comes through as UTF-8 ... */
    poll_feed("/hostile/http_charset_bogus.http", NULL, &g);
    assert_int_equal(g.rc, IG_OK);
    assert_int_equal(g.n, 1);
    /* ... flagged, so a reviewer sees the declaration was wrong. */
    assert_true(g.flags[0] & IG_ITEM_F_CHARSET);
    got_fini(&g);
}

/* The web kind with detail pages (depth 1) and list paging: several
 * requests in one poll, a 404 detail page costing one item's text only. */
static void web_follow_and_paging_over_http(void **state)
{
    (void)state;
    const char *src = test_source_dir();
    char root[512];
    snprintf(root, sizeof(root), "%s/tests/fixtures/web",
             src);
    struct fixture_http *w = fixture_http_start(root, 0);
    assert_non_null(w);
    fixture_http_route(w, "/bbs/list.html", NULL, "list_follow.html", 0,
                       "text/html", 0);
    fixture_http_route(w, "/bbs/thread-101.html", NULL, "post_101.html", 0,
                       "text/html", 0);
    fixture_http_route(w, "/bbs/thread-102.html", NULL, "post_102.html", 0,
                       "text/html", 0);
    fixture_http_route(w, "/list", "page=2", "list_paged_p2.html", 0,
                       "text/html", 0);
    fixture_http_route(w, "/list", "page=1", "list_paged.html", 0, "text/html",
                       0);
    char *url = fixture_http_url(w, "/bbs/list.html");
    char *conf = ig_asprintf(
        "[source feed]\nkind = web\nurl = %s\n"
        "item = //div[@class='post']\ntitle = h3/a\nlink = h3/a/@href\n"
        "time = em\nfield.status = span[@class='st']\nfollow = true\n"
        "detail.content = //div[@class='body']\n"
        "detail.time = //span[@class='when']\n"
        "detail.author = //span[@class='who']\n",
        url);
    free(url);
    struct got g;
    poll_conf(conf, &g);
    ig_free(conf);
    assert_int_equal(g.rc, IG_OK);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.title[0], "外站转帖");
    assert_string_equal(g.title[1], "楼道堆放电动车充电");
    assert_string_equal(g.title[3], "页面已删除的帖子");
    assert_int_equal(fixture_http_hits(w, "/bbs/thread-101.html"), 1);
    assert_int_equal(fixture_http_hits(w, "/bbs/thread-104.html"), 1);
    got_fini(&g);

    url = fixture_http_url(w, "/list?page=1");
    conf = ig_asprintf("[source feed]\nkind = web\nurl = %s\n"
                       "item = //ul[@class='msgs']/li\ntitle = a\n"
                       "link = a/@href\ntime = i\nid_param = id\n"
                       "next_page = //a[@class='next']/@href\n"
                       "max_list_pages = 5\n",
                       url);
    free(url);
    poll_conf(conf, &g);
    ig_free(conf);
    assert_int_equal(g.rc, IG_OK);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.id[0], "301");
    assert_string_equal(g.id[2], "299");
    got_fini(&g);
    fixture_http_stop(w);
}

static int setup(void **state)
{
    (void)state;
    return fixture_http_setup("feeds", g_tmp, sizeof(g_tmp), &g_srv);
}

static int teardown(void **state)
{
    (void)state;
    return fixture_http_teardown(g_srv, g_tmp);
}

int main(void)
{
    if (!connector_kind("rss") || !connector_kind("web")) {
        /* Built without the parsing kinds: nothing to test here. */
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zh_feeds_over_http),
        cmocka_unit_test(gbk_served_as_utf8),
        cmocka_unit_test(hostile_http_through_rss),
        cmocka_unit_test(web_follow_and_paging_over_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
