/* Secure Boot clients: which UEFI PXE clients get Debian's signed chain
 * (Microsoft-signed shim → Debian-signed network GRUB → a signed kernel)
 * instead of iPXE, and which entries that GRUB can boot.
 *
 * `uefi_loader = "ipxe" | "shim"` is set for the lab (the profile's top
 * level) and per host; a host without one gets the lab's. The loader names
 * and the chain's paths: basic/uefiloader.h. */
#pragma once
#include <stdbool.h>

#include "basic/uefiloader.h"
#include "profile/types.h"

/* Whether any client of P (the lab, or a host) gets shim. */
bool profile_uses_shim(const struct profile *p);

/* Whether GRUB under Secure Boot boots entry E: `linux` entries only (a
 * signed kernel, loaded over TFTP). Otherwise secboot_entry_why() says why
 * it is left out of GRUB's menu. */
bool secboot_entry_boots(const struct boot_entry *e);
const char *secboot_entry_why(const struct boot_entry *e);
