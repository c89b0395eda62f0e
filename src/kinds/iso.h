/* Boot kind `iso`: an ISO image over HTTP. BIOS clients load it whole into
 * RAM under syslinux's memdisk (which emulates a CD drive from it); clients
 * of any firmware can instead "sanboot" it, iPXE reading the image by HTTP
 * range requests as an emulated SAN disk (templates/entry-iso.ipxe.mustache).
 * No mount: the image is served as it is. */
#pragma once
#include "profile/profile.h"

/* Where Debian's syslinux-common puts memdisk. */
#define ISO_MEMDISK_DEFAULT "/usr/lib/syslinux/memdisk"

enum iso_method {
        ISO_AUTO,       /* memdisk on BIOS, sanboot on UEFI */
        ISO_MEMDISK,    /* memdisk only (UEFI clients are told so) */
        ISO_SANBOOT,    /* sanboot everywhere */
};

/* An entry's values (its kind_data). */
struct iso_entry {
        char *iso, *iso_name;
        enum iso_method method;
        char *memdisk;          /* $PXELAB_MEMDISK or ISO_MEMDISK_DEFAULT; NULL for sanboot */
};

/* B's values; NULL when B is not an iso entry. */
const struct iso_entry *iso_of(const struct boot_entry *b);
