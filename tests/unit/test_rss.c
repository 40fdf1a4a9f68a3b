/* test_rss.c — the rss kind, charset layer and date parser on real feeds.
 *
 * Reads the shared corpora directly (IG_SHARED_DIR): the Chinese feeds of
 * feeds/zh/ must pass completely; feedparser's test feeds must pass for at
 * least 95 % of the applicable expectations (title, link, id, dates,
 * content; the figure is printed). No HTTP: each file is handed to parse()
 * as a struct connector_resp with the URL and Content-Type its manifest
 * gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "connectors/charset.h"
#include "connectors/date.h"
#include "connectors/feed_int.h"
#include "connectors/html_text.h"
#include "connectors/xml_safe.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"
#include "tests/lib/parse_run.h"
#include "tests/lib/test_dirs.h"

/* --- charset ----------------------------------------------------------- */

static void decode(const char *in, size_t n, const char *ct,
                   enum charset_doc doc, struct ig_buf *out,
                   struct charset_result *res)
{
    ig_buf_init(out, 0);
    assert_int_equal(charset_to_utf8(in, n, ct, doc, out, res), IG_OK);
}

static void charset_cases(void **state)
{
    (void)state;
    struct ig_buf out;
    struct charset_result res;

    /* GBK declared gb2312 with GBK-only 镕 (E9 46) and A1AA -> U+2014. */
    const char gbk[] = "<?xml version=\"1.0\" encoding=\"gb2312\"?><a>"
                       "\xE9\x46\xA1\xAA\xA1\xA4\x80</a>";
    decode(gbk, sizeof(gbk) - 1, NULL, CHARSET_DOC_XML, &out, &res);
    assert_string_equal(res.used, "GB18030");
    assert_true(res.recoded);
    assert_false(res.mismatch);
    assert_non_null(strstr(out.data, "镕—·€"));
    ig_buf_fini(&out);

    /* Declared gb2312, bytes UTF-8: the template lie. */
    const char lie[] = "<?xml version=\"1.0\" encoding=\"gb2312\"?><a>"
                       "朱家角</a>";
    decode(lie, sizeof(lie) - 1, "text/xml", CHARSET_DOC_XML, &out, &res);
    assert_string_equal(res.used, "UTF-8");
    assert_true(res.mismatch);
    assert_non_null(strstr(out.data, "朱家角"));
    ig_buf_fini(&out);

    /* Declared UTF-8, bytes GBK (青浦 = C7 E0 C6 D6). */
    const char lie2[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><a>"
                        "\xC7\xE0\xC6\xD6</a>";
    decode(lie2, sizeof(lie2) - 1, NULL, CHARSET_DOC_XML, &out, &res);
    assert_string_equal(res.used, "GB18030");
    assert_true(res.mismatch);
    assert_non_null(strstr(out.data, "青浦"));
    ig_buf_fini(&out);

    /* HTTP charset beats the declaration; a bogus HTTP charset is
     * flagged and the bytes decide. */
    decode(lie2, sizeof(lie2) - 1, "text/xml; charset=x-no-such-charset",
           CHARSET_DOC_XML, &out, &res);
    assert_true(res.mismatch);
    assert_non_null(strstr(out.data, "青浦"));
    ig_buf_fini(&out);

    /* UTF-16LE with BOM, and without (sniffed). */
    const char u16[] = "\xFF\xFE<\0a\0>\0\x52\x97<\0/\0a\0>\0";
    decode(u16, sizeof(u16) - 1, NULL, CHARSET_DOC_XML, &out, &res);
    assert_true(res.bom);
    assert_string_equal(out.data, "<a>青</a>");
    ig_buf_fini(&out);
    decode(u16 + 2, sizeof(u16) - 3, NULL, CHARSET_DOC_XML, &out, &res);
    assert_string_equal(res.used, "UTF-16LE");
    assert_string_equal(out.data, "<a>青</a>");
    ig_buf_fini(&out);

    /* UTF-8 BOM removed. */
    decode("\xEF\xBB\xBF<a/>", 7, NULL, CHARSET_DOC_XML, &out, &res);
    assert_string_equal(out.data, "<a/>");
    ig_buf_fini(&out);

    /* HTML <meta> declaration; Big5. */
    const char big5[] = "<html><head><meta charset=\"big5\"></head>"
                        "<body>\xA4\xA4</body></html>";
    decode(big5, sizeof(big5) - 1, NULL, CHARSET_DOC_HTML, &out, &res);
    assert_string_equal(res.used, "BIG5-HKSCS");
    assert_non_null(strstr(out.data, "中"));
    ig_buf_fini(&out);

    /* Garbage that is neither UTF-8 nor GB18030: repaired, valid. */
    const char bad[] = "<a>\xFF\xFE\xC0\xBC</a>";
    decode(bad, sizeof(bad) - 1, NULL, CHARSET_DOC_XML, &out, &res);
    assert_true(res.repaired);
    assert_true(ig_utf8_valid(out.data, out.len));
    assert_null(strchr(out.data, '\xC0'));
    ig_buf_fini(&out);

    /* A server-wide Latin-1 default loses to the page's own GBK <meta>. */
    const char meta_gbk[] = "<html><head><meta http-equiv=\"Content-Type\" "
                            "content=\"text/html; charset=gbk\"></head>"
                            "<body>\xC7\xE0\xC6\xD6</body></html>";
    decode(meta_gbk, sizeof(meta_gbk) - 1, "text/html; charset=ISO-8859-1",
           CHARSET_DOC_HTML, &out, &res);
    assert_string_equal(res.used, "GB18030");
    assert_true(res.mismatch);
    assert_non_null(strstr(out.data, "青浦"));
    ig_buf_fini(&out);

    /* Declared Latin-1, bytes UTF-8 (a moved site): read as UTF-8. */
    const char latin_lie[] = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>"
                             "<a>青浦 café</a>";
    decode(latin_lie, sizeof(latin_lie) - 1, NULL, CHARSET_DOC_XML, &out, &res);
    assert_string_equal(res.used, "UTF-8");
    assert_true(res.mismatch);
    assert_non_null(strstr(out.data, "青浦 café"));
    ig_buf_fini(&out);

    assert_string_equal(charset_canonical("GBK", 3), "GB18030");
    assert_string_equal(charset_canonical("utf8", 4), "UTF-8");
    assert_null(charset_canonical("x-no-such-charset", 17));
}

/* --- dates ------------------------------------------------------------- */

static int64_t parse_iso_utc(const char *s)
{
    struct date_opts o = {.local_offset_min = 0};
    int64_t ts;
    int off;
    if (date_parse(s, strlen(s), &o, &ts, &off) < 0) {
        return INT64_MIN;
    }
    return ts;
}

static void date_cases(void **state)
{
    (void)state;
    struct date_opts o;
    int64_t ts;
    int off;
    const int64_t want = 1664087400; /* 2022-09-25T14:30:00+08:00 */
    static const char *const same[] = {
        "2022年9月25日 14:30",
        "2022-09-25 14:30:00",
        "2022/09/25 14:30",
        "2022-09-25T14:30:00",
        "Sun, 25 Sep 2022 14:30:00 CST",
        "Sun, 25 Sep 2022 06:30:00 GMT",
        "2022-09-25 14:30:00 +0800",
        "25 Sep 2022 14:30:00 +0800",
        "Sun, 25 Sep 2022 14:30:00 +08:00",
        "Mon, 25 Sep 2022 14:30:00 +0800",
        "2022年9月25日 下午2:30",
        "1664087400",
        "2022-9-25 14:30",
        "Sun, 25 Sep 2022 14:30:00 +0800 (CST)",
        "2022-09-25T14:30:00.000+0800",
        "2022-09-25T06:30:00Z",
        "2022年09月25日 14时30分",
        "2022年9月25日 14点30分",
        "Sun, 25 Sep 2022 14:30:00 +0800 CST",
        "25-Sep-2022 14:30",
        "20220925143000",
        "202209251430",
        "2022年9月25日 14:30 星期日",
        "发布时间：2022-09-25 14:30",
    };
    date_opts_default(&o);
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        int rc = date_parse(same[i], strlen(same[i]), &o, &ts, &off);
        if (rc != IG_OK || ts != want) {
            fail_msg("date '%s': rc %d ts %lld", same[i], rc, (long long)ts);
        }
    }
    assert_int_equal(
        date_parse("2022年09月25日", strlen("2022年09月25日"), &o, &ts, &off),
        IG_OK);
    assert_int_equal(ts, want - 14 * 3600 - 30 * 60);
    assert_int_equal(off, 480);
    assert_int_not_equal(
        date_parse("2022年13月45日", strlen("2022年13月45日"), &o, &ts, &off),
        IG_OK);
    assert_int_not_equal(date_parse("", 0, &o, &ts, &off), IG_OK);
    assert_int_not_equal(date_parse("31 Jun 2022", 11, &o, &ts, &off), IG_OK);
    /* Year-less: the most recent such day before "now". */
    o.now = 1672531200 + 3600; /* 2023-01-01T01:00Z */
    assert_int_equal(
        date_parse("12月31日 23:58", strlen("12月31日 23:58"), &o, &ts, &off),
        IG_OK);
    assert_int_equal(ts, 1672502280); /* 2022-12-31T23:58+08:00 */
    /* Relative dates against "now" = 2023-01-01T09:00+08:00. */
    struct {
        const char *s;
        int64_t want;
    } rel[] = {
        {"刚刚", 1672531200 + 3600},
        {"5分钟前", 1672531200 + 3600 - 300},
        {"3 hours ago", 1672531200 + 3600 - 3 * 3600},
        {"昨天 14:30", 1672468200}, /* 2022-12-31T14:30+08:00 */
        {"今天 08:05", 1672531500}, /* 2023-01-01T08:05+08:00 */
    };
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        int rc = date_parse(rel[i].s, strlen(rel[i].s), &o, &ts, &off);
        if (rc != IG_OK || ts != rel[i].want) {
            fail_msg("relative '%s': rc %d ts %lld want %lld", rel[i].s, rc,
                     (long long)ts, (long long)rel[i].want);
        }
    }
    assert_int_not_equal(
        date_parse("5年前的事", strlen("5年前的事"), &o, &ts, &off), IG_OK);
}

/* The year bounds of struct date_opts: off (0) by default, and when set
 * they hold for written dates, epochs and relative dates alike, by the
 * year the result reads in its offset. Outputs stay untouched on refusal. */
static void date_year_bounds(void **state)
{
    (void)state;
    struct date_opts o;
    int64_t ts = 7;
    int off = 7;
    date_opts_default(&o);
    assert_int_equal(o.min_year, 0);
    assert_int_equal(o.max_year, 0);
    assert_int_equal(date_parse("1989-12-31", 10, &o, &ts, &off), IG_OK);
    assert_int_equal(date_parse("0000000001", 10, &o, &ts, &off), IG_OK);
    assert_int_equal(ts, 1);

    o.min_year = 1990;
    o.max_year = 2100;
    ts = 7;
    off = 7;
    static const char *const refused[] = {
        "1989-12-31 23:59:59",
        "2101-01-01",
        "0000000001",
        "9999999999999",
        "631123199", /* 1989-12-31T23:59:59+08:00 */
        "Sat, 31 Dec 1989 23:59:59 +0800",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (date_parse(refused[i], strlen(refused[i]), &o, &ts, &off) !=
            IG_EPARSE) {
            fail_msg("'%s' was accepted", refused[i]);
        }
    }
    assert_int_equal(ts, 7);
    assert_int_equal(off, 7);
    assert_int_equal(date_parse("1990-01-01", 10, &o, &ts, &off), IG_OK);
    assert_int_equal(ts, 631152000 - 8 * 3600);
    assert_int_equal(date_parse("2100-12-31T23:59:59Z", 20, &o, &ts, &off),
                     IG_OK);
    assert_int_equal(off, 0);
    /* Relative dates obey the bounds too ("now" = 1990-01-01T08:00+08:00). */
    o.now = 631152000;
    assert_int_equal(date_parse("5 minutes ago", 13, &o, &ts, &off), IG_OK);
    assert_int_equal(date_parse("10 hours ago", 12, &o, &ts, &off), IG_EPARSE);
}

/* feedparser's date vectors: reported, 90 % required (Greek, Hungarian
 * month names and ISO ordinal dates are not supported). */
static void feedparser_dates(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/feeds/feedparser/dates.jsonl",
             test_shared_dir());
    char *text = parse_read_file(path, &len);
    if (text == NULL) {
        fail_msg("cannot read %s", path);
    }
    struct date_opts o = {.local_offset_min = 0, .cst_is_china = false};
    size_t total = 0;
    size_t ok = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        if (j == NULL) {
            continue;
        }
        const cJSON *in = cJSON_GetObjectItem(j, "input");
        const cJSON *exp = cJSON_GetObjectItem(j, "expected_utc");
        int64_t ts;
        int off;
        int rc =
            date_parse(in->valuestring, strlen(in->valuestring), &o, &ts, &off);
        total++;
        if (cJSON_IsNull(exp)) {
            ok += rc != IG_OK;
        } else if (rc == IG_OK && ts == parse_iso_utc(exp->valuestring)) {
            ok++;
        } else {
            printf("#   date miss: '%s' (want %s)\n", in->valuestring,
                   exp->valuestring);
        }
        cJSON_Delete(j);
    }
    ig_free(text);
    printf("# feedparser dates.jsonl: %zu/%zu = %.3f\n", ok, total,
           total ? (double)ok / (double)total : 0.0);
    assert_true(total > 0);
    assert_true((double)ok / (double)total >= 0.90);
}

/* --- zh corpus --------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static int64_t iso_ts(const char *s)
{
    return parse_iso_utc(s);
}

/* One manifest entry of an RSS, Atom or RDF feed (others: -1). */
static int zh_feed_one(void *ud, const struct zh_entry *e)
{
    size_t bad = 0;

    (void)ud;
    if (!e->format ||
        (strcmp(e->format, "rss20") != 0 && strcmp(e->format, "atom10") != 0 &&
         strcmp(e->format, "rdf") != 0)) {
        return -1;
    }
    struct parse_run r;
    assert_int_equal(parse_run_init(&r, "rss", e->url, NULL), IG_OK);
    int rc = parse_run_body(&r, e->body, e->len, e->content_type, e->url);
    if (rc != IG_OK) {
        printf("# %s: rc %d: %s\n", e->file, rc,
               r.sink.error ? r.sink.error : "");
        bad++;
    }
    size_t want = (size_t)cJSON_GetArraySize(e->items);
    if (r.n != want) {
        printf("# %s: %zu items, want %zu\n", e->file, r.n, want);
        bad++;
    }
    for (size_t i = 0; i < want && i < r.n; i++) {
        const cJSON *x = cJSON_GetArrayItem(e->items, (int)i);
        const struct ig_item *it = r.items[i];
        const cJSON *v;
        v = cJSON_GetObjectItem(x, "title");
        if (!str_eq(it->title, v->valuestring)) {
            printf("# %s[%zu] title '%s' want '%s'\n", e->file, i,
                   it->title ? it->title : "(null)", v->valuestring);
            bad++;
        }
        v = cJSON_GetObjectItem(x, "link");
        if (!str_eq(it->url, cJSON_IsString(v) ? v->valuestring : NULL)) {
            printf("# %s[%zu] link '%s' want '%s'\n", e->file, i,
                   it->url ? it->url : "(null)",
                   cJSON_IsString(v) ? v->valuestring : "(null)");
            bad++;
        }
        v = cJSON_GetObjectItem(x, "id");
        if (cJSON_IsString(v) && !str_eq(it->ext_id, v->valuestring)) {
            printf("# %s[%zu] id '%s' want '%s'\n", e->file, i,
                   it->ext_id ? it->ext_id : "(null)", v->valuestring);
            bad++;
        }
        if (it->ext_id == NULL) {
            printf("# %s[%zu] no id at all\n", e->file, i);
            bad++;
        }
        v = cJSON_GetObjectItem(x, "published");
        if (cJSON_IsString(v)) {
            if (it->published == NULL ||
                it->published_ts != iso_ts(v->valuestring)) {
                printf("# %s[%zu] published '%s' want '%s'\n", e->file, i,
                       it->published ? it->published : "(null)",
                       v->valuestring);
                bad++;
            }
        } else if (it->published != NULL || !(it->flags & IG_ITEM_F_NO_DATE)) {
            printf("# %s[%zu] published '%s' want none, flagged\n", e->file, i,
                   it->published);
            bad++;
        }
        v = cJSON_GetObjectItem(x, "text");
        if (!parse_text_eq_nows(it->text,
                                cJSON_IsString(v) ? v->valuestring : NULL)) {
            printf("# %s[%zu] text '%s'\n#   want '%s'\n", e->file, i,
                   it->text ? it->text : "(null)",
                   cJSON_IsString(v) ? v->valuestring : "(null)");
            bad++;
        }
        if (it->text != NULL && !ig_utf8_valid(it->text, strlen(it->text))) {
            bad++;
        }
        /* The raw fields the manifest states: category, an Atom entry's
         * summary and updated date, the text of an unreadable date (the
         * manifest gives every item's date text; the item keeps it only
         * when it could not be read). */
        static const char *const raw[] = {"category", "summary", "updated",
                                          "raw_date"};
        for (size_t k = 0; k < sizeof(raw) / sizeof(raw[0]); k++) {
            v = cJSON_GetObjectItem(x, raw[k]);
            if (!cJSON_IsString(v) ||
                (strcmp(raw[k], "raw_date") == 0 &&
                 (v->valuestring[0] == '\0' ||
                  cJSON_IsString(cJSON_GetObjectItem(x, "published"))))) {
                continue;
            }
            const char *got = ig_item_field(it, raw[k]);
            bool same = strcmp(raw[k], "summary") == 0
                            ? parse_text_eq_nows(got, v->valuestring)
                            : str_eq(got, v->valuestring);
            if (strcmp(raw[k], "updated") == 0 && got != NULL) {
                same = iso_ts(got) == iso_ts(v->valuestring);
            }
            if (!same) {
                printf("# %s[%zu] %s '%s' want '%s'\n", e->file, i, raw[k],
                       got ? got : "(null)", v->valuestring);
                bad++;
            }
        }
    }
    /* A wrong declaration is flagged. */
    const cJSON *mm = cJSON_GetObjectItem(e->j, "charset_mismatch");
    if (cJSON_IsTrue(mm) && r.n > 0 &&
        ig_item_field(r.items[0], "charset_mismatch") == NULL) {
        printf("# %s: charset mismatch not flagged\n", e->file);
        bad++;
    }
    parse_run_fini(&r);
    return (int)bad;
}

static void zh_feeds(void **state)
{
    size_t failures = 0, files;

    (void)state;
    files = parse_zh_each(zh_feed_one, NULL, &failures);
    printf("# zh feeds: %zu files, %zu failures\n", files, failures);
    assert_int_equal(files, 13);
    assert_int_equal(failures, 0);
}

/* --- feedparser corpus ------------------------------------------------- */

struct fp_result {
    struct parse_run r;
    struct rss_feed_meta meta;
    int rc;
};

static void fp_run(const char *file, const char *url, const char *ct,
                   struct fp_result *out)
{
    char fpath[4096];
    size_t blen;
    snprintf(fpath, sizeof(fpath), "%s/feeds/feedparser/%s", test_shared_dir(),
             file);
    char *body = parse_read_file(fpath, &blen);
    assert_non_null(body);
    /* feedparser reads zone-less dates as UTC and CST as US Central. */
    assert_int_equal(
        parse_run_init(&out->r, "rss", url, "timezone = +00:00\ncst = us\n"),
        IG_OK);
    rss_feed_meta_init(&out->meta);
    struct connector_resp resp = {
        .status = 200,
        .body = body,
        .len = blen,
        .content_type = ct,
        .url = url,
        .fetched_ts = 1664090000,
    };
    out->rc = rss_parse_meta(&out->r.c, &resp, &out->r.sink, &out->meta);
    ig_free(body);
}

static void fp_free(struct fp_result *f)
{
    rss_feed_meta_fini(&f->meta);
    parse_run_fini(&f->r);
}

/* Normalises a text value for comparison: markup reduced to text, then
 * whitespace collapsed (we store plain text, feedparser sanitised HTML). */
static char *norm_text(const char *s)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    if (s != NULL) {
        if (strchr(s, '<') != NULL || strchr(s, '&') != NULL) {
            xmlDoc *d = xml_safe_read_html_fragment(s, strlen(s));
            if (d != NULL) {
                html_node_to_text((const xmlNode *)d, &b);
                xmlFreeDoc(d);
            }
        } else {
            html_text_collapse(s, strlen(s), &b);
        }
    }
    return ig_buf_take(&b);
}

static bool text_match(const char *ours, const char *want)
{
    /* Ours is plain text already: only its whitespace is normalised. */
    struct ig_buf ob;
    ig_buf_init(&ob, 0);
    if (ours != NULL) {
        html_text_collapse(ours, strlen(ours), &ob);
    }
    char *a = ig_buf_take(&ob);
    char *b = norm_text(want);
    bool eq = strcmp(a, b) == 0;
    ig_free(a);
    ig_free(b);
    return eq;
}

/* Checks one expectation; returns 1 pass, 0 fail, -1 not applicable. */
static int fp_check(const struct fp_result *f, const char *field,
                    const cJSON *val, const cJSON *value_iso)
{
    const struct ig_item *it = NULL;
    char rest[128];
    int idx = 0;

    if (strncmp(field, "feed.", 5) == 0) {
        const char *k = field + 5;
        if (strcmp(k, "title") == 0 || strcmp(k, "title_detail.value") == 0) {
            if (!cJSON_IsString(val)) {
                return -1;
            }
            return text_match(f->meta.title.data, val->valuestring);
        }
        if (strcmp(k, "link") == 0) {
            if (!cJSON_IsString(val)) {
                return -1;
            }
            return str_eq(f->meta.link.data ? f->meta.link.data : "",
                          val->valuestring);
        }
        return -1;
    }
    if (sscanf(field, "entries[%d].%127s", &idx, rest) != 2) {
        return -1;
    }
    if (idx < 0 || (size_t)idx >= f->r.n) {
        /* Applicable fields on a missing entry fail. */
        it = NULL;
    } else {
        it = f->r.items[idx];
    }
    if (strcmp(rest, "title") == 0 || strcmp(rest, "title_detail.value") == 0) {
        if (!cJSON_IsString(val)) {
            return -1;
        }
        return it != NULL && text_match(it->title, val->valuestring);
    }
    if (strcmp(rest, "summary") == 0 || strcmp(rest, "description") == 0 ||
        strcmp(rest, "summary_detail.value") == 0 ||
        strcmp(rest, "content[0].value") == 0) {
        if (!cJSON_IsString(val)) {
            return -1;
        }
        if (it == NULL) {
            return 0;
        }
        /* With both, the text is the content, the summary a raw field. */
        const char *sum = ig_item_field(it, "summary");
        if (sum != NULL && rest[0] != 'c' &&
            text_match(sum, val->valuestring)) {
            return 1;
        }
        return text_match(it->text, val->valuestring);
    }
    if (strcmp(rest, "link") == 0) {
        if (!cJSON_IsString(val)) {
            return -1;
        }
        return it != NULL && str_eq(it->url, val->valuestring);
    }
    if (strcmp(rest, "id") == 0 || strcmp(rest, "guid") == 0) {
        if (!cJSON_IsString(val)) {
            return -1;
        }
        return it != NULL && str_eq(it->ext_id, val->valuestring);
    }
    if (strcmp(rest, "published_parsed") == 0 ||
        strcmp(rest, "updated_parsed") == 0 ||
        strcmp(rest, "created_parsed") == 0) {
        if (!cJSON_IsString(value_iso)) {
            return -1;
        }
        if (it == NULL) {
            return 0;
        }
        int64_t want = iso_ts(value_iso->valuestring);
        if (it->published != NULL && it->published_ts == want) {
            return 1;
        }
        const char *upd = ig_item_field(it, "updated");
        if (upd != NULL) {
            struct date_opts o = {.local_offset_min = 0};
            int64_t ts;
            int off;
            if (date_parse(upd, strlen(upd), &o, &ts, &off) == IG_OK &&
                ts == want) {
                return 1;
            }
        }
        return 0;
    }
    return -1;
}

static void feedparser_corpus(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/feeds/feedparser/expectations.jsonl",
             test_shared_dir());
    char *text = parse_read_file(path, &len);
    if (text == NULL) {
        fail_msg("cannot read %s", path);
    }
    size_t applicable = 0;
    size_t passed = 0;
    size_t files = 0;
    bool verbose = getenv("IG_TEST_VERBOSE") != NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        const char *file = cJSON_GetObjectItem(j, "file")->valuestring;
        const cJSON *http = cJSON_GetObjectItem(j, "http");
        const char *url = NULL;
        const char *ct = NULL;
        if (cJSON_IsObject(http)) {
            url = cJSON_GetObjectItem(http, "url")->valuestring;
            const cJSON *c = cJSON_GetObjectItem(http, "content_type");
            ct = cJSON_IsString(c) ? c->valuestring : NULL;
        }
        const cJSON *checks = cJSON_GetObjectItem(j, "checks");
        const cJSON *main_field = cJSON_GetObjectItem(j, "field");
        const cJSON *value_iso = cJSON_GetObjectItem(j, "value_iso");
        struct fp_result f;
        bool ran = false;
        const cJSON *chk;
        cJSON_ArrayForEach(chk, checks)
        {
            const char *op = cJSON_GetObjectItem(chk, "op")->valuestring;
            const char *field = cJSON_GetObjectItem(chk, "field")->valuestring;
            if (strcmp(op, "==") != 0) {
                continue;
            }
            const cJSON *iso = NULL;
            if (cJSON_IsString(main_field) &&
                strcmp(main_field->valuestring, field) == 0) {
                iso = value_iso;
            }
            if (!ran) {
                memset(&f, 0, sizeof(f));
                fp_run(file, url, ct, &f);
                ran = true;
                files++;
            }
            int res =
                fp_check(&f, field, cJSON_GetObjectItem(chk, "value"), iso);
            if (res < 0) {
                continue;
            }
            applicable++;
            passed += (size_t)res;
            if (res == 0 && verbose) {
                char *v =
                    cJSON_PrintUnformatted(cJSON_GetObjectItem(chk, "value"));
                const struct ig_item *i0 = f.r.n ? f.r.items[0] : NULL;
                printf("# FAIL %s %s want %s (rc %d, %zu items) title=[%s] "
                       "text=[%s] link=[%s] feed=[%s] pub=[%s]\n",
                       file, field, v, f.rc, f.r.n,
                       i0 && i0->title ? i0->title : "",
                       i0 && i0->text ? i0->text : "",
                       i0 && i0->url ? i0->url : "",
                       f.meta.title.data ? f.meta.title.data : "",
                       i0 && i0->published ? i0->published : "");
                free(v);
            }
        }
        if (ran) {
            fp_free(&f);
        }
        cJSON_Delete(j);
    }
    ig_free(text);
    double rate = applicable ? (double)passed / (double)applicable : 0.0;
    printf("# feedparser: %zu/%zu applicable expectations pass = %.4f "
           "(%zu files)\n",
           passed, applicable, rate, files);
    assert_true(applicable > 300);
    assert_true(rate >= 0.95);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(charset_cases),    cmocka_unit_test(date_cases),
        cmocka_unit_test(date_year_bounds), cmocka_unit_test(feedparser_dates),
        cmocka_unit_test(zh_feeds),         cmocka_unit_test(feedparser_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
