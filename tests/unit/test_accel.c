/* accel.c: $PXELAB_ACCEL, the per-boot cache of the verdict, and the probe
 * run against stand-in QEMUs (shell wrappers) that abort, exit, hang, or
 * work (the real QEMU under TCG in place of KVM), and against this
 * machine's real QEMU. $PXELAB_KVM_DEVICE=/dev/null stands for a present
 * KVM device, so these tests don't depend on the host's /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "host/accel.h"
#include "basic/log.h"
#include "basic/util.h"

static char tmpdir[] = "/tmp/test-accel.XXXXXX";
static char *real_qemu;

static int setup_all(void **state) {
        unsetenv("PXELAB_QEMU");
        unsetenv("PXELAB_ACCEL");
        unsetenv("PXELAB_KVM_DEVICE");
        real_qemu = qemu_binary();
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_all(void **state) {
        rm_rf(tmpdir);
        free(real_qemu);
        return 0;
}

static int reset_env(void **state) {
        unsetenv("PXELAB_ACCEL");
        unsetenv("PXELAB_KVM_DEVICE");
        return 0;
}

/* An executable script NAME in tmpdir with BODY after the #! line. */
static char *script(const char *name, const char *body) {
        char *path = xasprintf("%s/%s", tmpdir, name);
        _cleanup_free_ char *text = xasprintf("#!/bin/bash\n%s\n", body);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0755), 0);
        return path;
}

/* A stand-in whose KVM works: the real QEMU, under TCG instead (and without
 * -cpu host, which TCG refuses). Each run under -accel kvm adds a line to COUNT. */
static char *working_qemu(const char *name, const char *count) {
        _cleanup_free_ char *body = xasprintf(
                "a=() skip=\n"
                "for x in \"$@\"; do\n"
                "  if [ -n \"$skip\" ]; then skip=; continue; fi\n"
                "  case $x in -cpu) skip=1; continue ;; kvm) echo run >> '%s'; x=tcg ;; esac\n"
                "  a+=(\"$x\")\n"
                "done\n"
                "exec '%s' \"${a[@]}\"",
                count, real_qemu);
        return script(name, body);
}

static int lines_of(const char *path) {
        _cleanup_free_ char *data = NULL;
        int n = 0;
        if (read_file(path, &data, NULL) < 0)
                return 0;
        for (char *p = data; *p; p++)
                n += *p == '\n';
        return n;
}

static void test_env(void **state) {
        struct accel_choice c;

        assert_int_equal(accel_from_env(&c), 0);
        setenv("PXELAB_ACCEL", "", 1);
        assert_int_equal(accel_from_env(&c), 0);
        setenv("PXELAB_ACCEL", "kvm", 1);
        assert_int_equal(accel_from_env(&c), 1);
        assert_true(c.kvm && c.forced);
        assert_string_equal(c.reason, "PXELAB_ACCEL=kvm");
        setenv("PXELAB_ACCEL", "tcg", 1);
        assert_int_equal(accel_from_env(&c), 1);
        assert_true(!c.kvm && c.forced);
        for (const char *const *v = (const char *const[]) { "KVM", "fast", "kvm ", "hvf", NULL }; *v; v++) {
                setenv("PXELAB_ACCEL", *v, 1);
                assert_int_equal(accel_from_env(&c), -EINVAL);
                assert_int_equal(accel_from_env(NULL), -EINVAL);
                assert_int_equal(accel_choose_at(real_qemu, NULL, &c), -EINVAL);
        }
}

static void test_cache_roundtrip(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/cache-rt", tmpdir), *data = NULL;
        struct accel_choice in = { .kvm = true }, out = {};
        struct accel_key key;
        struct stat st;
        json_t *j;

        assert_int_equal(accel_key_make(real_qemu, &key), 0);
        assert_int_equal(strlen(key.boot_id), 36);
        assert_string_equal(key.cpu, ACCEL_KVM_CPU);
        assert_int_equal(accel_cache_load(path, &key, &out), 0);       /* missing */
        snprintf(in.reason, sizeof(in.reason), "it worked");
        assert_int_equal(accel_cache_store(path, &key, &in), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 1);
        assert_true(out.kvm && !out.forced && !out.fallback);
        assert_string_equal(out.reason, "it worked");
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        /* What it holds: this boot, the binary, the verdict. */
        assert_int_equal(read_file(path, &data, NULL), 0);
        j = json_loads(data, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "qemu")), real_qemu);
        assert_string_equal(json_string_value(json_object_get(j, "boot_id")), key.boot_id);
        assert_string_equal(json_string_value(json_object_get(j, "accel")), "kvm");
        json_decref(j);

        /* Overwritten in place by a new verdict; no temp file stays. */
        in.kvm = false;
        snprintf(in.reason, sizeof(in.reason), "it died");
        assert_int_equal(accel_cache_store(path, &key, &in), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 1);
        assert_false(out.kvm);
        assert_string_equal(out.reason, "it died");
        {
                _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int) getpid());
                assert_int_equal(access(tmp, F_OK), -1);
        }
}

/* Another boot, another binary (or the same path rebuilt), another CPU
 * model: the cached verdict is not theirs. */
static void test_cache_key_mismatch(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/cache-key", tmpdir);
        struct accel_choice in = { .kvm = true, .reason = "ok" }, out;
        struct accel_key key, other;

        assert_int_equal(accel_key_make(real_qemu, &key), 0);
        assert_int_equal(accel_cache_store(path, &key, &in), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 1);

        other = key;
        other.boot_id[0] = other.boot_id[0] == '0' ? '1' : '0';
        assert_int_equal(accel_cache_load(path, &other, &out), 0);
        other = key;
        snprintf(other.qemu, sizeof(other.qemu), "/usr/local/bin/qemu-system-x86_64");
        assert_int_equal(accel_cache_load(path, &other, &out), 0);
        other = key;
        other.ino++;
        assert_int_equal(accel_cache_load(path, &other, &out), 0);
        other = key;
        other.mtime_nsec++;
        assert_int_equal(accel_cache_load(path, &other, &out), 0);
        other = key;
        other.size++;
        assert_int_equal(accel_cache_load(path, &other, &out), 0);
        other = key;
        snprintf(other.cpu, sizeof(other.cpu), "max");
        assert_int_equal(accel_cache_load(path, &other, &out), 0);

        /* A key for a binary that isn't there can't be made. */
        assert_int_equal(accel_key_make("/nonexistent/qemu", &other), -ENOENT);
}

/* Only a regular file of ours that nobody else can write is believed. */
static void test_cache_untrusted(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/cache-u", tmpdir), *link = xasprintf("%s/cache-link", tmpdir);
        struct accel_choice in = { .kvm = true, .reason = "ok" }, out;
        struct accel_key key;

        assert_int_equal(accel_key_make(real_qemu, &key), 0);
        assert_int_equal(accel_cache_store(path, &key, &in), 0);
        assert_int_equal(chmod(path, 0622), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 0);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 1);
        /* Through a symlink: not read. */
        assert_int_equal(symlink(path, link), 0);
        assert_int_equal(accel_cache_load(link, &key, &out), 0);
        /* Garbage, or a verdict that is neither kvm nor tcg. */
        assert_int_equal(write_file_atomic(path, "{not json", 9, 0600), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 0);
        {
                json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "boot_id", key.boot_id, "qemu",
                                      key.qemu, "dev", (json_int_t) key.dev, "ino", (json_int_t) key.ino, "size",
                                      (json_int_t) key.size, "mtime_nsec", (json_int_t) key.mtime_nsec, "cpu", key.cpu,
                                      "accel", "hvf", "reason", "x");
                _cleanup_free_ char *s = json_dumps(j, 0);
                assert_int_equal(write_file_atomic(path, s, strlen(s), 0600), 0);
                assert_int_equal(accel_cache_load(path, &key, &out), 0);
                json_decref(j);
        }
        /* A directory in its place. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(accel_cache_load(path, &key, &out), 0);
        assert_int_equal(rmdir(path), 0);
}

/* Writing never follows a symlink: not at the cache's name (it is replaced),
 * not at the temp name (it is removed and made afresh). */
static void test_cache_store_no_follow(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/cache-s", tmpdir), *victim = xasprintf("%s/victim", tmpdir),
                            *tmp = xasprintf("%s.tmp.%d", path, (int) getpid()), *data = NULL;
        struct accel_choice in = { .kvm = false, .reason = "r" }, out;
        struct accel_key key;
        struct stat st;

        assert_int_equal(accel_key_make(real_qemu, &key), 0);
        assert_int_equal(write_file_atomic(victim, "precious", 8, 0600), 0);
        assert_int_equal(symlink(victim, path), 0);
        assert_int_equal(symlink(victim, tmp), 0);
        assert_int_equal(accel_cache_store(path, &key, &in), 0);
        assert_int_equal(read_file(victim, &data, NULL), 0);
        assert_string_equal(data, "precious");
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(accel_cache_load(path, &key, &out), 1);
        assert_int_equal(access(tmp, F_OK), -1);
}

static double probe_secs(const char *qemu, unsigned deadline_ms, struct accel_choice *c) {
        unsigned long long t = now_usec();
        assert_int_equal(accel_probe(qemu, deadline_ms, c), 0);
        return (now_usec() - t) / 1e6;
}

/* Broken the way a nested host is: QEMU aborts at once. TCG, with QEMU's
 * own words, well under a second. */
static void test_probe_abort(void **state) {
        _cleanup_free_ char *q = script("abort-qemu",
                                        "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2\n"
                                        "kill -ABRT $$");
        struct accel_choice c;
        double secs = probe_secs(q, ACCEL_PROBE_DEADLINE_MS, &c);

        assert_false(c.kvm);
        assert_non_null(strstr(c.reason, "QEMU aborted after "));
        assert_non_null(strstr(c.reason, "under -accel kvm -cpu " ACCEL_KVM_CPU ": error: failed to set MSR 0x10a to 0x69"));
        assert_true(secs < 1.0);
}

static void test_probe_exit(void **state) {
        _cleanup_free_ char *q = script("exit-qemu",
                                        "echo 'qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied' >&2\n"
                                        "exit 1");
        _cleanup_free_ char *missing = xasprintf("%s/no-such-qemu", tmpdir);
        struct accel_choice c;

        probe_secs(q, ACCEL_PROBE_DEADLINE_MS, &c);
        assert_false(c.kvm);
        assert_non_null(strstr(c.reason, "QEMU exited with status 1 after "));
        assert_non_null(strstr(c.reason, ": -accel kvm: failed to initialize kvm: Permission denied"));
        /* No binary at all: the same, in the child's words. */
        probe_secs(missing, ACCEL_PROBE_DEADLINE_MS, &c);
        assert_false(c.kvm);
        assert_non_null(strstr(c.reason, "status 127"));
        assert_non_null(strstr(c.reason, "cannot run"));
}

static bool pid_gone(pid_t pid) {
        _cleanup_free_ char *stat = NULL, *path = xasprintf("/proc/%d/stat", (int) pid);
        char *p;
        if (read_file(path, &stat, NULL) < 0)
                return true;
        p = strrchr(stat, ')');
        return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Slower than the deadline (a guest that crawls, or hangs): TCG, after the
 * deadline and not much later; QEMU and whatever it started are killed. */
static void test_probe_slow(void **state) {
        _cleanup_free_ char *pidfile = xasprintf("%s/slow.pid", tmpdir), *body = xasprintf(
                "sleep 30 & echo $! > '%s'\nwait", pidfile), *q = script("slow-qemu", body), *pid_s = NULL;
        struct accel_choice c;
        double secs = probe_secs(q, 400, &c);
        pid_t child;
        bool gone = false;

        assert_false(c.kvm);
        assert_non_null(strstr(c.reason, "did not reach SeaBIOS's \"" ACCEL_PROBE_MILESTONE "\" within 0.4 s"));
        assert_true(secs >= 0.4 && secs < 1.5);
        assert_int_equal(read_file(pidfile, &pid_s, NULL), 0);
        child = atoi(pid_s);
        assert_true(child > 0);
        for (int i = 0; i < 100 && !gone; i++) {
                gone = pid_gone(child);
                if (!gone)
                        usleep(10000);
        }
        assert_true(gone);
}

/* What the probe runs: a VM's accelerator and CPU, nothing else of a VM
 * (no network, no disk, no display), 32 MiB, SeaBIOS's debug port into a
 * file in a private temp dir that is gone afterwards. */
static void test_probe_command_line(void **state) {
        _cleanup_free_ char *args = xasprintf("%s/args", tmpdir), *body = xasprintf(
                "printf '%%s\\n' \"$@\" > '%s'; exit 1", args), *q = script("args-qemu", body), *data = NULL;
        struct accel_choice c;
        char *dir, *end;
        struct stat st;

        probe_secs(q, ACCEL_PROBE_DEADLINE_MS, &c);
        assert_false(c.kvm);
        assert_int_equal(read_file(args, &data, NULL), 0);
        assert_non_null(strstr(data, "-accel\nkvm\n-cpu\n" ACCEL_KVM_CPU "\n"));
        assert_non_null(strstr(data, "\n-m\n32\n"));
        assert_non_null(strstr(data, "\n-nodefaults\n"));
        assert_non_null(strstr(data, "\n-nic\nnone\n"));
        assert_non_null(strstr(data, "\n-display\nnone\n"));
        assert_non_null(strstr(data, "\n-device\nisa-debugcon,iobase=0x402,chardev=dbg\n"));
        assert_null(strstr(data, "-netdev"));
        assert_null(strstr(data, "-drive"));
        dir = strstr(data, "file,id=dbg,path=/tmp/pxelab-accel.");
        assert_non_null(dir);
        dir += strlen("file,id=dbg,path=");
        end = strstr(dir, "/debugcon\n");
        assert_non_null(end);
        *end = 0;
        assert_int_equal(stat(dir, &st), -1);
        assert_int_equal(errno, ENOENT);
}

/* A working accelerator (TCG behind a kvm-accepting wrapper): KVM. */
static void test_probe_works(void **state) {
        _cleanup_free_ char *count = xasprintf("%s/works.count", tmpdir), *q = working_qemu("works-qemu", count);
        struct accel_choice c;
        /* A deadline far beyond the stand-in's need: what is tested is that
         * the milestone means KVM, not how fast a shell starts on a busy
         * machine (the deadline itself is test_probe_slow's). */
        double secs = probe_secs(q, 10 * ACCEL_PROBE_DEADLINE_MS, &c);

        assert_true(c.kvm);
        assert_non_null(strstr(c.reason, "QEMU reached SeaBIOS's \"" ACCEL_PROBE_MILESTONE "\" after "));
        assert_true(secs < 10 * ACCEL_PROBE_DEADLINE_MS / 1000.0);
        assert_int_equal(lines_of(count), 1);
}

/* This machine's QEMU: whatever the verdict, it holds up. KVM means QEMU
 * reached the milestone; TCG comes with a reason that says otherwise. */
static void test_probe_real(void **state) {
        struct accel_choice c;
        double secs = probe_secs(real_qemu, ACCEL_PROBE_DEADLINE_MS, &c);

        fprintf(stderr, "this machine: %s (%s)\n", c.kvm ? "kvm" : "tcg", c.reason);
        assert_true(secs < ACCEL_PROBE_DEADLINE_MS / 1000.0 + 0.5);
        if (c.kvm)
                assert_non_null(strstr(c.reason, "QEMU reached"));
        else
                assert_null(strstr(c.reason, "QEMU reached"));
}

/* The whole choice: no device → TCG without running QEMU, nothing cached;
 * a present device → probed once, then cached until the binary changes;
 * PXELAB_ACCEL → neither probe nor cache. */
static void test_choose(void **state) {
        _cleanup_free_ char *count = xasprintf("%s/choose.count", tmpdir), *q = working_qemu("choose-qemu", count),
                            *cache = xasprintf("%s/choose.cache", tmpdir);
        struct accel_choice c;
        struct timespec later[2] = { { .tv_nsec = UTIME_NOW }, { .tv_sec = 1000000000 } };

        setenv("PXELAB_KVM_DEVICE", "/nonexistent/kvm", 1);
        assert_int_equal(accel_choose_at(q, cache, &c), 0);
        assert_false(c.kvm || c.forced);
        assert_string_equal(c.reason, "cannot open /nonexistent/kvm: No such file or directory");
        assert_int_equal(lines_of(count), 0);
        assert_int_equal(access(cache, F_OK), -1);

        setenv("PXELAB_KVM_DEVICE", "/dev/null", 1);
        assert_int_equal(accel_choose_at(q, cache, &c), 0);
        assert_true(c.kvm);
        assert_int_equal(lines_of(count), 1);
        assert_int_equal(access(cache, F_OK), 0);
        /* Cached: the same answer, no second run. */
        assert_int_equal(accel_choose_at(q, cache, &c), 0);
        assert_true(c.kvm);
        assert_non_null(strstr(c.reason, "QEMU reached"));
        assert_int_equal(lines_of(count), 1);
        /* The binary changed: probed again. */
        assert_int_equal(utimensat(AT_FDCWD, q, later, 0), 0);
        assert_int_equal(accel_choose_at(q, cache, &c), 0);
        assert_true(c.kvm);
        assert_int_equal(lines_of(count), 2);

        /* Forced: no probe, no cache, whatever the device. */
        setenv("PXELAB_KVM_DEVICE", "/nonexistent/kvm", 1);
        setenv("PXELAB_ACCEL", "kvm", 1);
        assert_int_equal(accel_choose_at(q, cache, &c), 0);
        assert_true(c.kvm && c.forced);
        setenv("PXELAB_ACCEL", "tcg", 1);
        assert_int_equal(unlink(cache), 0);
        assert_int_equal(accel_choose_at(q, cache, &c), 0);
        assert_true(!c.kvm && c.forced);
        assert_int_equal(lines_of(count), 2);
        assert_int_equal(access(cache, F_OK), -1);
}

static void test_describe(void **state) {
        struct accel_choice c = { .kvm = false, .reason = "QEMU aborted after 0.10 s under -accel kvm -cpu host" };
        char buf[512];

        accel_describe(&c, buf, sizeof(buf));
        assert_string_equal(buf, "KVM is not usable here (QEMU aborted after 0.10 s under -accel kvm -cpu host), using TCG");
        c = (struct accel_choice) { .kvm = true, .reason = "QEMU reached it" };
        accel_describe(&c, buf, sizeof(buf));
        assert_string_equal(buf, "Using KVM (QEMU reached it)");
        c = (struct accel_choice) { .kvm = false, .forced = true, .reason = "PXELAB_ACCEL=tcg" };
        accel_describe(&c, buf, sizeof(buf));
        assert_string_equal(buf, "Using TCG (PXELAB_ACCEL=tcg)");
        c = (struct accel_choice) { .fallback = true, .reason = "VM 'x' ended within 3 s under KVM (exit-code); started it again under TCG" };
        accel_describe(&c, buf, sizeof(buf));
        assert_string_equal(buf, c.reason);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_env, reset_env),
                cmocka_unit_test_setup(test_cache_roundtrip, reset_env),
                cmocka_unit_test_setup(test_cache_key_mismatch, reset_env),
                cmocka_unit_test_setup(test_cache_untrusted, reset_env),
                cmocka_unit_test_setup(test_cache_store_no_follow, reset_env),
                cmocka_unit_test_setup(test_probe_abort, reset_env),
                cmocka_unit_test_setup(test_probe_exit, reset_env),
                cmocka_unit_test_setup(test_probe_slow, reset_env),
                cmocka_unit_test_setup(test_probe_command_line, reset_env),
                cmocka_unit_test_setup(test_probe_works, reset_env),
                cmocka_unit_test_setup(test_probe_real, reset_env),
                cmocka_unit_test_setup(test_choose, reset_env),
                cmocka_unit_test_setup(test_describe, reset_env),
        };
        log_level = 2;
        return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
