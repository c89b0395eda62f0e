/* Boot kind `wimboot`. See wimboot.h. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "basic/json.h"
#include "basic/log.h"
#include "kinds/kind.h"
#include "kinds/wimboot.h"
#include "profile/build.h"
#include "profile/files.h"
#include "basic/util.h"

static const struct kind_key wimboot_keys[] = {
        { "wimboot", KIND_KEY_STR }, { "bcd", KIND_KEY_STR }, { "boot_sdi", KIND_KEY_STR }, { "wim", KIND_KEY_STR },
        { "bootmgr", KIND_KEY_STR }, { "inject", KIND_KEY_LIST }, { "args", KIND_KEY_STR }, {},
};

static void wimboot_build(struct entry_builder *eb, struct boot_entry *e) {
        e->wimboot = entry_wimboot(eb);
        e->bcd = entry_path(eb, "bcd", true);
        e->boot_sdi = entry_path(eb, "boot_sdi", true);
        e->wim = entry_path(eb, "wim", true);
        e->bootmgr = entry_path(eb, "bootmgr", false);
        e->inject = entry_path_list(eb, "inject", &e->inject_name, &e->n_inject);
        e->args = entry_text(eb, "args", CS_CMDLINE);
}

static void wimboot_check_files(struct entry_checker *ec, struct boot_entry *e) {
        entry_check_wimboot(ec, e);
        entry_check_file(ec, e, "bcd", &e->bcd);
        entry_check_file(ec, e, "boot_sdi", &e->boot_sdi);
        entry_check_file(ec, e, "wim", &e->wim);
        entry_check_file(ec, e, "bootmgr", &e->bootmgr);
        entry_check_list(ec, e, "inject", e->inject, e->n_inject);
}

void wimboot_loads_start(struct wimboot_loads *l, const struct model_entry *m, json_t *o) {
        const struct boot_entry *b = m->b;

        *l = (struct wimboot_loads) { .m = m, .initrds = json_array() };
        /* wimboot is the "kernel"; its own name never reaches Windows. */
        json_object_set_new(o, "wimboot", json_deep_copy(model_serve(m->files, m->base, b->name,
                                                                     b->wimboot ? b->wimboot : "", "wimboot")));
        json_object_set_new(o, "has_args", json_boolean(!strempty(b->args)));
        json_object_set_new(o, "args", json_string(b->args ? b->args : ""));
}

/* The name clashes wimboot would trip over: a file of the same name (any
 * case) is already loaded. FIELD/LINE name where the newcomer came from. */
void wimboot_load(struct wimboot_loads *l, const char *path, const char *name, const char *field, unsigned line) {
        const struct model_entry *m = l->m;
        size_t i;
        json_t *f;

        if (strcasecmp(name, "wimboot") == 0)
                goto clash;
        json_array_foreach(l->initrds, i, f)
                if (strcasecmp(json_str(f, "name"), name) == 0)
                        goto clash;
        json_array_append(l->initrds, model_serve(m->files, m->base, m->b->name, path, name));
        return;
clash:
        log_error("%s:%u: %s: '%s' would be loaded as '%s', but boot entry '%s' already loads a file of that name",
                  m->p->path, line, field, path, name, m->b->name);
        l->error = -EINVAL;
}

void wimboot_load_opt(struct wimboot_loads *l, const char *path, const char *name, const char *key) {
        const struct boot_entry *b = l->m->b;
        _cleanup_free_ char *field = xasprintf("boot.%s.%.*s", b->name, (int) strcspn(key, "["), key);
        _cleanup_free_ char *k = xasprintf("boot.%s.%s", b->name, key);
        unsigned line = profile_line(l->m->p, k);

        wimboot_load(l, path, name, field, line ? line : b->line);
}

int wimboot_loads_finish(struct wimboot_loads *l, json_t *o) {
        json_object_set_new(o, "initrds", l->initrds);
        l->initrds = NULL;
        return l->error;
}

/* The names wimboot knows: bootmgr, BCD, *.sdi, *.wim; the rest lands in
 * X:\Windows\System32. */
static int wimboot_model(const struct model_entry *m, json_t *o) {
        const struct boot_entry *b = m->b;
        struct wimboot_loads l;

        wimboot_loads_start(&l, m, o);
        if (b->bootmgr)
                wimboot_load_opt(&l, b->bootmgr, "bootmgr", "bootmgr");
        wimboot_load_opt(&l, b->bcd, "BCD", "bcd");
        wimboot_load_opt(&l, b->boot_sdi, "boot.sdi", "boot_sdi");
        wimboot_load_opt(&l, b->wim, "boot.wim", "wim");
        for (size_t i = 0; i < b->n_inject; i++) {
                _cleanup_free_ char *key = xasprintf("inject[%zu]", i);
                wimboot_load_opt(&l, b->inject[i], b->inject_name[i], key);
        }
        return wimboot_loads_finish(&l, o);
}

const struct kind kind_wimboot = {
        .profile = { .name = "wimboot", .keys = wimboot_keys, .build = wimboot_build,
                     .check_files = wimboot_check_files },
        .render = { .name = "wimboot", .entry_model = wimboot_model },
};
