/* The lab's record of everything it made, as one typed structure:
 * /run/pxelab/LAB/state.json (JSON on disk, written atomically, 0600, in a
 * directory no service can write). Every resource is written here *before*
 * it is created, so `down` can undo a crashed `up` from this file alone.
 *
 * This module is the only one that reads or writes the file, and the only
 * one that decides what a record may say. A record is input like any other:
 * lab_record_load() refuses one whose "lab" is not the lab it was read for,
 * and drops (saying so in one line each) what a record of that lab cannot
 * hold: a unit, slice, table, mount or directory that is not the one derived
 * from the lab's name, a VM whose name breaks the rule. What can be derived
 * from the lab name is derived here (lab_unit_name() and friends), and
 * `down` uses the derived names only.
 *
 * Names of a lab LAB (validated by lab_name_valid()):
 *   units   pxelab-LAB-SERVICE.service (SERVICE a word: dnsmasq, nginx,
 *           smbd) and pxelab-LAB-vm-NAME.service (a VM);
 *   slice   pxelab-LAB.slice, each '-' of LAB written '_' (systemd reads '-'
 *           in a slice name as nesting: stopping lab "a" must not stop "a-b");
 *   table   inet pxelab-LAB;
 *   dirs    /run/pxelab/LAB (run), /var/lib/pxelab/LAB (state);
 *   mount   /run/pxelab/LAB/tftp (nosymfollow, see symguard.h);
 *   mark    IFLA_IFALIAS "pxelab:LAB" on the links pxelab makes for the lab
 *           (its Linux bridge, its VMs' taps): a link without it is not the
 *           lab's, whatever a record says. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "lab/state.h"

char *lab_unit_name(const char *lab, const char *service);   /* pxelab-LAB-SERVICE.service */
char *lab_vm_unit_name(const char *lab, const char *vm);     /* pxelab-LAB-vm-VM.service */
char *lab_slice_name(const char *lab);                       /* pxelab-LAB.slice, '-' in LAB as '_' */
char *lab_nft_table_name(const char *lab);                   /* pxelab-LAB (family inet) */
char *lab_tftp_mount(const char *lab);                       /* /run/pxelab/LAB/tftp */
char *lab_serial_mount(const char *lab);                     /* RUN/LAB/serial */
char *lab_link_mark(const char *lab);                        /* pxelab:LAB */
char *lab_link_mac(const char *lab);                         /* 02:70:78:XX:XX:XX */
char *lab_vm_log_path(const char *lab, const char *vm);      /* /run/pxelab/LAB/serial/VM.log */
char *lab_vm_dir(const char *lab, const char *vm);           /* /var/lib/pxelab/LAB/vm/VM */

/* One VM of the lab (`pxelab vm start`), recorded before anything of it is
 * made. unit, log and dir are derived from the lab and NAME. */
struct lab_vm {
        char *name;
        char *firmware;         /* bios | uefi | uefi-pxe */
        char *mac;              /* 52:54:00:xx:xx:xx */
        long memory;            /* MiB */
        char *disk;             /* NULL, a SIZE ("20G") or an absolute image path */
        char *tap;              /* pxt-LAB-N */
        char *unit;
        char *log;
        char *dir;
        char *accel;            /* kvm | tcg */
        char *vnc;              /* NULL or 127.0.0.1:N */
};

struct lab_record_bridge {
        char *name;
        char *type;             /* linux | ovs */
        char *ovsdb;            /* OVS: ovsdb-server's socket */
        bool created;           /* pxelab made it (else: borrowed, existing = "use") */
        char **addresses;       /* the addresses pxelab added (NULL-terminated) */
};

/* A physical port (bridge.ports) as it was before `up` touched it, recorded
 * before any change, so that `down` gives it back exactly so. */
struct lab_port {
        char *name;
        char *master;           /* its master before, NULL: none */
        bool up;
        bool noarp;
        unsigned mtu;
        int nm_managed;         /* -1: NetworkManager was not asked; 0/1: its Managed before */
};

struct lab_record {
        char *lab;
        char *profile;          /* absolute path of the profile */
        char *run_dir;          /* derived */
        char *state_dir;        /* derived */
        char *slice;            /* derived */
        char *address;          /* the lab's CIDR */
        char *boot_url;         /* NULL until rendered */
        char *proxy_interface;  /* a proxy DHCP lab's LAN interface (it has no bridge); NULL: none */
        bool has_bridge;
        struct lab_record_bridge bridge;
        bool has_nft;
        char *nft_table;        /* derived */
        char *nft_uplink;       /* NULL: none */
        bool forwarding;        /* this lab switched ip_forward on (or needs it) */
        char **units;           /* the lab's service units (NULL-terminated, never NULL) */
        char **mounts;          /* at most the derived TFTP and serial mounts */
        struct lab_vm *vms;     /* sorted by name */
        size_t n_vms;
        struct lab_port *ports; /* in the profile's order */
        size_t n_ports;
};

/* A fresh record of LAB (valid name) from PROFILE with ADDRESS. */
struct lab_record *lab_record_new(const char *lab, const char *profile, const char *address);
void lab_record_free(struct lab_record *rec);
static inline void lab_record_freep(struct lab_record **p) {
        lab_record_free(*p);
}

/* Loads the record of LAB. -ENOENT (quiet) when the lab has none; -EINVAL
 * (logged) for a LAB that breaks the rule; -EBADMSG (logged) for a file
 * that is not a record of LAB (unparsable, the wrong shape, or its "lab"
 * naming another lab). What a record of LAB cannot hold is dropped, one
 * warning line each (see above). */
int lab_record_load(const char *lab, struct lab_record **ret);
/* The same for TEXT, the content of PATH (named in messages): the seam the
 * unit tests use. */
int lab_record_parse(const char *lab, const char *path, const char *text, struct lab_record **ret);
/* Writes REC atomically (0600), creating the run dir (0700) when needed. */
int lab_record_save(const struct lab_record *rec);
/* The first lab other than SELF whose record MATCH accepts (given NAME), as
 * a new string, or NULL: who already holds a bridge or a port. Records that
 * do not load are skipped (load logs them). */
char *lab_record_owner(const char *self, bool (*match)(struct lab_record *rec, const char *name), const char *name);

/* The VM NAME of REC, or NULL. */
struct lab_vm *lab_record_vm(struct lab_record *rec, const char *name);
/* Adds VM (taking its strings) or replaces the one of its name; returns it. */
struct lab_vm *lab_record_put_vm(struct lab_record *rec, struct lab_vm *vm);
/* Removes VM NAME (nothing when there is none). */
void lab_record_del_vm(struct lab_record *rec, const char *name);
void lab_vm_done(struct lab_vm *vm);
/* VM as its JSON object in the record (and in `status`, `vm list`). */
json_t *lab_vm_json(const struct lab_vm *vm);

/* The port NAME of REC, or NULL. */
struct lab_port *lab_record_port(struct lab_record *rec, const char *name);
/* Appends PORT (taking its strings); returns it. */
struct lab_port *lab_record_add_port(struct lab_record *rec, struct lab_port *port);
/* Removes port NAME (nothing when there is none). */
void lab_record_del_port(struct lab_record *rec, const char *name);

/* Adds UNIT to REC's units unless it is there: true when added. */
bool lab_record_add_unit(struct lab_record *rec, const char *unit);
/* Adds PATH to the record's mounts: true, or false when it is there. */
bool lab_record_add_mount(struct lab_record *rec, const char *path);
/* Records PATH as a mount of REC and saves REC when that is new: the step
 * before anything is mounted there, so that `down` finds a mount a crash
 * left. */
int lab_record_save_mount(struct lab_record *rec, const char *path);
/* Removes UNIT: true when it was there. */
bool lab_record_del_unit(struct lab_record *rec, const char *unit);
