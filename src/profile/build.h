/* Builds struct profile from a parsed profile, and what a boot kind's
 * build() (profile/kind.h) calls to read and check its entry's keys: each
 * reports a problem as "FILE:LINE: boot.NAME.KEY: message" at the key's
 * line (the section's when unset). Touches no file. */
#pragma once
#include <confuse.h>
#include <stdbool.h>
#include <stddef.h>

#include "profile/kind.h"
#include "profile/syntax.h"
#include "profile/types.h"
#include "profile/values.h"

/* Fills P from ROOT; every problem goes to CTX. */
void build_profile(struct parse_ctx *ctx, cfg_t *root, const struct profile_kind *const *kinds, struct profile *p);

/* KEY's value as written; NULL when unset. */
const char *entry_value(struct entry_builder *eb, const char *key);
/* "boot.NAME.KEY: message" */
void entry_problem(struct entry_builder *eb, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* "boot.NAME.KEY: 'VALUE' message" */
void entry_problem_value(struct entry_builder *eb, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Whether KEY is set and passes check_text() for CS (reported if not). */
bool entry_text_valid(struct entry_builder *eb, const char *key, enum charset cs);
/* A path, checked and made absolute against the profile's dir; NULL when
 * unset (reported when REQUIRED) or bad. */
char *entry_path(struct entry_builder *eb, const char *key, bool required);
/* The name the file at PATH (KEY's value) is served under; NULL after
 * reporting a path that ends in "..". */
char *entry_served_name(struct entry_builder *eb, const char *key, const char *path);
/* A list of paths served by name: each path with its served name in
 * *RET_NAMES (the names must differ); the good ones, *RET_N of them. */
char **entry_path_list(struct entry_builder *eb, const char *key, char ***ret_names, size_t *ret_n);
/* Free text checked for CS; NULL when unset, empty or bad. */
char *entry_text(struct entry_builder *eb, const char *key, enum charset cs);
/* The wimboot loader: the entry's, else the global `wimboot`, else
 * $PXELAB_WIMBOOT; NULL (reported) when none. */
char *entry_wimboot(struct entry_builder *eb);
