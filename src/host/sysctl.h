/* Kernel tunables under /proc/sys (net.ipv4.ip_forward and friends).
 *
 * Net sysctls are per network namespace: /proc/sys/net shows the namespace
 * of the process that opens the file, so these act on the caller's current
 * namespace. */
#pragma once

/* KEY is "net.ipv4.ip_forward" (dots become slashes) or a path relative to
 * /proc/sys ("net/ipv4/ip_forward"); a KEY that contains a '/' is taken as a
 * path verbatim, which is what names with dots (eth0.100) need — or use the
 * _link variants. */

/* Reads the value without the trailing newline into *RET (newly allocated).
 * Quiet: -ENOENT when the key does not exist; other errors are logged. */
int sysctl_read(const char *key, char **ret);

/* Writes VALUE. Skips the write when the value is already VALUE, so a
 * read-only /proc/sys (containers) only fails when a change is needed.
 * Errors are logged: "Failed to set sysctl 'net.ipv4.ip_forward' to '1': …" */
int sysctl_write(const char *key, const char *value);

/* net.PROTO.conf.IFNAME.ATTR, e.g. ("ipv6", "pxe0", "disable_ipv6");
 * IFNAME is used verbatim even if it contains dots. */
int sysctl_read_link(const char *proto, const char *ifname, const char *attr, char **ret);
int sysctl_write_link(const char *proto, const char *ifname, const char *attr, const char *value);
