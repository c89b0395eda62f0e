#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "basic/log.h"
#include "host/symguard.h"
#include "basic/util.h"

/* statfs() f_flags bit of a nosymfollow mount (linux/statfs.h, 5.10). */
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

static bool is_nosymfollow(const char *dir) {
        struct statfs sf;
        return statfs(dir, &sf) == 0 && (sf.f_flags & ST_NOSYMFOLLOW);
}

int symguard_mount(const char *dir) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSYMFOLLOW | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                               MOUNT_ATTR_NOEXEC };
        _cleanup_close_ int fd = -1;

        if (is_nosymfollow(dir))
                return 0;
        /* A detached copy of DIR, its attributes set before it is attached:
         * there is never a mount without them to leave behind. */
        fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to clone the mount of '%s'", dir);
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return log_error_errno(errno, "Failed to make '%s' nosymfollow", dir);
        if (move_mount(fd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return log_error_errno(errno, "Failed to mount '%s' onto itself", dir);
        return 0;
}

int symguard_tmpfs(const char *dir, const char *size) {
        _cleanup_close_ int fs = -1, mnt = -1;

        if (is_nosymfollow(dir))
                return 0;
        fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0)
                return log_error_errno(errno, "Failed to mount a tmpfs on '%s'", dir);
        if (fsconfig(fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return log_error_errno(errno, "Failed to make a tmpfs of %s for '%s'", size, dir);
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSYMFOLLOW | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                           MOUNT_ATTR_NOEXEC);
        if (mnt < 0)
                return log_error_errno(errno, "Failed to mount a tmpfs on '%s'", dir);
        if (move_mount(mnt, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return log_error_errno(errno, "Failed to mount a tmpfs on '%s'", dir);
        return 0;
}

int symguard_umount(const char *dir) {
        /* Only our own mount: DIR must be a nosymfollow mount point. */
        if (!is_nosymfollow(dir))
                return 0;
        if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                return log_error_errno(errno, "Failed to unmount '%s'", dir);
        return 0;
}
