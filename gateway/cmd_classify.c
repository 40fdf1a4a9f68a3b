/* cmd_classify.c — placeholder until its issue lands. */
#include "gateway/cmd.h"

#include <stdio.h>

int cmd_classify(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "intake: 'classify' is not built yet\n");
    return IG_EXIT_USAGE;
}
