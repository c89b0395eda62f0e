#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <strings.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/util.h"

void strv_free(char **v) {
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        return s;
}

char *xstrdup(const char *s) {
        char *r;
        if (!s)
                return NULL;
        r = strdup(s);
        if (!r)
                abort();
        return r;
}

void *xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                abort();
        return p;
}

void *xrealloc(void *p, size_t size) {
        p = realloc(p, size ? size : 1);
        if (!p)
                abort();
        return p;
}

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        return xasprintf("%.*s/%s", (int) la, a, b);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* openat2(2) has no glibc wrapper in Debian 12. */
static int openat2_nosym(int dfd, const char *path, int flags) {
        struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
        return syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

int open_dir_nofollow(const char *path) {
        int fd = openat2_nosym(AT_FDCWD, path, O_RDONLY | O_DIRECTORY);
        return fd < 0 ? -errno : fd;
}

/* The directory holding PATH, opened without following a symlink anywhere
 * in PATH; *ret_base points into PATH at the last component. */
static int open_parent(const char *path, const char **ret_base) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = NULL;

        if (!slash) {
                *ret_base = path;
                return open_dir_nofollow(".");
        }
        *ret_base = slash + 1;
        if (!slash[1])
                return -EISDIR;
        dir = slash == path ? xstrdup("/") : strndup(path, slash - path);
        if (!dir)
                abort();
        return open_dir_nofollow(dir);
}

/* Removes NAME below DFD: a symlink is removed as a link, a directory is
 * entered by fd (O_NOFOLLOW), so nothing outside the tree is ever touched. */
static int rm_at(int dfd, const char *name, int depth) {
        struct stat st;
        DIR *d;
        int fd, r = 0;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        if (depth > 64)
                return -ELOOP;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (struct dirent *de; r == 0 && (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        r = rm_at(dirfd(d), de->d_name, depth + 1);
        closedir(d);
        if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

int rm_rf(const char *path) {
        _cleanup_close_ int pfd = -1;
        const char *base;

        pfd = open_parent(path, &base);
        if (pfd == -ENOENT)
                return 0;
        if (pfd < 0)
                return pfd;
        return rm_at(pfd, base, 0);
}

/* The entry of DIR named NAME, ignoring case; an exact match wins. */
static char *dir_entry_ci(const char *dir, const char *name) {
        _cleanup_free_ char *exact = path_join(dir, name);
        char *found = NULL;
        struct dirent *de;
        DIR *d;
        if (access(exact, F_OK) == 0)
                return TAKE_PTR(exact);
        d = opendir(dir);
        if (!d)
                return NULL;
        while (!found && (de = readdir(d)))
                if (strcasecmp(de->d_name, name) == 0)
                        found = path_join(dir, de->d_name);
        closedir(d);
        return found;
}

int path_lookup_ci(const char *dir, const char *relpath, char **ret) {
        char *cur = xstrdup(dir);
        const char *s = relpath;
        while (*s) {
                size_t l = strcspn(s, "/");
                if (l > 0) {
                        _cleanup_free_ char *name = strndup(s, l);
                        char *next;
                        if (!name)
                                abort();
                        next = dir_entry_ci(cur, name);
                        free(cur);
                        if (!next)
                                return -ENOENT;
                        cur = next;
                }
                s += l;
                s += strspn(s, "/");
        }
        *ret = cur;
        return 0;
}

/* Reads FD to its end into a NUL-terminated buffer; -EFBIG once it holds
 * more than MAX bytes (never reading more than MAX + 1). */
static int read_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                size_t want;
                ssize_t n;
                if (cap - len < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        buf = xrealloc(buf, cap);
                }
                want = cap - len - 1;
                if (max != (size_t) -1 && want > max + 1 - len)
                        want = max + 1 - len;
                n = read(fd, buf + len, want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        free(buf);
                        return r;
                }
                if (n == 0)
                        break;
                len += n;
                if (len > max) {
                        free(buf);
                        return -EFBIG;
                }
        }
        buf[len] = 0;
        *ret = buf;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return read_fd(fd, (size_t) -1, ret, ret_len);
}

int read_regular_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        /* Refused before opening: opening a device can have effects of its
         * own, and a FIFO blocks open() until a writer comes. */
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        /* O_NONBLOCK: if it became a FIFO since, open() still returns at once */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((unsigned long long) st.st_size > max)
                return -EFBIG;
        /* a file that grows while we read is cut off at MAX + 1 bytes */
        return read_fd(fd, max, ret, ret_len);
}

const char *read_regular_file_error(int r, size_t max, char *buf, size_t n) {
        if (r == -EINVAL)
                return "not a regular file";
        if (r == -EFBIG) {
                if (max % (1024 * 1024) == 0)
                        snprintf(buf, n, "larger than %zu MiB", max / (1024 * 1024));
                else
                        snprintf(buf, n, "larger than %zu bytes", max);
                return buf;
        }
        return strerror(-r);
}

static int write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                len -= n;
        }
        return 0;
}

/* "NAME.tmp.<16 random hex digits>": nobody can plant a file there in advance. */
static char *temp_name(const char *base) {
        uint64_t rnd;
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                rnd = now_usec() ^ ((uint64_t) getpid() << 32);
        return xasprintf("%s.tmp.%016llx", base, (unsigned long long) rnd);
}

/* Writes DATA into a new temp file beside BASE in PFD, then renames it over
 * BASE (a symlink there is replaced, never followed). */
static int write_at_atomic(int pfd, const char *base, const char *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = temp_name(base);
        int fd, r;

        fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(pfd, tmp, pfd, base) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(pfd, tmp, 0);
        return r;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
        _cleanup_close_ int pfd = -1;
        const char *base;

        pfd = open_parent(path, &base);
        if (pfd < 0)
                return pfd;
        return write_at_atomic(pfd, base, data, len, mode);
}

/* True when BASE in PFD is a regular file (not a symlink) holding exactly
 * DATA; its mode is then set to MODE through the open file. */
static bool same_content_at(int pfd, const char *base, const char *data, size_t len, mode_t mode) {
        _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        char buf[65536];
        size_t off = 0;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t) st.st_size != len)
                return false;
        while (off < len) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || (size_t) n > len - off || memcmp(buf, data + off, n) != 0)
                        return false;
                off += n;
        }
        return fchmod(fd, mode) == 0;
}

int write_file_if_changed(const char *path, const char *data, size_t len, mode_t mode) {
        _cleanup_close_ int pfd = -1;
        const char *base;
        int r;

        pfd = open_parent(path, &base);
        if (pfd < 0)
                return pfd;
        if (same_content_at(pfd, base, data, len, mode))
                return 0;
        r = write_at_atomic(pfd, base, data, len, mode);
        return r < 0 ? r : 1;
}

int copy_file(const char *src, const char *dst, mode_t mode) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file(src, &buf, &len);
        if (r < 0)
                return r;
        return write_file_atomic(dst, buf, len, mode);
}

bool files_equal(const char *a, const char *b) {
        _cleanup_free_ char *x = NULL, *y = NULL;
        size_t lx, ly;
        if (read_file(a, &x, &lx) < 0 || read_file(b, &y, &ly) < 0)
                return false;
        return lx == ly && memcmp(x, y, lx) == 0;
}

int run_program(char *const argv[], char **out) {
        int pipefd[2] = { -1, -1 }, status;
        pid_t pid;
        if (out && pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                if (out) {
                        close(pipefd[0]);
                        close(pipefd[1]);
                }
                return r;
        }
        if (pid == 0) {
                if (out)
                        dup2(pipefd[1], STDOUT_FILENO);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (out) {
                char *buf = NULL;
                size_t len = 0, cap = 0;
                close(pipefd[1]);
                for (;;) {
                        if (cap - len < 1024) {
                                cap = cap ? cap * 2 : 4096;
                                buf = xrealloc(buf, cap);
                        }
                        ssize_t n = read(pipefd[0], buf + len, cap - len - 1);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        len += n;
                }
                close(pipefd[0]);
                if (!buf)
                        buf = xcalloc(1, 1);
                buf[len] = 0;
                *out = buf;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

unsigned long long now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}
