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

const struct wimboot_entry *wimboot_of(const struct boot_entry *b) {
        return b->kind == &kind_wimboot.profile ? b->kind_data : NULL;
}

static void wimboot_build(struct entry_builder *eb, struct boot_entry *e) {
        struct wimboot_entry *d = e->kind_data = xcalloc(1, sizeof(*d));

        d->wimboot = entry_wimboot(eb);
        d->bcd = entry_path(eb, "bcd", true);
        d->boot_sdi = entry_path(eb, "boot_sdi", true);
        d->wim = entry_path(eb, "wim", true);
        d->bootmgr = entry_path(eb, "bootmgr", false);
        d->inject = entry_path_list(eb, "inject", &d->inject_name, &d->n_inject);
        d->args = entry_text(eb, "args", CS_CMDLINE);
}

static void wimboot_check_files(struct entry_checker *ec, struct boot_entry *e) {
        struct wimboot_entry *d = e->kind_data;

        entry_check_wimboot(ec, e, &d->wimboot);
        entry_check_file(ec, e, "bcd", &d->bcd);
        entry_check_file(ec, e, "boot_sdi", &d->boot_sdi);
        entry_check_file(ec, e, "wim", &d->wim);
        entry_check_file(ec, e, "bootmgr", &d->bootmgr);
        entry_check_list(ec, e, "inject", d->inject, d->n_inject);
}

static void wimboot_done(struct boot_entry *e) {
        struct wimboot_entry *d = e->kind_data;
        if (!d)
                return;
        free(d->wimboot);
        free(d->bcd);
        free(d->boot_sdi);
        free(d->wim);
        free(d->bootmgr);
        strv_free(d->inject);
        strv_free(d->inject_name);
        free(d->args);
        free(d);
}

void wimboot_loads_start(struct wimboot_loads *l, const struct model_entry *m, json_t *o, const char *wimboot,
                         const char *args) {
        *l = (struct wimboot_loads) { .m = m, .initrds = json_array() };
        /* wimboot is the "kernel"; its own name never reaches Windows. */
        json_object_set_new(o, "wimboot", json_deep_copy(model_serve(m->files, m->base, m->b->name,
                                                                     wimboot ? wimboot : "", "wimboot")));
        json_object_set_new(o, "has_args", json_boolean(!strempty(args)));
        json_object_set_new(o, "args", json_string(args ? args : ""));
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
        const struct wimboot_entry *d = m->b->kind_data;
        struct wimboot_loads l;

        wimboot_loads_start(&l, m, o, d->wimboot, d->args);
        if (d->bootmgr)
                wimboot_load_opt(&l, d->bootmgr, "bootmgr", "bootmgr");
        wimboot_load_opt(&l, d->bcd, "BCD", "bcd");
        wimboot_load_opt(&l, d->boot_sdi, "boot.sdi", "boot_sdi");
        wimboot_load_opt(&l, d->wim, "boot.wim", "wim");
        for (size_t i = 0; i < d->n_inject; i++) {
                _cleanup_free_ char *key = xasprintf("inject[%zu]", i);
                wimboot_load_opt(&l, d->inject[i], d->inject_name[i], key);
        }
        return wimboot_loads_finish(&l, o);
}

const struct kind kind_wimboot = {
        .profile = { .name = "wimboot", .keys = wimboot_keys, .build = wimboot_build,
                     .check_files = wimboot_check_files, .done = wimboot_done },
        .render = { .name = "wimboot", .entry_model = wimboot_model },
};
