/* test_norm.c — text normalisation (core/norm.h): folding, CJK spacing,
 * invalid UTF-8, and the offset map back to the original. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "core/norm.h"
#include "core/text.h"

static void expect_norm(const char *in, size_t len, const char *want)
{
    size_t n;
    char *got = ig_norm_str(in, len, &n);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
    ig_free(got);
}

static void test_fold(void **state)
{
    (void)state;
    expect_norm("ＡＢＣ１２ｘ", strlen("ＡＢＣ１２ｘ"), "abc12x");
    expect_norm("PM2.5 HELLO", 11, "pm2.5 hello");
    expect_norm("門馬車燈橋廁", strlen("門馬車燈橋廁"), "门马车灯桥厕");
    expect_norm("路燈壞了，電線桿傾斜", strlen("路燈壞了，電線桿傾斜"),
                "路灯坏了,电线杆倾斜");
    /* simplified text is unchanged */
    expect_norm("小区门口井盖破损", strlen("小区门口井盖破损"),
                "小区门口井盖破损");
    assert_int_equal(ig_norm_fold(0x9580), 0x95E8); /* 門 -> 门 */
    assert_int_equal(ig_norm_fold('Q'), 'q');
    assert_int_equal(ig_norm_fold(0x4E95), 0x4E95); /* 井 */
    /* The two characters a caseless k or s matches (KELVIN SIGN, LONG S):
     * the text holds the letter a keyword or a pattern's literal seeks. */
    expect_norm("\xe2\x84\xaaTV \xc5\xbfos", 10, "ktv sos");
    assert_int_equal(ig_norm_fold(0x212A), 'k');
    assert_int_equal(ig_norm_fold(0x017F), 's');
}

static void test_spaces(void **state)
{
    (void)state;
    expect_norm("井 盖", strlen("井 盖"), "井盖");
    expect_norm("井\xe3\x80\x80盖", 9, "井盖"); /* U+3000 */
    expect_norm("井\xe2\x80\x8b盖", 9, "井盖"); /* ZWSP */
    expect_norm("井 \t\n 盖 坏", strlen("井 \t\n 盖 坏"), "井盖坏");
    expect_norm("路灯 abc 不亮", strlen("路灯 abc 不亮"), "路灯 abc 不亮");
    expect_norm("  a   b  ", 9, "a b");
    expect_norm("wi\xe2\x80\x8b"
                "fi",
                7, "wifi"); /* invisible */
    expect_norm("", 0, "");
    expect_norm("   ", 3, "");
    expect_norm("a\0b", 3, "a b"); /* NUL = space */
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_norm("a\xff"
                "b",
                3,
                "a\xef\xbf\xbd"
                "b");
    /* truncated 3-byte sequence at the end: one U+FFFD */
    expect_norm("井\xe4\xb8", 5, "井\xef\xbf\xbd");
    /* overlong '<' never becomes ASCII */
    expect_norm("\xc0\xbc", 2, "\xef\xbf\xbd\xef\xbf\xbd");
    /* surrogate (CESU-8) */
    size_t n;
    char *s = ig_norm_str("\xed\xa0\x80x", 4, &n);
    assert_true(ig_utf8_valid(s, n));
    assert_null(memchr(s, 'X', n));
    ig_free(s);
}

static void test_offsets(void **state)
{
    (void)state;
    /* "門　口ＡＢ" : 門(3) U+3000(3) 口(3) Ａ(3) Ｂ(3) */
    const char *orig = "門\xe3\x80\x80口ＡＢ";
    size_t ol = strlen(orig);
    struct ig_norm n;
    ig_norm_init(&n);
    assert_int_equal(ig_norm_add(&n, orig, ol), 0);
    assert_string_equal(n.s, "门口ab");
    size_t a, b;
    /* "门口" = normalised bytes [0, 6) -> original [0, 9) */
    ig_norm_span(&n, orig, ol, 0, 6, &a, &b);
    assert_int_equal(a, 0);
    assert_int_equal(b, 9);
    /* "ab" = [6, 8) -> original [9, 15) */
    ig_norm_span(&n, orig, ol, 6, 8, &a, &b);
    assert_int_equal(a, 9);
    assert_int_equal(b, 15);
    /* "b" alone */
    ig_norm_span(&n, orig, ol, 7, 8, &a, &b);
    assert_int_equal(a, 12);
    assert_int_equal(b, 15);
    /* appended second part: offsets relative to it */
    ig_norm_addc(&n, '\n', (uint32_t)ol);
    size_t base = n.len;
    const char *two = "x\xff井";
    assert_int_equal(ig_norm_add(&n, two, 5), 0);
    ig_norm_span(&n, two, 5, base + 1, base + 4, &a, &b); /* U+FFFD */
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    ig_norm_span(&n, two, 5, base + 4, base + 7, &a, &b); /* 井 */
    assert_int_equal(a, 2);
    assert_int_equal(b, 5);
    ig_norm_fini(&n);
}

/* Random bytes: output is valid UTF-8 without NUL, the map is monotone
 * and every span maps inside the original. */
static void test_random(void **state)
{
    (void)state;
    srand(7);
    struct ig_norm n;
    ig_norm_init(&n);
    const char *pieces[] = {"井",   "盖",   " ",  "\xe3\x80\x80",
                            "A",    "ａ",   "門", "\xff",
                            "\xe4", "\x80", "\0", "\xe2\x80\x8b"};
    for (int round = 0; round < 2000; round++) {
        char buf[256];
        size_t len = 0;
        int k = rand() % 30;
        for (int i = 0; i < k; i++) {
            const char *p = pieces[rand() % 12];
            size_t pl = p[0] ? strlen(p) : 1;
            memcpy(buf + len, p, pl);
            len += pl;
        }
        ig_norm_reset(&n);
        assert_int_equal(ig_norm_add(&n, buf, len), 0);
        assert_true(ig_utf8_valid(n.s, n.len));
        assert_null(memchr(n.s, '\0', n.len));
        for (size_t i = 1; i < n.len; i++) {
            assert_true(n.map[i] >= n.map[i - 1]);
        }
        for (size_t i = 0; i < n.len; i++) {
            if (((unsigned char)n.s[i] & 0xC0) == 0x80) {
                continue;
            }
            size_t e = i + 1;
            while (e < n.len && ((unsigned char)n.s[e] & 0xC0) == 0x80) {
                e++;
            }
            size_t a, b;
            ig_norm_span(&n, buf, len, i, e, &a, &b);
            assert_true(a < b);
            assert_true(b <= len);
        }
        /* idempotent */
        size_t l2;
        char *again = ig_norm_str(n.s, n.len, &l2);
        assert_int_equal(l2, n.len);
        assert_memory_equal(again, n.s, l2);
        ig_free(again);
    }
    ig_norm_fini(&n);
}

/* The normaliser character by character, from its documented rules and
 * the public predicates: what the fast paths of ig_norm_add() (ASCII,
 * full-width forms, runs of plain ideographs) must reproduce, byte for
 * byte and offset for offset. */
static size_t ref_norm(const char *s, size_t len, char *o, uint32_t *m)
{
    size_t j = 0, i = 0;
    bool pend = false, any = false, last_cjk = false;
    uint32_t pend_off = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = ig_utf8_decode(s + i, len - i, &cp);
        if (cp == IG_UTF8_INVALID) {
            cp = 0xFFFD;
        }
        if (ig_norm_is_invisible(cp)) {
            i += k;
            continue;
        }
        if (ig_norm_is_space(cp)) {
            if (!pend) {
                pend = true;
                pend_off = (uint32_t)i;
            }
            i += k;
            continue;
        }
        cp = ig_norm_fold(cp);
        bool cjk = ig_is_cjk(cp);
        if (pend && any && !(last_cjk && cjk)) {
            o[j] = ' ';
            m[j++] = pend_off;
        }
        pend = false;
        char enc[4];
        size_t el = ig_utf8_encode(cp, enc);
        for (size_t e = 0; e < el; e++) {
            o[j] = enc[e];
            m[j++] = (uint32_t)i;
        }
        i += k;
        any = true;
        last_cjk = cjk;
    }
    return j;
}

/* Random texts of characters at the edges of every fast path (the ends
 * of the ideograph and CJK punctuation blocks, traditional characters,
 * full-width forms, cut and invalid sequences): ig_norm_add() equals the
 * character-by-character reference. */
static void test_fast_paths(void **state)
{
    (void)state;
    srand(17);
    /* clang-format off */
    const char *pieces[] = {
        "井", "盖", "門", "車", "路", " ", "  ", "\t", "A", "z", "1", "ａ",
        "Ｚ", "！",
        "\xe3\x80\x80", /* U+3000 */
        "\xe3\x80\x81", /* U+3001 */
        "\xe3\x80\xbf", /* U+303F */
        "\xe3\x81\x80", /* U+3040 */
        "\xe3\x90\x80", /* U+3400 */
        "\xe4\xb7\xbf", /* U+4DFF */
        "\xe4\xb8\x80", /* U+4E00 */
        "\xe9\xbf\xbf", /* U+9FFF */
        "\xea\xb0\x80", /* U+AC00 */
        "\xe2\x80\x8b", /* U+200B */
        "\xef\xbb\xbf", /* U+FEFF */
        "\xed\xa0\x80", /* a surrogate */
        "\xe0\x80\x80", /* overlong */
        "\xe3\x80",      /* cut short */
        "\xe4", "\x80", "\xff", "\xc3\xa9", "\xf0\x9f\x98\x80", "\0",
        "\x7f", "AB9", "~!",
    };
    /* clang-format on */
    size_t np = sizeof(pieces) / sizeof(pieces[0]);
    struct ig_norm n;
    ig_norm_init(&n);
    char want[3 * 512 + 2];
    uint32_t wmap[3 * 512 + 2];
    for (int round = 0; round < 20000; round++) {
        char buf[512];
        size_t len = 0;
        int k = rand() % 60;
        /* mostly runs of one kind, as real text has */
        size_t kind = (size_t)rand() % np;
        for (int i = 0; i < k; i++) {
            if (rand() % 4 == 0) {
                kind = (size_t)rand() % np;
            }
            const char *p = pieces[rand() % 3 ? kind : (size_t)rand() % np];
            size_t pl = p[0] ? strlen(p) : 1;
            memcpy(buf + len, p, pl);
            len += pl;
        }
        size_t wl = ref_norm(buf, len, want, wmap);
        ig_norm_reset(&n);
        assert_int_equal(ig_norm_add(&n, buf, len), 0);
        assert_int_equal(n.len, wl);
        assert_memory_equal(n.s, want, wl);
        assert_memory_equal(n.map, wmap, wl * sizeof(uint32_t));
        assert_int_equal(n.s[n.len], '\0');
    }
    ig_norm_fini(&n);
}

/* ig_norm_add() of s[0..len) against ref_norm(), the input copied to a
 * block of exactly len bytes (so a sanitizer sees any read past it). */
static void expect_ref(struct ig_norm *n, const char *s, size_t len)
{
    static char want[3 * 1024 + 2];
    static uint32_t wmap[3 * 1024 + 2];
    char *in = ig_malloc(len ? len : 1);
    memcpy(in, s, len);
    size_t wl = ref_norm(in, len, want, wmap);
    ig_norm_reset(n);
    assert_int_equal(ig_norm_add(n, in, len), 0);
    assert_int_equal(n->len, wl);
    assert_memory_equal(n->s, want, wl);
    assert_memory_equal(n->map, wmap, wl * sizeof(uint32_t));
    ig_free(in);
}

/* The block path for runs of plain ideographs (five characters per
 * 16-byte test): runs of every length 0..40 characters, each cut at
 * every byte, with one character that is not plain (or a stray byte,
 * which cuts a character when it lands inside one) inserted at every
 * byte offset, so the block test fails at each of its places and at the
 * end of the input; then random bytes from the lead and continuation
 * ranges the block test accepts, mostly well-formed. */
static void test_plain_blocks(void **state)
{
    (void)state;
    /* clang-format off */
    const char *odd[] = {
        "門",            /* traditional: right shape, not plain */
        "\xe3\x80\x80", /* U+3000, a space */
        "\xe3\x80\xbf", /* U+303F, plain */
        "\xe3\x81\x80", /* U+3040, not plain */
        "\xe4\xb7\xbf", /* U+4DFF, not plain */
        "\xe9\xbf\xbf", /* U+9FFF, plain */
        "\xea\xb0\x80", /* U+AC00, lead past E9 */
        "\xe2\x80\x8b", /* U+200B, lead before E3 */
        "\xef\xbc\x8c", /* full-width comma */
        "\xed\xa0\x80", /* a surrogate */
        "\x80", "\xe5", "\xe5\xb8", "a", " ", "",
    };
    /* clang-format on */
    const char *plain[] = {"井", "盖", "路", "\xe4\xb8\x80", "\xe3\x80\x81"};
    struct ig_norm n;
    ig_norm_init(&n);
    char run[3 * 40], buf[3 * 40 + 8];
    for (size_t chars = 0; chars <= 40; chars++) {
        size_t rl = 0;
        for (size_t c = 0; c < chars; c++) {
            memcpy(run + rl, plain[(c * 7 + chars) % 5], 3);
            rl += 3;
        }
        for (size_t cut = 0; cut <= rl; cut++) {
            expect_ref(&n, run, cut);
        }
        for (size_t d = 0; d < sizeof(odd) / sizeof(odd[0]); d++) {
            size_t dl = strlen(odd[d]);
            for (size_t at = 0; at <= rl; at++) {
                memcpy(buf, run, at);
                memcpy(buf + at, odd[d], dl);
                memcpy(buf + at + dl, run + at, rl - at);
                expect_ref(&n, buf, rl + dl);
            }
        }
    }
    srand(23);
    for (int round = 0; round < 20000; round++) {
        char rb[200];
        size_t len = (size_t)rand() % sizeof(rb);
        for (size_t i = 0; i < len; i++) {
            int r = rand() % 100;
            if (r < 30 && i + 3 <= len) {
                memcpy(rb + i, plain[rand() % 5], 3);
                i += 2;
            } else if (r < 60) {
                rb[i] = (char)(0xE2 + rand() % 9); /* E2..EA */
            } else if (r < 95) {
                rb[i] = (char)(0x7F + rand() % 0x42); /* 7F..C0 */
            } else {
                rb[i] = (char)rand();
            }
        }
        expect_ref(&n, rb, len);
    }
    ig_norm_fini(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),         cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_random),       cmocka_unit_test(test_fast_paths),
        cmocka_unit_test(test_plain_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
