/* Virtual machines on a lab's bridge. See vm.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "host/accel.h"
#include "host/link.h"
#include "basic/fault.h"
#include "lab/lab.h"
#include "lab/labbridge.h"
#include "basic/log.h"
#include "basic/names.h"
#include "lab/state.h"
#include "host/units.h"
#include "basic/util.h"
#include "lab/vm.h"

#define VM_NAME_MAX 32

/* ---- names and values -------------------------------------------------- */

bool vm_firmware_valid(const char *s) {
        return streq(s, "bios") || streq(s, "uefi") || streq(s, "uefi-pxe");
}

bool vm_name_valid(const char *s) {
        size_t len = s ? strlen(s) : 0;

        if (len == 0 || len > VM_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
                        return false;
        return true;
}

/* The same rule as the profile's `disk`: 1-6 digits, not all zero, M/G/T. */
bool vm_disk_is_size(const char *s) {
        size_t digits = s ? strspn(s, "0123456789") : 0;

        if (digits == 0 || digits > 6 || !s[digits] || !strchr("MGT", s[digits]) || s[digits + 1])
                return false;
        return strspn(s, "0") < digits;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int vm_mac_parse(const char *s, char ret[static 18]) {
        unsigned char b[6];

        if (!s || strlen(s) != 17)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
                if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
                        return -EINVAL;
                b[i] = hi << 4 | lo;
        }
        /* QEMU refuses a group address for a NIC, and so would a bridge. */
        if (b[0] & 1)
                return -EINVAL;
        snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
        return 0;
}

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
        return xasprintf("%s/vm-%s.log", c->run_dir, c->name);
}

char *vm_vars_path(const struct vm_config *c) {
        return path_join(c->vm_dir, "OVMF_VARS.fd");
}

char *vm_disk_path(const struct vm_config *c) {
        if (!c->disk)
                return NULL;
        if (vm_disk_is_size(c->disk))
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
        bool uefi = streq(c->firmware, "uefi") || streq(c->firmware, "uefi-pxe");
        _cleanup_free_ char *log = NULL, *disk = NULL;

        if (!vm_firmware_valid(c->firmware) || strempty(c->name) || strempty(c->mac) || strempty(c->tap) ||
            strempty(c->run_dir) || strempty(c->vm_dir) || c->memory <= 0)
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
        push2(&b, "-machine", xasprintf("%s%s", uefi ? "q35" : "pc", c->vnc >= 0 ? "" : ",graphics=off"));
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
                push2(&b, "-drive", xasprintf("if=pflash,format=raw,unit=0,readonly=on,file=%s", VM_OVMF_CODE));
                push2(&b, "-drive", xasprintf("if=pflash,format=raw,unit=1,file=%s", vars));
        }
        push2(&b, "-netdev", xasprintf("tap,id=net0,ifname=%s,script=no,downscript=no", c->tap));
        /* bootindex (not -boot order) is what both SeaBIOS and OVMF follow:
         * network first, then the disk. "uefi-pxe" drops the NIC's iPXE ROM
         * so OVMF's own PXE boots (DHCP, TFTP snponly.efi); "bios" and "uefi"
         * keep QEMU's default ROM, whose iPXE starts right from the NIC. */
        push2(&b, "-device", xasprintf("virtio-net-pci,netdev=net0,mac=%s,bootindex=1%s%s", c->mac,
                                       streq(c->firmware, "uefi-pxe") ? ",romfile=" : "",
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
        if (streq(c->firmware, "uefi") || streq(c->firmware, "uefi-pxe")) {
                _cleanup_free_ char *vars = vm_vars_path(c);
                if (access(vars, F_OK) < 0) {
                        r = copy_file(VM_OVMF_VARS, vars, 0600);
                        if (r < 0)
                                return log_error_errno(r, "Failed to copy '%s' to '%s' (is the ovmf package installed?)",
                                                       VM_OVMF_VARS, vars);
                }
                if (access(VM_OVMF_CODE, R_OK) < 0)
                        return log_error_errno(errno, "Failed to read '%s' (is the ovmf package installed?)",
                                               VM_OVMF_CODE);
        }
        if (disk && vm_disk_is_size(c->disk)) {
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

static json_t *vms_of(json_t *st, bool create) {
        json_t *vms = json_object_get(st, "vms");
        if (!vms && create) {
                vms = json_object();
                json_object_set_new(st, "vms", vms);
        }
        return vms;
}

static const char *rec_str(json_t *rec, const char *key) {
        return json_string_value(json_object_get(rec, key));
}

static bool vms_use(json_t *vms, const char *key, const char *value, const char *except) {
        const char *name;
        json_t *rec;
        json_object_foreach(vms, name, rec)
                if (!streq(name, except) && streq(rec_str(rec, key), value))
                        return true;
        return false;
}

/* lab_tap_name() "pxt-LAB-N" (shortened to 15 characters for a long lab
 * name) with the first N that no VM of the lab and no other link (another
 * lab's tap) uses. */
static int pick_tap(const char *lab, json_t *vms, char **ret) {
        for (unsigned n = 0; n < 100; n++) {
                _cleanup_free_ char *tap = lab_tap_name(lab, n);
                int r;
                if (vms_use(vms, "tap", tap, NULL))
                        continue;
                r = link_exists(tap, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up link '%s'", tap);
                if (r == 0) {
                        *ret = TAKE_PTR(tap);
                        return 0;
                }
        }
        log_error("No free tap name for lab '%s'", lab);
        return -ENOSPC;
}

static bool port_free(int port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
}

static int pick_vnc(json_t *vms, const char *name) {
        for (int n = 0; n < 100; n++) {
                _cleanup_free_ char *addr = xasprintf("127.0.0.1:%d", n);
                if (!vms_use(vms, "vnc", addr, name) && port_free(5900 + n))
                        return n;
        }
        return -1;
}

static char *next_free_name(json_t *vms) {
        for (unsigned n = 1;; n++) {
                char *name = xasprintf("vm%u", n);
                if (!json_object_get(vms, name))
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

static void config_from_record(struct vm_config *c, const char *lab, const char *name, json_t *st, json_t *rec) {
        *c = (struct vm_config) {
                .lab = lab,
                .name = name,
                .firmware = rec_str(rec, "firmware"),
                .mac = rec_str(rec, "mac"),
                .memory = json_integer_value(json_object_get(rec, "memory")),
                .disk = rec_str(rec, "disk"),
                .tap = rec_str(rec, "tap"),
                .run_dir = rec_str(st, "run_dir"),
                .vm_dir = rec_str(rec, "dir"),
                .kvm = streq(rec_str(rec, "accel"), "kvm"),
                .vnc = -1,
                /* A guest OS (not the boot firmware) leaves TCP/UDP checksums
                 * to the NIC by default; ovs-vswitchd's userspace (netdev)
                 * datapath, which reads the tap like any device, forwards
                 * such frames unfinished and the lab drops them (measured:
                 * a booted Linux got its DHCP lease, its HTTP to the lab
                 * timed out; with csum=off it worked). Off on every OVS lab:
                 * the record does not say which datapath a borrowed bridge
                 * has, and the cost is only the guest's own checksumming. */
                .nic_csum_off = streq(rec_str(json_object_get(st, "bridge"), "type"), "ovs"),
        };
        c->vnc = vnc_display(rec_str(rec, "vnc"));
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

/* The request checked and completed into a record; *usage on bad input. */
static int make_record(const char *lab, json_t *st, json_t *vms, const struct vm_request *req, const char *name,
                       bool kvm, bool *usage, json_t **ret) {
        json_t *old = json_object_get(vms, name);
        const char *firmware = req->firmware ? req->firmware : "bios";
        const char *state_dir = rec_str(st, "state_dir");
        long memory = req->memory ? req->memory : VM_MEMORY_DEFAULT;
        _cleanup_free_ char *tap = NULL, *disk = NULL, *dir = NULL, *vnc = NULL, *svc = NULL, *unit = NULL, *log = NULL;
        char mac[18];
        int r;

        *usage = true;
        if (!vm_firmware_valid(firmware)) {
                log_error("Unknown firmware '%s' (bios, uefi or uefi-pxe)", firmware);
                return -EINVAL;
        }
        if (memory < VM_MEMORY_MIN || memory > VM_MEMORY_MAX) {
                log_error("Memory '%ld' is out of range (%d..%d MiB)", memory, VM_MEMORY_MIN, VM_MEMORY_MAX);
                return -EINVAL;
        }
        if (req->mac) {
                if (vm_mac_parse(req->mac, mac) < 0) {
                        log_error("'%s' is not a valid unicast MAC address", req->mac);
                        return -EINVAL;
                }
        } else if (old && rec_str(old, "mac"))
                snprintf(mac, sizeof(mac), "%s", rec_str(old, "mac"));
        else
                vm_mac_derive(lab, name, mac);
        if (vms_use(vms, "mac", mac, name)) {
                log_error("MAC '%s' is already used by another VM of lab '%s'", mac, lab);
                return -EEXIST;
        }
        if (req->disk && vm_disk_is_size(req->disk))
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
        if (!state_dir || !rec_str(st, "run_dir") || !rec_str(json_object_get(st, "bridge"), "name")) {
                *usage = false;
                log_error("The record of lab '%s' lacks its directories or bridge", lab);
                return -EBADMSG;
        }
        *usage = false;
        if (old && rec_str(old, "tap"))
                tap = xstrdup(rec_str(old, "tap"));
        else {
                r = pick_tap(lab, vms, &tap);
                if (r < 0)
                        return r;
        }
        if (req->vnc) {
                int n = pick_vnc(vms, name);
                if (n < 0) {
                        log_error("No free VNC display on 127.0.0.1 (5900-5999)");
                        return -EADDRINUSE;
                }
                vnc = xasprintf("127.0.0.1:%d", n);
        }
        dir = xasprintf("%s/vm/%s", state_dir, name);
        svc = xasprintf("vm-%s", name);
        unit = lab_unit_name(lab, svc);
        log = vm_log_path(&(struct vm_config) { .run_dir = rec_str(st, "run_dir"), .name = name });
        *ret = json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s, s:s, s:s, s:s, s:s, s:s?}",
                         "name", name, "firmware", firmware, "mac", mac, "memory", (json_int_t) memory,
                         "disk", disk, "tap", tap, "unit", unit, "log", log, "dir", dir,
                         "accel", kvm ? "kvm" : "tcg", "vnc", vnc);
        return *ret ? 0 : -ENOMEM;
}

void vm_request_from_decl(const struct vm_decl *d, struct vm_request *req) {
        if (!req->name)
                req->name = d->name;
        if (!req->firmware)
                req->firmware = d->firmware;
        if (!req->mac)
                req->mac = d->mac;
        if (!req->memory)
                req->memory = d->memory;
        if (!req->disk)
                req->disk = d->disk;
}

/* Undoes a start that failed half-way: unit, port, tap, record. */
static void start_rollback(sd_bus *bus, const char *lab, json_t *st, const char *name, json_t *rec, bool unit) {
        if (unit)
                (void) units_stop(bus, rec_str(rec, "unit"));
        (void) labbridge_detach(st, rec_str(rec, "tap"));
        (void) link_delete(rec_str(rec, "tap"));
        json_object_del(vms_of(st, true), name);
        (void) state_save(lab, st);
}

/* QEMU's sandbox on top of units.c's. No MemoryDenyWriteExecute (TCG is a
 * JIT) and no SystemCallFilter=@system-service: QEMU was killed by SIGSYS
 * under it, measured here. */
static char *vm_devices[] = { "/dev/kvm rw", "/dev/net/tun rw", NULL };
static char *vm_families[] = { "AF_UNIX", "AF_INET", "AF_INET6", NULL };

/* Builds C's command line and starts its unit. QUIET_EXIT: a QEMU that
 * ends at once is returned as -ECHILD without logging (the caller tries
 * again under TCG). */
static int start_unit(sd_bus *bus, const char *lab, const struct vm_config *c, json_t *rec, bool quiet_exit) {
        _cleanup_free_ char *slice = lab_slice_name(lab), *description = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        char *rw[4] = {}, *hidden_rw[2] = {};
        const char *disk;
        int r;

        r = vm_build_argv(c, &argv);
        if (r < 0)
                return log_error_errno(r, "Failed to build the command line of VM '%s'", c->name);
        /* QEMU may write its log, its own dir and the disk image only. */
        rw[0] = (char *) c->run_dir;
        rw[1] = (char *) c->vm_dir;
        disk = rec_str(rec, "disk");
        /* An image where the sandbox hides it (/tmp, homes) is bound in. */
        if (disk && !vm_disk_is_size(disk) && units_path_hidden(disk))
                hidden_rw[0] = (char *) disk;
        else if (disk && !vm_disk_is_size(disk))
                rw[2] = (char *) disk;
        description = xasprintf("pxelab VM %s of lab %s (%s)", c->name, lab, c->firmware);
        return units_start(bus, &(struct unit_spec) {
                .name = rec_str(rec, "unit"),
                .slice = slice,
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
static int restart_under_tcg(sd_bus *bus, const char *lab, json_t *st, struct vm_config *c, json_t *rec,
                             const char *how, struct accel_choice *accel) {
        _cleanup_free_ char *qemu = qemu_binary(), *log = vm_log_path(c);
        int r;

        json_object_set_new(rec, "accel", json_string("tcg"));
        r = state_save(lab, st);
        if (r < 0)
                return r;
        c->kvm = false;
        /* The console shows this boot only. */
        (void) truncate(log, 0);
        r = start_unit(bus, lab, c, rec, false);
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

int vm_start(sd_bus *bus, const char *lab, json_t *st, const struct vm_request *req, bool *ret_usage,
             struct accel_choice *ret_accel, char **ret_name) {
        json_t *vms = vms_of(st, true), *rec = NULL;
        _cleanup_free_ char *name = NULL, *qemu = NULL, *how = NULL;
        struct accel_choice accel;
        struct vm_request eff;
        struct vm_config c;
        unsigned long long since;
        bool usage = false, watch;
        int r;

        if (ret_usage)
                *ret_usage = false;
        name = req->name ? xstrdup(req->name) : next_free_name(vms);
        if (!vm_name_valid(name)) {
                if (ret_usage)
                        *ret_usage = true;
                log_error("'%s' is not a valid VM name ([a-z0-9][a-z0-9_-]*, at most %d characters)", name,
                          VM_NAME_MAX);
                return -EINVAL;
        }
        rec = json_object_get(vms, name);
        if (rec && vm_unit_active(bus, rec_str(rec, "unit"))) {
                if (ret_usage)
                        *ret_usage = true;
                log_error("VM '%s' of lab '%s' is already running", name, lab);
                return -EEXIST;
        }
        /* Started before: what it was started with, unless REQ says otherwise. */
        eff = *req;
        if (rec) {
                if (!eff.firmware)
                        eff.firmware = rec_str(rec, "firmware");
                if (!eff.memory)
                        eff.memory = json_integer_value(json_object_get(rec, "memory"));
                if (!eff.disk)
                        eff.disk = rec_str(rec, "disk");
                if (!eff.vnc)
                        eff.vnc = rec_str(rec, "vnc") != NULL;
        }
        qemu = qemu_binary();
        r = accel_choose(qemu, &accel);
        if (r < 0) {
                if (ret_usage)
                        *ret_usage = true;
                return r;
        }
        r = make_record(lab, st, vms, &eff, name, accel.kvm, &usage, &rec);
        if (r < 0) {
                if (ret_usage)
                        *ret_usage = usage;
                return r;
        }
        /* Recorded before anything exists, so `down` can undo a crash. */
        json_object_set_new(vms, name, rec);
        r = state_save(lab, st);
        if (r < 0)
                return r;

        config_from_record(&c, lab, name, st, rec);
        r = vm_prepare(&c);
        if (r < 0)
                goto fail;
        /* The tap is made plain, then becomes a port through the lab's
         * bridge back-end (a Linux bridge port or an OVS port). */
        r = tap_create(c.tap, NULL);
        if (r < 0)
                goto fail;
        r = labbridge_attach(st, c.tap);
        if (r < 0)
                goto fail;
        fault_point("vm-attached");
        /* KVM that passed the probe may still fail a real VM: watch it. A
         * forced choice is what the user asked for, failure included. */
        watch = accel.kvm && !accel.forced;
        since = now_usec();
        r = start_unit(bus, lab, &c, rec, watch);
        if (watch && (r >= 0 || r == -ECHILD)) {
                int e = ended_early(bus, rec_str(rec, "unit"), since, &how);
                if (e > 0)
                        r = restart_under_tcg(bus, lab, st, &c, rec, how, &accel);
                else if (e == 0 && r == -ECHILD)
                        log_error("Failed to start unit '%s': it did not stay up", rec_str(rec, "unit"));
        }
        if (r < 0) {
                start_rollback(bus, lab, st, name, rec, true);
                return r;
        }
        if (ret_accel)
                *ret_accel = accel;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        return 0;
fail:
        start_rollback(bus, lab, st, name, rec, false);
        return r;
}

int vm_stop(sd_bus *bus, const char *lab, json_t *st, const char *name) {
        json_t *rec = json_object_get(vms_of(st, false), name);
        int r, ret = 0;

        if (!rec)
                return -ENOENT;
        r = units_stop(bus, rec_str(rec, "unit"));
        if (r < 0)
                ret = r;
        if (rec_str(rec, "tap")) {
                r = labbridge_detach(st, rec_str(rec, "tap"));
                if (r >= 0)
                        r = link_delete(rec_str(rec, "tap"));
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (ret < 0)
                return ret;     /* keep the record: stop again retries */
        json_object_del(vms_of(st, false), name);
        return state_save(lab, st);
}

int vm_stop_all(sd_bus *bus, const char *lab, json_t *st) {
        json_t *vms = vms_of(st, false), *rec;
        const char *name;
        void *tmp;
        int r, ret = 0;

        json_object_foreach_safe(vms, tmp, name, rec) {
                r = vm_stop(bus, lab, st, name);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

json_t *vm_status_json(sd_bus *bus, const char *lab, json_t *st) {
        json_t *vms = vms_of(st, false), *arr = json_array(), *rec;
        const char **names = xcalloc(json_object_size(vms) + 1, sizeof(char *));
        const char *name;
        size_t n = 0;

        json_object_foreach(vms, name, rec)
                names[n++] = name;
        qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_deep_copy(json_object_get(vms, names[i]));
                struct unit_status us = {};
                const char *state = "unknown";

                if (bus && units_status(bus, rec_str(o, "unit"), &us) >= 0)
                        state = us.loaded ? us.active_state : "inactive";
                json_object_set_new(o, "lab", json_string(lab));
                json_object_set_new(o, "active_state", json_string(state));
                unit_status_done(&us);
                json_array_append_new(arr, o);
        }
        free(names);
        return arr;
}
