/* cmd_rules.c — placeholder until its issue lands. */
#include "gateway/cmd.h"

#include <stdio.h>

int cmd_rules(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "intake: 'rules' is not built yet\n");
    return IG_EXIT_USAGE;
}
