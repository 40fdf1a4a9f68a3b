/* test_hostile_parsers.c — every xml_* and html_* input of the shared
 * hostile/ folder (plus the generated 50 MiB and 200k-item feeds and the
 * two HTTP bodies that concern parsing) gets its documented outcome.
 *
 * Each input goes to the real kind (rss for XML, web for HTML) through
 * parse(). Besides the per-file outcome from hostile/expected.jsonl, every
 * run must: never call the external entity loader (a tripwire hook fails
 * the test), never put /etc/passwd content into an item, and only store
 * valid UTF-8. The big files are made once by hostile/gen.sh into the
 * build directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "connectors/xml_safe.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"
#include "tests/lib/parse_run.h"
#include "tests/lib/test_dirs.h"

static int g_loader_calls;
static char g_loader_url[256];

static void tripwire(const char *url)
{
    g_loader_calls++;
    snprintf(g_loader_url, sizeof(g_loader_url), "%s", url);
}

static const char *const web_config = "item = //ul[@class='lyb-list']/li\n"
                                      "title = a\n"
                                      "link = a/@href\n"
                                      "time = span[@class='lyb-time']\n"
                                      "id_param = id\n";

/* Splits a raw HTTP response into Content-Type and body. */
static const char *http_split(const char *raw, size_t len, char *ct,
                              size_t ctsz, size_t *blen)
{
    const char *sep = strstr(raw, "\r\n\r\n");
    ct[0] = '\0';
    if (sep == NULL) {
        *blen = len;
        return raw;
    }
    const char *h = strstr(raw, "Content-Type:");
    if (h != NULL && h < sep) {
        h += 13;
        while (*h == ' ') {
            h++;
        }
        size_t n = strcspn(h, "\r\n");
        snprintf(ct, ctsz, "%.*s", (int)n, h);
    }
    *blen = len - (size_t)(sep + 4 - raw);
    return sep + 4;
}

static bool item_clean(const struct ig_item *it)
{
    const char *f[] = {it->title,  it->text,   it->url,
                       it->ext_id, it->author, it->place};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i] == NULL) {
            continue;
        }
        if (!ig_utf8_valid(f[i], strlen(f[i])) ||
            strstr(f[i], "root:x:0:0") != NULL) {
            return false;
        }
    }
    for (size_t i = 0; i < it->nfields; i++) {
        const char *v = it->fields[i].value;
        if (!ig_utf8_valid(v, strlen(v)) || strstr(v, "root:x:0:0") != NULL) {
            return false;
        }
    }
    return true;
}

/* Text past a NUL byte must survive (dropped NUL, flagged), never be cut
 * off as a C string would ("青浦" instead of "青浦区…"). */
static bool nul_text_kept(const struct parse_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct ig_item *it = r->items[i];
        if (it->ext_id == NULL || strcmp(it->ext_id, "n1") != 0) {
            continue;
        }
        return it->title != NULL &&
               strstr(it->title, "NUL inside title") != NULL &&
               it->text != NULL && strstr(it->text, "after") != NULL;
    }
    return false;
}

/* Generated inputs: made once per build tree. */
static const char *gen_dir(void)
{
    static char dir[2048];
    snprintf(dir, sizeof(dir), "%s/hostile-generated", test_build_dir());
    char probe[2200];
    snprintf(probe, sizeof(probe), "%s/xml_200k_items.xml", dir);
    struct stat st;
    if (stat(probe, &st) != 0 || st.st_size < 30000000) {
        char cmd[4608];
        snprintf(cmd, sizeof(cmd), "bash '%s/hostile/gen.sh' '%s' >/dev/null",
                 test_shared_dir(), dir);
        if (system(cmd) != 0) {
            return NULL;
        }
    }
    return dir;
}

static void hostile_files(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/hostile/expected.jsonl",
             test_shared_dir());
    char *text = parse_read_file(path, &len);
    if (text == NULL) {
        fail_msg("cannot read %s", path);
    }
    xml_safe_set_loader_hook(tripwire);
    const char *gdir = gen_dir();
    size_t ran = 0;
    size_t bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        const char *file = cJSON_GetObjectItem(j, "file")->valuestring;
        const char *outcome = cJSON_GetObjectItem(j, "outcome")->valuestring;
        const cJSON *ingested = cJSON_GetObjectItem(j, "items_ingested");
        bool is_http = strncmp(file, "http_200_html", 13) == 0 ||
                       strncmp(file, "http_charset_bogus", 18) == 0;
        bool is_gen = strncmp(file, "generated/xml_", 14) == 0;
        if (!is_http && !is_gen && strncmp(file, "xml_", 4) != 0 &&
            strncmp(file, "html_", 5) != 0) {
            cJSON_Delete(j);
            continue;
        }
        if (is_gen) {
            if (gdir == NULL) {
                fail_msg("hostile/gen.sh failed");
            }
            snprintf(path, sizeof(path), "%s/%s", gdir, file + 10);
        } else {
            snprintf(path, sizeof(path), "%s/hostile/%s", test_shared_dir(),
                     file);
        }
        size_t blen;
        char *raw = parse_read_file(path, &blen);
        if (raw == NULL) {
            fail_msg("cannot read %s", path);
        }
        char ct[128] = "";
        const char *body = raw;
        if (is_http) {
            body = http_split(raw, blen, ct, sizeof(ct), &blen);
        }
        bool html = strncmp(file, "html_", 5) == 0;
        const char *url = "https://news.qingpu.example/rss/hostile.xml";
        struct parse_run r;
        assert_int_equal(parse_run_init(&r, html ? "web" : "rss", url,
                                        html ? web_config : NULL),
                         IG_OK);
        int rc = parse_run_body(&r, body, blen, ct[0] ? ct : NULL, url);
        ran++;

        bool ok = rc == IG_OK;
        bool all_flagged = r.n > 0;
        for (size_t i = 0; i < r.n; i++) {
            const struct ig_item *it = r.items[i];
            if (!item_clean(it)) {
                printf("# %s: item %zu has invalid UTF-8 or file content\n",
                       file, i);
                bad++;
            }
            /* "Flagged" means damage was recorded: a missing date alone
             * does not count. */
            uint32_t damage =
                IG_ITEM_F_REPAIRED | IG_ITEM_F_TRUNCATED | IG_ITEM_F_PARTIAL;
            if ((it->flags & damage) == 0 &&
                ig_item_field(it, "charset_mismatch") == NULL) {
                all_flagged = false;
            }
        }
        bool pass;
        if (strcmp(outcome, "error") == 0) {
            pass = !ok && r.n == 0;
        } else if (strcmp(outcome, "error_or_unexpanded") == 0) {
            /* Entities are never expanded: an error, or items whose text
             * holds no expansion (checked by item_clean for XXE). */
            pass = !ok || r.n > 0;
            for (size_t i = 0; i < r.n; i++) {
                const char *t = r.items[i]->title;
                if (t != NULL && strstr(t, "lollol") != NULL) {
                    pass = false;
                }
            }
        } else if (strcmp(outcome, "ok") == 0) {
            pass = ok && (!cJSON_IsNumber(ingested) ||
                          r.n == (size_t)ingested->valueint);
        } else if (strcmp(outcome, "ok_or_error") == 0) {
            pass = !ok || !cJSON_IsNumber(ingested) ||
                   r.n == (size_t)ingested->valueint;
        } else if (strcmp(outcome, "error_or_partial_flagged") == 0) {
            pass = !ok || all_flagged;
        } else if (strcmp(outcome, "ok_capped_or_error") == 0) {
            pass = !ok || r.n <= r.sink.max_items;
        } else if (strcmp(outcome, "ok_flagged") == 0) {
            pass = ok && all_flagged &&
                   (!cJSON_IsNumber(ingested) ||
                    r.n == (size_t)ingested->valueint);
        } else {
            pass = false;
        }
        if (ok && strcmp(file, "xml_nul_bytes.xml") == 0 &&
            !nul_text_kept(&r)) {
            printf("# %s: text cut at the NUL\n", file);
            pass = false;
        }
        printf("# %-40s %-26s rc=%d items=%zu flags=%#x %s%s%s\n", file,
               outcome, rc, r.n, r.n ? r.items[0]->flags : 0u,
               pass ? "ok" : "WRONG", r.sink.error ? " : " : "",
               r.sink.error ? r.sink.error : "");
        if (!pass) {
            bad++;
        }
        /* A failed document must say why. */
        if (!ok && (r.sink.error == NULL || r.sink.error[0] == '\0')) {
            printf("# %s: error without a reason\n", file);
            bad++;
        }
        parse_run_fini(&r);
        ig_free(raw);
        cJSON_Delete(j);
    }
    ig_free(text);
    xml_safe_set_loader_hook(NULL);
    if (g_loader_calls > 0) {
        printf("# external entity loader called %d times (last: %s)\n",
               g_loader_calls, g_loader_url);
    }
    printf("# hostile: %zu inputs, %zu wrong\n", ran, bad);
    assert_int_equal(g_loader_calls, 0);
    assert_int_equal(ran, 21);
    assert_int_equal(bad, 0);
}

/* The per-poll item cap stops a flood and says so. */
static void item_cap(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, "<rss version=\"2.0\"><channel><title>t</title>");
    for (int i = 0; i < 120; i++) {
        ig_buf_addf(&b, "<item><title>n%d</title><guid>g%d</guid></item>", i,
                    i);
    }
    ig_buf_adds(&b, "</channel></rss>");
    struct parse_run r;
    assert_int_equal(parse_run_init(&r, "rss", "https://x.example/f.xml", NULL),
                     IG_OK);
    r.sink.max_items = 50;
    assert_int_equal(parse_run_body(&r, b.data, b.len, NULL, NULL), IG_OK);
    assert_int_equal(r.n, 50);
    bool said = false;
    for (size_t i = 0; i < r.diags.n; i++) {
        said = said || strstr(r.diags.v[i].msg, "item cap") != NULL;
    }
    assert_true(said);
    parse_run_fini(&r);
    ig_buf_fini(&b);
}

/* A body over max_bytes is refused before parsing; a field over its cap
 * is cut and flagged. */
static void size_caps(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, "<rss><channel><item><guid>big</guid><description>");
    for (int i = 0; i < 70000; i++) {
        ig_buf_adds(&b, "青浦区隐患排查");
    }
    ig_buf_adds(&b, "</description></item></channel></rss>");
    struct parse_run r;
    assert_int_equal(parse_run_init(&r, "rss", "https://x.example/f.xml", NULL),
                     IG_OK);
    assert_int_equal(parse_run_body(&r, b.data, b.len, NULL, NULL), IG_OK);
    assert_int_equal(r.n, 1);
    assert_true(r.items[0]->flags & IG_ITEM_F_TRUNCATED);
    assert_true(strlen(r.items[0]->text) <= 1024 * 1024);
    assert_true(ig_utf8_valid(r.items[0]->text, strlen(r.items[0]->text)));
    parse_run_fini(&r);

    assert_int_equal(parse_run_init(&r, "rss", "https://x.example/f.xml", NULL),
                     IG_OK);
    r.c.conf.max_bytes = 4096;
    assert_int_equal(parse_run_body(&r, b.data, b.len, NULL, NULL), IG_E2BIG);
    assert_non_null(strstr(r.sink.error, "too large"));
    parse_run_fini(&r);
    ig_buf_fini(&b);
}

/* Damaged copies of the zh feeds and pages (cut at many points, bytes
 * overwritten by a fixed pseudo-random sequence): every parse ends with
 * an error or clean items, never a crash or invalid UTF-8. */
static void mutated_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *kind;
    } in[] = {
        {"rss20_news_utf8.xml", "rss"},
        {"atom10_news_utf8.xml", "rss"},
        {"rss20_news_gbk.xml", "rss"},
        {"rss20_utf16le_bom.xml", "rss"},
        {"rss20_cdata_html.xml", "rss"},
        {"board_list_gbk.html", "web"},
        {"xinfang_records_utf8.xml", "letters"},
    };
    uint32_t seed = 12345;
    size_t runs = 0;
    size_t items = 0;
    for (size_t f = 0; f < sizeof(in) / sizeof(in[0]); f++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof(path), "%s/feeds/zh/%s", test_shared_dir(),
                 in[f].file);
        char *orig = parse_read_file(path, &len);
        assert_non_null(orig);
        const char *cfg = strcmp(in[f].kind, "web") == 0
                              ? "item = //table/tr[td/a]\ntitle = td[1]/a\n"
                                "link = td[1]/a/@href\ntime = td[2]\n"
                          : strcmp(in[f].kind, "letters") == 0
                              ? "item = //record\nid = xfbh\ntitle = bt\n"
                                "time = djsj\ncontent = xfnr\n"
                              : NULL;
        char *buf = ig_malloc(len + 1);
        for (size_t round = 0; round < 60; round++) {
            size_t n = len;
            memcpy(buf, orig, len);
            if (round < 30) {
                n = len * round / 30; /* cut */
            } else {
                for (int k = 0; k < 8; k++) {
                    seed = seed * 1103515245u + 12345u;
                    buf[(seed >> 8) % len] = (char)(seed >> 16);
                }
            }
            struct parse_run r;
            assert_int_equal(parse_run_init(&r, in[f].kind,
                                            "https://x.example/a/b.xml", cfg),
                             IG_OK);
            parse_run_body(&r, buf, n, NULL, "https://x.example/a/b.xml");
            for (size_t i = 0; i < r.n; i++) {
                assert_true(item_clean(r.items[i]));
            }
            items += r.n;
            runs++;
            parse_run_fini(&r);
        }
        ig_free(buf);
        ig_free(orig);
    }
    printf("# mutated inputs: %zu parses, %zu items\n", runs, items);
}

/* A charset declaration whose name holds non-ASCII bytes (a damaged or
 * hostile XML declaration, <meta> or Content-Type) is a lie like any
 * other: the items come through, flagged, and the declared name kept in
 * the raw field charset_mismatch is valid UTF-8 like everything stored
 * (it was copied verbatim: "\xca\xfe-8"). */
static void charset_label_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *kind;
        const char *ctype;
        const char *body;
    } in[] = {
        {"rss", NULL,
         "<?xml version=\"1.0\" encoding=\"\xca\xfe-8\"?>\n<rss "
         "version=\"2.0\"><channel><item><guid>g1</guid><title>"
         "\xe9\x9d\x92\xe6\xb5\xa6</title></item></channel></rss>"},
        {"rss", "text/xml; charset=\xff\xfegb\x80",
         "<rss version=\"2.0\"><channel><item><guid>g1</guid><title>"
         "\xe9\x9d\x92\xe6\xb5\xa6</title></item></channel></rss>"},
        {"web", NULL,
         "<html><head><meta charset=\"gb\xe9\x9d\"></head><body><ul "
         "class=\"lyb-list\"><li><a href=\"/d?id=1\">\xe9\x9d\x92"
         "\xe6\xb5\xa6</a><span class=\"lyb-time\">2022-09-25 14:30"
         "</span></li></ul></body></html>"},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        const char *url = "https://news.qingpu.example/f";
        struct parse_run r;
        assert_int_equal(
            parse_run_init(&r, in[i].kind, url,
                           strcmp(in[i].kind, "web") == 0 ? web_config : NULL),
            IG_OK);
        assert_int_equal(parse_run_body(&r, in[i].body, strlen(in[i].body),
                                        in[i].ctype, url),
                         IG_OK);
        assert_int_equal(r.n, 1);
        assert_true(item_clean(r.items[0]));
        /* Bytes that are not UTF-8 inside the document's own
         * declaration make the document not UTF-8 either: GB18030 may
         * then win. Only the HTTP header's lie leaves the body clean. */
        if (in[i].ctype != NULL) {
            assert_string_equal(r.items[0]->title, "青浦");
        }
        assert_non_null(ig_item_field(r.items[0], "charset_mismatch"));
        for (size_t k = 0; k < r.diags.n; k++) {
            const char *m = r.diags.v[k].msg;
            assert_true(ig_utf8_valid(m, strlen(m)));
        }
        parse_run_fini(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_files),       cmocka_unit_test(item_cap),
        cmocka_unit_test(charset_label_bytes), cmocka_unit_test(mutated_inputs),
        cmocka_unit_test(size_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
