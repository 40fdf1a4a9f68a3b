/* test_rule_words.c — ruleset_rule_words() hands back every keyword of a
 * rule, normalised, with the line kind and group it came from; regex
 * literals are not reported; an index out of range yields nothing. A tiny
 * rule set is written to a temporary directory next to a copy of the
 * shipped taxonomy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "classifiers/classifier.h"
#include "classifiers/rule_words.h"
#include "core/diag.h"
#include "core/err.h"
#include "tests/lib/test_dirs.h"

#define MAX_SEEN 64

struct seen {
    char word[MAX_SEEN][64];
    enum rule_word_kind kind[MAX_SEEN];
    size_t group[MAX_SEEN];
    size_t n;
};

static void collect(void *arg, const char *word, enum rule_word_kind kind,
                    size_t group)
{
    struct seen *s = arg;
    if (s->n < MAX_SEEN) {
        snprintf(s->word[s->n], sizeof(s->word[0]), "%s", word);
        s->kind[s->n] = kind;
        s->group[s->n] = group;
        s->n++;
    }
}

/* Index of word in s with that kind, or -1. */
static long find(const struct seen *s, const char *word,
                 enum rule_word_kind kind)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->word[i], word) == 0 && s->kind[i] == kind) {
            return (long)i;
        }
    }
    return -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    fclose(out);
}

static void test_words(void **state)
{
    (void)state;
    const char *src = test_source_dir();
    char tmpl[] = "/tmp/test_rule_words.XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char from[4096], to[4096], rules[4096];
    snprintf(from, sizeof(from), "%s/rules/taxonomy.tsv", src);
    snprintf(to, sizeof(to), "%s/taxonomy.tsv", dir);
    copy_file(from, to);
    snprintf(rules, sizeof(rules), "%s/A.rules", dir);
    write_file(rules, "rule: covers\n"
                      "code: B01-14\n"
                      "any: 井盖 窨井盖\n"
                      "any: 缺失 松动\n"
                      "all: 马路\n"
                      "near: 下水道 / 冒水 within 5\n"
                      "not: 已修好\n"
                      "regex: 盖子.{0,4}没了\n"
                      "example: 马路上的井盖缺失，下水道冒水，盖子都没了\n"
                      "counter: 井盖已修好\n"
                      "rule: lights\n"
                      "code: B01-18\n"
                      "any: ＬＥＤ路灯\n"
                      "example: ＬＥＤ路灯\n"
                      "counter: 你好\n");
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = NULL;
    int rc = ruleset_load(dir, &rs, &d);
    ig_diags_print(&d, stderr);
    ig_diags_fini(&d);
    assert_int_equal(rc, IG_OK);
    assert_int_equal(ruleset_nrules(rs), 2);

    /* Every keyword line, with its kind and group. */
    struct seen s = {0};
    size_t n = ruleset_rule_words(rs, 0, collect, &s);
    assert_int_equal(n, s.n);
    assert_int_equal(n, 8);
    long i = find(&s, "井盖", RULE_WORD_ANY);
    assert_true(i >= 0);
    assert_int_equal(s.group[i], 0);
    i = find(&s, "松动", RULE_WORD_ANY);
    assert_true(i >= 0);
    assert_int_equal(s.group[i], 1);
    assert_true(find(&s, "马路", RULE_WORD_ALL) >= 0);
    assert_true(find(&s, "下水道", RULE_WORD_NEAR) >= 0);
    assert_true(find(&s, "冒水", RULE_WORD_NEAR) >= 0);
    assert_true(find(&s, "已修好", RULE_WORD_NOT) >= 0);
    /* A regex's fixed words are gates, not keywords the author wrote. */
    for (size_t k = 0; k < s.n; k++) {
        assert_null(strstr(s.word[k], "盖子"));
    }

    /* Words come back normalised (full-width letters folded). */
    memset(&s, 0, sizeof(s));
    assert_int_equal(ruleset_rule_words(rs, 1, collect, &s), 1);
    assert_string_equal(s.word[0], "led路灯");

    /* Out of range, or no callback: nothing. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(ruleset_rule_words(rs, 2, collect, &s), 0);
    assert_int_equal(ruleset_rule_words(rs, 0, NULL, NULL), 0);
    assert_int_equal(ruleset_rule_words(NULL, 0, collect, &s), 0);
    assert_int_equal(s.n, 0);

    ruleset_unref(rs);
    unlink(rules);
    unlink(to);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
