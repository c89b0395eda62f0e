/* Secure Boot clients: model and TFTP files. See grub.h. */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/util.h"
#include "profile/secboot.h"
#include "render/grub.h"
#include "render/template.h"

/* dnsmasq tags a host whose loader differs from the lab's (grub.h). */
#define TAG_SHIM "loader-shim"
#define TAG_IPXE "loader-ipxe"

/* The lab's default if GRUB can boot it, else GRUB's first entry. */
static const char *grub_default(const struct profile *p) {
        const char *first = NULL;
        for (size_t i = 0; i < p->n_boots; i++) {
                if (!secboot_entry_boots(&p->boots[i]))
                        continue;
                if (streq(p->boots[i].name, p->menu.default_entry))
                        return p->boots[i].name;
                if (!first)
                        first = p->boots[i].name;
        }
        return first ? first : "";
}

static const struct boot_entry *boot_named(const struct profile *p, const char *name) {
        for (size_t i = 0; i < p->n_boots; i++)
                if (streq(p->boots[i].name, name))
                        return &p->boots[i];
        return NULL;
}

/* files/ENTRY/NAME on the TFTP server, for kernel and initrds. */
static void linux_tftp(json_t *e, const char *entry) {
        json_t *k = json_object_get(e, "kernel"), *f;
        _cleanup_free_ char *line = xstrdup("");
        size_t i;

        json_object_set_new(k, "tftp_path", json_sprintf("files/%s/%s", entry,
                                                          json_string_value(json_object_get(k, "name"))));
        json_array_foreach(json_object_get(e, "initrds"), i, f) {
                const char *name = json_string_value(json_object_get(f, "name"));
                char *l = xasprintf("%s%s/files/%s/%s", line, i ? " " : "", entry, name);
                json_object_set_new(f, "tftp_path", json_sprintf("files/%s/%s", entry, name));
                free(line);
                line = l;
        }
        json_object_set_new(e, "grub_initrds", json_string(line));
        json_object_set_new(e, "has_initrds", json_boolean(json_array_size(json_object_get(e, "initrds")) > 0));
}

void grub_model(const struct profile *p, json_t *model) {
        bool enabled = profile_uses_shim(p), lab_shim = streq(p->uefi_loader, "shim");
        const char *def = grub_default(p);
        json_t *sb, *e, *h;
        size_t i;

        sb = json_pack("{s:b, s:b}", "enabled", enabled, "lab_shim", lab_shim);
        json_object_set_new(model, "secboot", sb);
        if (!enabled)
                return;
        json_object_set_new(sb, "loader", json_string("efi/shimx64.efi"));
        json_object_set_new(sb, "shim", json_string(p->shim));
        json_object_set_new(sb, "grub", json_string(p->grub));
        /* Shim for the lab's clients but the hosts tagged for iPXE, or for
         * the hosts tagged for shim only. */
        json_object_set_new(sb, "shim_match", json_string(lab_shim ? "tag:!" TAG_IPXE : "tag:" TAG_SHIM));
        json_object_set_new(sb, "default", json_string(def));
        if (!streq(def, p->menu.default_entry))
                json_object_set_new(sb, "default_note",
                                    json_sprintf("the menu's default '%s' cannot boot under Secure Boot",
                                                 p->menu.default_entry));

        json_array_foreach(json_object_get(model, "boots"), i, e) {
                const struct boot_entry *b = &p->boots[i];
                bool ok = secboot_entry_boots(b);
                json_object_set_new(e, "grub", json_pack("{s:b}", "ok", ok));
                if (!ok)
                        json_object_set_new(json_object_get(e, "grub"), "why", json_string(secboot_entry_why(b)));
                else
                        linux_tftp(e, b->name);
        }
        json_array_foreach(json_object_get(model, "hosts"), i, h) {
                const struct host *ho = &p->hosts[i];
                const struct boot_entry *b = ho->boot ? boot_named(p, ho->boot) : NULL;
                bool differs = !streq(ho->uefi_loader, p->uefi_loader);

                json_object_set_new(h, "uefi_loader", json_string(ho->uefi_loader));
                json_object_set_new(h, "has_loader_tag", json_boolean(differs));
                if (differs)
                        json_object_set_new(h, "loader_tag",
                                            json_string(streq(ho->uefi_loader, "shim") ? TAG_SHIM : TAG_IPXE));
                if (!b)
                        continue;
                json_object_set_new(h, "grub_script", json_sprintf("grub/hosts/%s.cfg", ho->mac));
                json_object_set_new(h, "grub_ok", json_boolean(secboot_entry_boots(b)));
                if (!secboot_entry_boots(b))
                        json_object_set_new(h, "grub_why", json_string(secboot_entry_why(b)));
        }
}

/* Copies SRC to DST (0644, atomically) unless DST has its content already. */
static int copy_if_differs(const char *src, const char *dst) {
        int r;
        if (files_equal(src, dst))
                return 0;
        r = copy_file(src, dst, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to copy '%s' to '%s'", src, dst);
        return 0;
}

/* shim and GRUB into tftp/efi/ under the names shim and GRUB ask for. */
static int copy_chain(json_t *sb, const char *tftp) {
        static const struct {
                const char *key, *name, *what;
        } chain[] = {
                { "shim", "shimx64.efi", "run scripts/get-shim, or set shim = \"PATH\"" },
                { "grub", "grubx64.efi", "apt-get install --no-install-recommends grub-efi-amd64-signed" },
        };
        _cleanup_free_ char *dir = path_join(tftp, "efi");
        int r = mkdir_p(dir, 0755);

        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", dir);
        for (size_t i = 0; i < ELEMENTSOF(chain); i++) {
                const char *src = json_string_value(json_object_get(sb, chain[i].key));
                _cleanup_free_ char *dst = path_join(dir, chain[i].name);
                if (access(src, R_OK) < 0) {
                        r = -errno;
                        log_error("Failed to read the Secure Boot loader '%s': %s (%s)", src, strerror(-r),
                                  chain[i].what);
                        return r;
                }
                r = copy_if_differs(src, dst);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool name_in(json_t *names, const char *name) {
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
                if (streq(json_string_value(n), name))
                        return true;
        return false;
}

/* Removes what DIR holds but NAMES (a JSON array of strings) does not. */
static int prune(const char *dir, json_t *names) {
        _cleanup_close_ int fd = open_dir_nofollow(dir);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return log_error_errno(fd, "Failed to open '%s'", dir);
        d = fdopendir(fd);
        if (!d)
                return log_error_errno(errno, "Failed to open '%s'", dir);
        fd = -1;        /* the DIR owns it now */
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || name_in(names, de->d_name))
                        continue;
                path = path_join(dir, de->d_name);
                r = rm_rf(path);
                if (r < 0)
                        log_error_errno(r, "Failed to remove '%s'", path);
        }
        closedir(d);
        return r;
}

/* DST as a hard link to FIRST, the copy another entry made of the same
 * file: entries sharing a kernel and initrd (the installer's "install" and
 * "expert") cost their size once. */
static int link_copy(const char *first, const char *dst) {
        struct stat a, b;
        if (lstat(first, &a) == 0 && lstat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return 0;
        if (unlink(dst) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove '%s'", dst);
        if (link(first, dst) < 0)
                return log_error_errno(errno, "Failed to link '%s' to '%s'", dst, first);
        return 0;
}

/* One linux entry's kernel and initrds into tftp/files/ENTRY/; COPIED maps
 * each source already copied to its copy. */
static int copy_entry(json_t *e, const char *files, json_t *copied) {
        _cleanup_free_ char *dir = path_join(files, json_string_value(json_object_get(e, "name")));
        json_t *names = json_array();
        size_t i;
        int r = mkdir_p(dir, 0755);

        if (r < 0) {
                json_decref(names);
                return log_error_errno(r, "Failed to create '%s'", dir);
        }
        for (i = 0; r >= 0 && i <= json_array_size(json_object_get(e, "initrds")); i++) {
                json_t *fi = i == 0 ? json_object_get(e, "kernel") : json_array_get(json_object_get(e, "initrds"), i - 1);
                const char *src = json_string_value(json_object_get(fi, "path"));
                const char *name = json_string_value(json_object_get(fi, "name"));
                _cleanup_free_ char *dst = path_join(dir, name);
                json_array_append_new(names, json_string(name));
                if (access(src, F_OK) < 0)
                        continue;       /* render of a profile whose files are elsewhere */
                if (json_object_get(copied, src))
                        r = link_copy(json_string_value(json_object_get(copied, src)), dst);
                else {
                        r = copy_if_differs(src, dst);
                        json_object_set_new(copied, src, json_string(dst));
                }
        }
        if (r >= 0)
                r = prune(dir, names);
        json_decref(names);
        return r;
}

static int grub_files(const struct profile *p, json_t *model, const char *run_dir) {
        _cleanup_free_ char *tftp = path_join(run_dir, "tftp");
        _cleanup_free_ char *efi = path_join(tftp, "efi"), *grub = path_join(tftp, "grub"),
                            *files = path_join(tftp, "files");
        json_t *sb = json_object_get(model, "secboot"), *e, *names, *copied;
        size_t i;
        int r;

        if (!json_is_true(json_object_get(sb, "enabled"))) {
                /* a lab that had shim clients before */
                const char *gone[] = { efi, grub, files };
                for (i = 0; i < ELEMENTSOF(gone); i++) {
                        r = rm_rf(gone[i]);
                        if (r < 0)
                                return log_error_errno(r, "Failed to remove '%s'", gone[i]);
                }
                return 0;
        }
        r = copy_chain(sb, tftp);
        if (r < 0)
                return r;
        r = rm_rf(grub);
        if (r >= 0)
                r = mkdir_p(grub, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to recreate '%s'", grub);
        r = mkdir_p(files, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", files);
        names = json_array();
        copied = json_object();
        json_array_foreach(json_object_get(model, "boots"), i, e) {
                if (!json_is_true(json_object_get(json_object_get(e, "grub"), "ok")))
                        continue;
                json_array_append(names, json_object_get(e, "name"));
                r = copy_entry(e, files, copied);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = prune(files, names);
        json_decref(names);
        json_decref(copied);
        return r;
}

/* GRUB's menu and the hosts' own files, from the templates. */
static int render_cfg(const struct profile *p, json_t *model, const char *run_dir) {
        _cleanup_free_ char *cfg = path_join(run_dir, "tftp/grub/grub.cfg"), *hosts = path_join(run_dir, "tftp/grub/hosts");
        json_t *h;
        size_t i;
        int r;

        r = template_render_to(p, "grub.cfg", model, cfg, 0644, NULL);
        if (r < 0)
                return r;
        r = mkdir_p(hosts, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", hosts);
        json_array_foreach(json_object_get(model, "hosts_with_boot"), i, h) {
                _cleanup_free_ char *dst = xasprintf("%s/tftp/%s", run_dir,
                                                     json_string_value(json_object_get(h, "grub_script")));
                json_object_set(model, "entry", h);
                r = template_render_to(p, "grub-host.cfg", model, dst, 0644, NULL);
                json_object_del(model, "entry");
                if (r < 0)
                        return r;
        }
        return 0;
}

int grub_render(const struct profile *p, json_t *model, const char *run_dir) {
        int r = grub_files(p, model, run_dir);
        if (r < 0 || !json_is_true(json_object_get(json_object_get(model, "secboot"), "enabled")))
                return r;
        return render_cfg(p, model, run_dir);
}
