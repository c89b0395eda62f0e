/* The command table: one row per command, sub-commands ("vm start") rows of
 * their own, each with its usage line, help and arity; one file per command
 * (cmd-NAME.c), dispatched by main.c. Each returns the process exit code: 0
 * ok, 1 runtime failure, 2 usage/profile, 3 (status only) degraded. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum {
        EXIT_OK = 0,
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
        EXIT_DEGRADED = 3,
};

struct command {
        const char *name;           /* "status", or "vm start" for a sub-command */
        int (*fn)(int argc, char *argv[]);  /* NULL: a group ("vm"), whose rows follow */
        const char *usage;          /* arguments, after "pxelab NAME" */
        const char *summary;        /* one line */
        const char *help;           /* longer text for `pxelab help NAME` */
        int min_args, max_args;     /* positional arguments (after the options) */
};

/* The row named NAME ("vm start"), or NULL. */
const struct command *command_find(const char *name);
/* The row argv[0] (and argv[1], for a group) name: *ret_words says how many
 * words the name took. A group without (or with an unknown) sub-command
 * gives the group's row. NULL for no command. */
const struct command *command_lookup(int argc, char *argv[], int *ret_words);
void commands_show_usage(FILE *f);
int cmd_help(int argc, char *argv[]);
int cmd_version(int argc, char *argv[]);
/* A lab name from the command line is used in paths and unit names: true
 * when it follows the rule, else logs why (the caller exits 2). */
bool command_lab_arg_ok(const char *arg);
/* Prints "Usage: pxelab NAME USAGE" to stderr (each row's, for a group) and
 * returns EXIT_USAGE. */
int command_usage(const char *name);
/* N positional arguments are what NAME's row allows: true, else its usage
 * is printed (the caller returns EXIT_USAGE). */
bool command_args_ok(const char *name, int n);

int cmd_render(int argc, char *argv[]);
int cmd_check(int argc, char *argv[]);
int cmd_up(int argc, char *argv[]);
int cmd_down(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_vm_start(int argc, char *argv[]);
int cmd_vm_stop(int argc, char *argv[]);
int cmd_vm_list(int argc, char *argv[]);
int cmd_vm_console(int argc, char *argv[]);
int cmd_watch(int argc, char *argv[]);
/* vm start --wait: follows VM NAME (MAC) of LAB from SINCE_USEC (realtime)
 * through the lab's boot events; EXIT_OK when it booted, else EXIT_RUNTIME
 * after saying its last step and why (cmd-watch.c). */
int watch_vm_boot(const char *lab, const char *name, const char *mac, uint64_t since_usec, unsigned seconds);
