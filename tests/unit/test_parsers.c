/* test_parsers.c — letters and web kinds on the zh corpus, and the
 * fixture folders tests/fixtures/{rss,letters,web}/.
 *
 * The zh message-board pages and the letters-and-visits export must pass
 * completely (feeds/zh/expected.jsonl), with the selectors the manifest
 * documents written as source configs below. The fixture walker runs every
 * <name>.<ext> that has a <name>.expected.json beside it, so a new case is
 * two files; web fixtures may list post pages ("detail") to exercise
 * follow = true through the request/parse/more loop.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "connectors/connector.h"
#include "connectors/date.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"
#include "tests/lib/parse_run.h"
#include "tests/lib/test_dirs.h"

static int64_t iso_ts(const char *s)
{
    struct date_opts o = {.local_offset_min = 0};
    int64_t ts;
    int off;
    if (date_parse(s, strlen(s), &o, &ts, &off) < 0) {
        return INT64_MIN;
    }
    return ts;
}

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static const char *flag_name(uint32_t f)
{
    const char *n = ig_item_flag_name(f);
    return n ? n : "?";
}

/* Compares one item with an expected object; prints and counts
 * differences. Keys: title link id published text author place, flags
 * (list of names that must be set), fields (object of raw fields), and for
 * the zh manifest any other string key is a raw field. */
static size_t check_item(const char *where, size_t i, const struct ig_item *it,
                         const cJSON *e, bool extras_are_fields)
{
    size_t bad = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, e)
    {
        const char *k = v->string;
        const char *want = cJSON_IsString(v) ? v->valuestring : NULL;
        if (strcmp(k, "title") == 0 || strcmp(k, "link") == 0 ||
            strcmp(k, "author") == 0 || strcmp(k, "place") == 0) {
            const char *got = k[0] == 't'   ? it->title
                              : k[0] == 'l' ? it->url
                              : k[0] == 'a' ? it->author
                                            : it->place;
            if (!str_eq(got, want)) {
                printf("# %s[%zu] %s '%s' want '%s'\n", where, i, k,
                       got ? got : "(null)", want ? want : "(null)");
                bad++;
            }
        } else if (strcmp(k, "id") == 0) {
            if (want != NULL && !str_eq(it->ext_id, want)) {
                printf("# %s[%zu] id '%s' want '%s'\n", where, i,
                       it->ext_id ? it->ext_id : "(null)", want);
                bad++;
            }
        } else if (strcmp(k, "published") == 0) {
            bool ok = want == NULL ? it->published == NULL
                                   : (it->published != NULL &&
                                      it->published_ts == iso_ts(want));
            if (!ok) {
                printf("# %s[%zu] published '%s' want '%s'\n", where, i,
                       it->published ? it->published : "(null)",
                       want ? want : "(null)");
                bad++;
            }
        } else if (strcmp(k, "text") == 0) {
            if (!parse_text_eq_nows(it->text, want)) {
                printf("# %s[%zu] text '%s'\n#   want '%s'\n", where, i,
                       it->text ? it->text : "(null)", want ? want : "(null)");
                bad++;
            }
        } else if (strcmp(k, "flags") == 0) {
            const cJSON *f;
            cJSON_ArrayForEach(f, v)
            {
                bool found = false;
                for (uint32_t b = 1; b <= IG_ITEM_F_LAST; b <<= 1) {
                    if ((it->flags & b) &&
                        strcmp(flag_name(b), f->valuestring) == 0) {
                        found = true;
                    }
                }
                if (!found) {
                    printf("# %s[%zu] flag %s not set (flags %#x)\n", where, i,
                           f->valuestring, it->flags);
                    bad++;
                }
            }
        } else if (strcmp(k, "fields") == 0 ||
                   (extras_are_fields && want != NULL)) {
            const cJSON *list = strcmp(k, "fields") == 0 ? v : NULL;
            const cJSON *f;
            if (list == NULL) {
                const char *got = ig_item_field(it, k);
                if (!str_eq(got, want)) {
                    printf("# %s[%zu] field %s '%s' want '%s'\n", where, i, k,
                           got ? got : "(null)", want);
                    bad++;
                }
                continue;
            }
            cJSON_ArrayForEach(f, list)
            {
                const char *got = ig_item_field(it, f->string);
                if (!str_eq(got, f->valuestring)) {
                    printf("# %s[%zu] field %s '%s' want '%s'\n", where, i,
                           f->string, got ? got : "(null)", f->valuestring);
                    bad++;
                }
            }
        }
        if (it->text != NULL && !ig_utf8_valid(it->text, strlen(it->text))) {
            bad++;
        }
    }
    return bad;
}

/* --- zh corpus: letters and web ---------------------------------------- */

struct zh_case {
    const char *file;
    const char *kind;
    const char *config;
};

static const struct zh_case zh_cases[] = {
    {"board_list_utf8.html", "web",
     "item = //ul[@class='lyb-list']/li\n"
     "title = a[@class='lyb-title']\n"
     "link = a[@class='lyb-title']/@href\n"
     "time = span[@class='lyb-time']\n"
     "content = p[@class='lyb-summary']\n"
     "id_param = id\n"
     "field.status = span[@class='lyb-status']\n"
     "next_page = //a[@class='next']/@href\n"
     "max_list_pages = 3\n"},
    {"board_list_gbk.html", "web",
     "item = //table/tr[td/a]\n"
     "title = td[1]/a/@title\n"
     "link = td[1]/a/@href\n"
     "time = td[2]\n"
     "id_param = id\n"
     "field.status = td[3]\n"
     "field.list_title = td[1]/a\n"
     "next_page = //a[.='下一页']/@href\n"
     "max_list_pages = 3\n"},
    {"board_detail_utf8.html", "web",
     "item = //div[@class='detail']\n"
     "title = h2[@class='title']\n"
     "id = table[@class='meta']/tr[1]/td[1]\n"
     "author = table[@class='meta']/tr[1]/td[2]\n"
     "time = table[@class='meta']/tr[2]/td[1]\n"
     "content = div[@class='content']\n"
     "field.status = table[@class='meta']/tr[2]/td[2]\n"
     "link_template = https://liuyan.qingpu.example/lyb/detail.html?"
     "id={id}\n"},
    {"xinfang_records_utf8.xml", "letters",
     "item = //record\n"
     "id = xfbh\n"
     "title = bt\n"
     "time = djsj\n"
     "content = xfnr\n"
     "address = ssjz\n"
     "field.channel = xfxs\n"
     "field.town = ssjz\n"
     "field.category = wtfl\n"
     "link_template = https://xf.qingpu.example/xf/detail?xfbh={id}\n"},
};

/* One manifest entry of a web board or letters page (others: -1). */
static int zh_web_letters_one(void *ud, const struct zh_entry *e)
{
    const struct zh_case *zc = NULL;
    size_t bad = 0;

    (void)ud;
    for (size_t i = 0; i < sizeof(zh_cases) / sizeof(zh_cases[0]); i++) {
        if (strcmp(zh_cases[i].file, e->file) == 0) {
            zc = &zh_cases[i];
        }
    }
    if (zc == NULL) {
        return -1;
    }
    struct parse_run r;
    if (parse_run_init(&r, zc->kind, e->url, zc->config) != IG_OK) {
        ig_diags_print(&r.diags, stdout);
        fail_msg("%s: config rejected", e->file);
    }
    int rc = parse_run_body(&r, e->body, e->len, e->content_type, e->url);
    if (rc != IG_OK) {
        printf("# %s: rc %d %s\n", e->file, rc,
               r.sink.error ? r.sink.error : "");
        bad++;
    }
    size_t want = (size_t)cJSON_GetArraySize(e->items);
    if (r.n != want) {
        printf("# %s: %zu items, want %zu\n", e->file, r.n, want);
        bad++;
    }
    for (size_t i = 0; i < r.n && i < want; i++) {
        bad += check_item(e->file, i, r.items[i],
                          cJSON_GetArrayItem(e->items, (int)i), true);
    }
    /* Paging: the next list page is what the manifest says. */
    const cJSON *np = cJSON_GetObjectItem(e->j, "next_page");
    if (cJSON_IsString(np)) {
        struct connector_req req;
        if (!r.c.more || connector_request(&r.c, &req) != IG_OK) {
            printf("# %s: no next page\n", e->file);
            bad++;
        } else {
            if (strcmp(req.url, np->valuestring) != 0) {
                printf("# %s: next page %s want %s\n", e->file, req.url,
                       np->valuestring);
                bad++;
            }
            connector_req_fini(&req);
        }
    }
    parse_run_fini(&r);
    return (int)bad;
}

static void zh_web_letters(void **state)
{
    size_t bad = 0, done;

    (void)state;
    done = parse_zh_each(zh_web_letters_one, NULL, &bad);
    printf("# zh web/letters: %zu files, %zu failures\n", done, bad);
    assert_int_equal(done, 4);
    assert_int_equal(bad, 0);
}

/* --- fixture folders --------------------------------------------------- */

static char *join_lines(const cJSON *cfg)
{
    struct ig_buf b;
    const cJSON *l;
    ig_buf_init(&b, 0);
    if (cJSON_IsString(cfg)) {
        ig_buf_adds(&b, cfg->valuestring);
    } else {
        cJSON_ArrayForEach(l, cfg)
        {
            ig_buf_addf(&b, "%s\n", l->valuestring);
        }
    }
    return ig_buf_take(&b);
}

/* Runs one fixture; returns the number of differences. */
static size_t run_fixture(const char *dir, const char *kind, const char *name,
                          const char *input)
{
    char path[8192];
    size_t len;
    size_t bad = 0;
    snprintf(path, sizeof(path), "%.2048s/%.255s.expected.json", dir, name);
    char *etext = parse_read_file(path, &len);
    assert_non_null(etext);
    cJSON *e = cJSON_Parse(etext);
    if (e == NULL) {
        fail_msg("%s: bad JSON", path);
    }
    const cJSON *urlj = cJSON_GetObjectItem(e, "url");
    const char *url = cJSON_IsString(urlj) ? urlj->valuestring : NULL;
    const cJSON *ctj = cJSON_GetObjectItem(e, "content_type");
    const char *ct = cJSON_IsString(ctj) ? ctj->valuestring : NULL;
    char *cfg = join_lines(cJSON_GetObjectItem(e, "config"));
    const cJSON *result = cJSON_GetObjectItem(e, "result");
    bool want_error =
        cJSON_IsString(result) && strcmp(result->valuestring, "error") == 0;

    snprintf(path, sizeof(path), "%.2048s/%.255s", dir, input);
    size_t blen;
    char *body = parse_read_file(path, &blen);
    assert_non_null(body);
    struct parse_run r;
    if (parse_run_init(&r, kind, url, cfg) != IG_OK) {
        ig_diags_print(&r.diags, stdout);
        fail_msg("%s: config rejected", name);
    }
    connector_begin(&r.c);
    int rc = parse_run_body(&r, body, blen, ct, url);
    /* Post pages, as gateway/fetch.c would fetch them. */
    size_t pages = 1;
    while (rc == IG_OK && r.c.more && pages < 50) {
        struct connector_req req;
        assert_int_equal(connector_request(&r.c, &req), IG_OK);
        const cJSON *det = cJSON_GetObjectItem(e, "detail");
        const cJSON *f = cJSON_GetObjectItem(det, req.url);
        char *dbody = NULL;
        size_t dlen = 0;
        if (cJSON_IsString(f)) {
            snprintf(path, sizeof(path), "%.2048s/%.255s", dir, f->valuestring);
            dbody = parse_read_file(path, &dlen);
            assert_non_null(dbody);
        }
        rc = parse_run_body(&r, dbody ? dbody : "", dlen, "text/html", req.url);
        connector_req_fini(&req);
        ig_free(dbody);
        pages++;
    }
    connector_end(&r.c, rc);

    if (want_error != (rc != IG_OK)) {
        printf("# %s/%s: rc %d (%s), want %s\n", kind, name, rc,
               r.sink.error ? r.sink.error : "", want_error ? "error" : "ok");
        bad++;
    }
    const cJSON *ec = cJSON_GetObjectItem(e, "error_contains");
    if (cJSON_IsString(ec) && (r.sink.error == NULL ||
                               strstr(r.sink.error, ec->valuestring) == NULL)) {
        printf("# %s/%s: error '%s' lacks '%s'\n", kind, name,
               r.sink.error ? r.sink.error : "", ec->valuestring);
        bad++;
    }
    const cJSON *ns = cJSON_GetObjectItem(e, "nskipped");
    if (cJSON_IsNumber(ns) && r.sink.nskipped != (size_t)ns->valueint) {
        printf("# %s/%s: %zu skipped, want %d\n", kind, name, r.sink.nskipped,
               ns->valueint);
        bad++;
    }
    const cJSON *items = cJSON_GetObjectItem(e, "items");
    if (cJSON_IsArray(items)) {
        size_t want = (size_t)cJSON_GetArraySize(items);
        if (r.n != want) {
            printf("# %s/%s: %zu items, want %zu\n", kind, name, r.n, want);
            bad++;
        }
        char where[300];
        snprintf(where, sizeof(where), "%.16s/%.255s", kind, name);
        for (size_t i = 0; i < r.n && i < want; i++) {
            bad += check_item(where, i, r.items[i],
                              cJSON_GetArrayItem(items, (int)i), false);
        }
    }
    parse_run_fini(&r);
    ig_free(body);
    ig_free(cfg);
    cJSON_Delete(e);
    ig_free(etext);
    return bad;
}

static void fixture_folders(void **state)
{
    (void)state;
    static const char *const kinds[] = {"rss", "letters", "web"};
    size_t total = 0;
    size_t bad = 0;
    for (size_t k = 0; k < 3; k++) {
        char dir[2048];
        snprintf(dir, sizeof(dir), "%.1900s/tests/fixtures/%s",
                 test_source_dir(), kinds[k]);
        DIR *dh = opendir(dir);
        if (dh == NULL) {
            fail_msg("no fixture folder %s", dir);
        }
        struct dirent *de;
        while ((de = readdir(dh)) != NULL) {
            const char *n = de->d_name;
            if (n[0] == '.' || strstr(n, ".expected.json") != NULL) {
                continue;
            }
            const char *dot = strrchr(n, '.');
            if (dot == NULL) {
                continue;
            }
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(dot - n), n);
            char epath[4096];
            snprintf(epath, sizeof(epath), "%.2048s/%.255s.expected.json", dir,
                     name);
            FILE *f = fopen(epath, "r");
            if (f == NULL) {
                continue; /* a post page used by another fixture */
            }
            fclose(f);
            total++;
            bad += run_fixture(dir, kinds[k], name, n);
        }
        closedir(dh);
    }
    printf("# fixtures: %zu cases, %zu differences\n", total, bad);
    assert_true(total >= 6);
    assert_int_equal(bad, 0);
}

/* Config mistakes are reported at init with the key's position. */
static void config_errors(void **state)
{
    (void)state;
    struct parse_run r;
    assert_int_not_equal(parse_run_init(&r, "letters", "http://x.example/",
                                        "item = //record[\n"),
                         IG_OK);
    assert_true(r.diags.nerrors > 0);
    parse_run_fini(&r);
    assert_int_not_equal(
        parse_run_init(&r, "web", "http://x.example/", "title = a\n"), IG_OK);
    parse_run_fini(&r);
    assert_int_not_equal(parse_run_init(&r, "web", "http://x.example/",
                                        "item = //li\nfollow = true\n"),
                         IG_OK);
    parse_run_fini(&r);
    assert_int_not_equal(parse_run_init(&r, "rss", "http://x.example/",
                                        "timezone = Mars/Olympus\n"),
                         IG_OK);
    parse_run_fini(&r);
    /* Unknown keys are reported by gateway/sources.c against the common
     * and the kind's schema together; the kind checks only its values. */
    assert_int_not_equal(parse_run_init(&r, "web", "http://x.example/",
                                        "item = //li\nfollow = true\n"
                                        "detail.content = //p\n"
                                        "detail_max = 80\n"),
                         IG_OK);
    parse_run_fini(&r);
    assert_int_not_equal(parse_run_init(&r, "web", "http://x.example/",
                                        "item = //li\nnext_page = //a[\n"),
                         IG_OK);
    parse_run_fini(&r);
}

static int collect_item(void *ud, struct ig_item *it)
{
    size_t *n = ud;
    (*n)++;
    ig_item_free(it);
    return IG_OK;
}

/* The example sources (examples/sources.d) are valid and, served from
 * tests/fixtures as their comments say, produce items. */
static void example_sources(void **state)
{
    (void)state;
    static const char *const files[] = {"media-rss.conf", "letters.conf",
                                        "web-board.conf"};
    static const char prefix[] = "http://127.0.0.1:8080/";
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        struct ig_cfg_doc doc;
        struct ig_diags d;
        snprintf(path, sizeof(path), "%.2000s/examples/sources.d/%s",
                 test_source_dir(), files[i]);
        ig_cfg_doc_init(&doc);
        ig_diags_init(&d);
        assert_int_equal(ig_cfg_parse_file(&doc, path, &d), IG_OK);
        assert_int_equal(doc.n, 1);
        const struct ig_cfg_section *s = &doc.s[0];
        const struct connector_ops *ops = connector_kind(ig_cfg_get(s, "kind"));
        assert_non_null(ops);
        for (size_t k = 0; k < s->n; k++) {
            if (!ig_cfg_known(connector_common_schema, s->e[k].key) &&
                !ig_cfg_known(ops->schema, s->e[k].key)) {
                fail_msg("%s: unknown key %s", files[i], s->e[k].key);
            }
        }
        struct connector c = {0};
        ig_cfg_defaults(connector_common_schema, &c.conf);
        ig_free(c.conf.url);
        c.conf.url = ig_strdup(ig_cfg_get(s, "url"));
        if (connector_setup(&c, ops, s->name, s, &d) != IG_OK) {
            ig_diags_print(&d, stdout);
            fail_msg("%s: rejected", files[i]);
        }
        const char *url = c.conf.url;
        assert_memory_equal(url, prefix, sizeof(prefix) - 1);
        snprintf(path, sizeof(path), "%.2000s/tests/fixtures/%.200s",
                 test_source_dir(), url + sizeof(prefix) - 1);
        size_t blen;
        char *body = parse_read_file(path, &blen);
        assert_non_null(body);
        size_t n = 0;
        struct connector_sink sink = {.emit = collect_item, .ud = &n};
        struct connector_resp resp = {
            .status = 200, .body = body, .len = blen, .url = url};
        connector_begin(&c);
        int rc = connector_parse(&c, &resp, &sink);
        connector_end(&c, rc);
        printf("# %s: rc %d, %zu items\n", files[i], rc, n);
        assert_int_equal(rc, IG_OK);
        assert_true(n > 0);
        ig_free(sink.error);
        ig_free(body);
        connector_teardown(&c);
        ig_cfg_free(connector_common_schema, &c.conf);
        ig_diags_fini(&d);
        ig_cfg_doc_fini(&doc);
    }
}

/* A post page whose fetch fails (a deleted post) fails that poll once;
 * the next poll takes the post from the list alone. */
static void web_failed_post_page(void **state)
{
    (void)state;
    char dir[2048];
    char path[4096];
    size_t len;
    snprintf(dir, sizeof(dir), "%.1900s/tests/fixtures/web",
             test_source_dir());
    snprintf(path, sizeof(path), "%s/list_follow.html", dir);
    char *list = parse_read_file(path, &len);
    assert_non_null(list);
    snprintf(path, sizeof(path), "%s/post_101.html", dir);
    size_t plen;
    char *post = parse_read_file(path, &plen);
    assert_non_null(post);
    const char *url = "https://bbs.example/bbs/list.html";
    struct parse_run r;
    assert_int_equal(parse_run_init(&r, "web", url,
                                    "item = //div[@class='post']\n"
                                    "title = h3/a\nlink = h3/a/@href\n"
                                    "follow = true\n"
                                    "detail.content = //div[@class='body']\n"),
                     IG_OK);
    /* Poll 1: list, post 101 fine, post 102 fine, post 104 fails. */
    connector_begin(&r.c);
    assert_int_equal(parse_run_body(&r, list, len, "text/html", url), IG_OK);
    for (int i = 0; i < 2; i++) {
        struct connector_req req;
        assert_true(r.c.more);
        assert_int_equal(connector_request(&r.c, &req), IG_OK);
        assert_int_equal(parse_run_body(&r, post, plen, "text/html", req.url),
                         IG_OK);
        connector_req_fini(&req);
    }
    struct connector_req req;
    assert_true(r.c.more);
    assert_int_equal(connector_request(&r.c, &req), IG_OK);
    assert_string_equal(req.url, "https://bbs.example/bbs/thread-104.html");
    connector_req_fini(&req);
    connector_end(&r.c, IG_EIO);
    size_t first = r.n;
    assert_int_equal(first, 3); /* other host + 101 + 102 */
    /* Poll 2: post 104 comes from the list, the others are followed. */
    connector_begin(&r.c);
    assert_int_equal(parse_run_body(&r, list, len, "text/html", url), IG_OK);
    bool found = false;
    for (size_t i = first; i < r.n; i++) {
        const char *d = ig_item_field(r.items[i], "detail");
        if (r.items[i]->url != NULL &&
            strstr(r.items[i]->url, "thread-104") != NULL) {
            found = d != NULL && strstr(d, "earlier poll") != NULL;
        }
    }
    assert_true(found);
    connector_end(&r.c, IG_OK);
    parse_run_fini(&r);
    ig_free(list);
    ig_free(post);
}

/* A post page that answers with an error status (a deleted post's 404,
 * a 500) is not the post: even when the site's error page shares the
 * template that detail.content and detail.time match, the post keeps its
 * list data and says why in its raw field "detail". */
static void web_post_page_error_status(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%.1900s/tests/fixtures/web/list_follow.html",
             test_source_dir());
    char *list = parse_read_file(path, &len);
    assert_non_null(list);
    static const char err_page[] =
        "<html><head><meta charset=\"utf-8\"><title>404</title></head>"
        "<body><div class=\"thread\"><span class=\"when\">2030-01-01 "
        "00:00:00</span><div class=\"body\">页面不存在或已被删除</div>"
        "</div></body></html>";
    const char *url = "https://bbs.example/bbs/list.html";
    struct parse_run r;
    assert_int_equal(parse_run_init(&r, "web", url,
                                    "item = //div[@class='post']\n"
                                    "title = h3/a\nlink = h3/a/@href\n"
                                    "time = em\nfollow = true\n"
                                    "detail.content = //div[@class='body']\n"
                                    "detail.time = //span[@class='when']\n"),
                     IG_OK);
    connector_begin(&r.c);
    assert_int_equal(parse_run_body(&r, list, len, "text/html", url), IG_OK);
    size_t before = r.n;
    while (r.c.more) {
        struct connector_req req;
        assert_int_equal(connector_request(&r.c, &req), IG_OK);
        struct connector_resp resp = {
            .status = 404,
            .body = err_page,
            .len = sizeof(err_page) - 1,
            .content_type = "text/html; charset=utf-8",
            .url = req.url,
            .fetched_ts = 1664090000,
        };
        assert_int_equal(connector_parse(&r.c, &resp, &r.sink), IG_OK);
        connector_req_fini(&req);
    }
    connector_end(&r.c, IG_OK);
    assert_int_equal(r.n, 4);
    assert_true(r.n > before);
    for (size_t i = 0; i < r.n; i++) {
        const struct ig_item *it = r.items[i];
        assert_true(it->text == NULL || strstr(it->text, "页面不存在") == NULL);
        assert_true(it->published == NULL ||
                    strncmp(it->published, "2030", 4) != 0);
        if (strstr(it->url, "bbs.example") != NULL) {
            const char *d = ig_item_field(it, "detail");
            assert_non_null(d);
            assert_non_null(strstr(d, "404"));
            assert_non_null(it->published);
            assert_true(strncmp(it->published, "2023-05-0", 9) == 0);
        }
    }
    parse_run_fini(&r);
    ig_free(list);
}

/* letters and web finish a record the same way (feed_emit_record): the
 * link stands in for a missing id, and a missing time is flagged after the
 * document's own flags, so the item's warning names the document's
 * problem (here: damaged XML) before the missing time. */
static void letters_record_finish(void **state)
{
    (void)state;
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<records><record><bt>a</bt><lj>https://x.example/r?xfbh=7</lj>"
        "</record><record><bt>b</bt>";
    struct parse_run r;
    assert_int_equal(parse_run_init(&r, "letters", "https://x.example/feed",
                                    "item = //record\ntitle = bt\n"
                                    "link = lj\ntime = sj\n"),
                     IG_OK);
    assert_int_equal(parse_run_body(&r, body, strlen(body), "text/xml", NULL),
                     IG_OK);
    assert_true(r.n >= 1);
    const struct ig_item *it = r.items[0];
    assert_string_equal(it->ext_id, "https://x.example/r?xfbh=7");
    assert_string_equal(ig_item_field(it, "id_from"), "link");
    assert_true(it->flags & IG_ITEM_F_NO_DATE);
    assert_true(it->flags & IG_ITEM_F_PARTIAL);
    assert_string_equal(it->warning, "recovered from a damaged document");
    parse_run_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zh_web_letters),
        cmocka_unit_test(example_sources),
        cmocka_unit_test(fixture_folders),
        cmocka_unit_test(web_failed_post_page),
        cmocka_unit_test(web_post_page_error_status),
        cmocka_unit_test(letters_record_finish),
        cmocka_unit_test(config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
