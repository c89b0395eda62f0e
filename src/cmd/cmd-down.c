/* pxelab down [LAB|PROFILE] [--all]: take labs down from their records. */
#include <getopt.h>

#include "kinds/kind.h"
#include "cmd/commands.h"
#include "lab/defaultlab.h"
#include "lab/lab.h"
#include "basic/log.h"
#include "profile/profile.h"
#include "lab/state.h"
#include "basic/util.h"

/* LAB or PROFILE: an argument with a '/' or ending in ".conf" is a profile,
 * whose lab name is used; anything else is a lab name (so a file that
 * happens to be called like the lab, such as ./pxelab, is not read). */
static int lab_name_of(const char *arg, char **ret) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        size_t n = strlen(arg);

        if (!strchr(arg, '/') && (n < 5 || !streq(arg + n - 5, ".conf"))) {
                if (!command_lab_arg_ok(arg))
                        return -EINVAL;
                *ret = xstrdup(arg);
                return 0;
        }
        if (profile_parse(arg, NULL, kinds_profile(), &errors, &p) < 0) {
                for (char **e = errors; e && *e; e++)
                        fprintf(stderr, "%s\n", *e);
                return -EINVAL;
        }
        *ret = xstrdup(p->lab);
        return 0;
}

int cmd_down(int argc, char *argv[]) {
        static const struct option opts[] = { { "all", no_argument, NULL, 'a' }, {} };
        _cleanup_strv_free_ char **labs = NULL;
        bool all = false;
        int c, r, ret = EXIT_OK;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'a')
                        return command_usage("down");
                all = true;
        }
        if (argc - optind > 1 || (all && argc - optind > 0))
                return command_usage("down");
        if (all) {
                r = state_list_labs(&labs);
                if (r < 0) {
                        log_error_errno(r, "Failed to list labs in %s", PXELAB_RUN_ROOT);
                        return EXIT_RUNTIME;
                }
                if (!labs[0])
                        log_info("No lab is up");
        } else {
                labs = xcalloc(2, sizeof(char *));
                if (argc - optind == 1) {
                        if (lab_name_of(argv[optind], &labs[0]) < 0)
                                return EXIT_USAGE;
                } else
                        labs[0] = xstrdup(DEFAULT_LAB);
        }
        for (char **l = labs; *l; l++)
                if (lab_down(*l) < 0)
                        ret = EXIT_RUNTIME;
        return ret;
}
