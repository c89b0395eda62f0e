/* Boot kind `iscsi`. See iscsi.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/json.h"
#include "basic/log.h"
#include "basic/rules.h"
#include "basic/secret.h"
#include "basic/util.h"
#include "host/units.h"
#include "kinds/iscsi.h"
#include "kinds/kind.h"
#include "profile/build.h"
#include "profile/files.h"
#include "render/render.h"
#include "render/template.h"

static const struct kind_key iscsi_keys[] = { ISCSI_DISK_KEYS, {} };

const struct iscsi_entry *iscsi_disk_of(const struct boot_entry *b) {
        const struct kind *k = kind_of(b);
        return k && k->iscsi ? k->iscsi(b) : NULL;
}

bool iscsi_lab_uses(const struct profile *p) {
        for (size_t i = 0; i < p->n_boots; i++)
                if (iscsi_disk_of(&p->boots[i]))
                        return true;
        return false;
}

void iscsi_disk_build(struct entry_builder *eb, struct iscsi_entry *d, bool disk_required) {
        const char *size = entry_value(eb, "size"), *chap = entry_value(eb, "chap");

        d->disk = entry_path(eb, "disk", disk_required);
        if (size) {
                if (rule_disk_form(size) == DISK_SIZE)
                        d->size = xstrdup(size);
                else
                        entry_problem_value(eb, "size", "is not a disk size (1-6 digits, then M, G or T, e.g. \"40G\")");
        }
        if (chap && !streq(chap, "on") && !streq(chap, "off"))
                entry_problem_value(eb, "chap", "must be one of: on, off");
        d->chap = chap && streq(chap, "on");
}

static void iscsi_build(struct entry_builder *eb, struct boot_entry *e) {
        struct iscsi_entry *d = e->kind_data = xcalloc(1, sizeof(*d));
        iscsi_disk_build(eb, d, true);
}

/* A missing image is fine when `up` may make it (a size is given). */
void iscsi_disk_check_files(struct entry_checker *ec, const struct boot_entry *e, struct iscsi_entry *d) {
        if (!d->disk || entry_check_missing_ok(ec))
                return;
        if (access(d->disk, F_OK) < 0 && !d->size) {
                entry_check_problem(ec, e, "disk", "does not exist; give size = \"SIZE\" (e.g. \"40G\") and up makes it, sparse");
                return;
        }
        if (access(d->disk, F_OK) < 0) {
                _cleanup_free_ char *dir = xstrdup(d->disk);
                char *slash = strrchr(dir, '/');
                struct stat st;
                if (slash)
                        *(slash == dir ? slash + 1 : slash) = 0;
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        entry_check_problem(ec, e, "disk", "cannot be made: its directory '%s' does not exist", dir);
                return;
        }
        entry_check_file(ec, e, "disk", &d->disk);
        if (d->disk && access(d->disk, F_OK) == 0 && access(d->disk, W_OK) < 0)
                entry_check_problem(ec, e, "disk", "is not writable: a machine boots and writes it");
}

static void iscsi_check_files(struct entry_checker *ec, struct boot_entry *e) {
        iscsi_disk_check_files(ec, e, e->kind_data);
}

void iscsi_disk_clear(struct iscsi_entry *d) {
        if (!d)
                return;
        free(d->disk);
        free(d->size);
        d->disk = d->size = NULL;
}

static const struct iscsi_entry *iscsi_own(const struct boot_entry *b) {
        return b->kind_data;
}

static void iscsi_done(struct boot_entry *e) {
        iscsi_disk_clear(e->kind_data);
        free(e->kind_data);
}

unsigned iscsi_control_port(const char *lab) {
        uint32_t h = 2166136261u;
        for (const char *c = lab; *c; c++)
                h = (h ^ (uint8_t) *c) * 16777619u;
        return 1000 + h % 30000;
}

/* "iqn.2026-12.lab.pxelab:LAB:NAME", '_' (not allowed in an IQN) as '.'. */
static char *iqn_of(const char *lab, const char *name) {
        char *s = xasprintf("%s:%s:%s", ISCSI_IQN_PREFIX, lab, name);
        for (char *c = s; *c; c++)
                if (*c == '_')
                        *c = '.';
        return s;
}

static const struct boot_entry *entry_named(const struct profile *p, const char *name) {
        for (size_t i = 0; name && i < p->n_boots; i++)
                if (streq(p->boots[i].name, name))
                        return &p->boots[i];
        return NULL;
}

static char *target_url(const struct profile *p, const char *iqn) {
        char a[INET_ADDRSTRLEN];
        /* tgt's LUN 0 is its controller; the disk is LUN 1. */
        return xasprintf("iscsi:%s:::1:%s", inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)), iqn);
}

/* Two targets on one image would be two machines writing one disk: every
 * disk of the lab's entries and their hosts is a different file. A host's
 * disk is for an entry that attaches one: elsewhere it would be ignored. */
static int check_disks(const struct profile *p) {
        size_t n = 0, cap = p->n_boots + p->n_hosts;
        _cleanup_free_ char **real = xcalloc(cap + 1, sizeof(char *));
        _cleanup_free_ const char **field = xcalloc(cap + 1, sizeof(char *));
        _cleanup_free_ unsigned *line = xcalloc(cap + 1, sizeof(unsigned));
        _cleanup_free_ const char **what = xcalloc(cap + 1, sizeof(char *));
        int r = 0;

        for (size_t i = 0; i < p->n_hosts && r == 0; i++) {
                const struct host *h = &p->hosts[i];
                _cleanup_free_ char *key = xasprintf("host.%s.disk", h->name);
                const struct boot_entry *b = entry_named(p, h->boot);
                unsigned l = profile_line(p, key);
                if (h->disk && (!b || !iscsi_disk_of(b))) {
                        log_error("%s:%u: %s: '%s' is for a host that boots an iscsi entry or a windows entry with "
                                  "install_to = \"iscsi\"; %s",
                                  p->path, l ? l : h->line, key, h->disk,
                                  b ? "this host's entry attaches no disk" : "this host has no boot entry");
                        r = -EINVAL;
                }
        }
        for (size_t i = 0; i < p->n_boots; i++) {
                const struct iscsi_entry *d = iscsi_disk_of(&p->boots[i]);
                if (!d || !d->disk)
                        continue;
                real[n] = realpath(d->disk, NULL);
                if (!real[n])
                        real[n] = xstrdup(d->disk);
                field[n] = p->boots[i].name;
                what[n] = "boot";
                line[n++] = p->boots[i].line;
        }
        for (size_t i = 0; i < p->n_hosts; i++) {
                const struct boot_entry *b = entry_named(p, p->hosts[i].boot);
                if (!b || !iscsi_disk_of(b) || !p->hosts[i].disk)
                        continue;
                real[n] = realpath(p->hosts[i].disk, NULL);
                if (!real[n])
                        real[n] = xstrdup(p->hosts[i].disk);
                field[n] = p->hosts[i].name;
                what[n] = "host";
                line[n++] = p->hosts[i].line;
        }
        for (size_t i = 0; i < n && r == 0; i++)
                for (size_t j = 0; j < i && r == 0; j++)
                        if (streq(real[i], real[j])) {
                                log_error("%s:%u: %s.%s.disk: '%s' is also the disk of '%s': two machines would "
                                          "write one disk (and corrupt it); give each its own image",
                                          p->path, line[i], what[i], field[i], real[i], field[j]);
                                r = -EINVAL;
                        }
        for (size_t i = 0; i < n; i++)
                free(real[i]);
        return r;
}

/* The hosts that boot the entry: each with its own disk, or one at most
 * without (it gets the entry's disk; with none, every host needs one). */
int iscsi_disk_model(const struct model_entry *m, const struct iscsi_entry *d, json_t *o) {
        const struct profile *p = m->p;
        _cleanup_free_ char *iqn = iqn_of(p->lab, m->b->name), *url = d->disk ? target_url(p, iqn) : NULL;
        const struct host *shared = NULL;
        json_t *hosts = json_array(), *v;

        for (size_t i = 0; i < p->n_hosts; i++) {
                const struct host *h = &p->hosts[i];
                if (!h->boot || !streq(h->boot, m->b->name))
                        continue;
                if (h->disk) {
                        _cleanup_free_ char *hi = iqn_of(p->lab, h->name), *hu = target_url(p, hi);
                        json_array_append_new(hosts, json_pack("{s:s, s:s, s:s}", "mac", h->mac, "iqn", hi, "url", hu));
                        continue;
                }
                if (!d->disk) {
                        log_error("%s:%u: host.%s: boots entry '%s', which has no disk of its own, without a disk: "
                                  "give the host a disk = \"PATH\" (and size = \"SIZE\" on the entry to make it)",
                                  p->path, h->line, h->name, m->b->name);
                        json_decref(hosts);
                        return -EINVAL;
                }
                if (shared) {
                        log_error("%s:%u: host.%s: boots entry '%s' without a disk of its own, as host '%s' does: two "
                                  "machines would write one disk (and corrupt it); give each a disk = \"PATH\"",
                                  p->path, h->line, h->name, m->b->name, shared->name);
                        json_decref(hosts);
                        return -EINVAL;
                }
                shared = h;
        }
        v = json_pack("{s:s, s:s, s:b, s:o, s:b}", "iqn", iqn, "url", url ? url : "", "has_disk", d->disk != NULL,
                      "hosts", hosts, "chap", d->chap);
        json_object_set_new(o, "iscsi", v);
        return 0;
}

static int iscsi_model(const struct model_entry *m, json_t *o) {
        return iscsi_disk_model(m, m->b->kind_data, o);
}

static bool lab_chap(const struct profile *p) {
        for (size_t i = 0; i < p->n_boots; i++)
                if (iscsi_disk_of(&p->boots[i]) && iscsi_disk_of(&p->boots[i])->chap)
                        return true;
        return false;
}

static json_t *target_json(const struct profile *p, unsigned tid, const char *name, const struct iscsi_entry *d,
                           const char *disk) {
        const char *size = d->size;
        _cleanup_free_ char *iqn = iqn_of(p->lab, name);
        _cleanup_free_ char *real = realpath(disk, NULL);
        json_t *t = json_pack("{s:i, s:s, s:s, s:b}", "tid", (int) tid, "iqn", iqn, "path", real ? real : disk,
                              "chap", d->chap);
        if (size)
                json_object_set_new(t, "size", json_string(size));
        return t;
}

/* "iscsi": enabled, control_port, portal, initiators (the lab's subnet),
 * conf, chap, user, credentials, targets[] {tid, iqn, path, size}. */
static json_t *iscsi_lab_model(const struct profile *p, const char *run_dir, const char *state_dir) {
        char a[INET_ADDRSTRLEN];
        struct in_addr net = { .s_addr = p->bridge.addr.s_addr & htonl(rule_netmask(p->bridge.prefix)) };
        _cleanup_free_ char *conf = path_join(run_dir, "tgt/targets.conf"),
                            *cred = path_join(state_dir, "iscsi-chap");
        json_t *targets, *o;
        unsigned tid = 1;

        if (check_disks(p) < 0)
                return NULL;
        targets = json_array();

        for (size_t i = 0; i < p->n_boots; i++) {
                const struct iscsi_entry *d = iscsi_disk_of(&p->boots[i]);
                if (d && d->disk)
                        json_array_append_new(targets, target_json(p, tid++, p->boots[i].name, d, d->disk));
        }
        for (size_t i = 0; i < p->n_hosts; i++) {
                const struct boot_entry *b = entry_named(p, p->hosts[i].boot);
                const struct iscsi_entry *d = b ? iscsi_disk_of(b) : NULL;
                if (d && p->hosts[i].disk)
                        json_array_append_new(targets,
                                              target_json(p, tid++, p->hosts[i].name, d, p->hosts[i].disk));
        }
        o = json_pack("{s:b, s:i, s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "enabled", json_array_size(targets) > 0,
                      "control_port", (int) iscsi_control_port(p->lab), "portal", "", "initiators", "", "conf", conf,
                      "chap", lab_chap(p), "user", ISCSI_CHAP_USER, "credentials", cred, "targets", targets);
        json_object_set_new(o, "portal", json_sprintf("%s:%d", inet_ntop(AF_INET, &p->bridge.addr, a, sizeof(a)),
                                                      ISCSI_PORT));
        json_object_set_new(o, "initiators", json_sprintf("%s/%u", inet_ntop(AF_INET, &net, a, sizeof(a)),
                                                          p->bridge.prefix));
        return o;
}

/* The CHAP secret, made once per lab (STATE/iscsi-chap, 0600), 16
 * characters: what Windows' initiator accepts (12-16). */
static int chap_secret(const char *path, char ret[static 17]) {
        _cleanup_free_ char *content = NULL;
        int r;

        if (read_file(path, &content, NULL) >= 0 && strlen(content) >= 16) {
                bool ok = true;
                for (size_t i = 0; i < 16 && ok; i++)
                        ok = isalnum((unsigned char) content[i]);
                if (ok) {
                        memcpy(ret, content, 16);
                        ret[16] = 0;
                        return 0;
                }
        }
        r = secret_new(ret, 16);
        if (r < 0)
                return log_error_errno(r, "Failed to make a CHAP secret");
        r = write_file_atomic(path, ret, 16, 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write '%s'", path);
        return 0;
}

/* targets.conf, and with CHAP the scripts of the entries that attach a
 * disk again, with the secret (they were rendered without it). */
static int iscsi_render(const struct profile *p, json_t *model, struct render_changes *changes) {
        json_t *iscsi = json_object_get(model, "iscsi"), *e;
        const char *run = json_str(json_object_get(model, "dirs"), "run");
        _cleanup_free_ char *dir = path_join(run, "tgt");
        char secret[17] = "";
        size_t i;
        int r;

        r = rm_rf(dir);
        if (r < 0)
                return log_error_errno(r, "Failed to remove '%s'", dir);
        if (!json_is_true(json_object_get(iscsi, "enabled")))
                return 0;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", dir);
        if (json_is_true(json_object_get(iscsi, "chap"))) {
                r = chap_secret(json_str(iscsi, "credentials"), secret);
                if (r < 0)
                        return r;
                json_object_set_new(iscsi, "password", json_string(secret));
        }
        r = template_render_to(p, "targets.conf", model, json_str(iscsi, "conf"), 0600, &changes->tgtd);
        json_array_foreach(json_object_get(model, "boots"), i, e) {
                _cleanup_free_ char *dst = NULL, *tmpl = NULL;
                if (r < 0 || !secret[0] || !json_is_true(json_object_get(json_object_get(e, "iscsi"), "chap")))
                        continue;
                dst = xasprintf("%s/http/%s", run, json_str(e, "script"));
                tmpl = xasprintf("entry-%s.ipxe", json_str(e, "kind"));
                json_object_set(model, "entry", e);
                r = template_render_to(p, tmpl, model, dst, 0644, NULL);
                json_object_del(model, "entry");
        }
        json_object_del(iscsi, "password");
        explicit_bzero(secret, sizeof(secret));
        return r;
}

int iscsi_make_disks(json_t *model) {
        json_t *t;
        size_t i;

        json_array_foreach(json_object_get(json_object_get(model, "iscsi"), "targets"), i, t) {
                const char *path = json_str(t, "path"), *size = json_str(t, "size");
                unsigned long long n;
                char unit;
                int fd;

                if (!size || access(path, F_OK) == 0)
                        continue;
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0) {
                        if (errno == EEXIST)
                                continue;
                        return log_error_errno(errno, "Failed to create disk image '%s'", path);
                }
                n = strtoull(size, NULL, 10);
                unit = size[strspn(size, "0123456789")];
                n <<= unit == 'M' ? 20 : unit == 'G' ? 30 : 40;
                if (ftruncate(fd, (off_t) n) < 0) {
                        int e = errno;
                        close(fd);
                        unlink(path);
                        return log_error_errno(e, "Failed to size disk image '%s' to %s", path, size);
                }
                close(fd);
                log_info("Created disk image %s (%s, sparse)", path, size);
        }
        return 0;
}

#define ISCSI_RUN_DIR "/run/tgtd"

/* tgtd in the foreground on the lab's address only; tgt-admin loads the
 * targets after every start, so a tgtd that died comes back with them.
 * tgtd ignores SIGTERM while it has targets: it is killed. */
int iscsi_tgtd_spec(json_t *model, struct unit_spec *s, char ***argv, char ***rw) {
        static char *af[] = { "AF_UNIX", "AF_INET", "AF_INET6", NULL };
        json_t *iscsi = json_object_get(model, "iscsi"), *t;
        unsigned port = (unsigned) json_integer_value(json_object_get(iscsi, "control_port"));
        size_t i, n = 0, h = 0, cap = json_array_size(json_object_get(iscsi, "targets")) + 2;
        int r;

        /* Its control socket's directory, which Debian's tgt.service would make. */
        r = mkdir_p(ISCSI_RUN_DIR, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", ISCSI_RUN_DIR);
        /* The disks: writable; those where the sandbox hides them (homes,
         * /tmp) bound in. */
        *rw = xcalloc(cap, sizeof(char *));
        s->hidden_rw_paths = xcalloc(cap, sizeof(char *));
        (*rw)[n++] = xstrdup(ISCSI_RUN_DIR);
        json_array_foreach(json_object_get(iscsi, "targets"), i, t) {
                const char *path = json_str(t, "path");
                if (units_path_hidden(path))
                        s->hidden_rw_paths[h++] = xstrdup(path);
                else
                        (*rw)[n++] = xstrdup(path);
        }
        *argv = xcalloc(7, sizeof(char *));
        (*argv)[0] = xstrdup("/usr/sbin/tgtd");
        (*argv)[1] = xstrdup("-f");
        (*argv)[2] = xstrdup("--iscsi");
        (*argv)[3] = xasprintf("portal=%s", json_str(iscsi, "portal"));
        (*argv)[4] = xstrdup("-C");
        (*argv)[5] = xasprintf("%u", port);
        s->exec_start_post = xcalloc(7, sizeof(char *));
        s->exec_start_post[0] = xstrdup("/usr/sbin/tgt-admin");
        s->exec_start_post[1] = xstrdup("-C");
        s->exec_start_post[2] = xasprintf("%u", port);
        s->exec_start_post[3] = xstrdup("-e");
        s->exec_start_post[4] = xstrdup("-c");
        s->exec_start_post[5] = xstrdup(json_str(iscsi, "conf"));
        s->kill_signal = SIGKILL;
        /* Ready (sd_notify) before tgt-admin talks to its control socket. */
        s->type = "notify";
        s->description = "pxelab iSCSI targets";
        s->capabilities = 0;
        s->address_families = af;
        return 0;
}

const struct kind kind_iscsi = {
        .profile = { .name = "iscsi", .keys = iscsi_keys, .build = iscsi_build, .check_files = iscsi_check_files,
                     .done = iscsi_done },
        .iscsi = iscsi_own,
        .render = { .name = "iscsi", .entry_model = iscsi_model, .lab_key = "iscsi", .lab_model = iscsi_lab_model,
                    .render = iscsi_render },
};
