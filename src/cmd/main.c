/* pxelab: a network-boot lab on this machine. Dispatches to the command
 * table in commands.c; each command is its own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/util.h"
#include "cmd/commands.h"

int main(int argc, char *argv[]) {
        const struct command *c;
        const char *dbg = getenv("PXELAB_DEBUG");
        char self[64];
        int words;

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
        c = command_lookup(argc - 1, argv + 1, &words);
        if (!c) {
                log_error("Unknown command '%s'. See 'pxelab --help'.", argv[1]);
                return EXIT_USAGE;
        }
        /* `pxelab CMD --help` is help for that command. */
        for (int i = 1 + words; i < argc; i++)
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        char *hargv[] = { "help", (char *) c->name, NULL };
                        return cmd_help(2, hargv);
                }
        if (!c->fn) {
                /* A group without one of its sub-commands. */
                if (argc > 2)
                        log_error("Unknown %s command '%s'. See 'pxelab help %s'.", c->name, argv[2], c->name);
                return command_usage(c->name);
        }
        /* getopt names argv[0] in its messages: make it the whole command,
         * "pxelab vm list: unrecognized option '--bogus'". */
        snprintf(self, sizeof(self), "pxelab %s", c->name);
        argv[words] = self;
        return c->fn(argc - words, argv + words);
}
