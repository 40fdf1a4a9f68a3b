/* test_jsonr.c — the strict flat-object JSON reader (core/jsonr.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/jsonr.h"
#include "core/mem.h"

static int parse(const char *s, struct ig_arena *a, struct ig_jsonr_member **m,
                 size_t *n)
{
    size_t off;
    const char *err;
    return ig_jsonr_object(s, strlen(s), a, m, n, &off, &err);
}

static void test_ok(void **state)
{
    (void)state;
    struct ig_arena *a = ig_arena_new(0);
    struct ig_jsonr_member *m;
    size_t n;
    const char *s = " {\"id\": 12, \"title\":\"a\\\"b\\u4e95\\ud83d\\ude00\","
                    " \"x\": {\"y\": [1, -2.5e3, true, null]}, \"z\": false,"
                    " \"text\": \"\\u0000nul\"} ";
    assert_int_equal(parse(s, a, &m, &n), IG_OK);
    assert_int_equal(n, 5);
    const struct ig_jsonr_member *t = ig_jsonr_get(m, n, "title");
    assert_non_null(t);
    assert_int_equal(t->type, IG_JSONR_STRING);
    assert_string_equal(t->str, "a\"b井\xf0\x9f\x98\x80");
    const struct ig_jsonr_member *id = ig_jsonr_get(m, n, "id");
    assert_int_equal(id->type, IG_JSONR_NUMBER);
    assert_int_equal(id->raw_len, 2);
    const struct ig_jsonr_member *x = ig_jsonr_get(m, n, "x");
    assert_int_equal(x->type, IG_JSONR_OBJECT);
    assert_memory_equal(x->raw, "{\"y\": [1, -2.5e3, true, null]}", x->raw_len);
    const struct ig_jsonr_member *tx = ig_jsonr_get(m, n, "text");
    assert_int_equal(tx->str_len, 4);
    assert_int_equal(tx->str[0], '\0');
    assert_int_equal(parse("{}", a, &m, &n), IG_OK);
    assert_int_equal(n, 0);
    ig_arena_free(a);
}

static void test_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "[]",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":01}",
        "{\"a\":+1}",
        "{\"a\":.5}",
        "{\"a\":1.}",
        "{\"a\":NaN}",
        "{\"a\":\"\\x41\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\uZZZZ\"}",
        "{\"a\":\"\\'\"}",
        "{\"a\":\"x\\",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\udc00\\ud800\"}",
        "{\"a\":\"\\ud800x\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1} x",
        "{\"a\":1,\"a\":2}",
        "{\"a\":\"\xff\"}",
        "{\"a\":tru}",
    };
    struct ig_arena *a = ig_arena_new(0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ig_jsonr_member *m = (void *)1;
        size_t n;
        size_t off = 99999;
        const char *err = NULL;
        int rc = ig_jsonr_object(bad[i], strlen(bad[i]), a, &m, &n, &off, &err);
        if (rc != IG_EPARSE) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_null(m);
        assert_non_null(err);
        assert_true(off <= strlen(bad[i]));
    }
    ig_arena_free(a);
}

static void test_deep(void **state)
{
    (void)state;
    size_t depth = 100000;
    char *s = ig_malloc(depth + 16);
    strcpy(s, "{\"a\":");
    memset(s + 5, '[', depth);
    s[5 + depth] = '\0';
    struct ig_arena *a = ig_arena_new(0);
    struct ig_jsonr_member *m;
    size_t n, off;
    const char *err;
    assert_int_equal(ig_jsonr_object(s, strlen(s), a, &m, &n, &off, &err),
                     IG_EPARSE);
    assert_string_equal(err, "nesting too deep");
    ig_arena_free(a);
    ig_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
