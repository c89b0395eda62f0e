/* The loaders x86-64 UEFI PXE clients can be handed (`uefi_loader`), and
 * where the files of the signed chain are: Microsoft-signed shim →
 * Debian-signed network GRUB → a signed kernel. */
#pragma once

/* "ipxe", "shim", NULL-terminated (the profile's value check). */
extern const char *const uefi_loader_names[];

/* Where shim is looked for when the profile names none, in this order:
 * Debian's own path (only there when shim-signed is installed, which
 * pxelab never does: its maintainer scripts run grub-install on a UEFI
 * host), then the directory scripts/get-shim fills. */
#define SECBOOT_SHIM_DEBIAN "/usr/lib/shim/shimx64.efi.signed"
#define SECBOOT_SHIM_OWN "/usr/local/lib/pxelab/shim/shimx64.efi.signed"
#define SECBOOT_SHIM_SEARCH_TEXT SECBOOT_SHIM_DEBIAN " or " SECBOOT_SHIM_OWN
/* Debian's network GRUB (grub-efi-amd64-signed): prefix /grub on the TFTP
 * server, so it reads /grub/grub.cfg; TFTP only (no http module). */
#define SECBOOT_GRUB "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"

/* The first of the shim search paths that exists, else SECBOOT_SHIM_OWN
 * (so that a message can name it). Newly allocated. */
char *secboot_default_shim(void);
