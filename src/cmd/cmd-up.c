/* pxelab up [PROFILE]: bring a lab up (or reconcile a running one). */
#include "kinds/kind.h"
#include "kinds/linux.h"
#include "host/accel.h"
#include "cmd/commands.h"
#include "lab/defaultlab.h"
#include "lab/lab.h"
#include "lab/proxy.h"
#include "basic/log.h"
#include "basic/names.h"
#include "basic/paths.h"
#include "profile/profile.h"
#include "host/units.h"
#include "basic/util.h"

/* PROFILE or NAME, read as `down` reads its argument: one with a '/' or
 * ending in ".conf" is a file; anything else names a profile in the
 * profiles' home, PXELAB_CONF_DIR/NAME.conf (*NAME set), the file
 * pxelab@NAME.service brings up at boot. */
static int profile_path_of(const char *arg, char **ret, const char **name) {
        size_t n = strlen(arg);

        *name = NULL;
        if (strchr(arg, '/') || (n >= 5 && streq(arg + n - 5, ".conf"))) {
                *ret = xstrdup(arg);
                return 0;
        }
        if (!lab_name_valid(arg)) {
                log_error("'%s' is neither a lab name (%s) nor a profile file (a path with '/' or ending in .conf, "
                          "e.g. ./%s)", arg, LAB_NAME_RULE, arg);
                return -EINVAL;
        }
        *name = arg;
        *ret = xasprintf("%s/%s.conf", PXELAB_CONF_DIR, arg);
        return 0;
}

/* `up NAME` brings up lab NAME: `down NAME`, `status NAME` and the unit's
 * ExecStop (`pxelab down %i`) then find it by that name, so a `lab =` in
 * NAME.conf that says otherwise is refused. */
static bool lab_is_name(const struct profile *p, const char *path, const char *name) {
        if (!name || streq(p->lab, name))
                return true;
        fprintf(stderr, "%s:%u: lab: '%s' differs from the file name: `pxelab up %s` brings up lab '%s'; "
                "remove `lab =` or rename the file\n", path, profile_line(p, "lab"), p->lab, name, name);
        return false;
}

int cmd_up(int argc, char *argv[]) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *path = NULL;
        const char *name = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(lab_up_endp) struct lab_up *up = NULL;
        int r;

        if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
                return command_usage("up");
        /* up starts the profile's autostart VMs: refuse a bad choice first. */
        if (accel_from_env(NULL) < 0)
                return EXIT_USAGE;
        if (argc == 2 && profile_path_of(argv[1], &path, &name) < 0)
                return EXIT_USAGE;
        /* Without systemd nothing can run: say so before touching anything. */
        if (units_connect(&bus) < 0)
                return EXIT_RUNTIME;
        if (!path) {
                r = default_lab_profile(&path);
                if (r < 0)
                        return EXIT_RUNTIME;
        }
        r = profile_parse(path, NULL, kinds_profile(), &errors, &p);
        if (r >= 0)
                r = profile_check_files(p, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        fprintf(stderr, "%s\n", *e);
                return EXIT_USAGE;
        }
        if (lab_proxy_address(p) < 0)
                return EXIT_USAGE;
        if (!lab_is_name(p, path, name))
                return EXIT_USAGE;
        /* As check does: shim clients would be refused such a kernel. */
        linux_warn_unsigned(p);
        /* The phases of lab.h: the lock and the record (the host's), the
         * checks (the request's), then the changes (the host's). */
        if (lab_up_begin(p, &up) < 0)
                return EXIT_RUNTIME;
        if (lab_up_check(up) < 0)
                return EXIT_USAGE;
        if (lab_up_apply(bus, up) < 0)
                return EXIT_RUNTIME;
        return EXIT_OK;
}
