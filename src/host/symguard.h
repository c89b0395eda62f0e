/* A directory in which no symlink is followed: the lab's TFTP root.
 * dnsmasq runs as root, follows symlinks and serves any world-readable file,
 * so one symlink planted in its root would serve files from anywhere. A bind
 * mount of the directory onto itself with the nosymfollow attribute makes
 * every open through a symlink in it fail (ELOOP); `..` dnsmasq refuses
 * itself. The mount is in this host's mount namespace: `down` removes it. */
#pragma once

/* Mounts DIR onto itself, nosymfollow, atomically (the mount appears with
 * the attribute already set). A DIR that is already nosymfollow: 0. */
int symguard_mount(const char *dir);
/* Removes that mount (lazily: a service still inside lets go later).
 * Not mounted, or DIR gone: 0. */
int symguard_umount(const char *dir);

/* Mounts a new tmpfs of at most SIZE ("64m") on DIR, with the same
 * attributes (nosymfollow, nosuid, nodev, noexec) set before it is attached,
 * so symguard_umount() takes it away again. What the lab network can make a
 * service write there (a VM's serial console) stops at SIZE: /run is RAM.
 * A DIR that is already such a mount: 0. */
int symguard_tmpfs(const char *dir, const char *size);
