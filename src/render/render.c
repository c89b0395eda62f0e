#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "render/grub.h"
#include "render/model.h"
#include "render/render.h"
#include "render/template.h"
#include "basic/util.h"

static const char *const loaders[] = { "undionly.kpxe", "ipxe.efi", "snponly.efi" };

/* The loaders ($PXELAB_IPXE_DIR) are copied through memory; Debian's are
 * under 1.1 MiB. */
#define MAX_LOADER_SIZE (16 * 1024 * 1024)

const char *ipxe_dir(void) {
        const char *e = getenv("PXELAB_IPXE_DIR");
        return strempty(e) ? "/usr/lib/ipxe" : e;
}

/* The lab's run dir is 0711: the services, which run as nobody after they
 * start, reach what they serve (http/, tftp/, 0755) by name but cannot list
 * the dir or read the record, configs and secrets in it (0600). Each
 * daemon's own dir (pid, temp files, logs) is root's; units.c makes only
 * that one writable for it. Modes are set on every render, so a tree made by
 * an older pxelab is tightened too. */
static const struct {
        const char *name;
        mode_t mode;
} run_subdirs[] = {
        { "http", 0755 }, { "tftp", 0755 }, { "log", 0700 }, { "nginx", 0700 }, { "dnsmasq", 0700 },
};

static int make_dir_mode(const char *path, mode_t mode) {
        int r = mkdir_p(path, mode);
        if (r >= 0 && chmod(path, mode) < 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s'", path);
        return 0;
}

static int make_dirs(const char *run_dir, const char *state_dir) {
        int r;

        r = make_dir_mode(run_dir, 0711);
        if (r < 0)
                return r;
        r = make_dir_mode(state_dir, 0700);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(run_subdirs); i++) {
                _cleanup_free_ char *d = path_join(run_dir, run_subdirs[i].name);
                r = make_dir_mode(d, run_subdirs[i].mode);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* dnsmasq may write its lease file and nothing else of the state dir: the
 * unit's ReadWritePaths= names the file, so it must exist before the start. */
static int make_lease_file(const char *state_dir) {
        _cleanup_free_ char *path = path_join(state_dir, "dnsmasq.leases");
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

        if (fd < 0)
                return log_error_errno(errno, "Failed to create '%s'", path);
        return 0;
}

static int copy_loaders(const char *run_dir) {
        for (size_t i = 0; i < ELEMENTSOF(loaders); i++) {
                _cleanup_free_ char *src = path_join(ipxe_dir(), loaders[i]);
                _cleanup_free_ char *dst = xasprintf("%s/tftp/%s", run_dir, loaders[i]);
                _cleanup_free_ char *data = NULL;
                char what[64];
                size_t len;
                int r;

                r = read_regular_file(src, MAX_LOADER_SIZE, &data, &len);
                if (r == -ENOENT) {
                        log_error("Failed to find the iPXE loader '%s' (install Debian's 'ipxe' package)", src);
                        return r;
                }
                if (r < 0) {
                        log_error("Failed to read the iPXE loader '%s': %s", src,
                                  read_regular_file_error(r, MAX_LOADER_SIZE, what, sizeof(what)));
                        return r;
                }
                /* unchanged loaders stay as they are */
                r = write_file_if_changed(dst, data, len, 0644);
                if (r < 0)
                        return log_error_errno(r, "Failed to copy '%s' to '%s'", src, dst);
        }
        return 0;
}

/* Renders a script per element of ARRAY (boot entries or hosts): the whole
 * model is the context, with the element as "entry". Stale scripts of
 * removed entries go with the directory. */
static int render_scripts(const struct profile *p, json_t *model, const char *run_dir, const char *sub,
                          json_t *array, const char *(*tmpl_of)(json_t *, char *, size_t)) {
        _cleanup_free_ char *dir = xasprintf("%s/http/%s", run_dir, sub);
        size_t i;
        json_t *e;
        int r;

        r = rm_rf(dir);
        if (r >= 0)
                r = mkdir_p(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to recreate '%s'", dir);
        json_array_foreach(array, i, e) {
                char tmpl[64];
                _cleanup_free_ char *dst = xasprintf("%s/http/%s", run_dir,
                                                     json_string_value(json_object_get(e, "script")));
                json_object_set(model, "entry", e);
                r = template_render_to(p, tmpl_of(e, tmpl, sizeof(tmpl)), model, dst, 0644, NULL);
                json_object_del(model, "entry");
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *entry_template(json_t *e, char *buf, size_t n) {
        snprintf(buf, n, "entry-%s.ipxe", json_string_value(json_object_get(e, "kind")));
        return buf;
}

static const char *host_template(json_t *e, char *buf, size_t n) {
        snprintf(buf, n, "host.ipxe");
        return buf;
}

int render_lab(const struct profile *p, const struct render_kind *const *kinds, const char *run_dir,
               const char *state_dir, json_t **ret_model, struct render_changes *changes) {
        _cleanup_free_ char *dnsmasq = path_join(run_dir, "dnsmasq.conf"), *nginx = path_join(run_dir, "nginx.conf");
        _cleanup_free_ char *boot = path_join(run_dir, "http/boot.ipxe"), *menu = path_join(run_dir, "http/menu.ipxe");
        struct render_changes ch = {};
        json_t *model = NULL;
        int r;

        r = make_dirs(run_dir, state_dir);
        if (r < 0)
                return r;
        r = make_lease_file(state_dir);
        if (r < 0)
                return r;
        r = model_build(p, kinds, run_dir, state_dir, &model);
        if (r < 0)
                return r;
        r = copy_loaders(run_dir);
        if (r < 0)
                goto out;
        r = render_scripts(p, model, run_dir, "boot", json_object_get(model, "boots"), entry_template);
        if (r < 0)
                goto out;
        r = render_scripts(p, model, run_dir, "hosts", json_object_get(model, "hosts_with_boot"), host_template);
        if (r < 0)
                goto out;
        /* What the kinds render beyond their entries' scripts (windows:
         * smb.conf, credentials, winpeshl.ini, install.cmd). */
        for (size_t i = 0; kinds[i]; i++) {
                if (!kinds[i]->render)
                        continue;
                r = kinds[i]->render(p, model, &ch);
                if (r < 0)
                        goto out;
        }
        /* Secure Boot clients: shim, GRUB, its menu, boot files over TFTP. */
        r = grub_render(p, model, run_dir);
        if (r < 0)
                goto out;
        r = template_render_to(p, "boot.ipxe", model, boot, 0644, NULL);
        if (r < 0)
                goto out;
        r = template_render_to(p, "menu.ipxe", model, menu, 0644, NULL);
        if (r < 0)
                goto out;
        r = template_render_to(p, "dnsmasq.conf", model, dnsmasq, 0600, &ch.dnsmasq);
        if (r < 0)
                goto out;
        r = template_render_to(p, "nginx.conf", model, nginx, 0600, &ch.nginx);
        if (r < 0)
                goto out;
        if (changes)
                *changes = ch;
        if (ret_model)
                *ret_model = TAKE_PTR(model);
out:
        json_decref(model);
        return r;
}
