/* Template lookup and rendering: the one place that finds a template and
 * renders it, for render.c and every boot kind. See template.h. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>

#include "basic/log.h"
#include "render/mustache.h"
#include "render/template.h"
#include "basic/util.h"

/* Templates come from the profile's own dir too: each is read whole, and a
 * FIFO or /dev/zero there must not hang or exhaust `up`. The shipped ones
 * are a few KiB. */
#define MAX_TEMPLATE_SIZE (1024 * 1024)
/* Template search order: the profile's `templates` dir, $PXELAB_TEMPLATES,
 * templates/ next to the binary (build tree), the installed share dir. */
static char *template_path(const struct profile *p, const char *file) {
        char exe[PATH_MAX];
        ssize_t n;
        const char *env = getenv("PXELAB_TEMPLATES");
        char *c;

        if (p && p->templates) {
                c = path_join(p->templates, file);
                if (access(c, F_OK) == 0)
                        return c;
                free(c);
        }
        if (!strempty(env)) {
                c = path_join(env, file);
                if (access(c, F_OK) == 0)
                        return c;
                free(c);
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                const char *bindir;
                exe[n] = 0;
                bindir = dirname(exe);
                c = xasprintf("%s/templates/%s", bindir, file);
                if (access(c, F_OK) == 0)
                        return c;
                free(c);
                c = xasprintf("%s/../share/pxelab/templates/%s", bindir, file);
                if (access(c, F_OK) == 0)
                        return c;
                free(c);
        }
        return xasprintf("%s/templates/%s", PXELAB_DATADIR, file);
}

static int load_partial(const char *name, char **ret, void *userdata) {
        _cleanup_free_ char *file = xasprintf("%s.mustache", name);
        _cleanup_free_ char *path = template_path(userdata, file);
        int r = read_regular_file(path, MAX_TEMPLATE_SIZE, ret, NULL);
        return r == -ENOENT ? -ENOENT : r;
}

int template_render(const struct profile *p, const char *name, json_t *data, char **ret) {
        _cleanup_free_ char *file = xasprintf("%s.mustache", name), *path = template_path(p, file);
        _cleanup_free_ char *tmpl = NULL, *err = NULL;
        int r;

        r = read_regular_file(path, MAX_TEMPLATE_SIZE, &tmpl, NULL);
        if (r < 0) {
                char what[64];
                log_error("Failed to read template '%s': %s", path,
                          read_regular_file_error(r, MAX_TEMPLATE_SIZE, what, sizeof(what)));
                return r == -EINVAL || r == -EFBIG ? -EINVAL : r;
        }
        r = mustache_render(tmpl, data, load_partial, (void *) p, ret, &err);
        if (r < 0) {
                if (err)
                        log_error("%s:%s", path, err + (strncmp(err, "line ", 5) == 0 ? 5 : 0));
                else
                        log_error_errno(r, "Failed to render template '%s'", path);
                return r;
        }
        return 0;
}

int template_write(const char *dst, const char *data, mode_t mode, bool *changed) {
        int r = write_file_if_changed(dst, data, strlen(data), mode);
        if (r < 0)
                return log_error_errno(r, "Failed to write '%s'", dst);
        if (changed && r > 0)
                *changed = true;
        return 0;
}

int template_render_to(const struct profile *p, const char *tmpl, json_t *data, const char *dst, mode_t mode,
                       bool *changed) {
        _cleanup_free_ char *out = NULL;
        int r = template_render(p, tmpl, data, &out);
        if (r < 0)
                return r;
        return template_write(dst, out, mode, changed);
}

