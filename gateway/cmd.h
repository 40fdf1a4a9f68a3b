/* cmd.h — the subcommands of `intake`, one cmd_*.c file each.
 *
 * Each takes argc/argv starting at the subcommand name and returns the
 * process exit status: 0 success, 1 the job ran but found problems (a
 * failed check, an accuracy under the bar), 2 usage or configuration
 * error, 3 runtime failure (I/O, a dependency unreachable).
 */
#ifndef IG_GATEWAY_CMD_H
#define IG_GATEWAY_CMD_H

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

#endif
