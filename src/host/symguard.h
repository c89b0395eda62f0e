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
