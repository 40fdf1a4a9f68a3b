/* test_taxonomy.c — rules/taxonomy.tsv as the loader reads it: the 144
 * codes of the plan's appendix, counts per major category, a sample of
 * rows, and the seed's quirks cleaned (separators, spaces, 門). */
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
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"

#include "cls_fixture.h"
#include "tests/lib/test_dirs.h"

static struct ruleset *RS;
static char DIR_[4096];

/* Loads a directory holding only a copy of the shipped taxonomy, so the
 * table is tested whatever state the rule files are in. */
static int setup(void **state)
{
    (void)state;
    const char *src = test_source_dir();
    char path[4096];
    snprintf(path, sizeof(path), "%s/rules/taxonomy.tsv", src);
    char *buf;
    size_t n;
    if (ig_read_file(path, 0, &buf, &n) != IG_OK) {
        return -1;
    }
    strcpy(DIR_, fixture_dir(NULL, NULL));
    fixture_write(DIR_, "taxonomy.tsv", buf);
    ig_free(buf);
    struct ig_diags d;
    ig_diags_init(&d);
    int rc = ruleset_load(DIR_, &RS, &d);
    ig_diags_print(&d, stderr);
    ig_diags_fini(&d);
    return rc == IG_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ruleset_unref(RS);
    fixture_rm(DIR_);
    return 0;
}

static void test_counts(void **state)
{
    (void)state;
    struct {
        const char *major;
        size_t n;
    } want[] = {
        {"B01", 45}, {"B02", 27}, {"B03", 6}, {"B04", 8}, {"B05", 1},
        {"S01", 12}, {"S02", 4},  {"S03", 7}, {"S04", 7}, {"S05", 7},
        {"S06", 8},  {"S07", 7},  {"S08", 5},
    };
    assert_int_equal(ruleset_ntaxa(RS), 144);
    size_t total = 0;
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        size_t n = 0;
        for (size_t i = 0; i < ruleset_ntaxa(RS); i++) {
            const struct taxon *t = ruleset_taxon_at(RS, i);
            if (strcmp(t->major_code, want[k].major) == 0) {
                n++;
                /* the code belongs to its major category */
                assert_int_equal(strncmp(t->code, want[k].major, 3), 0);
            }
        }
        if (n != want[k].n) {
            fail_msg("%s: %zu codes, want %zu", want[k].major, n, want[k].n);
        }
        total += n;
    }
    assert_int_equal(total, 144);
}

static void expect_row(const char *code, const char *major, const char *name,
                       const char *const *depts, size_t nd)
{
    const struct taxon *t = ruleset_taxon(RS, code);
    assert_non_null(t);
    assert_string_equal(t->major, major);
    assert_string_equal(t->name, name);
    assert_int_equal(t->ndepts, nd);
    for (size_t i = 0; i < nd; i++) {
        assert_string_equal(t->depts[i], depts[i]);
    }
}

static void test_rows(void **state)
{
    (void)state;
    const char *d1[] = {"供水企业"};
    expect_row("B01-01", "公共设施", "上水井盖（市政范围）", d1, 1);
    const char *d2[] = {"电力部门", "属地管理"};
    expect_row("B01-18", "公共设施", "路灯", d2, 2);
    /* the seed writes 物业管理部門 with a traditional 門 */
    const char *d3[] = {"供水企业", "物业管理部门"};
    expect_row("S03-02", "突发事件", "自来水管破裂", d3, 2);
    const char *d4[] = {"绿化市容部门", "公安（交警）部门", "城管执法部门"};
    expect_row("S01-01", "环卫市容", "废弃车辆", d4, 3);
    const char *d5[] = {"安监部门"};
    expect_row("B05-01", "其它设施", "重大危险源", d5, 1);
    const char *d6[] = {"规土部门", "属地管理"};
    expect_row("S07-03", "农村管理", "违法用地", d6, 2);
    const char *d7[] = {"公安部门"};
    expect_row("S08-05", "街面治安", "强讨恶要", d7, 1);
    const char *d8[] = {"属地管理"};
    expect_row("S06-08", "小区管理", "违法搭建", d8, 1);
    assert_null(ruleset_taxon(RS, "B01-46"));
    assert_string_equal(ruleset_taxon_at(RS, 0)->code, "B01-01");
    assert_string_equal(ruleset_taxon_at(RS, 143)->code, "S08-05");
}

static void test_clean(void **state)
{
    (void)state;
    for (size_t i = 0; i < ruleset_ntaxa(RS); i++) {
        const struct taxon *t = ruleset_taxon_at(RS, i);
        assert_int_equal(t->index, i);
        assert_true(t->ndepts >= 1);
        assert_null(strstr(t->name, "門"));
        assert_true(t->name[0] != ' ' && t->name[strlen(t->name) - 1] != ' ');
        for (size_t k = 0; k < t->ndepts; k++) {
            const char *d = t->depts[k];
            assert_null(strstr(d, "門"));
            assert_null(strstr(d, "、"));
            assert_null(strstr(d, "，"));
            assert_null(strchr(d, ' '));
            assert_true(strlen(d) > 0);
        }
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(ruleset_taxon_at(RS, j)->code, t->code);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_clean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
