/* cmd_sources.c — placeholder until its issue lands. */
#include "gateway/cmd.h"

#include <stdio.h>

int cmd_sources(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "intake: 'sources' is not built yet\n");
    return IG_EXIT_USAGE;
}
