/* Boot kind `linux`: a kernel, its initrds and a command line, fetched by
 * iPXE over HTTP (templates/entry-linux.ipxe.mustache). */
#include <stdio.h>

#include "kinds/kind.h"
#include "profile/build.h"
#include "profile/files.h"
#include "basic/util.h"

static const struct kind_key linux_keys[] = {
        { "kernel", KIND_KEY_STR }, { "initrd", KIND_KEY_LIST }, { "cmdline", KIND_KEY_STR }, {},
};

static void linux_build(struct entry_builder *eb, struct boot_entry *e) {
        e->kernel = entry_path(eb, "kernel", true);
        /* served under the name it is written with */
        if (e->kernel && !(e->kernel_name = entry_served_name(eb, "kernel", e->kernel))) {
                free(e->kernel);
                e->kernel = NULL;
        }
        e->initrd = entry_path_list(eb, "initrd", &e->initrd_name, &e->n_initrd);
        e->cmdline = entry_text(eb, "cmdline", CS_CMDLINE);
}

static void linux_check_files(struct entry_checker *ec, struct boot_entry *e) {
        entry_check_file(ec, e, "kernel", &e->kernel);
        entry_check_list(ec, e, "initrd", e->initrd, e->n_initrd);
}

/* "kernel", "initrds", "cmdline" and "full_cmdline" (initrd=NAME of every
 * initrd, then the command line). */
static int linux_model(const struct model_entry *m, json_t *o) {
        const struct boot_entry *b = m->b;
        json_t *initrds = json_array();
        _cleanup_free_ char *cmdline = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&cmdline, &len);

        json_object_set_new(o, "kernel", json_deep_copy(model_serve(m->files, m->base, b->name, b->kernel,
                                                                    b->kernel_name)));
        /* UEFI kernels need initrd=NAME for every initrd or they panic. */
        for (size_t i = 0; i < b->n_initrd; i++) {
                json_t *fi = model_serve(m->files, m->base, b->name, b->initrd[i], b->initrd_name[i]);
                json_array_append_new(initrds, json_deep_copy(fi));
                fprintf(f, "%sinitrd=%s", i ? " " : "", b->initrd_name[i]);
        }
        if (!strempty(b->cmdline))
                fprintf(f, "%s%s", b->n_initrd ? " " : "", b->cmdline);
        fclose(f);
        json_object_set_new(o, "initrds", initrds);
        json_object_set_new(o, "cmdline", json_string(b->cmdline ? b->cmdline : ""));
        json_object_set_new(o, "full_cmdline", json_string(cmdline));
        return 0;
}

const struct kind kind_linux = {
        .profile = { .name = "linux", .keys = linux_keys, .build = linux_build, .check_files = linux_check_files },
        .render = { .name = "linux", .entry_model = linux_model },
};
