#include <errno.h>
#include <fcntl.h>

#include "basic/log.h"
#include "host/sysctl.h"
#include "basic/util.h"

static char *sysctl_path(const char *key) {
        _cleanup_free_ char *k = xstrdup(key);

        if (!strchr(k, '/'))
                for (char *p = k; *p; p++)
                        if (*p == '.')
                                *p = '/';
        return path_join("/proc/sys", k);
}

static bool key_valid(const char *key) {
        return !strempty(key) && !strstr(key, "..") && key[0] != '/' && key[0] != '.';
}

static int read_path(const char *path, char **ret) {
        char *v = NULL;
        size_t len;
        int r = read_file(path, &v, &len);

        if (r < 0)
                return r;
        while (len > 0 && v[len - 1] == '\n')
                v[--len] = 0;
        *ret = v;
        return 0;
}

/* /proc/sys files take one write(2) of the whole value; not the atomic
 * temp-file-and-rename dance, which procfs does not support. */
static int write_path(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = strlen(value);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, value, len);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EIO;
}

static int do_read(const char *key, const char *path, char **ret) {
        int r = read_path(path, ret);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return log_error_errno(r, "Failed to read sysctl '%s'", key);
        return 0;
}

static int do_write(const char *key, const char *path, const char *value) {
        _cleanup_free_ char *cur = NULL;
        int r;

        if (read_path(path, &cur) >= 0 && streq(cur, value))
                return 0;
        r = write_path(path, value);
        if (r < 0)
                return log_error_errno(r, "Failed to set sysctl '%s' to '%s'", key, value);
        return 0;
}

int sysctl_read(const char *key, char **ret) {
        _cleanup_free_ char *path = NULL;

        if (!key_valid(key))
                return log_error_errno(-EINVAL, "Invalid sysctl name '%s'", key ? key : "");
        path = sysctl_path(key);
        return do_read(key, path, ret);
}

int sysctl_write(const char *key, const char *value) {
        _cleanup_free_ char *path = NULL;

        if (!key_valid(key) || !value)
                return log_error_errno(-EINVAL, "Invalid sysctl name '%s'", key ? key : "");
        path = sysctl_path(key);
        return do_write(key, path, value);
}

static bool link_args_valid(const char *proto, const char *ifname, const char *attr) {
        return !strempty(proto) && !strchr(proto, '/') && !strchr(proto, '.') &&
               !strempty(ifname) && !strchr(ifname, '/') && !streq(ifname, ".") && !streq(ifname, "..") &&
               !strempty(attr) && !strchr(attr, '/') && !strchr(attr, '.');
}

int sysctl_read_link(const char *proto, const char *ifname, const char *attr, char **ret) {
        _cleanup_free_ char *key = NULL, *path = NULL;

        if (!link_args_valid(proto, ifname, attr))
                return log_error_errno(-EINVAL, "Invalid sysctl for interface '%s'", ifname ? ifname : "");
        key = xasprintf("net.%s.conf.%s.%s", proto, ifname, attr);
        path = xasprintf("/proc/sys/net/%s/conf/%s/%s", proto, ifname, attr);
        return do_read(key, path, ret);
}

int sysctl_write_link(const char *proto, const char *ifname, const char *attr, const char *value) {
        _cleanup_free_ char *key = NULL, *path = NULL;

        if (!link_args_valid(proto, ifname, attr) || !value)
                return log_error_errno(-EINVAL, "Invalid sysctl for interface '%s'", ifname ? ifname : "");
        key = xasprintf("net.%s.conf.%s.%s", proto, ifname, attr);
        path = xasprintf("/proc/sys/net/%s/conf/%s/%s", proto, ifname, attr);
        return do_write(key, path, value);
}
