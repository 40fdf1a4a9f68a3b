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

/* The hits of a naive search, in the automaton's order: by end offset,
 * then as the automaton lists a state's patterns (longest first along the
 * failure chain; among equal ones, the later pattern first). Only the set
 * and the end order are compared here. */
static void check_against_naive(const struct hits *h, const char *const *pp,
                                const size_t *lens, size_t np, const char *text,
                                size_t tl)
{
    size_t want = 0;
    for (size_t i = 0; i < np; i++) {
        for (size_t s = 0; s + lens[i] <= tl; s++) {
            if (memcmp(text + s, pp[i], lens[i]) == 0) {
                want++;
                assert_true(has(h, (uint32_t)i, s + lens[i]));
            }
        }
    }
    assert_int_equal(h->n, want);
    for (size_t i = 1; i < h->n; i++) {
        assert_true(h->end[i] >= h->end[i - 1]);
    }
}

static void assert_same_hits(const struct hits *a, const struct hits *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->pat[i], b->pat[i]);
        assert_int_equal(a->end[i], b->end[i]);
    }
}

/* Pieces of UTF-8 of every length, plus ASCII: random texts made of them
 * are UTF-8, and patterns cut from them start and end anywhere. */
static const char *const pieces[] = {
    "井",
    "盖",
    "门",
    "灯",
    "a",
    "b",
    "Z",
    "\xC3\xA9",
    "\xC3\xA8",
    "\xF0\x9F\x98\x80",
    "\xF0\x9F\x98\x81",
    "\xE4\xB8\x80",
    "\xE9\xBE\xA5",
    "\xEF\xBC\x81",
    "\n",
    "1",
};
#define NPIECES (sizeof(pieces) / sizeof(pieces[0]))

static size_t rand_utf8(char *out, int k, size_t npieces)
{
    size_t l = 0;
    for (int j = 0; j < k; j++) {
        const char *c = pieces[(size_t)rand() % npieces];
        memcpy(out + l, c, strlen(c));
        l += strlen(c);
    }
    return l;
}

/* UTF-8 patterns (the split-row layout) over UTF-8 texts: the fast scan,
 * the checking scan and a naive search agree, hit for hit. */
static void test_utf8_fast_scan(void **state)
{
    (void)state;
    srand(29);
    for (int round = 0; round < 500; round++) {
        char pats[24][64];
        const char *pp[24];
        size_t lens[24];
        size_t np = 1 + (size_t)(rand() % 24);
        size_t npieces = 4 + (size_t)(rand() % (NPIECES - 3));
        for (size_t i = 0; i < np; i++) {
            lens[i] = rand_utf8(pats[i], 1 + rand() % 4, npieces);
            pp[i] = pats[i];
        }
        char text[1024];
        size_t tl = rand_utf8(text, rand() % 120, npieces);
        struct prefilter *pf = prefilter_build(pp, lens, np);
        static struct hits h1, h2;
        h1.n = h2.n = 0;
        prefilter_scan(pf, text, tl, collect, &h1);
        prefilter_scan_utf8(pf, text, tl, collect, &h2);
        check_against_naive(&h1, pp, lens, np, text, tl);
        assert_same_hits(&h1, &h2);
        prefilter_free(pf);
    }
}

/* Any bytes: texts with stray continuation bytes, characters cut short and
 * bytes no UTF-8 has, against UTF-8 patterns and against patterns that
 * are not UTF-8 (which take the one-kind layout): prefilter_scan() finds
 * exactly what a naive search finds. prefilter_scan_utf8() on such text
 * must stay inside the table and report no hit before its pattern's
 * length (ASan watches the first). */
static void test_any_bytes(void **state)
{
    (void)state;
    srand(31);
    const unsigned char bytes[] = {0xE4, 0xB8, 0x80, 0xBF, 0xC3, 0xA9,
                                   0xF0, 0x9F, 0x98, 'a',  'b',  0xFF,
                                   0x00, 0xE9, 0xBE, 0xA5, 0xEF, 0x80};
    for (int round = 0; round < 600; round++) {
        char pats[16][32];
        const char *pp[16];
        size_t lens[16];
        size_t np = 1 + (size_t)(rand() % 16);
        bool raw_pats = round % 3 == 0;
        for (size_t i = 0; i < np; i++) {
            if (raw_pats) {
                size_t l = 1 + (size_t)(rand() % 6);
                for (size_t k = 0; k < l; k++) {
                    pats[i][k] = (char)bytes[(size_t)rand() % sizeof(bytes)];
                }
                lens[i] = l;
            } else {
                lens[i] = rand_utf8(pats[i], 1 + rand() % 3, NPIECES);
            }
            pp[i] = pats[i];
        }
        char text[512];
        size_t tl = 0;
        int k = rand() % 200;
        for (int j = 0; j < k; j++) {
            if (rand() % 3) {
                text[tl++] = (char)bytes[(size_t)rand() % sizeof(bytes)];
            } else {
                tl += rand_utf8(text + tl, 1, NPIECES);
            }
        }
        struct prefilter *pf = prefilter_build(pp, lens, np);
        static struct hits h;
        h.n = 0;
        prefilter_scan(pf, text, tl, collect, &h);
        check_against_naive(&h, pp, lens, np, text, tl);
        h.n = 0;
        prefilter_scan_utf8(pf, text, tl, collect, &h);
        for (size_t i = 0; i < h.n; i++) {
            assert_true(h.pat[i] < np);
            assert_true(h.end[i] >= lens[h.pat[i]] && h.end[i] <= tl);
        }
        prefilter_free(pf);
    }
}

/* Enough patterns for the 32-bit layout (more than 65,535 units of 16
 * entries): both scans still agree with a naive search. */
static void test_wide_table(void **state)
{
    (void)state;
    srand(37);
    enum { NP = 6000 };
    static char pats[NP][16];
    static const char *pp[NP];
    static size_t lens[NP];
    for (size_t i = 0; i < NP; i++) {
        /* three random CJK characters: 9 trie states each, most of them
         * inside a character (64 columns) */
        size_t l = 0;
        for (int j = 0; j < 3; j++) {
            unsigned cp = 0x4E00 + (unsigned)(rand() % 0x5000);
            pats[i][l++] = (char)(0xE0 | (cp >> 12));
            pats[i][l++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            pats[i][l++] = (char)(0x80 | (cp & 0x3F));
        }
        lens[i] = l;
        pp[i] = pats[i];
    }
    struct prefilter *pf = prefilter_build(pp, lens, NP);
    assert_true(prefilter_bytes(pf) > (size_t)65535 * 16 * 2);
    char text[4096];
    size_t tl = 0;
    for (int j = 0; j < 300; j++) {
        const char *src = pp[(size_t)rand() % NP];
        size_t off = j % 2 ? 0 : 3; /* whole, or from its 2nd character */
        memcpy(text + tl, src + off, 9 - off);
        tl += 9 - off;
    }
    static struct hits h1, h2;
    h1.n = h2.n = 0;
    prefilter_scan(pf, text, tl, collect, &h1);
    prefilter_scan_utf8(pf, text, tl, collect, &h2);
    check_against_naive(&h1, pp, lens, NP, text, tl);
    assert_same_hits(&h1, &h2);
    assert_true(h1.n >= 150);
    prefilter_free(pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_duplicates_and_empty),
        cmocka_unit_test(test_bruteforce),
        cmocka_unit_test(test_utf8_fast_scan),
        cmocka_unit_test(test_any_bytes),
        cmocka_unit_test(test_wide_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
