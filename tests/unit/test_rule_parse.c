/* test_rule_parse.c — the rule language's parser and loader diagnostics:
 * every mistake reported as file:line:col, all of them, closest-code
 * suggestions, and a broken set never loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classifiers/classifier.h"
#include "classifiers/classifier_int.h"
#include "core/arena.h"
#include "core/diag.h"
#include "core/err.h"

#include "cls_fixture.h"

/* True when d holds an error at line:col whose message contains needle. */
static bool has_diag(const struct ig_diags *d, int line, int col,
                     const char *needle)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].line == line && (col == 0 || d->v[i].col == col) &&
            strstr(d->v[i].msg, needle) != NULL) {
            return true;
        }
    }
    return false;
}

static void dump(const struct ig_diags *d)
{
    ig_diags_print(d, stderr);
}

/* One rule file parsed: its rules, its diagnostics (printed) and the
 * error count rule_parse_mem() returned. */
struct parsed {
    struct ig_arena *a;
    struct prule_list pl;
    struct ig_diags d;
    int errs;
};

static void parse(struct parsed *p, const char *name, const char *text)
{
    p->a = ig_arena_new(0);
    memset(&p->pl, 0, sizeof(p->pl));
    ig_diags_init(&p->d);
    p->errs = rule_parse_mem(name, text, strlen(text), p->a, &p->pl, &p->d);
    dump(&p->d);
}

static void parsed_fini(struct parsed *p)
{
    free(p->pl.v);
    ig_diags_fini(&p->d);
    ig_arena_free(p->a);
}

static void test_good(void **state)
{
    (void)state;
    const char *text = "\xef\xbb\xbf# comment\n"
                       "rule: manhole\r\n"
                       "code: B01-14\n"
                       "desc: 井盖缺失\n"
                       "weight: 3\n"
                       "any: 井盖 窨井盖、下水道盖子，检查井盖,\"wi fi\"\n"
                       "  any： 缺失 ＡＢＣ 門口\n"
                       "all: 小区\n"
                       "near: 路灯 / 不亮 黑 within 6\n"
                       "regex: 井盖.{0,6}(没了|被偷)\n"
                       "not: 演习 电影\n"
                       "not-regex: 已经?修好\n"
                       "example: 小区门口的下水道盖子不见了\n"
                       "counter: 井盖已修好\n"
                       "\n"
                       "rule: second\n"
                       "code: S04-02\n"
                       "any: 占道\n"
                       "example: x\n"
                       "counter: y\n";
    struct parsed p;
    parse(&p, "t.rules", text);
    assert_int_equal(p.errs, 0);
    assert_int_equal(p.pl.n, 2);
    struct prule *r = &p.pl.v[0];
    assert_string_equal(r->id, "manhole");
    assert_string_equal(r->code, "B01-14");
    assert_int_equal(r->code_line, 3);
    assert_true(r->weight == 3.0);
    assert_int_equal(r->nany, 2);
    assert_int_equal(r->any[0].n, 5);
    assert_string_equal(r->any[0].w[4], "wi fi");
    assert_string_equal(r->any[1].w[1], "abc");
    assert_string_equal(r->any[1].w[2], "门口");
    assert_int_equal(r->nnear, 1);
    assert_int_equal(r->near[0].within, 6);
    assert_int_equal(r->near[0].left.n, 1);
    assert_int_equal(r->near[0].right.n, 2);
    assert_int_equal(r->nrx_n, 1);
    assert_int_equal(r->nnrx_n, 1);
    assert_int_equal(r->nots.n, 2);
    assert_int_equal(r->nex, 1);
    assert_int_equal(r->ex[0].line, 13);
    assert_int_equal(p.pl.v[1].line, 16);
    parsed_fini(&p);
}

static void test_all_errors(void **state)
{
    (void)state;
    const char *text = "code: B01-14\n"  /* 1: before rule */
                       "rule: bad id!\n" /* 2: id */
                       "code: B01-14\n"
                       "exmaple: 小区\n"                   /* 4: unknown key */
                       "weight: heavy\n"                   /* 5: weight */
                       "any: \"unterminated\n"             /* 6: quote */
                       "near: 路灯 不亮 within 5\n"        /* 7: no slash */
                       "near: 路灯 / 不亮\n"               /* 8: no within */
                       "regex: (*LIMIT_MATCH=99999999)a\n" /* 9: (* */
                       "code: B01-03\n"                    /* 10: second code */
                       "just words\n"                      /* 11: no key */
                       "any: \xff\n"                       /* 12: bad UTF-8 */
                       "rule: empty\n" /* 13: no code, ... */
                       "rule: ok\n"
                       "code: B01-14\n"
                       "any: 井盖\n"
                       "example: 井盖\n"
                       "counter: 路灯\n"
                       "any:\n"; /* 19: no value */
    struct parsed p;
    parse(&p, "bad.rules", text);
    assert_true(has_diag(&p.d, 1, 1, "before the first 'rule:'"));
    assert_true(has_diag(&p.d, 2, 7, "rule id"));
    assert_true(has_diag(&p.d, 4, 1, "did you mean 'example:'"));
    assert_true(has_diag(&p.d, 5, 9, "weight"));
    assert_true(has_diag(&p.d, 6, 6, "unterminated quote"));
    assert_true(has_diag(&p.d, 7, 0, "missing '/'"));
    assert_true(has_diag(&p.d, 8, 0, "missing 'within'"));
    assert_true(has_diag(&p.d, 9, 8, "'(*'"));
    assert_true(has_diag(&p.d, 10, 1, "second 'code:'"));
    assert_true(has_diag(&p.d, 11, 1, "expected 'key: value'"));
    assert_true(has_diag(&p.d, 12, 6, "invalid UTF-8"));
    assert_true(has_diag(&p.d, 2, 1, "no 'example:'"));
    assert_true(has_diag(&p.d, 13, 1, "no 'code:'"));
    assert_true(has_diag(&p.d, 13, 1, "no 'any:'"));
    assert_true(has_diag(&p.d, 13, 1, "no 'counter:'"));
    assert_true(has_diag(&p.d, 19, 5, "no value"));
    assert_int_equal((size_t)p.errs, p.d.nerrors);
    assert_true(p.errs >= 17);
    parsed_fini(&p);
}

/* A pattern may not start with '(*' as compiled: characters the
 * normaliser drops (zero-width space, soft hyphen, BOM) do not hide it. */
static void test_engine_settings_hidden(void **state)
{
    (void)state;
    const char *text = "rule: r\ncode: B01-14\nany: 井盖\n"
                       "regex: \xe2\x80\x8b(*LIMIT_MATCH=99999999)a\n"
                       "not-regex: \xc2\xad\xef\xbb\xbf(*NO_JIT)b\n"
                       "regex: \\x{200b}(*NO_JIT)c\n"
                       "example: 井盖\ncounter: 路灯\n";
    struct parsed p;
    parse(&p, "hide.rules", text);
    assert_true(has_diag(&p.d, 4, 8, "'(*'"));
    assert_true(has_diag(&p.d, 5, 12, "'(*'"));
    assert_int_equal(p.errs, 2);
    parsed_fini(&p);
}

/* not: with "within N" is a local veto; without, the words veto anywhere
 * (a quoted "within" is a word); a bad number or no word is an error. */
static void test_local_veto(void **state)
{
    (void)state;
    const char *text = "rule: a\n"
                       "code: S04-03\n"
                       "any: 人行道\n"
                       "not: 车辆 汽车 within 6\n" /* 4 */
                       "not: 演习 \"within\"\n"    /* 5 */
                       "not：停车 within 3\n"      /* 6: full-width colon */
                       "not: 车辆 within\n"        /* 7: no number */
                       "not: 车辆 within 0\n"      /* 8: out of range */
                       "not: 车辆 within 6 个\n"   /* 9: trailing word */
                       "not: within 5\n"           /* 10: no word */
                       "example: x\n"
                       "counter: y\n";
    struct parsed p;
    parse(&p, "v.rules", text);
    assert_int_equal(p.errs, 4);
    assert_true(has_diag(&p.d, 7, 9, "'within' needs a number"));
    assert_true(has_diag(&p.d, 8, 9, "'within' needs a number"));
    assert_true(has_diag(&p.d, 9, 9, "'within' needs a number"));
    assert_true(has_diag(&p.d, 10, 6, "'not:' needs at least one word"));
    assert_int_equal(p.pl.n, 1);
    struct prule *r = &p.pl.v[0];
    assert_int_equal(r->nlnots, 2);
    assert_int_equal(r->lnots[0].within, 6);
    assert_int_equal(r->lnots[0].words.n, 2);
    assert_string_equal(r->lnots[0].words.w[1], "汽车");
    assert_int_equal(r->lnots[1].within, 3);
    assert_string_equal(r->lnots[1].words.w[0], "停车");
    assert_int_equal(r->nots.n, 2);
    assert_string_equal(r->nots.w[1], "within");
    parsed_fini(&p);
}

/* What a Chinese keyboard types: full-width colons and full-width spaces
 * (U+3000) around values, as indentation and around "within". The
 * values come out as written without them (a pattern " 井盖" with the
 * space kept would never match a message that starts with 井盖). */
static void test_fullwidth_blanks(void **state)
{
    (void)state;
#define FWC "\xef\xbc\x9a" /* full-width colon */
#define FWS "\xe3\x80\x80" /* full-width space */
    const char *text = FWS "rule" FWC FWS "a" FWS "\n"
                           "code" FWC FWS "S04-03\n"
                           "any" FWC FWS "人行道\n"
                           "regex" FWC FWS "井盖.{0,3}坏" FWS "\n"
                           "not" FWC "停车" FWS "within" FWS "3\n"
                           "example: x\n"
                           "counter: y\n";
#undef FWC
#undef FWS
    struct parsed p;
    parse(&p, "fw.rules", text);
    assert_int_equal(p.errs, 0);
    assert_int_equal(p.pl.n, 1);
    struct prule *r = &p.pl.v[0];
    assert_string_equal(r->id, "a");
    assert_string_equal(r->code, "S04-03");
    assert_int_equal(r->nrx_n, 1);
    assert_string_equal(r->rx[0].src, "井盖.{0,3}坏");
    assert_int_equal(r->nlnots, 1);
    assert_int_equal(r->lnots[0].within, 3);
    assert_string_equal(r->lnots[0].words.w[0], "停车");
    parsed_fini(&p);
}

static void test_load_errors(void **state)
{
    (void)state;
    const char *rules = "rule: a\n"
                        "code: B01-99\n" /* did you mean */
                        "any: 井盖\n"
                        "example: 井盖\n"
                        "counter: 路灯\n"
                        "rule: b\n"
                        "code: B01-14\n"
                        "regex: 井盖(坏\n" /* does not compile */
                        "example: 井盖\n"
                        "counter: 路灯\n"
                        "rule: a\n"   /* duplicate id */
                        "code: X99\n" /* unknown, no suggestion */
                        "any: 井盖\n"
                        "example: 井盖\n"
                        "counter: 路灯\n";
    const char *dir = fixture_dir("threshold = 2\ntitel_weight = 2\n", rules);
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = (void *)1;
    int rc = ruleset_load(dir, &rs, &d);
    dump(&d);
    assert_int_equal(rc, IG_EPARSE);
    assert_null(rs);
    assert_true(has_diag(&d, 2, 7,
                         "unknown code 'B01-99' (did you mean "
                         "'B01-03'?)"));
    assert_true(has_diag(&d, 12, 7, "not in taxonomy.tsv"));
    assert_true(has_diag(&d, 11, 0, "duplicate rule id 'a'"));
    assert_true(has_diag(&d, 8, 0, "regex does not compile"));
    assert_true(has_diag(&d, 2, 1, "did you mean 'title_weight'"));
    /* every diagnostic names its file */
    for (size_t i = 0; i < d.n; i++) {
        assert_non_null(strstr(d.v[i].file, dir));
    }
    ig_diags_fini(&d);
    fixture_rm(dir);
}

static void test_missing_dir(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = (void *)1;
    assert_true(ruleset_load("/nonexistent/rules", &rs, &d) < 0);
    assert_null(rs);
    assert_true(d.nerrors > 0);
    ig_diags_fini(&d);
}

static void test_regex_literals(void **state)
{
    (void)state;
    struct {
        const char *pat;
        const char *want; /* literals joined by '|', "" = none */
    } cases[] = {
        {"井盖.{0,6}(没了|被偷)", "井盖"},
        {"盖.{0,6}(没了|被偷)", "没了|被偷"},
        {"井盖坏了", "井盖坏了"},
        {"(路灯|街灯)不亮", "不亮"},
        {"(路灯|街灯)坏", "路灯|街灯"},
        {"井盖?坏", "井"},
        {"\\d+号楼", "号楼"},
        {"^(a+)+$", ""},
        {"abc|\\d+", ""},
        {"(?:水管|管道)(破|爆)裂", "水管|管道"},
        {"(?=井盖)\\w+", ""},
        {"(?x) 井 盖", ""},
        {"[井门]盖", "盖"},
        {"\\Q(a)\\E井盖", "(a)井盖"},
        {"ABC\\.Def", "abc.def"},
        {"垃圾(桶|箱)*满", "垃圾"},
        {"x{2}yy", "yy"},
        {"井盖{1,3}掀", "井盖"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ig_arena *a = ig_arena_new(0);
        char **lits;
        struct regex_req *sets;
        size_t nsets;
        size_t n = regex_required(cases[i].pat, a, &lits, &sets, &nsets);
        char got[256] = "";
        for (size_t k = 0; k < n; k++) {
            if (k) {
                strcat(got, "|");
            }
            strcat(got, lits[k]);
        }
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("%s: got '%s', want '%s'", cases[i].pat, got,
                     cases[i].want);
        }
        ig_arena_free(a);
    }
    struct ig_arena *a = ig_arena_new(0);
    assert_string_equal(regex_normalise("門（口）\\（Ａ", a), "门\\(口\\)\\(a");
    ig_arena_free(a);
}

/* Every set a pattern requires, the sets joined by ' ', a set's
 * literals by '|'. */
/* Braces PCRE2 10.42 reads as text and 10.43 as a quantifier are found
 * (and refused by the loader, with the column of the brace); the same
 * braces where both read them alike, or where they are not syntax at all
 * (escaped, in a class, in \Q..\E or a comment), are not. */
static void test_regex_version_brace(void **state)
{
    (void)state;
    static const struct {
        const char *pat;
        long at;
    } cases[] = {
        {"a{,3}", 1},
        {"井盖{,3}坏", 6},
        {"a{1, 3}", 1},
        {"a{ 2}", 1},
        {"a{2 }", 1},
        {"a{2 ,}", 1},
        {"x(a{1,3}){,2}", 9},
        {"a{1,3}", -1},
        {"a{3}", -1},
        {"a{3,}", -1},
        {"a{,}", -1},
        {"a{}", -1},
        {"a{ }", -1},
        {"a{x,3}", -1},
        {"a\\{,3}", -1},
        {"[{,3}]", -1},
        {"[]{,3}]", -1},
        {"[^]{,3}]", -1},
        {"[[:alpha:]{,3}]", -1},
        {"\\Q{,3}\\E", -1},
        {"\\Q{,3}", -1},
        {"(?#{,3})", -1},
        {"\\Qa\\E{,3}", 5},
        {"[a]{,3}", 3},
        {"[\\]]{,2}", 4},
        {"[[:alpha:]]{,2}", 11},
        {"[a\\]", -1},
        {"{,3", -1},
        {"a{,3b}", -1},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long at = regex_version_brace(cases[i].pat);
        if (at != cases[i].at) {
            print_error("%s: %ld, want %ld\n", cases[i].pat, at, cases[i].at);
        }
        assert_int_equal(at, cases[i].at);
    }
    const char *rules = "rule: a\n"
                        "code: B01-14\n"
                        "regex: 井盖.{,3}坏\n"
                        "example: 井盖坏了\n"
                        "counter: 路灯\n";
    const char *dir = fixture_dir("threshold = 2\n", rules);
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = (void *)1;
    assert_int_equal(ruleset_load(dir, &rs, &d), IG_EPARSE);
    dump(&d);
    assert_null(rs);
    assert_true(has_diag(&d, 3, 11, "'{,3}' is literal text for PCRE2"));
    ig_diags_fini(&d);
    fixture_rm(dir);
}

static void test_regex_sets(void **state)
{
    (void)state;
    struct {
        const char *pat;
        const char *want;
    } cases[] = {
        {"(希望|建议).{0,10}(安装|增设).{0,4}路灯", "希望|建议 安装|增设 路灯"},
        {"井盖.{0,6}(没了|被偷)", "井盖 没了|被偷"},
        {"(路灯|街灯)?坏了", "坏了"},
        {"(?:水管|管道)(破|爆)裂", "水管|管道 破|爆 裂"},
        {"\\d+号楼(着火|冒烟)", "号楼 着火|冒烟"},
        {"井盖|路灯", ""},
        {"(?=井盖)\\w+", ""},
        {"^(a+)+$", ""},
        {"井盖(?!修好)", "井盖"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ig_arena *a = ig_arena_new(0);
        struct regex_req *sets;
        char **lits;
        size_t n;
        (void)regex_required(cases[i].pat, a, &lits, &sets, &n);
        char got[256] = "";
        for (size_t k = 0; k < n; k++) {
            if (k) {
                strcat(got, " ");
            }
            for (size_t j = 0; j < sets[k].n; j++) {
                if (j) {
                    strcat(got, "|");
                }
                strcat(got, sets[k].v[j]);
            }
        }
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("%s: got '%s', want '%s'", cases[i].pat, got,
                     cases[i].want);
        }
        ig_arena_free(a);
    }
}

/* What every file of a rules directory counts as a line: CRLF reads as
 * LF, a lone '\r' inside a line stays, a final '\n' starts no line, a
 * last line without one is kept, and the numbers count every line. */
static void test_lines(void **state)
{
    (void)state;
    static const char text[] = "a\r\n\nb\rc\n\r\nlast";
    static const char *const want[] = {"a", "", "b\rc", "", "last"};
    struct rule_lines it = {.text = text, .len = sizeof(text) - 1};
    const char *s;
    size_t n, k = 0;
    while (rule_lines_next(&it, &s, &n)) {
        assert_true(k < 5);
        assert_int_equal(n, strlen(want[k]));
        assert_memory_equal(s, want[k], n);
        assert_int_equal(it.lineno, (int)k + 1);
        k++;
    }
    assert_int_equal(k, 5);

    struct rule_lines one = {.text = "x\n", .len = 2};
    assert_true(rule_lines_next(&one, &s, &n));
    assert_int_equal(n, 1);
    assert_false(rule_lines_next(&one, &s, &n));

    struct rule_lines none = {.text = "", .len = 0};
    assert_false(rule_lines_next(&none, &s, &n));
    assert_int_equal(none.lineno, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_all_errors),
        cmocka_unit_test(test_engine_settings_hidden),
        cmocka_unit_test(test_local_veto),
        cmocka_unit_test(test_fullwidth_blanks),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_regex_literals),
        cmocka_unit_test(test_regex_sets),
        cmocka_unit_test(test_regex_version_brace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
