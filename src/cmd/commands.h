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

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

const struct command *command_find(const char *name);
void commands_show_usage(FILE *f);
int cmd_help(int argc, char *argv[]);
int cmd_version(int argc, char *argv[]);
/* A lab name from the command line is used in paths and unit names: true
 * when it follows the rule, else logs why (the caller exits 2). */
bool command_lab_arg_ok(const char *arg);
/* Prints "Usage: pxelab NAME USAGE" to stderr and returns EXIT_USAGE. */
int command_usage(const char *name);

int cmd_render(int argc, char *argv[]);
int cmd_check(int argc, char *argv[]);
int cmd_up(int argc, char *argv[]);
int cmd_down(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_vm(int argc, char *argv[]);
int cmd_watch(int argc, char *argv[]);
/* vm start --wait: follows VM NAME (MAC) of LAB from SINCE_USEC (realtime)
 * through the lab's boot events; EXIT_OK when it booted, else EXIT_RUNTIME
 * after saying its last step and why (cmd-watch.c). */
int watch_vm_boot(const char *lab, const char *name, const char *mac, uint64_t since_usec, unsigned seconds);
