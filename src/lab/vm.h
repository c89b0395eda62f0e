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
 *   - record  a struct lab_vm of the lab's record (record.h), written
 *             before anything is made.
 * Nothing here keeps global state. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "basic/rules.h"
#include "host/accel.h"
#include "lab/record.h"
#include "profile/profile.h"

#define VM_OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define VM_OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
/* uefi-secure: OVMF's Secure Boot build (needs SMM) and a variable store
 * with Microsoft's keys enrolled (KEK CA 2011, UEFI CA 2011), as on a PC. */
#define VM_OVMF_CODE_SECURE "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define VM_OVMF_VARS_SECURE "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"

struct vm_config {
        const char *lab;
        const char *name;
        const char *firmware;   /* "bios" | "uefi" | "uefi-pxe" | "uefi-secure" */
        const char *mac;        /* "52:54:00:xx:xx:xx", lower case */
        long memory;            /* MiB */
        const char *disk;       /* NULL, a SIZE ("20G") or an absolute image path */
        const char *tap;        /* tap interface name */
        const char *log;        /* the serial log, in the lab's capped serial dir */
        const char *vm_dir;     /* the VM's own dir: OVMF vars, created disk */
        bool kvm;               /* -accel kvm (else tcg) */
        int vnc;                /* VNC display number on 127.0.0.1, -1 for none */
        bool nic_csum_off;      /* the guest fills in its own checksums (OVS labs) */
};

/* The rules of names, firmware, MACs, memory and disks are the profile's:
 * basic/rules.h. */
/* The MAC a VM gets when none is given: 52:54:00 and three bytes of a hash
 * of LAB and NAME, so it is the same on every start. */
void vm_mac_derive(const char *lab, const char *name, char ret[static 18]);

/* Paths of a VM's files (newly allocated). */
char *vm_log_path(const struct vm_config *c);     /* a copy of c->log */
char *vm_vars_path(const struct vm_config *c);    /* VM_DIR/OVMF_VARS.fd (uefi-secure: OVMF_VARS.secure.fd) */
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

/* A request checked against the lab's record, ready to start. */
struct vm_plan {
        char *name;
        const char *firmware;
        long memory;
        char mac[18];
        char *disk;             /* NULL, a SIZE or the image's real path */
        bool vnc;
};
void vm_plan_done(struct vm_plan *plan);

/* The check phase of `vm start`: the name (REQ's, or the next free "vmN"),
 * the VM not running, firmware, memory, MAC (free in the lab) and disk
 * (exists, not under a home). A VM recorded before (stopped, or powered
 * off) keeps its MAC, tap and the settings REQ leaves unset. Every failure
 * is the request's (logged; the caller exits 2); nothing is changed. */
int vm_check(sd_bus *bus, struct lab_record *st, const struct vm_request *req, struct vm_plan *ret);

/* The apply phase: records the VM in ST (saved) before making its tap
 * (marked as the lab's, see record.h) and unit, then makes them; on failure
 * what was made is removed again (every failure here is the host's: exit
 * 1). The caller holds the global lock. The accelerator is
 * accel_choose()'s; a VM that ends within its first ACCEL_KVM_WATCH_MS
 * under a probed (not forced) KVM is started again under TCG, the cache
 * then says TCG and one line says so. *ret_accel (may be NULL) tells which
 * accelerator the VM got and why. */
int vm_start(sd_bus *bus, struct lab_record *st, struct vm_plan *plan, struct accel_choice *ret_accel);

/* Stops VM NAME: stops its unit, deletes its tap (only when it carries the
 * lab's mark; another link of that name is left alone with one line),
 * removes it from ST (saved). The VM's directory (NVRAM, disk) is kept.
 * -ENOENT (quiet) when ST has no such VM. */
int vm_stop(sd_bus *bus, struct lab_record *st, const char *name);

/* Stops every VM of the lab (`pxelab down` does this first). Goes on past
 * failures; returns the first error. */
int vm_stop_all(sd_bus *bus, struct lab_record *st);

/* True while UNIT (a VM's unit) is running or about to: activating, active,
 * deactivating. */
bool vm_unit_active(sd_bus *bus, const char *unit);

/* The lab's VMs as a JSON array, sorted by name: each record's fields plus
 * "active_state" (from systemd; "unknown" when BUS is NULL) and "lab". */
json_t *vm_status_json(sd_bus *bus, const struct lab_record *st);
