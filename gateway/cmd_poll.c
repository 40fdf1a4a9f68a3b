/* cmd_poll.c — placeholder until its issue lands. */
#include "gateway/cmd.h"

#include <stdio.h>

int cmd_poll(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "intake: 'poll' is not built yet\n");
    return IG_EXIT_USAGE;
}
