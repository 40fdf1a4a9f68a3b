/* test_classify.c — the matcher and scoring on small fixture rule sets:
 * keyword groups, near, regex gating, vetoes, title weight, ties, the
 * threshold, evidence offsets in the original text, a catastrophic regex,
 * a 1 MiB item, empty and invalid input, versions, JSON, self-test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "classifiers/classifier.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/mem.h"
#include "core/text.h"

#include "cls_fixture.h"
#include "tests/lib/test_dirs.h"

static struct ruleset *load(const char *settings, const char *rules,
                            char *dir_out)
{
    const char *dir = fixture_dir(settings, rules);
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = NULL;
    int rc = ruleset_load(dir, &rs, &d);
    if (rc < 0) {
        ig_diags_print(&d, stderr);
    }
    ig_diags_fini(&d);
    assert_int_equal(rc, IG_OK);
    if (dir_out) {
        strcpy(dir_out, dir);
    } else {
        fixture_rm(dir);
    }
    return rs;
}

struct run {
    struct ruleset *rs;
    struct cls_scratch *s;
    struct ig_arena *a;
    struct cls_result r;
};

static void classify(struct run *x, const char *title, const char *text)
{
    ig_arena_free(x->a);
    x->a = ig_arena_new(0);
    int rc = ruleset_classify(x->rs, x->s, title, title ? strlen(title) : 0,
                              text, text ? strlen(text) : 0, true, x->a, &x->r);
    assert_int_equal(rc, IG_OK);
}

static const char *code(const struct run *x)
{
    return x->r.top ? x->r.top->code : "unclassified";
}

static void run_init(struct run *x, const char *settings, const char *rules)
{
    memset(x, 0, sizeof(*x));
    x->rs = load(settings, rules, NULL);
    x->s = cls_scratch_new();
}

static void run_fini(struct run *x)
{
    ig_arena_free(x->a);
    cls_scratch_free(x->s);
    ruleset_unref(x->rs);
}

#define SAMPLES "example: x\ncounter: y\n"

static const char *BASIC =
    "rule: cover\ncode: B01-14\nweight: 3\n"
    "any: 井盖 窨井盖\nany: 缺失 丢失 不见 松动\nnot: 演习 已修好\n" SAMPLES
    "rule: cover-near\ncode: B01-14\nweight: 1\n"
    "near: 下水道盖 / 不见 within 4\n" SAMPLES
    "rule: light\ncode: B01-18\nweight: 2\n"
    "all: 路灯 不亮\n" SAMPLES "rule: stall\ncode: S04-02\nweight: 2\n"
    "any: 占道 摆摊\n" SAMPLES "rule: water-rx\ncode: S03-02\nweight: 2.5\n"
    "regex: (停水|没水)了?.{0,10}(三天|两天|一周)\n"
    "not-regex: 计划停水\n" SAMPLES "rule: garbage\ncode: S01-01\nweight: 2\n"
    "any: 垃圾\n" SAMPLES;

static void test_groups(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\ntitle_weight = 2\n", BASIC);
    classify(&x, NULL, "小区门口的井盖不见了");
    assert_string_equal(code(&x), "B01-14");
    assert_true(x.r.score == 3.0);
    /* one group missing: no fire */
    classify(&x, NULL, "小区门口的井盖");
    assert_string_equal(code(&x), "unclassified");
    assert_int_equal(x.r.nfired, 0);
    assert_true(x.r.confidence == 1.0);
    /* all: needs every word */
    classify(&x, NULL, "路灯坏了");
    assert_string_equal(code(&x), "unclassified");
    classify(&x, NULL, "晚上不亮的路灯");
    assert_string_equal(code(&x), "B01-18");
    /* near: within 4 characters, either order */
    classify(&x, NULL, "下水道盖子不见了");
    assert_int_equal(x.r.nfired, 1);
    assert_string_equal(x.r.fired[0].id, "cover-near");
    classify(&x, NULL, "下水道盖子好好的，钥匙不见了");
    assert_int_equal(x.r.nfired, 0);
    run_fini(&x);
}

static void test_veto_and_regex(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\n", BASIC);
    classify(&x, NULL, "消防演习时井盖松动");
    assert_string_equal(code(&x), "unclassified");
    assert_int_equal(x.r.nfired, 1);
    assert_true(x.r.fired[0].vetoed);
    assert_int_equal(x.r.nev, 0);
    assert_non_null(strstr(x.r.explain, "vetoed"));
    classify(&x, NULL, "我们小区停水了已经三天");
    assert_string_equal(code(&x), "S03-02");
    assert_int_equal(x.r.nev, 1);
    assert_string_equal(x.r.ev[0].match, "停水了已经三天");
    classify(&x, NULL, "计划停水三天");
    assert_string_equal(code(&x), "unclassified");
    assert_true(x.r.fired[0].vetoed);
    /* traditional and full-width text still matches */
    classify(&x, NULL, "我們小區停水了已經三天");
    assert_string_equal(code(&x), "S03-02");
    run_fini(&x);
}

/* not: ... within N vetoes only near the rule's evidence (keyword or
 * regex), in the same field, at N characters and not N + 1; a plain not:
 * still vetoes anywhere. */
static void test_local_veto(void **state)
{
    (void)state;
    struct run x;
    run_init(
        &x, "threshold = 2\n",
        "rule: goods\ncode: S04-02\nweight: 3\n"
        "any: 占用人行道 占道\nnot: 车辆 汽车 within 4\nnot: 演习\n" SAMPLES
        "rule: water\ncode: S03-02\nweight: 3\n"
        "regex: 停水.{0,4}三天\nnot: 计划 within 2\n" SAMPLES);
    classify(&x, NULL, "车辆占用人行道");
    assert_string_equal(code(&x), "unclassified");
    assert_true(x.r.fired[0].vetoed);
    assert_non_null(strstr(x.r.explain, "not-near"));
    assert_non_null(strstr(x.r.explain, "\"车辆\""));
    classify(&x, NULL, "店家把货物堆出来占道经营，晚上还有很多车辆经过");
    assert_string_equal(code(&x), "S04-02");
    /* the boundary: 4 characters between is within 4, 5 is not */
    classify(&x, NULL, "汽车一二三四占道");
    assert_string_equal(code(&x), "unclassified");
    classify(&x, NULL, "汽车一二三四五占道");
    assert_string_equal(code(&x), "S04-02");
    classify(&x, NULL, "占道一二三四汽车");
    assert_string_equal(code(&x), "unclassified");
    /* one occurrence far, one near: the near one vetoes */
    classify(&x, NULL, "汽车一二三四五占道，车辆占道");
    assert_string_equal(code(&x), "unclassified");
    /* the title is another field */
    classify(&x, "车辆", "占道");
    assert_string_equal(code(&x), "S04-02");
    classify(&x, "车辆占道", NULL);
    assert_string_equal(code(&x), "unclassified");
    /* a plain not: line is still a veto anywhere */
    classify(&x, NULL, "占道经营。一二三四五六七八九十，消防演习");
    assert_string_equal(code(&x), "unclassified");
    /* near a regex's match */
    classify(&x, NULL, "计划停水三天");
    assert_string_equal(code(&x), "unclassified");
    assert_true(x.r.fired[0].vetoed);
    classify(&x, NULL, "计划明天去看看，我们小区停水已经三天");
    assert_string_equal(code(&x), "S03-02");
    assert_string_equal(x.r.ev[0].match, "停水已经三天");
    run_fini(&x);
}

/* near: with long word lists (their sides are looked up through the
 * literals seen, not gone through) next to short ones: every word of each
 * side pairs, one side alone never fires, in either order and in the
 * title; a word on both sides of two rules marks both. */
static void test_near_long_lists(void **state)
{
    (void)state;
    static const char *const L[] = {"甲一", "甲二", "甲三", "甲四", "甲五",
                                    "甲六", "甲七", "甲八", "甲九", "甲十",
                                    "甲百", "甲千", "甲万", "公共"};
    static const char *const R[] = {"乙一", "乙二", "乙三", "乙四", "乙五",
                                    "乙六", "乙七", "乙八", "乙九", "乙十",
                                    "乙百", "乙千", "乙万", "公共"};
    struct ig_buf rules;
    ig_buf_init(&rules, 0);
    ig_buf_adds(&rules, "rule: long\ncode: S01-01\nweight: 3\nnear:");
    for (size_t i = 0; i < 14; i++) {
        ig_buf_addf(&rules, " %s", L[i]);
    }
    ig_buf_adds(&rules, " /");
    for (size_t i = 0; i < 14; i++) {
        ig_buf_addf(&rules, " %s", R[i]);
    }
    ig_buf_adds(&rules, " within 3\n" SAMPLES);
    ig_buf_adds(&rules, "rule: short\ncode: B01-14\nweight: 3\n"
                        "near: 公共 丙 / 丁 within 2\n" SAMPLES);
    struct run x;
    run_init(&x, "threshold = 2\n", rules.data);
    for (size_t i = 0; i < 14; i++) {
        for (size_t j = 0; j < 14; j += 3) {
            char t[64];
            snprintf(t, sizeof(t), "前面%s的%s后面", L[i], R[j]);
            classify(&x, NULL, t);
            assert_string_equal(code(&x), "S01-01");
            snprintf(t, sizeof(t), "%s和%s", R[j], L[i]);
            classify(&x, t, "无关");
            assert_string_equal(code(&x), "S01-01");
            if (i == 13) {
                continue; /* 公共 is on both sides: it pairs with itself */
            }
            snprintf(t, sizeof(t), "%s很远很远很远的%s", L[i], R[j]);
            classify(&x, NULL, t);
            assert_int_equal(x.r.nfired, 0);
        }
        if (i < 13) {
            char one[64];
            snprintf(one, sizeof(one), "%s和%s", L[i], L[(i + 1) % 13]);
            classify(&x, NULL, one);
            assert_int_equal(x.r.nfired, 0);
        }
    }
    classify(&x, NULL, "公共丁");
    assert_string_equal(code(&x), "B01-14");
    classify(&x, NULL, "公共的公共");
    assert_string_equal(code(&x), "S01-01");
    run_fini(&x);
    ig_buf_fini(&rules);
}

/* near: and not: ... within N count characters, whatever their width:
 * fillers of 1- to 4-byte characters, in random mixes, N and N + 1 of
 * them on either side of the bound, for several N (the byte gap settles
 * some of these, counting the rest). */
static void test_near_gap_widths(void **state)
{
    (void)state;
    static const unsigned W[] = {1, 2, 3, 5, 8, 12};
    static const char *const fill[] = {"x", "é", "丁", "𠀀"};
    struct ig_buf rules;
    ig_buf_init(&rules, 0);
    for (size_t w = 0; w < sizeof(W) / sizeof(W[0]); w++) {
        ig_buf_addf(&rules,
                    "rule: near%u\ncode: S01-01\nweight: 3\n"
                    "near: 甲 / 乙 within %u\n" SAMPLES
                    "rule: veto%u\ncode: B01-14\nweight: 3\n"
                    "any: 甲\nnot: 乙 within %u\n" SAMPLES,
                    W[w], W[w], W[w], W[w]);
    }
    struct run x;
    run_init(&x, "threshold = 2\n", rules.data);
    uint32_t st = 7;
    for (int round = 0; round < 40; round++) {
        for (size_t k = 0; k <= 14; k++) {
            struct ig_buf t;
            ig_buf_init(&t, 0);
            ig_buf_adds(&t, round % 2 ? "乙" : "甲");
            for (size_t c = 0; c < k; c++) {
                st = st * 1103515245u + 12345u;
                /* round 0: all 1-byte, round 1: all 4-byte, then mixed */
                size_t f = round < 2 ? (size_t)round * 3 : (st >> 16) % 4;
                ig_buf_adds(&t, fill[f]);
            }
            ig_buf_adds(&t, round % 2 ? "甲" : "乙");
            classify(&x, NULL, t.data);
            for (size_t w = 0; w < sizeof(W) / sizeof(W[0]); w++) {
                char near_id[16], veto_id[16];
                snprintf(near_id, sizeof(near_id), "near%u", W[w]);
                snprintf(veto_id, sizeof(veto_id), "veto%u", W[w]);
                bool near_fired = false, vetoed = false, veto_seen = false;
                for (size_t i = 0; i < x.r.nfired; i++) {
                    if (strcmp(x.r.fired[i].id, near_id) == 0) {
                        near_fired = !x.r.fired[i].vetoed;
                    }
                    if (strcmp(x.r.fired[i].id, veto_id) == 0) {
                        veto_seen = true;
                        vetoed = x.r.fired[i].vetoed;
                    }
                }
                if (near_fired != (k <= W[w]) || !veto_seen ||
                    vetoed != (k <= W[w])) {
                    fail_msg("'%s', within %u: near %d, vetoed %d", t.data,
                             W[w], near_fired, vetoed);
                }
            }
            ig_buf_fini(&t);
        }
    }
    run_fini(&x);
    ig_buf_fini(&rules);
}

static void test_title_weight(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\ntitle_weight = 1.5\n", BASIC);
    classify(&x, "路边占道摆摊", "请处理");
    assert_string_equal(code(&x), "S04-02");
    assert_true(x.r.score == 3.0);
    assert_true(x.r.fired[0].in_title);
    assert_int_equal(x.r.ev[0].field, CLS_FIELD_TITLE);
    classify(&x, "请处理", "路边占道摆摊");
    assert_true(x.r.score == 2.0);
    assert_false(x.r.fired[0].in_title);
    /* a keyword never spans title and text */
    classify(&x, "占", "道");
    assert_string_equal(code(&x), "unclassified");
    run_fini(&x);
}

static void test_ties_and_threshold(void **state)
{
    (void)state;
    /* light (B01-18) and stall (S04-02) both weigh 2: the table order
     * decides, whichever rule comes first in the files. */
    const char *a = "rule: s\ncode: S04-02\nweight: 2\nany: 摆摊\n" SAMPLES
                    "rule: l\ncode: B01-18\nweight: 2\nany: 路灯\n" SAMPLES;
    struct run x;
    run_init(&x, "threshold = 2\n", a);
    classify(&x, NULL, "摆摊的把路灯围住了");
    assert_string_equal(code(&x), "B01-18");
    assert_int_equal(x.r.nalts, 1);
    assert_string_equal(x.r.alts[0].taxon->code, "S04-02");
    assert_true(x.r.confidence > 0.0 && x.r.confidence < 0.5 + 1e-9);
    classify(&x, NULL, "路灯下摆摊的");
    assert_string_equal(code(&x), "B01-18");
    run_fini(&x);
    /* below the threshold: unclassified, candidates as alternatives */
    run_init(&x, "threshold = 5\n", a);
    classify(&x, NULL, "摆摊的把路灯围住了");
    assert_string_equal(code(&x), "unclassified");
    assert_true(x.r.best_score == 2.0);
    assert_int_equal(x.r.nalts, 2);
    assert_string_equal(x.r.alts[0].taxon->code, "B01-18");
    assert_true(x.r.confidence > 0.59 && x.r.confidence < 0.61);
    run_fini(&x);
}

static void test_rule_counts_once(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\n", BASIC);
    classify(&x, NULL, "垃圾垃圾垃圾垃圾垃圾");
    assert_true(x.r.score == 2.0);
    assert_int_equal(x.r.nev, 1);
    assert_int_equal(x.r.ev[0].start, 0);
    run_fini(&x);
}

static void test_evidence_offsets(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\n", BASIC);
    /* full-width spaces, traditional and a zero-width space inside */
    const char *t = "ＡＢ小區窨\xe3\x80\x80井\xe2\x80\x8b蓋鬆動了";
    classify(&x, NULL, t);
    assert_string_equal(code(&x), "B01-14");
    assert_int_equal(x.r.nev, 2);
    const struct cls_evidence *e = &x.r.ev[0];
    assert_string_equal(e->match, "窨\xe3\x80\x80井\xe2\x80\x8b蓋");
    assert_memory_equal(t + e->start, e->match, e->end - e->start);
    assert_string_equal(x.r.ev[1].match, "鬆動");
    run_fini(&x);
}

static void test_regex_gating_and_lint(void **state)
{
    (void)state;
    const char *rules =
        "rule: gated\ncode: B01-14\nweight: 3\n"
        "regex: 井盖.{0,4}(丢|偷)\n" SAMPLES
        "rule: slow\ncode: S01-01\nweight: 3\nregex: \\d{11}\n" SAMPLES;
    struct run x;
    run_init(&x, "threshold = 2\n", rules);
    const struct rule_info *g = ruleset_rule(x.rs, 0);
    const struct rule_info *s = ruleset_rule(x.rs, 1);
    assert_true(g->has_required_literal);
    assert_false(s->has_required_literal);
    assert_int_equal(ruleset_rule_find(x.rs, "slow"), 1);
    assert_int_equal(ruleset_rule_find(x.rs, "nope"), -1);
    struct ig_diags d;
    ig_diags_init(&d);
    assert_int_equal(ruleset_lint(x.rs, &d), 1);
    assert_int_equal(d.v[0].sev, IG_DIAG_WARNING);
    assert_non_null(strstr(d.v[0].msg, "'slow' is slow"));
    ig_diags_fini(&d);
    classify(&x, NULL, "井盖被人偷了");
    assert_string_equal(code(&x), "B01-14");
    classify(&x, NULL, "电话13800000000");
    assert_string_equal(code(&x), "S01-01");
    run_fini(&x);
}

static void test_lint_words(void **state)
{
    (void)state;
    const char *rules =
        "rule: short\ncode: S01-01\nany: x 垃圾\n" SAMPLES
        "rule: contra\ncode: S01-01\nany: 垃圾 堆放\nnot: 堆放\n" SAMPLES;
    struct run x;
    run_init(&x, "threshold = 2\n", rules);
    struct ig_diags d;
    ig_diags_init(&d);
    assert_int_equal(ruleset_lint(x.rs, &d), 2);
    assert_non_null(strstr(d.v[0].msg, "one-character word 'x'"));
    assert_non_null(strstr(d.v[1].msg, "'堆放' is both"));
    assert_int_equal(d.nerrors, 0);
    ig_diags_fini(&d);
    run_fini(&x);
}

/* Gating soundness: a regex-only rule is evaluated only when one of the
 * literals extracted from its pattern was seen, and a pattern (regex: or
 * not-regex:) is only run when every further set of literals it requires
 * has one seen too. For random patterns and texts, the rule fires, and a
 * keyword rule with the pattern as its not-regex: is vetoed, exactly when
 * PCRE2 alone finds a match. */
static void rand_piece(struct ig_buf *b, int depth)
{
    static const char *const atoms[] = {"井", "盖",     "坏",  "a",  "b",
                                        ".",  "[井盖]", "\\d", "ab", "井盖"};
    static const char *const quants[] = {"",  "",      "",      "?",  "*",
                                         "+", "{0,2}", "{1,2}", "{2}"};
    int n = 1 + rand() % 4;
    for (int i = 0; i < n; i++) {
        if (depth < 2 && rand() % 4 == 0) {
            ig_buf_adds(b, rand() % 2 ? "(" : "(?:");
            rand_piece(b, depth + 1);
            if (rand() % 2) {
                ig_buf_addc(b, '|');
                rand_piece(b, depth + 1);
            }
            ig_buf_addc(b, ')');
        } else {
            ig_buf_adds(b, atoms[rand() % 10]);
        }
        ig_buf_adds(b, quants[rand() % 9]);
    }
}

static void test_gating_sound(void **state)
{
    (void)state;
    srand(3);
    static const char *const alpha[] = {"井", "盖", "坏", "a", "b", "1", "x"};
    int fired_total = 0;
    for (int round = 0; round < 300; round++) {
        struct ig_buf pat;
        ig_buf_init(&pat, 0);
        rand_piece(&pat, 0);
        if (round % 4 == 0) {
            ig_buf_addc(&pat, '|'); /* an alternation at the top level */
            rand_piece(&pat, 1);
        }
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                                       &ec, &eo, NULL);
        assert_non_null(re);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        struct ig_buf rules;
        ig_buf_init(&rules, 0);
        ig_buf_addf(&rules,
                    "rule: r\ncode: S01-01\nweight: 5\nregex: %s\n" SAMPLES
                    "rule: v\ncode: S01-01\nweight: 5\nany: 门\n"
                    "not-regex: %s\n" SAMPLES,
                    pat.data, pat.data);
        struct run x;
        run_init(&x, "threshold = 2\n", rules.data);
        for (int t = 0; t < 40; t++) {
            /* (an empty message has nothing to run a pattern on) */
            char text[64] = "门";
            int k = 1 + rand() % 8;
            for (int i = 0; i < k; i++) {
                strcat(text, alpha[rand() % 7]);
            }
            int rc =
                pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
            classify(&x, NULL, text);
            bool fired = false, vetoed = false;
            for (size_t i = 0; i < x.r.nfired; i++) {
                const struct cls_fired *f = &x.r.fired[i];
                if (strcmp(f->id, "r") == 0) {
                    fired = !f->error && !f->vetoed;
                } else if (strcmp(f->id, "v") == 0) {
                    vetoed = f->vetoed;
                }
            }
            if (fired != (rc >= 0) || vetoed != (rc >= 0)) {
                fail_msg("pattern %s on '%s': engine %d (veto %d), pcre2 %d",
                         pat.data, text, fired, vetoed, rc);
            }
            fired_total += fired;
        }
        run_fini(&x);
        ig_buf_fini(&rules);
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        ig_buf_fini(&pat);
    }
    assert_true(fired_total > 200);
}

/* Gating soundness on patterns a random piece never builds: PCRE2 syntax
 * that reads like literal text but is not (verbs, callouts, comments,
 * backreference and octal escapes, \Q..\E in a class, a quantifier after
 * a no-op), letters PCRE2 folds beyond ASCII, and full-width punctuation
 * inside \Q..\E. Each text matches its pattern (PCRE2 on the text as
 * written); the rule must fire and the veto must veto. */
static void test_gating_sound_nasty(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"井盖(*ACCEPT)坏了", "门井盖"},
        {"井(*:ab)盖", "门井盖"},
        {"井(*MARK:xyz)盖", "门井盖"},
        {"井(*nla:xy)盖", "门井盖"},
        {"井(*positive_lookahead:盖)盖", "门井盖"},
        {"(井盖)\\g-1", "门井盖井盖"},
        {"(井盖)\\g<1>", "门井盖井盖"},
        {"(?<n>井盖)\\g'n'", "门井盖井盖"},
        {"(?<n>井盖)\\k'n'", "门井盖井盖"},
        {"(?'n'井盖)坏", "门井盖坏"},
        {"\\123abc井", "门sabc井"},
        {"\\101b井", "门ab井"},
        {"[\\Q]xy\\E]井", "门]井"},
        {"(井盖)(?#c)?坏", "门坏"},
        {"(井盖)\\E?坏", "门坏"},
        {"ab\\E?坏", "门a坏"},
        {"(井盖)\\Q\\E?坏", "门坏"},
        {"(?C\"a:b\")井盖", "门井盖"},
        {"(?C'x)y')井盖", "门井盖"},
        {"ktv井", "门\xe2\x84\xaatv井"},  /* U+212A KELVIN SIGN */
        {"ss井", "门\xc5\xbf\xc5\xbf井"}, /* U+017F LONG S */
        {"\xea\x99\x81\xea\x99\x81井", "门\xea\x99\x80\xea\x99\x80井"},
        {"\\Q井盖（\\E", "门井盖（"},
    };
    int nbad = 0;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const char *pat = cases[c][0], *text = cases[c][1];
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                                       &ec, &eo, NULL);
        assert_non_null(re);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        int rc =
            pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
        assert_true(rc >= 0);
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        struct ig_buf rules;
        ig_buf_init(&rules, 0);
        ig_buf_addf(&rules,
                    "rule: r\ncode: S01-01\nweight: 5\nregex: %s\n" SAMPLES
                    "rule: v\ncode: S01-01\nweight: 5\nany: 门\n"
                    "not-regex: %s\n" SAMPLES,
                    pat, pat);
        struct run x;
        run_init(&x, "threshold = 2\n", rules.data);
        classify(&x, NULL, text);
        bool fired = false, vetoed = false;
        for (size_t i = 0; i < x.r.nfired; i++) {
            const struct cls_fired *f = &x.r.fired[i];
            if (strcmp(f->id, "r") == 0) {
                fired = !f->error && !f->vetoed;
            } else if (strcmp(f->id, "v") == 0) {
                vetoed = f->vetoed;
            }
        }
        if (!fired || !vetoed) {
            print_message("pattern %s on '%s': engine %d (veto %d), pcre2 %d\n",
                          pat, text, fired, vetoed, rc);
            nbad++;
        }
        run_fini(&x);
        ig_buf_fini(&rules);
    }
    assert_int_equal(nbad, 0);
}

/* One rule set, two threads, a scratch each: the same verdicts as one
 * thread (the rule set is read-only after loading). */
struct worker {
    const struct ruleset *rs;
    const char *codes[64];
};

static const char *const TEXTS[] = {
    "小区门口的井盖不见了",   "路灯不亮了好几天", "路边占道摆摊",
    "我们小区停水了已经三天", "今天天气很好",     "垃圾没人清运",
    "消防演习时井盖松动",     "下水道盖子不见了",
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct cls_scratch *s = cls_scratch_new();
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < 8; i++) {
            struct ig_arena *a = ig_arena_new(0);
            struct cls_result r;
            ruleset_classify(w->rs, s, NULL, 0, TEXTS[i], strlen(TEXTS[i]),
                             false, a, &r);
            const char *c = r.top ? r.top->code : "-";
            if (round == 0) {
                w->codes[i] = c;
            } else if (strcmp(w->codes[i], c) != 0) {
                w->codes[i] = "MISMATCH";
            }
            ig_arena_free(a);
        }
    }
    cls_scratch_free(s);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\n", BASIC);
    struct worker w[2] = {{.rs = x.rs}, {.rs = x.rs}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    for (size_t i = 0; i < 8; i++) {
        classify(&x, NULL, TEXTS[i]);
        assert_string_equal(w[0].codes[i], x.r.top ? x.r.top->code : "-");
        assert_string_equal(w[1].codes[i], w[0].codes[i]);
    }
    run_fini(&x);
}

/* Every pattern of the hostile file, each in its own rule next to a
 * keyword rule: the limit is hit and counted (never "no match"), and
 * the keyword rule still classifies the item. */
static void test_catastrophic(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/hostile/regex_catastrophic.jsonl",
             test_shared_dir());
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        skip();
    }
    char line[8192];
    int checked = 0;
    while (fgets(line, sizeof(line), f)) {
        struct ig_arena *a = ig_arena_new(0);
        struct ig_jsonr_member *m;
        size_t n, off;
        const char *err;
        assert_int_equal(
            ig_jsonr_object(line, strlen(line), a, &m, &n, &off, &err), 0);
        const char *pat = ig_jsonr_get(m, n, "pattern")->str;
        const char *subj = ig_jsonr_get(m, n, "subject")->str;
        const char *id = ig_jsonr_get(m, n, "id")->str;
        const char *obs = strstr(line, "jit_default_limits");
        bool catastrophic = obs && strstr(obs, "rc=-47") != NULL;
        char *rules = ig_arena_printf(
            a,
            "rule: hostile\ncode: S04-02\nweight: 5\nregex: %s\n" SAMPLES
            "rule: marker\ncode: B01-18\nweight: 2\nany: !\n" SAMPLES,
            pat);
        struct run x;
        run_init(&x, "threshold = 2\n", rules);
        /* every subject ends in '!', the marker rule's keyword */
        classify(&x, NULL, subj);
        if (catastrophic) {
            if (x.r.regex_errors == 0) {
                fail_msg("%s: limit not hit", id);
            }
            bool err_marked = false;
            for (size_t k = 0; k < x.r.nfired; k++) {
                err_marked |= x.r.fired[k].error;
            }
            assert_true(err_marked);
            assert_non_null(strstr(x.r.explain, "match limit"));
        }
        /* the other rule still decides; the hostile one never wins */
        assert_string_equal(code(&x), "B01-18");
        run_fini(&x);
        ig_arena_free(a);
        checked++;
    }
    fclose(f);
    assert_true(checked >= 10);
}

static void test_big_and_empty(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\n", BASIC);
    /* empty and NULL fields */
    classify(&x, NULL, NULL);
    assert_string_equal(code(&x), "unclassified");
    classify(&x, "", "");
    assert_string_equal(code(&x), "unclassified");
    assert_int_equal(x.r.nev, 0);
    /* invalid UTF-8 and NUL bytes */
    const char bad[] = "\xff\xfe井盖\x00\xe4\xb8不见\xc0\xbc";
    ig_arena_free(x.a);
    x.a = ig_arena_new(0);
    ruleset_classify(x.rs, x.s, NULL, 0, bad, sizeof(bad) - 1, true, x.a, &x.r);
    assert_string_equal(code(&x), "B01-14");
    assert_memory_equal(bad + x.r.ev[0].start, "井盖", 6);
    /* 1 MiB item: the keywords at the very end, a regex rule capped (the
     * words its pattern requires are all in the text, 三天 past the cap) */
    size_t big = 1024 * 1024;
    char *t = ig_malloc(big + 64);
    for (size_t i = 0; i + 6 <= big; i += 6) {
        memcpy(t + i, "停水", 6);
    }
    size_t len = big - big % 6;
    strcpy(t + len, "井盖丢失三天");
    classify(&x, NULL, t);
    assert_string_equal(code(&x), "B01-14");
    assert_true(x.r.regex_truncated);
    assert_int_equal(x.r.ev[0].start, len);
    ig_free(t);
    run_fini(&x);
}

static void test_version_and_refs(void **state)
{
    (void)state;
    char dir[4096];
    struct ruleset *a = load("threshold = 2\n", BASIC, dir);
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *b = NULL;
    assert_int_equal(ruleset_load(dir, &b, &d), IG_OK);
    assert_string_equal(ruleset_version(a), ruleset_version(b));
    assert_int_equal(strncmp(ruleset_version(a), "rules-", 6), 0);
    assert_int_equal(strlen(ruleset_version(a)), 14);
    ruleset_unref(b);
    fixture_write(dir, "b.rules",
                  "rule: extra\ncode: B01-03\nany: 雨水\n" SAMPLES);
    assert_int_equal(ruleset_load(dir, &b, &d), IG_OK);
    assert_string_not_equal(ruleset_version(a), ruleset_version(b));
    assert_int_equal(ruleset_nrules(b), ruleset_nrules(a) + 1);
    ruleset_unref(b);
    /* a broken file: the load fails, the old set is untouched */
    fixture_write(dir, "c.rules", "rule: broken\n");
    b = (void *)1;
    assert_true(ruleset_load(dir, &b, &d) < 0);
    assert_null(b);
    assert_non_null(ruleset_taxon(a, "B01-14"));
    /* references */
    struct ruleset *r2 = ruleset_ref(a);
    assert_ptr_equal(r2, a);
    ruleset_unref(a);
    assert_int_equal(ruleset_ntaxa(r2), 6);
    assert_string_equal(ruleset_taxon_at(r2, 4)->depts[1], "物业管理部门");
    ruleset_unref(r2);
    ruleset_unref(NULL);
    ig_diags_fini(&d);
    fixture_rm(dir);
}

static void test_json(void **state)
{
    (void)state;
    struct run x;
    run_init(&x, "threshold = 2\n", BASIC);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    for (int k = 0; k < 2; k++) {
        classify(&x, "标题",
                 k ? "今天天气很好" : "路灯不亮，井盖丢失，\"引号\"");
        ig_buf_reset(&b);
        ig_jsonw_init(&w, &b);
        ig_jsonw_obj_open(&w);
        cls_result_json(x.rs, &x.r, &w);
        ig_jsonw_obj_close(&w);
        /* A capped buffer goes key by key through the writer; an uncapped
         * one gets literal pieces: the same bytes. */
        struct ig_buf capped;
        ig_buf_init(&capped, 1 << 20);
        ig_jsonw_init(&w, &capped);
        ig_jsonw_obj_open(&w);
        cls_result_json(x.rs, &x.r, &w);
        ig_jsonw_obj_close(&w);
        assert_int_equal(capped.len, b.len);
        assert_memory_equal(capped.data, b.data, b.len);
        ig_buf_fini(&capped);
        if (k == 0) {
            /* A result that points outside the rule set's tables (a
             * taxon and a rule id of its own, an evidence code that is
             * not its rule's) is written in full, not from the prepared
             * pieces: the same bytes as the writer again. */
            static const char *const depts[] = {"部门\"一\"", NULL};
            struct taxon own = {.code = "X\\9",
                                .major = "大类",
                                .name = "名\n称",
                                .depts = depts,
                                .ndepts = 2,
                                .index = 0};
            struct cls_evidence ev[2] = {x.r.ev[0], x.r.ev[0]};
            struct cls_result r2 = x.r;
            ev[0].rule = "no-such-rule";
            ev[1].code = "X\\9";
            ev[1].field = CLS_FIELD_TITLE;
            r2.top = &own;
            r2.alts[0].taxon = &own;
            r2.nalts = 1;
            r2.ev = ev;
            r2.nev = 2;
            r2.regex_errors = 2;
            /* Numbers: 3 decimals at most, trailing zeros dropped, a half
             * rounded up; outside 0..1e12 the writer's %.6g form. */
            r2.score = 2.25;
            r2.confidence = 0.0005;
            r2.alts[0].score = 12;
            ev[0].weight = 0.1234;
            ev[1].weight = 2e12;
            struct ig_buf direct;
            ig_buf_init(&direct, 0);
            ig_buf_init(&capped, 1 << 20);
            struct ig_buf *outs[2] = {&direct, &capped};
            for (int o = 0; o < 2; o++) {
                ig_jsonw_init(&w, outs[o]);
                ig_jsonw_obj_open(&w);
                cls_result_json(x.rs, &r2, &w);
                ig_jsonw_obj_close(&w);
            }
            assert_int_equal(capped.len, direct.len);
            assert_memory_equal(capped.data, direct.data, direct.len);
            assert_non_null(strstr(direct.data, "\"code\":\"X\\\\9\","
                                                "\"name\":\"名\\n称\""));
            assert_non_null(strstr(direct.data, "[\"部门\\\"一\\\"\",null]"));
            assert_non_null(strstr(direct.data, "\"rule\":\"no-such-rule\""));
            assert_non_null(strstr(direct.data, "\"regex_errors\":2"));
            assert_non_null(strstr(direct.data, "\"score\":2.25,"
                                                "\"confidence\":0.001,"));
            assert_non_null(strstr(direct.data, "\"score\":12}"));
            assert_non_null(strstr(direct.data, "\"weight\":0.123}"));
            assert_non_null(strstr(direct.data, "\"weight\":2e+12}"));
            ig_buf_fini(&direct);
            ig_buf_fini(&capped);
        }
        struct ig_jsonr_member *m;
        size_t n, off;
        const char *err;
        assert_int_equal(
            ig_jsonr_object(b.data, b.len, x.a, &m, &n, &off, &err), 0);
        const char *keys[] = {"code",         "name",     "major",
                              "departments",  "score",    "confidence",
                              "alternatives", "evidence", "rules_version"};
        for (size_t i = 0; i < 9; i++) {
            assert_non_null(ig_jsonr_get(m, n, keys[i]));
        }
        if (k == 0) {
            assert_string_equal(ig_jsonr_get(m, n, "code")->str, "B01-14");
            assert_int_equal(ig_jsonr_get(m, n, "alternatives")->type,
                             IG_JSONR_ARRAY);
        } else {
            assert_int_equal(ig_jsonr_get(m, n, "code")->type, IG_JSONR_NULL);
            assert_int_equal(ig_jsonr_get(m, n, "departments")->type,
                             IG_JSONR_NULL);
        }
    }
    ig_buf_fini(&b);
    run_fini(&x);
}

static void test_selftest(void **state)
{
    (void)state;
    const char *rules = "rule: good\ncode: B01-18\nweight: 3\nany: 路灯\n"
                        "example: 路灯坏了\ncounter: 电灯坏了\n"
                        "rule: bad\ncode: S04-02\nweight: 3\nany: 摆摊\n"
                        "example: 占道经营\n"    /* line 11: does not fire */
                        "counter: 路灯旁摆摊\n"; /* ok: B01-18 wins the tie */
    struct run x;
    run_init(&x, "threshold = 2\n", rules);
    struct ig_diags d;
    ig_diags_init(&d);
    assert_int_equal(ruleset_selftest(x.rs, &d), 1);
    assert_int_equal(d.v[0].line, 11);
    assert_non_null(strstr(d.v[0].msg, "does not fire rule 'bad'"));
    ig_diags_fini(&d);
    run_fini(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_veto_and_regex),
        cmocka_unit_test(test_local_veto),
        cmocka_unit_test(test_title_weight),
        cmocka_unit_test(test_ties_and_threshold),
        cmocka_unit_test(test_rule_counts_once),
        cmocka_unit_test(test_evidence_offsets),
        cmocka_unit_test(test_regex_gating_and_lint),
        cmocka_unit_test(test_lint_words),
        cmocka_unit_test(test_gating_sound),
        cmocka_unit_test(test_gating_sound_nasty),
        cmocka_unit_test(test_near_long_lists),
        cmocka_unit_test(test_near_gap_widths),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_catastrophic),
        cmocka_unit_test(test_big_and_empty),
        cmocka_unit_test(test_version_and_refs),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
