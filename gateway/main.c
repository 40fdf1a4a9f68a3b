/* main.c — `intake`: argv to a subcommand; nothing else. */
#include "gateway/cmd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"classify", cmd_classify, "classify texts into B/S codes (one pass)"},
    {"rules", cmd_rules, "test, check and diff rule sets"},
    {"sources", cmd_sources, "check source configuration, show health"},
    {"poll", cmd_poll, "fetch one source once and show its items"},
    {"run", cmd_run, "run the gateway: poll, classify, dedup, forward"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: intake <command> [options]\n"
            "\n"
            "Hazard intake gateway for Qingpu's dynamic hazard clearance:\n"
            "polls citizen channels, classifies each item into the plan's\n"
            "B/S codes, deduplicates in Redis and forwards candidates.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out,
            "\n"
            "Run `intake <command> --help` (or `intake help <command>`)\n"
            "for a command's options; `intake --version` for the version.\n"
            "Exit status: 0 ok, 1 findings (failed check), 2 usage or\n"
            "configuration error, 3 runtime failure.\n");
}

const char *cmd_default_rules_dir(void)
{
    const char *env = getenv("INTAKE_RULES");
    if (env && *env) {
        return env;
    }
    /* The installed binary uses the installed rules; a binary in a build
     * tree uses the source tree it was built from. */
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        size_t bl = strlen(IG_INSTALL_BINDIR);
        if (strncmp(exe, IG_INSTALL_BINDIR, bl) == 0 && exe[bl] == '/' &&
            access(IG_INSTALL_RULES_DIR, R_OK) == 0) {
            return IG_INSTALL_RULES_DIR;
        }
    }
    return IG_SOURCE_RULES_DIR;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return IG_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 && argc > 2) {
        /* `intake help classify` is `intake classify --help`. */
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(argv[2], commands[i].name) == 0) {
                char *args[] = {argv[2], "--help", NULL};
                return commands[i].fn(2, args);
            }
        }
        fprintf(stderr, "intake: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return IG_EXIT_USAGE;
    }
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
        strcmp(name, "help") == 0) {
        usage(stdout);
        return IG_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("intake %s\n", IG_VERSION);
        return IG_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "intake: unknown command '%s'\n\n", name);
    usage(stderr);
    return IG_EXIT_USAGE;
}
