/* pxelab: a network-boot lab on this machine. Dispatches to the command
 * table in commands.c; each command is its own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "basic/log.h"
#include "basic/util.h"

int main(int argc, char *argv[]) {
        const struct command *c;
        const char *dbg = getenv("PXELAB_DEBUG");

        if (dbg && *dbg && !streq(dbg, "0"))
                log_level = 2;
        if (argc < 2) {
                commands_show_usage(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h"))
                return cmd_help(1, argv);
        if (streq(argv[1], "--version"))
                return cmd_version(1, argv);
        c = command_find(argv[1]);
        if (!c) {
                log_error("Unknown command '%s'. See 'pxelab --help'.", argv[1]);
                return EXIT_USAGE;
        }
        /* `pxelab CMD --help` is help for that command. */
        for (int i = 2; i < argc; i++)
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        char *hargv[] = { "help", (char *) c->name, NULL };
                        return cmd_help(2, hargv);
                }
        /* getopt names argv[0] in its messages: make it the whole command,
         * "pxelab status: unrecognized option '--bogus'". */
        char self[64];
        snprintf(self, sizeof(self), "pxelab %s", c->name);
        argv[1] = self;
        return c->fn(argc - 1, argv + 1);
}
