/* The subcommands: one file each (cmd-NAME.c), dispatched by main.c. Each
 * returns the process exit code: 0 ok, 1 runtime failure, 2 usage/profile,
 * 3 (status only) degraded. */
#pragma once

enum {
        EXIT_OK = 0,
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
        EXIT_DEGRADED = 3,
};

struct command {
        const char *name;
        int (*fn)(int argc, char *argv[]);
        const char *usage;          /* arguments, after "pxelab NAME" */
        const char *summary;        /* one line */
        const char *help;           /* longer text for `pxelab help NAME` */
};

#include <stdio.h>

const struct command *command_find(const char *name);
void commands_show_usage(FILE *f);
int cmd_help(int argc, char *argv[]);
int cmd_version(int argc, char *argv[]);
/* Prints "Usage: pxelab NAME USAGE" to stderr and returns EXIT_USAGE. */
int command_usage(const char *name);

int cmd_render(int argc, char *argv[]);
int cmd_check(int argc, char *argv[]);
int cmd_up(int argc, char *argv[]);
int cmd_down(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_vm(int argc, char *argv[]);
