/* The lab profile: parsed with libconfuse, validated, paths resolved.
 * Everything downstream (model, render, up) reads only struct profile
 * (profile/types.h). The parser knows no boot kind itself: the caller
 * passes the kinds' table (kinds/kind.h gives it), each kind bringing its
 * keys, value rules and file checks (profile/kind.h).
 *
 * Inside: syntax.c (libconfuse tables, the pre-lexer, field -> line map),
 * problems.c (the "FILE:LINE: FIELD: message" list), values.c (value
 * rules), build.c (struct profile from the parsed sections), files.c (the
 * only part that touches the filesystem), this file (the API). */
#pragma once

#include "profile/files.h"
#include "profile/kind.h"
#include "profile/types.h"

/* Parses and validates. BUF may be NULL (read PATH) or the file's content
 * (PATH then names it in messages and anchors relative paths). On failure
 * returns -EINVAL and, when ERRORS != NULL, a NULL-terminated list of every
 * problem found, each one line "FILE:LINE: FIELD: message" (FILE as PATH
 * was given; FIELD e.g. "bridge.address", "boot.NAME.kernel", or "syntax"),
 * sorted by line; an unreadable file gives the one line
 * "FILE: cannot read: REASON", one that is not a regular file (a FIFO,
 * a device, a directory) "FILE: not a regular file" and one over 4 MiB
 * "FILE: larger than 4 MiB", both refused unparsed. On success *ERRORS
 * is NULL.
 * $PXELAB_WIMBOOT is read here (wimboot entries without a wimboot).
 * KINDS (NULL-terminated) are the boot kinds an entry may name.
 * Not thread-safe: libconfuse's lexer is global state. */
int profile_parse(const char *path, const char *buf, const struct profile_kind *const *kinds, char ***errors,
                  struct profile **ret);

/* profile_parse() printing each error to stderr. */
int profile_load(const char *path, const struct profile_kind *const *kinds, struct profile **ret);

/* Line where a field was set, e.g. "bridge.address", "boot.rescue.kernel",
 * "boot.rescue.initrd[1]"; a section's own line for "bridge", "boot.rescue";
 * 0 when not set in the file. */
unsigned profile_line(const struct profile *p, const char *field);

/* Sets the lab's address (bridge.address "A/PREFIX", bridge.addr and
 * bridge.prefix): a proxy lab's is its interface's (lab/proxy.h), or
 * render's --address. */
void profile_set_address(struct profile *p, struct in_addr addr, unsigned prefix);

void profile_free(struct profile *p);
static inline void profile_freep(struct profile **p) { profile_free(*p); }
