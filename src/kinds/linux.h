/* Boot kind `linux`: a kernel, its initrds and a command line, fetched by
 * iPXE over HTTP (templates/entry-linux.ipxe.mustache). */
#pragma once
#include <stddef.h>

#include "profile/profile.h"

/* An entry's values (its kind_data). Files are served under *_name, their
 * base name as written, whatever a symlink points to. */
struct linux_entry {
        char *kernel, *kernel_name;
        char **initrd, **initrd_name;   /* n_initrd of them */
        size_t n_initrd;
        char *cmdline;
};

/* B's values; NULL when B is not a linux entry. */
const struct linux_entry *linux_of(const struct boot_entry *b);

/* For a lab with shim clients (profile/secboot.h), warns in one line per
 * linux entry whose kernel has no Authenticode signature (an empty PE
 * certificate table, host/pe-sign.h) or is no PE image at all: under
 * Secure Boot shim and GRUB refuse such a kernel. `check` and `up` call
 * it. Returns how many were warned about. */
unsigned linux_warn_unsigned(const struct profile *p);
