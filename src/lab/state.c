#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/log.h"
#include "lab/state.h"
#include "basic/util.h"

char *lab_run_dir(const char *lab) {
        return path_join(PXELAB_RUN_ROOT, lab);
}

char *lab_state_dir(const char *lab) {
        return path_join(PXELAB_STATE_ROOT, lab);
}

static bool valid_lab_name(const char *lab) {
        if (strempty(lab))
                return false;
        for (const char *c = lab; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
                        return false;
        return true;
}

int state_remove_leftover(const char *lab) {
        _cleanup_free_ char *dir = NULL;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!valid_lab_name(lab))
                return 0;
        dir = lab_run_dir(lab);
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : log_error_errno(errno, "Failed to open '%s'", dir);
        /* Only what a first state_save() leaves when killed: its temp file. */
        while (r == 0 && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    strncmp(de->d_name, "state.json.tmp.", 15) != 0)
                        r = -ENOTEMPTY;
        if (r == 0) {
                rewinddir(d);
                while ((de = readdir(d)))
                        if (strncmp(de->d_name, "state.json.tmp.", 15) == 0)
                                (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
        if (r < 0) {
                log_error("'%s' holds files but no lab record; remove it by hand if no lab uses it", dir);
                return r;
        }
        if (rmdir(dir) < 0)
                return log_error_errno(errno, "Failed to remove '%s'", dir);
        return 1;
}

int state_list_labs(char ***ret) {
        DIR *d = opendir(PXELAB_RUN_ROOT);
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        struct dirent *de;

        if (!d) {
                *ret = v;
                return errno == ENOENT ? 0 : -errno;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                if (de->d_name[0] == '.')
                        continue;
                p = xasprintf("%s/%s/state.json", PXELAB_RUN_ROOT, de->d_name);
                if (access(p, F_OK) < 0)
                        continue;
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = xstrdup(de->d_name);
                v[n] = NULL;
        }
        closedir(d);
        qsort(v, n, sizeof(char *), strcmp_ptr);
        *ret = v;
        return 0;
}

/* Waiting longer than this is worth saying so, once. */
#define LOCK_NOTICE_USEC (1000 * 1000ULL)

/* The holder's PID as it wrote it into the lock file; 0 when unknown. */
static long lock_holder(int fd) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        return strtol(buf, NULL, 10);
}

/* $PXELAB_LOCK_TIMEOUT (seconds) when set, else STATE_LOCK_WAIT_MS: the
 * one place the lock's timeout is decided. */
static unsigned long long lock_wait_usec(void) {
        const unsigned default_ms = STATE_LOCK_WAIT_MS;
        const char *e = getenv("PXELAB_LOCK_TIMEOUT");
        char *end;
        unsigned long s;

        if (strempty(e))
                return default_ms * 1000ULL;
        errno = 0;
        s = strtoul(e, &end, 10);
        if (errno || *end || s > 24 * 3600) {
                log_warn("Ignoring PXELAB_LOCK_TIMEOUT='%s' (not a number of seconds up to 86400)", e);
                return default_ms * 1000ULL;
        }
        return s * 1000000ULL;
}

int state_lock(void) {
        _cleanup_free_ char *p = path_join(PXELAB_RUN_ROOT, ".lock");
        unsigned long long start = now_usec(), wait = lock_wait_usec();
        bool told = false;
        int fd, r;

        r = mkdir_p(PXELAB_RUN_ROOT, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", PXELAB_RUN_ROOT);
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open lock '%s'", p);
        /* flock() cannot time out: poll it. 10 ms is well below what any
         * pxelab command takes, and costs nothing while waiting. */
        for (;;) {
                unsigned long long waited;
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        /* who holds it, for those who wait (see above) */
                        char pid[32];
                        int n = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
                        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, n, 0) != n)
                                log_debug("Failed to write the PID into '%s'", p);
                        return fd;
                }
                if (errno != EWOULDBLOCK) {
                        r = log_error_errno(errno, "Failed to lock '%s'", p);
                        break;
                }
                waited = now_usec() - start;
                if (waited >= wait) {
                        long holder = lock_holder(fd);
                        if (holder > 0)
                                log_error("Another pxelab (PID %ld) is still running after %llu s (lock '%s' is held); "
                                          "try again when it has finished", holder, wait / 1000000, p);
                        else
                                log_error("Another pxelab is still running after %llu s (lock '%s' is held); "
                                          "try again when it has finished", wait / 1000000, p);
                        r = -EBUSY;
                        break;
                }
                if (!told && waited >= LOCK_NOTICE_USEC) {
                        long holder = lock_holder(fd);
                        if (holder > 0)
                                log_notice("Waiting for another pxelab (PID %ld) to finish…", holder);
                        else
                                log_notice("Waiting for another pxelab to finish…");
                        told = true;
                }
                nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        close(fd);
        return r;
}

void state_unlock(int fd) {
        if (fd >= 0)
                close(fd);
}
