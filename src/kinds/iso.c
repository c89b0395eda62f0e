/* Boot kind `iso`. See iso.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/util.h"
#include "kinds/iso.h"
#include "kinds/kind.h"
#include "profile/build.h"
#include "profile/files.h"

static const struct kind_key iso_keys[] = {
        { "iso", KIND_KEY_STR }, { "method", KIND_KEY_STR }, {},
};

static const char *const iso_methods[] = { [ISO_AUTO] = "auto", [ISO_MEMDISK] = "memdisk", [ISO_SANBOOT] = "sanboot" };

const struct iso_entry *iso_of(const struct boot_entry *b) {
        return b->kind == &kind_iso.profile ? b->kind_data : NULL;
}

static enum iso_method iso_method_of(struct entry_builder *eb) {
        const char *v = entry_value(eb, "method");

        if (!v)
                return ISO_AUTO;
        for (size_t i = 0; i < ELEMENTSOF(iso_methods); i++)
                if (streq(v, iso_methods[i]))
                        return (enum iso_method) i;
        entry_problem_value(eb, "method", "must be one of: auto, memdisk, sanboot");
        return ISO_AUTO;
}

static void iso_build(struct entry_builder *eb, struct boot_entry *e) {
        struct iso_entry *d = e->kind_data = xcalloc(1, sizeof(*d));
        const char *env;

        d->iso = entry_path(eb, "iso", true);
        if (d->iso && !(d->iso_name = entry_served_name(eb, "iso", d->iso))) {
                free(d->iso);
                d->iso = NULL;
        }
        d->method = iso_method_of(eb);
        if (d->method != ISO_SANBOOT) {
                env = getenv("PXELAB_MEMDISK");
                d->memdisk = xstrdup(!strempty(env) ? env : ISO_MEMDISK_DEFAULT);
        }
}

/* An ISO 9660 image has its primary volume descriptor at sector 16 (of
 * 2048 bytes): a type byte, then "CD001". A hybrid (isohybrid) image has
 * it too. */
static bool is_iso9660(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char magic[5];

        return fd >= 0 && pread(fd, magic, sizeof(magic), 16 * 2048 + 1) == (ssize_t) sizeof(magic) &&
               memcmp(magic, "CD001", sizeof(magic)) == 0;
}

static void iso_check_files(struct entry_checker *ec, struct boot_entry *e) {
        struct iso_entry *d = e->kind_data;
        char real[PATH_MAX];

        entry_check_file(ec, e, "iso", &d->iso);
        if (entry_check_missing_ok(ec))
                return;
        if (d->iso && access(d->iso, R_OK) == 0 && !is_iso9660(d->iso))
                entry_check_problem(ec, e, "iso", "is not an ISO 9660 image (no \"CD001\" at byte 32769)");
        if (!d->memdisk)
                return;
        if (!realpath(d->memdisk, real) || access(real, R_OK) < 0) {
                entry_check_problem(ec, e, "method",
                                    "BIOS clients need memdisk, and '%s' is not there: install syslinux-common, "
                                    "set PXELAB_MEMDISK, or use method = \"sanboot\"",
                                    d->memdisk);
                return;
        }
        free(d->memdisk);
        d->memdisk = xstrdup(real);
}

static void iso_done(struct boot_entry *e) {
        struct iso_entry *d = e->kind_data;
        if (!d)
                return;
        free(d->iso);
        free(d->iso_name);
        free(d->memdisk);
        free(d);
}

/* "iso", "memdisk" (files served), "method", and the two ways the script
 * may take: "memdisk_bios" and "sanboot". */
static int iso_model(const struct model_entry *m, json_t *o) {
        const struct iso_entry *d = m->b->kind_data;

        json_object_set_new(o, "iso", json_deep_copy(model_serve(m->files, m->base, m->b->name, d->iso ? d->iso : "",
                                                                 d->iso_name ? d->iso_name : "image.iso")));
        if (d->memdisk)
                json_object_set_new(o, "memdisk",
                                    json_deep_copy(model_serve(m->files, m->base, m->b->name, d->memdisk, "memdisk")));
        json_object_set_new(o, "method", json_string(iso_methods[d->method]));
        json_object_set_new(o, "memdisk_bios", json_boolean(d->method != ISO_SANBOOT));
        json_object_set_new(o, "sanboot", json_boolean(d->method != ISO_MEMDISK));
        return 0;
}

const struct kind kind_iso = {
        .profile = { .name = "iso", .keys = iso_keys, .build = iso_build, .check_files = iso_check_files,
                     .done = iso_done },
        .render = { .name = "iso", .entry_model = iso_model },
};
