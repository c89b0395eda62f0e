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
