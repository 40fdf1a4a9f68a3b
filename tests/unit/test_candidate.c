/* test_candidate.c — the candidate record: shape, ids, dedup fields, the
 * cap, and a few records written to candidate-samples.jsonl that
 * tests/check_candidate_schema.py validates against
 * docs/candidate.schema.json (test_candidate_schema runs after this). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifiers/classifier.h"
#include "classifiers/route.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "gateway/candidate.h"
#include "tests/lib/test_dirs.h"

static struct ruleset *g_rs;
static FILE *g_samples;

static struct ig_item *item(const char *src, const char *chan, const char *ext,
                            const char *title, const char *text)
{
    struct ig_item *it = ig_item_new();

    it->source_id = ig_item_strdup(it, src);
    it->channel = ig_item_strdup(it, chan);
    it->ext_id = ig_item_strdup(it, ext);
    it->title = ig_item_strdup(it, title);
    it->text = ig_item_strdup(it, text);
    it->fetched = ig_item_strdup(it, "2026-11-28T09:30:00Z");
    return it;
}

static char *record(const struct candidate *c)
{
    struct ig_buf b;

    ig_buf_init(&b, 0);
    assert_int_equal(candidate_json(c, &b), IG_OK);
    fprintf(g_samples, "%s\n", b.data);
    return ig_buf_take(&b);
}

/* Classifies it's text (no title) with the shipped rules into *r. */
static void classify(struct ig_item *it, struct cls_scratch *s,
                     struct cls_result *r)
{
    assert_int_equal(ruleset_classify(g_rs, s, NULL, 0, it->text,
                                      strlen(it->text), false, it->arena, r),
                     IG_OK);
}

/* *c for item it with id and classification r (NULL: none); the rest
 * zero. */
static void candidate_init(struct candidate *c, const char *id,
                           struct ig_item *it, struct cls_result *r)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->item = it;
    c->rs = r ? g_rs : NULL;
    c->cls = r;
}

static void classified_record(void **state)
{
    struct ig_item *it = item("hotline-main", "hotline", "WO-9", NULL,
                              "盈港路人行道上的雨水井盖破损，有个大洞");
    struct cls_scratch *s = cls_scratch_new();
    struct cls_result r;
    char id[CANDIDATE_ID_LEN + 1];
    const char *chans[] = {"hotline", "letters"};
    struct candidate c;
    char *json;

    (void)state;
    classify(it, s, &r);
    candidate_id(it->source_id, it->ext_id, NULL, id);
    candidate_init(&c, id, it, &r);
    c.reports = 2;
    c.channels = chans;
    c.nchannels = 2;
    c.dedup = "new";
    json = record(&c);
    assert_true(strncmp(json, "{\"schema\":1,\"type\":\"candidate\",\"id\":\"",
                        37) == 0);
    assert_non_null(strstr(json, "\"source\":\"hotline-main\""));
    assert_non_null(strstr(json, "\"external_id\":\"WO-9\""));
    assert_non_null(strstr(json, "\"reports\":2,\"channels\":[\"hotline\","
                                 "\"letters\"],\"dedup\":\"new\""));
    assert_non_null(strstr(json, "\"rules_version\":\"rules-"));
    assert_non_null(strstr(json, "\"priority\":{"));
    if (r.top) {
        assert_non_null(strstr(json, "\"code\":\"B"));
    }
    /* The span names exactly what cls_result_json() writes, in a buffer
     * that already holds something (offsets are into out). */
    {
        struct ig_buf b, want;
        struct ig_jsonw w;
        size_t span[2] = {1, 1};

        ig_buf_init(&b, 0);
        ig_buf_adds(&b, "prefix");
        c.cls_span = span;
        assert_int_equal(candidate_json(&c, &b), IG_OK);
        assert_string_equal(b.data + 6, json);
        ig_buf_init(&want, 0);
        ig_jsonw_init(&w, &want);
        ig_jsonw_obj_open(&w);
        cls_result_json(g_rs, &r, &w);
        assert_true(span[0] > 6);
        assert_int_equal(span[1], want.len - 1);
        assert_memory_equal(b.data + span[0], want.data + 1, span[1]);
        assert_int_equal(b.data[span[0] - 1], ',');
        ig_buf_fini(&want);
        ig_buf_fini(&b);
        c.cls_span = NULL;
    }
    free(json);
    cls_scratch_free(s);
    ig_item_free(it);
}

static void unclassified_record(void **state)
{
    struct ig_item *it = item("web-forum", "web", NULL, "天气不错",
                              "今天阳光很好，适合散步。\n第二行\t\"引号\"");
    struct candidate c;
    char *json;

    (void)state;
    ig_item_flag(it, IG_ITEM_F_REPAIRED, "invalid UTF-8 replaced");
    candidate_init(&c, "0123456789abcdef", it, NULL);
    json = record(&c);
    {
        /* No classification: an empty span. */
        struct ig_buf b;
        size_t span[2] = {1, 1};

        ig_buf_init(&b, 0);
        c.cls_span = span;
        assert_int_equal(candidate_json(&c, &b), IG_OK);
        assert_int_equal(span[0], 0);
        assert_int_equal(span[1], 0);
        ig_buf_fini(&b);
        c.cls_span = NULL;
    }
    assert_non_null(strstr(json, "\"code\":null,\"name\":null"));
    assert_non_null(strstr(json, "\"external_id\":null"));
    assert_non_null(strstr(json, "\"reports\":1,\"channels\":[\"web\"]"));
    assert_non_null(strstr(json, "\"flags\":[\"repaired\"]"));
    assert_non_null(strstr(json, "\\n第二行\\t"));
    assert_non_null(strstr(json, "\\\"引号\\\""));
    assert_non_null(strstr(json, "\"place\":null,\"town\":[],\"units\":[]"));
    free(json);
    ig_item_free(it);
}

/* An item with an address field of its own (a hotline ticket's 事发地址):
 * the gateway's location hook puts the address's place in the record with
 * "field":"location", which the schema must accept like title and text. */
static void location_record(void **state)
{
    struct ig_item *it = item("hotline-main", "hotline", "WO-10", NULL,
                              "人行道上的雨水井盖破损，有个大洞");
    struct cls_scratch *s = cls_scratch_new();
    struct cls_result r;
    struct candidate c;
    const char *loc = "青浦区徐泾镇诸光路100号";
    char *json;

    (void)state;
    it->place = ig_item_strdup(it, loc);
    classify(it, s, &r);
    assert_non_null(r.route);
    assert_int_equal(route_note_location(ruleset_router(g_rs), r.route, loc,
                                         strlen(loc), it->arena),
                     1);
    candidate_init(&c, "0123456789abcdef", it, &r);
    json = record(&c);
    assert_non_null(strstr(json, "\"location\":\"青浦区徐泾镇诸光路100号\""));
    assert_non_null(strstr(json, "\"name\":\"诸光路\""));
    assert_non_null(strstr(json, "\"field\":\"location\""));
    assert_non_null(strstr(json, "\"town\":[\"徐泾镇\"]"));
    free(json);
    cls_scratch_free(s);
    ig_item_free(it);
}

/* A red line without a B/S code: code null, priority high, a track all
 * the same (the gateway forwards flagged items without a code). */
static void flagged_unclassified_record(void **state)
{
    struct ig_item *it = item("web-forum", "web", "p-7", NULL,
                              "赵巷镇一处工地门口聚集了五十多名工人讨薪");
    struct cls_scratch *s = cls_scratch_new();
    struct cls_result r;
    struct candidate c;
    char *json;

    (void)state;
    classify(it, s, &r);
    assert_null(r.top);
    candidate_init(&c, "0123456789abcdef", it, &r);
    json = record(&c);
    assert_non_null(strstr(json, "\"code\":null"));
    assert_non_null(strstr(json, "\"level\":\"high\""));
    assert_non_null(strstr(json, "\"suggestion\":\"挂牌治理\""));
    free(json);
    cls_scratch_free(s);
    ig_item_free(it);
}

/* A duplicate raised its original to three reports over two channels:
 * the update names the original, its new count and priority, and the
 * duplicate; its idempotency id is "<original>-r3". */
static void update_record(void **state)
{
    struct ig_item *it = item("letters", "letters", "L-12", "井盖又坏了",
                              "盈港路人行道上的雨水井盖破损，有个大洞");
    struct cls_scratch *s = cls_scratch_new();
    struct cls_result r;
    const char *chans[] = {"hotline", "letters"};
    struct candidate_update u;
    struct ig_buf b;
    char uid[CANDIDATE_UPDATE_ID_MAX];

    (void)state;
    classify(it, s, &r);
    memset(&u, 0, sizeof(u));
    u.id = "0123456789abcdef";
    u.reports = 3;
    u.channels = chans;
    u.nchannels = 2;
    u.route = r.route;
    u.item = it;
    u.dup_id = "fedcba9876543210";
    u.dedup = "near";
    u.similarity = 0.75;
    ig_buf_init(&b, 0);
    assert_int_equal(candidate_update_json(&u, &b), IG_OK);
    fprintf(g_samples, "%s\n", b.data);
    assert_true(strncmp(b.data,
                        "{\"schema\":1,\"type\":\"update\","
                        "\"id\":\"0123456789abcdef\","
                        "\"update_id\":\"0123456789abcdef-r3\","
                        "\"reports\":3,"
                        "\"channels\":[\"hotline\",\"letters\"],"
                        "\"priority\":{\"level\":",
                        151) == 0);
    assert_non_null(strstr(b.data, "\"duplicate\":{\"id\":"
                                   "\"fedcba9876543210\",\"source\":"
                                   "\"letters\""));
    assert_non_null(strstr(b.data, "\"dedup\":\"near\",\"similarity\":0.75"));
    /* A similarity that is not a number in 0..1 (a 0/0 Jaccard of two
     * empty bigram sets, a rounding above 1) still makes a valid record:
     * never null, never above 1. */
    {
        static const double bad[] = {NAN, INFINITY, -INFINITY, 1.5, -0.25};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            u.similarity = bad[i];
            ig_buf_reset(&b);
            assert_int_equal(candidate_update_json(&u, &b), IG_OK);
            fprintf(g_samples, "%s\n", b.data);
            assert_null(strstr(b.data, "\"similarity\":null"));
        }
        u.similarity = 0.75;
    }
    candidate_update_id("0123456789abcdef", 12, uid);
    assert_string_equal(uid, "0123456789abcdef-r12");
    u.item = NULL;
    assert_int_equal(candidate_update_json(&u, &b), IG_EINVAL);
    ig_buf_fini(&b);
    cls_scratch_free(s);
    ig_item_free(it);
}

static void cap_fails_whole(void **state)
{
    struct ig_item *it = item("s", "web", "1", "t", "正文");
    struct candidate c;
    struct ig_buf b;

    (void)state;
    candidate_init(&c, "0123456789abcdef", it, NULL);
    ig_buf_init(&b, 64);
    ig_buf_adds(&b, "prefix");
    assert_int_equal(candidate_json(&c, &b), IG_E2BIG);
    assert_int_equal(b.len, 6);
    c.id = NULL;
    assert_int_equal(candidate_json(&c, &b), IG_EINVAL);
    ig_buf_fini(&b);
    ig_item_free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classified_record),
        cmocka_unit_test(unclassified_record),
        cmocka_unit_test(location_record),
        cmocka_unit_test(flagged_unclassified_record),
        cmocka_unit_test(update_record),
        cmocka_unit_test(cap_fails_whole),
    };
    const char *rules = getenv("INTAKE_RULES");
    char path[4096], rules_dir[4096];
    struct ig_diags d;
    int rc;

    ig_diags_init(&d);
    if (!rules) {
        snprintf(rules_dir, sizeof(rules_dir), "%s/rules", test_source_dir());
        rules = rules_dir;
    }
    if (ruleset_load(rules, &g_rs, &d) != IG_OK) {
        ig_diags_print(&d, stderr);
        return 1;
    }
    ig_diags_fini(&d);
    snprintf(path, sizeof(path), "%s/candidate-samples.jsonl",
             test_build_dir());
    g_samples = fopen(path, "w");
    if (!g_samples) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    fclose(g_samples);
    ruleset_unref(g_rs);
    return rc;
}
