/* test_prefilter.c — the Aho-Corasick automaton: overlapping patterns,
 * UTF-8 boundaries, duplicates, and a brute-force cross-check. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classifiers/prefilter.h"

struct hits {
    uint32_t pat[4096];
    size_t end[4096];
    size_t n;
};

static void collect(void *ud, uint32_t pat, size_t end)
{
    struct hits *h = ud;
    if (h->n < 4096) {
        h->pat[h->n] = pat;
        h->end[h->n] = end;
        h->n++;
    }
}

static bool has(const struct hits *h, uint32_t pat, size_t end)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->pat[i] == pat && h->end[i] == end) {
            return true;
        }
    }
    return false;
}

static struct prefilter *build(const char *const *p, size_t n)
{
    size_t lens[64];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(p[i]);
    }
    return prefilter_build(p, lens, n);
}

static void test_overlap(void **state)
{
    (void)state;
    const char *p[] = {"he", "she", "his", "hers"};
    struct prefilter *pf = build(p, 4);
    struct hits h = {.n = 0};
    prefilter_scan(pf, "ushers", 6, collect, &h);
    assert_int_equal(h.n, 3);
    assert_true(has(&h, 1, 4)); /* she */
    assert_true(has(&h, 0, 4)); /* he  */
    assert_true(has(&h, 3, 6)); /* hers */
    prefilter_free(pf);
}

static void test_utf8(void **state)
{
    (void)state;
    const char *p[] = {"井盖", "盖", "井", "下水道盖子", "水道"};
    struct prefilter *pf = build(p, 5);
    struct hits h = {.n = 0};
    const char *t = "下水道盖子和井盖";
    prefilter_scan(pf, t, strlen(t), collect, &h);
    assert_true(has(&h, 3, 15)); /* 下水道盖子 */
    assert_true(has(&h, 4, 9));  /* 水道 */
    assert_true(has(&h, 1, 12)); /* 盖 in 盖子 */
    assert_true(has(&h, 2, 21)); /* 井 */
    assert_true(has(&h, 0, 24)); /* 井盖 */
    assert_true(has(&h, 1, 24)); /* 盖 */
    assert_int_equal(h.n, 6);
    /* Characters that share bytes with 盖 (E7 9B 96) but are not it:
     * 盒 E7 9B 92, 皖 E7 9A 96; no hit. */
    h.n = 0;
    prefilter_scan(pf, "盒皖盒", 9, collect, &h);
    assert_int_equal(h.n, 0);
    prefilter_free(pf);
}

static void test_duplicates_and_empty(void **state)
{
    (void)state;
    const char *p[] = {"路灯", "路灯"};
    struct prefilter *pf = build(p, 2);
    struct hits h = {.n = 0};
    prefilter_scan(pf, "路灯", 6, collect, &h);
    assert_int_equal(h.n, 2);
    h.n = 0;
    prefilter_scan(pf, "", 0, collect, &h);
    assert_int_equal(h.n, 0);
    prefilter_free(pf);
    pf = prefilter_build(NULL, NULL, 0);
    prefilter_scan(pf, "abc", 3, collect, &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(prefilter_states(pf), 1);
    prefilter_free(pf);
}

/* Random patterns and texts over a small alphabet of CJK and ASCII: the
 * automaton reports exactly the occurrences a naive search finds. */
static void test_bruteforce(void **state)
{
    (void)state;
    const char *alpha[] = {"井", "盖", "门", "a", "b", "灯"};
    srand(11);
    for (int round = 0; round < 300; round++) {
        char pats[20][32];
        const char *pp[20];
        size_t lens[20];
        size_t np = 1 + (size_t)(rand() % 20);
        for (size_t i = 0; i < np; i++) {
            size_t l = 0;
            int k = 1 + rand() % 3;
            for (int j = 0; j < k; j++) {
                const char *c = alpha[rand() % 6];
                memcpy(pats[i] + l, c, strlen(c));
                l += strlen(c);
            }
            pats[i][l] = '\0';
            pp[i] = pats[i];
            lens[i] = l;
        }
        char text[256];
        size_t tl = 0;
        int k = rand() % 40;
        for (int j = 0; j < k; j++) {
            const char *c = alpha[rand() % 6];
            memcpy(text + tl, c, strlen(c));
            tl += strlen(c);
        }
        struct prefilter *pf = prefilter_build(pp, lens, np);
        struct hits h = {.n = 0};
        prefilter_scan(pf, text, tl, collect, &h);
        size_t want = 0;
        for (size_t i = 0; i < np; i++) {
            for (size_t s = 0; s + lens[i] <= tl; s++) {
                if (memcmp(text + s, pats[i], lens[i]) == 0) {
                    want++;
                    assert_true(has(&h, (uint32_t)i, s + lens[i]));
                }
            }
        }
        assert_int_equal(h.n, want);
        for (size_t i = 1; i < h.n; i++) {
            assert_true(h.end[i] >= h.end[i - 1]);
        }
        prefilter_free(pf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_duplicates_and_empty),
        cmocka_unit_test(test_bruteforce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
