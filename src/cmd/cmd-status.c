/* pxelab status [LAB] [--json]: what runs, and who booted. Only reads. */
#include <getopt.h>
#include <time.h>

#include "cmd/commands.h"
#include "basic/log.h"
#include "lab/state.h"
#include "lab/status.h"
#include "basic/util.h"
#include "lab/bootlog.h"

/* Who booted: each client's last step (lab/bootlog.h). */
static void print_clients(json_t *clients) {
        size_t i;
        json_t *c;
        json_array_foreach(clients, i, c) {
                time_t t = (time_t) json_real_value(json_object_get(c, "time"));
                const char *entry = json_string_value(json_object_get(c, "entry"));
                const char *problem = json_string_value(json_object_get(c, "problem"));
                char when[32];
                strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
                const char *mac = json_string_value(json_object_get(c, "mac"));
                const char *ip = json_string_value(json_object_get(c, "ip"));
                printf("  client:   %s %-15s %s %s", mac ? mac : "-", ip ? ip : "-", when,
                       json_string_value(json_object_get(c, "last_step")));
                if (entry)
                        printf(" (entry '%s')", entry);
                printf("\n");
                if (problem)
                        printf("            !! %s\n", problem);
        }
}

/* iSCSI: each target, its disk and who is logged in. */
static void print_iscsi(json_t *iscsi) {
        json_t *t, *x;
        size_t i, j;

        if (!iscsi)
                return;
        printf("  iscsi:    %s%s%s\n", json_string_value(json_object_get(iscsi, "portal")),
               json_object_get(iscsi, "error") ? " !! " : "",
               json_object_get(iscsi, "error") ? json_string_value(json_object_get(iscsi, "error")) : "");
        json_array_foreach(json_object_get(iscsi, "targets"), i, t) {
                printf("  target:   %s", json_string_value(json_object_get(t, "iqn")));
                json_array_foreach(json_object_get(t, "luns"), j, x)
                        printf(" lun %lld %s %s", json_integer_value(json_object_get(x, "lun")),
                               json_string_value(json_object_get(x, "size")),
                               json_string_value(json_object_get(x, "path")));
                if (json_array_size(json_object_get(t, "initiators")) == 0)
                        printf(", no initiator");
                printf("\n");
                json_array_foreach(json_object_get(t, "initiators"), j, x) {
                        json_t *a;
                        size_t k;
                        printf("            initiator %s from", json_string_value(json_object_get(x, "iqn")));
                        json_array_foreach(json_object_get(x, "addresses"), k, a)
                                printf(" %s", json_string_value(a));
                        printf("\n");
                }
        }
}

static void print_human(json_t *o) {
        json_t *u, *a, *l, *v, *br = json_object_get(o, "bridge"), *nft = json_object_get(o, "nft");
        size_t i;

        printf("Lab %s: %s\n", json_string_value(json_object_get(o, "lab")),
               json_is_true(json_object_get(o, "healthy")) ? "healthy" : "DEGRADED");
        printf("  profile:  %s\n", json_string_value(json_object_get(o, "profile")));
        printf("  boot url: %s\n", json_string_value(json_object_get(o, "boot_url")));
        /* A proxy lab has its LAN interface where a server lab has its bridge. */
        if (json_object_get(o, "proxy"))
                br = json_object_get(o, "proxy");
        printf("  %s   %s %s%s", br == json_object_get(o, "proxy") ? "proxy: " : "bridge:",
               json_string_value(json_object_get(br, "name")),
               json_is_true(json_object_get(br, "exists")) ? "" : "MISSING",
               json_is_true(json_object_get(br, "up")) ? "up" : json_is_true(json_object_get(br, "exists")) ? "DOWN" : "");
        json_array_foreach(json_object_get(br, "addresses"), i, a)
                printf(" %s", json_string_value(a));
        printf("%s\n", br == json_object_get(o, "proxy") ? " (proxy DHCP: the LAN's server gives the addresses)" : "");
        if (json_array_size(json_object_get(br, "ports")) > 0) {
                printf("  ports:   ");
                json_array_foreach(json_object_get(br, "ports"), i, a)
                        printf(" %s", json_string_value(a));
                printf("\n");
        }
        json_array_foreach(json_object_get(o, "ports"), i, a) {
                if (!json_is_true(json_object_get(a, "exists"))) {
                        printf("  port:     %s MISSING\n", json_string_value(json_object_get(a, "name")));
                        continue;
                }
                printf("  port:     %s %s, %s, mtu %lld%s%s\n", json_string_value(json_object_get(a, "name")),
                       json_is_true(json_object_get(a, "carrier")) ? "carrier" : "no carrier",
                       json_is_true(json_object_get(a, "up")) ? "up" : "DOWN",
                       json_integer_value(json_object_get(a, "mtu")),
                       json_is_true(json_object_get(a, "in_bridge")) ? "" : ", NOT IN THE BRIDGE",
                       json_is_true(json_object_get(a, "nm_unmanaged")) ? ", unmanaged by NetworkManager" : "");
        }
        if (nft)
                printf("  nftables: table inet %s %s\n", json_string_value(json_object_get(nft, "table")),
                       json_is_true(json_object_get(nft, "present")) ? "present" : "MISSING");
        json_array_foreach(json_object_get(o, "units"), i, u) {
                printf("  unit:     %s %s", json_string_value(json_object_get(u, "name")),
                       json_string_value(json_object_get(u, "active_state")));
                if (json_object_get(u, "sub_state"))
                        printf("/%s pid %lld restarts %lld", json_string_value(json_object_get(u, "sub_state")),
                               json_integer_value(json_object_get(u, "main_pid")),
                               json_integer_value(json_object_get(u, "restarts")));
                printf("\n");
        }
        json_array_foreach(json_object_get(o, "vms"), i, v)
                printf("  vm:       %s %s %s tap %s %s log %s\n", json_string_value(json_object_get(v, "name")),
                       json_string_value(json_object_get(v, "firmware")), json_string_value(json_object_get(v, "mac")),
                       json_object_get(v, "tap") ? json_string_value(json_object_get(v, "tap")) : "-",
                       json_string_value(json_object_get(v, "active_state")),
                       json_string_value(json_object_get(v, "log")));
        print_iscsi(json_object_get(o, "iscsi"));
        if (json_array_size(json_object_get(o, "leases")) == 0)
                printf("  leases:   none yet\n");
        print_clients(json_object_get(o, "clients"));
        json_array_foreach(json_object_get(o, "leases"), i, l) {
                time_t exp = json_integer_value(json_object_get(l, "expires"));
                char when[32] = "never";
                if (exp)
                        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&exp));
                printf("  lease:    %s %-15s %-20s until %s\n", json_string_value(json_object_get(l, "mac")),
                       json_string_value(json_object_get(l, "ip")),
                       json_object_get(l, "hostname") ? json_string_value(json_object_get(l, "hostname")) : "-", when);
        }
}

int cmd_status(int argc, char *argv[]) {
        static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, {} };
        _cleanup_strv_free_ char **labs = NULL;
        bool json = false, all_healthy = true;
        json_t *out = NULL;
        int c, r, ret;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'j')
                        return command_usage("status");
                json = true;
        }
        if (argc - optind > 1)
                return command_usage("status");
        if (argc - optind == 1) {
                if (!command_lab_arg_ok(argv[optind]))
                        return EXIT_USAGE;
                labs = xcalloc(2, sizeof(char *));
                labs[0] = xstrdup(argv[optind]);
        } else if (state_list_labs(&labs) < 0) {
                log_error("Failed to list labs in %s", PXELAB_RUN_ROOT);
                return EXIT_RUNTIME;
        }
        /* Made after the arguments are checked: a usage error leaks nothing. */
        out = json_array();
        for (char **l = labs; *l; l++) {
                json_t *o = NULL;
                bool healthy;
                r = lab_status(*l, &o, &healthy);
                if (r == -ENOENT) {
                        log_error("Lab '%s' is not up", *l);
                        json_decref(out);
                        return EXIT_RUNTIME;
                }
                if (r < 0) {
                        json_decref(out);
                        return EXIT_RUNTIME;
                }
                all_healthy = all_healthy && healthy;
                json_object_set_new(o, "clients", bootlog_clients(*l, json_string_value(json_object_get(o, "address"))));
                json_array_append_new(out, o);
        }
        if (json) {
                json_t *doc = json_pack("{s:i, s:O}", "version", 1, "labs", out);
                json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
                putchar('\n');
                json_decref(doc);
        } else {
                size_t i;
                json_t *o;
                if (json_array_size(out) == 0)
                        printf("No lab is up.\n");
                json_array_foreach(out, i, o)
                        print_human(o);
        }
        ret = all_healthy ? EXIT_OK : EXIT_DEGRADED;
        json_decref(out);
        return ret;
}
