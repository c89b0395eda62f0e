/* The parsed profile as data: what profile_parse() fills and everything
 * downstream (model, render, up) reads. Paths are absolute. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/rules.h"

struct profile_kind;            /* profile/kind.h */

struct boot_entry {
        char *name;                 /* [a-z0-9_-], unique */
        char *title;                /* defaults to name */
        const struct profile_kind *kind;   /* one of the table given to profile_parse() */
        unsigned line;              /* line of `boot "NAME" {` */
        /* The kind's own values (src/kinds/KIND.c: paths absolute, made
         * canonical by profile_check_files(), files served under their base
         * name as written), freed by the kind's done(). */
        void *kind_data;
};

struct host {
        char *name;
        char *mac;                  /* normalised: lower-case, colon separated */
        char *ip;                   /* NULL when not fixed */
        char *boot;                 /* NULL: the menu */
        char *uefi_loader;          /* "ipxe" | "shim": its own, else the lab's */
        char *disk;                 /* its own disk image (absolute), for an entry that
                                     * boots one (kind iscsi); NULL: none */
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
        /* Secure Boot (profile/secboot.h): what x86-64 UEFI PXE clients are
         * handed, "ipxe" (default) or "shim"; with any "shim" client the
         * signed shim and Debian's network GRUB (absolute paths; shim
         * defaults to the first of uefiloader.h's search paths that exists). */
        char *uefi_loader;
        char *shim;                 /* NULL unless some client gets shim */
        char *grub;                 /* NULL unless some client gets shim */
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
                /* physical ports pxelab adds to the bridge (unique, never
                 * the bridge or the uplink); NULL-terminated, never NULL */
                char **ports;
        } bridge;
        struct {
                char *mode;         /* server | proxy */
                /* proxy: the LAN interface the lab serves on (it is
                 * bridge.name too, and bridge.address is read from it by
                 * profile_set_address(), not parsed) */
                bool proxy;
                char *interface;
                struct in_addr range_start, range_end;
                char *lease;        /* "12h", "30m", "3600", "infinite" */
                bool probe;         /* look for another DHCP server on each port first (default true) */
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

