/* Which accelerator a VM gets, and why.
 *
 * KVM is used only when it really runs a guest here, as a VM would run it:
 * the QEMU binary VMs run (qemu_binary()) with -accel kvm and the CPU model
 * VMs get under KVM (ACCEL_KVM_CPU) must bring SeaBIOS to "No bootable
 * device." on isa-debugcon within ACCEL_PROBE_DEADLINE_MS. An abort (a
 * nested host that can't set an MSR), an error exit or a guest slower than
 * the deadline (instructions emulated one by one) all mean TCG.
 *
 * The verdict is kept in ACCEL_CACHE_PATH per boot: it holds the boot id
 * (/proc/sys/kernel/random/boot_id), the QEMU binary (path, device, inode,
 * mtime, size) and the CPU model it was found with; a cache from another
 * boot or another binary is ignored. So every VM of a boot gets the same
 * answer and only the first `vm start` pays for the probe.
 *
 * $PXELAB_ACCEL=kvm|tcg forces the choice (no probe, no cache); any other
 * non-empty value is a usage error. $PXELAB_KVM_DEVICE names the KVM device
 * checked before probing (default /dev/kvm; a seam for tests): without it
 * there is no probe and no cache, just TCG. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/paths.h"

/* The -cpu a VM gets under KVM; the probe uses the same. (TCG: QEMU's default.) */
#define ACCEL_KVM_CPU "host"
/* A dot name: lab run dirs (/run/pxelab/LAB) can't collide with it. */
#define ACCEL_CACHE_PATH PXELAB_RUN_ROOT "/.accel"
#define ACCEL_KVM_DEVICE "/dev/kvm"
#define ACCEL_PROBE_DEADLINE_MS 1500
/* What the probe waits for on SeaBIOS's debug port. */
#define ACCEL_PROBE_MILESTONE "No bootable device"
/* A VM started under KVM that fails within this time is started again under
 * TCG (see vm_start()). */
#define ACCEL_KVM_WATCH_MS 3000

struct accel_choice {
        bool kvm;
        bool forced;            /* by $PXELAB_ACCEL */
        bool fallback;          /* a VM died under KVM and was restarted under TCG */
        char reason[256];       /* why, for one line: "QEMU aborted after 0.13 s under ..." */
};

/* The QEMU binary VMs run, as an absolute path (newly allocated):
 * $PXELAB_QEMU, else qemu-system-x86_64 from $PATH, else /usr/bin's. */
char *qemu_binary(void);

/* $PXELAB_ACCEL: 0 when unset or empty, 1 when it forces a choice (filled
 * into *RET, may be NULL), -EINVAL for any other value (logged:
 * "PXELAB_ACCEL: 'x' is neither kvm nor tcg"). */
int accel_from_env(struct accel_choice *ret);

/* The accelerator for a VM run by QEMU (qemu_binary()): forced, cached or
 * probed (then cached). Only -EINVAL (a bad $PXELAB_ACCEL, logged) fails;
 * anything else that goes wrong means TCG with the reason. */
int accel_choose(const char *qemu, struct accel_choice *ret);

/* Records in the cache that KVM did not work for QEMU after all (a VM died
 * under it), so later VMs of this boot don't try again. */
void accel_record_tcg(const char *qemu, const char *reason);

/* The one line `vm start` prints about it, without a newline. */
void accel_describe(const struct accel_choice *c, char *buf, size_t size);

/* ---- the parts, for tests ------------------------------------------------ */

/* What a cached verdict is valid for. */
struct accel_key {
        char boot_id[64];
        char qemu[4096];
        uint64_t dev, ino, size;
        int64_t mtime_nsec;
        char cpu[32];
};

/* The key for QEMU now: this boot, the binary's identity. -errno when the
 * boot id or the binary can't be read (then nothing is cached). */
int accel_key_make(const char *qemu, struct accel_key *ret);

/* Reads the verdict cached at PATH for KEY: 1 found (*RET filled), 0 none
 * (missing, unreadable, another key, not a regular file of ours that only
 * we can write, or a symlink). Never logs. */
int accel_cache_load(const char *path, const struct accel_key *key, struct accel_choice *ret);
/* Writes it atomically (0600; a temp file made O_EXCL|O_NOFOLLOW, then
 * renamed over PATH). -errno on failure, not logged. */
int accel_cache_store(const char *path, const struct accel_key *key, const struct accel_choice *c);

/* accel_choose() with its cache at CACHE (NULL: no cache). */
int accel_choose_at(const char *qemu, const char *cache, struct accel_choice *ret);

/* Runs QEMU as a VM would under KVM, to the milestone, killed after
 * DEADLINE_MS at the latest (with its whole process group). Fills *RET with
 * the verdict and why. -errno (logged) only when the probe itself could not
 * run (no temp dir, no fork); the QEMU failing is a verdict. */
int accel_probe(const char *qemu, unsigned deadline_ms, struct accel_choice *ret);
