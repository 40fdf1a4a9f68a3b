/* test_rules_shipped.c — the shipped rule base (rules/) loads without an
 * error and every example: / counter: line of every rule passes through
 * the whole rule set (ruleset_selftest). Lint warnings are printed, not
 * failed: they are advice for the rule authors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classifiers/classifier.h"
#include "core/diag.h"
#include "core/err.h"
#include "tests/lib/test_dirs.h"

static void test_shipped(void **state)
{
    (void)state;
    const char *src = test_source_dir();
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/rules", src);
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = NULL;
    int rc = ruleset_load(dir, &rs, &d);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);
    assert_int_equal(ruleset_ntaxa(rs), 144);
    assert_true(ruleset_nrules(rs) > 0);
    ig_diags_fini(&d);
    ig_diags_init(&d);
    ruleset_lint(rs, &d);
    int failures = ruleset_selftest(rs, &d);
    ig_diags_print(&d, stderr);
    fprintf(stderr, "%zu rules, %d failing example/counter lines\n",
            ruleset_nrules(rs), failures);
    assert_int_equal(failures, 0);
    ig_diags_fini(&d);
    ruleset_unref(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
