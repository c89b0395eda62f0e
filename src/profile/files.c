/* The files a profile references: resolved, and (for `check` and `up`)
 * checked. The only part of the profile that touches the filesystem. See
 * files.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "profile/files.h"
#include "profile/kind.h"
#include "profile/problems.h"
#include "profile/secboot.h"
#include "profile/syntax.h"
#include "profile/types.h"
#include "profile/values.h"
#include "basic/util.h"

struct entry_checker {
        struct profile *p;
        struct problems problems;
        bool missing_ok;        /* render: what does not exist stays as parsed, unchecked */
        bool global_wimboot_done, env_wimboot_done;
};

/* The line and the value as written for KEY (a field or a list item). */
static void written(const struct profile *p, const char *key, unsigned fallback, const char *resolved,
                    unsigned *line, const char **value) {
        const struct field *f = fieldmap_find(profile_fields(p), key);
        *line = f && f->line ? f->line : fallback;
        *value = f && f->value ? f->value : resolved;
}

/* Where the absolute PATH led, though it does not exist: its longest
 * existing prefix resolved, then the rest as written (a ".." after a
 * missing directory stays: the lookup failed there). */
static char *path_looked_up(const char *path) {
        _cleanup_free_ char *head = xstrdup(path);
        char *slash;
        while ((slash = strrchr(head, '/'))) {
                _cleanup_free_ char *real = NULL;
                *slash = 0;
                real = realpath(*head ? head : "/", NULL);
                if (real)
                        return path_join(real, path + (slash - head) + 1);
        }
        return xstrdup(path);
}

/* The first byte of S that a path value may not contain, or 0. */
static unsigned char path_bad_char(const char *s) {
        for (; *s; s++)
                if (!char_allowed(CS_PATH, *s))
                        return *s;
        return 0;
}

/* Replaces *SLOT by its canonical path. The canonical path goes into the
 * configs as it is, so it must pass the checks of a written path. Reports
 * (when REPORT) and returns false when it cannot; with missing_ok a path
 * that does not exist is left alone, silently. */
static bool resolve_one(struct entry_checker *c, const char *field, unsigned line, const char *value, char **slot,
                        bool report) {
        _cleanup_free_ char *real = realpath(*slot, NULL);
        unsigned char bad;

        if (!real) {
                int e = errno;
                if (c->missing_ok || !report)
                        return false;
                if (e == ENOENT || e == ENOTDIR) {
                        /* with "..", where it led is not obvious: say so
                         * (unless that is just the value as written) */
                        _cleanup_free_ char *where = has_dotdot(value) ? path_looked_up(*slot) : NULL;
                        if (where && (value[0] != '/' || !streq(where, *slot))) {
                                _cleanup_free_ char *shown = show_n(&c->problems, where, MAX_PATH, true);
                                problem_value(&c->problems, line, field, value, "(%s) does not exist", shown);
                        } else
                                problem_value(&c->problems, line, field, value, "does not exist");
                }
                else
                        problem_value(&c->problems, line, field, value, "cannot be accessed: %s", strerror(e));
                return false;
        }
        bad = path_bad_char(real);
        if (bad || strlen(real) > MAX_PATH) {
                _cleanup_free_ char *shown = show_n(&c->problems, real, MAX_PATH, true);
                _cleanup_free_ char *what = bad ? describe_char(&c->problems, bad) : NULL;
                if (!report)
                        ;
                else if (bad)
                        problem_value(&c->problems, line, field, value,
                                      "resolves to '%s', which contains %s (not allowed in a path)", shown, what);
                else
                        problem_value(&c->problems, line, field, value, "resolves to a path of %zu characters (at most %d)",
                                      strlen(real), MAX_PATH);
                return false;
        }
        free(*slot);
        *slot = TAKE_PTR(real);
        return true;
}

enum want { WANT_FILE, WANT_DIR };

/* Resolves the path in *SLOT (field FIELD, written at KEY) and checks that
 * it is what WANT says and readable. REPORT false: the same path was
 * reported before (a global wimboot shared by entries). */
static void check_one(struct entry_checker *c, const char *field, const char *key, unsigned fallback, char **slot,
                      enum want want, bool report) {
        struct stat st;
        unsigned line;
        const char *value;
        if (!*slot)
                return;
        written(c->p, key, fallback, *slot, &line, &value);
        if (!resolve_one(c, field, line, value, slot, report) || c->missing_ok || !report)
                return;
        if (stat(*slot, &st) < 0) {
                problem_value(&c->problems, line, field, value, "cannot be accessed: %s", strerror(errno));
                return;
        }
        if (want == WANT_FILE && !S_ISREG(st.st_mode)) {
                problem_value(&c->problems, line, field, value, "is not a regular file");
                return;
        }
        if (want == WANT_DIR && !S_ISDIR(st.st_mode)) {
                problem_value(&c->problems, line, field, value, "is not a directory");
                return;
        }
        if (access(*slot, want == WANT_DIR ? R_OK | X_OK : R_OK) < 0)
                problem_value(&c->problems, line, field, value, "is not readable");
}

static void check_entry_path(struct entry_checker *c, const struct boot_entry *e, const char *opt, char **slot,
                             enum want want) {
        _cleanup_free_ char *key = xasprintf("boot.%s.%s", e->name, opt);
        check_one(c, key, key, e->line, slot, want, true);
}

void entry_check_list(struct entry_checker *c, const struct boot_entry *e, const char *opt, char **v, size_t n) {
        _cleanup_free_ char *field = xasprintf("boot.%s.%s", e->name, opt);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *key = xasprintf("%s[%zu]", field, i);
                check_one(c, field, key, e->line, &v[i], WANT_FILE, true);
        }
}

/* The entry's own wimboot, else the global one, else the environment's:
 * each entry's copy is resolved, a shared one reported once. */
void entry_check_wimboot(struct entry_checker *c, const struct boot_entry *e, char **slot) {
        _cleanup_free_ char *key = xasprintf("boot.%s.wimboot", e->name);
        if (fieldmap_find(profile_fields(c->p), key))
                check_one(c, key, key, e->line, slot, WANT_FILE, true);
        else if (fieldmap_find(profile_fields(c->p), "wimboot")) {
                check_one(c, "wimboot", "wimboot", 1, slot, WANT_FILE, !c->global_wimboot_done);
                c->global_wimboot_done = true;
        } else {
                check_one(c, "PXELAB_WIMBOOT", "PXELAB_WIMBOOT", e->line, slot, WANT_FILE,
                          !c->env_wimboot_done);
                c->env_wimboot_done = true;
        }
}

void entry_check_file(struct entry_checker *c, const struct boot_entry *e, const char *key, char **slot) {
        check_entry_path(c, e, key, slot, WANT_FILE);
}

void entry_check_dir(struct entry_checker *c, const struct boot_entry *e, const char *key, char **slot) {
        check_entry_path(c, e, key, slot, WANT_DIR);
}

bool entry_check_missing_ok(const struct entry_checker *c) {
        return c->missing_ok;
}

void entry_check_problem(struct entry_checker *c, const struct boot_entry *e, const char *key, const char *fmt, ...) {
        _cleanup_free_ char *field = xasprintf("boot.%s.%s", e->name, key), *msg = NULL;
        unsigned line;
        const char *value;
        va_list ap;

        written(c->p, field, e->line, "", &line, &value);
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        problem_value(&c->problems, line, field, value, "%s", msg);
}

/* The line where KEY was set, 0 when not. */
static unsigned set_at(const struct profile *p, const char *key) {
        const struct field *f = fieldmap_find(profile_fields(p), key);
        return f ? f->line : 0;
}

/* Shim and GRUB of a lab with shim clients. A shim the profile names is a
 * boot file like any; for the default one and GRUB, say what to install. */
static void check_secboot_files(struct entry_checker *c) {
        struct profile *p = c->p;
        unsigned line = set_at(p, "uefi_loader");

        if (!profile_uses_shim(p))
                return;
        if (set_at(p, "shim"))
                check_one(c, "shim", "shim", 1, &p->shim, WANT_FILE, true);
        else if (!c->missing_ok && access(p->shim, R_OK) < 0)
                problem_add(&c->problems, line ? line : 1, "shim",
                            "'shim' clients need Debian's signed shim, which is not at %s: run scripts/get-shim "
                            "(it unpacks the package shim-signed without installing it) or set shim = \"PATH\"",
                            SECBOOT_SHIM_SEARCH_TEXT);
        else
                check_one(c, "shim", "shim", line ? line : 1, &p->shim, WANT_FILE, !c->missing_ok);
        if (!c->missing_ok && access(p->grub, R_OK) < 0)
                problem_add(&c->problems, line ? line : 1, "uefi_loader",
                            "'shim' clients need Debian's network GRUB '%s': apt-get install --no-install-recommends "
                            "grub-efi-amd64-signed", p->grub);
}

/* Every path the profile references, resolved and (unless missing_ok)
 * checked; the problems in *ERRORS. */
static int check_files(struct profile *p, bool missing_ok, char ***errors) {
        const struct profile_private *priv = p->lines;
        /* messages name the profile the way profile_parse() was given it */
        struct entry_checker c = { .p = p, .problems = { .path = priv ? priv->given_path : p->path },
                             .missing_ok = missing_ok };

        check_one(&c, "templates", "templates", 1, &p->templates, WANT_DIR, true);
        check_secboot_files(&c);
        for (size_t i = 0; i < p->n_boots; i++) {
                struct boot_entry *e = &p->boots[i];
                if (e->kind && e->kind->check_files)
                        e->kind->check_files(&c, e);
        }
        if (c.problems.n == 0) {
                if (errors)
                        *errors = NULL;
                return 0;
        }
        if (errors)
                *errors = problems_finish(&c.problems);
        else
                problems_done(&c.problems);
        return missing_ok ? -EINVAL : -ENOENT;
}

int profile_check_files(struct profile *p, char ***errors) {
        return check_files(p, false, errors);
}

int profile_resolve_paths(struct profile *p, char ***errors) {
        return check_files(p, true, errors);
}

