/* The rules for values that a profile and the command line both take: one
 * home, so `vm start --mac X` accepts exactly what `mac = "X"` does. Each
 * rule only says yes or no (or which no); the caller words the message,
 * quoting the user's value, in its own format (profile: "FILE:LINE:
 * FIELD: ...", command line: one line). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Boot entries, hosts and VMs: [a-z0-9][a-z0-9_-]*, 1..RULE_NAME_MAX. */
#define RULE_NAME_MAX 32
#define RULE_NAME_RULE "[a-z0-9][a-z0-9_-]*, at most 32 characters"
bool rule_name_valid(const char *s);

/* A MAC address: six hex pairs (any case), all separated by ':' or all by
 * '-'. A NIC's (and a host's) address must be unicast and not zero. */
enum mac_verdict {
        MAC_OK,
        MAC_MALFORMED,
        MAC_MULTICAST,          /* the group bit is set */
        MAC_ZERO,               /* 00:00:00:00:00:00 */
};
/* *RET is the normalised form "52:54:00:ab:cd:ef" (lower case, ':'),
 * written only for MAC_OK. */
enum mac_verdict rule_mac_parse(const char *s, char ret[static 18]);

/* Firmware of a VM. */
enum firmware {
        FIRMWARE_BIOS,          /* SeaBIOS + QEMU's iPXE option ROM */
        FIRMWARE_UEFI,          /* OVMF + QEMU's iPXE EFI ROM */
        FIRMWARE_UEFI_PXE,      /* OVMF's own PXE, then snponly.efi over TFTP */
        FIRMWARE_UEFI_SECURE,   /* OVMF with Secure Boot enforced (MS keys, SMM), its own PXE */
        _FIRMWARE_MAX,
};
#define FIRMWARE_CHOICES "bios, uefi, uefi-pxe or uefi-secure"
const char *firmware_to_string(enum firmware f);
int firmware_from_string(const char *s);        /* -EINVAL when unknown */
static inline bool firmware_is_uefi(enum firmware f) {
        return f == FIRMWARE_UEFI || f == FIRMWARE_UEFI_PXE || f == FIRMWARE_UEFI_SECURE;
}

/* A VM's memory in MiB. */
#define VM_MEMORY_DEFAULT 512
#define VM_MEMORY_MIN 128
#define VM_MEMORY_MAX 65536
static inline bool rule_memory_valid(long mib) {
        return mib >= VM_MEMORY_MIN && mib <= VM_MEMORY_MAX;
}

/* A VM's `disk`: a size of a new image ("20G": 1-6 digits, then M, G or T),
 * or else a path to an image. A size of all zeros is an empty disk. */
enum disk_form {
        DISK_PATH,              /* not a size: an image path */
        DISK_SIZE,
        DISK_EMPTY,             /* "0G", "000M" */
};
enum disk_form rule_disk_form(const char *s);
static inline bool rule_disk_is_size(const char *s) {
        return rule_disk_form(s) == DISK_SIZE;
}

/* The IPv4 netmask of a prefix length 0..32, in host byte order. */
static inline uint32_t rule_netmask(unsigned prefix) {
        return prefix ? UINT32_MAX << (32 - prefix) : 0;
}

/* A lab's own address, "A.B.C.D/N" (bridge.address, render --address): the
 * address in host byte order and N, which must be 8..30 (a lab needs room for
 * clients, and more than a /8 is no lab). *RET_ADDR and *RET_PREFIX are
 * written for ADDRESS_OK, and *RET_PREFIX for ADDRESS_PREFIX too. */
#define RULE_PREFIX_MIN 8
#define RULE_PREFIX_MAX 30
enum address_verdict {
        ADDRESS_OK,
        ADDRESS_MALFORMED,
        ADDRESS_PREFIX,         /* a prefix length outside 8..30 */
};
enum address_verdict rule_lab_address_parse(const char *s, uint32_t *ret_addr, unsigned *ret_prefix);

/* An interface name as a profile may give it (and a record may hold one):
 * 1-15 characters from A-Z a-z 0-9 _ . -, not "." or "..". */
bool rule_ifname_valid(const char *s);
