/* pxelab check PROFILE: the profile is valid and every boot file is there. */
#include <stdint.h>
#include <sys/stat.h>

#include "commands.h"
#include "log.h"
#include "model.h"
#include "profile.h"
#include "util.h"

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

int cmd_check(int argc, char *argv[]) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        json_t *model = NULL, *f;
        size_t i;
        int r;

        /* No options: "-x" is a mistyped option, not a profile named "-x". */
        if (argc != 2 || argv[1][0] == '-')
                return command_usage("check");
        r = profile_parse(argv[1], NULL, &errors, &p);
        if (r < 0) {
                print_errors(errors);
                return EXIT_USAGE;
        }
        r = profile_check_files(p, &errors);
        if (r < 0) {
                print_errors(errors);
                return EXIT_USAGE;
        }
        /* What model_build() refuses is the profile's doing (it logged why). */
        r = model_build(p, "/run/pxelab/check", "/var/lib/pxelab/check", &model);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
        printf("Profile %s: lab '%s', bridge %s %s, %zu boot entries, %zu hosts\n", argv[1], p->lab,
               p->bridge.name, p->bridge.address, p->n_boots, p->n_hosts);
        json_array_foreach(json_object_get(model, "files"), i, f) {
                const char *path = json_string_value(json_object_get(f, "path"));
                struct stat st;
                char hs[32];
                if (stat(path, &st) < 0)
                        continue;       /* profile_check_files() already proved it exists */
                printf("  %-28s %-40s %12jd bytes (%s)\n", json_string_value(json_object_get(f, "url_path")),
                       path, (intmax_t) st.st_size, human_size(st.st_size, hs));
        }
        json_decref(model);
        printf("OK\n");
        return EXIT_OK;
}
