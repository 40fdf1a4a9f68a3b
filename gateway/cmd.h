/* cmd.h — the subcommands of `intake`, one cmd_*.c file each, and the
 * few output helpers they share (cmd_out.c).
 *
 * Each takes argc/argv starting at the subcommand name and returns the
 * process exit status: 0 success, 1 the job ran but found problems (a
 * failed check, an accuracy under the bar), 2 usage or configuration
 * error, 3 runtime failure (I/O, a dependency unreachable).
 */
#ifndef IG_GATEWAY_CMD_H
#define IG_GATEWAY_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct ig_buf;

#define IG_EXIT_OK 0
#define IG_EXIT_FINDINGS 1
#define IG_EXIT_USAGE 2
#define IG_EXIT_RUNTIME 3

int cmd_classify(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_sources(int argc, char **argv);
int cmd_poll(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* The rule directory used when --rules is not given: $INTAKE_RULES, else
 * the installed copy when running the installed binary, else the source
 * tree's rules/. Returns a static string. */
const char *cmd_default_rules_dir(void);

/* Appends s[0..n) to b as one table cell (cmd_out.c): at most max_cols
 * display columns (a CJK character takes two), then spaces up to
 * pad_cols (0: none). A control character or an invalid UTF-8 sequence
 * shows as one space. With mark_cut, a value that does not fit ends in "…"
 * within max_cols; without, it is cut silently. */
void cmd_cell(struct ig_buf *b, const char *s, size_t n, int max_cols,
              int pad_cols, bool mark_cut);
/* Writes b's bytes (one JSON value built with ig_jsonw) and a newline to
 * out, then empties b for the next line. */
void cmd_json_line(FILE *out, struct ig_buf *b);

#endif
