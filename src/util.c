#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

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

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
                return -errno;
        return 0;
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

int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *buf = NULL;
        size_t len = 0, cap = 0;
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;
                if (cap - len < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        buf = xrealloc(buf, cap);
                }
                n = read(fd, buf + len, cap - len - 1);
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
        }
        if (!buf)
                buf = xcalloc(1, 1);
        buf[len] = 0;
        *ret = buf;
        if (ret_len)
                *ret_len = len;
        return 0;
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

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int) getpid());
        int fd, r;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

int write_file_if_changed(const char *path, const char *data, size_t len, mode_t mode) {
        _cleanup_free_ char *old = NULL;
        size_t oldlen;
        int r;

        if (read_file(path, &old, &oldlen) == 0 && oldlen == len && memcmp(old, data, len) == 0)
                return chmod(path, mode) < 0 ? -errno : 0;
        r = write_file_atomic(path, data, len, mode);
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
