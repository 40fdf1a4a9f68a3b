/* test_simhash.c — normalisation, bigrams, SimHash and Jaccard: the pure
 * half of deduplication. The texts are written for these tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "gateway/candidate.h"
#include "core/text.h"
#include "gateway/simhash.h"

static char *norm(const char *s)
{
    struct ig_buf b;

    ig_buf_init(&b, 0);
    assert_int_equal(simhash_normalise(s, strlen(s), &b), IG_OK);
    return ig_buf_take(&b);
}

static double jac(const char *x, const char *y)
{
    char *a = norm(x), *b = norm(y);
    uint64_t *ka, *kb;
    size_t na = simhash_bigrams(a, strlen(a), &ka);
    size_t nb = simhash_bigrams(b, strlen(b), &kb);
    double j = simhash_jaccard(ka, na, kb, nb);

    ig_free(ka);
    ig_free(kb);
    ig_free(a);
    ig_free(b);
    return j;
}

static uint64_t sh(const char *x)
{
    char *a = norm(x);
    uint64_t *k;
    size_t n = simhash_bigrams(a, strlen(a), &k);
    uint64_t h = simhash_of(k, n);

    ig_free(k);
    ig_free(a);
    return h;
}

static void normalise_drops_what_retyping_changes(void **state)
{
    char *a = norm("南港路 23 号，井盖破损！");
    char *b = norm("南港路23号井盖破损");
    char *c = norm("ＡＢＣ１２３ Road-7");
    char *d = norm("\xff\xfe"
                   "abc"); /* invalid bytes are dropped */

    (void)state;
    assert_string_equal(a, b);
    assert_string_equal(c, "abc123road7");
    assert_string_equal(d, "abc");
    ig_free(a);
    ig_free(b);
    ig_free(c);
    ig_free(d);
}

static void normalise_cap_is_reported(void **state)
{
    struct ig_buf b;

    (void)state;
    ig_buf_init(&b, 7);
    /* Three ideographs need 9 bytes; the prefix kept is two whole ones. */
    assert_int_equal(simhash_normalise("井盖坏", 9, &b), IG_E2BIG);
    assert_int_equal(b.len, 6);
    ig_buf_fini(&b);
}

static void bigrams_distinct(void **state)
{
    uint64_t *k;
    size_t n;

    (void)state;
    n = simhash_bigrams("abab", 4, &k);
    assert_int_equal(n, 2); /* ab, ba, in order of appearance */
    assert_true(k[0] == (((uint64_t)'a' << 32) | 'b'));
    assert_true(k[1] == (((uint64_t)'b' << 32) | 'a'));
    ig_free(k);
    n = simhash_bigrams("水", 3, &k);
    assert_int_equal(n, 1); /* one unigram */
    ig_free(k);
    n = simhash_bigrams("", 0, &k);
    assert_int_equal(n, 0);
    ig_free(k);
}

/* The hashed sets against a brute-force count, on random texts from tiny
 * to larger than the on-stack table (3000 code points). */
static size_t distinct_naive(const uint64_t *k, size_t n)
{
    size_t i, j, d = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < i && k[j] != k[i]; j++) {
        }
        d += j == i;
    }
    return d;
}

/* simhash_set_overlap() of the keys b[0..nb): given wide, and packed too
 * when they pack; the two must agree. */
static size_t overlap(const struct simhash_set *set, const uint64_t *b,
                      size_t nb, size_t need)
{
    uint32_t *u = calloc(2 * nb + 1, sizeof(*u));
    bool packs = true;
    size_t got;

    for (size_t i = 0; i < nb; i++) {
        packs &= simhash_key_packs(b[i]);
    }
    simhash_units_put(b, nb, true, u);
    got = simhash_set_overlap(set, u, nb, true, need);
    if (packs) {
        simhash_units_put(b, nb, false, u);
        assert_int_equal(simhash_set_overlap(set, u, nb, false, need), got);
    }
    free(u);
    return got;
}

/* Keys in units: each key back exactly, wide always, packed when both
 * code points are below 2^16 (and only then); at the edges of the code
 * point range too. */
static void keys_in_units(void **state)
{
    static const uint32_t edge[] = {0,       1,       0x7f,     0x4e00,  0xffff,
                                    0x10000, 0x1f600, 0x10ffff, 0x1fffff};
    uint64_t keys[200], rng = 7;
    uint32_t u[400];
    size_t n = 0, i, j;

    (void)state;
    for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        for (j = 0; j < sizeof(edge) / sizeof(edge[0]); j++) {
            keys[n++] = (uint64_t)edge[i] << 32 | edge[j];
        }
    }
    while (n < 200) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        keys[n++] = (rng >> 11) & 0x001FFFFF001FFFFFull;
    }
    simhash_units_put(keys, n, true, u);
    for (i = 0; i < n; i++) {
        uint64_t hi = keys[i] >> 32, lo = keys[i] & 0xffffffff;

        assert_true(simhash_unit_key(u, i, true) == keys[i]);
        assert_int_equal(simhash_key_packs(keys[i]),
                         hi < 0x10000 && lo < 0x10000);
    }
    for (i = 0; i < n; i++) {
        if (simhash_key_packs(keys[i])) {
            simhash_units_put(&keys[i], 1, false, u);
            assert_true(simhash_unit_key(u, 0, false) == keys[i]);
        }
    }
}

static void jaccard_matches_brute_force(void **state)
{
    static char a[12000], b[12000];
    uint64_t rng = 42, *ka, *kb, *all;
    int it;

    (void)state;
    all = malloc(2 * 12000 * sizeof(*all));
    for (it = 0; it < 60; it++) {
        size_t la = 0, lb = 0, na, nb, i, inter;
        int ncp = it < 50 ? it % 50 : 3000, alpha = 2 + it % 40;
        double j;

        for (i = 0; i < (size_t)ncp; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            la += ig_utf8_encode(0x4e00 + (uint32_t)(rng % (uint64_t)alpha),
                                 a + la);
            lb += ig_utf8_encode(
                0x4e00 + (uint32_t)((rng >> 20) % (uint64_t)alpha), b + lb);
        }
        na = simhash_bigrams(a, la, &ka);
        nb = simhash_bigrams(b, lb, &kb);
        memcpy(all, ka, na * sizeof(*all));
        assert_int_equal(distinct_naive(all, na), na);
        memcpy(all + na, kb, nb * sizeof(*all));
        /* |A n B| = |A| + |B| - |A u B| */
        inter = na + nb - distinct_naive(all, na + nb);
        j = simhash_jaccard(ka, na, kb, nb);
        if (na + nb > 0) {
            assert_true(j == (double)inter / (double)(na + nb - inter));
        }
        /* The prebuilt set: the exact overlap when it reaches need, less
         * than need otherwise. */
        {
            struct simhash_set *set = simhash_set_new(ka, na);

            assert_int_equal(overlap(set, kb, nb, 0), inter);
            assert_int_equal(overlap(set, kb, nb, inter), inter);
            assert_true(overlap(set, kb, nb, inter + 1) < inter + 1);
            simhash_set_free(set);
        }
        ig_free(ka);
        ig_free(kb);
    }
    free(all);
}

/* SimHash the slow way: 64 signed counters over splitmix64-mixed keys. */
static uint64_t mix64_ref(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t simhash_naive(const uint64_t *k, size_t n)
{
    long c[64] = {0};
    uint64_t h = 0;
    size_t i;
    int b;

    for (i = 0; i < n; i++) {
        uint64_t f = mix64_ref(k[i]);

        for (b = 0; b < 64; b++) {
            c[b] += (f >> b) & 1 ? 1 : -1;
        }
    }
    for (b = 0; b < 64; b++) {
        if (c[b] > 0) {
            h |= 1ULL << b;
        }
    }
    return h;
}

/* The bigram keys of s[0..n) by definition: adjacent valid code points,
 * first appearance order, duplicates dropped by a linear search; the
 * unigram of a text of one code point. Returns the count. */
static size_t bigrams_naive(const char *s, size_t n, uint64_t *want)
{
    size_t nw = 0, j = 0, ncps = 0, d;
    uint32_t prev = 0, cp;

    while (j < n) {
        j += ig_utf8_decode(s + j, n - j, &cp);
        if (cp == IG_UTF8_INVALID) {
            continue;
        }
        if (ncps++ > 0) {
            uint64_t k = ((uint64_t)prev << 32) | cp;

            for (d = 0; d < nw && want[d] != k; d++) {
            }
            if (d == nw) {
                want[nw++] = k;
            }
        }
        prev = cp;
    }
    if (ncps == 1) {
        want[nw++] = prev;
    }
    return nw;
}

/* simhash_bigrams() against a brute-force distinct count and simhash_of()
 * against the naive SimHash, on texts from empty and one code point to 3000
 * code points (more than 255 distinct keys: simhash_of()'s byte counters
 * are emptied on the way; more than the per-thread table holds: the
 * allocated one), mixing CJK, ASCII and invalid bytes. Many calls in a row
 * also check that one call's keys never leak into the next's set. */
static void bigrams_sim_matches_naive(void **state)
{
    static char a[16000];
    uint64_t rng = 7, *k1, sim;
    int it;

    (void)state;
    for (it = 0; it < 80; it++) {
        size_t la = 0, n1, i;
        int ncp = it < 60 ? it : 300 * (it - 59), alpha = 2 + it * 7 % 900;

        for (i = 0; i < (size_t)ncp; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            if (rng % 11 == 0) {
                a[la++] = (char)('a' + rng % 26);
            } else if (rng % 13 == 0) {
                a[la++] = (char)0xff; /* invalid: skipped */
            } else {
                la += ig_utf8_encode(
                    0x4e00 + (uint32_t)((rng >> 8) % (uint64_t)alpha), a + la);
            }
        }
        n1 = simhash_bigrams(a, la, &k1);
        {
            static uint64_t want[16000];
            size_t nw = bigrams_naive(a, la, want);

            assert_int_equal(n1, nw);
            assert_memory_equal(k1, want, nw * sizeof(*want));
        }
        sim = simhash_of(k1, n1);
        assert_true(sim == (n1 ? simhash_naive(k1, n1) : 0));
        ig_free(k1);
    }
}

/* simhash_of() against the naive SimHash for every count 0..140 (full
 * blocks of sixteen and every size of the padded last one), on random
 * keys and on keys that all hash alike (every count at n). */
static void simhash_of_every_count(void **state)
{
    static uint64_t k[140];
    uint64_t rng = 13;

    (void)state;
    for (size_t n = 0; n <= 140; n++) {
        for (size_t i = 0; i < n; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            k[i] = rng;
        }
        assert_true(simhash_of(k, n) == (n ? simhash_naive(k, n) : 0));
        for (size_t i = 0; i < n; i++) {
            k[i] = 42;
        }
        assert_true(simhash_of(k, n) == (n ? simhash_naive(k, n) : 0));
    }
}

static void jaccard_separates_reposts_from_neighbours(void **state)
{
    const char *orig =
        "青浦区盈港东路某小区北门外的人行道上有一个窨井盖缺失多日，"
        "晚上路灯不亮，已经有老人差点踩空摔倒，希望有关部门尽快处理。";
    const char *repost =
        "青浦区盈港东路某小区北门外的人行道上有一个窨井盖缺失多日，"
        "晚上路灯不亮，已经有老人差点踩空摔倒，希望有关部门尽快处理。"
        "附近还有一所幼儿园，接送孩子的家长很多。";
    const char *short_a = "华新镇华腾路积水严重";
    const char *short_b = "华新镇华腾路路灯不亮";

    (void)state;
    assert_true(jac(orig, repost) >= 0.6);
    assert_true(jac(orig, orig) == 1.0);
    /* Two short posts about one road but different hazards. */
    assert_true(jac(short_a, short_b) < 0.5);
    assert_true(simhash_distance(sh(orig), sh(repost)) <
                simhash_distance(sh(orig), sh(short_b)));
    assert_true(jac("", "") == 1.0);
}

/* simhash_set_overlap() against a brute-force intersection, for sets
 * with a chosen overlap (B = part of A plus keys of its own), sizes 0 to
 * 600 (beyond the 256-bit signature's useful range) and every need from 0
 * to past the smaller set: the exact count when it reaches need, a count
 * below need otherwise. */
/* The overlap the straightforward way: each key of b looked for in a. */
static size_t overlap_naive(const uint64_t *a, size_t na, const uint64_t *b,
                            size_t nb)
{
    size_t inter = 0;

    for (size_t i = 0; i < nb; i++) {
        for (size_t j = 0; j < na; j++) {
            if (a[j] == b[i]) {
                inter++;
                break;
            }
        }
    }
    return inter;
}

/* Checks simhash_set_overlap() of a against b for every need from 0 to
 * past the smaller set: the exact count when it reaches need, a count
 * below need otherwise. */
static void check_overlap(const uint64_t *a, size_t na, const uint64_t *b,
                          size_t nb)
{
    struct simhash_set *set = simhash_set_new(a, na);
    size_t inter = overlap_naive(a, na, b, nb);
    size_t top = (na < nb ? na : nb) + 2;

    for (size_t need = 0; need <= top; need++) {
        size_t got = overlap(set, b, nb, need);

        if (inter >= need) {
            assert_int_equal(got, inter);
        } else {
            assert_true(got < need);
        }
    }
    simhash_set_free(set);
}

static void set_overlap_matches_brute_force(void **state)
{
    static uint64_t a[600], b[600];
    uint64_t rng = 99;
    int it;

    (void)state;
    for (it = 0; it < 300; it++) {
        size_t na, nb, common, i, j;

        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        na = it < 20 ? (size_t)it : (size_t)(rng % 600);
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        common = na ? (size_t)(rng % (na + 1)) : 0;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        nb = common + (size_t)(rng % (600 - common + 1)) % 120;
        /* Keys shaped like bigrams (two code points); A's are distinct
         * by construction, B's own ones lie outside A's range. */
        for (i = 0; i < na; i++) {
            a[i] = ((uint64_t)(0x4e00 + i) << 32) | (uint32_t)(0x4e00 + i % 7);
        }
        for (i = 0; i < nb; i++) {
            b[i] = i < common ? a[(i * 7 + (size_t)it) % na]
                              : ((uint64_t)(0x8000 + i) << 32) | 0x5000;
        }
        /* (i * 7 + it) % na repeats when 7 divides na: drop repeats. */
        for (i = 0, j = 0; i < nb; i++) {
            size_t k;

            for (k = 0; k < j && b[k] != b[i]; k++) {
            }
            if (k == j) {
                b[j++] = b[i];
            }
        }
        nb = j;
        check_overlap(a, na, b, nb);
    }
}

/* n distinct keys shaped like bigrams; with crowd, keys whose slot in a
 * table of the size simhash_set_new() picks for n keys (16 slots at
 * least, twice the keys) is one of its last two, so probes run long and
 * wrap around the table's end. */
static void make_keys(uint64_t *k, size_t n, uint32_t base, bool crowd)
{
    size_t m = 16;
    unsigned sh;
    uint64_t c = 0;

    while (m < 2 * n) {
        m <<= 1;
    }
    sh = 64u - (unsigned)__builtin_ctzll((unsigned long long)m);
    for (size_t i = 0; i < n; c++) {
        uint64_t key = ((uint64_t)(base + (c >> 12)) << 32) |
                       (uint32_t)(0x4e00 + (c & 0xfff));

        if (!crowd || ((key * 0x9E3779B97F4A7C15ULL) >> sh) >= m - 2) {
            k[i++] = key;
        }
    }
}

/* simhash_set_overlap() (one pass that stops once need is out of reach)
 * against the straightforward count, for every pair of sizes 0..64 and
 * some large ones: equal sets (in another order), disjoint sets, random
 * overlaps, and keys crowded into the same few table slots. */
static void set_overlap_every_shape(void **state)
{
    static uint64_t a[4096], b[4096], pool[8192];
    uint64_t rng = 7;
    size_t sizes[] = {100, 255, 256, 1000, 4096};

    (void)state;
    for (size_t na = 0; na <= 64; na++) {
        for (size_t nb = 0; nb <= 64; nb++) {
            bool crowd = (na + nb) % 3 == 0;
            size_t i;

            make_keys(a, na, 0x4e00, crowd);
            /* Disjoint: another first code point. */
            make_keys(b, nb, 0x9000, crowd);
            check_overlap(a, na, b, nb);
            /* Equal (reversed) when the sizes match; else b takes a
             * random part of a and keys of its own. */
            for (i = 0; i < nb && i < na; i++) {
                b[i] = a[na - 1 - i];
            }
            check_overlap(a, na, b, nb);
            make_keys(pool, na + nb, 0x4e00, crowd);
            memcpy(a, pool, na * sizeof(*a));
            for (i = 0; i < nb; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                b[i] = pool[na + i]; /* not in a */
                if (na > 0 && rng % 3 != 0) {
                    size_t j = (size_t)(rng >> 8) % na, k;

                    for (k = 0; k < i && b[k] != a[j]; k++) {
                    }
                    if (k == i) {
                        b[i] = a[j];
                    }
                }
            }
            check_overlap(a, na, b, nb);
        }
    }
    for (size_t x = 0; x < sizeof(sizes) / sizeof(sizes[0]); x++) {
        size_t n = sizes[x], i;

        make_keys(a, n, 0x4e00, x % 2);
        for (i = 0; i < n; i++) {
            b[i] = a[n - 1 - i];
        }
        check_overlap(a, n, b, n); /* equal */
        make_keys(b, n, 0x9000, x % 2);
        check_overlap(a, n, b, n); /* disjoint */
        for (i = 0; i < n; i += 2) {
            b[i] = a[i]; /* half shared */
        }
        check_overlap(a, n, b, n);
        check_overlap(a, n / 3, b, n);
        check_overlap(a, n, b, n / 3);
    }
}

/* simhash_normalise_keys() of in[0..n) (copied to a block of exactly n
 * bytes, so a sanitizer sees any read past it) with cap max against its
 * definition: simhash_normalise_to() (which collects nothing, so it takes
 * no block path), the output capped by ig_utf8_trim_len() and the bigrams
 * of that by bigrams_naive(). */
static void expect_keys(const char *in, size_t n, size_t max)
{
    static char out1[4001], out2[4001];
    static uint64_t k1[4001], k2[4001];
    char *s = malloc(n ? n : 1);
    size_t len1, len2, cap1, cap2, nk1, nk2;

    assert_true(n < sizeof(out1));
    memcpy(s, in, n);
    len1 = simhash_normalise_to(s, n, out1);
    cap1 = ig_utf8_trim_len(out1, len1, max);
    nk1 = bigrams_naive(out1, cap1, k1);
    len2 = simhash_normalise_keys(s, n, out2, max, &cap2, k2, &nk2);
    assert_int_equal(len1, len2);
    assert_memory_equal(out1, out2, len1 + 1);
    assert_int_equal(cap1, cap2);
    assert_int_equal(nk1, nk2);
    assert_memory_equal(k1, k2, nk1 * sizeof(k1[0]));
    free(s);
}

/* simhash_normalise_keys() against its definition (expect_keys()) on
 * random mixes of ASCII (upper case, punctuation), CJK, fullwidth
 * forms, CJK punctuation, other scripts, emoji and invalid bytes, with
 * caps from 0 to beyond the output. */
static void normalise_keys_matches_two_passes(void **state)
{
    static const uint32_t pool[] = {
        'A', 'z', '7', ' ', ',', 0x4e00, 0x4e8c, 0x9fff, 0x3002, 0xff0c,
        0xff21, 0xff41, 0xff10, 0x0416, 0x00e9, 0x00a0, 0x2014, 0x1f600,
        0x3400, 0xfe10, 0x00d7, 0x0391};
    static char in[4000];
    uint64_t rng = 5;
    int it;

    (void)state;
    for (it = 0; it < 400; it++) {
        size_t n = 0, ncp = it < 100 ? (size_t)(it % 12) : (size_t)(rng % 900), i;
        size_t max;
        int alpha = 2 + it % 9;

        for (i = 0; i < ncp; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            if (rng % 17 == 0) {
                in[n++] = (char)(0x80 + rng % 0x80); /* invalid alone */
            } else if (rng % 3 == 0) {
                n += ig_utf8_encode(pool[(rng >> 8) % (sizeof(pool) /
                                                      sizeof(pool[0]))],
                                    in + n);
            } else {
                n += ig_utf8_encode(0x4e00 + (uint32_t)((rng >> 8) %
                                                        (uint64_t)alpha),
                                    in + n);
            }
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        max = it % 4 == 0 ? rng % 8 : it % 4 == 1 ? rng % (n + 1) : n + 5;
        expect_keys(in, n, max);
    }
}

/* The block path of simhash_normalise_keys() (five ideographs per 16-byte
 * test): runs of 0..30 ideographs (with repeats, E4 leads on both sides
 * of U+4E00) cut at every byte, with one other character or stray byte
 * inserted at every offset, each with caps around every block boundary;
 * then random bytes from the ranges the block test looks at. */
static void normalise_keys_blocks(void **state)
{
    /* clang-format off */
    static const char *const odd[] = {
        "\xe4\xb7\xbf", /* U+4DFF: E4 lead, below U+4E00 (kept) */
        "\xe3\x80\x82", /* U+3002: noise */
        "\xea\xb0\x80", /* U+AC00: lead past E9 (kept) */
        "\xef\xbc\x8c", /* full-width comma: noise */
        "\xef\xbc\xa1", /* full-width A: folded */
        "\xed\xa0\x80", /* a surrogate: dropped */
        "\x80", "\xe5", "\xe5\xb8", "A", "7", " ", "\xc3\xa9",
    };
    static const char *const ideo[] = {
        "\xe4\xb8\x80", "\xe4\xbf\xbf", "\xe9\xbf\xbf", "井", "盖",
        "路",
    };
    /* clang-format on */
    char run[3 * 30], buf[3 * 30 + 8], rb[300];
    uint64_t rng = 3;

    (void)state;
    for (size_t chars = 0; chars <= 30; chars++) {
        size_t rl = 0;

        for (size_t c = 0; c < chars; c++) {
            memcpy(run + rl, ideo[(c * c + chars) % 6], 3);
            rl += 3;
        }
        for (size_t cut = 0; cut <= rl; cut++) {
            for (size_t max = 0; max <= cut + 1; max++) {
                expect_keys(run, cut, max);
            }
        }
        for (size_t d = 0; d < sizeof(odd) / sizeof(odd[0]); d++) {
            size_t dl = strlen(odd[d]);

            for (size_t at = 0; at <= rl; at++) {
                memcpy(buf, run, at);
                memcpy(buf + at, odd[d], dl);
                memcpy(buf + at + dl, run + at, rl - at);
                expect_keys(buf, rl + dl, rl + dl);
                expect_keys(buf, rl + dl, at + 16);
                expect_keys(buf, rl + dl, (at * 7) % (rl + dl + 1));
            }
        }
    }
    for (int it = 0; it < 20000; it++) {
        size_t n, i;

        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        n = (size_t)(rng % sizeof(rb));
        for (i = 0; i < n; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            if (rng % 3 == 0 && i + 3 <= n) {
                memcpy(rb + i, ideo[(rng >> 8) % 6], 3);
                i += 2;
            } else if (rng % 3 == 1) {
                rb[i] = (char)(0xE3 + (rng >> 8) % 8); /* E3..EA */
            } else {
                rb[i] = (char)(0x7F + (rng >> 8) % 0x42); /* 7F..C0 */
            }
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        expect_keys(rb, n, it % 2 ? n : (size_t)(rng % (n + 1)));
    }
}

/* simhash_hash64() against a byte-at-a-time FNV-1a with the same seed and
 * final mix, for every length 0..200 (the unrolled loop and its tail). */
static void hash64_matches_plain_fnv(void **state)
{
    unsigned char buf[200];
    uint64_t rng = 11;
    size_t n, i;

    (void)state;
    for (i = 0; i < sizeof(buf); i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        buf[i] = (unsigned char)rng;
    }
    for (n = 0; n <= sizeof(buf); n++) {
        uint64_t seed = n * 0x9E3779B97F4A7C15ULL;
        uint64_t h = 0xcbf29ce484222325ULL ^ mix64_ref(seed);

        for (i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ULL;
        }
        assert_true(simhash_hash64(buf, n, seed) == mix64_ref(h ^ n));
    }
}

/* simhash_hex64() against printf's %016llx: every nibble value in every
 * place, both ends, and random values. */
static void hex64_matches_printf(void **state)
{
    uint64_t rng = 17;

    (void)state;
    for (int i = 0; i < 5000; i++) {
        char got[17], want[32];
        uint64_t v;

        if (i < 256) {
            v = (uint64_t)(i % 16) << (4 * (i / 16)); /* nibble, place */
        } else if (i < 258) {
            v = i == 256 ? 0 : ~0ULL;
        } else {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            v = rng;
        }
        memset(got, 'x', sizeof(got));
        simhash_hex64(v, got);
        snprintf(want, sizeof(want), "%016llx", (unsigned long long)v);
        assert_memory_equal(got, want, 17);
    }
}

static void hash_and_ids_are_deterministic(void **state)
{
    char a[CANDIDATE_ID_LEN + 1], b[CANDIDATE_ID_LEN + 1];
    char c[CANDIDATE_ID_LEN + 1], hex[17];

    (void)state;
    assert_int_equal(simhash_hash64("x", 1, 1), simhash_hash64("x", 1, 1));
    assert_int_not_equal(simhash_hash64("x", 1, 1), simhash_hash64("x", 1, 2));
    simhash_hex64(0x0123456789abcdefULL, hex);
    assert_string_equal(hex, "0123456789abcdef");
    candidate_id("hotline", "WO-1", NULL, a);
    candidate_id("hotline", "WO-1", "ffff", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), CANDIDATE_ID_LEN);
    /* Source and id are separated, so "ab"+"c" differs from "a"+"bc". */
    candidate_id("ab", "c", NULL, b);
    candidate_id("a", "bc", NULL, c);
    assert_string_not_equal(b, c);
    candidate_id("hotline", NULL, "0011223344556677", b);
    candidate_id("hotline", "", "0011223344556677", c);
    assert_string_equal(b, c);
    assert_string_not_equal(a, b);
    /* Ids are idempotency keys downstream and keys in Redis: pinned, so a
     * rewrite of the function cannot change them unnoticed. */
    assert_string_equal(a, "520f8b04c2b65b14");
    candidate_id("web-board", NULL, "00ff00ff00ff00ff", b);
    assert_string_equal(b, "87f0ab96245f5220");
    {
        /* A source id longer than the on-stack buffer. */
        char big[400];

        memset(big, 's', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        candidate_id(big, "WO-1", NULL, b);
        candidate_id(big, "WO-1", NULL, c);
        assert_string_equal(b, c);
        assert_string_not_equal(a, b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalise_drops_what_retyping_changes),
        cmocka_unit_test(normalise_cap_is_reported),
        cmocka_unit_test(bigrams_distinct),
        cmocka_unit_test(jaccard_separates_reposts_from_neighbours),
        cmocka_unit_test(keys_in_units),
        cmocka_unit_test(jaccard_matches_brute_force),
        cmocka_unit_test(bigrams_sim_matches_naive),
        cmocka_unit_test(simhash_of_every_count),
        cmocka_unit_test(hash_and_ids_are_deterministic),
        cmocka_unit_test(hash64_matches_plain_fnv),
        cmocka_unit_test(hex64_matches_printf),
        cmocka_unit_test(normalise_keys_matches_two_passes),
        cmocka_unit_test(normalise_keys_blocks),
        cmocka_unit_test(set_overlap_matches_brute_force),
        cmocka_unit_test(set_overlap_every_shape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
