/* Virtual machines on a lab's bridge. See vm.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "host/accel.h"
#include "host/link.h"
#include "host/symguard.h"
#include "basic/fault.h"
#include "lab/labbridge.h"
#include "basic/log.h"
#include "basic/names.h"
#include "basic/rules.h"
#include "lab/record.h"
#include "host/units.h"
#include "basic/util.h"
#include "lab/vm.h"


/* ---- names and values (the rules: basic/rules.h) ---------------------- */

void vm_mac_derive(const char *lab, const char *name, char ret[static 18]) {
        /* FNV-1a over "LAB\0NAME": stable across releases and machines. */
        uint64_t h = 0xcbf29ce484222325ULL;
        const char *parts[] = { lab, name };

        for (size_t p = 0; p < ELEMENTSOF(parts); p++)
                for (const unsigned char *c = (const unsigned char *) parts[p];; c++) {
                        h = (h ^ *c) * 0x100000001b3ULL;
                        if (!*c)
                                break;
                }
        snprintf(ret, 18, "52:54:00:%02x:%02x:%02x", (unsigned) (h >> 40) & 0xff, (unsigned) (h >> 32) & 0xff,
                 (unsigned) (h >> 24) & 0xff);
}

char *vm_log_path(const struct vm_config *c) {
        return xstrdup(c->log);
}

char *vm_vars_path(const struct vm_config *c) {
        /* Its own store: one made for "uefi" has no keys, and a VM started
         * with both would boot without Secure Boot. */
        return path_join(c->vm_dir, streq(c->firmware, "uefi-secure") ? "OVMF_VARS.secure.fd" : "OVMF_VARS.fd");
}

char *vm_disk_path(const struct vm_config *c) {
        if (!c->disk)
                return NULL;
        if (rule_disk_is_size(c->disk))
                return path_join(c->vm_dir, "disk.qcow2");
        return xstrdup(c->disk);
}

/* An image is qcow2 when its name says so, raw otherwise: QEMU is never left
 * to guess a format from the content (a raw image could pass as anything). */
static const char *disk_format(const char *path) {
        size_t len = strlen(path);
        return len > 6 && streq(path + len - 6, ".qcow2") ? "qcow2" : "raw";
}

/* ---- the QEMU command line --------------------------------------------- */

struct strv_builder {
        char **v;
        size_t n;
};

static void push(struct strv_builder *b, char *s) {
        b->v = xrealloc(b->v, (b->n + 2) * sizeof(char *));
        b->v[b->n++] = s;
        b->v[b->n] = NULL;
}

static void push2(struct strv_builder *b, const char *opt, char *arg) {
        push(b, xstrdup(opt));
        push(b, arg);
}

/* QEMU splits option values at ',' and reads ",," as a literal comma: a
 * path with a comma ("img,file.locking=off") must not add options. */
static char *qemu_escape(const char *s) {
        char *e = xcalloc(2 * strlen(s) + 1, 1), *p = e;
        for (; *s; s++) {
                *p++ = *s;
                if (*s == ',')
                        *p++ = ',';
        }
        return e;
}

int vm_build_argv(const struct vm_config *c, char ***ret) {
        struct strv_builder b = {};
        bool uefi = firmware_is_uefi(firmware_from_string(c->firmware));
        bool secure = firmware_from_string(c->firmware) == FIRMWARE_UEFI_SECURE;
        _cleanup_free_ char *log = NULL, *disk = NULL;

        if (firmware_from_string(c->firmware) < 0 || strempty(c->name) || strempty(c->mac) || strempty(c->tap) ||
            strempty(c->log) || strempty(c->vm_dir) || c->memory <= 0)
                return -EINVAL;
        {
                _cleanup_free_ char *l = vm_log_path(c), *d = vm_disk_path(c);
                log = qemu_escape(l);
                disk = d ? qemu_escape(d) : NULL;
        }

        push(&b, qemu_binary());
        push2(&b, "-name", xasprintf("pxelab-%s-%s", c->lab, c->name));
        /* graphics=off makes SeaBIOS mirror the text screen (its own and the
         * iPXE ROM's messages) to the serial port: the log shows the boot. */
        push2(&b, "-machine", xasprintf("%s%s%s", uefi ? "q35" : "pc", secure ? ",smm=on" : "",
                                        c->vnc >= 0 ? "" : ",graphics=off"));
        /* Only SMM code may write the Secure Boot variables. */
        if (secure)
                push2(&b, "-global", xstrdup("driver=cfi.pflash01,property=secure,value=on"));
        push2(&b, "-accel", xstrdup(c->kvm ? "kvm" : "tcg"));
        if (c->kvm)
                push2(&b, "-cpu", xstrdup(ACCEL_KVM_CPU));
        push2(&b, "-smp", xstrdup("1"));
        push2(&b, "-m", xasprintf("%ld", c->memory));
        /* Only the devices asked for: no default NIC, VGA, floppy or monitor. */
        push(&b, xstrdup("-nodefaults"));
        push(&b, xstrdup("-no-user-config"));
        push2(&b, "-display", xstrdup("none"));
        push2(&b, "-chardev", xasprintf("file,id=serial0,path=%s,append=on", log));
        push2(&b, "-serial", xstrdup("chardev:serial0"));
        /* A reboot ends the VM like a power-off: the unit just stops. */
        push(&b, xstrdup("-no-reboot"));
        if (uefi) {
                _cleanup_free_ char *v = vm_vars_path(c), *vars = qemu_escape(v);
                push2(&b, "-drive", xasprintf("if=pflash,format=raw,unit=0,readonly=on,file=%s",
                                              secure ? VM_OVMF_CODE_SECURE : VM_OVMF_CODE));
                push2(&b, "-drive", xasprintf("if=pflash,format=raw,unit=1,file=%s", vars));
        }
        push2(&b, "-netdev", xasprintf("tap,id=net0,ifname=%s,script=no,downscript=no", c->tap));
        /* bootindex (not -boot order) is what both SeaBIOS and OVMF follow:
         * network first, then the disk. "uefi-pxe" drops the NIC's iPXE ROM
         * so OVMF's own PXE boots (DHCP, TFTP snponly.efi); "bios" and "uefi"
         * keep QEMU's default ROM, whose iPXE starts right from the NIC. */
        push2(&b, "-device", xasprintf("virtio-net-pci,netdev=net0,mac=%s,bootindex=1%s%s", c->mac,
                                       streq(c->firmware, "uefi-pxe") || secure ? ",romfile=" : "",
                                       c->nic_csum_off ? ",csum=off" : ""));
        if (disk) {
                push2(&b, "-drive", xasprintf("file=%s,if=none,id=disk0,format=%s,discard=unmap", disk,
                                              disk_format(disk)));
                push2(&b, "-device", xstrdup("virtio-blk-pci,drive=disk0,bootindex=2"));
        }
        if (c->vnc >= 0) {
                push2(&b, "-device", xstrdup("VGA"));
                push2(&b, "-vnc", xasprintf("127.0.0.1:%d", c->vnc));
        }
        *ret = b.v;
        return 0;
}

/* ---- files --------------------------------------------------------------- */

int vm_prepare(const struct vm_config *c) {
        _cleanup_free_ char *log = vm_log_path(c), *disk = vm_disk_path(c);
        _cleanup_close_ int fd = -1;
        int r;

        r = mkdir_p(c->vm_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", c->vm_dir);
        if (firmware_is_uefi(firmware_from_string(c->firmware))) {
                bool secure = firmware_from_string(c->firmware) == FIRMWARE_UEFI_SECURE;
                const char *code = secure ? VM_OVMF_CODE_SECURE : VM_OVMF_CODE;
                const char *store = secure ? VM_OVMF_VARS_SECURE : VM_OVMF_VARS;
                _cleanup_free_ char *vars = vm_vars_path(c);
                if (access(vars, F_OK) < 0) {
                        r = copy_file(store, vars, 0600);
                        if (r < 0)
                                return log_error_errno(r, "Failed to copy '%s' to '%s' (is the ovmf package installed?)",
                                                       store, vars);
                }
                if (access(code, R_OK) < 0)
                        return log_error_errno(errno, "Failed to read '%s' (is the ovmf package installed?)", code);
        }
        if (disk && rule_disk_is_size(c->disk)) {
                if (access(disk, F_OK) < 0) {
                        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", disk, (char *) c->disk, NULL };
                        r = run_program(argv, NULL);
                        if (r != 0)
                                return log_error_errno(r < 0 ? r : EIO, "Failed to create disk image '%s' of %s", disk,
                                                       c->disk);
                }
        } else if (disk && access(disk, R_OK | W_OK) < 0)
                return log_error_errno(errno, "Failed to open disk image '%s'", disk);
        /* A fresh log per start: the console shows this boot only. */
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create '%s'", log);
        return 0;
}

/* ---- the lab's VMs -------------------------------------------------------- */

/* Whether a VM of REC other than EXCEPT has FIELD (an offset into struct
 * lab_vm of a string) equal to VALUE. */
static bool vms_use(const struct lab_record *rec, size_t field, const char *value, const char *except) {
        for (size_t i = 0; i < rec->n_vms; i++) {
                const char *v = *(char *const *) ((const char *) &rec->vms[i] + field);
                if (!streq(rec->vms[i].name, except) && streq(v, value))
                        return true;
        }
        return false;
}

/* lab_tap_name() "pxt-LAB-N" (shortened to 15 characters for a long lab
 * name) with the first N that no VM of the lab and no other link (another
 * lab's tap) uses. */
static int pick_tap(const struct lab_record *rec, char **ret) {
        for (unsigned n = 0; n < 100; n++) {
                _cleanup_free_ char *tap = lab_tap_name(rec->lab, n);
                int r;
                if (vms_use(rec, offsetof(struct lab_vm, tap), tap, NULL))
                        continue;
                r = link_exists(tap, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up link '%s'", tap);
                if (r == 0) {
                        *ret = TAKE_PTR(tap);
                        return 0;
                }
        }
        log_error("No free tap name for lab '%s'", rec->lab);
        return -ENOSPC;
}

static bool port_free(int port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
}

static int pick_vnc(const struct lab_record *rec, const char *name) {
        for (int n = 0; n < 100; n++) {
                _cleanup_free_ char *addr = xasprintf("127.0.0.1:%d", n);
                if (!vms_use(rec, offsetof(struct lab_vm, vnc), addr, name) && port_free(5900 + n))
                        return n;
        }
        return -1;
}

static char *next_free_name(struct lab_record *rec) {
        for (unsigned n = 1;; n++) {
                char *name = xasprintf("vm%u", n);
                if (!lab_record_vm(rec, name))
                        return name;
                free(name);
        }
}

bool vm_unit_active(sd_bus *bus, const char *unit) {
        struct unit_status us = {};
        bool active = units_status(bus, unit, &us) >= 0 && us.loaded &&
                      (streq(us.active_state, "active") || streq(us.active_state, "activating") ||
                       streq(us.active_state, "reloading") || streq(us.active_state, "deactivating"));
        unit_status_done(&us);
        return active;
}

/* "127.0.0.1:N" as the record keeps it: N (0-99), or -1 for anything else,
 * so a damaged record cannot make QEMU listen elsewhere. */
static int vnc_display(const char *v) {
        const char *prefix = "127.0.0.1:";
        char *end;
        long n;

        if (!v || strncmp(v, prefix, strlen(prefix)) != 0)
                return -1;
        v += strlen(prefix);
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 0 || n > 99)
                return -1;
        return (int) n;
}

static void config_from_record(struct vm_config *c, const struct lab_record *st, const struct lab_vm *vm) {
        *c = (struct vm_config) {
                .lab = st->lab,
                .name = vm->name,
                .firmware = vm->firmware,
                .mac = vm->mac,
                .memory = vm->memory,
                .disk = vm->disk,
                .tap = vm->tap,
                .log = vm->log,
                .vm_dir = vm->dir,
                .kvm = streq(vm->accel, "kvm"),
                .vnc = vnc_display(vm->vnc),
                /* A guest OS (not the boot firmware) leaves TCP/UDP checksums
                 * to the NIC by default; ovs-vswitchd's userspace (netdev)
                 * datapath, which reads the tap like any device, forwards
                 * such frames unfinished and the lab drops them (measured:
                 * a booted Linux got its DHCP lease, its HTTP to the lab
                 * timed out; with csum=off it worked). Off on every OVS lab:
                 * the record does not say which datapath a borrowed bridge
                 * has, and the cost is only the guest's own checksumming. */
                .nic_csum_off = streq(st->bridge.type, "ovs"),
        };
}

/* The units run with ProtectHome=yes: these trees are invisible to QEMU. */
static bool path_in_homes(const char *path) {
        static const char *const homes[] = { "/home", "/root", "/run/user" };
        for (size_t i = 0; i < ELEMENTSOF(homes); i++) {
                size_t n = strlen(homes[i]);
                if (strncmp(path, homes[i], n) == 0 && (path[n] == '/' || path[n] == 0))
                        return true;
        }
        return false;
}

/* The request's own values checked: firmware, memory, MAC, disk. Nothing
 * here depends on the host: a failure is the user's (exit 2). */
static int check_request(const struct lab_record *st, const struct vm_request *req, const char *name,
                         const char **ret_firmware, long *ret_memory, char mac[static 18], char **ret_disk) {
        const struct lab_vm *old = lab_record_vm((struct lab_record *) st, name);
        const char *firmware = req->firmware ? req->firmware : "bios";
        long memory = req->memory ? req->memory : VM_MEMORY_DEFAULT;
        _cleanup_free_ char *disk = NULL;

        if (firmware_from_string(firmware) < 0) {
                log_error("Unknown firmware '%s' (" FIRMWARE_CHOICES ")", firmware);
                return -EINVAL;
        }
        if (!rule_memory_valid(memory)) {
                log_error("Memory '%ld' is out of range (%d..%d MiB)", memory, VM_MEMORY_MIN, VM_MEMORY_MAX);
                return -EINVAL;
        }
        if (req->mac) {
                /* the profile's rule: ':' or '-', unicast, not zero */
                enum mac_verdict v = rule_mac_parse(req->mac, mac);
                if (v != MAC_OK) {
                        log_error("'%s' is not a valid unicast MAC address (%s)", req->mac,
                                  v == MAC_MULTICAST ? "a multicast address" :
                                  v == MAC_ZERO ? "the all-zero address" :
                                  "six hex pairs separated by ':' or '-'");
                        return -EINVAL;
                }
        } else if (old && old->mac && rule_mac_parse(old->mac, mac) == MAC_OK)
                ;
        else
                vm_mac_derive(st->lab, name, mac);
        if (vms_use(st, offsetof(struct lab_vm, mac), mac, name)) {
                log_error("MAC '%s' is already used by another VM of lab '%s'", mac, st->lab);
                return -EEXIST;
        }
        if (req->disk && rule_disk_is_size(req->disk))
                disk = xstrdup(req->disk);
        else if (req->disk) {
                disk = realpath(req->disk, NULL);
                if (!disk)
                        return log_error_errno(errno, "Failed to find disk image '%s' (give a size like 20G or an image file)",
                                               req->disk);
                if (path_in_homes(disk)) {
                        log_error("Disk image '%s' is under a home directory, which VM units cannot see "
                                  "(ProtectHome=yes); move it elsewhere, e.g. to %s", disk, PXELAB_STATE_ROOT);
                        return -EACCES;
                }
        }
        *ret_firmware = firmware;
        *ret_memory = memory;
        *ret_disk = TAKE_PTR(disk);
        return 0;
}

/* The checked request completed into a VM of the record: its tap (kept
 * from before, else a free one), VNC display, derived unit, log and dir.
 * Failures here are the host's (exit 1). */
static int make_vm(const struct lab_record *st, const char *name, const char *firmware, long memory, const char *mac,
                   char *disk, bool vnc_wanted, bool kvm, struct lab_vm *ret) {
        const struct lab_vm *old = lab_record_vm((struct lab_record *) st, name);
        _cleanup_free_ char *tap = NULL, *vnc = NULL;
        int r;

        if (st->proxy_interface) {
                free(disk);
                log_error("Lab '%s' is a proxy DHCP lab on '%s': it has no bridge for VMs; boot the machines of "
                          "that LAN (a VM of yours on a bridge with '%s' boots too)", st->lab, st->proxy_interface,
                          st->proxy_interface);
                return -EOPNOTSUPP;
        }
        if (!st->has_bridge || !st->bridge.name) {
                free(disk);
                log_error("The record of lab '%s' names no bridge", st->lab);
                return -EBADMSG;
        }
        if (old && old->tap)
                tap = xstrdup(old->tap);
        else {
                r = pick_tap(st, &tap);
                if (r < 0) {
                        free(disk);
                        return r;
                }
        }
        if (vnc_wanted) {
                int n = pick_vnc(st, name);
                if (n < 0) {
                        free(disk);
                        log_error("No free VNC display on 127.0.0.1 (5900-5999)");
                        return -EADDRINUSE;
                }
                vnc = xasprintf("127.0.0.1:%d", n);
        }
        *ret = (struct lab_vm) {
                .name = xstrdup(name),
                .firmware = xstrdup(firmware),
                .mac = xstrdup(mac),
                .memory = memory,
                .disk = disk,
                .tap = TAKE_PTR(tap),
                .unit = lab_vm_unit_name(st->lab, name),
                .log = lab_vm_log_path(st->lab, name),
                .dir = lab_vm_dir(st->lab, name),
                .accel = xstrdup(kvm ? "kvm" : "tcg"),
                .vnc = TAKE_PTR(vnc),
        };
        return 0;
}

void vm_request_from_decl(const struct vm_decl *d, struct vm_request *req) {
        if (!req->name)
                req->name = d->name;
        if (!req->firmware)
                req->firmware = firmware_to_string(d->firmware);
        if (!req->mac)
                req->mac = d->mac;
        if (!req->memory)
                req->memory = d->memory;
        if (!req->disk)
                req->disk = d->disk;
}

/* Takes the VM's tap out of the bridge and deletes it, only when it
 * carries the lab's mark: a link of that name that is someone else's is
 * left alone, said so in one line. A tap that is gone may still have its
 * OVS port (a crash): that goes. */
static int remove_tap(const struct lab_record *st, const char *tap) {
        int r = labbridge_link_is_ours(st->lab, tap, "tun"), k;

        if (r == -EPERM)
                return 0;
        if (r < 0)
                return r;
        k = labbridge_detach(st, tap);
        if (k >= 0 && r > 0)
                k = link_delete(tap);
        return k;
}

/* Undoes a start that failed half-way: unit, port, tap, record. */
static void start_rollback(sd_bus *bus, struct lab_record *st, const char *name, bool unit) {
        struct lab_vm *vm = lab_record_vm(st, name);

        if (!vm)
                return;
        if (unit)
                (void) units_stop(bus, vm->unit);
        (void) remove_tap(st, vm->tap);
        lab_record_del_vm(st, name);
        (void) lab_record_save(st);
}

/* The tap made plain and marked as the lab's, then a port through the
 * lab's bridge back-end (a Linux bridge port or an OVS port). A link of
 * that name that is not the lab's is refused. */
static int make_tap(const struct lab_record *st, const char *tap) {
        _cleanup_free_ char *mark = lab_link_mark(st->lab);
        int r;

        r = labbridge_link_is_ours(st->lab, tap, "tun");
        if (r == -EPERM) {
                log_error("Link '%s' exists and is not lab '%s''s tap", tap, st->lab);
                return -EEXIST;
        }
        if (r < 0)
                return r;
        r = tap_create(tap, NULL, mark);
        if (r >= 0)
                r = labbridge_attach(st, tap);
        return r;
}

/* QEMU's sandbox on top of units.c's. No MemoryDenyWriteExecute (TCG is a
 * JIT) and no SystemCallFilter=@system-service: QEMU was killed by SIGSYS
 * under it, measured here. */
static char *vm_devices[] = { "/dev/kvm rw", "/dev/net/tun rw", NULL };
static char *vm_families[] = { "AF_UNIX", "AF_INET", "AF_INET6", NULL };

/* Builds C's command line and starts its unit. QUIET_EXIT: a QEMU that
 * ends at once is returned as -ECHILD without logging (the caller tries
 * again under TCG). */
static int start_unit(sd_bus *bus, const struct lab_record *st, const struct vm_config *c, const struct lab_vm *vm,
                      bool quiet_exit) {
        _cleanup_free_ char *description = NULL, *serial = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        char *rw[4] = {}, *hidden_rw[2] = {};
        const char *disk = vm->disk;
        int r;

        r = vm_build_argv(c, &argv);
        if (r < 0)
                return log_error_errno(r, "Failed to build the command line of VM '%s'", c->name);
        /* QEMU may write its log, its own dir and the disk image only. */
        serial = lab_serial_mount(st->lab);
        rw[0] = serial;
        rw[1] = (char *) c->vm_dir;
        /* An image where the sandbox hides it (/tmp, homes) is bound in. */
        if (disk && !rule_disk_is_size(disk) && units_path_hidden(disk))
                hidden_rw[0] = (char *) disk;
        else if (disk && !rule_disk_is_size(disk))
                rw[2] = (char *) disk;
        description = xasprintf("pxelab VM %s of lab %s (%s)", c->name, st->lab, c->firmware);
        return units_start(bus, &(struct unit_spec) {
                .name = vm->unit,
                .slice = st->slice,
                .description = description,
                .argv = argv,
                .type = "simple",
                .restart = "no",
                .read_write_paths = rw,
                .hidden_rw_paths = hidden_rw,
                /* It opens the tap by name (TUNSETIFF); nothing else. */
                .capabilities = 1ULL << CAP_NET_ADMIN,
                /* Of the host's devices only the accelerator and the tap. */
                .device_allow = vm_devices,
                .address_families = vm_families,
                .quiet_exit = quiet_exit,
        });
}

/* Whether UNIT, started at SINCE (now_usec()), ended within its first
 * ACCEL_KVM_WATCH_MS: 1 (with systemd's Result, or "exited", in *RET_HOW), 0
 * when it is still running then. A network-booting guest can't power off
 * that soon, so any end counts (a guest reset ends QEMU too: -no-reboot). */
static int ended_early(sd_bus *bus, const char *unit, unsigned long long since, char **ret_how) {
        for (;;) {
                struct unit_status us = {};
                bool running;
                int r = units_status(bus, unit, &us);

                if (r < 0)
                        return r;
                running = us.loaded && !streq(us.active_state, "failed") && !streq(us.active_state, "inactive");
                if (!running) {
                        *ret_how = xstrdup(!strempty(us.result) && !streq(us.result, "success") ? us.result : "exited");
                        unit_status_done(&us);
                        return 1;
                }
                unit_status_done(&us);
                if (now_usec() - since >= ACCEL_KVM_WATCH_MS * 1000ULL)
                        return 0;
                usleep(100 * 1000);
        }
}

/* KVM passed the probe but the VM died under it at once: record TCG (the
 * lab's record first, then the cache, so later VMs don't try again) and
 * start it again under TCG, saying so in one line. */
static int restart_under_tcg(sd_bus *bus, struct lab_record *st, struct vm_config *c, struct lab_vm *vm,
                             const char *how, struct accel_choice *accel) {
        _cleanup_free_ char *qemu = qemu_binary(), *log = vm_log_path(c);
        int r;

        free(vm->accel);
        vm->accel = xstrdup("tcg");
        r = lab_record_save(st);
        if (r < 0)
                return r;
        c->kvm = false;
        /* The console shows this boot only. */
        (void) truncate(log, 0);
        r = start_unit(bus, st, c, vm, false);
        if (r < 0)
                return r;
        *accel = (struct accel_choice) { .kvm = false, .fallback = true };
        snprintf(accel->reason, sizeof(accel->reason), "a VM ended within %d s under -accel kvm -cpu %s (%s)",
                 ACCEL_KVM_WATCH_MS / 1000, ACCEL_KVM_CPU, how);
        accel_record_tcg(qemu, accel->reason);
        snprintf(accel->reason, sizeof(accel->reason), "VM '%s' ended within %d s under KVM (%s); started it again under TCG",
                 c->name, ACCEL_KVM_WATCH_MS / 1000, how);
        log_warn("%s", accel->reason);
        return 0;
}

int vm_check(sd_bus *bus, struct lab_record *st, const struct vm_request *req, struct vm_plan *ret) {
        _cleanup_free_ char *name = NULL;
        const struct lab_vm *rec;
        struct vm_request eff;
        int r;

        name = req->name ? xstrdup(req->name) : next_free_name(st);
        if (!rule_name_valid(name)) {
                log_error("'%s' is not a valid VM name ([a-z0-9][a-z0-9_-]*, at most %d characters)", name,
                          RULE_NAME_MAX);
                return -EINVAL;
        }
        rec = lab_record_vm(st, name);
        if (rec && vm_unit_active(bus, rec->unit)) {
                log_error("VM '%s' of lab '%s' is already running", name, st->lab);
                return -EEXIST;
        }
        /* Started before: what it was started with, unless REQ says otherwise. */
        eff = *req;
        if (rec) {
                if (!eff.firmware)
                        eff.firmware = rec->firmware;
                if (!eff.memory)
                        eff.memory = rec->memory;
                if (!eff.disk)
                        eff.disk = rec->disk;
                if (!eff.vnc)
                        eff.vnc = rec->vnc != NULL;
        }
        *ret = (struct vm_plan) { .vnc = eff.vnc };
        r = check_request(st, &eff, name, &ret->firmware, &ret->memory, ret->mac, &ret->disk);
        if (r < 0)
                return r;
        ret->name = TAKE_PTR(name);
        return 0;
}

void vm_plan_done(struct vm_plan *plan) {
        free(plan->name);
        free(plan->disk);
        *plan = (struct vm_plan) {};
}

/* The VMs' serial logs live on a tmpfs of their own, capped at
 * VM_SERIAL_CAP for the lab's VMs together: a guest that floods its console
 * fills that and no more of the host's RAM (QEMU's file chardev has no cap of
 * its own). Recorded before it is mounted, like every resource. */
#define VM_SERIAL_CAP "64m"
static int guard_serial(struct lab_record *st) {
        _cleanup_free_ char *dir = lab_serial_mount(st->lab);
        int r;

        r = lab_record_save_mount(st, dir);
        if (r < 0)
                return r;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create '%s'", dir);
        return symguard_tmpfs(dir, VM_SERIAL_CAP);
}

int vm_start(sd_bus *bus, struct lab_record *st, struct vm_plan *plan, struct accel_choice *ret_accel) {
        const char *name = plan->name;
        _cleanup_free_ char *qemu = NULL, *how = NULL;
        struct accel_choice accel;
        struct lab_vm made, *vm;
        struct vm_config c;
        unsigned long long since;
        bool watch;
        int r;

        qemu = qemu_binary();
        r = accel_choose(qemu, &accel);
        if (r < 0)
                return r;
        r = make_vm(st, name, plan->firmware, plan->memory, plan->mac, TAKE_PTR(plan->disk), plan->vnc, accel.kvm,
                    &made);
        if (r < 0)
                return r;
        /* Recorded before anything exists, so `down` can undo a crash. */
        vm = lab_record_put_vm(st, &made);
        r = lab_record_save(st);
        if (r < 0)
                return r;

        config_from_record(&c, st, vm);
        r = guard_serial(st);
        if (r >= 0)
                r = vm_prepare(&c);
        if (r >= 0)
                r = make_tap(st, vm->tap);
        if (r < 0)
                goto fail;
        fault_point("vm-attached");
        /* KVM that passed the probe may still fail a real VM: watch it. A
         * forced choice is what the user asked for, failure included. */
        watch = accel.kvm && !accel.forced;
        since = now_usec();
        r = start_unit(bus, st, &c, vm, watch);
        if (watch && (r >= 0 || r == -ECHILD)) {
                int e = ended_early(bus, vm->unit, since, &how);
                if (e > 0)
                        r = restart_under_tcg(bus, st, &c, vm, how, &accel);
                else if (e == 0 && r == -ECHILD)
                        log_error("Failed to start unit '%s': it did not stay up", vm->unit);
        }
        if (r < 0) {
                start_rollback(bus, st, name, true);
                return r;
        }
        if (ret_accel)
                *ret_accel = accel;
        return 0;
fail:
        start_rollback(bus, st, name, false);
        return r;
}

int vm_stop(sd_bus *bus, struct lab_record *st, const char *name) {
        struct lab_vm *vm = lab_record_vm(st, name);
        int r, ret = 0;

        if (!vm)
                return -ENOENT;
        r = units_stop(bus, vm->unit);
        if (r < 0)
                ret = r;
        if (vm->tap) {
                r = remove_tap(st, vm->tap);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (ret < 0)
                return ret;     /* keep the record: stop again retries */
        lab_record_del_vm(st, name);
        return lab_record_save(st);
}

int vm_stop_all(sd_bus *bus, struct lab_record *st) {
        int r, ret = 0;

        /* vm_stop() removes the VM from the record; a failed one stays. */
        for (size_t i = 0; i < st->n_vms;) {
                _cleanup_free_ char *name = xstrdup(st->vms[i].name);
                size_t before = st->n_vms;
                r = vm_stop(bus, st, name);
                if (r < 0 && ret == 0)
                        ret = r;
                if (st->n_vms == before)
                        i++;
        }
        return ret;
}

json_t *vm_status_json(sd_bus *bus, const struct lab_record *st) {
        json_t *arr = json_array();

        /* The record keeps its VMs sorted by name. */
        for (size_t i = 0; i < st->n_vms; i++) {
                json_t *o = lab_vm_json(&st->vms[i]);
                struct unit_status us = {};
                const char *state = "unknown";

                if (bus && units_status(bus, st->vms[i].unit, &us) >= 0)
                        state = us.loaded ? us.active_state : "inactive";
                json_object_set_new(o, "lab", json_string(st->lab));
                json_object_set_new(o, "active_state", json_string(state));
                unit_status_done(&us);
                json_array_append_new(arr, o);
        }
        return arr;
}
