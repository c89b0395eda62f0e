/* Boot kind `linux`. See linux.h. */
#include <errno.h>
#include <stdio.h>

#include "kinds/kind.h"
#include "kinds/linux.h"
#include "profile/build.h"
#include "basic/log.h"
#include "host/pe-sign.h"
#include "profile/files.h"
#include "profile/secboot.h"
#include "basic/util.h"

static const struct kind_key linux_keys[] = {
        { "kernel", KIND_KEY_STR }, { "initrd", KIND_KEY_LIST }, { "cmdline", KIND_KEY_STR }, {},
};

const struct linux_entry *linux_of(const struct boot_entry *b) {
        return b->kind == &kind_linux.profile ? b->kind_data : NULL;
}

static void linux_build(struct entry_builder *eb, struct boot_entry *e) {
        struct linux_entry *d = e->kind_data = xcalloc(1, sizeof(*d));

        d->kernel = entry_path(eb, "kernel", true);
        /* served under the name it is written with */
        if (d->kernel && !(d->kernel_name = entry_served_name(eb, "kernel", d->kernel))) {
                free(d->kernel);
                d->kernel = NULL;
        }
        d->initrd = entry_path_list(eb, "initrd", &d->initrd_name, &d->n_initrd);
        d->cmdline = entry_text(eb, "cmdline", CS_CMDLINE);
}

static void linux_check_files(struct entry_checker *ec, struct boot_entry *e) {
        struct linux_entry *d = e->kind_data;
        entry_check_file(ec, e, "kernel", &d->kernel);
        entry_check_list(ec, e, "initrd", d->initrd, d->n_initrd);
}

static void linux_done(struct boot_entry *e) {
        struct linux_entry *d = e->kind_data;
        if (!d)
                return;
        free(d->kernel);
        free(d->kernel_name);
        strv_free(d->initrd);
        strv_free(d->initrd_name);
        free(d->cmdline);
        free(d);
}

/* "kernel", "initrds", "cmdline" and "full_cmdline" (initrd=NAME of every
 * initrd, then the command line). */
static int linux_model(const struct model_entry *m, json_t *o) {
        const struct boot_entry *b = m->b;
        const struct linux_entry *d = b->kind_data;
        json_t *initrds = json_array();
        _cleanup_free_ char *cmdline = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&cmdline, &len);

        json_object_set_new(o, "kernel", json_deep_copy(model_serve(m->files, m->base, b->name, d->kernel,
                                                                    d->kernel_name)));
        /* UEFI kernels need initrd=NAME for every initrd or they panic. */
        for (size_t i = 0; i < d->n_initrd; i++) {
                json_t *fi = model_serve(m->files, m->base, b->name, d->initrd[i], d->initrd_name[i]);
                json_array_append_new(initrds, json_deep_copy(fi));
                fprintf(f, "%sinitrd=%s", i ? " " : "", d->initrd_name[i]);
        }
        if (!strempty(d->cmdline))
                fprintf(f, "%s%s", d->n_initrd ? " " : "", d->cmdline);
        fclose(f);
        json_object_set_new(o, "initrds", initrds);
        json_object_set_new(o, "cmdline", json_string(d->cmdline ? d->cmdline : ""));
        json_object_set_new(o, "full_cmdline", json_string(cmdline));
        return 0;
}

const struct kind kind_linux = {
        .profile = { .name = "linux", .keys = linux_keys, .build = linux_build, .check_files = linux_check_files,
                     .done = linux_done },
        .render = { .name = "linux", .entry_model = linux_model },
};

unsigned linux_warn_unsigned(const struct profile *p) {
        unsigned n = 0;

        if (!profile_uses_shim(p))
                return 0;
        for (size_t i = 0; i < p->n_boots; i++) {
                const struct boot_entry *e = &p->boots[i];
                const struct linux_entry *d = linux_of(e);
                uint32_t size = 0;
                int r;

                if (!d || !d->kernel)
                        continue;
                r = pe_signature_size(d->kernel, &size);
                if (r == -ENOEXEC)
                        log_warn("boot.%s.kernel '%s' is not an EFI (PE) image: Secure Boot clients "
                                 "(uefi_loader = \"shim\") cannot boot it", e->name, d->kernel);
                else if (r < 0)
                        log_warn("boot.%s.kernel '%s': cannot read its signature table: %s", e->name,
                                 d->kernel, strerror(-r));
                else if (size == 0)
                        log_warn("boot.%s.kernel '%s' is not signed (its PE certificate table is empty): "
                                 "Secure Boot clients (uefi_loader = \"shim\") will refuse it; use a signed kernel "
                                 "such as Debian's linux-image-amd64", e->name, d->kernel);
                else
                        continue;
                n++;
        }
        return n;
}
