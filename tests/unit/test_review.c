/* test_review.c — the review queue's order and admission rule (pure
 * functions of gateway/review.c; the queue in Redis is exercised by
 * test_gateway_engine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/review.h"

#define T0 1795000000LL /* a Unix time in 2026 */

static void high_first_whatever_the_confidence(void **state)
{
    (void)state;
    /* A confident red-line item above an unclassified normal one, and
     * elevated between them. */
    double high = review_score(2, 0.99, T0);
    double elev = review_score(1, 0.99, T0);
    double low = review_score(0, 0.0, T0);
    assert_true(high > elev);
    assert_true(elev > low);
    /* Within a level: lower confidence first, then the older one. */
    assert_true(review_score(0, 0.2, T0) > review_score(0, 0.4, T0));
    assert_true(review_score(0, 0.4, T0 - 60) > review_score(0, 0.4, T0));
    /* Confidence outweighs any age; every score is an exact integer. */
    assert_true(review_score(0, 0.3, T0) > review_score(0, 0.31, 0));
    double s = review_score(2, 0.5, T0);
    assert_true(s == (double)(int64_t)s);
    assert_true(s < 9007199254740992.0);
    /* Out-of-range inputs are clamped, never wrap. */
    assert_true(review_score(7, 2.0, -5) == review_score(2, 1.0, 0));
}

static void who_goes_in(void **state)
{
    (void)state;
    assert_true(review_wanted(false, 0, 0.5, 0));  /* unclassified */
    assert_true(review_wanted(true, 0.3, 0.5, 0)); /* low confidence */
    assert_false(review_wanted(true, 0.7, 0.5, 0));
    assert_true(review_wanted(true, 0.9, 0.5, 1)); /* elevated */
    assert_true(review_wanted(true, 0.9, 0.5, 2)); /* high */
    assert_false(review_wanted(true, 0.5, 0.5, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(high_first_whatever_the_confidence),
        cmocka_unit_test(who_goes_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
