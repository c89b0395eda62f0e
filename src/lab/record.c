/* The lab's record: one typed structure, loaded, checked and saved here
 * only. See record.h. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "basic/fault.h"
#include "basic/log.h"
#include "basic/names.h"
#include "basic/rules.h"
#include "basic/util.h"
#include "lab/record.h"

/* ---- names derived from the lab name ----------------------------------- */

char *lab_unit_name(const char *lab, const char *service) {
        return xasprintf("pxelab-%s-%s.service", lab, service);
}

char *lab_vm_unit_name(const char *lab, const char *vm) {
        return xasprintf("pxelab-%s-vm-%s.service", lab, vm);
}

char *lab_slice_name(const char *lab) {
        /* systemd reads each '-' of a slice name as one level down:
         * pxelab-a-b.slice would sit inside pxelab-a.slice, and stopping
         * lab "a" would stop lab "a-b". '_' is no lab name's character. */
        char *s = xasprintf("pxelab-%s.slice", lab);
        for (char *c = s + strlen("pxelab-"); *c != '.'; c++)
                if (*c == '-')
                        *c = '_';
        return s;
}

char *lab_nft_table_name(const char *lab) {
        return xasprintf("pxelab-%s", lab);
}

char *lab_tftp_mount(const char *lab) {
        return xasprintf("%s/%s/tftp", PXELAB_RUN_ROOT, lab);
}

char *lab_link_mark(const char *lab) {
        return xasprintf("pxelab:%s", lab);
}

/* A lab's bridge is made with this address: the only mark the kernel takes
 * in the create request itself (it ignores an alias there), so a bridge
 * that outlives a killed `up` is marked too. Locally administered, "px"
 * after the 02, then 24 bits of FNV-1a of the lab name. */
char *lab_link_mac(const char *lab) {
        uint32_t h = 2166136261u;

        for (const unsigned char *c = (const unsigned char *) lab; *c; c++)
                h = (h ^ *c) * 16777619u;
        return xasprintf("02:70:78:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

char *lab_serial_mount(const char *lab) {
        return xasprintf("%s/%s/serial", PXELAB_RUN_ROOT, lab);
}

char *lab_vm_log_path(const char *lab, const char *vm) {
        return xasprintf("%s/%s/serial/%s.log", PXELAB_RUN_ROOT, lab, vm);
}

char *lab_vm_dir(const char *lab, const char *vm) {
        return xasprintf("%s/%s/vm/%s", PXELAB_STATE_ROOT, lab, vm);
}

/* ---- the structure ----------------------------------------------------- */

static char **strv_new(void) {
        return xcalloc(1, sizeof(char *));
}

static size_t strv_len(char **v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static void strv_push(char ***v, const char *s) {
        size_t n = strv_len(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

struct lab_record *lab_record_new(const char *lab, const char *profile, const char *address) {
        struct lab_record *rec = xcalloc(1, sizeof(*rec));

        rec->lab = xstrdup(lab);
        rec->profile = xstrdup(profile);
        rec->address = xstrdup(address);
        rec->run_dir = lab_run_dir(lab);
        rec->state_dir = lab_state_dir(lab);
        rec->slice = lab_slice_name(lab);
        rec->units = strv_new();
        rec->mounts = strv_new();
        return rec;
}

void lab_vm_done(struct lab_vm *vm) {
        free(vm->name);
        free(vm->firmware);
        free(vm->mac);
        free(vm->disk);
        free(vm->tap);
        free(vm->unit);
        free(vm->log);
        free(vm->dir);
        free(vm->accel);
        free(vm->vnc);
        *vm = (struct lab_vm) {};
}

void lab_record_free(struct lab_record *rec) {
        if (!rec)
                return;
        free(rec->lab);
        free(rec->profile);
        free(rec->run_dir);
        free(rec->state_dir);
        free(rec->slice);
        free(rec->address);
        free(rec->boot_url);
        free(rec->bridge.name);
        free(rec->bridge.type);
        free(rec->bridge.ovsdb);
        strv_free(rec->bridge.addresses);
        free(rec->nft_table);
        free(rec->nft_uplink);
        free(rec->proxy_interface);
        strv_free(rec->units);
        strv_free(rec->mounts);
        for (size_t i = 0; i < rec->n_vms; i++)
                lab_vm_done(&rec->vms[i]);
        free(rec->vms);
        for (size_t i = 0; i < rec->n_ports; i++) {
                free(rec->ports[i].name);
                free(rec->ports[i].master);
        }
        free(rec->ports);
        free(rec);
}

struct lab_vm *lab_record_vm(struct lab_record *rec, const char *name) {
        for (size_t i = 0; rec && i < rec->n_vms; i++)
                if (streq(rec->vms[i].name, name))
                        return &rec->vms[i];
        return NULL;
}

static int vm_cmp(const void *a, const void *b) {
        return strcmp(((const struct lab_vm *) a)->name, ((const struct lab_vm *) b)->name);
}

struct lab_vm *lab_record_put_vm(struct lab_record *rec, struct lab_vm *vm) {
        char *name = xstrdup(vm->name);
        struct lab_vm *old = lab_record_vm(rec, vm->name), *ret;

        if (old) {
                lab_vm_done(old);
                *old = *vm;
        } else {
                rec->vms = xrealloc(rec->vms, (rec->n_vms + 1) * sizeof(*rec->vms));
                rec->vms[rec->n_vms++] = *vm;
        }
        *vm = (struct lab_vm) {};
        qsort(rec->vms, rec->n_vms, sizeof(*rec->vms), vm_cmp);
        ret = lab_record_vm(rec, name);
        free(name);
        return ret;
}

void lab_record_del_vm(struct lab_record *rec, const char *name) {
        struct lab_vm *vm = lab_record_vm(rec, name);
        size_t i;

        if (!vm)
                return;
        i = vm - rec->vms;
        lab_vm_done(vm);
        memmove(&rec->vms[i], &rec->vms[i + 1], (rec->n_vms - i - 1) * sizeof(*rec->vms));
        rec->n_vms--;
}

bool lab_record_add_mount(struct lab_record *rec, const char *path) {
        for (char **m = rec->mounts; *m; m++)
                if (streq(*m, path))
                        return false;
        strv_push(&rec->mounts, path);
        return true;
}

int lab_record_save_mount(struct lab_record *rec, const char *path) {
        return lab_record_add_mount(rec, path) ? lab_record_save(rec) : 0;
}

struct lab_port *lab_record_port(struct lab_record *rec, const char *name) {
        for (size_t i = 0; rec && i < rec->n_ports; i++)
                if (streq(rec->ports[i].name, name))
                        return &rec->ports[i];
        return NULL;
}

struct lab_port *lab_record_add_port(struct lab_record *rec, struct lab_port *port) {
        rec->ports = xrealloc(rec->ports, (rec->n_ports + 1) * sizeof(*rec->ports));
        rec->ports[rec->n_ports] = *port;
        *port = (struct lab_port) {};
        return &rec->ports[rec->n_ports++];
}

void lab_record_del_port(struct lab_record *rec, const char *name) {
        struct lab_port *p = lab_record_port(rec, name);
        size_t i;

        if (!p)
                return;
        i = p - rec->ports;
        free(p->name);
        free(p->master);
        memmove(&rec->ports[i], &rec->ports[i + 1], (rec->n_ports - i - 1) * sizeof(*rec->ports));
        rec->n_ports--;
}

bool lab_record_add_unit(struct lab_record *rec, const char *unit) {
        for (char **u = rec->units; *u; u++)
                if (streq(*u, unit))
                        return false;
        strv_push(&rec->units, unit);
        return true;
}

bool lab_record_del_unit(struct lab_record *rec, const char *unit) {
        size_t n = strv_len(rec->units);

        for (size_t i = 0; i < n; i++)
                if (streq(rec->units[i], unit)) {
                        free(rec->units[i]);
                        memmove(&rec->units[i], &rec->units[i + 1], (n - i) * sizeof(char *));
                        return true;
                }
        return false;
}

/* ---- JSON on disk ------------------------------------------------------ */

/* A lab with a thousand VMs has a record of well under a MiB. */
#define RECORD_MAX (4u << 20)

static char *record_path(const char *lab) {
        return xasprintf("%s/%s/state.json", PXELAB_RUN_ROOT, lab);
}

static json_t *strv_json(char **v) {
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

json_t *lab_vm_json(const struct lab_vm *vm) {
        return json_pack("{s:s, s:s?, s:s?, s:I, s:s?, s:s?, s:s, s:s, s:s, s:s?, s:s?}", "name", vm->name,
                         "firmware", vm->firmware, "mac", vm->mac, "memory", (json_int_t) vm->memory, "disk", vm->disk,
                         "tap", vm->tap, "unit", vm->unit, "log", vm->log, "dir", vm->dir, "accel", vm->accel, "vnc",
                         vm->vnc);
}

static json_t *record_json(const struct lab_record *rec) {
        json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s?, s:s?, s:o, s:o}", "lab", rec->lab, "profile",
                              rec->profile, "run_dir", rec->run_dir, "state_dir", rec->state_dir, "slice", rec->slice,
                              "address", rec->address, "boot_url", rec->boot_url, "units", strv_json(rec->units),
                              "mounts", strv_json(rec->mounts));
        json_t *vms = json_object();

        if (rec->has_bridge) {
                json_t *br = json_pack("{s:s, s:s, s:b, s:o}", "name", rec->bridge.name, "type", rec->bridge.type,
                                       "created", rec->bridge.created, "addresses", strv_json(rec->bridge.addresses));
                if (rec->bridge.ovsdb)
                        json_object_set_new(br, "ovsdb", json_string(rec->bridge.ovsdb));
                json_object_set_new(o, "bridge", br);
        }
        if (rec->has_nft)
                json_object_set_new(o, "nft", json_pack("{s:s, s:s, s:s?}", "table", rec->nft_table, "family", "inet",
                                                        "uplink", rec->nft_uplink));
        if (rec->forwarding)
                json_object_set_new(o, "forwarding", json_true());
        if (rec->proxy_interface)
                json_object_set_new(o, "proxy_interface", json_string(rec->proxy_interface));
        for (size_t i = 0; i < rec->n_vms; i++)
                json_object_set_new(vms, rec->vms[i].name, lab_vm_json(&rec->vms[i]));
        json_object_set_new(o, "vms", vms);
        if (rec->n_ports > 0) {
                json_t *ports = json_array();
                for (size_t i = 0; i < rec->n_ports; i++) {
                        const struct lab_port *pt = &rec->ports[i];
                        json_t *po = json_pack("{s:s, s:s?, s:b, s:b, s:I}", "name", pt->name, "master", pt->master,
                                               "up", pt->up, "noarp", pt->noarp, "mtu", (json_int_t) pt->mtu);
                        if (pt->nm_managed >= 0)
                                json_object_set_new(po, "nm_managed", json_boolean(pt->nm_managed));
                        json_array_append_new(ports, po);
                }
                json_object_set_new(o, "ports", ports);
        }
        return o;
}

int lab_record_save(const struct lab_record *rec) {
        _cleanup_free_ char *p = record_path(rec->lab), *s = NULL;
        json_t *o;
        int r;

        r = mkdir_p(PXELAB_RUN_ROOT, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", PXELAB_RUN_ROOT);
        if (mkdir(rec->run_dir, 0700) == 0)
                fault_point("rundir");  /* the run dir without a record: `down` removes it */
        else if (errno != EEXIST)
                return log_error_errno(errno, "Failed to create '%s'", rec->run_dir);
        o = record_json(rec);
        s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(o);
        if (!s)
                return log_error_errno(ENOMEM, "Failed to serialise the record of lab '%s'", rec->lab);
        r = write_file_atomic(p, s, strlen(s), 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write '%s'", p);
        return 0;
}

/* ---- reading: nothing is taken on trust -------------------------------- */

struct loader {
        const char *path;
        const char *lab;
        bool bad;               /* the shape is wrong: refuse the whole record */
};

/* A string field, or NULL when absent; a field of another type spoils the
 * record. */
static char *get_str(struct loader *l, json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return NULL;
        if (!json_is_string(v)) {
                log_error("%s: '%s' is not a string", l->path, key);
                l->bad = true;
                return NULL;
        }
        return xstrdup(json_string_value(v));
}

static char **get_strv(struct loader *l, json_t *o, const char *key) {
        json_t *a = json_object_get(o, key), *v;
        char **ret = strv_new();
        size_t i;

        if (!a)
                return ret;
        if (!json_is_array(a)) {
                log_error("%s: '%s' is not a list", l->path, key);
                l->bad = true;
                return ret;
        }
        json_array_foreach(a, i, v) {
                if (!json_is_string(v)) {
                        log_error("%s: '%s' holds a value that is not a string", l->path, key);
                        l->bad = true;
                        continue;
                }
                strv_push(&ret, json_string_value(v));
        }
        return ret;
}

/* A derived name the record must agree with: the derived one is used, and a
 * record saying otherwise is told in one line. */
static char *derived(struct loader *l, char *recorded, char *derived_name, const char *what) {
        if (recorded && !streq(recorded, derived_name))
                log_warn("%s: ignoring %s '%s', which is not lab '%s''s ('%s')", l->path, what, recorded, l->lab,
                         derived_name);
        free(recorded);
        return derived_name;
}

/* A service unit of the lab: pxelab-LAB-WORD.service (WORD of a-z), or the
 * unit of one of its recorded VMs. */
static bool unit_of_lab(const struct lab_record *rec, const char *unit) {
        _cleanup_free_ char *prefix = xasprintf("pxelab-%s-", rec->lab);
        const char *w;
        size_t n;

        if (strncmp(unit, prefix, strlen(prefix)) != 0)
                return false;
        for (size_t i = 0; i < rec->n_vms; i++)
                if (streq(unit, rec->vms[i].unit))
                        return true;
        w = unit + strlen(prefix);
        n = strspn(w, "abcdefghijklmnopqrstuvwxyz");
        return n > 0 && streq(w + n, ".service");
}

/* An image path goes into QEMU's command line: absolute, no control
 * characters. A SIZE is fine as it is. */
static bool disk_ok(const char *disk) {
        if (!disk)
                return true;
        if (disk[0] != '/')
                return strspn(disk, "0123456789") > 0 && strspn(disk, "0123456789MGT") == strlen(disk);
        for (const unsigned char *c = (const unsigned char *) disk; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return false;
        return true;
}

static void load_vm(struct loader *l, struct lab_record *rec, const char *name, json_t *o) {
        struct lab_vm vm = {};
        json_t *mem = json_object_get(o, "memory");

        if (!json_is_object(o) || !rule_name_valid(name)) {
                log_warn("%s: ignoring VM '%s' (not a VM name, or not a VM)", l->path, name);
                return;
        }
        vm.name = xstrdup(name);
        vm.firmware = get_str(l, o, "firmware");
        vm.mac = get_str(l, o, "mac");
        vm.memory = json_is_integer(mem) ? (long) json_integer_value(mem) : 0;
        vm.disk = get_str(l, o, "disk");
        vm.tap = get_str(l, o, "tap");
        vm.accel = get_str(l, o, "accel");
        vm.vnc = get_str(l, o, "vnc");
        vm.unit = derived(l, get_str(l, o, "unit"), lab_vm_unit_name(l->lab, name), "unit");
        vm.log = derived(l, get_str(l, o, "log"), lab_vm_log_path(l->lab, name), "log");
        vm.dir = derived(l, get_str(l, o, "dir"), lab_vm_dir(l->lab, name), "directory");
        if (!disk_ok(vm.disk)) {
                log_warn("%s: ignoring the disk '%s' of VM '%s' (neither a size nor an absolute path)", l->path,
                         vm.disk, name);
                free(TAKE_PTR(vm.disk));
        }
        lab_record_put_vm(rec, &vm);
}

static void load_bridge(struct loader *l, struct lab_record *rec, json_t *br) {
        if (!br)
                return;
        if (!json_is_object(br)) {
                log_error("%s: 'bridge' is not an object", l->path);
                l->bad = true;
                return;
        }
        rec->has_bridge = true;
        rec->bridge.name = get_str(l, br, "name");
        rec->bridge.type = get_str(l, br, "type");
        rec->bridge.ovsdb = get_str(l, br, "ovsdb");
        rec->bridge.created = json_is_true(json_object_get(br, "created"));
        rec->bridge.addresses = get_strv(l, br, "addresses");
        if (!rec->bridge.type)
                rec->bridge.type = xstrdup("linux");
        if (!rec->bridge.name || (!streq(rec->bridge.type, "linux") && !streq(rec->bridge.type, "ovs"))) {
                log_error("%s: the bridge has no name or an unknown type", l->path);
                l->bad = true;
        }
}

/* A port is given back to its old master, so both must be interface
 * names; an MTU out of the kernel's range is not restored. */
static void load_ports(struct loader *l, struct lab_record *rec, json_t *a) {
        json_t *o;
        size_t i;

        if (!a)
                return;
        if (!json_is_array(a)) {
                log_error("%s: 'ports' is not a list", l->path);
                l->bad = true;
                return;
        }
        json_array_foreach(a, i, o) {
                struct lab_port pt = { .nm_managed = -1 };
                json_t *mtu = json_object_get(o, "mtu"), *nm = json_object_get(o, "nm_managed");

                if (!json_is_object(o)) {
                        log_warn("%s: ignoring port %zu (not an object)", l->path, i);
                        continue;
                }
                pt.name = get_str(l, o, "name");
                pt.master = get_str(l, o, "master");
                if (!rule_ifname_valid(pt.name) || (pt.master && !rule_ifname_valid(pt.master)) ||
                    lab_record_port(rec, pt.name)) {
                        log_warn("%s: ignoring port '%s' (not an interface name, or listed twice)", l->path,
                                 pt.name ? pt.name : "");
                        free(pt.name);
                        free(pt.master);
                        continue;
                }
                pt.up = json_is_true(json_object_get(o, "up"));
                pt.noarp = json_is_true(json_object_get(o, "noarp"));
                pt.mtu = json_is_integer(mtu) && json_integer_value(mtu) >= 68 && json_integer_value(mtu) <= 65535
                        ? (unsigned) json_integer_value(mtu) : 0;
                if (json_is_boolean(nm))
                        pt.nm_managed = json_is_true(nm);
                lab_record_add_port(rec, &pt);
        }
}

static void load_units(struct loader *l, struct lab_record *rec, json_t *o) {
        _cleanup_strv_free_ char **units = get_strv(l, o, "units"), **mounts = get_strv(l, o, "mounts");
        _cleanup_free_ char *tftp = lab_tftp_mount(rec->lab), *serial = lab_serial_mount(rec->lab);

        for (char **u = units; *u; u++) {
                if (unit_of_lab(rec, *u))
                        lab_record_add_unit(rec, *u);
                else
                        log_warn("%s: ignoring unit '%s', which is not one of lab '%s'", l->path, *u, rec->lab);
        }
        for (char **m = mounts; *m; m++) {
                if (streq(*m, tftp) || streq(*m, serial))
                        lab_record_add_mount(rec, *m);
                else
                        log_warn("%s: ignoring mount '%s', which is not lab '%s''s ('%s' or '%s')", l->path, *m,
                                 rec->lab, tftp, serial);
        }
}

static int record_from_json(struct loader *l, json_t *o, struct lab_record **ret) {
        _cleanup_(lab_record_freep) struct lab_record *rec = NULL;
        _cleanup_free_ char *lab = NULL;
        json_t *nft = json_object_get(o, "nft"), *vm;
        const char *name;

        if (!json_is_object(o)) {
                log_error("%s: not a lab record", l->path);
                return -EBADMSG;
        }
        lab = get_str(l, o, "lab");
        if (!streq(lab, l->lab)) {
                log_error("%s: the record is of lab '%s', not '%s'; leaving everything it names alone", l->path,
                          strempty(lab) ? "" : lab, l->lab);
                return -EBADMSG;
        }
        rec = lab_record_new(l->lab, NULL, NULL);
        rec->profile = get_str(l, o, "profile");
        rec->address = get_str(l, o, "address");
        rec->boot_url = get_str(l, o, "boot_url");
        rec->run_dir = derived(l, get_str(l, o, "run_dir"), rec->run_dir, "run directory");
        rec->state_dir = derived(l, get_str(l, o, "state_dir"), rec->state_dir, "state directory");
        rec->slice = derived(l, get_str(l, o, "slice"), rec->slice, "slice");
        load_bridge(l, rec, json_object_get(o, "bridge"));
        if (nft) {
                rec->has_nft = true;
                rec->nft_table = derived(l, get_str(l, nft, "table"), lab_nft_table_name(l->lab), "nftables table");
                rec->nft_uplink = get_str(l, nft, "uplink");
        }
        rec->forwarding = json_is_true(json_object_get(o, "forwarding"));
        rec->proxy_interface = get_str(l, o, "proxy_interface");
        json_object_foreach(json_object_get(o, "vms"), name, vm)
                load_vm(l, rec, name, vm);
        load_units(l, rec, o);
        load_ports(l, rec, json_object_get(o, "ports"));
        if (l->bad)
                return -EBADMSG;
        *ret = TAKE_PTR(rec);
        return 0;
}

int lab_record_parse(const char *lab, const char *path, const char *text, struct lab_record **ret) {
        struct loader l = { .lab = lab, .path = path };
        json_error_t err;
        json_t *o;
        int r;

        if (!lab_name_valid(lab)) {
                log_error("'%s' is not a lab name (%s)", strempty(lab) ? "" : lab, LAB_NAME_RULE);
                return -EINVAL;
        }
        o = json_loads(text, 0, &err);
        if (!o) {
                log_error("Failed to read lab record '%s': %s (line %d)", path, err.text, err.line);
                return -EBADMSG;
        }
        r = record_from_json(&l, o, ret);
        json_decref(o);
        return r;
}

int lab_record_load(const char *lab, struct lab_record **ret) {
        _cleanup_free_ char *p = NULL, *text = NULL;
        int r;

        if (!lab_name_valid(lab)) {
                log_error("'%s' is not a lab name (%s)", strempty(lab) ? "" : lab, LAB_NAME_RULE);
                return -EINVAL;
        }
        p = record_path(lab);
        /* A regular file (not a FIFO or device someone put there), of a
         * sane size. */
        r = read_regular_file(p, RECORD_MAX, &text, NULL);
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                char what[64];
                log_error("Failed to read the record '%s': %s", p, read_regular_file_error(r, RECORD_MAX, what, sizeof(what)));
                return -EBADMSG;
        }
        return lab_record_parse(lab, p, text, ret);
}

char *lab_record_owner(const char *self, bool (*match)(struct lab_record *rec, const char *name), const char *name) {
        _cleanup_strv_free_ char **labs = NULL;
        state_list_labs(&labs);
        for (char **l = labs; l && *l; l++) {
                _cleanup_(lab_record_freep) struct lab_record *st = NULL;
                if (streq(*l, self) || lab_record_load(*l, &st) < 0)
                        continue;
                if (match(st, name))
                        return xstrdup(*l);
        }
        return NULL;
}
