/* The lab profile: the API. libconfuse does the syntax (syntax.c);
 * everything else (names, addresses, cross references, injection safety) is
 * checked by values.c and build.c and each boot kind, and every problem is
 * collected so the user sees all of them at once, each on one line
 * "FILE:LINE: FIELD: message" (problems.c). See profile.h. */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <stdio.h>

#include "basic/log.h"
#include "profile/build.h"
#include "profile/problems.h"
#include "profile/profile.h"
#include "profile/syntax.h"
#include "profile/values.h"
#include "basic/util.h"

/* A profile is read whole into memory and parsed in linear time; 4 MiB is
 * ~60,000 hosts, far beyond any lab, and bounds what a wrong file (a
 * log, /dev/zero) can cost before it is refused. */
#define MAX_PROFILE_SIZE (4 * 1024 * 1024)

/* "dir of PATH", absolute, symlinks in the directory resolved when it exists. */
static void profile_set_path(struct profile *p, const char *path) {
        _cleanup_free_ char *cwd = get_current_dir_name(), *abs = NULL, *dir = NULL, *real = NULL;
        const char *slash;
        abs = path[0] == '/' ? xstrdup(path) : path_join(cwd ? cwd : "/", path);
        slash = strrchr(abs, '/');
        dir = slash == abs ? xstrdup("/") : strndup(abs, slash - abs);
        if (!dir)
                abort();
        real = realpath(dir, NULL);
        p->dir = real ? TAKE_PTR(real) : path_clean(dir);
        p->path = path_join(p->dir, slash + 1);
}

int profile_parse(const char *path, const char *buf, const struct profile_kind *const *kinds, char ***errors,
                  struct profile **ret) {
        struct parse_ctx ctx = { .problems = { .path = path } };
        _cleanup_free_ char *content = NULL, *prepared = NULL;
        struct profile *p = NULL;
        cfg_t *cfg = NULL;
        size_t len;
        int r;

        if (!buf) {
                r = read_regular_file(path, MAX_PROFILE_SIZE, &content, &len);
                if (r == -EINVAL || r == -EFBIG) {
                        /* "FILE: not a regular file", "FILE: larger than 4 MiB" */
                        char what[64];
                        problem_file(&ctx.problems, read_regular_file_error(r, MAX_PROFILE_SIZE, what, sizeof(what)));
                        goto fail;
                }
                if (r < 0) {
                        problem_add(&ctx.problems, 0, "cannot read", "%s", strerror(-r));
                        /* "FILE: cannot read: reason" */
                        goto fail;
                }
                buf = content;
        } else
                len = strlen(buf);

        ctx.priv = xcalloc(1, sizeof(*ctx.priv));
        ctx.priv->given_path = xstrdup(path);
        ctx.fields = &ctx.priv->fields;
        prepared = syntax_prepare(&ctx, buf, len);
        if (!prepared)
                goto fail;
        cfg = syntax_parse(&ctx, prepared, kinds);
        if (!cfg)
                goto fail;

        p = xcalloc(1, sizeof(*p));
        profile_set_path(p, path);
        build_profile(&ctx, cfg, kinds, p);
        cfg_free(cfg);
        cfg = NULL;
        syntax_done(&ctx);
        if (ctx.problems.n > 0)
                goto fail;

        p->lines = TAKE_PTR(ctx.priv);
        if (errors)
                *errors = NULL;
        *ret = p;
        return 0;

fail:
        if (cfg)
                cfg_free(cfg);
        syntax_done(&ctx);
        profile_free(p);
        profile_private_free(ctx.priv);
        if (errors)
                *errors = problems_finish(&ctx.problems);
        else
                problems_done(&ctx.problems);
        return -EINVAL;
}

int profile_load(const char *path, const struct profile_kind *const *kinds, struct profile **ret) {
        _cleanup_strv_free_ char **errors = NULL;
        int r = profile_parse(path, NULL, kinds, &errors, ret);
        if (r < 0)
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
        return r;
}


unsigned profile_line(const struct profile *p, const char *field) {
        const struct field *f;
        if (!p || !field)
                return 0;
        f = fieldmap_find(profile_fields(p), field);
        return f ? f->line : 0;
}

static void boot_entry_done(struct boot_entry *e) {
        if (e->kind && e->kind->done)
                e->kind->done(e);
        free(e->name);
        free(e->title);
}

void profile_free(struct profile *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_boots; i++)
                boot_entry_done(&p->boots[i]);
        free(p->boots);
        for (size_t i = 0; i < p->n_hosts; i++) {
                free(p->hosts[i].name);
                free(p->hosts[i].mac);
                free(p->hosts[i].ip);
                free(p->hosts[i].boot);
                free(p->hosts[i].uefi_loader);
                free(p->hosts[i].disk);
        }
        free(p->hosts);
        for (size_t i = 0; i < p->n_vms; i++) {
                free(p->vms[i].name);
                free(p->vms[i].mac);
                free(p->vms[i].disk);
        }
        free(p->vms);
        free(p->path);
        free(p->dir);
        free(p->lab);
        free(p->templates);
        free(p->wimboot);
        free(p->uefi_loader);
        free(p->shim);
        free(p->grub);
        free(p->bridge.name);
        free(p->bridge.type);
        free(p->bridge.address);
        free(p->bridge.uplink);
        free(p->bridge.ovsdb);
        free(p->bridge.existing);
        free(p->bridge.datapath_type);
        free(p->bridge.allow_host_ports);
        strv_free(p->bridge.ports);
        free(p->dhcp.mode);
        free(p->dhcp.interface);
        free(p->dhcp.lease);
        free(p->menu.title);
        free(p->menu.default_entry);
        profile_private_free(p->lines);
        free(p);
}

void profile_set_address(struct profile *p, struct in_addr addr, unsigned prefix) {
        char a[INET_ADDRSTRLEN];

        free(p->bridge.address);
        p->bridge.address = xasprintf("%s/%u", inet_ntop(AF_INET, &addr, a, sizeof(a)), prefix);
        p->bridge.addr = addr;
        p->bridge.prefix = prefix;
}
