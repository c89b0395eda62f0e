/* pxelab check PROFILE: the profile is valid and every boot file is there. */
#include <stdint.h>
#include <sys/stat.h>

#include "kinds/kind.h"
#include "lab/proxy.h"
#include "kinds/linux.h"
#include "profile/secboot.h"
#include "cmd/commands.h"
#include "basic/log.h"
#include "render/model.h"
#include "profile/profile.h"
#include "basic/util.h"

static void print_errors(char **errors) {
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "%s\n", *e);
}

static const char *human_size(off_t size, char buf[static 32]) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = size;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
        return buf;
}

/* Who, besides root, may change PATH: its owner when not root, or anyone
 * when it is group- or world-writable. */
static bool others_may_write(const struct stat *st) {
        return st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH));
}

/* Whoever can change a boot file, or swap it in its directory, decides what
 * every lab client boots: say so (a warning, the profile is still good). */
static void warn_if_writable(const char *path) {
        _cleanup_free_ char *dir = xstrdup(path);
        struct stat st;
        char *slash = strrchr(dir, '/');

        if (stat(path, &st) == 0 && others_may_write(&st))
                log_warn("boot file '%s' is writable by %s: whoever can write it decides what lab clients boot",
                         path, st.st_uid != 0 ? "its owner (not root)" : "others");
        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        /* A sticky directory (/tmp) still lets others add files, but not swap ours. */
        if (stat(dir, &st) == 0 && others_may_write(&st) && !(st.st_uid == 0 && (st.st_mode & S_ISVTX)))
                log_warn("the directory of boot file '%s' is writable by %s: whoever can write it can swap the file",
                         path, st.st_uid != 0 ? "its owner (not root)" : "others");
}

int cmd_check(int argc, char *argv[]) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        json_t *model = NULL, *f;
        size_t i;
        int r;

        /* No options: "-x" is a mistyped option, not a profile named "-x". */
        if (argc != 2 || argv[1][0] == '-')
                return command_usage("check");
        r = profile_parse(argv[1], NULL, kinds_profile(), &errors, &p);
        if (r < 0) {
                print_errors(errors);
                return EXIT_USAGE;
        }
        r = profile_check_files(p, &errors);
        if (r < 0) {
                print_errors(errors);
                return EXIT_USAGE;
        }
        /* A proxy lab's address is its interface's (it logged why not). */
        if (lab_proxy_address(p) < 0)
                return EXIT_USAGE;
        /* What model_build() refuses is the profile's doing (it logged why). */
        r = model_build(p, kinds_render(), "/run/pxelab/check", "/var/lib/pxelab/check", &model);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
        printf("Profile %s: lab '%s', %s %s %s, %zu boot entries, %zu hosts\n", argv[1], p->lab,
               p->dhcp.proxy ? "proxy DHCP on" : "bridge", p->bridge.name, p->bridge.address, p->n_boots, p->n_hosts);
        json_array_foreach(json_object_get(model, "files"), i, f) {
                const char *path = json_string_value(json_object_get(f, "path"));
                struct stat st;
                char hs[32];
                if (stat(path, &st) < 0)
                        continue;       /* profile_check_files() already proved it exists */
                printf("  %-28s %-40s %12jd bytes (%s)\n", json_string_value(json_object_get(f, "url_path")),
                       path, (intmax_t) st.st_size, human_size(st.st_size, hs));
                warn_if_writable(path);
        }
        /* Shim clients' chain, served over TFTP beside the iPXE loaders. */
        if (profile_uses_shim(p)) {
                const char *chain[][2] = { { "tftp efi/shimx64.efi", p->shim }, { "tftp efi/grubx64.efi", p->grub } };
                for (i = 0; i < ELEMENTSOF(chain); i++) {
                        struct stat st;
                        char hs[32];
                        if (stat(chain[i][1], &st) < 0)
                                continue;       /* profile_check_files() already proved it exists */
                        printf("  %-28s %-40s %12jd bytes (%s)\n", chain[i][0], chain[i][1], (intmax_t) st.st_size,
                               human_size(st.st_size, hs));
                        warn_if_writable(chain[i][1]);
                }
        }
        json_decref(model);
        /* A warning, not an error: a BIOS or iPXE client boots them still. */
        linux_warn_unsigned(p);
        printf("OK\n");
        return EXIT_OK;
}
