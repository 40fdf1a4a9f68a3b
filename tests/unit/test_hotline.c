/* test_hotline.c — the hotline and file kinds, the hostile-JSON reader,
 * the push parser (its policy pinned in push_cases.h) and the sources
 * config, on files (no network).
 *
 * Sources are loaded through gateway/sources.c exactly as the gateway
 * does; responses are fed to the connector from the shared fixture files
 * (/work/shared/feeds/zh, /work/shared/hostile) and every json_* hostile
 * file is checked for its documented outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "connectors/connector.h"
#include "connectors/json_safe.h"
#include "connectors/push.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"
#include "gateway/sources.h"
#include "push_cases.h"
#include "tests/lib/test_dirs.h"

static char g_tmp[256];

static char *shared_file(const char *rel, size_t *len)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", test_shared_dir(), rel);
    char *b = NULL;
    assert_int_equal(ig_read_file(p, 0, &b, len), IG_OK);
    return b;
}

/* One document read by json_safe_read() into its own arena, as the
 * connectors do; doc_fini() frees the tree. */
struct doc {
    struct ig_arena *a;
    const struct json_safe_node *root;
    unsigned rep;
    char err[160];
};

static int doc_read(struct doc *d, const char *s, size_t n)
{
    d->a = ig_arena_new(json_safe_arena_size(n));
    d->rep = 0;
    return json_safe_read(s, n, 0, d->a, &d->root, &d->rep, d->err,
                          sizeof(d->err));
}

static void doc_fini(struct doc *d)
{
    ig_arena_free(d->a);
    d->a = NULL;
    d->root = NULL;
}

/* Writes text to TMP/name and returns the path (static buffer). */
static const char *write_tmp(const char *name, const char *text)
{
    static char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_tmp, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static struct source_set *load(const char *text, struct ig_diags *d)
{
    const char *p = write_tmp("s.conf", text);
    struct source_set *set = NULL;
    source_set_load(p, &set, d);
    return set;
}

struct items {
    struct ig_item *v[64];
    size_t n;
};

static int collect(void *ud, struct ig_item *it)
{
    struct items *c = ud;
    if (c->n < 64) {
        c->v[c->n++] = it;
    } else {
        ig_item_free(it);
    }
    return IG_OK;
}

static void items_free(struct items *c)
{
    for (size_t i = 0; i < c->n; i++) {
        ig_item_free(c->v[i]);
    }
    c->n = 0;
}

/* Runs one parse of body through c; returns the parse rc. */
static int feed(struct connector *c, const char *url, const char *body,
                size_t len, struct items *out, char **err)
{
    struct connector_sink sink = {.emit = collect, .ud = out};
    struct connector_resp r = {.status = 200,
                               .body = body,
                               .len = len,
                               .url = url,
                               .fetched_ts = 1700000000};
    int rc = connector_parse(c, &r, &sink);
    if (err) {
        *err = sink.error;
    } else {
        ig_free(sink.error);
    }
    return rc;
}

/* One whole poll of c whose only page is body; the parse must succeed. */
static void poll_one_page(struct connector *c, const char *body,
                          struct items *out)
{
    connector_begin(c);
    assert_int_equal(feed(c, NULL, body, strlen(body), out, NULL), IG_OK);
    connector_end(c, IG_OK);
}

#define HOTLINE_CONF                                                           \
    "[source rx12345]\n"                                                       \
    "kind = hotline\n"                                                         \
    "url = https://rx12345.qingpu.example/api/v1/orders?pageSize=2\n"          \
    "auth = env:IG_TEST_TOKEN\n"                                               \
    "id = /gdbh\n"                                                             \
    "time = /slsj\n"                                                           \
    "title = /title\n"                                                         \
    "text = /sqnr\n"                                                           \
    "place = /ssjz\n"                                                          \
    "link = /url\n"                                                            \
    "field.town = /ssjz\n"                                                     \
    "field.category = /wtfl\n"                                                 \
    "field.status = /blzt\n"                                                   \
    "ok_pointer = /code\n"                                                     \
    "ok_value = 200\n"                                                         \
    "error_pointer = /msg\n"

/* A hotline source from HOTLINE_CONF, set up and freed by cmocka around
 * the tests that need no other config. */
struct hotline_fixture {
    struct ig_diags d;
    struct source_set *set;
};

static int hotline_setup(void **state)
{
    struct hotline_fixture *fx = ig_calloc(1, sizeof(*fx));
    ig_diags_init(&fx->d);
    fx->set = load(HOTLINE_CONF, &fx->d);
    *state = fx;
    return fx->set ? 0 : -1;
}

static int hotline_teardown(void **state)
{
    struct hotline_fixture *fx = *state;
    source_set_free(fx->set);
    ig_diags_fini(&fx->d);
    ig_free(fx);
    return 0;
}

static struct connector *hotline_fixture_conn(void **state)
{
    struct hotline_fixture *fx = *state;
    return &fx->set->v[0]->conn;
}

static void hotline_pages_match_expected(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = load(HOTLINE_CONF, &d);
    ig_diags_print(&d, stderr);
    assert_non_null(set);
    struct connector *c = &set->v[0]->conn;
    struct items got = {0};
    size_t l1, l2;
    char *p1 = shared_file("feeds/zh/hotline_page1.json", &l1);
    char *p2 = shared_file("feeds/zh/hotline_page2_last.json", &l2);

    connector_begin(c);
    struct connector_req req;
    assert_int_equal(connector_request(c, &req), IG_OK);
    assert_string_equal(req.url, "https://rx12345.qingpu.example/api/v1/"
                                 "orders?pageSize=2");
    connector_req_fini(&req);
    assert_int_equal(feed(c,
                          "https://rx12345.qingpu.example/api/v1/orders?"
                          "pageSize=2",
                          p1, l1, &got, NULL),
                     IG_OK);
    assert_true(c->more);
    assert_int_equal(connector_request(c, &req), IG_OK);
    assert_string_equal(req.url, "https://rx12345.qingpu.example/api/v1/"
                                 "orders?pageSize=2&cursor=eyJvZmZzZXQiOjJ9");
    connector_req_fini(&req);
    assert_int_equal(feed(c,
                          "https://rx12345.qingpu.example/api/v1/orders?"
                          "pageSize=2&cursor=eyJvZmZzZXQiOjJ9",
                          p2, l2, &got, NULL),
                     IG_OK);
    assert_false(c->more);
    connector_end(c, IG_OK);
    assert_int_equal(got.n, 4);

    /* Compare with expected.jsonl (values written out here). */
    static const char *ids[] = {
        "QP12345-20220925-0001", "QP12345-20220925-0002",
        "QP12345-20220924-0107", "QP12345-20220924-0098"};
    static const char *pub[] = {
        "2022-09-25T14:30:00+08:00", "2022-09-25T08:02:11+08:00",
        "2022-09-24T19:45:30+08:00", "2022-09-24T11:20:05+08:00"};
    static const char *cat[] = {"B01-18", "B01-14", "B01-19", "B01-11"};
    for (size_t i = 0; i < 4; i++) {
        struct ig_item *it = got.v[i];
        assert_string_equal(it->ext_id, ids[i]);
        assert_string_equal(it->published, pub[i]);
        assert_string_equal(it->channel, "hotline");
        assert_string_equal(it->source_id, "rx12345");
        char link[128];
        snprintf(link, sizeof(link), "https://rx12345.qingpu.example/gd/%s",
                 ids[i]);
        assert_string_equal(it->url, link);
        assert_string_equal(ig_item_field(it, "category"), cat[i]);
        assert_non_null(it->title);
        assert_non_null(it->text);
        assert_non_null(it->place);
        assert_int_equal(it->flags, 0);
    }
    assert_string_equal(got.v[0]->title, "华新镇新木桥村路灯不亮");
    assert_string_equal(got.v[3]->place, "夏阳街道");
    assert_string_equal(ig_item_field(got.v[1], "status"), "已派单");

    /* The proposed cursor: the newest time and the ids at it. */
    assert_non_null(c->pending_cursor);
    assert_non_null(strstr(c->pending_cursor, "QP12345-20220925-0001"));
    assert_null(strstr(c->pending_cursor, "QP12345-20220925-0002"));
    items_free(&got);

    /* Next poll from that cursor: nothing is new. */
    c->cursor = c->pending_cursor;
    c->pending_cursor = NULL;
    connector_begin(c);
    assert_int_equal(feed(c, NULL, p1, l1, &got, NULL), IG_OK);
    /* Page 1 is entirely old: paging stops there. */
    assert_false(c->more);
    connector_end(c, IG_OK);
    assert_int_equal(got.n, 0);
    ig_free(p1);
    ig_free(p2);
    source_set_free(set);
    ig_diags_fini(&d);
}

/* Rows sharing the cursor's timestamp: >= plus id dedup loses nothing
 * and repeats nothing. */
static void hotline_cursor_same_second(void **state)
{
    struct connector *c = hotline_fixture_conn(state);
    struct items got = {0};
    const char *poll1 =
        "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":["
        "{\"gdbh\":\"A\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"a\"},"
        "{\"gdbh\":\"B\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"b\"},"
        "{\"gdbh\":\"C\",\"slsj\":\"2022-09-25 14:00:00\",\"title\":\"c\"}"
        "]}}";
    /* A fourth row arrives in the same second as A and B; a late row
     * older than the cursor and a repeat of B are dropped. */
    const char *poll2 =
        "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":["
        "{\"gdbh\":\"D\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"d\"},"
        "{\"gdbh\":\"B\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"b\"},"
        "{\"gdbh\":\"A\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"a\"},"
        "{\"gdbh\":\"E\",\"slsj\":\"2022-09-25 14:31:00\",\"title\":\"e\"},"
        "{\"gdbh\":\"C\",\"slsj\":\"2022-09-25 14:00:00\",\"title\":\"c\"}"
        "]}}";
    poll_one_page(c, poll1, &got);
    assert_int_equal(got.n, 3);
    items_free(&got);
    c->cursor = c->pending_cursor;
    c->pending_cursor = NULL;
    poll_one_page(c, poll2, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.v[0]->ext_id, "D");
    assert_string_equal(got.v[1]->ext_id, "E");
    /* A failed poll proposes nothing (a later page may hold older rows). */
    items_free(&got);
    connector_begin(c);
    feed(c, NULL, poll2, strlen(poll2), &got, NULL);
    connector_end(c, IG_EAGAIN);
    assert_null(c->pending_cursor);
    items_free(&got);
}

/* Rows at the cursor's second split across a page boundary: a page that
 * holds only rows AT the cursor time, all known, does not prove the next
 * page is older (it may hold a new row of that same second), so paging
 * goes on; only a row strictly older than the cursor ends it. */
static void hotline_cursor_same_second_across_pages(void **state)
{
    struct connector *c = hotline_fixture_conn(state);
    struct items got = {0};
    const char *poll1 =
        "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":["
        "{\"gdbh\":\"A\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"a\"},"
        "{\"gdbh\":\"B\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"b\"}"
        "]}}";
    const char *page1 =
        "{\"code\":200,\"data\":{\"hasMore\":true,\"nextCursor\":\"p2\","
        "\"list\":["
        "{\"gdbh\":\"A\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"a\"},"
        "{\"gdbh\":\"B\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"b\"}"
        "]}}";
    const char *page2 =
        "{\"code\":200,\"data\":{\"hasMore\":true,\"nextCursor\":\"p3\","
        "\"list\":["
        "{\"gdbh\":\"C\",\"slsj\":\"2022-09-25 14:30:00\",\"title\":\"c\"}"
        "]}}";
    const char *page3 =
        "{\"code\":200,\"data\":{\"hasMore\":true,\"nextCursor\":\"p4\","
        "\"list\":["
        "{\"gdbh\":\"Y\",\"slsj\":\"2022-09-25 13:10:00\",\"title\":\"y\"},"
        "{\"gdbh\":\"Z\",\"slsj\":\"2022-09-25 13:00:00\",\"title\":\"z\"}"
        "]}}";
    poll_one_page(c, poll1, &got);
    assert_int_equal(got.n, 2);
    items_free(&got);
    c->cursor = c->pending_cursor;
    c->pending_cursor = NULL;

    connector_begin(c);
    assert_int_equal(feed(c, NULL, page1, strlen(page1), &got, NULL), IG_OK);
    assert_int_equal(got.n, 0);
    assert_true(c->more);
    assert_int_equal(feed(c, NULL, page2, strlen(page2), &got, NULL), IG_OK);
    assert_true(c->more);
    assert_int_equal(feed(c, NULL, page3, strlen(page3), &got, NULL), IG_OK);
    /* Z is older than the cursor: the pages after it are older still. */
    assert_false(c->more);
    connector_end(c, IG_OK);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0]->ext_id, "C");
    assert_non_null(c->pending_cursor);
    assert_non_null(strstr(c->pending_cursor, "\"C\""));
    assert_non_null(strstr(c->pending_cursor, "\"A\""));
    items_free(&got);
    ig_free(c->cursor);
    c->cursor = NULL;
}

static void hotline_api_error_in_200(void **state)
{
    struct connector *c = hotline_fixture_conn(state);
    struct items got = {0};
    const char *body = "{\"code\":500,\"msg\":\"系统繁忙\",\"data\":null}";
    char *err = NULL;
    connector_begin(c);
    assert_true(feed(c, NULL, body, strlen(body), &got, &err) < 0);
    assert_non_null(err);
    assert_non_null(strstr(err, "系统繁忙"));
    ig_free(err);
    /* An HTML error page where JSON was expected. */
    size_t l;
    char *html = shared_file("hostile/json_html_error_page.json", &l);
    assert_true(feed(c, NULL, html, l, &got, &err) < 0);
    assert_non_null(strstr(err, "not JSON"));
    ig_free(err);
    ig_free(html);
    assert_int_equal(got.n, 0);
}

/* Work-order times: each form the hotline read with its own parser before
 * it used date.c, and the decisions taken where the two differed. The
 * timezone is the default +08:00; NULL = kept without a date. */
static const struct {
    const char *json; /* the slsj member's JSON value */
    const char *published;
} hotline_times[] = {
    {"\"2022-09-25 14:30:00\"", "2022-09-25T14:30:00+08:00"},
    {"\"2022/09/25 14:30\"", "2022-09-25T14:30:00+08:00"},
    {"\"2022-9-5 4:3:2\"", "2022-09-05T04:03:02+08:00"},
    {"\"2022-09-25\"", "2022-09-25T00:00:00+08:00"},
    {"\"  2022-09-25 14:30:00  \"", "2022-09-25T14:30:00+08:00"},
    {"\"2022-09-25T14:30:00.123Z\"", "2022-09-25T14:30:00Z"},
    {"\"2022-09-25 14:30:00 UTC\"", "2022-09-25T14:30:00Z"},
    {"\"2022-09-25T14:30:00+05:30\"", "2022-09-25T14:30:00+05:30"},
    {"\"2022-09-25T14:30:00+0530\"", "2022-09-25T14:30:00+05:30"},
    {"\"2022-09-25 14:30:00 -0500\"", "2022-09-25T14:30:00-05:00"},
    {"\"2024-02-29 10:00:00\"", "2024-02-29T10:00:00+08:00"},
    /* Epoch seconds and milliseconds, as strings or numbers. */
    {"\"1664087400\"", "2022-09-25T14:30:00+08:00"},
    {"1664087400", "2022-09-25T14:30:00+08:00"},
    {"\"1664087400000\"", "2022-09-25T14:30:00+08:00"},
    {"1664087400123", "2022-09-25T14:30:00+08:00"},
    /* Years 1990..2100 only, as the time reads in its zone. */
    {"\"1990-01-01 00:00:00\"", "1990-01-01T00:00:00+08:00"},
    {"\"2100-12-31 23:59:59\"", "2100-12-31T23:59:59+08:00"},
    {"\"1989-12-31 23:59:59\"", NULL},
    {"\"1989-12-31T23:59:59Z\"", NULL},
    {"\"2101-01-01 00:00:00\"", NULL},
    {"\"0000000000\"", NULL},
    {"\"9999999999999\"", NULL},
    /* Epochs obey the same year rule (was: 1990..2100-01-01 in UTC). */
    {"\"631151999\"", "1990-01-01T07:59:59+08:00"},
    {"\"631123199\"", NULL},
    {"\"4102444801\"", "2100-01-01T08:00:01+08:00"},
    /* Impossible dates and times. */
    {"\"2022-13-01 10:00:00\"", NULL},
    {"\"2022-02-29 10:00:00\"", NULL},
    {"\"2022-06-31\"", NULL},
    {"\"2022-09-25 24:00:00\"", NULL},
    /* Bad zones. */
    {"\"2022-09-25 14:30:00 +25:00\"", NULL},
    {"\"2022-09-25 14:30:00 XYZ\"", NULL},
    {"\"2022-09-25T14:30+8:00\"", NULL},
    /* Trailing garbage after the zone (was: ignored by sscanf). */
    {"\"2022-09-25T14:30:00+08:00junk\"", NULL},
    {"\"2022-09-25 14:30:00 +08:00:00\"", NULL},
    /* Mixed separators (was: accepted). */
    {"\"2022-09/25\"", NULL},
    /* A leap second reads as :59 of its minute (was: the next minute,
     * which can roll a time into the next day or year). */
    {"\"2016-12-31T23:59:60Z\"", "2016-12-31T23:59:59Z"},
    /* No "now" for the hotline: relative times are not guessed. */
    {"\"5 minutes ago\"", NULL},
};

static void hotline_time_forms(void **state)
{
    struct connector *c = hotline_fixture_conn(state);
    struct items got = {0};
    size_t n = sizeof(hotline_times) / sizeof(hotline_times[0]);
    assert_true(n <= 64);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":[");
    for (size_t i = 0; i < n; i++) {
        ig_buf_addf(&b, "%s{\"gdbh\":\"T%zu\",\"slsj\":%s}", i ? "," : "", i,
                    hotline_times[i].json);
    }
    ig_buf_adds(&b, "]}}");
    poll_one_page(c, b.data, &got);
    assert_int_equal(got.n, n);
    for (size_t i = 0; i < n; i++) {
        const struct ig_item *it = got.v[i];
        const char *want = hotline_times[i].published;
        if (want) {
            if (!it->published || strcmp(it->published, want) != 0) {
                fail_msg("%s: got %s, want %s", hotline_times[i].json,
                         it->published ? it->published : "(none)", want);
            }
            assert_int_equal(it->flags & IG_ITEM_F_NO_DATE, 0);
        } else {
            if (it->published) {
                fail_msg("%s: got %s, want no date", hotline_times[i].json,
                         it->published);
            }
            assert_true(it->flags & IG_ITEM_F_NO_DATE);
            assert_non_null(ig_item_field(it, "raw_date"));
        }
    }
    items_free(&got);
    ig_buf_fini(&b);
}

/* The timezone key takes date.c's zone vocabulary; a bad one is a config
 * error, and zone-less times follow a good one. */
static void hotline_timezone_key(void **state)
{
    (void)state;
    static const struct {
        const char *tz;
        const char *published; /* NULL: refused */
    } cases[] = {
        {"+08:00", "2022-09-25T14:30:00+08:00"},
        {"+0530", "2022-09-25T14:30:00+05:30"},
        {"-05:00", "2022-09-25T14:30:00-05:00"},
        {"Z", "2022-09-25T14:30:00Z"},
        {"UTC", "2022-09-25T14:30:00Z"},
        {"Asia/Tokyo", "2022-09-25T14:30:00+09:00"},
        {"+15:00", NULL},
        {"+08:00x", NULL},
        {"Mars/Olympus", NULL},
        {"8", NULL},
    };
    const char *body = "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":["
                       "{\"gdbh\":\"A\",\"slsj\":\"2022-09-25 14:30:00\"}]}}";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[2048];
        snprintf(conf, sizeof(conf), "%stimezone = %s\n", HOTLINE_CONF,
                 cases[i].tz);
        struct ig_diags d;
        ig_diags_init(&d);
        struct source_set *set = load(conf, &d);
        if (!cases[i].published) {
            if (set) {
                fail_msg("timezone %s was accepted", cases[i].tz);
            }
            ig_diags_fini(&d);
            continue;
        }
        if (!set) {
            ig_diags_print(&d, stderr);
            fail_msg("timezone %s was refused", cases[i].tz);
        }
        struct connector *c = &set->v[0]->conn;
        struct items got = {0};
        poll_one_page(c, body, &got);
        assert_int_equal(got.n, 1);
        assert_string_equal(got.v[0]->published, cases[i].published);
        items_free(&got);
        source_set_free(set);
        ig_diags_fini(&d);
    }
}

/* Every json_* file of hostile/ through the validator. */
struct hostile_case {
    const char *file;
    int outcome; /* 0 error, 1 ok clean, 2 ok with repairs */
};

static int drop_item(void *ud, struct ig_item *it)
{
    (void)ud;
    ig_item_free(it);
    return IG_OK;
}

static void hostile_json_validator(void **state)
{
    (void)state;
    static const struct hostile_case cases[] = {
        {"json_deep_nesting_100k.json", 0},
        {"json_deep_object_nesting_100k.json", 0},
        {"json_number_invalid_forms.json", 0},
        {"json_duplicate_keys.json", 0},
        {"json_escape_x.json", 0},
        {"json_escape_short_u.json", 0},
        {"json_escape_nonhex_u.json", 0},
        {"json_escape_single_quote.json", 0},
        {"json_escape_trailing_backslash.json", 0},
        {"json_trailing_garbage.json", 0},
        {"json_html_error_page.json", 0},
        {"json_unescaped_control.json", 2},
        {"json_unescaped_newline.json", 2},
        {"json_lone_high_surrogate.json", 2},
        {"json_lone_low_surrogate.json", 2},
        {"json_high_surrogate_then_ascii.json", 2},
        {"json_reversed_surrogates.json", 2},
        {"json_nul_escape.json", 2},
        {"json_raw_invalid_utf8.json", 2},
        {"json_surrogate_pair_valid.json", 1},
        {"json_bom.json", 1},
        {"json_huge_numbers.json", 1},
        {"json_paging_cursor_never_advances.json", 1},
        {"json_paging_cycle_a.json", 1},
        {"json_paging_cycle_b.json", 1},
        {"json_paging_empty_but_more.json", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rel[256];
        snprintf(rel, sizeof(rel), "hostile/%s", cases[i].file);
        size_t l;
        char *b = shared_file(rel, &l);
        struct doc doc;
        int rc = doc_read(&doc, b, l);
        const struct json_safe_node *root = doc.root;
        const char *err = doc.err;
        unsigned rep = doc.rep;
        /* The push parser reads with the same reader: it refuses exactly
         * these documents (none of them is a push body, so every item it
         * finds is skipped). */
        struct connector_sink sink = {.emit = drop_item};
        int prc = connector_push_parse(b, l, "push", "hotline", 0, &sink);
        assert_int_equal(prc < 0, rc < 0);
        assert_int_equal(sink.nitems, 0);
        if (cases[i].outcome == 0) {
            if (rc >= 0) {
                fprintf(stderr, "%s: accepted\n", cases[i].file);
            }
            assert_true(rc < 0);
            assert_null(root);
            assert_true(strlen(err) > 0);
        } else {
            if (rc < 0) {
                fprintf(stderr, "%s: %s\n", cases[i].file, err);
            }
            assert_int_equal(rc, IG_OK);
            assert_non_null(root);
            if (cases[i].outcome == 1) {
                assert_int_equal(rep, 0);
            } else {
                assert_true(rep > 0);
                assert_true(json_safe_has_fffd(root) ||
                            strstr(cases[i].file, "unescaped"));
            }
            /* Every string that comes out is valid UTF-8 without NUL. */
            const char *t = NULL;
            json_safe_scalar(json_safe_pointer(root, "/title"), &t);
            if (t) {
                assert_true(ig_utf8_valid(t, strlen(t)));
            }
        }
        doc_fini(&doc);
        ig_free(b);
    }
}

/* Duplicate keys are found in small objects (compared pair by pair) and
 * wide ones (sorted) alike; the smallest duplicated key is named. */
static void json_safe_duplicate_keys(void **state)
{
    (void)state;
    static const char *const small = "{\"z\":1,\"b\":2,\"z\":3,\"b\":4}";
    struct doc d;
    assert_int_equal(doc_read(&d, small, strlen(small)), IG_EPARSE);
    assert_null(d.root);
    assert_non_null(strstr(d.err, "duplicate key \"b\""));
    doc_fini(&d);
    char wide[512] = "[{\"k\":0},{";
    for (int i = 0; i < 20; i++) {
        char kv[32];
        snprintf(kv, sizeof(kv), "\"k%02d\":%d,", 19 - i, i);
        strcat(wide, kv);
    }
    strcat(wide, "\"k07\":1,\"k03\":2}]");
    assert_int_equal(doc_read(&d, wide, strlen(wide)), IG_EPARSE);
    assert_non_null(strstr(d.err, "duplicate key \"k03\""));
    doc_fini(&d);
    static const char *const fine = "[{\"a\":1,\"b\":{\"a\":2}},{\"a\":3}]";
    assert_int_equal(doc_read(&d, fine, strlen(fine)), IG_OK);
    doc_fini(&d);
}

struct pushed {
    struct ig_item *v[8];
    size_t n;
};

static int keep_pushed(void *ud, struct ig_item *it)
{
    struct pushed *p = ud;
    assert_true(p->n < 8);
    p->v[p->n++] = it;
    return IG_OK;
}

/* Every key of a pushed item lands in its field, whatever the member
 * order; near-miss names are ignored; unusable items are skipped with
 * their 1-based index. */
static void push_items_keys(void **state)
{
    (void)state;
    static const char body[] =
        "[{\"id\":\"A-1\",\"title\":\"井盖\",\"text\":\"t1\","
        "\"channel\":\"web\",\"source\":\"s1\",\"url\":\"http://x/1\","
        "\"author\":\"王\",\"place\":\"徐泾镇\","
        "\"published\":\"2024-05-01T09:30:00+08:00\","
        "\"fields\":{\"k\":\"v\",\"n\":12}},"
        "{\"title\":\"no id\"},"
        "{\"id\":2,\"text\":\"\\uFFFD bad\"},"
        "{\"id\":\"C\",\"text\":\"x\",\"channel\":\"fax\"},"
        "{\"id\":\"D\"},"
        "{\"text\":\"t\",\"id\":\"E\",\"tx\":\"no\",\"title\":\"T2\","
        "\"publisher\":\"no\",\"plac\":\"no\"}]";
    struct pushed got = {0};
    struct ig_diags d;
    ig_diags_init(&d);
    struct connector_sink sink = {.emit = keep_pushed, .ud = &got, .diags = &d};
    assert_int_equal(connector_push_parse(body, sizeof(body) - 1, "push",
                                          "hotline", 0, &sink),
                     IG_OK);
    assert_int_equal(got.n, 3);
    assert_int_equal(sink.nskipped, 3);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.v[0].line, 2);
    assert_int_equal(d.v[1].line, 4);
    assert_int_equal(d.v[2].line, 5);
    const struct ig_item *a = got.v[0];
    assert_string_equal(a->ext_id, "A-1");
    assert_string_equal(a->title, "井盖");
    assert_string_equal(a->text, "t1");
    assert_string_equal(a->channel, "web");
    assert_string_equal(a->source_id, "s1");
    assert_string_equal(a->url, "http://x/1");
    assert_string_equal(a->author, "王");
    assert_string_equal(a->place, "徐泾镇");
    assert_string_equal(a->published, "2024-05-01T09:30:00+08:00");
    assert_string_equal(ig_item_field(a, "k"), "v");
    assert_string_equal(ig_item_field(a, "n"), "12");
    assert_int_equal(a->flags, 0);
    const struct ig_item *b = got.v[1];
    assert_string_equal(b->ext_id, "2");
    assert_null(b->title);
    assert_string_equal(b->channel, "hotline");
    assert_string_equal(b->source_id, "push");
    assert_true(b->flags & IG_ITEM_F_REPAIRED);
    assert_true(b->flags & IG_ITEM_F_NO_DATE);
    const struct ig_item *e = got.v[2];
    assert_string_equal(e->ext_id, "E");
    assert_string_equal(e->title, "T2");
    assert_string_equal(e->text, "t");
    assert_null(e->published);
    assert_null(e->place);
    assert_string_equal(e->warning, "no published time");
    for (size_t i = 0; i < got.n; i++) {
        ig_item_free(got.v[i]);
    }
    ig_diags_fini(&d);
}

/* Expands <<N*s>> into N copies of s (s up to ">>"); see push_cases.h. */
static char *expand(const char *t, size_t *len)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    while (*t) {
        const char *m = strstr(t, "<<");
        if (!m) {
            ig_buf_adds(&b, t);
            break;
        }
        ig_buf_add(&b, t, (size_t)(m - t));
        char *star;
        unsigned long n = strtoul(m + 2, &star, 10);
        const char *end = strstr(star, ">>");
        for (unsigned long i = 0; i < n; i++) {
            ig_buf_add(&b, star + 1, (size_t)(end - star - 1));
        }
        t = end + 2;
    }
    ig_buf_addc(&b, '\0');
    *len = b.len - 1;
    return ig_buf_take(&b);
}

/* A string in a dump: "-" for NULL, long ones as [length]head..tail. */
static void dump_str(struct ig_buf *b, const char *s)
{
    if (!s) {
        ig_buf_adds(b, "-");
        return;
    }
    size_t n = strlen(s);
    if (n <= 40) {
        ig_buf_adds(b, s);
        return;
    }
    ig_buf_addf(b, "[%zu]", n);
    ig_buf_add(b, s, 12);
    ig_buf_adds(b, "..");
    ig_buf_adds(b, s + n - 12);
}

static int dump_item(void *ud, struct ig_item *it)
{
    struct ig_buf *b = ud;
    const char *v[] = {it->ext_id,  it->title,     it->text,
                       it->channel, it->source_id, it->url,
                       it->author,  it->place,     it->published};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        dump_str(b, v[i]);
        ig_buf_addc(b, '|');
    }
    ig_buf_addf(b, "%u|", (unsigned)it->flags);
    dump_str(b, it->warning);
    for (size_t i = 0; i < it->nfields; i++) {
        ig_buf_addc(b, i ? ',' : '|');
        dump_str(b, it->fields[i].key);
        ig_buf_addc(b, '=');
        dump_str(b, it->fields[i].value);
    }
    ig_buf_addc(b, '\n');
    ig_item_free(it);
    return IG_OK;
}

/* connector_push_parse() of body as text: one line per item, then the
 * return code, the counts and the skip reasons. */
static char *dump_push(const char *body, size_t len, size_t max_items)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_diags d;
    ig_diags_init(&d);
    struct connector_sink sink = {.emit = dump_item, .ud = &b, .diags = &d};
    int rc =
        connector_push_parse(body, len, "push", "hotline", max_items, &sink);
    ig_buf_addf(&b, "rc=%d n=%zu skipped=%zu\n", rc, sink.nitems,
                sink.nskipped);
    for (size_t i = 0; i < d.n; i++) {
        ig_buf_addf(&b, "%d: %s\n", d.v[i].line, d.v[i].msg);
    }
    ig_diags_fini(&d);
    return ig_buf_take(&b);
}

/* A string in a tree dump, escaped as the pinned dumps have it (the
 * escapes of cJSON's printer, which produced them). */
static void dump_json_str(struct ig_buf *b, const char *s)
{
    static const char raw[] = "\"\\\b\f\n\r\t";
    static const char escaped[] = "\"\\bfnrt";
    ig_buf_addc(b, '"');
    for (; *s; s++) {
        const char *esc = strchr(raw, *s);
        if (esc) {
            ig_buf_addc(b, '\\');
            ig_buf_addc(b, escaped[esc - raw]);
        } else if ((unsigned char)*s < 0x20) {
            ig_buf_addf(b, "\\u%04x", (unsigned char)*s);
        } else {
            ig_buf_addc(b, *s);
        }
    }
    ig_buf_addc(b, '"');
}

/* The tree under v as compact JSON. A number prints as the string
 * "\u0001<its text>": the pinned dumps date from the cJSON copy of the
 * tree, which marked numbers that way, and a dump that tells numbers from
 * strings is all they need. */
static void dump_tree(struct ig_buf *b, const struct json_safe_node *v)
{
    switch (v->type) {
    case JSON_SAFE_T_OBJECT:
    case JSON_SAFE_T_ARRAY: {
        bool obj = v->type == JSON_SAFE_T_OBJECT;
        ig_buf_addc(b, obj ? '{' : '[');
        for (const struct json_safe_node *c = v->child; c; c = c->next) {
            if (c != v->child) {
                ig_buf_addc(b, ',');
            }
            if (obj) {
                dump_json_str(b, c->key);
                ig_buf_addc(b, ':');
            }
            dump_tree(b, c);
        }
        ig_buf_addc(b, obj ? '}' : ']');
        break;
    }
    case JSON_SAFE_T_STRING:
        dump_json_str(b, v->str);
        break;
    case JSON_SAFE_T_NUMBER:
        ig_buf_addf(b, "\"\\u0001%s\"", v->str);
        break;
    case JSON_SAFE_T_TRUE:
        ig_buf_adds(b, "true");
        break;
    case JSON_SAFE_T_FALSE:
        ig_buf_adds(b, "false");
        break;
    default:
        ig_buf_adds(b, "null");
        break;
    }
}

/* json_safe_read() of body: return code, repairs, message, and the tree
 * (dump_tree()) when that is short. */
static char *dump_parse(const char *body, size_t len)
{
    struct doc d;
    int rc = doc_read(&d, body, len);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_addf(&b, "rc=%d repairs=%u %s", rc, rc == IG_OK ? d.rep : 0, d.err);
    if (d.root) {
        struct ig_buf t;
        ig_buf_init(&t, 0);
        dump_tree(&t, d.root);
        if (t.len <= 400) {
            ig_buf_add(&b, t.data, t.len);
        }
        ig_buf_fini(&t);
    }
    doc_fini(&d);
    return ig_buf_take(&b);
}

/* Every case of push_cases.h gives the items, skip reasons and document
 * errors pinned there. */
static void push_policy_pinned(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(push_cases) / sizeof(push_cases[0]); i++) {
        const struct push_case *c = &push_cases[i];
        size_t len;
        char *body = expand(c->body, &len);
        char *push = dump_push(body, len, c->max_items);
        char *parse = dump_parse(body, len);
        if (strcmp(push, c->push) != 0 || strcmp(parse, c->parse) != 0) {
            fprintf(stderr, "%s:\n--- want\n%s%s\n--- got\n%s%s\n", c->name,
                    c->push, c->parse, push, parse);
            bad++;
        }
        ig_free(parse);
        ig_free(push);
        ig_free(body);
    }
    assert_int_equal(bad, 0);
}

static const char *title_of(const char *file, struct doc *d)
{
    size_t l;
    char rel[256];
    snprintf(rel, sizeof(rel), "hostile/%s", file);
    char *b = shared_file(rel, &l);
    assert_int_equal(doc_read(d, b, l), IG_OK);
    ig_free(b);
    const char *t = NULL;
    json_safe_scalar(json_safe_pointer(d->root, "/title"), &t);
    return t;
}

static void hostile_json_values(void **state)
{
    (void)state;
    struct doc r;
    assert_string_equal(title_of("json_surrogate_pair_valid.json", &r),
                        "\xF0\x9F\x98\x80 青浦");
    doc_fini(&r);
    assert_string_equal(title_of("json_high_surrogate_then_ascii.json", &r),
                        "\xEF\xBF\xBD"
                        "A");
    doc_fini(&r);
    assert_string_equal(title_of("json_bom.json", &r), "BOM before JSON");
    doc_fini(&r);
    /* \u0000 never truncates: two ids must not collapse into one. */
    assert_string_equal(title_of("json_nul_escape.json", &r),
                        "青浦\xEF\xBF\xBD区");
    const char *id = NULL;
    json_safe_scalar(json_safe_pointer(r.root, "/gdbh"), &id);
    assert_string_equal(id, "QP\xEF\xBF\xBD-admin");
    doc_fini(&r);
    assert_string_equal(title_of("json_unescaped_newline.json", &r),
                        "line1 line2");
    doc_fini(&r);
}

/* The hotline kind on the hostile pages: exact ids, flags, errors. */
static void hostile_json_through_hotline(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set =
        load("[source h]\nkind = hotline\nurl = http://127.0.0.1/x\n"
             "id = /gdbh\ntitle = /title\n",
             &d);
    ig_diags_print(&d, stderr);
    assert_non_null(set);
    struct connector *c = &set->v[0]->conn;
    struct items got = {0};
    size_t l;
    char *b = shared_file("hostile/json_huge_numbers.json", &l);
    connector_begin(c);
    assert_int_equal(feed(c, NULL, b, l, &got, NULL), IG_OK);
    assert_int_equal(got.n, 9);
    size_t flagged = 0;
    for (size_t i = 0; i < got.n; i++) {
        flagged += (got.v[i]->flags & IG_ITEM_F_PARTIAL) != 0;
    }
    assert_true(flagged >= 3);
    /* Numbers are kept as their exact text. */
    assert_string_equal(ig_item_field(got.v[3], "id"), "2022092500010001234");
    items_free(&got);
    ig_free(b);

    char *err = NULL;
    b = shared_file("hostile/json_duplicate_keys.json", &l);
    assert_true(feed(c, NULL, b, l, &got, &err) < 0);
    assert_non_null(strstr(err, "duplicate key"));
    ig_free(err);
    ig_free(b);
    b = shared_file("hostile/json_trailing_garbage.json", &l);
    assert_true(feed(c, NULL, b, l, &got, &err) < 0);
    assert_non_null(strstr(err, "trailing"));
    ig_free(err);
    ig_free(b);
    assert_int_equal(got.n, 0);

    /* One order object (items = ""): the NUL id stays distinct, flagged. */
    source_set_free(set);
    set = load("[source h]\nkind = hotline\nurl = http://127.0.0.1/x\n"
               "items = \"\"\nid = /gdbh\ntitle = /title\n",
               &d);
    assert_non_null(set);
    c = &set->v[0]->conn;
    b = shared_file("hostile/json_nul_escape.json", &l);
    connector_begin(c);
    assert_int_equal(feed(c, NULL, b, l, &got, NULL), IG_OK);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0]->ext_id, "QP\xEF\xBF\xBD-admin");
    assert_true(got.v[0]->flags & IG_ITEM_F_REPAIRED);
    items_free(&got);
    ig_free(b);
    source_set_free(set);
    ig_diags_fini(&d);
}

static bool diag_has(const struct ig_diags *d, int line, const char *needle)
{
    for (size_t i = 0; i < d->n; i++) {
        if ((line == 0 || d->v[i].line == line) &&
            strstr(d->v[i].msg, needle)) {
            return true;
        }
    }
    return false;
}

static void sources_check_collects_all_errors(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set =
        load("[source good]\n"                /* 1 */
             "kind = hotline\n"               /* 2 */
             "url = https://a.example/api\n"  /* 3 */
             "id = /gdbh\n"                   /* 4 */
             "\n"                             /* 5 */
             "[source bad]\n"                 /* 6 */
             "kind = hotline\n"               /* 7 */
             "url = https://a.example/api\n"  /* 8 */
             "id = gdbh\n"                    /* 9: not a pointer */
             "intervall = 5m\n"               /* 10: typo */
             "auth = s3cr3t-token\n"          /* 11: a pasted secret */
             "interval = soon\n"              /* 12 */
             "\n"                             /* 13 */
             "[source other]\n"               /* 14 */
             "kind = rsss\n"                  /* 15 */
             "url = https://b.example/feed\n" /* 16 */
             "\n"                             /* 17 */
             "[source good]\n"                /* 18: duplicate */
             "kind = file\n"                  /* 19 */
             "url = /tmp/x.jsonl\n"           /* 20 */
             "[source bad/id]\n"              /* 21 */
             "kind = file\n"                  /* 22 */
             "url = /tmp\n",                  /* 23 */
             &d);
    ig_diags_print(&d, stderr);
    assert_null(set);
    assert_true(diag_has(&d, 9, "not a JSON pointer"));
    assert_true(diag_has(&d, 10, "did you mean 'interval'"));
    assert_true(diag_has(&d, 11, "auth"));
    assert_false(diag_has(&d, 0, "s3cr3t"));
    assert_true(diag_has(&d, 12, "duration"));
    assert_true(diag_has(&d, 15, "unknown kind 'rsss'"));
    assert_true(diag_has(&d, 18, "duplicate source id"));
    assert_true(diag_has(&d, 21, "source id"));
    /* file:line:col */
    for (size_t i = 0; i < d.n; i++) {
        assert_non_null(strstr(d.v[i].file, "s.conf"));
        assert_true(d.v[i].line > 0);
    }
    ig_diags_fini(&d);

    /* A clean file loads; auth resolves from the environment at use. */
    ig_diags_init(&d);
    set = load(HOTLINE_CONF, &d);
    assert_non_null(set);
    char *hdr = NULL;
    const char *why = NULL;
    unsetenv("IG_TEST_TOKEN");
    assert_true(source_auth_header(set->v[0], &hdr, &why) < 0);
    assert_non_null(why);
    setenv("IG_TEST_TOKEN", "tok-123", 1);
    assert_int_equal(source_auth_header(set->v[0], &hdr, &why), IG_OK);
    assert_string_equal(hdr, "Authorization: Bearer tok-123");
    ig_free(hdr);
    source_set_free(set);
    ig_diags_fini(&d);
}

static int read_all(struct connector *c, struct items *got, char **err)
{
    struct connector_sink sink = {.emit = collect, .ud = got};
    ig_free(c->pending_cursor);
    c->pending_cursor = NULL;
    connector_begin(c);
    int rc = connector_read_local(c, &sink);
    connector_end(c, rc);
    if (err) {
        *err = sink.error;
    } else {
        ig_free(sink.error);
    }
    return rc;
}

/* Creates the folder TMP/name and writes its path to out. */
static void make_tmp_dir(const char *name, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s", g_tmp, name);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", out);
    assert_int_equal(system(cmd), 0);
}

static void file_kind_replay_and_cursor(void **state)
{
    (void)state;
    char dir[600];
    make_tmp_dir("replay", dir, sizeof(dir));
    write_tmp("replay/a.jsonl",
              "{\"ext_id\":\"1\",\"title\":\"井盖缺失\",\"text\":\"路口\","
              "\"channel\":\"letters\"}\n"
              "this is not json\n"
              "{\"id\":\"2\",\"title\":\"路灯\",\"published\":"
              "\"2022-09-25T14:30:00+08:00\"}\n");
    write_tmp("replay/b.jsonl", "{\"ext_id\":\"3\",\"title\":\"t\"}\n"
                                "{\"ext_id\":\"4\",\"title\":\"partial");
    write_tmp("replay/ignored.txt", "{\"ext_id\":\"x\"}\n");
    char conf[900];
    snprintf(conf, sizeof(conf),
             "[source replay]\nkind = file\nurl = %s\nchannel = web\n", dir);
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = load(conf, &d);
    ig_diags_print(&d, stderr);
    assert_non_null(set);
    struct connector *c = &set->v[0]->conn;
    struct items got = {0};
    assert_int_equal(read_all(c, &got, NULL), IG_OK);
    /* The bad line is skipped; the unterminated last line waits. */
    assert_int_equal(got.n, 3);
    assert_string_equal(got.v[0]->ext_id, "1");
    assert_string_equal(got.v[1]->ext_id, "2");
    assert_string_equal(got.v[1]->published, "2022-09-25T14:30:00+08:00");
    assert_int_equal(got.v[1]->published_ts, 1664087400);
    assert_true(got.v[0]->flags & IG_ITEM_F_NO_DATE);
    assert_string_equal(got.v[2]->ext_id, "3");
    items_free(&got);
    /* Commit and append the rest of the line: only item 4 comes. */
    c->cursor = c->pending_cursor;
    c->pending_cursor = NULL;
    FILE *f = fopen(write_tmp("replay/.probe", ""), "w");
    fclose(f);
    char bp[700];
    snprintf(bp, sizeof(bp), "%s/b.jsonl", dir);
    f = fopen(bp, "a");
    fputs("\"}\n", f);
    fclose(f);
    assert_int_equal(read_all(c, &got, NULL), IG_OK);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0]->ext_id, "4");
    items_free(&got);
    source_set_free(set);
    ig_diags_fini(&d);
}

/* got: a repaired record with a time, one with time "soon", one without
 * a time, as a JSON kind calls its time WHAT; frees them. */
static void check_flagged_alike(struct items *got, const char *what)
{
    char want[64];
    assert_int_equal(got->n, 3);
    assert_true(got->v[0]->flags & IG_ITEM_F_REPAIRED);
    assert_string_equal(
        got->v[0]->warning,
        "invalid UTF-8, NUL, surrogate or control characters replaced");
    snprintf(want, sizeof(want), "unparseable %s", what);
    assert_string_equal(got->v[1]->warning, want);
    assert_string_equal(ig_item_field(got->v[1], "raw_date"), "soon");
    snprintf(want, sizeof(want), "no %s", what);
    assert_string_equal(got->v[2]->warning, want);
    assert_null(ig_item_field(got->v[2], "raw_date"));
    items_free(got);
}

/* The file and hotline kinds flag a record's time and repairs through the
 * same helpers: "no/unparseable <what>" with raw_date kept, and one
 * wording for repaired strings (file's lacked "surrogate", which the
 * shared JSON reader repairs for both). */
static void json_kinds_flag_alike(void **state)
{
    (void)state;
    char dir[600];
    make_tmp_dir("flags", dir, sizeof(dir));
    write_tmp("flags/a.jsonl",
              "{\"id\":\"r\",\"title\":\"a\\ud800b\","
              "\"published\":\"2022-09-25 14:30\"}\n"
              "{\"id\":\"u\",\"title\":\"x\",\"published\":\"soon\"}\n"
              "{\"id\":\"n\",\"title\":\"x\"}\n");
    char conf[900];
    snprintf(conf, sizeof(conf), "[source flags]\nkind = file\nurl = %s\n",
             dir);
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = load(conf, &d);
    assert_non_null(set);
    struct items got = {0};
    assert_int_equal(read_all(&set->v[0]->conn, &got, NULL), IG_OK);
    check_flagged_alike(&got, "published time");
    source_set_free(set);

    set = load(HOTLINE_CONF, &d);
    assert_non_null(set);
    const char *body = "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":["
                       "{\"gdbh\":\"R\",\"slsj\":\"2022-09-25 "
                       "14:30\",\"title\":\"a\\ud800b\"},"
                       "{\"gdbh\":\"U\",\"slsj\":\"soon\"},{\"gdbh\":\"N\"}]}}";
    struct connector *c = &set->v[0]->conn;
    poll_one_page(c, body, &got);
    check_flagged_alike(&got, "time");
    source_set_free(set);
    ig_diags_fini(&d);
}

static int count_only(void *ud, struct ig_item *it)
{
    (*(size_t *)ud)++;
    ig_item_free(it);
    return IG_OK;
}

/* Thousands of orders with repeated ids: each id once, the cap honoured. */
static void hotline_many_ids(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = load(HOTLINE_CONF "max_items = 1500\n", &d);
    assert_non_null(set);
    struct connector *c = &set->v[0]->conn;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, "{\"code\":200,\"data\":{\"list\":[");
    for (int i = 0; i < 3000; i++) {
        ig_buf_addf(&b,
                    "%s{\"gdbh\":\"id-%d\",\"slsj\":\"2022-09-25 "
                    "%02d:%02d:00\"}",
                    i ? "," : "", i % 1000, (i % 1000) / 60 % 24, i % 60);
    }
    ig_buf_adds(&b, "]}}");
    size_t n = 0;
    struct connector_sink sink = {.emit = count_only, .ud = &n};
    struct connector_resp r = {.status = 200, .body = b.data, .len = b.len};
    connector_begin(c);
    assert_int_equal(connector_parse(c, &r, &sink), IG_OK);
    assert_int_equal(n, 1000);
    connector_end(c, IG_OK);
    /* With a lower cap the poll stops at 10 items. These are listed
     * oldest first (00:00, 00:01, ...), so it ends well and proposes the
     * cursor of the 10th (see hotline_backlog_oldest_first). */
    sink.max_items = 10;
    sink.nitems = 0;
    n = 0;
    connector_begin(c);
    assert_int_equal(connector_parse(c, &r, &sink), IG_OK);
    assert_int_equal(n, 10);
    assert_true(sink.capped);
    connector_end(c, IG_OK);
    assert_non_null(c->pending_cursor);
    assert_non_null(strstr(c->pending_cursor, "\"id-9\""));
    ig_free(c->pending_cursor);
    c->pending_cursor = NULL;
    ig_buf_fini(&b);
    source_set_free(set);
    ig_diags_fini(&d);
}

/* One page of n orders, times rising (oldest first) or falling by a
 * minute from 10:00, or all at 10:00; ids O-<i>. */
static char *order_page(int n, int dir)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, "{\"code\":200,\"data\":{\"hasMore\":false,\"list\":[");
    for (int i = 0; i < n; i++) {
        int m = dir > 0 ? i : dir < 0 ? n - 1 - i : 0;
        ig_buf_addf(&b,
                    "%s{\"gdbh\":\"O-%d\",\"slsj\":\"2022-09-25 "
                    "10:%02d:00\",\"title\":\"t\"}",
                    i ? "," : "", i, m);
    }
    ig_buf_adds(&b, "]}}");
    return ig_buf_take(&b);
}

/* More new orders than max_items. Listed oldest first, a poll takes the
 * first max_items, ends well and commits their cursor; the next poll
 * (the same page: the API ignores since, or not) takes the rest, none
 * twice. Listed newest first, or all in one second, no cursor can be
 * cut inside them (what is left may be older than what was taken): the
 * poll fails and commits nothing, as before. */
static void hotline_backlog_oldest_first(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = load(HOTLINE_CONF, &d);
    assert_non_null(set);
    struct connector *c = &set->v[0]->conn;
    struct items got = {0};
    char *asc = order_page(7, 1);
    struct connector_sink sink = {.emit = collect, .ud = &got, .max_items = 3};
    struct connector_resp r = {.status = 200, .body = asc, .len = strlen(asc)};
    const char *want[] = {"O-0", "O-1", "O-2", "O-3", "O-4", "O-5", "O-6"};
    size_t taken = 0;
    for (int poll = 0; poll < 3; poll++) {
        sink.nitems = 0;
        sink.capped = false;
        connector_begin(c);
        assert_int_equal(connector_parse(c, &r, &sink), IG_OK);
        connector_end(c, IG_OK);
        assert_true(got.n <= 3);
        for (size_t i = 0; i < got.n; i++) {
            assert_string_equal(got.v[i]->ext_id, want[taken++]);
        }
        assert_int_equal(sink.capped, poll < 2);
        items_free(&got);
        ig_free(c->cursor);
        c->cursor = c->pending_cursor;
        c->pending_cursor = NULL;
    }
    assert_int_equal(taken, 7);
    ig_free(c->cursor);
    c->cursor = NULL;
    for (int dir = -1; dir <= 0; dir++) {
        char *page = order_page(7, dir);
        struct connector_resp rp = {
            .status = 200, .body = page, .len = strlen(page)};
        sink.nitems = 0;
        connector_begin(c);
        assert_int_equal(connector_parse(c, &rp, &sink), IG_E2BIG);
        assert_non_null(strstr(sink.error, "raise max_items"));
        connector_end(c, IG_E2BIG);
        assert_null(c->pending_cursor);
        ig_free(sink.error);
        sink.error = NULL;
        items_free(&got);
        ig_free(page);
    }
    ig_free(asc);
    source_set_free(set);
    ig_diags_fini(&d);
}

static uint32_t xs(uint32_t *st)
{
    uint32_t x = *st;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *st = x;
}

/* The \uXXXX at s[at] (a backslash), or false. */
static bool ref_u(const char *s, size_t n, size_t at, uint32_t *cp)
{
    if (at + 6 > n || s[at] != '\\' || s[at + 1] != 'u') {
        return false;
    }
    uint32_t v = 0;
    for (size_t k = at + 2; k < at + 6; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return false;
        }
        v = v << 4 | (uint32_t)d;
    }
    *cp = v;
    return true;
}

static void ref_put(struct ig_buf *out, uint32_t cp)
{
    char enc[4];
    ig_buf_add(out, enc, ig_utf8_encode(cp, enc));
}

/* json_safe.h's string policy, a byte at a time, from s[i] (just past an
 * opening quote): the decoded text in out, the repairs, and where the
 * string ends (past its closing quote); or IG_EPARSE and the message
 * json_safe_read() must give. The reference the reader's fast path (16
 * bytes per step, copied while scanned) is held to. */
static int ref_string(const char *s, size_t n, size_t i, struct ig_buf *out,
                      unsigned *repairs, size_t *end, char *err, size_t errlen)
{
    const char *why = "unterminated string";
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        if (c == '"') {
            *end = i + 1;
            return IG_OK;
        }
        if (c == '\\') {
            if (i + 1 >= n) {
                break;
            }
            char e = s[i + 1];
            const char *at = e ? strchr("\"\\/nrt", e) : NULL;
            if (e == 'b' || e == 'f') {
                (*repairs)++;
                i += 2;
            } else if (at) {
                ig_buf_addc(out, "\"\\/\n\r\t"[at - "\"\\/nrt"]);
                i += 2;
            } else if (e != 'u') {
                why = "invalid escape in string";
                break;
            } else if (!ref_u(s, n, i, &cp)) {
                why = "invalid \\u escape in string";
                break;
            } else {
                uint32_t lo;
                if (cp >= 0xD800 && cp <= 0xDBFF && ref_u(s, n, i + 6, &lo) &&
                    lo >= 0xDC00 && lo <= 0xDFFF) {
                    ref_put(out,
                            0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                    i += 12;
                    continue;
                }
                i += 6;
                if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
                    ref_put(out, 0xFFFD);
                    (*repairs)++;
                } else if (cp < 0x20 && cp != '\t' && cp != '\n' &&
                           cp != '\r') {
                    (*repairs)++;
                } else {
                    ref_put(out, cp);
                }
            }
        } else if (c < 0x20) {
            if (c == '\t' || c == '\n' || c == '\r') {
                ig_buf_addc(out, ' ');
            }
            (*repairs)++;
            i++;
        } else if (c < 0x80) {
            ig_buf_addc(out, (char)c);
            i++;
        } else {
            size_t k = ig_utf8_decode(s + i, n - i, &cp);
            if (cp == IG_UTF8_INVALID) {
                ref_put(out, 0xFFFD);
                (*repairs)++;
            } else {
                ig_buf_add(out, s + i, k);
            }
            i += k;
        }
    }
    snprintf(err, errlen, "%s at byte %zu", why, i);
    return IG_EPARSE;
}

/* Pieces of string bodies: plain text of every kind, every escape, raw
 * controls and NUL, valid UTF-8 of every length and bound, and invalid
 * UTF-8 (overlong, surrogates, past U+10FFFF, stray and cut sequences).
 * No raw '"': a body ends where the test puts its quote. */
/* clang-format off */
#define TOK(s) {s, sizeof(s) - 1}
static const struct {
    const char *s;
    size_t n;
} str_toks[] = {
    /* CJK and ASCII first: the runs the fast path takes */
    TOK("中"), TOK("青浦"), TOK("，"), TOK("。"), TOK("号"), TOK("7"),
    TOK("a"), TOK("Zq"), TOK(" "), TOK("~/"), TOK("\x7f"),
    TOK("\xEF\xBF\xBD"), TOK("é"), TOK("\xDF\xBF"), TOK("\xE0\xA0\x80"),
    TOK("\xED\x9F\xBF"), TOK("\xEE\x80\x80"), TOK("\xF0\x9F\x98\x80"),
    TOK("\xF4\x8F\xBF\xBF"), TOK("\xF0\x90\x80\x80"),
    /* escapes */
    TOK("\\\""), TOK("\\\\"), TOK("\\/"), TOK("\\b"), TOK("\\f"),
    TOK("\\n"), TOK("\\r"), TOK("\\t"), TOK("\\u0041"), TOK("\\u00e9"),
    TOK("\\u4E2D"), TOK("\\u0000"), TOK("\\u001f"), TOK("\\u0009"),
    TOK("\\uFFFD"), TOK("\\uD83D\\uDE00"), TOK("\\uD800"), TOK("\\uDC00"),
    TOK("\\uDE00\\uD83D"), TOK("\\uD800\\u0041"), TOK("\\uzzzz"),
    TOK("\\u12"), TOK("\\x"), TOK("\\'"), TOK("\\"), TOK("\\\0"),
    /* raw controls */
    TOK("\0"), TOK("\x01"), TOK("\t"), TOK("\n"), TOK("\r"), TOK("\x1f"),
    /* invalid UTF-8 */
    TOK("\xC0\xAF"), TOK("\xC1\xBF"), TOK("\xE0\x80\xAF"),
    TOK("\xE0\x9F\xBF"), TOK("\xED\xA0\x80"), TOK("\xED\xBF\xBF"),
    TOK("\xF0\x80\x80\xAF"), TOK("\xF0\x8F\xBF\xBF"), TOK("\xF4\x90\x80\x80"),
    TOK("\xF5\x80\x80\x80"), TOK("\x80"), TOK("\xBF"), TOK("\xFE"),
    TOK("\xFF"), TOK("\xC3"), TOK("\xE4\xB8"), TOK("\xE4"),
    TOK("\xF0\x9F\x98"), TOK("\xE4\xB8\xE4\xB8\xAD"),
};
/* clang-format on */
#undef TOK

/* A string body of exactly len bytes (the last piece may be cut): mostly
 * CJK text, mostly ASCII, any piece, or any byte but '"'. */
static void str_body(struct ig_buf *b, size_t len, int mode, uint32_t *st)
{
    size_t ntok = sizeof(str_toks) / sizeof(str_toks[0]);
    ig_buf_reset(b);
    while (b->len < len) {
        if (mode == 3) {
            char c = (char)(xs(st) & 0xFF);
            ig_buf_addc(b, c == '"' ? '\\' : c);
            continue;
        }
        uint32_t r = xs(st);
        /* modes 0 and 1: one piece in 16 from the whole table */
        size_t k = mode == 2 || r % 16 == 0 ? (r >> 4) % ntok
                   : mode == 0              ? (r >> 4) % 6
                                            : 6 + (r >> 4) % 5;
        ig_buf_add(b, str_toks[k].s, str_toks[k].n);
    }
    b->len = len;
}

/* json_safe_read() of doc, where a string starts at byte at, against
 * ref_string(): the same error, or the same decoded text (as the only
 * member's key or value), repairs and U+FFFD flag. */
static void check_string_doc(const char *doc, size_t n, size_t at, bool key)
{
    struct ig_buf want;
    ig_buf_init(&want, 0);
    unsigned rep = 0;
    size_t end = 0;
    char err[160];
    int rc = ref_string(doc, n, at, &want, &rep, &end, err, sizeof(err));
    struct doc d;
    int got = doc_read(&d, doc, n);
    if (rc < 0) {
        assert_int_equal(got, IG_EPARSE);
        assert_string_equal(d.err, err);
    } else {
        assert_int_equal(got, IG_OK);
        assert_int_equal(d.rep, rep);
        assert_int_equal(d.root->n, 1);
        const struct json_safe_node *m = d.root->child;
        const char *t = key ? m->key : m->str;
        size_t tl = key ? m->klen : m->len;
        assert_int_equal(tl, want.len);
        assert_memory_equal(t, want.data ? want.data : "", tl);
        assert_int_equal(strlen(t), tl);
        if (!key) {
            assert_int_equal(m->fffd, ig_utf8_has_fffd(t, tl));
        }
    }
    doc_fini(&d);
    ig_buf_fini(&want);
}

/* body in the documents check_string_doc() compares: as a value and as a
 * key, pad bytes into the document, tail bytes between the closing quote
 * and the end, and cut off before the closing quote. */
static void check_string_docs(struct ig_buf *doc, const struct ig_buf *body,
                              size_t pad, size_t tail)
{
    /* [  "body"  ] */
    ig_buf_reset(doc);
    ig_buf_addf(doc, "%*s[\"", (int)pad, "");
    ig_buf_add(doc, body->data, body->len);
    ig_buf_addf(doc, "\"%*s]", (int)tail, "");
    check_string_doc(doc->data, doc->len, pad + 2, false);
    /* {  "body":  0} */
    ig_buf_reset(doc);
    ig_buf_addf(doc, "%*s{\"", (int)pad, "");
    ig_buf_add(doc, body->data, body->len);
    ig_buf_addf(doc, "\":%*s0}", (int)tail, "");
    check_string_doc(doc->data, doc->len, pad + 2, true);
    /* [  "body */
    ig_buf_reset(doc);
    ig_buf_addf(doc, "%*s[\"", (int)pad, "");
    ig_buf_add(doc, body->data, body->len);
    check_string_doc(doc->data, doc->len, pad + 2, false);
}

/* The reader's string fast path (16 bytes per step, scanned and copied
 * at once) against ref_string(). Random bodies of every length 0..80 and
 * some long ones, at every distance from the start and to the end of the
 * document (0..15 bytes before the string, 0..17 after its closing
 * quote); then each piece of str_toks at every offset 0..33 of a plain
 * run (ASCII, or CJK after 0..2 ASCII bytes) and before 36 more bytes of
 * one, so that every piece lands on every place of a block, with a
 * plain block or a plain end after it. */
static void json_safe_strings_differential(void **state)
{
    (void)state;
    static const size_t longer[] = {100, 127, 128, 129, 255, 256, 1000, 4099};
    size_t nlonger = sizeof(longer) / sizeof(longer[0]);
    uint32_t st = 20240501;
    struct ig_buf body, doc;
    ig_buf_init(&body, 0);
    ig_buf_init(&doc, 0);
    for (size_t li = 0; li <= 80 + nlonger; li++) {
        size_t len = li <= 80 ? li : longer[li - 81];
        for (int rep = 0; rep < 8; rep++) {
            str_body(&body, len, rep % 4, &st);
            for (size_t pad = 0; pad < 16; pad++) {
                for (size_t tail = 0; tail <= 17; tail++) {
                    check_string_docs(&doc, &body, pad, tail);
                }
            }
        }
    }
    for (size_t t = 0; t < sizeof(str_toks) / sizeof(str_toks[0]); t++) {
        for (size_t at = 0; at <= 33; at++) {
            for (int style = 0; style < 4; style++) {
                const char *fill = style & 1 ? "中" : "a";
                ig_buf_reset(&body);
                while (body.len < (style & 2 ? at % 3 : at)) {
                    ig_buf_addc(&body, 'a');
                }
                while (body.len < at) {
                    ig_buf_adds(&body, "中");
                }
                ig_buf_add(&body, str_toks[t].s, str_toks[t].n);
                for (size_t k = 0; k < 36; k += strlen(fill)) {
                    ig_buf_adds(&body, fill);
                }
                check_string_docs(&doc, &body, 0, 0);
                check_string_docs(&doc, &body, 7, 1);
                check_string_docs(&doc, &body, 3, 16);
            }
        }
    }
    ig_buf_fini(&doc);
    ig_buf_fini(&body);
}

static bool strings_valid(const struct json_safe_node *v)
{
    for (const struct json_safe_node *c = v->child; c; c = c->next) {
        if (c->key && !ig_utf8_valid(c->key, strlen(c->key))) {
            return false;
        }
        if (c->str && !ig_utf8_valid(c->str, strlen(c->str))) {
            return false;
        }
        if (!strings_valid(c)) {
            return false;
        }
    }
    return true;
}

/* Deterministic mutations of a real page: whatever comes out of the
 * validator is well-formed (valid UTF-8 everywhere), and nothing crashes
 * or leaks (run under ASan in CI). Not a fuzzer, a cheap net. */
static void json_safe_mutations(void **state)
{
    (void)state;
    size_t l;
    char *orig = shared_file("feeds/zh/hotline_page1.json", &l);
    static const char *const tokens[] = {
        "\\u0000", "\\uD800", "\\",       "\"",   "{", "[", "]",
        "}",       "1e999",   "\xC0\xAF", "\xFF", ",", ":"};
    char *buf = ig_malloc(l + 64);
    uint32_t st = 20220925;
    size_t ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, orig, l);
        size_t n = l;
        int edits = 1 + (int)(xs(&st) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = xs(&st) % n;
            switch (xs(&st) % 4) {
            case 0: /* flip a byte */
                buf[at] = (char)(xs(&st) & 0xFF);
                break;
            case 1: /* truncate */
                n = at + 1;
                break;
            case 2: { /* overwrite with a nasty token */
                const char *t =
                    tokens[xs(&st) % (sizeof(tokens) / sizeof(tokens[0]))];
                size_t tl = strlen(t);
                if (at + tl <= n) {
                    memcpy(buf + at, t, tl);
                }
                break;
            }
            default: /* delete a byte */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            }
            if (n == 0) {
                n = 1;
            }
        }
        struct doc d;
        if (doc_read(&d, buf, n) == IG_OK) {
            assert_true(strings_valid(d.root));
            ok++;
        } else {
            assert_null(d.root);
        }
        doc_fini(&d);
    }
    /* Some mutations must survive (a flipped byte inside a string). */
    assert_true(ok > 100);
    ig_free(buf);
    ig_free(orig);
}

/* The shipped examples load as they are. */
static void examples_load(void **state)
{
    (void)state;
    const char *src = test_source_dir();
    static const char *files[] = {"hotline.conf", "file.conf"};
    for (size_t i = 0; i < 2; i++) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/examples/sources.d/%s",
                 src, files[i]);
        struct ig_diags d;
        ig_diags_init(&d);
        struct source_set *set = NULL;
        int rc = source_set_load(p, &set, &d);
        ig_diags_print(&d, stderr);
        assert_int_equal(rc, IG_OK);
        assert_true(set->n >= 1);
        source_set_free(set);
        ig_diags_fini(&d);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/ig-test-hotline-XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hotline_pages_match_expected),
        cmocka_unit_test_setup_teardown(hotline_cursor_same_second,
                                        hotline_setup, hotline_teardown),
        cmocka_unit_test(hotline_backlog_oldest_first),
        cmocka_unit_test_setup_teardown(hotline_cursor_same_second_across_pages,
                                        hotline_setup, hotline_teardown),
        cmocka_unit_test_setup_teardown(hotline_api_error_in_200, hotline_setup,
                                        hotline_teardown),
        cmocka_unit_test_setup_teardown(hotline_time_forms, hotline_setup,
                                        hotline_teardown),
        cmocka_unit_test(hotline_timezone_key),
        cmocka_unit_test(hostile_json_validator),
        cmocka_unit_test(hostile_json_values),
        cmocka_unit_test(json_safe_duplicate_keys),
        cmocka_unit_test(push_items_keys),
        cmocka_unit_test(push_policy_pinned),
        cmocka_unit_test(hostile_json_through_hotline),
        cmocka_unit_test(sources_check_collects_all_errors),
        cmocka_unit_test(file_kind_replay_and_cursor),
        cmocka_unit_test(json_kinds_flag_alike),
        cmocka_unit_test(examples_load),
        cmocka_unit_test(hotline_many_ids),
        cmocka_unit_test(json_safe_mutations),
        cmocka_unit_test(json_safe_strings_differential),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
