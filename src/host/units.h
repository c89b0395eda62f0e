/* The lab's services as transient systemd units (sd-bus), and their journal
 * (sd-journal). Units are made the way systemd-run makes them: a JobRemoved
 * match first, StartTransientUnit in mode "fail", then wait for the job. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* A connection to systemd: as root the manager's private socket
 * /run/systemd/private (works without a D-Bus daemon), else the system bus.
 * When systemd is not PID 1 here, logs the one line "systemd is not running
 * as PID 1 on this machine; pxelab needs it to run the lab's services" and
 * returns -EHOSTDOWN. Free with sd_bus_flush_close_unref(). */
int units_connect(sd_bus **ret);

/* True for paths the units' sandbox hides (ProtectHome=, PrivateTmp=):
 * under /home, /root, /run/user, /tmp or /var/tmp. A unit that must reach
 * one gets it through unit_spec.hidden_paths / hidden_rw_paths. */
bool units_path_hidden(const char *path);
/* The same, logging nothing (for `status`, which works without systemd). */
int units_connect_quiet(sd_bus **ret);

struct unit_spec {
        const char *name;               /* "pxelab-LAB-dnsmasq.service" */
        const char *slice;              /* "pxelab-LAB.slice"; NULL: system.slice */
        const char *description;        /* NULL: the command line */
        char **argv;                    /* NULL-terminated; argv[0] an absolute path;
                                         * passed literally (no $VAR expansion) */
        const char *type;               /* "simple" (NULL), "exec", "notify", "forking" */
        char **exec_start_post;         /* ExecStartPost= command (argv), run after each
                                         * start and restart; NULL: none */
        int kill_signal;                /* KillSignal=; 0: SIGTERM */
        const char *restart;            /* NULL: "on-failure"; "no" for VMs */
        char **read_write_paths;        /* ReadWritePaths= (must exist; "-PATH" if optional) */
        char **read_only_paths;         /* ReadOnlyPaths=, may be NULL */
        char **hidden_paths;            /* paths the sandbox hides that the service
                                         * must read (under /home, /root, /run/user:
                                         * then ProtectHome=tmpfs; under /tmp,
                                         * /var/tmp: PrivateTmp stays): each is bound
                                         * in read-only; may be NULL */
        char **hidden_rw_paths;         /* the same, bound in writable (BindPaths=) */
        uint64_t capabilities;          /* CapabilityBoundingSet=, a mask of 1ULL << CAP_*;
                                         * 0 is the empty set */
        bool private_network;           /* PrivateNetwork= */
        bool private_devices;           /* PrivateDevices=: a /dev without hardware */
        char **device_allow;            /* DevicePolicy=closed plus these DeviceAllow=
                                         * entries ("/dev/kvm rw"); NULL: no policy */
        char **syscall_filter;          /* SystemCallFilter= allow-list ("@system-service");
                                         * NULL: none */
        char **address_families;        /* RestrictAddressFamilies= ("AF_INET"...); NULL: any */
        bool memory_deny_write_execute; /* MemoryDenyWriteExecute= (not for a JIT like TCG) */
        const char *working_directory;  /* may be NULL */
        char **environment;             /* "KEY=VALUE"..., may be NULL */
        bool quiet_exit;                /* a service that does not stay up (see
                                         * units_start) gives -ECHILD, nothing
                                         * logged: the caller tries otherwise */
        bool defer_settle;              /* units_start returns when the start job is
                                         * done; units_settle_deferred() makes the
                                         * 300 ms check later, for all such units at once */
};
/* Always set on top of the spec: Restart=on-failure (RestartSec=200ms),
 * ProtectSystem=strict, ProtectHome=yes, PrivateTmp=yes, NoNewPrivileges=yes,
 * ProtectControlGroups, ProtectKernelModules, ProtectKernelTunables,
 * ProtectKernelLogs, ProtectHostname, ProtectClock, ProtectProc=invisible,
 * RestrictSUIDSGID, RestrictNamespaces, SystemCallArchitectures=native,
 * LockPersonality, RestrictRealtime, output to the journal, KillMode=mixed,
 * TimeoutStartSec=30s, TimeoutStopSec=5s. Failed units are not garbage
 * collected (CollectMode stays "inactive"), so they can be inspected. */

/* Starts SPEC as a transient unit and waits for its start job. A unit of
 * that name that is loaded but not running (failed, inactive) is
 * reset-failed first (stopped first when waiting for an automatic restart);
 * a running one gives -EEXIST. The unit must then stay
 * active for 300 ms: a service that exits (or restarts) at once counts as
 * failed. On failure logs "Failed to start unit 'NAME': RESULT" and the
 * unit's last journal lines (its own error message), and returns < 0. A
 * unit left waiting for its automatic restart is stopped (a service that
 * can't start would only fail again); one that failed for good (Restart=no)
 * stays failed. */
int units_start(sd_bus *bus, const struct unit_spec *spec);
/* The 300 ms check of every unit started with defer_settle since the last
 * call, in one window: each must stay active until 300 ms after the last of
 * them started. Several services then cost one window, not one each
 * (bench/lifecycle: `up` of dnsmasq + nginx 0.3 s sooner). Fails (logged as
 * units_start does) for the first that did not; forgets them all either way. */
int units_settle_deferred(sd_bus *bus);
/* Stops NAME (any unit type, also a slice with all its units), waits for
 * the stop job, then resets its failed state so the name is free again.
 * A unit that is not loaded is already stopped: 0. */
int units_stop(sd_bus *bus, const char *name);
/* Restarts NAME and waits; the same 300 ms check as units_start. */
int units_restart(sd_bus *bus, const char *name);
/* Stops SLICE and everything in it, then resets the failed units in it. */
int units_stop_slice(sd_bus *bus, const char *slice);

struct unit_status {
        bool loaded;                    /* false: the other fields are empty */
        char *active_state;             /* "active", "failed", ... */
        char *sub_state;                /* "running", "auto-restart", ... */
        char *result;                   /* services: "success", "exit-code", ... */
        uint32_t main_pid;              /* services: 0 when none */
        uint64_t active_enter_usec;     /* CLOCK_REALTIME µs it last became active */
        uint32_t n_restarts;            /* services: automatic restarts so far */
};
/* Fills RET; a unit systemd doesn't know gives loaded=false and 0. */
int units_status(sd_bus *bus, const char *name, struct unit_status *ret);
void unit_status_done(struct unit_status *s);

/* Names of the loaded units matching the glob PATTERN (e.g. "pxelab-demo-*"),
 * sorted, as a NULL-terminated list. Returns how many. */
int units_list(sd_bus *bus, const char *pattern, char ***ret);

/* The last N journal messages of UNIT (its own output, and systemd's
 * messages about it), oldest first, as a NULL-terminated list. With
 * SINCE_USEC (CLOCK_REALTIME µs) only entries from then on. Returns how many. */
int journal_unit_lines(const char *unit, uint64_t since_usec, unsigned n, char ***ret);

/* "CAP_NET_RAW" or "net_raw" (any case) → its number; -EINVAL if unknown. */
int capability_from_name(const char *name);
