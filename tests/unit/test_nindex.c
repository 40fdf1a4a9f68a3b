/* test_nindex.c — the in-memory index of recent candidates: bucket
 * queries, the exact chain, the ring overwriting its oldest entries, the
 * feature cache wrapping, forgotten entries, the "being created" mark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gateway/nindex.h"

static struct nindex_key key(uint64_t id, uint64_t sim)
{
    struct nindex_key k = {.id = id,
                           .sim = sim,
                           .head = 0x1111000000000000ULL + id,
                           .tail = 0x2222000000000000ULL + id,
                           .exact = 0x9000 + id};

    return k;
}

static void bands_and_distance(void **state)
{
    struct nindex *ix = nindex_new(1024, 1 << 16);
    struct nindex_key a = key(1, 0x00000000ffff0000ULL);
    struct nindex_key far = key(2, 0xffffffffffff0000ULL); /* band 0 same */
    struct nindex_key q = key(3, 0x00000000ffff0007ULL);   /* 3 bits off a */
    uint64_t out[8];
    size_t n;

    (void)state;
    nindex_add(ix, &a, (uint64_t[]){1, 2, 3}, 3, false);
    nindex_add(ix, &far, NULL, 0, false);
    /* q shares bands 1-3 with a and band 3 with far (both 0x0000), but far
     * is 32 bits away: only a passes max_bits 12. */
    n = nindex_query(ix, &q, 12, 16, NULL, 0, out, 8);
    assert_int_equal(n, 1);
    assert_true(out[0] == 1);
    /* Not itself, not a skipped id. */
    n = nindex_query(ix, &a, 12, 16, NULL, 0, out, 8);
    assert_int_equal(n, 0);
    n = nindex_query(ix, &q, 64, 16, (uint64_t[]){1}, 1, out, 8);
    assert_int_equal(n, 1);
    assert_true(out[0] == 2);
    nindex_free(ix);
}

static void anchors_match_whatever_the_distance(void **state)
{
    struct nindex *ix = nindex_new(1024, 0);
    struct nindex_key a = key(1, 0x0123456789abcdefULL);
    struct nindex_key q = key(2, ~0x0123456789abcdefULL);
    uint64_t out[4];

    (void)state;
    nindex_add(ix, &a, NULL, 0, false);
    q.head = a.head;
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 1);
    /* Same bucket (top 16 bits), different anchor: no match. */
    q.head = a.head ^ 1;
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 0);
    nindex_free(ix);
}

static void exact_chain_and_creating(void **state)
{
    struct nindex *ix = nindex_new(1024, 0);
    struct nindex_key a = key(1, 1), b = key(2, 2);
    uint64_t id;

    (void)state;
    b.exact = a.exact;
    nindex_add(ix, &a, NULL, 0, false);
    nindex_add(ix, &b, NULL, 0, true);
    assert_true(nindex_exact(ix, a.exact, 99, NULL, 0, &id));
    assert_true(id == 2); /* newest first */
    assert_true(nindex_exact(ix, a.exact, 2, NULL, 0, &id));
    assert_true(id == 1);
    assert_false(nindex_exact(ix, a.exact, 2, (uint64_t[]){1}, 1, &id));
    assert_true(nindex_creating(ix, 2));
    assert_false(nindex_creating(ix, 1));
    nindex_settle(ix, 2);
    assert_false(nindex_creating(ix, 2));
    nindex_free(ix);
}

/* cap 1024: the 1025th entry overwrites the first, whose chains end. */
static void ring_forgets_the_oldest(void **state)
{
    struct nindex *ix = nindex_new(1000, 0); /* rounded up to 1024 */
    struct nindex_key k;
    uint64_t id, i;

    (void)state;
    assert_int_equal(nindex_cap(ix), 1024);
    for (i = 1; i <= 1024; i++) {
        k = key(i, i << 20);
        nindex_add(ix, &k, NULL, 0, false);
    }
    assert_true(nindex_exact(ix, 0x9000 + 1, 0, NULL, 0, &id));
    k = key(5000, 5000ULL << 20);
    nindex_add(ix, &k, NULL, 0, false);
    assert_false(nindex_exact(ix, 0x9000 + 1, 0, NULL, 0, &id));
    assert_true(nindex_exact(ix, 0x9000 + 2, 0, NULL, 0, &id));
    assert_true(nindex_exact(ix, 0x9000 + 5000, 0, NULL, 0, &id));
    assert_int_equal(nindex_added(ix), 1025);
    nindex_free(ix);
}

static void feature_cache_wraps(void **state)
{
    struct nindex *ix = nindex_new(1024, 4096 * 8); /* 4096 features */
    uint64_t f[512];
    struct nindex_key k;
    const uint64_t *p;
    size_t n, i;
    uint64_t id;

    (void)state;
    for (id = 1; id <= 20; id++) {
        for (i = 0; i < 512; i++) {
            f[i] = id * 1000 + i;
        }
        k = key(id, id);
        nindex_add(ix, &k, f, 512, false);
    }
    /* 20 x 512 features through 4096: the newest 8 are still there. */
    p = nindex_feats(ix, 20, &n);
    assert_non_null(p);
    assert_int_equal(n, 512);
    assert_true(p[0] == 20000 && p[511] == 20511);
    assert_non_null(nindex_feats(ix, 13, &n));
    assert_null(nindex_feats(ix, 1, &n));
    assert_null(nindex_feats(ix, 11, &n));
    /* Features computed later, for an entry added without. */
    k = key(77, 77);
    nindex_add(ix, &k, NULL, 0, false);
    assert_null(nindex_feats(ix, 77, &n));
    nindex_put_feats(ix, 77, (uint64_t[]){7, 8, 9}, 3);
    p = nindex_feats(ix, 77, &n);
    assert_non_null(p);
    assert_int_equal(n, 3);
    assert_true(p[2] == 9);
    /* More than a quarter of the cache: not kept. */
    nindex_put_feats(ix, 77, f, 512 * 3);
    p = nindex_feats(ix, 77, &n);
    assert_int_equal(n, 3);
    nindex_free(ix);
}

/* A forgotten entry is no possible original and no exact match. */
static void forgotten_entries_are_skipped(void **state)
{
    struct nindex *ix = nindex_new(1024, 0);
    struct nindex_key a = key(1, 0xabcdULL), q = key(2, 0xabcdULL);
    uint64_t out[4], id;

    (void)state;
    q.exact = a.exact;
    nindex_add(ix, &a, NULL, 0, false);
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 1);
    assert_true(nindex_exact(ix, a.exact, 2, NULL, 0, &id));
    nindex_forget(ix, 1);
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 0);
    assert_false(nindex_exact(ix, a.exact, 2, NULL, 0, &id));
    nindex_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bands_and_distance),
        cmocka_unit_test(anchors_match_whatever_the_distance),
        cmocka_unit_test(exact_chain_and_creating),
        cmocka_unit_test(ring_forgets_the_oldest),
        cmocka_unit_test(feature_cache_wraps),
        cmocka_unit_test(forgotten_entries_are_skipped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
