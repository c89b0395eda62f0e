/* The lab profile: parsed with libconfuse, validated, paths resolved.
 * Everything downstream (model, render, up) reads only this struct. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/rules.h"

enum boot_kind {
        BOOT_LINUX,
        BOOT_CHAIN,
        BOOT_LOCAL,
        BOOT_SHELL,
        BOOT_WIMBOOT,
        BOOT_WINDOWS,
        _BOOT_KIND_MAX,
};

const char *boot_kind_to_string(enum boot_kind k);
int boot_kind_from_string(const char *s);   /* -EINVAL when unknown */

struct boot_entry {
        char *name;                 /* [a-z0-9_-], unique */
        char *title;                /* defaults to name */
        enum boot_kind kind;
        unsigned line;              /* line of `boot "NAME" {` */
        /* Paths are absolute; profile_check_files() makes them canonical
         * (symlinks and ".." resolved: what nginx serves and the units'
         * sandbox must show). Files are served under their base name as
         * written (*_name), whatever a symlink points to. */
        /* linux */
        char *kernel;
        char *kernel_name;
        char **initrd;              /* n_initrd of them */
        char **initrd_name;
        size_t n_initrd;
        char *cmdline;
        /* chain */
        char *url;
        /* wimboot (also used by windows for the loader) */
        char *wimboot;              /* absolute path; entry > global > $PXELAB_WIMBOOT */
        char *bcd, *boot_sdi, *wim, *bootmgr;
        char **inject;              /* n_inject of them, each lands in System32 as inject_name[i] */
        char **inject_name;
        size_t n_inject;
        char *args;
        /* windows */
        char *source, *unattend, *drivers, *setup_args;
};

struct host {
        char *name;
        char *mac;                  /* normalised: lower-case, colon separated */
        char *ip;                   /* NULL when not fixed */
        char *boot;                 /* NULL: the menu */
        unsigned line;
};

/* A port of this host that the lab's clients may reach at the lab's
 * addresses (bridge.allow_host_ports = {"22/tcp"}). */
struct host_port {
        uint16_t port;              /* 1..65535 */
        bool udp;                   /* else tcp */
};

struct vm_decl {
        char *name;
        enum firmware firmware;
        char *mac;                  /* NULL: derived */
        long memory;                /* MiB */
        char *disk;                 /* NULL, SIZE ("20G") or absolute path */
        bool autostart;
        unsigned line;
};

struct profile {
        char *path;                 /* absolute path of the profile file */
        char *dir;                  /* its directory: relative paths resolve here */
        char *lab;                  /* lab_name_valid() (names.h): [a-z0-9-], <= 32 chars */
        char *templates;            /* absolute dir or NULL */
        char *wimboot;              /* global wimboot or NULL */
        struct {
                char *name;         /* <= 15 chars; default lab_bridge_name() */
                char *type;         /* linux | ovs */
                char *address;      /* as written, "10.33.0.1/24" */
                struct in_addr addr;
                unsigned prefix;
                char *uplink;       /* auto | none | IFNAME */
                bool ipv6;
                char *ovsdb;        /* OVSDB socket path (ovs only) */
                char *existing;     /* refuse | use (ovs only) */
                char *datapath_type;/* system | netdev (ovs only) */
                struct host_port *allow_host_ports; /* unique */
                size_t n_allow_host_ports;
        } bridge;
        struct {
                char *mode;         /* server | proxy */
                struct in_addr range_start, range_end;
                char *lease;        /* "12h", "30m", "3600", "infinite" */
        } dhcp;
        struct {
                char *title;
                char *default_entry;/* NULL: first entry */
                long timeout;       /* seconds; 0 = boot default at once */
        } menu;
        struct boot_entry *boots;
        size_t n_boots;
        struct host *hosts;
        size_t n_hosts;
        struct vm_decl *vms;
        size_t n_vms;
        void *lines;                /* private: field -> line map */
};

/* Parses and validates. BUF may be NULL (read PATH) or the file's content
 * (PATH then names it in messages and anchors relative paths). On failure
 * returns -EINVAL and, when ERRORS != NULL, a NULL-terminated list of every
 * problem found, each one line "FILE:LINE: FIELD: message" (FILE as PATH
 * was given; FIELD e.g. "bridge.address", "boot.NAME.kernel", or "syntax"),
 * sorted by line; an unreadable file gives the one line
 * "FILE: cannot read: REASON", one that is not a regular file (a FIFO,
 * a device, a directory) "FILE: not a regular file" and one over 4 MiB
 * "FILE: larger than 4 MiB", both refused unparsed. On success *ERRORS
 * is NULL.
 * $PXELAB_WIMBOOT is read here (wimboot entries without a wimboot).
 * Not thread-safe: libconfuse's lexer is global state. */
int profile_parse(const char *path, const char *buf, char ***errors, struct profile **ret);

/* profile_parse() printing each error to stderr. */
int profile_load(const char *path, struct profile **ret);

/* Resolves every file the profile references (boot files, each entry's
 * wimboot, `templates`, a windows entry's `source` and `drivers`) to its
 * canonical path, as realpath(3): symlinks and ".." resolved, the path in
 * the struct replaced. Checks that each exists, that its canonical path
 * passes the checks of a written path (no space, control character...), that
 * it is a regular file (a directory for `source`/`drivers`/`templates`) and
 * readable, and that a windows `source` has bootmgr, boot/bcd,
 * boot/boot.sdi and sources/boot.wim (any case). Same error format, values
 * quoted as written; a path with ".." that does not exist also shows where
 * it led: "'../images/vmlinuz' (/srv/images/vmlinuz) does not exist".
 * Returns 0, or -ENOENT and the problems in *ERRORS. */
int profile_check_files(struct profile *p, char ***errors);

/* For `render`, which does not need the files: resolves the paths that
 * exist as profile_check_files() does and leaves the others as parsed.
 * Returns 0, or -EINVAL and the problems (a canonical path that cannot go
 * into a config) in *ERRORS. */
int profile_resolve_paths(struct profile *p, char ***errors);

/* Line where a field was set, e.g. "bridge.address", "boot.rescue.kernel",
 * "boot.rescue.initrd[1]"; a section's own line for "bridge", "boot.rescue";
 * 0 when not set in the file. */
unsigned profile_line(const struct profile *p, const char *field);

void profile_free(struct profile *p);
static inline void profile_freep(struct profile **p) { profile_free(*p); }
