/* The data model the templates see: built from a validated profile, as
 * jansson. Its shape is documented in README.md ("Template data model").
 * The model knows no boot kind: each brings its part (struct render_kind,
 * provided by src/kinds/, handed down by the caller). */
#pragma once
#include <jansson.h>

#include "profile/profile.h"

struct render_changes;          /* render/render.h */

/* What a kind's entry_model() gets. */
struct model_entry {
        const struct profile *p;
        const struct boot_entry *b;
        const char *run_dir;
        const char *base;               /* "http://ADDR" */
        json_t *files;                  /* the model's "files": model_serve() */
};

/* A boot kind's part of the model and the rendered tree. */
struct render_kind {
        const char *name;               /* the profile kind's name */
        /* Sets the kind's members of the entry's object O and serves its
         * files; -EINVAL after logging "FILE:LINE: FIELD: message". NULL:
         * nothing of its own. */
        int (*entry_model)(const struct model_entry *m, json_t *o);
        /* A member LAB_KEY of the model built for every profile (NULL:
         * none), e.g. "smb"; NULL after logging "FILE:LINE: FIELD:
         * message" for a profile the kind refuses as a whole. */
        const char *lab_key;
        json_t *(*lab_model)(const struct profile *p, const char *run_dir, const char *state_dir);
        /* Renders what the kind needs beyond its entries' scripts and says
         * in CHANGES which service's files changed (NULL: nothing). */
        int (*render)(const struct profile *p, json_t *model, struct render_changes *changes);
};

/* RUN_DIR holds the rendered tree (configs, http/, tftp/, log/), STATE_DIR
 * the persistent data (dnsmasq leases). KINDS is NULL-terminated. */
int model_build(const struct profile *p, const struct render_kind *const *kinds, const char *run_dir,
                const char *state_dir, json_t **ret);

/* A boot file served by nginx under /files/ENTRY/NAME (an exact alias, no
 * directory is exposed). Appends it to FILES and returns its object
 * (borrowed). The path served is the file's real path, resolved now: nginx
 * refuses every symlink on the way (disable_symlinks), so one planted later
 * is not followed. Its NAME stays the one the profile gave. */
json_t *model_serve(json_t *files, const char *base, const char *entry, const char *path, const char *name);

/* The lab's IPv6 ULA /48 prefix, "fd" and 40 bits of a hash of the lab name
 * (e.g. "fd07:b579:49ee::"), so each lab gets its own and keeps it. */
char *model_ula_prefix(const char *lab);
