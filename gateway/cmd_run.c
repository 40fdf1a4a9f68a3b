/* cmd_run.c — placeholder until its issue lands. */
#include "gateway/cmd.h"

#include <stdio.h>

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "intake: 'run' is not built yet\n");
    return IG_EXIT_USAGE;
}
