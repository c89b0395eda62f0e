/* Transient systemd units over sd-bus; see units.h. */
#include <ctype.h>
#include <errno.h>
#include <sys/mount.h>
#include <linux/capability.h>
#include <signal.h>
#include <strings.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "basic/log.h"
#include "host/units.h"
#include "basic/util.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"
#define SD_SERVICE "org.freedesktop.systemd1.Service"

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL
/* Longer than TimeoutStartSec/TimeoutStopSec: systemd ends the job first. */
#define JOB_WAIT_USEC (60 * USEC_PER_SEC)
/* How long a started service must stay up to count as started. */
#define SETTLE_USEC (300 * USEC_PER_MSEC)
#define JOURNAL_LINES 10

#define NOT_PID1_MSG "systemd is not running as PID 1 on this machine; pxelab needs it to run the lab's services"

static void bus_unrefp(sd_bus **b) { sd_bus_unref(*b); }
static void msg_unrefp(sd_bus_message **m) { sd_bus_message_unref(*m); }
static void slot_unrefp(sd_bus_slot **s) { sd_bus_slot_unref(*s); }
#define _cleanup_msg_ _cleanup_(msg_unrefp)
#define _cleanup_error_ _cleanup_(sd_bus_error_free)

static const char *bus_msg(const sd_bus_error *e, int r) {
        if (e && sd_bus_error_is_set(e) && e->message)
                return e->message;
        return strerror(r < 0 ? -r : r);
}

static bool no_such_unit(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit") ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT);
}

static uint64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = usec / USEC_PER_SEC, .tv_nsec = (usec % USEC_PER_SEC) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- connecting ---------------------------------------------------------- */

/* PID 1's own socket, as systemctl and systemd-run use it as root: no D-Bus
 * daemon needed. The peer must be root (or us), or it isn't PID 1. */
static int connect_private(sd_bus **ret) {
        _cleanup_(bus_unrefp) sd_bus *bus = NULL;
        sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        r = sd_bus_get_owner_creds(bus, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        sd_bus_creds_unref(creds);
        if (r < 0)
                return r;
        if (uid != 0 && uid != geteuid())
                return -EPERM;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int connect_impl(sd_bus **ret, bool quiet) {
        sd_bus *bus = NULL;
        int r;

        if (sd_booted() <= 0) {
                if (!quiet)
                        log_error(NOT_PID1_MSG);
                return -EHOSTDOWN;
        }
        if (geteuid() == 0 && connect_private(&bus) >= 0) {
                *ret = bus;
                return 0;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                if (!quiet)
                        log_error_errno(r, "Failed to connect to systemd");
                return r;
        }
        *ret = bus;
        return 0;
}

int units_connect(sd_bus **ret) {
        return connect_impl(ret, false);
}

int units_connect_quiet(sd_bus **ret) {
        return connect_impl(ret, true);
}

/* ---- jobs ---------------------------------------------------------------- */

struct job_wait {
        char *path;     /* the job we wait for, once the call returned it */
        char *result;   /* "done", "failed", "canceled", "timeout", "dependency", ... */
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->path && !w->result && streq(path, w->path))
                w->result = xstrdup(result);
        return 0;
}

/* Sends M, a Manager call that returns a job, and waits for that job to be
 * removed. The match is in place before the call: a quick job's JobRemoved
 * may come right behind the reply (sd_bus_call queues it undispatched). On a
 * direct connection there is no sender to match. *ret_result: the job's. */
static int call_job(sd_bus *bus, sd_bus_message *m, sd_bus_error *error, char **ret_result) {
        _cleanup_(slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_msg_ sd_bus_message *reply = NULL;
        struct job_wait w = {};
        const char *path;
        unsigned long long deadline;
        int r;

        r = sd_bus_match_signal(bus, &slot, sd_bus_is_bus_client(bus) ? SD_DEST : NULL, SD_PATH, SD_MANAGER,
                                "JobRemoved", on_job_removed, &w);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        w.path = xstrdup(path);
        deadline = now_usec() + JOB_WAIT_USEC;
        while (!w.result) {
                unsigned long long now = now_usec();
                if (now >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, deadline - now);
                if (r < 0)
                        break;
        }
        free(w.path);
        if (!w.result)
                return r < 0 ? r : -EIO;
        *ret_result = w.result;
        return 0;
}

/* A Manager method taking (NAME, MODE) and returning a job. */
static int unit_job(sd_bus *bus, const char *method, const char *name, sd_bus_error *error, char **ret_result) {
        _cleanup_msg_ sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", name, "replace");
        if (r < 0)
                return r;
        return call_job(bus, m, error, ret_result);
}

static void reset_failed(sd_bus *bus, const char *name) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        (void) sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &error, NULL, "s", name);
}

/* ---- state --------------------------------------------------------------- */

void unit_status_done(struct unit_status *s) {
        if (!s)
                return;
        free(s->active_state);
        free(s->sub_state);
        free(s->result);
        *s = (struct unit_status) {};
}

static bool is_service(const char *name) {
        size_t l = strlen(name);
        return l > 8 && streq(name + l - 8, ".service");
}

int units_status(sd_bus *bus, const char *name, struct unit_status *ret) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_msg_ sd_bus_message *reply = NULL;
        _cleanup_free_ char *load_state = NULL;
        struct unit_status s = {};
        const char *path;
        int r;

        *ret = (struct unit_status) {};
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &error, &reply, "s", name);
        if (r < 0) {
                if (no_such_unit(&error))
                        return 0;
                return log_error_errno(r, "Failed to look up unit '%s': %s", name, bus_msg(&error, r));
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to look up unit '%s'", name);

        /* The unit may be garbage-collected between the calls: then it isn't loaded. */
        r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT, "LoadState", &error, &load_state);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT, "ActiveState", &error,
                                               &s.active_state);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT, "SubState", &error, &s.sub_state);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, SD_DEST, path, SD_UNIT, "ActiveEnterTimestamp", &error, 't',
                                                &s.active_enter_usec);
        if (r >= 0 && is_service(name)) {
                r = sd_bus_get_property_string(bus, SD_DEST, path, SD_SERVICE, "Result", &error, &s.result);
                if (r >= 0)
                        r = sd_bus_get_property_trivial(bus, SD_DEST, path, SD_SERVICE, "MainPID", &error, 'u',
                                                        &s.main_pid);
                if (r >= 0)
                        r = sd_bus_get_property_trivial(bus, SD_DEST, path, SD_SERVICE, "NRestarts", &error, 'u',
                                                        &s.n_restarts);
        }
        if (r < 0) {
                unit_status_done(&s);
                if (no_such_unit(&error))
                        return 0;
                return log_error_errno(r, "Failed to read the state of unit '%s': %s", name, bus_msg(&error, r));
        }
        if (streq(load_state, "not-found")) {
                unit_status_done(&s);
                return 0;
        }
        s.loaded = true;
        *ret = s;
        return 0;
}

/* Why a service isn't running, for the error line: "exit-code, status 1". */
static char *describe_failure(sd_bus *bus, const char *name, const char *job_result) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *result = NULL;
        int32_t code = 0, status = 0;

        if (!is_service(name) || sd_bus_path_encode(SD_PATH "/unit", name, &path) < 0 ||
            sd_bus_get_property_string(bus, SD_DEST, path, SD_SERVICE, "Result", &error, &result) < 0)
                return xstrdup(job_result);
        (void) sd_bus_get_property_trivial(bus, SD_DEST, path, SD_SERVICE, "ExecMainCode", &error, 'i', &code);
        (void) sd_bus_get_property_trivial(bus, SD_DEST, path, SD_SERVICE, "ExecMainStatus", &error, 'i', &status);
        if (streq(result, "success"))
                return xstrdup(code == 1 ? "exited with status 0 at once" : job_result);
        if (code == 1)          /* CLD_EXITED */
                return xasprintf("%s, status %d", result, status);
        if (code == 2 || code == 3)     /* CLD_KILLED, CLD_DUMPED */
                return xasprintf("%s, SIG%s", result, sigabbrev_np(status) ? sigabbrev_np(status) : "?");
        return xstrdup(result);
}

/* A service that failed to start but waits for its automatic restart would
 * go on failing: end that. A unit that failed for good stays failed. */
static void end_restart_loop(sd_bus *bus, const char *name) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *result = NULL;
        struct unit_status s = {};
        bool running;

        if (units_status(bus, name, &s) < 0)
                return;
        running = s.loaded && !streq(s.active_state, "failed") && !streq(s.active_state, "inactive");
        unit_status_done(&s);
        if (running)
                (void) unit_job(bus, "StopUnit", name, &error, &result);
}

/* Logs the failure and the unit's last journal lines. Journald takes the
 * unit's output asynchronously: read until two reads agree (≤ 1 s). */
static int start_failed(sd_bus *bus, const char *verb, const char *name, const char *why, uint64_t since, int r) {
        char **lines = NULL;
        int n = -1;

        for (int i = 0; i < 10; i++) {
                char **l = NULL;
                int k = journal_unit_lines(name, since, JOURNAL_LINES, &l);
                if (k > 0 && k == n) {
                        strv_free(l);
                        break;
                }
                strv_free(lines);
                lines = l;
                n = k;
                sleep_usec(100 * USEC_PER_MSEC);
        }
        end_restart_loop(bus, name);
        log_error("Failed to %s unit '%s': %s", verb, name, why);
        for (char **l = lines; l && *l; l++)
                log_error("  %s", *l);
        strv_free(lines);
        return r;
}

/* A freshly started service must stay active for SETTLE_USEC; simple
 * services report "done" as soon as they are forked. */
static int settle(sd_bus *bus, const char *name, uint32_t restarts_before, char **ret_why) {
        unsigned long long deadline = now_usec() + SETTLE_USEC;

        for (;;) {
                struct unit_status s = {};
                bool ok;
                int r = units_status(bus, name, &s);
                if (r < 0)
                        return r;
                ok = s.loaded && streq(s.active_state, "active") && s.n_restarts == restarts_before;
                unit_status_done(&s);
                if (!ok) {
                        *ret_why = describe_failure(bus, name, "not active");
                        return -ECHILD;
                }
                if (now_usec() >= deadline)
                        return 0;
                sleep_usec(50 * USEC_PER_MSEC);
        }
}

static int job_result_errno(const char *result) {
        if (streq(result, "timeout"))
                return -ETIMEDOUT;
        if (streq(result, "canceled"))
                return -ECANCELED;
        return -EIO;
}

/* ---- starting ------------------------------------------------------------ */

static int append_s(sd_bus_message *m, const char *key, const char *v) {
        return sd_bus_message_append(m, "(sv)", key, "s", v);
}

static int append_b(sd_bus_message *m, const char *key, bool v) {
        return sd_bus_message_append(m, "(sv)", key, "b", (int) v);
}

static int append_t(sd_bus_message *m, const char *key, uint64_t v) {
        return sd_bus_message_append(m, "(sv)", key, "t", v);
}

static int append_strv(sd_bus_message *m, const char *key, char **v) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, v);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static bool in_home(char **paths) {
        static const char *const homes[] = { "/home/", "/root/", "/run/user/" };
        for (char **p = paths; p && *p; p++)
                for (size_t i = 0; i < ELEMENTSOF(homes); i++)
                        if (strncmp(*p, homes[i], strlen(homes[i])) == 0)
                                return true;
        return false;
}

bool units_path_hidden(const char *path) {
        static const char *const hidden[] = { "/home/", "/root/", "/run/user/", "/tmp/", "/var/tmp/" };
        for (size_t i = 0; i < ELEMENTSOF(hidden); i++)
                if (strncmp(path, hidden[i], strlen(hidden[i])) == 0)
                        return true;
        return false;
}

/* BindReadOnlyPaths= / BindPaths=: a(ssbt) = source, destination,
 * ignore-if-missing, flags. */
static int append_bind(sd_bus_message *m, const char *key, char **paths) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(ssbt)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ssbt)");
        for (char **p = paths; r >= 0 && *p; p++)
                r = sd_bus_message_append(m, "(ssbt)", *p, *p, false, (uint64_t) MS_REC);
        for (int i = 0; i < 3 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* systemd expands "$VAR", "${VAR}" and "$$" in the arguments of ExecStart:
 * doubling every '$' passes them on literally. */
static char *escape_dollars(const char *s) {
        char *e = xcalloc(2 * strlen(s) + 1, 1), *p = e;
        for (; *s; s++) {
                if (*s == '$')
                        *p++ = '$';
                *p++ = *s;
        }
        return e;
}

/* ExecStart (KEY): a(sasb) = path, argv (with argv[0]), ignore-failure. */
static int append_exec(sd_bus_message *m, const char *key, char **argv) {
        _cleanup_strv_free_ char **args = NULL;
        size_t n = 0;

        while (argv[n])
                n++;
        args = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                args[i] = escape_dollars(argv[i]);

        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[0]);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, args);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", 0);
        for (int i = 0; i < 4 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* Always on. ProtectClock= implies a device allow-list (char-rtc): a unit
 * that needs devices (QEMU: /dev/kvm, /dev/net/tun) lists them itself. */
static const char *const hardening[] = {
        "PrivateTmp", "NoNewPrivileges", "ProtectControlGroups", "ProtectKernelModules",
        "ProtectKernelTunables", "ProtectKernelLogs", "ProtectHostname", "ProtectClock",
        "RestrictSUIDSGID", "LockPersonality", "RestrictRealtime",
};

/* SystemCallFilter= and RestrictAddressFamilies=: (bas) = allow-list, names. */
static int append_allow_list(sd_bus_message *m, const char *key, char **v) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "(bas)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "bas");
        if (r >= 0)
                r = sd_bus_message_append(m, "b", 1);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, v);
        for (int i = 0; i < 3 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* DevicePolicy=closed and DeviceAllow=: a(ss) = node, "rwm" subset; each
 * entry of V is "NODE ACCESS". */
static int append_devices(sd_bus_message *m, char **v) {
        int r = append_s(m, "DevicePolicy", "closed");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "DeviceAllow");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(ss)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ss)");
        for (char **d = v; r >= 0 && *d; d++) {
                _cleanup_free_ char *node = xstrdup(*d);
                char *sp = strchr(node, ' ');
                if (sp)
                        *sp++ = 0;
                r = sd_bus_message_append(m, "(ss)", node, sp ? sp : "rw");
        }
        for (int i = 0; i < 3 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* The spec's own sandbox switches, on top of hardening[]. */
static int append_sandbox(sd_bus_message *m, const struct unit_spec *spec) {
        char *native[] = { "native", NULL };
        int r = append_s(m, "ProtectProc", "invisible");

        /* RestrictNamespaces= is the set of namespace types allowed: none. */
        if (r >= 0)
                r = append_t(m, "RestrictNamespaces", 0);

        if (r >= 0)
                r = append_strv(m, "SystemCallArchitectures", native);
        if (r >= 0)
                r = append_b(m, "PrivateDevices", spec->private_devices);
        if (r >= 0 && spec->device_allow)
                r = append_devices(m, spec->device_allow);
        if (r >= 0 && spec->syscall_filter)
                r = append_allow_list(m, "SystemCallFilter", spec->syscall_filter);
        if (r >= 0 && spec->address_families)
                r = append_allow_list(m, "RestrictAddressFamilies", spec->address_families);
        if (r >= 0)
                r = append_b(m, "MemoryDenyWriteExecute", spec->memory_deny_write_execute);
        return r;
}

static char *join_argv(char **argv) {
        size_t len = 1;
        char *s;

        for (char **a = argv; *a; a++)
                len += strlen(*a) + 1;
        s = xcalloc(1, len);
        for (char **a = argv; *a; a++) {
                if (a != argv)
                        strcat(s, " ");
                strcat(s, *a);
        }
        return s;
}

static int append_properties(sd_bus_message *m, const struct unit_spec *spec) {
        _cleanup_free_ char *desc = spec->description ? NULL : join_argv(spec->argv);
        char *empty[] = { NULL };
        int r;

        r = append_s(m, "Description", spec->description ? spec->description : desc);
        if (r >= 0 && spec->slice)
                r = append_s(m, "Slice", spec->slice);
        if (r >= 0)
                r = append_s(m, "Type", spec->type ? spec->type : "simple");
        if (r >= 0)
                r = append_s(m, "Restart", spec->restart ? spec->restart : "on-failure");
        if (r >= 0)
                r = append_t(m, "RestartUSec", 200 * USEC_PER_MSEC);
        if (r >= 0)
                r = append_t(m, "TimeoutStartUSec", 30 * USEC_PER_SEC);
        if (r >= 0)
                r = append_t(m, "TimeoutStopUSec", 5 * USEC_PER_SEC);
        if (r >= 0)
                r = append_s(m, "KillMode", "mixed");
        if (r >= 0)
                r = append_s(m, "StandardOutput", "journal");
        if (r >= 0)
                r = append_s(m, "StandardError", "journal");
        /* The sandbox: nothing of the host is writable but the given paths. */
        if (r >= 0)
                r = append_s(m, "ProtectSystem", "strict");
        /* Homes and /tmp stay hidden; what the service must read from them
         * is bound in read-only (ReadOnlyPaths= cannot reach through
         * ProtectHome=yes, so homes become an empty tmpfs). */
        if (r >= 0)
                r = append_s(m, "ProtectHome",
                             in_home(spec->hidden_paths) || in_home(spec->hidden_rw_paths) ? "tmpfs" : "yes");
        if (r >= 0 && spec->hidden_paths && spec->hidden_paths[0])
                r = append_bind(m, "BindReadOnlyPaths", spec->hidden_paths);
        if (r >= 0 && spec->hidden_rw_paths && spec->hidden_rw_paths[0])
                r = append_bind(m, "BindPaths", spec->hidden_rw_paths);
        for (size_t i = 0; i < ELEMENTSOF(hardening) && r >= 0; i++)
                r = append_b(m, hardening[i], true);
        if (r >= 0)
                r = append_b(m, "PrivateNetwork", spec->private_network);
        if (r >= 0)
                r = append_sandbox(m, spec);
        if (r >= 0)
                r = append_t(m, "CapabilityBoundingSet", spec->capabilities);
        if (r >= 0)
                r = append_strv(m, "ReadWritePaths", spec->read_write_paths ? spec->read_write_paths : empty);
        if (r >= 0 && spec->read_only_paths)
                r = append_strv(m, "ReadOnlyPaths", spec->read_only_paths);
        if (r >= 0 && spec->working_directory)
                r = append_s(m, "WorkingDirectory", spec->working_directory);
        if (r >= 0 && spec->environment)
                r = append_strv(m, "Environment", spec->environment);
        if (r >= 0)
                r = append_exec(m, "ExecStart", spec->argv);
        if (r >= 0 && spec->exec_start_post)
                r = append_exec(m, "ExecStartPost", spec->exec_start_post);
        if (r >= 0 && spec->kill_signal)
                r = sd_bus_message_append(m, "(sv)", "KillSignal", "i", spec->kill_signal);
        return r;
}

/* A loaded but stopped unit of the same name blocks StartTransientUnit:
 * reset it and wait (≤ 1 s) for systemd to unload it. */
static int free_name(sd_bus *bus, const char *name) {
        struct unit_status s = {};
        int r;

        for (int i = 0; i < 50; i++) {
                r = units_status(bus, name, &s);
                if (r < 0)
                        return r;
                if (!s.loaded)
                        return 0;
                if (streq(s.sub_state, "auto-restart")) {
                        /* Failed, waiting to be restarted: not running. */
                        unit_status_done(&s);
                        r = units_stop(bus, name);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!streq(s.active_state, "inactive") && !streq(s.active_state, "failed")) {
                        log_error("Failed to start unit '%s': it is already %s", name, s.active_state);
                        unit_status_done(&s);
                        return -EEXIST;
                }
                unit_status_done(&s);
                reset_failed(bus, name);
                sleep_usec(20 * USEC_PER_MSEC);
        }
        return 0;       /* still loaded: StartTransientUnit will say why */
}

static int validate_spec(const struct unit_spec *spec) {
        if (strempty(spec->name) || !spec->argv || !spec->argv[0]) {
                log_error("Failed to start unit '%s': no name or command", strempty(spec->name) ? "" : spec->name);
                return -EINVAL;
        }
        if (spec->argv[0][0] != '/') {
                log_error("Failed to start unit '%s': command '%s' is not an absolute path", spec->name,
                          spec->argv[0]);
                return -EINVAL;
        }
        return 0;
}

/* Units started with defer_settle, waiting for units_settle_deferred(). */
struct deferred {
        char *name;
        uint64_t since;                 /* CLOCK_REALTIME µs, for the journal */
        bool quiet_exit;
};
static struct deferred *deferred;
static size_t n_deferred;
static unsigned long long deferred_deadline;

static int defer_settle(const struct unit_spec *spec, uint64_t since) {
        deferred = xrealloc(deferred, (n_deferred + 1) * sizeof(*deferred));
        deferred[n_deferred++] = (struct deferred) { xstrdup(spec->name), since, spec->quiet_exit };
        deferred_deadline = now_usec() + SETTLE_USEC;
        return 0;
}

static void deferred_clear(void) {
        for (size_t i = 0; i < n_deferred; i++)
                free(deferred[i].name);
        free(deferred);
        deferred = NULL;
        n_deferred = 0;
}

int units_settle_deferred(sd_bus *bus) {
        int r = 0;

        while (r == 0) {
                for (size_t i = 0; i < n_deferred && r == 0; i++) {
                        struct deferred *d = &deferred[i];
                        struct unit_status s = {};
                        _cleanup_free_ char *why = NULL;
                        bool ok;

                        r = units_status(bus, d->name, &s);
                        if (r < 0)
                                break;
                        ok = s.loaded && streq(s.active_state, "active") && s.n_restarts == 0;
                        unit_status_done(&s);
                        if (ok)
                                continue;
                        why = describe_failure(bus, d->name, "not active");
                        if (d->quiet_exit) {
                                end_restart_loop(bus, d->name);
                                r = -ECHILD;
                        } else
                                r = start_failed(bus, "start", d->name, why, d->since, -ECHILD);
                }
                if (r < 0 || n_deferred == 0 || now_usec() >= deferred_deadline)
                        break;
                sleep_usec(50 * USEC_PER_MSEC);
        }
        deferred_clear();
        return r;
}

int units_start(sd_bus *bus, const struct unit_spec *spec) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_msg_ sd_bus_message *m = NULL;
        _cleanup_free_ char *result = NULL, *why = NULL;
        uint64_t since = realtime_usec();
        int r;

        r = validate_spec(spec);
        if (r < 0)
                return r;
        r = free_name(bus, spec->name);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", spec->name, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_properties(m, spec);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request for unit '%s'", spec->name);

        r = call_job(bus, m, &error, &result);
        if (r < 0)
                return log_error_errno(r, "Failed to start unit '%s': %s", spec->name, bus_msg(&error, r));
        if (!streq(result, "done")) {
                why = describe_failure(bus, spec->name, result);
                return start_failed(bus, "start", spec->name, why, since, job_result_errno(result));
        }
        if (spec->defer_settle)
                return defer_settle(spec, since);
        r = settle(bus, spec->name, 0, &why);
        if (r == -ECHILD && spec->quiet_exit) {
                end_restart_loop(bus, spec->name);
                return r;
        }
        if (r == -ECHILD)
                return start_failed(bus, "start", spec->name, why, since, r);
        return r;
}

int units_restart(sd_bus *bus, const char *name) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *result = NULL, *why = NULL;
        struct unit_status s = {};
        uint64_t since = realtime_usec();
        uint32_t restarts;
        int r;

        r = units_status(bus, name, &s);
        if (r < 0)
                return r;
        restarts = s.n_restarts;
        unit_status_done(&s);
        r = unit_job(bus, "RestartUnit", name, &error, &result);
        if (r < 0)
                return log_error_errno(r, "Failed to restart unit '%s': %s", name, bus_msg(&error, r));
        if (!streq(result, "done")) {
                why = describe_failure(bus, name, result);
                return start_failed(bus, "restart", name, why, since, job_result_errno(result));
        }
        /* A manual restart doesn't count in NRestarts. */
        r = settle(bus, name, restarts, &why);
        if (r == -ECHILD)
                return start_failed(bus, "restart", name, why, since, r);
        return r;
}

/* ---- stopping ------------------------------------------------------------ */

int units_stop(sd_bus *bus, const char *name) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *result = NULL;
        struct unit_status s = {};
        int r;

        r = units_status(bus, name, &s);
        if (r < 0)
                return r;
        if (!s.loaded)
                return 0;
        unit_status_done(&s);
        r = unit_job(bus, "StopUnit", name, &error, &result);
        if (r < 0) {
                if (no_such_unit(&error))
                        return 0;
                return log_error_errno(r, "Failed to stop unit '%s': %s", name, bus_msg(&error, r));
        }
        if (!streq(result, "done")) {
                log_error("Failed to stop unit '%s': %s", name, result);
                return job_result_errno(result);
        }
        reset_failed(bus, name);
        return 0;
}

/* Reads the name of the next (ssssssouso) of a ListUnits* reply; 0 at the end. */
static int read_unit_name(sd_bus_message *reply, const char **ret) {
        const char *desc, *load, *active, *sub, *following, *job_type, *unit_path, *job_path;
        uint32_t job_id;
        return sd_bus_message_read(reply, "(ssssssouso)", ret, &desc, &load, &active, &sub, &following,
                                   &unit_path, &job_id, &job_type, &job_path);
}

/* The Slice property lives on the interface of the unit's type. */
static char *unit_slice(sd_bus *bus, const char *name) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *iface = NULL;
        const char *dot = strrchr(name, '.');
        char *slice = NULL;

        if (!dot || !dot[1] || sd_bus_path_encode(SD_PATH "/unit", name, &path) < 0)
                return NULL;
        iface = xasprintf("org.freedesktop.systemd1.%c%s", toupper((unsigned char) dot[1]), dot + 2);
        if (sd_bus_get_property_string(bus, SD_DEST, path, iface, "Slice", &error, &slice) < 0)
                return NULL;
        return slice;
}

int units_stop_slice(sd_bus *bus, const char *slice) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_msg_ sd_bus_message *reply = NULL;
        const char *states[] = { "failed", NULL };
        _cleanup_msg_ sd_bus_message *m = NULL;
        const char *name;
        int r;

        r = units_stop(bus, slice);
        if (r < 0)
                return r;
        /* Units of the slice that had failed stay failed (and loaded): reset them. */
        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "ListUnitsFiltered");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char **) states);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return log_error_errno(r, "Failed to list the failed units of '%s': %s", slice, bus_msg(&error, r));
        while ((r = read_unit_name(reply, &name)) > 0) {
                _cleanup_free_ char *s = unit_slice(bus, name);
                if (streq(s, slice))
                        reset_failed(bus, name);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to list the failed units of '%s'", slice);
        return 0;
}

/* ---- listing ------------------------------------------------------------- */

int units_list(sd_bus *bus, const char *pattern, char ***ret) {
        _cleanup_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_msg_ sd_bus_message *m = NULL, *reply = NULL;
        const char *patterns[] = { pattern, NULL };
        char *none[] = { NULL };
        char **names = NULL;
        size_t n = 0;
        const char *name;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, none);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char **) patterns);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return log_error_errno(r, "Failed to list units '%s': %s", pattern, bus_msg(&error, r));
        names = xcalloc(1, sizeof(char *));
        while ((r = read_unit_name(reply, &name)) > 0) {
                names = xrealloc(names, (n + 2) * sizeof(char *));
                names[n++] = xstrdup(name);
                names[n] = NULL;
        }
        if (r < 0) {
                strv_free(names);
                return log_error_errno(r, "Failed to list units '%s'", pattern);
        }
        qsort(names, n, sizeof(char *), strcmp_ptr);
        *ret = names;
        return (int) n;
}

/* ---- journal ------------------------------------------------------------- */

static void journal_closep(sd_journal **j) {
        if (*j)
                sd_journal_close(*j);
}

int journal_unit_lines(const char *unit, uint64_t since_usec, unsigned n, char ***ret) {
        _cleanup_(journal_closep) sd_journal *j = NULL;
        _cleanup_free_ char *m1 = xasprintf("_SYSTEMD_UNIT=%s", unit), *m2 = xasprintf("UNIT=%s", unit);
        char **lines = xcalloc(n + 1, sizeof(char *));
        unsigned k = 0;
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                goto fail;
        /* The unit's own output, or PID 1's messages about it. */
        r = sd_journal_add_match(j, m1, 0);
        if (r >= 0)
                r = sd_journal_add_disjunction(j);
        if (r >= 0)
                r = sd_journal_add_match(j, m2, 0);
        if (r >= 0)
                r = sd_journal_add_match(j, "_PID=1", 0);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        if (r < 0)
                goto fail;
        /* Newest first, into the end of LINES, then moved to the front. */
        while (k < n && (r = sd_journal_previous(j)) > 0) {
                const void *d;
                size_t l;
                uint64_t t;

                if (since_usec > 0 && sd_journal_get_realtime_usec(j, &t) >= 0 && t < since_usec)
                        break;
                if (sd_journal_get_data(j, "MESSAGE", &d, &l) < 0 || l < 8)
                        continue;
                lines[n - 1 - k++] = xasprintf("%.*s", (int) (l - 8), (const char *) d + 8);
        }
        if (r < 0)
                goto fail;
        memmove(lines, lines + (n - k), k * sizeof(char *));
        memset(lines + k, 0, (n - k) * sizeof(char *));
        *ret = lines;
        return (int) k;
fail:
        strv_free(lines);
        return log_error_errno(r, "Failed to read the journal of unit '%s'", unit);
}

/* ---- capabilities -------------------------------------------------------- */

static const char *const cap_names[] = {
        [CAP_CHOWN] = "chown",
        [CAP_DAC_OVERRIDE] = "dac_override",
        [CAP_DAC_READ_SEARCH] = "dac_read_search",
        [CAP_FOWNER] = "fowner",
        [CAP_FSETID] = "fsetid",
        [CAP_KILL] = "kill",
        [CAP_SETGID] = "setgid",
        [CAP_SETUID] = "setuid",
        [CAP_SETPCAP] = "setpcap",
        [CAP_LINUX_IMMUTABLE] = "linux_immutable",
        [CAP_NET_BIND_SERVICE] = "net_bind_service",
        [CAP_NET_BROADCAST] = "net_broadcast",
        [CAP_NET_ADMIN] = "net_admin",
        [CAP_NET_RAW] = "net_raw",
        [CAP_IPC_LOCK] = "ipc_lock",
        [CAP_IPC_OWNER] = "ipc_owner",
        [CAP_SYS_MODULE] = "sys_module",
        [CAP_SYS_RAWIO] = "sys_rawio",
        [CAP_SYS_CHROOT] = "sys_chroot",
        [CAP_SYS_PTRACE] = "sys_ptrace",
        [CAP_SYS_PACCT] = "sys_pacct",
        [CAP_SYS_ADMIN] = "sys_admin",
        [CAP_SYS_BOOT] = "sys_boot",
        [CAP_SYS_NICE] = "sys_nice",
        [CAP_SYS_RESOURCE] = "sys_resource",
        [CAP_SYS_TIME] = "sys_time",
        [CAP_SYS_TTY_CONFIG] = "sys_tty_config",
        [CAP_MKNOD] = "mknod",
        [CAP_LEASE] = "lease",
        [CAP_AUDIT_WRITE] = "audit_write",
        [CAP_AUDIT_CONTROL] = "audit_control",
        [CAP_SETFCAP] = "setfcap",
        [CAP_MAC_OVERRIDE] = "mac_override",
        [CAP_MAC_ADMIN] = "mac_admin",
        [CAP_SYSLOG] = "syslog",
        [CAP_WAKE_ALARM] = "wake_alarm",
        [CAP_BLOCK_SUSPEND] = "block_suspend",
        [CAP_AUDIT_READ] = "audit_read",
#ifdef CAP_PERFMON
        [CAP_PERFMON] = "perfmon",
#endif
#ifdef CAP_BPF
        [CAP_BPF] = "bpf",
#endif
#ifdef CAP_CHECKPOINT_RESTORE
        [CAP_CHECKPOINT_RESTORE] = "checkpoint_restore",
#endif
};

int capability_from_name(const char *name) {
        if (!name)
                return -EINVAL;
        if (strncasecmp(name, "cap_", 4) == 0)
                name += 4;
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (cap_names[i] && strcasecmp(cap_names[i], name) == 0)
                        return (int) i;
        return -EINVAL;
}
