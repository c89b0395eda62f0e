/* pxelab vm start|stop|list|console: VMs on a running lab's bridge (each a
 * row of the command table). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/stat.h>

#include "kinds/kind.h"
#include "host/accel.h"
#include "cmd/commands.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "profile/profile.h"
#include "lab/record.h"
#include "host/units.h"
#include "basic/util.h"
#include "lab/vm.h"
#include "lab/bootlog.h"

/* The lab's record; "Lab 'x' is not running" when there is none. */
static int load_lab(const char *lab, struct lab_record **ret) {
        int r = lab_record_load(lab, ret);
        if (r == -ENOENT)
                log_error("Lab '%s' is not running", lab);
        return r;
}

/* A VM the lab's profile declares starts (the first time) with the declared
 * settings, unless the command line says otherwise. A profile that no longer
 * parses is just not used. The request then points into *RET. */
static void apply_profile(struct lab_record *st, struct vm_request *req, struct profile **ret) {
        const char *path = st->profile;
        _cleanup_strv_free_ char **errors = NULL;
        struct profile *p = NULL;

        /* A VM started before keeps its own settings (see vm_check()). */
        if (!req->name || lab_record_vm(st, req->name))
                return;
        if (!path || profile_parse(path, NULL, kinds_profile(), &errors, &p) < 0)
                return;
        for (size_t i = 0; i < p->n_vms; i++)
                if (streq(p->vms[i].name, req->name))
                        vm_request_from_decl(&p->vms[i], req);
        *ret = p;
}

static void print_started(const char *lab, const struct lab_vm *vm) {
        log_info("Started VM '%s' of lab '%s': %s, MAC %s, tap %s%s%s", vm->name, lab, vm->firmware, vm->mac, vm->tap,
                 vm->vnc ? ", VNC " : "", vm->vnc ? vm->vnc : "");
        log_info("Serial console: pxelab vm console %s %s (log %s)", lab, vm->name, vm->log);
}

/* The check phase of `vm start` under the lock: the record, the profile's
 * declaration, the request (exit 2 when refused). */
static int start_check(const char *lab, struct vm_request *req, sd_bus *bus, struct lab_record *st,
                       struct profile **profile, struct vm_plan *plan) {
        apply_profile(st, req, profile);
        if (vm_check(bus, st, req, plan) < 0)
                return EXIT_USAGE;
        return EXIT_OK;
}

int cmd_vm_start(int argc, char *argv[]) {
        static const struct option opts[] = {
                { "firmware", required_argument, NULL, 'f' },
                { "mac", required_argument, NULL, 'm' },
                { "memory", required_argument, NULL, 'M' },
                { "disk", required_argument, NULL, 'd' },
                { "vnc", no_argument, NULL, 'v' },
                { "wait", optional_argument, NULL, 'w' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        _cleanup_(profile_freep) struct profile *profile = NULL;
        struct vm_request req = {};
        struct vm_plan plan = {};
        const char *lab;
        struct accel_choice accel = {};
        char line[sizeof(accel.reason) + 64];
        int c, r, lock, ret;
        long wait = -1;         /* --wait: seconds to follow the boot */
        uint64_t started = bootlog_now();

        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'f':
                        req.firmware = optarg;
                        break;
                case 'm':
                        req.mac = optarg;
                        break;
                case 'M': {
                        char *end;
                        errno = 0;
                        req.memory = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || req.memory <= 0) {
                                log_error("'%s' is not a memory size in MiB", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                }
                case 'd':
                        req.disk = optarg;
                        break;
                case 'v':
                        req.vnc = true;
                        break;
                case 'w': {
                        /* "--wait=N", "--wait N" or "--wait". */
                        const char *v = optarg;
                        char *end;
                        if (!v && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
                                v = argv[optind++];
                        errno = 0;
                        wait = v ? strtol(v, &end, 10) : 120;
                        if (v && (errno || end == v || *end || wait <= 0 || wait > 86400)) {
                                log_error("--wait: '%s' is not a number of seconds (1-86400)", v);
                                return EXIT_USAGE;
                        }
                        break;
                }
                default:
                        return command_usage("vm start");
                }
        if (!command_args_ok("vm start", argc - optind))
                return EXIT_USAGE;
        lab = argv[optind];
        if (!command_lab_arg_ok(lab))
                return EXIT_USAGE;
        req.name = argc - optind == 2 ? argv[optind + 1] : NULL;
        if (req.firmware && firmware_from_string(req.firmware) < 0) {
                log_error("Unknown firmware '%s' (" FIRMWARE_CHOICES ")", req.firmware);
                return EXIT_USAGE;
        }
        if (accel_from_env(NULL) < 0)
                return EXIT_USAGE;

        /* Phases: the lock, systemd and the record (the host's: exit 1),
         * the request checked against the record (exit 2), the start
         * (the host's: exit 1). */
        lock = state_lock();
        if (lock < 0)
                return EXIT_RUNTIME;
        r = units_connect(&bus);
        if (r >= 0)
                r = load_lab(lab, &st);
        ret = r < 0 ? EXIT_RUNTIME : start_check(lab, &req, bus, st, &profile, &plan);
        if (ret == EXIT_OK && vm_start(bus, st, &plan, &accel) < 0)
                ret = EXIT_RUNTIME;
        state_unlock(lock);
        if (ret != EXIT_OK) {
                vm_plan_done(&plan);
                return ret;
        }
        /* Which accelerator and why, once (a fallback said so already). */
        if (!accel.fallback) {
                accel_describe(&accel, line, sizeof(line));
                log_notice("%s", line);
        }
        const struct lab_vm *vm = lab_record_vm(st, plan.name);
        print_started(lab, vm);
        if (wait > 0 && vm) {
                ret = watch_vm_boot(lab, vm->name, vm->mac, started, (unsigned) wait);
                vm_plan_done(&plan);
                return ret;
        }
        vm_plan_done(&plan);
        return EXIT_OK;
}

/* Which VM `vm stop` means: NAME, or without one the lab's only VM. A lab
 * with several is the request's fault (exit 2); no such VM, or none at
 * all, is exit 1 (as for `vm console`). */
static int stop_choose(struct lab_record *st, const char *name, char **ret) {
        if (name && !lab_record_vm(st, name)) {
                log_error("Lab '%s' has no VM '%s'", st->lab, name);
                return EXIT_RUNTIME;
        }
        if (!name && st->n_vms != 1) {
                log_error(st->n_vms == 0 ? "Lab '%s' has no VMs" : "Lab '%s' has several VMs: name one, or use --all",
                          st->lab);
                return st->n_vms == 0 ? EXIT_RUNTIME : EXIT_USAGE;
        }
        *ret = xstrdup(name ? name : st->vms[0].name);
        return EXIT_OK;
}

int cmd_vm_stop(int argc, char *argv[]) {
        static const struct option opts[] = { { "all", no_argument, NULL, 'a' }, {} };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        _cleanup_free_ char *only = NULL;
        const char *lab, *name = NULL;
        bool all = false;
        int c, r, lock, ret;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'a')
                        return command_usage("vm stop");
                all = true;
        }
        if (!command_args_ok("vm stop", argc - optind))
                return EXIT_USAGE;
        if (all && argc - optind != 1)
                return command_usage("vm stop");
        lab = argv[optind];
        if (!command_lab_arg_ok(lab))
                return EXIT_USAGE;
        if (argc - optind == 2)
                name = argv[optind + 1];

        /* Phases: the lock, the record and systemd (the host's), which VM
         * (the request's), the stop (the host's). */
        lock = state_lock();
        if (lock < 0)
                return EXIT_RUNTIME;
        r = load_lab(lab, &st);
        if (r >= 0)
                r = units_connect(&bus);
        ret = r < 0 ? EXIT_RUNTIME : all ? EXIT_OK : stop_choose(st, name, &only);
        if (ret == EXIT_OK && (all ? vm_stop_all(bus, st) : vm_stop(bus, st, only)) < 0)
                ret = EXIT_RUNTIME;
        state_unlock(lock);
        if (ret != EXIT_OK)
                return ret;
        if (all)
                log_info("Stopped the VMs of lab '%s'", lab);
        else
                log_info("Stopped VM '%s' of lab '%s'", only, lab);
        return EXIT_OK;
}

int cmd_vm_list(int argc, char *argv[]) {
        static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, {} };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *all = json_array();
        _cleanup_strv_free_ char **labs = NULL;
        bool json = false;
        json_t *v;
        size_t i;
        int c, r, w = 10;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'j')
                        return command_usage("vm list");
                json = true;
        }
        if (!command_args_ok("vm list", argc - optind))
                return EXIT_USAGE;
        if (argc - optind == 1) {
                if (!command_lab_arg_ok(argv[optind]))
                        return EXIT_USAGE;
                labs = xcalloc(2, sizeof(char *));
                labs[0] = xstrdup(argv[optind]);
        } else {
                r = state_list_labs(&labs);
                if (r < 0) {
                        log_error_errno(r, "Failed to list labs in %s", PXELAB_RUN_ROOT);
                        return EXIT_RUNTIME;
                }
        }
        /* Listing works without systemd: states are then "unknown". */
        if (units_connect_quiet(&bus) < 0)
                bus = NULL;
        for (char **l = labs; *l; l++) {
                _cleanup_(lab_record_freep) struct lab_record *st = NULL;
                _cleanup_(json_decrefp) json_t *vms = NULL;
                r = load_lab(*l, &st);
                if (r < 0) {
                        if (argc - optind == 1)
                                return EXIT_RUNTIME;
                        continue;       /* went down meanwhile */
                }
                vms = vm_status_json(bus, st);
                json_array_extend(all, vms);
        }
        if (json) {
                json_dumpf(all, stdout, JSON_INDENT(2));
                putchar('\n');
                return EXIT_OK;
        }
        if (json_array_size(all) == 0) {
                log_info("No VMs");
                return EXIT_OK;
        }
        /* lab names have up to 32 characters: as wide as the longest */
        json_array_foreach(all, i, v)
                if ((int) strlen(json_string_value(json_object_get(v, "lab"))) > w)
                        w = (int) strlen(json_string_value(json_object_get(v, "lab")));
        printf("%-*s %-12s %-8s %-17s %-10s %-5s %-15s %s\n", w, "LAB", "NAME", "FIRMWARE", "MAC", "STATE", "ACCEL",
               "TAP", "VNC");
        json_array_foreach(all, i, v) {
                const char *vnc = json_string_value(json_object_get(v, "vnc"));
                printf("%-*s %-12s %-8s %-17s %-10s %-5s %-15s %s\n", w, json_string_value(json_object_get(v, "lab")),
                       json_string_value(json_object_get(v, "name")), json_string_value(json_object_get(v, "firmware")),
                       json_string_value(json_object_get(v, "mac")),
                       json_string_value(json_object_get(v, "active_state")),
                       json_string_value(json_object_get(v, "accel")), json_string_value(json_object_get(v, "tap")),
                       vnc ? vnc : "-");
        }
        return EXIT_OK;
}

static int copy_out(int fd) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (fwrite(buf, 1, n, stdout) != (size_t) n)
                        return -EIO;
                fflush(stdout);
        }
}

/* Like tail -f from the start of the log; ends (after the last bytes) once
 * the VM's unit is no longer running, or follows for ever without systemd. */
static int follow(const char *path, const char *unit, bool follow_on) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        unsigned long long last_check = 0;
        int r;

        if (fd < 0)
                return log_error_errno(errno, "Failed to open '%s'", path);
        if (follow_on && units_connect_quiet(&bus) < 0)
                bus = NULL;
        for (;;) {
                bool running = true;
                struct stat st;
                off_t pos;

                /* Decide before reading, so that the final read gets everything. */
                if (follow_on && bus && now_usec() - last_check > 500000) {
                        running = vm_unit_active(bus, unit);
                        last_check = now_usec();
                }
                r = copy_out(fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to read '%s'", path);
                if (!follow_on || !running)
                        return 0;
                /* `vm start` truncates the log: start over. */
                pos = lseek(fd, 0, SEEK_CUR);
                if (fstat(fd, &st) == 0 && st.st_size < pos)
                        lseek(fd, 0, SEEK_SET);
                poll(NULL, 0, 200);
        }
}

int cmd_vm_console(int argc, char *argv[]) {
        static const struct option opts[] = { { "no-follow", no_argument, NULL, 'n' }, {} };
        _cleanup_(lab_record_freep) struct lab_record *st = NULL;
        bool follow_on = true;
        struct lab_vm *vm;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'n')
                        return command_usage("vm console");
                follow_on = false;
        }
        if (!command_args_ok("vm console", argc - optind))
                return EXIT_USAGE;
        if (!command_lab_arg_ok(argv[optind]))
                return EXIT_USAGE;
        if (load_lab(argv[optind], &st) < 0)
                return EXIT_RUNTIME;
        vm = lab_record_vm(st, argv[optind + 1]);
        if (!vm) {
                log_error("Lab '%s' has no VM '%s'", argv[optind], argv[optind + 1]);
                return EXIT_RUNTIME;
        }
        return follow(vm->log, vm->unit, follow_on) < 0 ? EXIT_RUNTIME : EXIT_OK;
}
