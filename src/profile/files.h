/* The files a profile references: the only part of the profile that
 * touches the filesystem (parsing stays pure, for the fuzzer). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "profile/types.h"

struct entry_checker;

/* Resolves every file the profile references (boot files, each entry's
 * wimboot, `templates`, a windows entry's `source` and `drivers`) to its
 * canonical path, as realpath(3): symlinks and ".." resolved, the path in
 * the struct replaced. Checks that each exists, that its canonical path
 * passes the checks of a written path (no space, control character...), that
 * it is a regular file (a directory for `source`/`drivers`/`templates`) and
 * readable, and whatever each kind's check_files() adds (a windows `source`
 * has bootmgr, boot/bcd, boot/boot.sdi and sources/boot.wim). Same error format, values
 * quoted as written; a path with ".." that does not exist also shows where
 * it led: "'../images/vmlinuz' (/srv/images/vmlinuz) does not exist".
 * Returns 0, or -ENOENT and the problems in *ERRORS. */
int profile_check_files(struct profile *p, char ***errors);

/* For `render`, which does not need the files: resolves the paths that
 * exist as profile_check_files() does and leaves the others as parsed.
 * Returns 0, or -EINVAL and the problems (a canonical path that cannot go
 * into a config) in *ERRORS. */
int profile_resolve_paths(struct profile *p, char ***errors);


/* What a kind's check_files() (profile/kind.h) calls for entry E's option
 * KEY: resolve *SLOT (a file, a directory, each of a list) to its canonical
 * path and check it; each problem names the value as written. */
void entry_check_file(struct entry_checker *c, const struct boot_entry *e, const char *key, char **slot);
void entry_check_dir(struct entry_checker *c, const struct boot_entry *e, const char *key, char **slot);
void entry_check_list(struct entry_checker *c, const struct boot_entry *e, const char *key, char **v, size_t n);
/* The entry's wimboot in *SLOT: its own, the global one or $PXELAB_WIMBOOT's
 * (a shared one reported once). */
void entry_check_wimboot(struct entry_checker *c, const struct boot_entry *e, char **slot);
/* True for `render`: what does not exist stays as parsed, unchecked. */
bool entry_check_missing_ok(const struct entry_checker *c);
/* "boot.NAME.KEY: 'VALUE' message", VALUE as written. */
void entry_check_problem(struct entry_checker *c, const struct boot_entry *e, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
