/* test_cmd_out.c — the output helpers the cmd_*.c commands share: a
 * table cell of the text reports, a JSON line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "gateway/cmd.h"

static void check(const char *s, size_t n, int max_cols, int pad_cols,
                  bool mark_cut, const char *want)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    cmd_cell(&b, s, n, max_cols, pad_cols, mark_cut);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.len ? b.data : "", want, b.len);
    ig_buf_fini(&b);
}

#define CHECK(s, max, pad, mark, want)                                         \
    check((s), sizeof(s) - 1, (max), (pad), (mark), (want))

static void test_pad_and_cut(void **state)
{
    (void)state;
    CHECK("abc", 5, 6, false, "abc   ");
    CHECK("abcdef", 4, 0, false, "abcd");
    CHECK("", 4, 2, false, "  ");
    /* CJK characters take two columns: a third would not fit in 5 */
    CHECK("井盖丢失", 5, 6, false, "井盖  ");
}

/* The cut mark takes the last column, and only when something is cut. */
static void test_cut_mark(void **state)
{
    (void)state;
    CHECK("abcdef", 4, 0, true, "abc\xe2\x80\xa6");
    CHECK("abcde", 5, 0, true, "abcde");
    CHECK("井盖丢失", 5, 6, true, "井盖\xe2\x80\xa6 ");
}

/* A control character or an invalid UTF-8 sequence is one space, so a
 * cell never breaks its row or the encoding of the table. */
static void test_unprintable(void **state)
{
    (void)state;
    CHECK("a\tb\nc", 10, 0, false, "a b c");
    CHECK("ab\xff\x01"
          "c",
          10, 6, true, "ab  c ");
}

/* One line per value, and the buffer is ready for the next one. */
static void test_json_line(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, "{\"a\":1}");
    cmd_json_line(f, &b);
    assert_int_equal(b.len, 0);
    ig_buf_adds(&b, "[]");
    cmd_json_line(f, &b);
    ig_buf_fini(&b);
    rewind(f);
    char got[32] = {0};
    size_t n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    assert_int_equal(n, 11);
    assert_string_equal(got, "{\"a\":1}\n[]\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_and_cut),
        cmocka_unit_test(test_cut_mark),
        cmocka_unit_test(test_unprintable),
        cmocka_unit_test(test_json_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
