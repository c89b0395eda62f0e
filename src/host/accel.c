/* Which accelerator a VM gets, and why. See accel.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "host/accel.h"
#include "basic/log.h"
#include "basic/util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define CACHE_MAX_SIZE 65536
#define PROBE_POLL_USEC 10000ULL
/* How much of QEMU's first error line goes into the reason. */
#define ERROR_LINE_MAX 120

char *qemu_binary(void) {
        const char *env = getenv("PXELAB_QEMU"), *path = getenv("PATH");
        _cleanup_free_ char *dirs = xstrdup(path ? path : "/usr/bin:/bin");
        char *save = NULL;

        if (!strempty(env))
                return xstrdup(env);
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = path_join(d, "qemu-system-x86_64");
                if (d[0] == '/' && access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return xstrdup("/usr/bin/qemu-system-x86_64");
}

static void set_reason(struct accel_choice *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(struct accel_choice *c, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
}

int accel_from_env(struct accel_choice *ret) {
        const char *v = getenv("PXELAB_ACCEL");

        if (strempty(v))
                return 0;
        if (!streq(v, "kvm") && !streq(v, "tcg")) {
                log_error("PXELAB_ACCEL: '%s' is neither kvm nor tcg", v);
                return -EINVAL;
        }
        if (ret) {
                *ret = (struct accel_choice) { .kvm = streq(v, "kvm"), .forced = true };
                set_reason(ret, "PXELAB_ACCEL=%s", v);
        }
        return 1;
}

/* Without a KVM device that we may open there is nothing to probe. */
static bool kvm_device_usable(struct accel_choice *ret) {
        const char *dev = getenv("PXELAB_KVM_DEVICE");

        if (strempty(dev))
                dev = ACCEL_KVM_DEVICE;
        if (access(dev, R_OK | W_OK) == 0)
                return true;
        *ret = (struct accel_choice) { .kvm = false };
        set_reason(ret, "cannot open %s: %s", dev, strerror(errno));
        return false;
}

/* ---- the cache ----------------------------------------------------------- */

int accel_key_make(const char *qemu, struct accel_key *ret) {
        _cleanup_free_ char *boot_id = NULL;
        struct stat st;
        int r;

        if (strlen(qemu) >= sizeof(ret->qemu))
                return -ENAMETOOLONG;
        r = read_file(BOOT_ID_PATH, &boot_id, NULL);
        if (r < 0)
                return r;
        boot_id[strcspn(boot_id, "\n")] = 0;
        if (strempty(boot_id) || strlen(boot_id) >= sizeof(ret->boot_id))
                return -EBADMSG;
        if (stat(qemu, &st) < 0)
                return -errno;
        *ret = (struct accel_key) {
                .dev = st.st_dev,
                .ino = st.st_ino,
                .size = st.st_size,
                .mtime_nsec = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
        };
        snprintf(ret->boot_id, sizeof(ret->boot_id), "%s", boot_id);
        snprintf(ret->qemu, sizeof(ret->qemu), "%s", qemu);
        snprintf(ret->cpu, sizeof(ret->cpu), "%s", ACCEL_KVM_CPU);
        return 0;
}

static json_t *key_json(const struct accel_key *k) {
        return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "boot_id", k->boot_id, "qemu", k->qemu, "dev",
                         (json_int_t) k->dev, "ino", (json_int_t) k->ino, "size", (json_int_t) k->size, "mtime_nsec",
                         (json_int_t) k->mtime_nsec, "cpu", k->cpu);
}

/* Only a regular file of ours that nobody else may write is believed: the
 * verdict decides what QEMU is started with. */
static int open_cache(const char *path) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
            st.st_size > CACHE_MAX_SIZE) {
                close(fd);
                return -EPERM;
        }
        return fd;
}

int accel_cache_load(const char *path, const struct accel_key *key, struct accel_choice *ret) {
        _cleanup_close_ int fd = open_cache(path);
        json_t *root, *want, *v;
        const char *accel, *reason, *field;
        bool match = true;

        if (fd < 0)
                return 0;
        root = json_loadfd(fd, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(root)) {
                json_decref(root);
                return 0;
        }
        want = key_json(key);
        json_object_foreach(want, field, v)
                match = match && json_equal(v, json_object_get(root, field));
        json_decref(want);
        accel = json_string_value(json_object_get(root, "accel"));
        reason = json_string_value(json_object_get(root, "reason"));
        if (match && (streq(accel, "kvm") || streq(accel, "tcg")) && reason) {
                *ret = (struct accel_choice) { .kvm = streq(accel, "kvm") };
                set_reason(ret, "%s", reason);
        } else
                match = false;
        json_decref(root);
        return match;
}

int accel_cache_store(const char *path, const struct accel_key *key, const struct accel_choice *c) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int) getpid());
        json_t *root = key_json(key);
        int fd, r = 0;

        json_object_set_new(root, "accel", json_string(c->kvm ? "kvm" : "tcg"));
        json_object_set_new(root, "reason", json_string(c->reason));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
                /* Left by a crashed process that had our PID: ours to remove. */
                (void) unlink(tmp);
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (fd < 0) {
                json_decref(root);
                return -errno;
        }
        if (json_dumpfd(root, fd, JSON_COMPACT) < 0 || write(fd, "\n", 1) != 1)
                r = -EIO;
        json_decref(root);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

/* ---- the probe ------------------------------------------------------------ */

/* QEMU as a VM under KVM gets it, minus everything a VM has besides: no
 * network, no disk, no display, tiny memory; SeaBIOS's debug port into a file. */
static pid_t spawn_probe(const char *qemu, const char *debugcon, const char *errfile) {
        _cleanup_free_ char *chardev = xasprintf("file,id=dbg,path=%s", debugcon);
        char *argv[] = {
                (char *) qemu, "-accel", "kvm", "-cpu", ACCEL_KVM_CPU, "-machine", "pc", "-smp", "1", "-m", "32",
                "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
                "-chardev", chardev, "-device", "isa-debugcon,iobase=0x402,chardev=dbg", NULL,
        };
        pid_t parent = getpid(), pid = fork();

        if (pid != 0) {
                /* Also here, so the group exists whichever runs first. */
                if (pid > 0)
                        (void) setpgid(pid, pid);
                return pid < 0 ? -errno : pid;
        }
        /* Its own process group, killed as a whole (a wrapper's children
         * too), and dead with us if we die first. */
        (void) setpgid(0, 0);
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(127);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (in < 0 || out < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
            dup2(out, STDERR_FILENO) < 0)
                _exit(127);
        execv(qemu, argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", qemu, strerror(errno));
        _exit(127);
}

static bool file_has(const char *path, const char *needle) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        return read_file(path, &data, &len) >= 0 && memmem(data, len, needle, strlen(needle));
}

static void sleep_usec(unsigned long long usec) {
        struct timespec ts = { .tv_sec = usec / 1000000, .tv_nsec = (usec % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Waits for the milestone in DEBUGCON: 1 reached, 0 QEMU ended first (left
 * unreaped, so its process group can't be reused before we kill it),
 * -ETIME at the deadline. */
static int wait_milestone(pid_t pid, const char *debugcon, unsigned long long deadline, siginfo_t *ret_info) {
        for (;;) {
                siginfo_t info = {};

                if (file_has(debugcon, ACCEL_PROBE_MILESTONE))
                        return 1;
                if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
                        *ret_info = info;
                        /* It may have got there just before it ended. */
                        return file_has(debugcon, ACCEL_PROBE_MILESTONE) ? 1 : 0;
                }
                if (now_usec() >= deadline)
                        return -ETIME;
                sleep_usec(PROBE_POLL_USEC);
        }
}

/* QEMU's first line on stderr, made printable and short: the reason it
 * gives ("error: failed to set MSR 0x10a to 0x69"). Empty when none. */
static void first_error_line(const char *path, char *buf, size_t size) {
        _cleanup_free_ char *data = NULL;
        char *line = NULL;
        size_t n = 0;

        buf[0] = 0;
        if (read_file(path, &data, NULL) < 0)
                return;
        for (char *save = NULL, *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (l[strspn(l, " \t\r")]) {
                        line = l;
                        break;
                }
        if (!line)
                return;
        /* "qemu-system-x86_64: error: ..." → "error: ..." */
        if (strncmp(line, "qemu", 4) == 0 && strstr(line, ": ") && !memchr(line, ' ', strstr(line, ": ") - line))
                line = strstr(line, ": ") + 2;
        for (; *line && n + 1 < size && n < ERROR_LINE_MAX; line++)
                buf[n++] = (*line >= 0x20 && *line < 0x7f) ? *line : '?';
        while (n > 0 && buf[n - 1] == ' ')
                n--;
        buf[n] = 0;
}

static void describe_end(struct accel_choice *ret, const siginfo_t *info, double secs, const char *errline) {
        const char *sep = errline[0] ? ": " : "";

        if (info->si_code == CLD_EXITED)
                set_reason(ret, "QEMU exited with status %d after %.2f s under -accel kvm -cpu %s%s%s", info->si_status,
                           secs, ACCEL_KVM_CPU, sep, errline);
        else if (info->si_status == SIGABRT)
                set_reason(ret, "QEMU aborted after %.2f s under -accel kvm -cpu %s%s%s", secs, ACCEL_KVM_CPU, sep,
                           errline);
        else
                set_reason(ret, "QEMU was killed by SIG%s after %.2f s under -accel kvm -cpu %s%s%s",
                           sigabbrev_np(info->si_status) ? sigabbrev_np(info->si_status) : "?", secs, ACCEL_KVM_CPU,
                           sep, errline);
}

int accel_probe(const char *qemu, unsigned deadline_ms, struct accel_choice *ret) {
        char dir[] = "/tmp/pxelab-accel.XXXXXX", errline[ERROR_LINE_MAX + 1];
        _cleanup_free_ char *debugcon = NULL, *errfile = NULL;
        unsigned long long start;
        siginfo_t info = {};
        double secs;
        pid_t pid;
        int r;

        if (!mkdtemp(dir))
                return log_error_errno(errno, "Failed to create a temp dir for the KVM probe");
        debugcon = path_join(dir, "debugcon");
        errfile = path_join(dir, "stderr");
        start = now_usec();
        pid = spawn_probe(qemu, debugcon, errfile);
        if (pid < 0) {
                (void) rm_rf(dir);
                return log_error_errno(pid, "Failed to start the KVM probe '%s'", qemu);
        }
        r = wait_milestone(pid, debugcon, start + deadline_ms * 1000ULL, &info);
        secs = (now_usec() - start) / 1e6;
        /* The whole group: QEMU, or a wrapper and whatever it started. */
        (void) kill(-pid, SIGKILL);
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        first_error_line(errfile, errline, sizeof(errline));
        (void) rm_rf(dir);

        *ret = (struct accel_choice) { .kvm = r == 1 };
        if (r == 1)
                set_reason(ret, "QEMU reached SeaBIOS's \"%s\" after %.2f s under -accel kvm -cpu %s",
                           ACCEL_PROBE_MILESTONE, secs, ACCEL_KVM_CPU);
        else if (r == -ETIME)
                set_reason(ret, "QEMU did not reach SeaBIOS's \"%s\" within %.1f s under -accel kvm -cpu %s: too slow",
                           ACCEL_PROBE_MILESTONE, deadline_ms / 1000.0, ACCEL_KVM_CPU);
        else
                describe_end(ret, &info, secs, errline);
        log_debug("accel: probe of '%s': %s", qemu, ret->reason);
        return 0;
}

/* ---- choosing --------------------------------------------------------------- */

int accel_choose_at(const char *qemu, const char *cache, struct accel_choice *ret) {
        struct accel_key key;
        bool keyed;
        int r;

        r = accel_from_env(ret);
        if (r != 0)
                return r < 0 ? r : 0;
        if (!kvm_device_usable(ret))
                return 0;
        keyed = cache && accel_key_make(qemu, &key) >= 0;
        if (keyed && accel_cache_load(cache, &key, ret) > 0) {
                log_debug("accel: cached in %s: %s", cache, ret->reason);
                return 0;
        }
        if (accel_probe(qemu, ACCEL_PROBE_DEADLINE_MS, ret) < 0) {
                /* Our own trouble, not KVM's: TCG this time, nothing cached. */
                *ret = (struct accel_choice) { .kvm = false };
                set_reason(ret, "the KVM probe could not run");
                return 0;
        }
        if (keyed) {
                r = accel_cache_store(cache, &key, ret);
                if (r < 0)
                        log_warn("Failed to keep the accelerator verdict in '%s': %s", cache, strerror(-r));
        }
        return 0;
}

int accel_choose(const char *qemu, struct accel_choice *ret) {
        return accel_choose_at(qemu, ACCEL_CACHE_PATH, ret);
}

void accel_record_tcg(const char *qemu, const char *reason) {
        struct accel_choice c = { .kvm = false };
        struct accel_key key;
        int r;

        set_reason(&c, "%s", reason);
        r = accel_key_make(qemu, &key);
        if (r >= 0)
                r = accel_cache_store(ACCEL_CACHE_PATH, &key, &c);
        if (r < 0)
                log_warn("Failed to keep the accelerator verdict in '%s': %s", ACCEL_CACHE_PATH, strerror(-r));
}

void accel_describe(const struct accel_choice *c, char *buf, size_t size) {
        if (c->fallback)
                snprintf(buf, size, "%s", c->reason);
        else if (c->kvm)
                snprintf(buf, size, "Using KVM (%s)", c->reason);
        else if (c->forced)
                snprintf(buf, size, "Using TCG (%s)", c->reason);
        else
                snprintf(buf, size, "KVM is not usable here (%s), using TCG", c->reason);
}
