/* pxelab up [PROFILE]: bring a lab up (or reconcile a running one). */
#include "host/accel.h"
#include "cmd/commands.h"
#include "lab/defaultlab.h"
#include "lab/lab.h"
#include "basic/log.h"
#include "profile/profile.h"
#include "host/units.h"
#include "basic/util.h"

int cmd_up(int argc, char *argv[]) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(lab_up_endp) struct lab_up *up = NULL;
        int r;

        if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
                return command_usage("up");
        /* up starts the profile's autostart VMs: refuse a bad choice first. */
        if (accel_from_env(NULL) < 0)
                return EXIT_USAGE;
        /* Without systemd nothing can run: say so before touching anything. */
        if (units_connect(&bus) < 0)
                return EXIT_RUNTIME;
        if (argc == 2)
                path = xstrdup(argv[1]);
        else {
                r = default_lab_profile(&path);
                if (r < 0)
                        return EXIT_RUNTIME;
        }
        r = profile_parse(path, NULL, &errors, &p);
        if (r >= 0)
                r = profile_check_files(p, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        fprintf(stderr, "%s\n", *e);
                return EXIT_USAGE;
        }
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
