/* Boot kind `wimboot`: WinPE from files. The iPXE project's wimboot loads
 * bootmgr, the BCD, boot.sdi, the WIM and any injected file over HTTP
 * (templates/entry-wimboot.ipxe.mustache). The loading of files is shared
 * with kind `windows` (windows.c), which boots the same set from an install
 * tree. */
#pragma once
#include <jansson.h>

#include "profile/profile.h"
#include "render/model.h"

/* An entry's values (its kind_data). */
struct wimboot_entry {
        char *wimboot;          /* entry > global > $PXELAB_WIMBOOT */
        char *bcd, *boot_sdi, *wim, *bootmgr;
        char **inject;          /* n_inject of them, each lands in System32 as inject_name[i] */
        char **inject_name;
        size_t n_inject;
        char *args;
};

/* B's values; NULL when B is not a wimboot entry. */
const struct wimboot_entry *wimboot_of(const struct boot_entry *b);

/* The files an entry's wimboot loads, in load order, each named as wimboot
 * wants it. */
struct wimboot_loads {
        const struct model_entry *m;
        json_t *initrds;
        int error;              /* -EINVAL once a clash was logged */
};

/* Serves the entry's loader WIMBOOT and sets "wimboot", "has_args" and
 * "args" (ARGS, may be NULL) on its model object O. */
void wimboot_loads_start(struct wimboot_loads *l, const struct model_entry *m, json_t *o, const char *wimboot,
                         const char *args);
/* Serves PATH as NAME and loads it. A file of the same name (any case)
 * loaded already is logged as "FILE:LINE: FIELD: ..." and kept in l->error. */
void wimboot_load(struct wimboot_loads *l, const char *path, const char *name, const char *field, unsigned line);
/* wimboot_load() of the file of option KEY ("bcd", "inject[2]") of the entry. */
void wimboot_load_opt(struct wimboot_loads *l, const char *path, const char *name, const char *key);
/* Sets "initrds" on O; returns l->error. */
int wimboot_loads_finish(struct wimboot_loads *l, json_t *o);
