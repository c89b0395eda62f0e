/* Virtual machines on a lab's bridge: QEMU command lines, per-VM files, and
 * starting/stopping VMs as transient units of the lab (the accelerator
 * they get: accel.h).
 *
 * A VM NAME of lab LAB is
 *   - unit    pxelab-LAB-vm-NAME.service in pxelab-LAB.slice (Restart=no:
 *             a guest powering off is normal);
 *   - tap     pxt-LAB-N, a port of the lab bridge (lab_tap_name() of
 *             names.h: a long LAB is shortened to fit 15 characters);
 *   - files   /run/pxelab/LAB/vm-NAME.log (serial console) and the VM's own
 *             directory /var/lib/pxelab/LAB/vm/NAME (OVMF_VARS.fd, disk.qcow2);
 *   - record  state.json["vms"][NAME], written before anything is made:
 *             {"name","firmware","mac","memory","disk","tap","unit","log",
 *              "dir","accel","vnc"}.
 * Nothing here keeps global state. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "host/accel.h"
#include "profile/profile.h"

#define VM_OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define VM_OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define VM_MEMORY_DEFAULT 512
#define VM_MEMORY_MIN 128
#define VM_MEMORY_MAX 65536

struct vm_config {
        const char *lab;
        const char *name;
        const char *firmware;   /* "bios" | "uefi" | "uefi-pxe" */
        const char *mac;        /* "52:54:00:xx:xx:xx", lower case */
        long memory;            /* MiB */
        const char *disk;       /* NULL, a SIZE ("20G") or an absolute image path */
        const char *tap;        /* tap interface name */
        const char *run_dir;    /* the lab's run dir: the serial log lives here */
        const char *vm_dir;     /* the VM's own dir: OVMF vars, created disk */
        bool kvm;               /* -accel kvm (else tcg) */
        int vnc;                /* VNC display number on 127.0.0.1, -1 for none */
        bool nic_csum_off;      /* the guest fills in its own checksums (OVS labs) */
};

/* Firmware names: "bios" (SeaBIOS + QEMU's iPXE option ROM), "uefi" (OVMF +
 * QEMU's iPXE EFI ROM: iPXE starts from the ROM, no TFTP), "uefi-pxe" (OVMF's
 * own PXE: DHCP arch 7, TFTP snponly.efi, then iPXE). */
bool vm_firmware_valid(const char *s);
/* [a-z0-9][a-z0-9_-]*, at most 32 characters. */
bool vm_name_valid(const char *s);
/* "20G", "512M", "1T": 1-6 digits, not all zero, then M, G or T. */
bool vm_disk_is_size(const char *s);

/* Parses a MAC (colon separated, any case) into lower case "xx:..:xx".
 * -EINVAL for a malformed or multicast address. */
int vm_mac_parse(const char *s, char ret[static 18]);
/* The MAC a VM gets when none is given: 52:54:00 and three bytes of a hash
 * of LAB and NAME, so it is the same on every start. */
void vm_mac_derive(const char *lab, const char *name, char ret[static 18]);

/* Paths of a VM's files (newly allocated). */
char *vm_log_path(const struct vm_config *c);     /* RUN_DIR/vm-NAME.log */
char *vm_vars_path(const struct vm_config *c);    /* VM_DIR/OVMF_VARS.fd */
char *vm_disk_path(const struct vm_config *c);    /* the image, NULL when no disk */

/* The QEMU command line for C (argv[0] is qemu_binary(); under KVM with
 * -cpu ACCEL_KVM_CPU, as the probe runs it). Touches nothing. */
int vm_build_argv(const struct vm_config *c, char ***ret);

/* Makes C's files: VM_DIR, a per-VM copy of the OVMF variable store (kept
 * when it exists, so the guest's NVRAM survives restarts), the disk image
 * when C->disk is a SIZE (qemu-img create -f qcow2, kept when it exists; an
 * image path must exist), and an empty serial log. */
int vm_prepare(const struct vm_config *c);

/* What `pxelab vm start` asks for; NULL/0 fields take defaults (firmware
 * bios, derived MAC, 512 MiB, no disk, no VNC). */
struct vm_request {
        const char *name;       /* NULL: "vm1", or the next free "vmN" */
        const char *firmware;
        const char *mac;
        long memory;
        const char *disk;       /* SIZE or path (relative paths are made absolute) */
        bool vnc;
};

/* Fills the fields REQ leaves unset from the profile's declaration D
 * (`vm "NAME" { firmware mac memory disk }`); REQ then points into D. */
void vm_request_from_decl(const struct vm_decl *d, struct vm_request *req);

/* Starts a VM in lab LAB whose state record ST the caller holds under the
 * global lock: records it in ST["vms"] (saved) before creating the tap and
 * the unit, then creates them. A VM recorded before (stopped, or powered
 * off) keeps its MAC and tap, and the settings REQ leaves unset. On failure what was made is removed again.
 * *ret_usage (may be NULL) is set when the request itself is wrong (bad name,
 * VM already running, missing image, a bad $PXELAB_ACCEL). The accelerator
 * is accel_choose()'s; a VM that ends within its first ACCEL_KVM_WATCH_MS
 * under a probed (not forced) KVM is started again under TCG, the cache
 * then says TCG and one line says so. *ret_accel (may be NULL) tells which
 * accelerator the VM got and why. The VM's name is returned in *ret_name
 * (may be NULL). */
int vm_start(sd_bus *bus, const char *lab, json_t *st, const struct vm_request *req, bool *ret_usage,
             struct accel_choice *ret_accel, char **ret_name);

/* Stops VM NAME of lab LAB: stops its unit, deletes its tap, removes it from
 * ST (saved). The VM's directory (NVRAM, disk) is kept. -ENOENT (quiet) when
 * ST has no such VM. */
int vm_stop(sd_bus *bus, const char *lab, json_t *st, const char *name);

/* Stops every VM of the lab (`pxelab down` does this first). Goes on past
 * failures; returns the first error. */
int vm_stop_all(sd_bus *bus, const char *lab, json_t *st);

/* True while UNIT (a VM's unit) is running or about to: activating, active,
 * deactivating. */
bool vm_unit_active(sd_bus *bus, const char *unit);

/* The lab's VMs as a JSON array, sorted by name: each record's fields plus
 * "active_state" (from systemd; "unknown" when BUS is NULL) and "lab". */
json_t *vm_status_json(sd_bus *bus, const char *lab, json_t *st);
