/* A boot kind as the profile parser sees it, in the style of iproute2's
 * struct link_util: its name, the keys of a `boot` section it takes, its
 * value rules and its file checks. This layer defines the type and knows no
 * kind; each kind is a file of src/kinds/ that provides one, and a caller
 * above both hands the table to profile_parse() (kinds_profile() of
 * kinds/kind.h). */
#pragma once
#include <stdbool.h>

struct boot_entry;
struct entry_builder;           /* profile/build.h */
struct entry_checker;           /* profile/files.h */

enum kind_key_type {
        KIND_KEY_STR,           /* key = "value" */
        KIND_KEY_LIST,          /* key = { "a", "b" } */
};

struct kind_key {
        const char *name;
        enum kind_key_type type;
};

struct profile_kind {
        const char *name;               /* kind = "NAME" */
        /* The keys an entry of this kind takes besides title and kind,
         * ended by { NULL }: any other kind's key in the entry is refused
         * ("not valid for kind 'NAME'"). A key several kinds take is the
         * same key (the same type) for all of them. */
        const struct kind_key *keys;
        /* Checks the entry's values and keeps them in E->kind_data (a
         * struct of the kind's own), reporting each problem through
         * build.h's entry_*() (NULL: the kind has no values). */
        void (*build)(struct entry_builder *eb, struct boot_entry *e);
        /* Resolves and checks the files E names through files.h's
         * entry_check_*() (NULL: none). */
        void (*check_files)(struct entry_checker *ec, struct boot_entry *e);
        /* Frees E->kind_data, also when build() stopped half-way (NULL:
         * build() keeps nothing). */
        void (*done)(struct boot_entry *e);
};
