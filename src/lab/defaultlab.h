/* The built-in default lab of `pxelab up` with no profile: lab "pxelab" on a
 * free /24, with a Linux rescue shell made from this host's kernel and a
 * busybox initramfs built on first use and cached in /var/lib/pxelab/payload. */
#pragma once

#define DEFAULT_LAB "pxelab"

/* Writes (or reuses, while the lab is up) the default profile and returns
 * its path. */
int default_lab_profile(char **ret_path);

/* Builds the rescue payload into DIR (vmlinuz, rescue.cpio), reusing what is
 * there when the inputs did not change. */
int default_lab_payload(const char *dir);
