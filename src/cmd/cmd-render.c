/* pxelab render PROFILE -o DIR: the lab's runtime tree, touching nothing else. */
#include <getopt.h>
#include <limits.h>

#include <sys/stat.h>

#include <arpa/inet.h>

#include "kinds/kind.h"
#include "lab/proxy.h"
#include "cmd/commands.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "profile/profile.h"
#include "render/render.h"
#include "basic/util.h"

/* Root renders into DIR only when nobody else controls it: another user
 * could otherwise swap what is in it between our checks and our writes. */
static int check_output_dir(const char *dir) {
        _cleanup_close_ int fd = open_dir_nofollow(dir);
        struct stat st;

        if (fd < 0)
                return log_error_errno(fd, "Failed to open output directory '%s'", dir);
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to stat output directory '%s'", dir);
        if (st.st_uid != geteuid()) {
                log_error("Refusing to render into '%s': it is owned by uid %u, not by uid %u", dir,
                          (unsigned) st.st_uid, (unsigned) geteuid());
                return -EPERM;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                log_error("Refusing to render into '%s': it is writable by others (mode %04o)", dir,
                          (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

/* A proxy lab's address: --address A/PREFIX, else its interface's (render
 * may run on another machine than the lab). */
static int proxy_address(struct profile *p, const char *address) {
        struct in_addr a;
        uint32_t addr;
        unsigned prefix;

        if (!address)
                return lab_proxy_address(p);
        if (!p->dhcp.proxy) {
                log_error("--address is for proxy labs (dhcp.mode = \"proxy\"); lab '%s' has bridge.address", p->lab);
                return -EINVAL;
        }
        if (rule_lab_address_parse(address, &addr, &prefix) != ADDRESS_OK) {
                log_error("--address '%s' is not an IPv4 address with a prefix length of %u to %u", address,
                          RULE_PREFIX_MIN, RULE_PREFIX_MAX);
                return -EINVAL;
        }
        a.s_addr = htonl(addr);
        profile_set_address(p, a, prefix);
        return 0;
}

int cmd_render(int argc, char *argv[]) {
        static const struct option opts[] = {
                { "output", required_argument, NULL, 'o' },
                { "address", required_argument, NULL, 'a' },
                {}
        };
        const char *address = NULL;
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *dir = NULL;
        const char *out = NULL;
        json_t *model = NULL;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "o:", opts, NULL)) >= 0) {
                if (c == 'o')
                        out = optarg;
                else if (c == 'a')
                        address = optarg;
                else
                        return command_usage("render");
        }
        if (argc - optind != 1 || !out)
                return command_usage("render");

        r = profile_load(argv[optind], kinds_profile(), &p);
        if (r < 0)
                return EXIT_USAGE;
        /* The files need not exist here; those that do are named by their
         * canonical paths, as `up` renders them. */
        r = profile_resolve_paths(p, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
                return EXIT_USAGE;
        }
        r = proxy_address(p, address);
        if (r < 0)
                return EXIT_USAGE;
        r = mkdir_p(out, 0700);
        if (r < 0) {
                log_error_errno(r, "Failed to create output directory '%s'", out);
                return EXIT_RUNTIME;
        }
        /* Absolute, so the rendered files point into DIR from anywhere. */
        dir = realpath(out, NULL);
        if (!dir) {
                log_error_errno(errno, "Failed to resolve '%s'", out);
                return EXIT_RUNTIME;
        }
        if (check_output_dir(dir) < 0)
                return EXIT_USAGE;
        r = render_lab(p, kinds_render(), dir, dir, &model, NULL);
        json_decref(model);
        if (r < 0)
                return EXIT_RUNTIME;
        log_info("Rendered lab '%s' into %s", p->lab, dir);
        return EXIT_OK;
}
