/* units.c against a real systemd: run by tests/bats/units.bats inside the
 * throwaway systemd of tests/harness/sysd.bash.
 *
 *   itest_units           the suite (needs systemd as PID 1, root)
 *   itest_units connect   only units_connect(): exit 0 when connected,
 *                         1 when not (it logs why)
 *
 * Settings are cross-checked with `systemctl show` and with what the kernel
 * says about the service's process (/proc/PID/status). */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "basic/log.h"
#include "host/units.h"
#include "basic/util.h"

#define SLICE "pxelab-itest.slice"

static sd_bus *bus;

/* ---- helpers ---------------------------------------------------------- */

static int saved_stderr = -1;
static FILE *captured;

/* Collects what the code under test logs to stderr. */
static void capture_start(void) {
        fflush(stderr);
        captured = tmpfile();
        assert_non_null(captured);
        saved_stderr = dup(STDERR_FILENO);
        assert_true(saved_stderr >= 0);
        assert_true(dup2(fileno(captured), STDERR_FILENO) >= 0);
}

static char *capture_end(void) {
        char *buf;
        long n;

        fflush(stderr);
        assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
        close(saved_stderr);
        saved_stderr = -1;
        n = ftell(captured);
        buf = xcalloc(1, n + 1);
        rewind(captured);
        assert_int_equal(fread(buf, 1, n, captured), (size_t) n);
        fclose(captured);
        fprintf(stderr, "(logged) %s", buf);
        return buf;
}

static void msleep(unsigned ms) {
        usleep(ms * 1000);
}

/* `systemctl show -p KEY --value UNIT` */
static char *show(const char *unit, const char *key) {
        _cleanup_free_ char *out = NULL;
        char *argv[] = { "systemctl", "show", "-p", (char *) key, "--value", (char *) unit, NULL };
        size_t l;

        assert_int_equal(run_program(argv, &out), 0);
        l = strlen(out);
        while (l > 0 && out[l - 1] == '\n')
                out[--l] = 0;
        return TAKE_PTR(out);
}

static void assert_show(const char *unit, const char *key, const char *want) {
        _cleanup_free_ char *v = show(unit, key);
        if (!streq(v, want))
                fail_msg("%s of %s: '%s', want '%s'", key, unit, v, want);
}

/* A field of /proc/PID/status, e.g. "CapBnd". */
static char *proc_status(uint32_t pid, const char *field) {
        _cleanup_free_ char *path = xasprintf("/proc/%u/status", pid), *buf = NULL;
        _cleanup_free_ char *key = xasprintf("\n%s:\t", field);
        char *p, *e;

        assert_int_equal(read_file(path, &buf, NULL), 0);
        p = strstr(buf, key);
        assert_non_null(p);
        p += strlen(key);
        e = strchrnul(p, '\n');
        return xasprintf("%.*s", (int) (e - p), p);
}

static struct unit_status status_of(const char *unit) {
        struct unit_status s;
        assert_int_equal(units_status(bus, unit, &s), 0);
        return s;
}

static bool journal_has(const char *unit, const char *needle) {
        _cleanup_strv_free_ char **lines = NULL;
        assert_true(journal_unit_lines(unit, 0, 50, &lines) >= 0);
        for (char **l = lines; *l; l++)
                if (strstr(*l, needle))
                        return true;
        return false;
}

/* Waits up to MS for the journal to hold NEEDLE for UNIT. */
static bool journal_wait(const char *unit, const char *needle, unsigned ms) {
        for (unsigned i = 0; i < ms / 50; i++) {
                if (journal_has(unit, needle))
                        return true;
                msleep(50);
        }
        return journal_has(unit, needle);
}

static void stop(const char *unit) {
        assert_int_equal(units_stop(bus, unit), 0);
}

/* ---- tests ------------------------------------------------------------ */

static void test_hardened_unit(void **state) {
        const char *unit = "pxelab-itest-hard.service";
        char *argv[] = { "/bin/sh", "-c",
                         "touch /usr/pxelab-itest 2>/dev/null && echo usr-writable || echo usr-read-only; "
                         "touch /var/lib/pxelab/itest-rw && echo rw-path-ok; "
                         "(exec 3<>/dev/net/tun) && echo tun-ok; exec sleep 1000",
                         NULL };
        char *rw[] = { "/var/lib/pxelab", NULL };
        char *env[] = { "PXELAB_ITEST=yes", NULL };
        struct unit_spec spec = {
                .name = unit,
                .slice = SLICE,
                .description = "pxelab itest hardened",
                .argv = argv,
                .read_write_paths = rw,
                .capabilities = (1ULL << CAP_NET_BIND_SERVICE) | (1ULL << CAP_NET_RAW),
                .environment = env,
        };
        _cleanup_free_ char *capbnd = NULL, *nnp = NULL;
        struct unit_status s;

        unlink("/var/lib/pxelab/itest-rw");
        assert_int_equal(units_start(bus, &spec), 0);
        s = status_of(unit);
        assert_true(s.loaded);
        assert_string_equal(s.active_state, "active");
        assert_string_equal(s.sub_state, "running");
        assert_true(s.main_pid > 1);
        assert_int_equal(s.n_restarts, 0);
        assert_true(s.active_enter_usec > 0);

        /* What systemd says ... */
        assert_show(unit, "ProtectSystem", "strict");
        assert_show(unit, "ProtectHome", "yes");
        assert_show(unit, "PrivateTmp", "yes");
        assert_show(unit, "NoNewPrivileges", "yes");
        assert_show(unit, "ProtectKernelTunables", "yes");
        assert_show(unit, "ProtectKernelModules", "yes");
        assert_show(unit, "ProtectKernelLogs", "yes");
        assert_show(unit, "ProtectControlGroups", "yes");
        assert_show(unit, "ProtectHostname", "yes");
        assert_show(unit, "RestrictSUIDSGID", "yes");
        assert_show(unit, "LockPersonality", "yes");
        assert_show(unit, "RestrictRealtime", "yes");
        assert_show(unit, "StandardOutput", "journal");
        assert_show(unit, "TimeoutStopUSec", "5s");
        assert_show(unit, "CapabilityBoundingSet", "cap_net_bind_service cap_net_raw");
        assert_show(unit, "Restart", "on-failure");
        assert_show(unit, "RestartUSec", "200ms");
        assert_show(unit, "Slice", SLICE);
        assert_show(unit, "Type", "simple");
        assert_show(unit, "KillMode", "mixed");
        assert_show(unit, "ReadWritePaths", "/var/lib/pxelab");
        assert_show(unit, "Environment", "PXELAB_ITEST=yes");
        assert_show(unit, "Description", "pxelab itest hardened");
        assert_show(unit, "PrivateNetwork", "no");

        /* ... and what the kernel enforces on the process. */
        capbnd = proc_status(s.main_pid, "CapBnd");
        assert_string_equal(capbnd, "0000000000002400");        /* bits 10 and 13 */
        nnp = proc_status(s.main_pid, "NoNewPrivs");
        assert_string_equal(nnp, "1");
        assert_true(journal_wait(unit, "usr-read-only", 2000));
        assert_true(journal_has(unit, "rw-path-ok"));
        /* Devices stay usable: VMs open /dev/net/tun. */
        assert_true(journal_has(unit, "tun-ok"));
        assert_int_equal(access("/var/lib/pxelab/itest-rw", F_OK), 0);
        assert_int_not_equal(access("/usr/pxelab-itest", F_OK), 0);
        unit_status_done(&s);
        stop(unit);
}

static void test_killed_service_restarts(void **state) {
        const char *unit = "pxelab-itest-restart.service";
        char *argv[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv };
        struct unit_status s;
        uint32_t old;
        unsigned long long t0;
        bool restarted = false;

        assert_int_equal(units_start(bus, &spec), 0);
        s = status_of(unit);
        old = s.main_pid;
        unit_status_done(&s);
        assert_true(old > 1);
        assert_int_equal(kill((pid_t) old, SIGKILL), 0);
        t0 = now_usec();
        while (now_usec() - t0 < 3000000ULL) {
                s = status_of(unit);
                restarted = s.n_restarts == 1 && streq(s.active_state, "active") && s.main_pid > 1 &&
                            s.main_pid != old;
                unit_status_done(&s);
                if (restarted)
                        break;
                msleep(50);
        }
        assert_true(restarted);
        assert_true(now_usec() - t0 < 2000000ULL);
        stop(unit);
}

static void test_failing_service_reports_its_journal(void **state) {
        const char *unit = "pxelab-itest-fail.service";
        char *argv[] = { "/bin/sh", "-c", "echo pxelab-itest-boom: bad config line 7 >&2; exit 3", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv };
        _cleanup_free_ char *log = NULL;
        int r;

        capture_start();
        r = units_start(bus, &spec);
        log = capture_end();
        assert_true(r < 0);
        assert_non_null(strstr(log, "Failed to start unit 'pxelab-itest-fail.service': exit-code, status 3\n"));
        assert_non_null(strstr(log, "  pxelab-itest-boom: bad config line 7\n"));
        assert_true(journal_has(unit, "pxelab-itest-boom"));
        /* Its restart loop is over: it doesn't come back. */
        msleep(600);
        struct unit_status s = status_of(unit);
        assert_true(!s.loaded || streq(s.active_state, "inactive") || streq(s.active_state, "failed"));
        assert_int_equal(s.main_pid, 0);
        unit_status_done(&s);
        stop(unit);
        stop(unit);
}

/* quiet_exit: the same failure is handed back as -ECHILD, nothing logged
 * (vm.c then starts the VM under TCG); the unit is failed, and the next
 * start of that name works. */
static void test_quiet_exit(void **state) {
        const char *unit = "pxelab-itest-quiet.service";
        char *fail[] = { "/bin/sh", "-c", "echo pxelab-itest-quiet >&2; exit 4", NULL };
        char *ok[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = fail, .restart = "no", .quiet_exit = true };
        _cleanup_free_ char *log = NULL;
        struct unit_status s;
        int r;

        capture_start();
        r = units_start(bus, &spec);
        log = capture_end();
        assert_int_equal(r, -ECHILD);
        assert_string_equal(log, "");
        s = status_of(unit);
        assert_true(s.loaded && streq(s.active_state, "failed"));
        assert_string_equal(s.result, "exit-code");
        unit_status_done(&s);
        spec.argv = ok;
        assert_int_equal(units_start(bus, &spec), 0);
        stop(unit);
}

static void test_arguments_are_literal(void **state) {
        const char *unit = "pxelab-itest-lit.service";
        char *argv[] = { "/bin/sh", "-c", "echo \"lit:$1|$2|$3|$4|$5\"; exec sleep 1000", "sh",
                         "a$HOME", "$PATH", "b$$c", "d%n", "e;f \\g", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv };

        assert_int_equal(units_start(bus, &spec), 0);
        assert_true(journal_wait(unit, "lit:a$HOME|$PATH|b$$c|d%n|e;f \\g", 2000));
        stop(unit);
}

static void test_service_killed_at_start(void **state) {
        const char *unit = "pxelab-itest-sig.service";
        char *argv[] = { "/bin/sh", "-c", "kill -KILL $$", NULL };     /* "$$": not expanded by systemd */
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv, .restart = "no" };
        _cleanup_free_ char *log = NULL;
        int r;

        capture_start();
        r = units_start(bus, &spec);
        log = capture_end();
        assert_true(r < 0);
        assert_non_null(strstr(log, "Failed to start unit 'pxelab-itest-sig.service': signal, SIGKILL\n"));
        stop(unit);
}

static void test_name_waiting_for_restart_is_taken_over(void **state) {
        const char *unit = "pxelab-itest-flap.service";
        char *flap[] = { "systemd-run", "--quiet", "--unit", (char *) unit, "-p", "Restart=always",
                         "-p", "RestartSec=30s", "/bin/false", NULL };
        char *good[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = good };
        struct unit_status s;
        bool waiting = false;

        assert_int_equal(run_program(flap, NULL), 0);
        for (int i = 0; i < 40 && !waiting; i++) {
                s = status_of(unit);
                waiting = streq(s.sub_state, "auto-restart");
                unit_status_done(&s);
                if (!waiting)
                        msleep(50);
        }
        assert_true(waiting);
        assert_int_equal(units_start(bus, &spec), 0);
        s = status_of(unit);
        assert_string_equal(s.active_state, "active");
        unit_status_done(&s);
        assert_show(unit, "Slice", SLICE);
        stop(unit);
}

static void test_missing_binary(void **state) {
        char *argv[] = { "/nonexistent/pxelab-itest", "--flag", NULL };
        struct unit_spec simple = { .name = "pxelab-itest-nobin.service", .slice = SLICE, .argv = argv,
                                    .restart = "no" };
        struct unit_spec exec = { .name = "pxelab-itest-nobin-exec.service", .slice = SLICE, .argv = argv,
                                  .type = "exec" };
        _cleanup_free_ char *log1 = NULL, *log2 = NULL;
        int r;

        /* simple: the fork is "done", the exec fails right after. */
        capture_start();
        r = units_start(bus, &simple);
        log1 = capture_end();
        assert_true(r < 0);
        assert_non_null(strstr(log1, "Failed to start unit 'pxelab-itest-nobin.service': exit-code, status 203"));
        assert_non_null(strstr(log1, "/nonexistent/pxelab-itest"));
        /* Restart=no: it stays failed, for inspection. */
        struct unit_status s = status_of("pxelab-itest-nobin.service");
        assert_true(s.loaded);
        assert_string_equal(s.active_state, "failed");
        assert_string_equal(s.result, "exit-code");
        unit_status_done(&s);

        /* exec: the start job itself fails. */
        capture_start();
        r = units_start(bus, &exec);
        log2 = capture_end();
        assert_true(r < 0);
        assert_non_null(strstr(log2, "Failed to start unit 'pxelab-itest-nobin-exec.service': "));
        assert_non_null(strstr(log2, "/nonexistent/pxelab-itest"));
        stop("pxelab-itest-nobin.service");
        stop("pxelab-itest-nobin-exec.service");
}

static void test_failed_name_is_reused(void **state) {
        const char *unit = "pxelab-itest-reuse.service";
        char *bad[] = { "/bin/false", NULL };
        char *good[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = bad, .restart = "no" };
        struct unit_status s;
        int r;

        capture_start();
        r = units_start(bus, &spec);
        free(capture_end());
        assert_true(r < 0);
        s = status_of(unit);
        assert_string_equal(s.active_state, "failed");
        unit_status_done(&s);

        spec.argv = good;
        assert_int_equal(units_start(bus, &spec), 0);
        s = status_of(unit);
        assert_string_equal(s.active_state, "active");
        unit_status_done(&s);
        {
                _cleanup_free_ char *exec = show(unit, "ExecStart");
                assert_non_null(strstr(exec, "argv[]=/bin/sleep 1000 ;"));
        }
        stop(unit);
}

static void test_running_name_is_eexist(void **state) {
        const char *unit = "pxelab-itest-busy.service";
        char *argv[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv };
        _cleanup_free_ char *log = NULL;
        int r;

        assert_int_equal(units_start(bus, &spec), 0);
        capture_start();
        r = units_start(bus, &spec);
        log = capture_end();
        assert_int_equal(r, -EEXIST);
        assert_non_null(strstr(log, "Failed to start unit 'pxelab-itest-busy.service': it is already active"));
        stop(unit);
}

static void test_stop_twice(void **state) {
        const char *unit = "pxelab-itest-stop.service";
        char *argv[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv };
        struct unit_status s;
        uint32_t pid;

        assert_int_equal(units_start(bus, &spec), 0);
        s = status_of(unit);
        pid = s.main_pid;
        unit_status_done(&s);
        assert_int_equal(units_stop(bus, unit), 0);
        assert_true(kill((pid_t) pid, 0) < 0 && errno == ESRCH);
        s = status_of(unit);
        assert_true(!s.loaded || streq(s.active_state, "inactive"));
        unit_status_done(&s);
        assert_int_equal(units_stop(bus, unit), 0);
        assert_int_equal(units_stop(bus, "pxelab-itest-never-was.service"), 0);
        s = status_of("pxelab-itest-never-was.service");
        assert_false(s.loaded);
        assert_null(s.active_state);
}

static void test_restart(void **state) {
        const char *unit = "pxelab-itest-rs.service";
        char *argv[] = { "/bin/sleep", "1000", NULL };
        struct unit_spec spec = { .name = unit, .slice = SLICE, .argv = argv };
        struct unit_status s;
        uint32_t old;

        assert_int_equal(units_start(bus, &spec), 0);
        s = status_of(unit);
        old = s.main_pid;
        unit_status_done(&s);
        assert_int_equal(units_restart(bus, unit), 0);
        s = status_of(unit);
        assert_string_equal(s.active_state, "active");
        assert_true(s.main_pid > 1 && s.main_pid != old);
        unit_status_done(&s);
        assert_true(kill((pid_t) old, 0) < 0 && errno == ESRCH);
        stop(unit);
}

static void test_list_and_stop_slice(void **state) {
        char *sleep_argv[] = { "/bin/sleep", "1000", NULL };
        char *false_argv[] = { "/bin/false", NULL };
        struct unit_spec a = { .name = "pxelab-itestl-a.service", .slice = "pxelab-itestl.slice", .argv = sleep_argv };
        struct unit_spec b = { .name = "pxelab-itestl-b.service", .slice = "pxelab-itestl.slice", .argv = sleep_argv };
        struct unit_spec c = { .name = "pxelab-itestl-c.service", .slice = "pxelab-itestl.slice", .argv = false_argv,
                               .restart = "no" };
        struct unit_spec other = { .name = "pxelab-itestother-a.service", .slice = "pxelab-itestother.slice",
                                   .argv = sleep_argv };
        _cleanup_strv_free_ char **names = NULL, **after = NULL;
        struct unit_status s;
        int n = -1, r;

        assert_int_equal(units_start(bus, &a), 0);
        assert_int_equal(units_start(bus, &b), 0);
        assert_int_equal(units_start(bus, &other), 0);
        capture_start();
        r = units_start(bus, &c);
        free(capture_end());
        assert_true(r < 0);

        assert_int_equal(units_list(bus, "pxelab-itestl-*", &names), 3);
        assert_string_equal(names[0], "pxelab-itestl-a.service");
        assert_string_equal(names[1], "pxelab-itestl-b.service");
        assert_string_equal(names[2], "pxelab-itestl-c.service");
        assert_null(names[3]);

        assert_int_equal(units_stop_slice(bus, "pxelab-itestl.slice"), 0);
        /* Stopped (and the failed one reset): systemd unloads them. */
        for (int i = 0; i < 40 && n != 0; i++) {
                strv_free(after);
                after = NULL;
                n = units_list(bus, "pxelab-itestl-*", &after);
                if (n != 0)
                        msleep(50);
        }
        assert_int_equal(n, 0);
        s = status_of("pxelab-itestother-a.service");
        assert_string_equal(s.active_state, "active");
        unit_status_done(&s);
        assert_int_equal(units_stop_slice(bus, "pxelab-itestother.slice"), 0);
        s = status_of("pxelab-itestother-a.service");
        assert_true(!s.loaded || streq(s.active_state, "inactive"));
        unit_status_done(&s);
        /* A slice that isn't there is stopped already. */
        assert_int_equal(units_stop_slice(bus, "pxelab-itest-none.slice"), 0);
}

static void test_spec_errors(void **state) {
        char *rel[] = { "sleep", "1", NULL };
        struct unit_spec spec = { .name = "pxelab-itest-rel.service", .argv = rel };
        _cleanup_free_ char *log = NULL;

        capture_start();
        assert_int_equal(units_start(bus, &spec), -EINVAL);
        log = capture_end();
        assert_non_null(strstr(log, "command 'sleep' is not an absolute path"));
}

static void test_capability_names(void **state) {
        assert_int_equal(capability_from_name("CAP_NET_BIND_SERVICE"), CAP_NET_BIND_SERVICE);
        assert_int_equal(capability_from_name("net_admin"), CAP_NET_ADMIN);
        assert_int_equal(capability_from_name("Cap_Net_Raw"), CAP_NET_RAW);
        assert_int_equal(capability_from_name("CAP_CHOWN"), 0);
        assert_int_equal(capability_from_name("CAP_NOPE"), -EINVAL);
        assert_int_equal(capability_from_name(NULL), -EINVAL);
}

static int setup(void **state) {
        return units_connect(&bus) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        bus = sd_bus_flush_close_unref(bus);
        return 0;
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hardened_unit),
                cmocka_unit_test(test_killed_service_restarts),
                cmocka_unit_test(test_failing_service_reports_its_journal),
                cmocka_unit_test(test_missing_binary),
                cmocka_unit_test(test_failed_name_is_reused),
                cmocka_unit_test(test_name_waiting_for_restart_is_taken_over),
                cmocka_unit_test(test_service_killed_at_start),
                cmocka_unit_test(test_quiet_exit),
                cmocka_unit_test(test_arguments_are_literal),
                cmocka_unit_test(test_running_name_is_eexist),
                cmocka_unit_test(test_stop_twice),
                cmocka_unit_test(test_restart),
                cmocka_unit_test(test_list_and_stop_slice),
                cmocka_unit_test(test_spec_errors),
                cmocka_unit_test(test_capability_names),
        };

        if (argc > 1 && streq(argv[1], "connect")) {
                sd_bus *b = NULL;
                if (units_connect(&b) < 0)
                        return 1;
                sd_bus_flush_close_unref(b);
                printf("connected\n");
                return 0;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
