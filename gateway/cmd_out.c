/* cmd_out.c — output helpers shared by the cmd_*.c commands.
 *
 * `intake classify --format text` and the `intake rules` reports print
 * fixed-width tables of mixed ASCII and CJK text. A cell is measured in
 * display columns (a CJK character takes two), cut to its width and padded
 * with spaces, so the next column lines up whatever the script. The JSON
 * outputs are one object (or array) a line, built in a buffer and written
 * whole. Each command keeps its own layout and keys; only these two
 * mechanics live here.
 */
#include "gateway/cmd.h"

#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/text.h"

/* The character at s (n > 0 bytes left): its length in *k, whether it is
 * shown as it is (*plain) and the columns it takes. A control character
 * would break the row, an invalid sequence the encoding of the whole
 * table: each shows as one space. */
static int char_cols(const char *s, size_t n, size_t *k, bool *plain)
{
    uint32_t cp;
    *k = ig_utf8_decode(s, n, &cp);
    *plain = cp != IG_UTF8_INVALID && cp >= 0x20;
    return *plain ? ig_cp_width(cp) : 1;
}

/* Display width of s[0..n), as cmd_cell() counts it. */
static int width_of(const char *s, size_t n)
{
    int cols = 0;
    size_t i = 0, k;
    bool plain;
    while (i < n) {
        cols += char_cols(s + i, n - i, &k, &plain);
        i += k;
    }
    return cols;
}

void cmd_cell(struct ig_buf *b, const char *s, size_t n, int max_cols,
              int pad_cols, bool mark_cut)
{
    int cols = 0;
    size_t i = 0;
    while (i < n) {
        size_t k;
        bool plain;
        int w = char_cols(s + i, n - i, &k, &plain);
        /* The mark is needed unless all that is left fits: testing only
         * "is this the last character" cut a wide last one silently. */
        if (mark_cut && cols + w > max_cols - 1 &&
            width_of(s + i, n - i) > max_cols - cols) {
            ig_buf_adds(b, "\xe2\x80\xa6"); /* … takes one column */
            cols++;
            break;
        }
        if (cols + w > max_cols) {
            break;
        }
        if (plain) {
            ig_buf_add(b, s + i, k);
        } else {
            ig_buf_addc(b, ' ');
        }
        cols += w;
        i += k;
    }
    for (; cols < pad_cols; cols++) {
        ig_buf_addc(b, ' ');
    }
}

void cmd_json_line(FILE *out, struct ig_buf *b)
{
    ig_buf_addc(b, '\n');
    fwrite(b->data, 1, b->len, out);
    ig_buf_reset(b);
}
