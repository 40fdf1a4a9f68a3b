/* test_core.c — unit tests for core/: buffers, arenas, UTF-8, JSON writer,
 * config reader and schema tables, diagnostics. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "core/mem.h"
#include "core/pool.h"
#include "core/idset.h"
#include "core/ptrmap.h"
#include "core/text.h"

static void buf_cap_is_never_silent(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 8);
    assert_int_equal(ig_buf_adds(&b, "12345678"), IG_OK);
    assert_int_equal(ig_buf_addc(&b, 'x'), IG_E2BIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    ig_buf_fini(&b);
    ig_buf_init(&b, 0);
    assert_int_equal(ig_buf_addf(&b, "%d-%s", 42, "x"), IG_OK);
    assert_string_equal(b.data, "42-x");
    char *s = ig_buf_take(&b);
    assert_string_equal(s, "42-x");
    ig_free(s);
}

/* Decimal digits as printf writes them: every value below 2 000 000,
 * around every power of ten, the extremes and pseudo-random ones. */
static void fmt_u64_matches_printf(void **state)
{
    char want[32], got[32];
    uint64_t x = 0x9E3779B97F4A7C15ull, p = 1;
    struct ig_buf b;

    (void)state;
    for (uint64_t v = 0; v < 2000000; v++) {
        snprintf(want, sizeof(want), "%" PRIu64, v);
        *ig_fmt_u64(got, v) = '\0';
        assert_string_equal(got, want);
    }
    for (int i = 0; i < 20; i++, p *= 10) {
        for (uint64_t v = p - 1; v <= p + 1; v++) {
            snprintf(want, sizeof(want), "%" PRIu64, v);
            *ig_fmt_u64(got, v) = '\0';
            assert_string_equal(got, want);
        }
    }
    for (int i = 0; i < 100000; i++) {
        uint64_t v = x >> (i % 64);

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        snprintf(want, sizeof(want), "%" PRIu64, v);
        *ig_fmt_u64(got, v) = '\0';
        assert_string_equal(got, want);
    }
    assert_int_equal(ig_fmt_u64(got, UINT64_MAX) - got, 20);
    ig_buf_init(&b, 0);
    ig_buf_add_u64(&b, 0);
    ig_buf_addc(&b, ' ');
    ig_buf_add_u64(&b, UINT64_MAX);
    assert_string_equal(b.data, "0 18446744073709551615");
    ig_buf_fini(&b);
}

/* Cache-line aligned, zeroed (odd sizes included), freed by ig_free(). */
static void calloc_lines_aligned_and_zeroed(void **state)
{
    static const size_t sizes[][2] = {
        {1, 1}, {3, 7}, {1024, 64}, {0, 8}, {5, 0}};

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i][0] * sizes[i][1];
        unsigned char *p = ig_calloc_lines(sizes[i][0], sizes[i][1]);

        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(p[j], 0);
        }
        memset(p, 0xa5, n);
        ig_free(p);
    }
}

static int g_defer_calls;

static void count_defer(void *p)
{
    (void)p;
    g_defer_calls++;
}

static void arena_alloc_and_defer(void **state)
{
    (void)state;
    struct ig_arena *a = ig_arena_new(64);
    char *s = ig_arena_strdup(a, "青浦");
    assert_string_equal(s, "青浦");
    void *big = ig_arena_alloc(a, 100000);
    memset(big, 1, 100000);
    for (int i = 0; i < 1000; i++) {
        uint64_t *p = ig_arena_alloc(a, 24);
        assert_true(((uintptr_t)p % 16) == 0);
        *p = (uint64_t)i;
    }
    g_defer_calls = 0;
    ig_arena_defer(a, count_defer, NULL);
    ig_arena_defer(a, count_defer, NULL);
    ig_arena_free(a);
    assert_int_equal(g_defer_calls, 2);
    ig_arena_free(NULL);
}

/* Every size 0..200 in turn, with a large one now and then, across many
 * blocks (new heads and oversized side blocks): each allocation aligned,
 * none overlapping another (each keeps its own fill), and used() the sum
 * of the sizes asked for. */
static void arena_sizes_and_blocks(void **state)
{
    (void)state;
    struct ig_arena *a = ig_arena_new(256);
    unsigned char *p[1200];
    size_t len[1200], sum = 0;

    for (size_t i = 0; i < 1200; i++) {
        len[i] = i % 7 == 6 ? 300 + i : i % 201;
        p[i] = ig_arena_alloc(a, len[i]);
        assert_true(((uintptr_t)p[i] % 16) == 0);
        memset(p[i], (int)(i & 0xff), len[i]);
        sum += len[i];
    }
    for (size_t i = 0; i < 1200; i++) {
        for (size_t k = 0; k < len[i]; k++) {
            assert_int_equal(p[i][k], i & 0xff);
        }
    }
    assert_int_equal(ig_arena_used(a), sum);
    ig_arena_free(a);
}

/* Allocation sizes for the reuse tests: small ones, block-filling ones
 * and oversized ones (own blocks), from a fixed seed. */
static size_t reuse_size(uint64_t *x)
{
    *x = *x * 6364136223846793005u + 1442695040888963407u;
    uint64_t r = *x >> 33;
    return r % 9 == 8   ? 4096 + r % 9000
           : r % 9 == 7 ? 1000 + r % 3000
                        : r % 300;
}

/* ig_arena_reset() leaves an arena that hands out what a new one of its
 * block size does: the same offsets (from its first allocation) for the
 * same sizes, used() 0, each destructor run once at the reset. */
static void arena_reset_is_new(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct ig_arena *fresh = ig_arena_new(512);
        struct ig_arena *reused = ig_arena_new(512);
        uint64_t x = seed * 977;

        g_defer_calls = 0;
        for (int i = 0; i < (int)(seed * 7); i++) {
            size_t n = reuse_size(&x);
            memset(ig_arena_alloc(reused, n), 0x5a, n);
            if (i % 5 == 0) {
                ig_arena_defer(reused, count_defer, NULL);
            }
        }
        int deferred = g_defer_calls;
        ig_arena_reset(reused);
        assert_int_equal(g_defer_calls, deferred + (int)(seed * 7 + 4) / 5);
        assert_int_equal(ig_arena_used(reused), 0);
        unsigned char *f0 = NULL, *r0 = NULL;
        size_t sum = 0;
        x = seed;
        for (int i = 0; i < 300; i++) {
            size_t n = reuse_size(&x);
            unsigned char *f = ig_arena_alloc(fresh, n);
            unsigned char *r = ig_arena_alloc(reused, n);
            if (i == 0) {
                f0 = f;
                r0 = r;
            }
            /* In the first block, at the same place; later blocks are
             * malloc's, anywhere else. */
            bool in_first = f - f0 >= 0 && f - f0 < 512;
            assert_true(in_first == (r - r0 >= 0 && r - r0 < 512));
            if (in_first) {
                assert_true(f - f0 == r - r0);
            }
            memset(r, (int)i, n);
            sum += n;
        }
        assert_int_equal(ig_arena_used(fresh), sum);
        assert_int_equal(ig_arena_used(reused), sum);
        g_defer_calls = 0;
        ig_arena_free(fresh);
        ig_arena_free(reused);
        assert_int_equal(g_defer_calls, 0);
    }
}

/* An item made after another was freed (its arena comes from the pool)
 * is indistinguishable from a new one: all fields zero, nothing used in
 * its arena, the same allocation offsets as in the arena's first life,
 * and the freed item's destructors ran exactly once. */
static void item_reused_is_fresh(void **state)
{
    (void)state;
    enum { MANY = 1100 }; /* more than the pool keeps */
    static struct ig_item *many[MANY];
    for (int i = 0; i < MANY; i++) {
        many[i] = ig_item_new();
    }
    /* The last one has a new arena (the pool ran dry before it). */
    struct ig_item *it = many[MANY - 1];
    struct ig_item zero;
    memset(&zero, 0, sizeof(zero));
    for (uint64_t seed = 1; seed <= 20; seed++) {
        ptrdiff_t off[200];
        uint64_t x = seed;

        zero.arena = it->arena;
        assert_memory_equal(it, &zero, sizeof(zero));
        assert_int_equal(ig_arena_used(it->arena), sizeof(*it));
        for (int i = 0; i < 200; i++) {
            size_t n = reuse_size(&x);
            char *p = ig_arena_alloc(it->arena, n);
            off[i] = p - (char *)it;
            memset(p, 0xee, n);
        }
        it->title = ig_item_strdup(it, "路灯不亮");
        it->text = ig_item_strndup(it, "井盖缺失", 6);
        for (int i = 0; i < 9; i++) {
            ig_item_add_field(it, "k", "v");
        }
        ig_item_flag(it, IG_ITEM_F_REPAIRED, "first");
        it->published_ts = 1664087400;
        ig_arena_defer(it->arena, count_defer, NULL);
        g_defer_calls = 0;
        struct ig_arena *was = it->arena;
        ig_item_free(it);
        assert_int_equal(g_defer_calls, 1);
        it = ig_item_new(); /* the pool is last in, first out */
        assert_ptr_equal(it->arena, was);
        assert_int_equal(g_defer_calls, 1);
        zero.arena = it->arena;
        assert_memory_equal(it, &zero, sizeof(zero));
        assert_int_equal(ig_arena_used(it->arena), sizeof(*it));
        assert_null(ig_item_field(it, "k"));
        x = seed;
        for (int i = 0; i < 200; i++) {
            size_t n = reuse_size(&x);
            ptrdiff_t o = (char *)ig_arena_alloc(it->arena, n) - (char *)it;
            /* The first block (4 KiB) again; other blocks are new. */
            assert_true((o >= 0 && o < 4096) == (off[i] >= 0 && off[i] < 4096));
            if (o >= 0 && o < 4096) {
                assert_true(o == off[i]);
            }
        }
        ig_item_free(it);
        it = ig_item_new();
    }
    ig_item_free(it);
    for (int i = 0; i < MANY - 1; i++) {
        ig_item_free(many[i]);
    }
}

static void utf8_strict_decoding(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(ig_utf8_decode("\xE9\x9D\x92", 3, &cp), 3);
    assert_int_equal(cp, 0x9752);
    /* overlong '<' and overlong '/' never decode to ASCII */
    ig_utf8_decode("\xC0\xBC", 2, &cp);
    assert_int_equal(cp, IG_UTF8_INVALID);
    ig_utf8_decode("\xE0\x80\xAF", 3, &cp);
    assert_int_equal(cp, IG_UTF8_INVALID);
    /* CESU surrogate, > U+10FFFF, truncated */
    ig_utf8_decode("\xED\xA0\x80", 3, &cp);
    assert_int_equal(cp, IG_UTF8_INVALID);
    ig_utf8_decode("\xF4\x90\x80\x80", 4, &cp);
    assert_int_equal(cp, IG_UTF8_INVALID);
    assert_int_equal(ig_utf8_decode("\xE9\x9D", 2, &cp), 2);
    assert_int_equal(cp, IG_UTF8_INVALID);
    assert_true(ig_utf8_valid("青浦区", strlen("青浦区")));
    assert_false(ig_utf8_valid("a\xFF", 2));
}

/* The inline fast paths of ig_utf8_decode() agree with the general
 * decoder on every lead byte with every pair of following bytes, at every
 * available length. */
static void utf8_decode_fast_paths_agree(void **state)
{
    (void)state;
    char s[3];
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            for (unsigned c = 0; c < 256; c += (a >= 0xE0 ? 1 : 85)) {
                s[0] = (char)a;
                s[1] = (char)b;
                s[2] = (char)c;
                for (size_t n = 1; n <= 3; n++) {
                    uint32_t x, y;
                    size_t lx = ig_utf8_decode(s, n, &x);
                    size_t ly = ig_utf8_decode_slow(s, n, &y);
                    if (lx != ly || x != y) {
                        fail_msg("%02x %02x %02x n=%zu: %zu/%x vs %zu/%x", a, b,
                                 c, n, lx, x, ly, y);
                    }
                }
            }
        }
    }
}

/* ig_utf8_five3() against the byte-by-byte definition: a block of five
 * sequences in range with every one of its 16 bytes set to every value,
 * for lead ranges its callers use and the widest one allowed. */
static void utf8_five3_every_byte(void **state)
{
    (void)state;
    const unsigned char ranges[][2] = {
        {0xE3, 0xE9}, {0xE4, 0xE9}, {0xE1, 0xEC}, {0xE5, 0xE5}};
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
        unsigned char lo = ranges[r][0], hi = ranges[r][1];
        for (unsigned p = 0; p < 16; p++) {
            for (unsigned v = 0; v < 256; v++) {
                unsigned char b[16];
                for (unsigned c = 0; c < 15; c += 3) {
                    b[c] = (unsigned char)(lo + (c / 3) % (hi - lo + 1));
                    b[c + 1] = (unsigned char)(0x80 + c * 5);
                    b[c + 2] = 0xBF;
                }
                b[15] = 0x41;
                b[p] = (unsigned char)v;
                bool want = true;
                for (unsigned c = 0; c < 15; c++) {
                    bool ok = c % 3 ? (b[c] & 0xC0) == 0x80
                                    : b[c] >= lo && b[c] <= hi;
                    want = want && ok;
                }
                if (ig_utf8_five3((const char *)b, lo, hi) != want) {
                    fail_msg("lo %02x hi %02x: byte %u = %02x", lo, hi, p, v);
                }
            }
        }
    }
}

/* ig_utf8_head_len() and ig_utf8_tail_start() against the code point
 * starts found by decoding, on random valid UTF-8 of 1- to 4-byte
 * sequences (every lead kind, both ends of each range), every k. */
static void utf8_head_tail_by_decoding(void **state)
{
    (void)state;
    const uint32_t pool[] = {'a',    0x7F,    0x80,    0x7FF,   0x800,   0xFFF,
                             0x1000, 0x4E95,  0x9FFF,  0xD7FF,  0xE000,  0xFF0C,
                             0xFFFD, 0x10000, 0x3FFFF, 0x40000, 0x10FFFF};
    srand(5);
    for (int round = 0; round < 3000; round++) {
        char s[4 * 40];
        size_t starts[41], n = 0, ncp = (size_t)rand() % 41;
        for (size_t c = 0; c < ncp; c++) {
            starts[c] = n;
            n += ig_utf8_encode(pool[(size_t)rand() % 17], s + n);
        }
        starts[ncp] = n;
        assert_true(ig_utf8_valid(s, n));
        for (size_t k = 0; k <= ncp + 2; k++) {
            size_t m = k < ncp ? k : ncp;
            assert_int_equal(ig_utf8_head_len(s, n, k), starts[m]);
            assert_int_equal(ig_utf8_tail_start(s, n, k), starts[ncp - m]);
        }
    }
}

/* Terminal columns: CJK ideographs, Hangul and full-width forms take 2. */
static void cp_widths(void **state)
{
    (void)state;
    assert_int_equal(ig_cp_width('a'), 1);
    assert_int_equal(ig_cp_width(0x4E2D), 2);  /* 中 */
    assert_int_equal(ig_cp_width(0xFF21), 2);  /* Ａ */
    assert_int_equal(ig_cp_width(0xAC00), 2);  /* 가 */
    assert_int_equal(ig_cp_width(0x20000), 2); /* CJK extension B */
    assert_int_equal(ig_cp_width(0x00E9), 1);  /* é */
    assert_int_equal(ig_cp_width(0xFF61), 1);  /* half-width 。 */
}

static void utf8_sanitize_replaces_and_drops(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    const char in[] = "青\xFF浦\x01\x00区";
    int n = ig_utf8_sanitize(&b, in, sizeof(in) - 1, true);
    assert_int_equal(n, 3);
    assert_string_equal(b.data, "青\xEF\xBF\xBD浦区");
    ig_buf_reset(&b);
    assert_int_equal(ig_utf8_sanitize(&b, "ok", 2, true), 0);
    ig_buf_fini(&b);
    /* trim never cuts a sequence */
    assert_int_equal(ig_utf8_trim_len("青浦", 6, 4), 3);
    assert_int_equal(ig_utf8_count("青浦a", 7), 3);
}

static void jsonw_escapes_and_commas(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "a", "x\"\\\n\x01青\xFF");
    ig_jsonw_key(&w, "l");
    ig_jsonw_arr_open(&w);
    ig_jsonw_int(&w, 1);
    ig_jsonw_num(&w, 0.5);
    ig_jsonw_null(&w);
    ig_jsonw_arr_close(&w);
    ig_jsonw_kbool(&w, "b", true);
    ig_jsonw_knum(&w, "inf", 1.0 / 0.0);
    ig_jsonw_obj_close(&w);
    assert_string_equal(b.data,
                        "{\"a\":\"x\\\"\\\\\\n\\u0001青\xEF\xBF\xBD\","
                        "\"l\":[1,0.5,null],\"b\":true,\"inf\":null}");
    ig_buf_fini(&b);
}

/* ig_read_file: the whole file (NULs included) within the cap, a clear
 * code for each way it can fail, nothing to free after a failure. */
static void read_file_whole_or_coded(void **state)
{
    (void)state;
    char dir[] = "/tmp/ig-test-readfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/f", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    /* 200 000 bytes with a NUL inside: more than one read's chunk. */
    for (int i = 0; i < 200000; i++) {
        fputc(i == 7 ? 0 : 'a' + i % 26, f);
    }
    fclose(f);
    assert_int_equal(ig_read_file(path, 0, &text, &len), IG_OK);
    assert_int_equal(len, 200000);
    assert_int_equal(text[7], 0);
    assert_int_equal(text[8], 'a' + 8);
    assert_int_equal(text[len], 0);
    ig_free(text);
    assert_int_equal(ig_read_file(path, 200000, &text, &len), IG_OK);
    ig_free(text);
    text = NULL;
    assert_int_equal(ig_read_file(path, 199999, &text, &len), IG_E2BIG);
    assert_null(text);
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(ig_read_file(path, 0, &text, &len), IG_ENOENT);
    /* A directory opens but does not read. */
    assert_int_equal(ig_read_file(dir, 0, &text, &len), IG_EIO);
    assert_null(text);
    snprintf(path, sizeof(path), "%s/empty", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ig_read_file(path, 16, &text, &len), IG_OK);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    ig_free(text);
    unlink(path);
    snprintf(path, sizeof(path), "%s/f", dir);
    unlink(path);
    rmdir(dir);
}

/* ig_utf8_has_fffd: U+FFFD anywhere in the slice, not the fullwidth forms
 * that share its lead byte, and nothing past n. */
static void utf8_has_fffd_finds_the_mark(void **state)
{
    (void)state;
    static const char full[] = "\xEF\xBC\x8C\xEF\xBD\x9E"; /* ，～ */
    char b[64];
    assert_false(ig_utf8_has_fffd("", 0));
    assert_false(ig_utf8_has_fffd(full, strlen(full)));
    assert_true(ig_utf8_has_fffd("\xEF\xBF\xBD", 3));
    snprintf(b, sizeof(b), "%sab\xEF\xBF\xBD", full);
    assert_true(ig_utf8_has_fffd(b, strlen(b)));
    assert_false(ig_utf8_has_fffd(b, strlen(b) - 1)); /* cut inside it */
    snprintf(b, sizeof(b), "\xEF\xEF\xBF\xBDx");
    assert_true(ig_utf8_has_fffd(b, strlen(b))); /* lead byte twice */
    assert_false(ig_utf8_has_fffd("\xEF\xBF", 2));
}

/* The inline appends and in-place formatting keep the cap exact. */
static void buf_fast_paths_keep_the_cap(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 70);
    for (int i = 0; i < 70; i++) {
        assert_int_equal(ig_buf_addc(&b, 'a'), IG_OK);
    }
    assert_int_equal(ig_buf_addc(&b, 'b'), IG_E2BIG);
    assert_int_equal(ig_buf_add(&b, "", 0), IG_OK);
    assert_int_equal(b.len, 70);
    ig_buf_reset(&b);
    assert_int_equal(ig_buf_addf(&b, "%s", "0123456789"), IG_OK);
    /* Fits the allocation but not the cap: refused, content intact. */
    assert_int_equal(ig_buf_addf(&b, "%061d", 7), IG_E2BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(ig_buf_addf(&b, "%060d", 7), IG_OK);
    assert_int_equal(b.len, 70);
    assert_int_equal(b.data[69], '7');
    ig_buf_fini(&b);
    /* Longer than the free space: grows and formats again. */
    ig_buf_init(&b, 0);
    assert_int_equal(ig_buf_addf(&b, "%0200d|%s", 1, "end"), IG_OK);
    assert_int_equal(b.len, 204);
    assert_string_equal(b.data + 200, "|end");
    assert_int_equal(ig_buf_reserve(&b, 1000), IG_OK);
    assert_true(b.cap >= b.len + 1001);
    ig_buf_fini(&b);
}

static void jsonw_fast_paths(void **state)
{
    (void)state;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    ig_jsonw_arr_open(&w);
    ig_jsonw_str(&w, "");
    /* a 3-byte sequence cut short, 2- and 4-byte ones, E0/ED leads, DEL */
    ig_jsonw_str(&w, "青\xE9\x9D");
    ig_jsonw_str(&w, "\xC3\xA9\xF0\x9F\x98\x80\xE0\xA4\x80\xED\x9F\xBF\x7F");
    ig_jsonw_str(&w, "\xED\xA0\x80!");
    /* a lead with one continuation byte, then ASCII; then two leads */
    ig_jsonw_str(&w, "\xE9\x9Dx\xE9\xE9\x9D\x92");
    ig_jsonw_int(&w, INT64_MIN);
    ig_jsonw_int(&w, -5);
    ig_jsonw_uint(&w, UINT64_MAX);
    ig_jsonw_num(&w, -0.0);
    ig_jsonw_num(&w, 999999.0);
    ig_jsonw_num(&w, -999999.0);
    ig_jsonw_num(&w, 1e6);
    ig_jsonw_num(&w, 1e300);
    ig_jsonw_num(&w, 2.5);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kint(&w, "q\"k", 1);
    ig_jsonw_kstr(&w, "", "v");
    /* literal keys around the compile-time check's limits */
    ig_jsonw_kint(&w, "abcdefghijklmnop", 2);
    ig_jsonw_kint(&w, "abcdefghijklmnopq", 3);
    ig_jsonw_kint(&w, "t\tb", 4);
    ig_jsonw_kint(&w, "\x7f~", 5);
    ig_jsonw_obj_close(&w);
    ig_jsonw_arr_close(&w);
    assert_string_equal(
        b.data, "[\"\",\"青\xEF\xBF\xBD\","
                "\"\xC3\xA9\xF0\x9F\x98\x80\xE0\xA4\x80\xED\x9F\xBF\\u007f\","
                "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!\","
                "\"\xEF\xBF\xBDx\xEF\xBF\xBD\xE9\x9D\x92\","
                "-9223372036854775808,-5,18446744073709551615,"
                "-0,999999,-999999,1e+06,1e+300,2.5,"
                "{\"q\\\"k\":1,\"\":\"v\",\"abcdefghijklmnop\":2,"
                "\"abcdefghijklmnopq\":3,\"t\\tb\":4,\"\\u007f~\":5}]");
    ig_buf_fini(&b);
    /* A capped buffer: a string that fits exactly, then one that does not
     * (its quotes and part of it may land; nothing past the cap does). */
    ig_buf_init(&b, 8);
    ig_json_escape(&b, "abcdef", 6);
    assert_string_equal(b.data, "\"abcdef\"");
    ig_json_escape(&b, "x", 1);
    assert_int_equal(b.len, 8);
    ig_buf_fini(&b);
    /* Bare values for literal pieces: what the writer writes as values. */
    ig_buf_init(&b, 0);
    IG_JSON_LIT(&b, "{\"a\":");
    ig_json_str(&b, NULL);
    IG_JSON_LIT(&b, ",\"b\":[");
    ig_json_str(&b, "q\"");
    IG_JSON_LIT(&b, ",");
    ig_json_int(&b, INT64_MIN);
    IG_JSON_LIT(&b, ",");
    ig_json_num(&b, -0.0);
    IG_JSON_LIT(&b, ",");
    ig_json_num(&b, 0.553846153);
    IG_JSON_LIT(&b, ",");
    ig_json_num(&b, 1.0 / 0.0);
    IG_JSON_LIT(&b, "]}");
    assert_string_equal(b.data, "{\"a\":null,\"b\":[\"q\\\"\","
                                "-9223372036854775808,-0,0.553846,null]}");
    ig_buf_fini(&b);
}

/* The escaper as it was before its word-at-a-time scan, a byte at a
 * time: the reference the fast one must agree with on every input. */
static void ref_escape(struct ig_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    ig_buf_addc(out, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t len = ig_utf8_decode(s + i, n - i, &cp);
            if (cp == IG_UTF8_INVALID) {
                ig_buf_add(out, "\xEF\xBF\xBD", 3);
            } else {
                ig_buf_add(out, s + i, len);
            }
            i += len;
            continue;
        }
        switch (c) {
        case '"':
            ig_buf_add(out, "\\\"", 2);
            break;
        case '\\':
            ig_buf_add(out, "\\\\", 2);
            break;
        case '\n':
            ig_buf_add(out, "\\n", 2);
            break;
        case '\r':
            ig_buf_add(out, "\\r", 2);
            break;
        case '\t':
            ig_buf_add(out, "\\t", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                ig_buf_add(out, esc, 6);
            } else {
                ig_buf_addc(out, (char)c);
            }
        }
        i++;
    }
    ig_buf_addc(out, '"');
}

static uint64_t fuzz_state = 88172645463325252ull;
static uint64_t fuzz_rnd(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return fuzz_state;
}

/* The bytes and sequences where the fast scans switch paths: ASCII that
 * stops them, CJK, 2- and 4-byte sequences, E0 and ED leads, stray
 * continuation bytes, leads that cannot start a sequence. */
static const unsigned char scan_bytes[] = {
    'a',  '0',  ' ',  '"',  '\\', '\n', '\t', 0,    0x01, 0x1f, 0x7f,
    0x80, 0x8c, 0x9d, 0x9f, 0xa0, 0xbc, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
    0xe1, 0xe9, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
static const char *const scan_seqs[] = {
    "青",           "，",           "浦",
    "\xEF\xBF\xBD", "\xC3\xA9",     "\xF0\x9F\x98\x80",
    "\xED\x9F\xBF", "\xE0\xA4\x80", "a",
    "ab",           "\"",           "\\"};

/* Random strings built from the bytes and sequences where the fast scan
 * switches paths (ASCII that stops it, CJK, 2- and 4-byte sequences, E0
 * and ED leads, cut sequences, stray bytes), at lengths around the 3-,
 * 4- and 8-byte steps: escaped and as keys, the same bytes as the
 * reference. */
static void jsonw_fast_scan_agrees(void **state)
{
    (void)state;
    char s[160];
    struct ig_buf want, got;
    ig_buf_init(&want, 0);
    ig_buf_init(&got, 0);
    for (int it = 0; it < 200000; it++) {
        size_t n = fuzz_rnd() % 8 ? fuzz_rnd() % 40 : fuzz_rnd() % 160;
        unsigned mode = (unsigned)(fuzz_rnd() % 4);
        size_t k = 0;
        while (k < n) {
            uint64_t r = fuzz_rnd();
            if (mode == 0) {
                s[k++] = (char)r;
            } else if (mode == 1) {
                s[k++] = (char)scan_bytes[r % sizeof(scan_bytes)];
            } else {
                /* mostly CJK (mode 2) or a mix (mode 3), sometimes a
                 * stray byte or a sequence cut short */
                const char *q = scan_seqs[r % (mode == 2 ? 3 : 12)];
                size_t l = strlen(q);
                if (((r >> 20) & 31) == 0) {
                    s[k++] = (char)scan_bytes[(r >> 8) % sizeof(scan_bytes)];
                    continue;
                }
                if (((r >> 25) & 31) == 0 && l > 1) {
                    l--;
                }
                for (size_t j = 0; j < l && k < n; j++) {
                    s[k++] = q[j];
                }
            }
        }
        ig_buf_reset(&want);
        ig_buf_reset(&got);
        ref_escape(&want, s, n);
        ig_json_escape(&got, s, n);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        /* the same bytes as a key: escaped the same, then ':' */
        ig_buf_reset(&got);
        struct ig_jsonw w;
        ig_jsonw_init(&w, &got);
        ig_jsonw_keyn(&w, s, n);
        assert_int_equal(got.len, want.len + 1);
        assert_memory_equal(got.data, want.data, want.len);
        assert_int_equal(got.data[want.len], ':');
    }
    ig_buf_fini(&want);
    ig_buf_fini(&got);
}

/* The plain run a byte at a time, from its definition: printable ASCII
 * but '"' and '\\', and 3-byte sequences with an E1..EC, EE or EF lead
 * and two continuation bytes. */
static size_t ref_plain_run(const unsigned char *u, size_t i, size_t n)
{
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
        } else if (c >= 0xe1 && c <= 0xef && c != 0xed && n - i >= 3 &&
                   (u[i + 1] & 0xc0) == 0x80 && (u[i + 2] & 0xc0) == 0x80) {
            i += 3;
        } else {
            break;
        }
    }
    return i;
}

/* The first n bytes of src at the very end of an allocation of their own
 * (so that a read past them is caught under ASan), scanned from every
 * start and escaped whole: the same as a byte at a time. */
static void plain_run_check(const char *src, size_t n, struct ig_buf *want,
                            struct ig_buf *got)
{
    char *s = ig_malloc(n ? n : 1);
    memcpy(s, src, n);
    for (size_t i = 0; i <= n; i++) {
        assert_int_equal(ig_json_plain_run(s, i, n),
                         ref_plain_run((const unsigned char *)s, i, n));
    }
    ig_buf_reset(want);
    ig_buf_reset(got);
    ref_escape(want, s, n);
    ig_json_escape(got, s, n);
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->data, want->data, want->len);
    ig_free(s);
}

/* ig_json_plain_run (16 bytes a step, short inputs and tails as one
 * block) against the reference: every length 0..64 and every start of
 * random, pooled and CJK text, and of CJK and ASCII text with each
 * position in turn replaced by each byte of the pool or cut off after a
 * sequence's lead (the block edges at 14..17, 30..33 and 46..49
 * included); then longer inputs whose run stops in the middle, as the
 * reader's are. */
static void json_plain_run_agrees(void **state)
{
    (void)state;
    static const char cjk[] = "青浦，青浦，青浦，青浦，青浦，青浦，青浦，"
                              "青浦，青浦，";
    static const char mix[] = "路123号青浦abc，编号4567。x浦y青zz青浦12，"
                              "浦34青，5浦";
    char s[300];
    struct ig_buf want, got;
    ig_buf_init(&want, 0);
    ig_buf_init(&got, 0);
    for (int it = 0; it < 300; it++) {
        unsigned mode = (unsigned)(it % 3);
        for (size_t k = 0; k < 64;) {
            uint64_t r = fuzz_rnd();
            if (mode == 0) {
                s[k++] = (char)r;
            } else if (mode == 1) {
                s[k++] = (char)scan_bytes[r % sizeof(scan_bytes)];
            } else {
                const char *q = scan_seqs[r % 12];
                for (size_t j = 0; q[j] && k < 64; j++) {
                    s[k++] = q[j];
                }
            }
        }
        for (size_t n = 0; n <= 64; n++) {
            plain_run_check(s, n, &want, &got);
        }
    }
    const char *const bases[] = {cjk, cjk + 1, mix};
    for (size_t b = 0; b < 3; b++) {
        for (size_t pos = 0; pos < 64; pos++) {
            for (size_t k = 0; k < sizeof(scan_bytes); k++) {
                memcpy(s, bases[b], 64);
                s[pos] = (char)scan_bytes[k];
                plain_run_check(s, 64, &want, &got);
                plain_run_check(s, pos + 1, &want, &got);
                plain_run_check(s, pos + 2, &want, &got);
            }
        }
        for (size_t n = 0; n <= 64; n++) {
            plain_run_check(bases[b], n, &want, &got);
        }
    }
    for (int it = 0; it < 2000; it++) {
        size_t n = 64 + fuzz_rnd() % 200;
        for (size_t k = 0; k < n; k += 3) {
            memcpy(s + k, "青", 3);
        }
        s[fuzz_rnd() % n] = (char)scan_bytes[fuzz_rnd() % sizeof(scan_bytes)];
        size_t i = fuzz_rnd() % n;
        assert_int_equal(ig_json_plain_run(s, i, n),
                         ref_plain_run((const unsigned char *)s, i, n));
    }
    ig_buf_fini(&want);
    ig_buf_fini(&got);
}

/* Formatting in place must respect a block size that is not a multiple
 * of the alignment, and keep later allocations aligned. */
static void arena_printf_in_place(void **state)
{
    (void)state;
    struct ig_arena *a = ig_arena_new(40);
    for (int i = 0; i < 50; i++) {
        char *s = ig_arena_printf(a, "%0*d", i, 7);
        assert_int_equal(strlen(s), i ? (size_t)i : 1);
        uint64_t *p = ig_arena_alloc(a, 8);
        assert_true(((uintptr_t)p % 16) == 0);
        *p = (uint64_t)i;
    }
    assert_string_equal(ig_arena_printf(a, "%s-%d", "青浦", 3), "青浦-3");
    ig_arena_free(a);
}

struct demo_conf {
    char *url;
    int64_t interval_ms;
    bool enabled;
    int64_t max_bytes;
    char *mode;
    struct ig_cfg_list tags;
    struct ig_cfg_list map;
};

static const char *const demo_modes[] = {"fast", "safe", NULL};
static const struct ig_cfg_field demo_schema[] = {
    {"url", IG_CFG_STR, NULL, offsetof(struct demo_conf, url), "where",
     IG_CFG_F_REQUIRED, NULL},
    {"interval", IG_CFG_DUR_MS, "5m",
     offsetof(struct demo_conf, interval_ms), "how often", 0, NULL},
    {"enabled", IG_CFG_BOOL, "true", offsetof(struct demo_conf, enabled),
     "on/off", 0, NULL},
    {"max_bytes", IG_CFG_SIZE, "10MiB",
     offsetof(struct demo_conf, max_bytes), "cap", 0, NULL},
    {"mode", IG_CFG_ENUM, "safe", offsetof(struct demo_conf, mode), "mode",
     0, demo_modes},
    {"tags", IG_CFG_LIST, NULL, offsetof(struct demo_conf, tags), "tags", 0,
     NULL},
    {"map", IG_CFG_MAP, NULL, offsetof(struct demo_conf, map), "mapping", 0,
     NULL},
    {0},
};

static void cfg_parse_and_apply(void **state)
{
    (void)state;
    const char *text = "# demo\n"
                       "[source city-news]\n"
                       "url = http://127.0.0.1/feed.xml  # trailing\n"
                       "interval = 30s\n"
                       "enabled = no\n"
                       "tags = a, b ,c\n"
                       "map.id = /gdbh\n"
                       "map.title = \"/title # not a comment\"\n";
    struct ig_cfg_doc doc;
    struct ig_diags d;
    ig_cfg_doc_init(&doc);
    ig_diags_init(&d);
    assert_int_equal(ig_cfg_parse_mem(&doc, "t.conf", text, strlen(text), &d),
                     IG_OK);
    assert_int_equal(doc.n, 1);
    assert_string_equal(doc.s[0].type, "source");
    assert_string_equal(doc.s[0].name, "city-news");
    struct demo_conf c = {0};
    assert_int_equal(ig_cfg_apply(&doc.s[0], demo_schema, &c, &d), IG_OK);
    assert_string_equal(c.url, "http://127.0.0.1/feed.xml");
    assert_int_equal(c.interval_ms, 30000);
    assert_false(c.enabled);
    assert_int_equal(c.max_bytes, 10 << 20);
    assert_string_equal(c.mode, "safe");
    assert_int_equal(c.tags.n, 3);
    assert_string_equal(c.tags.v[2], "c");
    assert_int_equal(c.map.n, 2);
    assert_string_equal(c.map.v[0], "id");
    assert_string_equal(c.map.v[3], "/title # not a comment");
    ig_cfg_free(demo_schema, &c);
    ig_cfg_doc_fini(&doc);
    ig_diags_fini(&d);
}

static void cfg_reports_every_error(void **state)
{
    (void)state;
    const char *text = "[source x]\n"
                       "intervall = 5m\n"
                       "enabled = maybe\n"
                       "mode = turbo\n"
                       "no equals sign here\n"
                       "interval = 5 parsecs\n";
    struct ig_cfg_doc doc;
    struct ig_diags d;
    ig_cfg_doc_init(&doc);
    ig_diags_init(&d);
    assert_int_equal(ig_cfg_parse_mem(&doc, "bad.conf", text, strlen(text),
                                      &d),
                     IG_EPARSE);
    struct demo_conf c = {0};
    assert_int_equal(ig_cfg_apply(&doc.s[0], demo_schema, &c, &d), IG_EINVAL);
    /* parse error + unknown key + bad bool + bad enum + bad duration +
     * missing required url */
    assert_int_equal(d.nerrors, 6);
    assert_int_equal(d.v[0].line, 5);
    assert_non_null(strstr(d.v[1].msg, "did you mean 'interval'"));
    assert_int_equal(d.v[1].line, 2);
    assert_int_equal(d.v[2].line, 3);
    assert_int_equal(d.v[2].col, 11);
    assert_non_null(strstr(d.v[5].msg, "missing required key 'url'"));
    ig_cfg_free(demo_schema, &c);
    ig_cfg_doc_fini(&doc);
    ig_diags_fini(&d);
}

static void value_parsers(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(ig_parse_duration_ms("250ms", &v), IG_OK);
    assert_int_equal(v, 250);
    assert_int_equal(ig_parse_duration_ms("30d", &v), IG_OK);
    assert_int_equal(v, 30LL * 86400000);
    assert_int_equal(ig_parse_duration_ms("1.5h", &v), IG_OK);
    assert_int_equal(v, 5400000);
    assert_int_equal(ig_parse_duration_ms("-1s", &v), IG_EINVAL);
    assert_int_equal(ig_parse_size("64k", &v), IG_OK);
    assert_int_equal(v, 65536);
    assert_int_equal(ig_parse_size("lots", &v), IG_EINVAL);
    assert_int_equal(ig_edit_distance("B01-99", "B01-09"), 1);
    assert_int_equal(ig_edit_distance("井盖", "窨井盖"), 1);
}

static const char *suggest(const char *word, const char *const *names)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, word);
    for (; *names; names++) {
        ig_suggest_try(&sg, *names);
    }
    return ig_suggest_best(&sg);
}

/* One "did you mean" policy for every tool: the nearest name, if a typo
 * could explain it. */
static void suggestions(void **state)
{
    (void)state;
    static const char *const kinds[] = {"rss",     "hotline", "xmlfeed",
                                        "webpage", "file",    NULL};
    static const char *const keys[] = {"keyword", "near", "not", "regex", NULL};
    assert_string_equal(suggest("rsss", kinds), "rss");
    assert_string_equal(suggest("hotlien", kinds), "hotline");
    assert_string_equal(suggest("webpages", kinds), "webpage");
    assert_null(suggest("zzz", kinds)); /* 3 edits of 3 letters */
    assert_null(suggest("rss", kinds)); /* known: nothing to suggest */
    assert_null(suggest("ab", keys));   /* more than half the word */
    assert_string_equal(suggest("keywrd", keys), "keyword");
    assert_string_equal(suggest("nera", keys), "near"); /* first of ties */
    assert_null(suggest("", kinds));
    static const char *const none[] = {NULL};
    assert_null(suggest("rss", none));
    /* Longer words allow 3 edits, counted in code points. */
    static const char *const ids[] = {"hotline-qingpu", "窨井盖", NULL};
    assert_string_equal(suggest("hotlin-qinpuu", ids), "hotline-qingpu");
    assert_null(suggest("hotline-beijing", ids));
    assert_string_equal(suggest("井盖", ids), "窨井盖");
}

static void item_fields_and_time(void **state)
{
    (void)state;
    struct ig_item *it = ig_item_new();
    it->title = ig_item_strdup(it, "路灯不亮");
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        ig_item_add_field(it, k, "v");
    }
    assert_int_equal(it->nfields, 10);
    assert_string_equal(ig_item_field(it, "k7"), "v");
    assert_null(ig_item_field(it, "nope"));
    ig_item_flag(it, IG_ITEM_F_REPAIRED, "first");
    ig_item_flag(it, IG_ITEM_F_TRUNCATED, "second");
    assert_string_equal(it->warning, "first");
    char iso[32];
    ig_time_iso(1664087400, 480, iso);
    assert_string_equal(iso, "2022-09-25T14:30:00+08:00");
    ig_time_iso(0, 0, iso);
    assert_string_equal(iso, "1970-01-01T00:00:00Z");
    ig_item_free(it);
}

/* ig_time_iso() against the printf form it replaced: years 1 to 9999
 * (and past them, where printf still writes it), offsets of whole hours,
 * quarter hours, odd minutes and beyond 99 hours. */
static void ref_iso(int64_t t, int offset_min, char out[32])
{
    time_t local = (time_t)(t + (int64_t)offset_min * 60);
    struct tm tm = {0};
    char tmp[96];
    int off = offset_min < 0 ? -offset_min : offset_min;

    gmtime_r(&local, &tm);
    if (offset_min == 0) {
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    } else {
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, offset_min < 0 ? '-' : '+', off / 60,
                 off % 60);
    }
    snprintf(out, 32, "%.31s", tmp);
}

static void time_iso_matches_printf(void **state)
{
    static const int offs[] = {0,    480,   -480, 60,    -60,  345,  -210,
                               1,    -1,    59,   -59,   61,   840,  -720,
                               5999, -5999, 6000, -6000, 6059, 59999};
    uint64_t x = 0x243F6A8885A308D3ull;
    char got[32], want[32];

    (void)state;
    for (int i = 0; i < 200000; i++) {
        /* years 1 .. 12000, seconds anywhere in them */
        int64_t t = -62135596800LL + (int64_t)(x % 316600000000ULL);
        int off = offs[i % (int)(sizeof(offs) / sizeof(offs[0]))];

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ig_time_iso(t, off, got);
        ref_iso(t, off, want);
        assert_string_equal(got, want);
    }
    ig_time_iso(253402300799LL, 0, got); /* the last second of 9999 */
    assert_string_equal(got, "9999-12-31T23:59:59Z");
    ig_time_iso(-62135596800LL, 0, got); /* the first of year 1 */
    assert_string_equal(got, "0001-01-01T00:00:00Z");
}

/* ig_ptrmap: keys are addresses (two equal strings at two addresses are
 * two keys), a key is added once, adds past the size are refused, and
 * every key of a full map is found with its value, from an arena and from
 * the heap. */
/* ig_idset against a plain array, under random adds, updates and deletes
 * of ids drawn from small pools (long probe runs, runs wrapping around the
 * table's end, deletes in the middle of runs) and across growth: every
 * answer the same, and the count too. Ids whose low bits collide on
 * purpose make the clusters. */
static void idset_matches_reference(void **state)
{
    (void)state;
    enum { POOL = 3000 };
    static uint64_t pool[POOL];
    static uint8_t ref[POOL];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 3; round++) {
        struct ig_idset s;
        ig_idset_init(&s);
        size_t held = 0;
        for (int i = 0; i < POOL; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* round 0: random ids; 1: ids sharing their low 10 bits in
             * groups (one home slot each group); 2: near the top slots */
            pool[i] = round == 0   ? x
                      : round == 1 ? (x & ~0x3ffull) | (uint64_t)(i % 7)
                                   : (x & ~0x3ffull) | 0x3fe;
            if (pool[i] == 0) {
                pool[i] = 1;
            }
            ref[i] = 0;
        }
        for (int step = 0; step < 200000; step++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int i = (int)(x % POOL);
            int op = (int)((x >> 32) % 3);
            if (op == 0) {
                uint8_t v = (uint8_t)(1 + (x >> 40) % 3);
                assert_true(ig_idset_put(&s, pool[i], v));
                held += ref[i] == 0;
                ref[i] = v;
            } else if (op == 1) {
                ig_idset_del(&s, pool[i]);
                held -= ref[i] != 0;
                ref[i] = 0;
            }
            assert_int_equal(ig_idset_get(&s, pool[i]), ref[i]);
            assert_int_equal(s.n, held);
        }
        for (int i = 0; i < POOL; i++) {
            assert_int_equal(ig_idset_get(&s, pool[i]), ref[i]);
        }
        uint64_t *ids = calloc(s.n + 1, sizeof(*ids));
        assert_int_equal(ig_idset_ids(&s, ids), held);
        for (size_t k = 0; k < held; k++) {
            assert_int_not_equal(ig_idset_get(&s, ids[k]), 0);
        }
        free(ids);
        assert_false(ig_idset_put(&s, 0, 1));
        assert_int_equal(ig_idset_get(&s, 0), 0);
        ig_idset_del(&s, 0);
        ig_idset_fini(&s);
        assert_int_equal(ig_idset_get(&s, pool[0]), 0); /* empty again */
    }
}

static void ptrmap_by_address(void **state)
{
    static char pool[3000];
    struct ig_arena *a = ig_arena_new(4096);
    (void)state;
    for (int heap = 0; heap < 2; heap++) {
        struct ig_ptrmap m;
        uint32_t v = 0;
        ig_ptrmap_init(&m, 1000, heap ? NULL : a);
        assert_false(ig_ptrmap_get(&m, pool, &v));
        assert_false(ig_ptrmap_add(&m, NULL, 1));
        for (uint32_t i = 0; i < 1000; i++) {
            assert_true(ig_ptrmap_add(&m, pool + 3 * i, i * 7));
        }
        assert_false(ig_ptrmap_add(&m, pool + 3, 99)); /* there: kept */
        assert_false(ig_ptrmap_add(&m, pool + 1, 5));  /* full */
        for (uint32_t i = 0; i < 1000; i++) {
            assert_true(ig_ptrmap_get(&m, pool + 3 * i, &v));
            assert_int_equal(v, i * 7);
            assert_false(ig_ptrmap_get(&m, pool + 3 * i + 1, &v));
        }
        assert_false(ig_ptrmap_get(&m, NULL, &v));
        ig_ptrmap_fini(&m);
        assert_false(ig_ptrmap_get(&m, pool, &v)); /* empty after fini */
    }
    ig_arena_free(a);
}

/* ig_pool: blocks come zeroed, a block given back is the next one out,
 * at most max are kept (the rest freed: ASan would report a leak or a
 * double free otherwise), fini frees what is kept. */
static void pool_reuses_and_bounds(void **state)
{
    struct ig_pool p;
    unsigned char *b[3];
    (void)state;
    ig_pool_init(&p, 40, 2);
    for (int i = 0; i < 3; i++) {
        b[i] = ig_pool_get(&p);
        for (int k = 0; k < 40; k++) {
            assert_int_equal(b[i][k], 0);
        }
        memset(b[i], 0xab, 40);
    }
    ig_pool_put(&p, b[0]);
    ig_pool_put(&p, b[1]);
    ig_pool_put(&p, b[2]); /* over max: freed */
    ig_pool_put(&p, NULL);
    assert_int_equal(p.n, 2);
    unsigned char *c = ig_pool_get(&p);
    assert_ptr_equal(c, b[1]); /* last in, first out */
    for (int k = 0; k < 40; k++) {
        assert_int_equal(c[k], 0); /* zeroed again */
    }
    assert_int_equal(p.n, 1);
    ig_pool_put(&p, c);
    ig_pool_fini(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_cap_is_never_silent),
        cmocka_unit_test(read_file_whole_or_coded),
        cmocka_unit_test(utf8_has_fffd_finds_the_mark),
        cmocka_unit_test(calloc_lines_aligned_and_zeroed),
        cmocka_unit_test(fmt_u64_matches_printf),
        cmocka_unit_test(arena_alloc_and_defer),
        cmocka_unit_test(arena_sizes_and_blocks),
        cmocka_unit_test(utf8_strict_decoding),
        cmocka_unit_test(utf8_decode_fast_paths_agree),
        cmocka_unit_test(utf8_five3_every_byte),
        cmocka_unit_test(utf8_head_tail_by_decoding),
        cmocka_unit_test(utf8_sanitize_replaces_and_drops),
        cmocka_unit_test(jsonw_escapes_and_commas),
        cmocka_unit_test(buf_fast_paths_keep_the_cap),
        cmocka_unit_test(jsonw_fast_paths),
        cmocka_unit_test(jsonw_fast_scan_agrees),
        cmocka_unit_test(json_plain_run_agrees),
        cmocka_unit_test(arena_printf_in_place),
        cmocka_unit_test(cfg_parse_and_apply),
        cmocka_unit_test(cfg_reports_every_error),
        cmocka_unit_test(value_parsers),
        cmocka_unit_test(suggestions),
        cmocka_unit_test(item_fields_and_time),
        cmocka_unit_test(arena_reset_is_new),
        cmocka_unit_test(item_reused_is_fresh),
        cmocka_unit_test(time_iso_matches_printf),
        cmocka_unit_test(cp_widths),
        cmocka_unit_test(ptrmap_by_address),
        cmocka_unit_test(idset_matches_reference),
        cmocka_unit_test(pool_reuses_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
