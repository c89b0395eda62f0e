/* Boot kind `wimboot`: WinPE from files. The iPXE project's wimboot loads
 * bootmgr, the BCD, boot.sdi, the WIM and any injected file over HTTP
 * (templates/entry-wimboot.ipxe.mustache). The loading of files is shared
 * with kind `windows` (windows.c), which boots the same set from an install
 * tree. */
#pragma once
#include <jansson.h>

#include "profile/profile.h"
#include "render/model.h"

/* The files an entry's wimboot loads, in load order, each named as wimboot
 * wants it. */
struct wimboot_loads {
        const struct model_entry *m;
        json_t *initrds;
        int error;              /* -EINVAL once a clash was logged */
};

/* Serves the entry's wimboot loader and sets "wimboot", "has_args" and
 * "args" on its model object O. */
void wimboot_loads_start(struct wimboot_loads *l, const struct model_entry *m, json_t *o);
/* Serves PATH as NAME and loads it. A file of the same name (any case)
 * loaded already is logged as "FILE:LINE: FIELD: ..." and kept in l->error. */
void wimboot_load(struct wimboot_loads *l, const char *path, const char *name, const char *field, unsigned line);
/* wimboot_load() of the file of option KEY ("bcd", "inject[2]") of the entry. */
void wimboot_load_opt(struct wimboot_loads *l, const char *path, const char *name, const char *key);
/* Sets "initrds" on O; returns l->error. */
int wimboot_loads_finish(struct wimboot_loads *l, json_t *o);
