/* The lab profile. libconfuse does the syntax; everything else (names,
 * addresses, cross references, injection safety) is checked here, and every
 * problem is collected so the user sees all of them at once, each on one line
 * "FILE:LINE: FIELD: message".
 *
 * libconfuse does not remember where an option was set, so the parse records
 * it: a validate callback on every option notes the current line, and a
 * hidden option with a default value in every section is "parsed" by
 * libconfuse at the moment the section opens, which tells us the section's
 * own line (a section's cfg_t.line ends up at its closing brace). */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/names.h"
#include "basic/rules.h"
#include "host/ovsdb.h"
#include "profile/profile.h"
#include "basic/util.h"

#define MAX_STRING 255
#define MAX_PATH 4095
#define MAX_IFNAME 15
#define MIN_LEASE 120
/* A profile is read whole into memory and parsed in linear time; 4 MiB is
 * ~60,000 hosts, far beyond any lab, and bounds what a wrong file (a
 * log, /dev/zero) can cost before it is refused. */
#define MAX_PROFILE_SIZE (4 * 1024 * 1024)

/* Marks the option libconfuse sets from its default when a section opens. */
#define LINE_OPT "__line__"
#define LINE_MAGIC "__pxelab_section_line__"

/* libconfuse expands ${VAR} from the environment. A value must be what the
 * file says, so every '$' is swapped for this byte before parsing (and shown
 * as '$' again in messages); validation then refuses it like any '$'. */
#define DOLLAR_STANDIN '\x1a'

/* NULL-terminated for check_choice() */
static const char *const boot_kind_table[_BOOT_KIND_MAX + 1] = {
        [BOOT_LINUX] = "linux",
        [BOOT_CHAIN] = "chain",
        [BOOT_LOCAL] = "local",
        [BOOT_SHELL] = "shell",
        [BOOT_WIMBOOT] = "wimboot",
        [BOOT_WINDOWS] = "windows",
};

const char *boot_kind_to_string(enum boot_kind k) {
        return k >= 0 && k < _BOOT_KIND_MAX ? boot_kind_table[k] : NULL;
}

int boot_kind_from_string(const char *s) {
        for (int k = 0; k < _BOOT_KIND_MAX; k++)
                if (streq(boot_kind_table[k], s))
                        return k;
        return -EINVAL;
}

/* ---- where each field was set ------------------------------------------ */

/* A hash table (open addressing, linear probing) over a growing array of
 * fields, so that recording and finding a field costs O(1) and a profile of
 * 10,000 hosts (40,000 fields) parses in linear time. Fields are never taken
 * out of the table: a field of a replaced section is only marked dropped,
 * and setting it again revives it. */

#define FIELD_NONE SIZE_MAX

struct field {
        char *key;              /* "bridge.address", "boot.x.initrd[1]", "boot.x" */
        unsigned line;
        char *value;            /* strings as written (after unescaping) */
        bool dropped;           /* its titled section was defined again */
        size_t next_member;     /* the next field of the same section */
        size_t first_member;    /* a section's own field: its fields' list */
        size_t slot;            /* a titled section's own field: its place
                                 * among the detached sections (see there) */
};

struct fieldmap {
        struct field *v;
        size_t n, cap;
        size_t *slots;          /* index into v, FIELD_NONE: empty */
        size_t n_slots;         /* a power of two, at least twice n */
};

/* FNV-1a: short keys, no adversary that could gain from collisions beyond
 * a slower parse of its own profile. */
static size_t field_hash(const char *key) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const unsigned char *c = (const unsigned char *) key; *c; c++)
                h = (h ^ *c) * 0x100000001b3ULL;
        return (size_t) (h ^ (h >> 32));
}

/* The slot holding KEY, or the empty slot where it would go. */
static size_t *fieldmap_slot(const struct fieldmap *m, const char *key) {
        size_t mask = m->n_slots - 1;
        for (size_t i = field_hash(key) & mask;; i = (i + 1) & mask)
                if (m->slots[i] == FIELD_NONE || streq(m->v[m->slots[i]].key, key))
                        return &m->slots[i];
}

static void fieldmap_grow(struct fieldmap *m) {
        size_t n_slots = m->n_slots ? m->n_slots * 2 : 64;
        free(m->slots);
        m->slots = xcalloc(n_slots, sizeof(*m->slots));
        m->n_slots = n_slots;
        for (size_t i = 0; i < n_slots; i++)
                m->slots[i] = FIELD_NONE;
        for (size_t i = 0; i < m->n; i++)
                *fieldmap_slot(m, m->v[i].key) = i;
}

/* KEY's field, dropped ones included. */
static struct field *fieldmap_get(const struct fieldmap *m, const char *key) {
        size_t *s;
        if (!m || m->n == 0)
                return NULL;
        s = fieldmap_slot(m, key);
        return *s == FIELD_NONE ? NULL : &m->v[*s];
}

static struct field *fieldmap_find(const struct fieldmap *m, const char *key) {
        struct field *f = fieldmap_get(m, key);
        return f && !f->dropped ? f : NULL;
}

/* Records KEY's line and value; SECTION (a titled section's own key, or
 * NULL) is the section it belongs to, whose redefinition drops it. */
static void fieldmap_set_in(struct fieldmap *m, const char *section, const char *key, unsigned line,
                            const char *value) {
        struct field *f = fieldmap_get(m, key), *sec;
        size_t idx;
        bool join;

        if (!f) {
                if (2 * (m->n + 1) > m->n_slots)
                        fieldmap_grow(m);
                if (m->n == m->cap) {
                        m->cap = m->cap ? m->cap * 2 : 64;
                        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
                }
                idx = m->n++;
                m->v[idx] = (struct field) { .key = xstrdup(key), .next_member = FIELD_NONE,
                                             .first_member = FIELD_NONE, .slot = FIELD_NONE };
                *fieldmap_slot(m, key) = idx;
                f = &m->v[idx];
                join = true;
        } else {
                idx = (size_t) (f - m->v);
                join = f->dropped;
        }
        f->dropped = false;
        f->line = line;
        free(f->value);
        f->value = xstrdup(value);
        sec = section ? fieldmap_get(m, section) : NULL;
        if (join && sec && sec != f) {
                f->next_member = sec->first_member;
                sec->first_member = idx;
        }
}

static void fieldmap_set(struct fieldmap *m, const char *key, unsigned line, const char *value) {
        fieldmap_set_in(m, NULL, key, line, value);
}

/* Drops the fields of SECTION (a titled section that a later one of the
 * same name replaced); the section's own field stays. */
static void fieldmap_drop_members(struct fieldmap *m, const char *section) {
        struct field *sec = fieldmap_get(m, section);
        if (!sec)
                return;
        for (size_t i = sec->first_member; i != FIELD_NONE; i = m->v[i].next_member)
                m->v[i].dropped = true;
        sec->first_member = FIELD_NONE;
}

static void fieldmap_done(struct fieldmap *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].key);
                free(m->v[i].value);
        }
        free(m->v);
        free(m->slots);
}

/* What struct profile's `lines` points to. */
struct profile_private {
        struct fieldmap fields;
        char *given_path;       /* the profile as the caller named it */
};

static void profile_private_free(struct profile_private *priv) {
        if (!priv)
                return;
        fieldmap_done(&priv->fields);
        free(priv->given_path);
        free(priv);
}

static const struct fieldmap *profile_fields(const struct profile *p) {
        return p->lines ? &((const struct profile_private *) p->lines)->fields : NULL;
}

/* ---- problems ------------------------------------------------------------ */

struct problem {
        unsigned line;          /* 0: none ("FILE: ...") */
        size_t order;           /* found as the n-th */
        char *text;             /* "FIELD: message" */
};

struct problems {
        const char *path;       /* the profile as the caller named it */
        bool dollar;            /* DOLLAR_STANDIN stands for '$' */
        struct problem *v;
        size_t n;
};

static void problem_addv(struct problems *ps, unsigned line, const char *field, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
        ps->v[ps->n] = (struct problem) { line, ps->n, xasprintf("%s: %s", field, msg) };
        ps->n++;
}

/* "FILE: message", about the file as a whole. */
static void problem_file(struct problems *ps, const char *msg) {
        ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
        ps->v[ps->n] = (struct problem) { 0, ps->n, xstrdup(msg) };
        ps->n++;
}

static void problem_add(struct problems *ps, unsigned line, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void problem_add(struct problems *ps, unsigned line, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        problem_addv(ps, line, field, fmt, ap);
        va_end(ap);
}

/* By line, and within a line in the order found (qsort isn't stable). */
static int problem_cmp(const void *a, const void *b) {
        const struct problem *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts and hands out "FILE:LINE: FIELD: message" lines. */
static char **problems_finish(struct problems *ps) {
        char **v = xcalloc(ps->n + 1, sizeof(char *));
        if (ps->n > 1)
                qsort(ps->v, ps->n, sizeof(*ps->v), problem_cmp);
        for (size_t i = 0; i < ps->n; i++) {
                if (ps->v[i].line)
                        v[i] = xasprintf("%s:%u: %s", ps->path, ps->v[i].line, ps->v[i].text);
                else
                        v[i] = xasprintf("%s: %s", ps->path, ps->v[i].text);
                free(ps->v[i].text);
        }
        free(ps->v);
        ps->v = NULL;
        ps->n = 0;
        return v;
}

static void problems_done(struct problems *ps) {
        for (size_t i = 0; i < ps->n; i++)
                free(ps->v[i].text);
        free(ps->v);
        ps->v = NULL;
        ps->n = 0;
}

/* A value made printable for a one-line message: control bytes, non-ASCII,
 * backslash and the single quote escaped; long values cut. */
static char *show_n(const struct problems *ps, const char *s, size_t max, bool quotes) {
        size_t len = strlen(s), cap = (len < max ? len : max) * 4 + 8, o = 0;
        char *r = xcalloc(cap, 1);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = s[i];
                if (i >= max) {
                        memcpy(r + o, "...", 3);
                        o += 3;
                        break;
                }
                if (c == (unsigned char) DOLLAR_STANDIN && ps && ps->dollar)
                        r[o++] = '$';
                else if (c == '\n')
                        o += sprintf(r + o, "\\n");
                else if (c == '\t')
                        o += sprintf(r + o, "\\t");
                else if (c == '\r')
                        o += sprintf(r + o, "\\r");
                else if (quotes && (c == '\\' || c == '\''))
                        o += sprintf(r + o, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        o += sprintf(r + o, "\\x%02x", c);
                else
                        r[o++] = c;
        }
        r[o] = 0;
        return r;
}

static char *show(const struct problems *ps, const char *s) {
        return show_n(ps, s, 64, true);
}

/* "FIELD: 'VALUE' <message>" */
static void problem_value(struct problems *ps, unsigned line, const char *field, const char *value,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem_value(struct problems *ps, unsigned line, const char *field, const char *value,
                          const char *fmt, ...) {
        _cleanup_free_ char *shown = show(ps, value), *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        problem_add(ps, line, field, "'%s' %s", shown, msg);
}

/* ---- parse-time state ---------------------------------------------------- */

/* The closed sections of one titled option (boot, host, vm), see
 * on_section_close(). */
struct detached {
        cfg_opt_t *opt;
        cfg_value_t **v;
        size_t n;
};

struct parse_ctx {
        struct problems problems;
        struct profile_private *priv;
        struct fieldmap *fields;        /* &priv->fields */
        struct detached *titled;        /* one per titled option seen */
        size_t n_titled;
};

/* libconfuse's callbacks carry no user data; its lexer is global state, so
 * there is only ever one parse per thread anyway. */
static __thread struct parse_ctx *parsing;

/* "boot.NAME.OPT", "bridge.OPT" or "OPT" for the root; the raw title. */
static char *cfg_key(cfg_t *cfg, const char *opt) {
        if (!cfg->name || streq(cfg->name, "root"))
                return xstrdup(opt);
        if (cfg->title)
                return opt ? xasprintf("%s.%s.%s", cfg->name, cfg->title, opt) : xasprintf("%s.%s", cfg->name, cfg->title);
        return opt ? xasprintf("%s.%s", cfg->name, opt) : xstrdup(cfg->name);
}

/* The same for messages: a title made printable. */
static char *cfg_field(cfg_t *cfg, const char *opt) {
        _cleanup_free_ char *t = NULL;
        if (!cfg->name || streq(cfg->name, "root"))
                return xstrdup(opt);
        if (!cfg->title)
                return opt ? xasprintf("%s.%s", cfg->name, opt) : xstrdup(cfg->name);
        t = show(parsing ? &parsing->problems : NULL, cfg->title);
        return opt ? xasprintf("%s.%s.%s", cfg->name, t, opt) : xasprintf("%s.%s", cfg->name, t);
}

static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL, *shown = NULL;
        if (!parsing)
                return;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        /* libconfuse quotes the offending token itself; only make it one line */
        shown = show_n(&parsing->problems, msg, 200, false);
        problem_add(&parsing->problems, cfg ? (unsigned) cfg->line : 0, "syntax", "%s", shown);
}

/* Called by libconfuse after each value is stored: remember the line. */
static int on_option_set(cfg_t *cfg, cfg_opt_t *opt) {
        _cleanup_free_ char *key = NULL, *sec = NULL;
        unsigned n = cfg_opt_size(opt);
        if (!parsing || n == 0 || streq(opt->name, LINE_OPT))
                return 0;
        key = cfg_key(cfg, opt->name);
        /* a titled section's fields go when it is defined again */
        if (cfg->title)
                sec = cfg_key(cfg, NULL);
        if (opt->flags & CFGF_LIST) {
                _cleanup_free_ char *item = xasprintf("%s[%u]", key, n - 1);
                const char *v = opt->type == CFGT_STR ? cfg_opt_getnstr(opt, n - 1) : NULL;
                struct field *f = fieldmap_find(parsing->fields, item);
                /* libconfuse calls again at the closing brace: not a new value */
                if (f && streq(f->value, v))
                        return 0;
                fieldmap_set_in(parsing->fields, sec, item, cfg->line, v);
                if (n == 1)
                        fieldmap_set_in(parsing->fields, sec, key, cfg->line, v);
                return 0;
        }
        fieldmap_set_in(parsing->fields, sec, key, cfg->line,
                        opt->type == CFGT_STR ? cfg_opt_getnstr(opt, 0) : NULL);
        return 0;
}

/* The hidden option: libconfuse sets it from its default as each section
 * opens, while cfg->line is still the line of the opening brace. */
static int on_section_open(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result) {
        _cleanup_free_ char *key = NULL, *field = NULL;
        struct field *f;
        if (!streq(value, LINE_MAGIC)) {
                /* the user wrote it: behave like any unknown option */
                cfg_error(cfg, "no such option '%s'", opt->name);
                return -1;
        }
        *(void **) result = (void *) (uintptr_t) cfg->line;
        if (!parsing)
                return 0;
        key = cfg_key(cfg, NULL);
        f = fieldmap_find(parsing->fields, key);
        if (f) {
                field = cfg_field(cfg, NULL);
                problem_add(&parsing->problems, cfg->line, field, "defined twice (first on line %u)", f->line);
                /* a titled section replaces its namesake: forget the old lines */
                if (cfg->title)
                        fieldmap_drop_members(parsing->fields, key);
                return 0;
        }
        fieldmap_set(parsing->fields, key, cfg->line, cfg->title);
        return 0;
}

/* Integers: our own parser so a bad value is one more problem instead of
 * the end of parsing. LONG_MIN marks a value already reported. */
static int parse_number(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result) {
        const char *s = value;
        long n = 0;
        bool ok = true, neg = false;
        if (*s == '-') {
                neg = true;
                s++;
        }
        if (!*s || strlen(s) > 12)
                ok = false;
        for (; ok && *s; s++) {
                if (*s < '0' || *s > '9')
                        ok = false;
                else
                        n = n * 10 + (*s - '0');
        }
        if (!ok && parsing) {
                _cleanup_free_ char *field = cfg_field(cfg, opt->name);
                problem_value(&parsing->problems, cfg->line, field, value, "is not a number");
        }
        *(long *) result = ok ? (neg ? -n : n) : LONG_MIN;
        return 0;
}

static int parse_boolean(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result) {
        int b = cfg_parse_boolean(value);
        if (b < 0 && parsing) {
                _cleanup_free_ char *field = cfg_field(cfg, opt->name);
                problem_value(&parsing->problems, cfg->line, field, value, "is not a boolean (true or false)");
        }
        *(int *) result = b > 0;
        return 0;
}

#define OPT_STR(n) CFG_STR(n, NULL, CFGF_NODEFAULT)
#define OPT_LIST(n) CFG_STR_LIST(n, NULL, CFGF_NODEFAULT)
#define OPT_INT(n) CFG_INT_CB(n, 0, CFGF_NODEFAULT, parse_number)
#define OPT_BOOL(n) CFG_BOOL_CB(n, cfg_false, CFGF_NODEFAULT, parse_boolean)
#define OPT_LINE CFG_PTR_CB(LINE_OPT, LINE_MAGIC, CFGF_NONE, on_section_open, NULL)

static cfg_opt_t bridge_opts[] = {
        OPT_STR("name"), OPT_STR("type"), OPT_STR("address"), OPT_STR("uplink"), OPT_BOOL("ipv6"),
        OPT_LIST("allow_host_ports"), OPT_STR("ovsdb"), OPT_STR("existing"), OPT_STR("datapath_type"),
        OPT_LINE, CFG_END(),
};
static cfg_opt_t dhcp_opts[] = {
        OPT_STR("mode"), OPT_LIST("range"), OPT_STR("lease"), OPT_LINE, CFG_END(),
};
static cfg_opt_t menu_opts[] = {
        OPT_STR("title"), OPT_STR("default"), OPT_INT("timeout"), OPT_LINE, CFG_END(),
};
static cfg_opt_t boot_opts[] = {
        OPT_STR("title"), OPT_STR("kind"), OPT_STR("kernel"), OPT_LIST("initrd"), OPT_STR("cmdline"),
        OPT_STR("url"), OPT_STR("wimboot"), OPT_STR("bcd"), OPT_STR("boot_sdi"), OPT_STR("wim"),
        OPT_STR("bootmgr"), OPT_LIST("inject"), OPT_STR("args"), OPT_STR("source"), OPT_STR("unattend"),
        OPT_STR("drivers"), OPT_STR("setup_args"), OPT_LINE, CFG_END(),
};
static cfg_opt_t host_opts[] = {
        OPT_STR("mac"), OPT_STR("ip"), OPT_STR("boot"), OPT_LINE, CFG_END(),
};
static cfg_opt_t vm_opts[] = {
        OPT_STR("firmware"), OPT_STR("mac"), OPT_INT("memory"), OPT_STR("disk"), OPT_BOOL("autostart"),
        OPT_LINE, CFG_END(),
};
/* bridge/dhcp/menu are MULTI too, only so that they open like the titled
 * ones (see on_section_open); a second one is reported. */
static cfg_opt_t root_opts[] = {
        OPT_STR("lab"), OPT_STR("templates"), OPT_STR("wimboot"),
        CFG_SEC("bridge", bridge_opts, CFGF_MULTI),
        CFG_SEC("dhcp", dhcp_opts, CFGF_MULTI),
        CFG_SEC("menu", menu_opts, CFGF_MULTI),
        CFG_SEC("boot", boot_opts, CFGF_MULTI | CFGF_TITLE),
        CFG_SEC("host", host_opts, CFGF_MULTI | CFGF_TITLE),
        CFG_SEC("vm", vm_opts, CFGF_MULTI | CFGF_TITLE),
        CFG_END(),
};

/* libconfuse looks for an earlier section of the same title by comparing
 * the new one with every section so far: O(n^2), 50 million comparisons
 * for 10,000 hosts. So each titled section, once closed, is taken out of
 * libconfuse's list into ours, where its namesake is found through the
 * fieldmap (the section's own field keeps its slot), and the lists are
 * handed back after the parse (detached_return()). Like libconfuse, a
 * section defined again replaces the earlier one in its place. */
static struct detached *detached_of(struct parse_ctx *ctx, cfg_opt_t *opt) {
        for (size_t i = 0; i < ctx->n_titled; i++)
                if (ctx->titled[i].opt == opt)
                        return &ctx->titled[i];
        ctx->titled = xrealloc(ctx->titled, (ctx->n_titled + 1) * sizeof(*ctx->titled));
        ctx->titled[ctx->n_titled] = (struct detached) { .opt = opt };
        return &ctx->titled[ctx->n_titled++];
}

static int on_section_close(cfg_t *cfg, cfg_opt_t *opt) {
        _cleanup_free_ char *key = NULL;
        struct detached *d;
        struct field *f;
        cfg_value_t *val;

        if (!parsing || opt->nvalues != 1)
                return 0;
        val = opt->values[0];
        d = detached_of(parsing, opt);
        key = cfg_key(val->section, NULL);
        f = fieldmap_get(parsing->fields, key);
        if (f && f->slot != FIELD_NONE) {
                /* what libconfuse does to a namesake */
                cfg_value_t *old = d->v[f->slot];
                old->section->path = NULL;      /* the root's search path */
                cfg_free(old->section);
                old->section = val->section;
                free(val);
        } else {
                d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
                d->v[d->n] = val;
                if (f)
                        f->slot = d->n;
                d->n++;
        }
        opt->nvalues = 0;
        return 0;
}

/* Puts the detached sections back before any open ones (a parse that
 * failed inside a section), so cfg_size()/cfg_getnsec() and cfg_free()
 * see them all. */
static void detached_return(struct parse_ctx *ctx) {
        for (size_t i = 0; i < ctx->n_titled; i++) {
                struct detached *d = &ctx->titled[i];
                cfg_opt_t *opt = d->opt;
                d->v = xrealloc(d->v, (d->n + opt->nvalues + 1) * sizeof(*d->v));
                if (opt->nvalues)
                        memcpy(d->v + d->n, opt->values, opt->nvalues * sizeof(*d->v));
                free(opt->values);
                opt->values = TAKE_PTR(d->v);
                opt->nvalues += d->n;
        }
        free(ctx->titled);
        ctx->titled = NULL;
        ctx->n_titled = 0;
}

static void set_validate(cfg_opt_t *opts) {
        for (cfg_opt_t *o = opts; o->name; o++) {
                if (o->type == CFGT_SEC) {
                        set_validate(o->subopts);
                        if (o->flags & CFGF_TITLE)
                                o->validcb = on_section_close;
                } else
                        o->validcb = on_option_set;
        }
}

/* Whether C continues an unquoted token in libconfuse's lexer. */
static bool token_char(char c) {
        return !strchr(" #\"'\t\n\r={}()+,*", c);
}

/* Prepares the text for libconfuse:
 * - every '$' becomes DOLLAR_STANDIN (see there);
 * - comments become blanks: libconfuse 3.3 miscounts lines after a comment
 *   and refuses one inside a list. Like its lexer: '#' anywhere outside
 *   quotes, and at the start of a token "//" to the end of the line or
 *   a block comment;
 * - a NUL byte would silently end the file for libconfuse, and a
 *   DOLLAR_STANDIN of the user's own would be ambiguous: both are refused;
 * - libconfuse takes the end of the file as the end of an open section, and
 *   reports an unterminated string only at the end of the file: both are
 *   reported here, with the line where they start;
 * - ${VAR} outside quotes gets a clearer message than libconfuse's. */
static char *prepare_buffer(struct parse_ctx *ctx, const char *buf, size_t len) {
        enum { CODE, DQUOTE, SQUOTE, LINE_COMMENT, BLOCK_COMMENT } state = CODE;
        char *r = xcalloc(len + 1, 1);
        unsigned line = 1, start_line = 0, *open = NULL;
        size_t n_open = 0;
        bool in_token = false;

        for (size_t i = 0; i < len; i++) {
                char c = buf[i], next = i + 1 < len ? buf[i + 1] : 0;
                if (c == 0 || c == DOLLAR_STANDIN) {
                        problem_add(&ctx->problems, line, "syntax", "the file contains a %s byte (0x%02x)",
                                    c ? "control" : "NUL", (unsigned char) c);
                        goto fail;
                }
                if (c == '$') {
                        c = DOLLAR_STANDIN;
                        ctx->problems.dollar = true;
                }
                r[i] = c;
                switch (state) {
                case CODE:
                        if (c == '"' || c == '\'') {
                                state = c == '"' ? DQUOTE : SQUOTE;
                                start_line = line;
                                in_token = false;
                        } else if (c == DOLLAR_STANDIN && next == '{') {
                                _cleanup_free_ char *var = strndup(buf + i, strcspn(buf + i, "}\n") + 1);
                                _cleanup_free_ char *shown = show(&ctx->problems, var);
                                problem_add(&ctx->problems, line, "syntax",
                                            "'%s' is not expanded: profiles take no variables", shown);
                                goto fail;
                        } else if (c == '#' || (!in_token && c == '/' && next == '/')) {
                                state = LINE_COMMENT;
                                r[i] = ' ';
                        } else if (!in_token && c == '/' && next == '*') {
                                state = BLOCK_COMMENT;
                                start_line = line;
                                r[i] = r[i + 1] = ' ';
                                i++;
                        } else {
                                in_token = token_char(c);
                                if (c == '{') {
                                        open = xrealloc(open, (n_open + 1) * sizeof(*open));
                                        open[n_open++] = line;
                                } else if (c == '}' && n_open > 0)
                                        n_open--;
                        }
                        break;
                case DQUOTE:
                case SQUOTE:
                        if (c == '\\' && next && next != DOLLAR_STANDIN) {
                                /* an escape, or a line continuation */
                                r[++i] = next == '$' ? DOLLAR_STANDIN : next;
                                if (next == '$')
                                        ctx->problems.dollar = true;
                                if (next == '\n')
                                        line++;
                        } else if (c == (state == DQUOTE ? '"' : '\''))
                                state = CODE;
                        break;
                case LINE_COMMENT:
                        if (c == '\n') {
                                state = CODE;
                                in_token = false;
                        } else
                                r[i] = ' ';
                        break;
                case BLOCK_COMMENT:
                        if (c == '*' && next == '/') {
                                r[i] = r[i + 1] = ' ';
                                i++;
                                state = CODE;
                                in_token = false;
                        } else if (c != '\n')
                                r[i] = ' ';
                        break;
                }
                if (c == '\n')
                        line++;
        }
        if (state == BLOCK_COMMENT || state == DQUOTE || state == SQUOTE) {
                problem_add(&ctx->problems, start_line, "syntax", "%s",
                            state == BLOCK_COMMENT ? "unterminated /* comment" : "unterminated string");
                goto fail;
        }
        if (n_open > 0) {
                problem_add(&ctx->problems, open[n_open - 1], "syntax", "'{' without a matching '}'");
                goto fail;
        }
        free(open);
        return r;
fail:
        free(open);
        free(r);
        return NULL;
}

/* ---- value checks -------------------------------------------------------- */

enum charset { CS_PATH, CS_URL, CS_TITLE, CS_CMDLINE };

static const char *const charset_what[] = {
        [CS_PATH] = "a path",
        [CS_URL] = "a URL",
        [CS_TITLE] = "a title",
        [CS_CMDLINE] = "a command line",
};

static bool char_allowed(enum charset cs, unsigned char c) {
        static const char *const extra[] = {
                [CS_PATH] = "._/+@,=~-",
                [CS_URL] = "._~:/?=%+@,-",
                [CS_TITLE] = " ()[],.:!?+-_/@=",
                [CS_CMDLINE] = " =,.:/-_+@",
        };
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        return c && strchr(extra[cs], c);
}

static char *describe_char(const struct problems *ps, unsigned char c) {
        if (c == (unsigned char) DOLLAR_STANDIN && ps->dollar)
                return xstrdup("'$'");
        switch (c) {
        case '\n': return xstrdup("a newline");
        case '\t': return xstrdup("a tab");
        case '"': return xstrdup("a double quote");
        case '\'': return xstrdup("a single quote");
        case '`': return xstrdup("a backquote");
        case '\\': return xstrdup("a backslash");
        case ' ': return xstrdup("a space");
        }
        if (c < 0x20 || c == 0x7f)
                return xstrdup("a control character");
        if (c >= 0x80)
                return xstrdup("a non-ASCII byte");
        return xasprintf("'%c'", c);
}

/* One option of one section, with everything its messages need. */
struct opt {
        const char *value;      /* NULL: not set */
        unsigned line;          /* where set; else the section's line */
        char *field;            /* "boot.rescue.kernel", printable */
};

static void opt_done(struct opt *o) {
        free(o->field);
}
#define _cleanup_opt_ _cleanup_(opt_done)

struct sec {
        cfg_t *cfg;             /* NULL: the section is absent */
        unsigned line;
        char *field;            /* "boot.rescue", "bridge" */
};

static unsigned field_line(const struct parse_ctx *ctx, const char *key, unsigned fallback) {
        const struct field *f = fieldmap_find(ctx->fields, key);
        return f && f->line ? f->line : fallback;
}

static struct opt opt_get(struct parse_ctx *ctx, const struct sec *s, const char *name) {
        struct opt o = { .line = s->line };
        if (s->cfg) {
                _cleanup_free_ char *key = cfg_key(s->cfg, name);
                if (cfg_size(s->cfg, name) > 0)
                        o.value = cfg_getstr(s->cfg, name);
                o.line = field_line(ctx, key, s->line);
                o.field = cfg_field(s->cfg, name);
        } else
                o.field = xasprintf("%s.%s", s->field, name);
        return o;
}

static unsigned item_line(struct parse_ctx *ctx, const struct sec *s, const char *name, unsigned i, unsigned fallback) {
        _cleanup_free_ char *key = cfg_key(s->cfg, name), *item = xasprintf("%s[%u]", key, i);
        return field_line(ctx, item, fallback);
}

/* Length and character checks every free-form value passes. */
static bool check_text(struct parse_ctx *ctx, const struct opt *o, const char *value, enum charset cs, size_t max) {
        struct problems *ps = &ctx->problems;
        size_t len = strlen(value);
        if (len == 0) {
                problem_add(ps, o->line, o->field, "must not be empty");
                return false;
        }
        if (len > max) {
                problem_value(ps, o->line, o->field, value, "is too long (%zu characters, at most %zu)", len, max);
                return false;
        }
        for (const char *p = value; *p; p++)
                if (!char_allowed(cs, *p)) {
                        _cleanup_free_ char *what = describe_char(ps, *p);
                        problem_value(ps, o->line, o->field, value, "contains %s, which is not allowed in %s",
                                      what, charset_what[cs]);
                        return false;
                }
        return true;
}

/* Collapses "//" and "/./". ".." stays: what it means depends on the
 * symlinks on the way, so only the filesystem resolves it (resolve_one()). */
static char *path_clean(const char *p) {
        char *r = xcalloc(strlen(p) + 2, 1), *o = r;
        const char *s = p;
        if (*s == '/')
                *o++ = '/';
        while (*s) {
                size_t l;
                while (*s == '/')
                        s++;
                l = strcspn(s, "/");
                if (l == 0)
                        break;
                if (!(l == 1 && s[0] == '.')) {
                        if (o > r && o[-1] != '/')
                                *o++ = '/';
                        memcpy(o, s, l);
                        o += l;
                }
                s += l;
        }
        if (o == r)
                *o++ = '.';
        *o = 0;
        return r;
}

static bool has_dotdot(const char *p) {
        for (const char *s = p; *s; ) {
                size_t l = strcspn(s, "/");
                if (l == 2 && s[0] == '.' && s[1] == '.')
                        return true;
                s += l;
                s += strspn(s, "/");
        }
        return false;
}

/* A path value: checked, then made absolute against DIR. It may climb out
 * of DIR with "..": profiles often live beside the image folders they name. */
static char *check_path(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *dir) {
        if (!check_text(ctx, o, value, CS_PATH, MAX_PATH))
                return NULL;
        if (value[0] == '/')
                return path_clean(value);
        _cleanup_free_ char *joined = path_join(dir, value);
        return path_clean(joined);
}

/* The name a boot file is served under (nginx's URL, initrd=NAME, the name
 * wimboot gives an injected file): its base name as written, whatever a
 * symlink points to. NULL after reporting a path that ends in "..". */
static char *served_name(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *path) {
        const char *s = strrchr(path, '/');
        s = s ? s + 1 : path;
        if (streq(s, "..")) {
                problem_value(&ctx->problems, o->line, o->field, value, "ends in '..', which names a directory, not a file");
                return NULL;
        }
        return xstrdup(s);
}

static bool ifname_valid(const char *s) {
        size_t len = strlen(s);
        if (len == 0 || len > MAX_IFNAME || streq(s, ".") || streq(s, ".."))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '.' || *s == '-'))
                        return false;
        return true;
}

/* VALUE must be one of the NULL-terminated CHOICES; returns its index. */
static int check_choice(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *const *choices) {
        char list[256] = "";
        for (int i = 0; choices[i]; i++) {
                if (streq(value, choices[i]))
                        return i;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", choices[i]);
        }
        problem_value(&ctx->problems, o->line, o->field, value, "is not one of: %s", list);
        return -1;
}

static bool parse_ipv4(const char *s, uint32_t *ret) {
        struct in_addr a;
        if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
                return false;
        *ret = ntohl(a.s_addr);
        return true;
}

static char *ipv4_str(uint32_t a) {
        struct in_addr ia = { htonl(a) };
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &ia, buf, sizeof(buf));
        return xstrdup(buf);
}

/* A well-formed unicast MAC, normalised; NULL after reporting. */
static char *check_mac(struct parse_ctx *ctx, const struct opt *o) {
        char mac[18];

        switch (rule_mac_parse(o->value, mac)) {
        case MAC_OK:
                return xstrdup(mac);
        case MAC_MALFORMED:
                problem_value(&ctx->problems, o->line, o->field, o->value,
                              "is not a MAC address (six hex pairs separated by ':' or '-')");
                break;
        case MAC_MULTICAST:
                problem_value(&ctx->problems, o->line, o->field, o->value, "is a multicast address; use a unicast one");
                break;
        case MAC_ZERO:
                problem_value(&ctx->problems, o->line, o->field, o->value, "is the all-zero address");
                break;
        }
        return NULL;
}

/* "N", "Nm", "Nh", "Nd" or "infinite", at least MIN_LEASE seconds. */
static bool check_lease(struct parse_ctx *ctx, const struct opt *o) {
        const char *s = o->value;
        unsigned long long n = 0, mult = 1;
        size_t digits = strspn(s, "0123456789");
        if (streq(s, "infinite"))
                return true;
        if (digits > 0 && digits <= 10 && (s[digits] == 0 || (strchr("mhd", s[digits]) && s[digits + 1] == 0))) {
                for (size_t i = 0; i < digits; i++)
                        n = n * 10 + (s[i] - '0');
                mult = s[digits] == 'm' ? 60 : s[digits] == 'h' ? 3600 : s[digits] == 'd' ? 86400 : 1;
                if (n * mult < MIN_LEASE) {
                        problem_value(&ctx->problems, o->line, o->field, s, "is shorter than the minimum of 2m");
                        return false;
                }
                if (n * mult > UINT32_MAX - 1) {
                        problem_value(&ctx->problems, o->line, o->field, s, "is too long; use 'infinite'");
                        return false;
                }
                return true;
        }
        problem_value(&ctx->problems, o->line, o->field, s, "is not a lease time (N seconds, Nm, Nh, Nd or infinite)");
        return false;
}

/* ---- sections ------------------------------------------------------------ */

struct subnet {
        bool valid;
        uint32_t addr, net, bcast;
        unsigned prefix;
        char *cidr;             /* "10.33.0.0/24" */
};

struct builder {
        struct parse_ctx *ctx;
        struct profile *p;
        cfg_t *root;
        struct subnet subnet;
        bool range_valid;
        uint32_t range_start, range_end;
        unsigned range_line;
        const char **boot_index;        /* the boot names, sorted (boot_exists) */
};

static void sec_init(struct sec *s, cfg_t *cfg, const char *kind) {
        s->cfg = cfg;
        s->line = cfg ? (unsigned) (uintptr_t) cfg_getptr(cfg, LINE_OPT) : 1;
        s->field = cfg ? cfg_field(cfg, NULL) : xstrdup(kind);
}

static void sec_done(struct sec *s) {
        free(s->field);
}
#define _cleanup_sec_ _cleanup_(sec_done)

/* Refuses the OVS-only OPTS set in S. */
static void refuse_ovs_opts(struct parse_ctx *ctx, const struct sec *s, const char *const *opts) {
        for (size_t i = 0; opts[i]; i++) {
                if (cfg_size(s->cfg, opts[i]) == 0)
                        continue;
                _cleanup_opt_ struct opt o = opt_get(ctx, s, opts[i]);
                problem_add(&ctx->problems, o.line, o.field, "only valid with type = \"ovs\"");
        }
}

static char *file_stem(const char *path) {
        const char *b = strrchr(path, '/');
        char *stem = xstrdup(b ? b + 1 : path), *dot = strrchr(stem, '.');
        if (dot && dot != stem)
                *dot = 0;
        return stem;
}

static void build_root(struct builder *b) {
        struct parse_ctx *ctx = b->ctx;
        struct sec root = { .cfg = b->root, .line = 1, .field = NULL };
        _cleanup_opt_ struct opt lab = opt_get(ctx, &root, "lab");
        _cleanup_opt_ struct opt templates = opt_get(ctx, &root, "templates");
        _cleanup_opt_ struct opt wimboot = opt_get(ctx, &root, "wimboot");

        if (lab.value) {
                if (lab_name_valid(lab.value))
                        b->p->lab = xstrdup(lab.value);
                else
                        problem_value(&ctx->problems, lab.line, "lab", lab.value, "is not a valid lab name (%s)",
                                      LAB_NAME_RULE);
        } else {
                _cleanup_free_ char *stem = file_stem(ctx->problems.path);
                if (lab_name_valid(stem))
                        b->p->lab = TAKE_PTR(stem);
                else {
                        _cleanup_free_ char *shown = show(&ctx->problems, stem);
                        problem_add(&ctx->problems, 1, "lab",
                                    "the file name gives '%s', which is not a valid lab name (%s); "
                                    "set lab = \"NAME\" in the profile", shown, LAB_NAME_RULE);
                }
        }
        if (templates.value)
                b->p->templates = check_path(ctx, &templates, templates.value, b->p->dir);
        if (wimboot.value)
                b->p->wimboot = check_path(ctx, &wimboot, wimboot.value, b->p->dir);
}

/* The first bridge/dhcp/menu section (on_section_open() reports others). */
static cfg_t *single_section(struct builder *b, const char *name) {
        return cfg_size(b->root, name) > 0 ? cfg_getnsec(b->root, name, 0) : NULL;
}

static void build_address(struct builder *b, const struct opt *o) {
        struct parse_ctx *ctx = b->ctx;
        struct subnet *sn = &b->subnet;
        char ip[16];
        const char *slash;
        unsigned prefix = 0;
        size_t plen;

        if (!o->value) {
                problem_add(&ctx->problems, o->line, o->field,
                            "not set; give the lab's own address and prefix, e.g. address = \"10.33.0.1/24\"");
                return;
        }
        slash = strchr(o->value, '/');
        plen = slash ? strlen(slash + 1) : 0;
        if (!slash || (size_t) (slash - o->value) >= sizeof(ip) || plen < 1 || plen > 2 ||
            strspn(slash + 1, "0123456789") != plen) {
                problem_value(&ctx->problems, o->line, o->field, o->value, "is not an IPv4 address with a prefix length");
                return;
        }
        memcpy(ip, o->value, slash - o->value);
        ip[slash - o->value] = 0;
        prefix = (unsigned) atoi(slash + 1);
        if (!parse_ipv4(ip, &sn->addr) || prefix > 32) {
                problem_value(&ctx->problems, o->line, o->field, o->value, "is not an IPv4 address with a prefix length");
                return;
        }
        if (prefix < 8 || prefix > 30) {
                problem_value(&ctx->problems, o->line, o->field, o->value,
                              "has prefix length %u; it must be between 8 and 30", prefix);
                return;
        }
        sn->prefix = prefix;
        sn->net = sn->addr & rule_netmask(prefix);
        sn->bcast = sn->net | ~rule_netmask(prefix);
        if (sn->addr == sn->net || sn->addr == sn->bcast) {
                _cleanup_free_ char *example = ipv4_str(sn->net + 1);
                problem_value(&ctx->problems, o->line, o->field, o->value,
                              "is the %s address of its subnet; use a host address such as %s/%u",
                              sn->addr == sn->net ? "network" : "broadcast", example, prefix);
                return;
        }
        _cleanup_free_ char *net = ipv4_str(sn->net);
        sn->cidr = xasprintf("%s/%u", net, prefix);
        sn->valid = true;
        b->p->bridge.address = xstrdup(o->value);
        b->p->bridge.addr.s_addr = htonl(sn->addr);
        b->p->bridge.prefix = prefix;
}

/* "PORT/tcp" or "PORT/udp", PORT 1..65535 in decimal without leading zeros. */
static bool parse_host_port(const char *s, struct host_port *ret) {
        size_t digits = strspn(s, "0123456789");
        unsigned long port = 0;

        if (digits == 0 || digits > 5 || s[0] == '0' || s[digits] != '/')
                return false;
        for (size_t i = 0; i < digits; i++)
                port = port * 10 + (unsigned long) (s[i] - '0');
        if (port > 65535 || (!streq(s + digits + 1, "tcp") && !streq(s + digits + 1, "udp")))
                return false;
        *ret = (struct host_port) { .port = (uint16_t) port, .udp = streq(s + digits + 1, "udp") };
        return true;
}

/* bridge.allow_host_ports: host ports the lab may reach besides its own
 * services (the nftables table drops the rest). */
static void build_host_ports(struct builder *b, const struct sec *s) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        unsigned n = s->cfg ? cfg_size(s->cfg, "allow_host_ports") : 0;

        if (n == 0)
                return;
        _cleanup_opt_ struct opt list = opt_get(ctx, s, "allow_host_ports");
        _cleanup_free_ unsigned *lines = xcalloc(n, sizeof(unsigned));
        struct host_port *v = p->bridge.allow_host_ports = xcalloc(n, sizeof(struct host_port));
        size_t *m = &p->bridge.n_allow_host_ports;

        for (unsigned i = 0; i < n; i++) {
                const char *value = cfg_getnstr(s->cfg, "allow_host_ports", i);
                unsigned line = item_line(ctx, s, "allow_host_ports", i, list.line);
                struct host_port hp;
                size_t j;

                if (!parse_host_port(value, &hp)) {
                        problem_value(&ctx->problems, line, list.field, value,
                                      "is not PORT/tcp or PORT/udp (PORT 1-65535)");
                        continue;
                }
                for (j = 0; j < *m && (v[j].port != hp.port || v[j].udp != hp.udp); j++)
                        ;
                if (j < *m) {
                        problem_value(&ctx->problems, line, list.field, value,
                                      "is listed twice (first on line %u)", lines[j]);
                        continue;
                }
                lines[*m] = line;
                v[(*m)++] = hp;
        }
}

static void build_bridge(struct builder *b) {
        static const char *const types[] = { "linux", "ovs", NULL };
        static const char *const existing[] = { "refuse", "use", NULL };
        static const char *const datapaths[] = { "system", "netdev", NULL };
        static const char *const ovs_only[] = { "ovsdb", "existing", "datapath_type", NULL };
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "bridge"), "bridge");
        _cleanup_opt_ struct opt name = opt_get(ctx, &s, "name");
        _cleanup_opt_ struct opt type = opt_get(ctx, &s, "type");
        _cleanup_opt_ struct opt address = opt_get(ctx, &s, "address");
        _cleanup_opt_ struct opt uplink = opt_get(ctx, &s, "uplink");
        _cleanup_opt_ struct opt ovsdb = opt_get(ctx, &s, "ovsdb");
        _cleanup_opt_ struct opt exist = opt_get(ctx, &s, "existing");
        _cleanup_opt_ struct opt dp = opt_get(ctx, &s, "datapath_type");

        if (name.value) {
                if (ifname_valid(name.value))
                        p->bridge.name = xstrdup(name.value);
                else if (strlen(name.value) > MAX_IFNAME && strspn(name.value,
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(name.value))
                        problem_value(&ctx->problems, name.line, name.field, name.value,
                                      "is too long for an interface name (%zu characters, at most %d)",
                                      strlen(name.value), MAX_IFNAME);
                else
                        problem_value(&ctx->problems, name.line, name.field, name.value,
                                      "is not a valid interface name (1-%d characters from A-Z a-z 0-9 _ . -, not . or ..)",
                                      MAX_IFNAME);
        } else if (p->lab)
                p->bridge.name = lab_bridge_name(p->lab);

        p->bridge.type = xstrdup("linux");
        if (type.value && check_choice(ctx, &type, type.value, types) >= 0) {
                free(p->bridge.type);
                p->bridge.type = xstrdup(type.value);
        }

        build_address(b, &address);

        p->bridge.uplink = xstrdup("auto");
        if (uplink.value) {
                if (!streq(uplink.value, "auto") && !streq(uplink.value, "none") && !ifname_valid(uplink.value))
                        problem_value(&ctx->problems, uplink.line, uplink.field, uplink.value,
                                      "is not auto, none or a valid interface name");
                else if (streq(uplink.value, p->bridge.name) || streq(uplink.value, name.value))
                        problem_value(&ctx->problems, uplink.line, uplink.field, uplink.value,
                                      "is the lab's bridge itself; name the interface that leads out");
                else {
                        free(p->bridge.uplink);
                        p->bridge.uplink = xstrdup(uplink.value);
                }
        }

        p->bridge.ipv6 = s.cfg && cfg_size(s.cfg, "ipv6") > 0 ? cfg_getbool(s.cfg, "ipv6") : true;
        build_host_ports(b, &s);

        p->bridge.ovsdb = xstrdup(OVSDB_DEFAULT_SOCKET);
        p->bridge.existing = xstrdup("refuse");
        p->bridge.datapath_type = xstrdup("system");
        if (s.cfg && !streq(p->bridge.type, "ovs")) {
                if (!type.value || streq(type.value, "linux"))
                        refuse_ovs_opts(ctx, &s, ovs_only);
                return;
        }
        if (ovsdb.value) {
                char *r = check_path(ctx, &ovsdb, ovsdb.value, p->dir);
                if (r) {
                        free(p->bridge.ovsdb);
                        p->bridge.ovsdb = r;
                }
        }
        if (exist.value && check_choice(ctx, &exist, exist.value, existing) >= 0) {
                free(p->bridge.existing);
                p->bridge.existing = xstrdup(exist.value);
        }
        if (dp.value && check_choice(ctx, &dp, dp.value, datapaths) >= 0) {
                free(p->bridge.datapath_type);
                p->bridge.datapath_type = xstrdup(dp.value);
        }
}

/* Whether A is a usable address in the lab's subnet; reports otherwise. */
static bool check_in_subnet(struct builder *b, const struct opt *o, const char *value, uint32_t a) {
        struct subnet *sn = &b->subnet;
        if ((a & rule_netmask(sn->prefix)) != sn->net) {
                problem_value(&b->ctx->problems, o->line, o->field, value, "is outside the lab subnet %s", sn->cidr);
                return false;
        }
        if (a == sn->net || a == sn->bcast) {
                problem_value(&b->ctx->problems, o->line, o->field, value, "is the %s address of %s",
                              a == sn->net ? "network" : "broadcast", sn->cidr);
                return false;
        }
        return true;
}

/* .100-.200 of the subnet when that fits beside the lab's own address,
 * else the larger free part of the upper half. */
static bool derive_range(const struct subnet *sn, uint32_t *start, uint32_t *end) {
        uint32_t size = sn->bcast - sn->net + 1, own = sn->addr - sn->net, lo, hi;
        if (size > 201 && (own < 100 || own > 200)) {
                *start = sn->net + 100;
                *end = sn->net + 200;
                return true;
        }
        lo = size / 2;
        hi = size - 2;
        if (own >= lo && own <= hi) {
                if (own - lo >= hi - own) {
                        if (own == lo)
                                return false;
                        hi = own - 1;
                } else
                        lo = own + 1;
        }
        if (lo > hi)
                return false;
        *start = sn->net + lo;
        *end = sn->net + hi;
        return true;
}

static void build_dhcp(struct builder *b) {
        static const char *const modes[] = { "server", NULL };
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        struct subnet *sn = &b->subnet;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "dhcp"), "dhcp");
        _cleanup_opt_ struct opt mode = opt_get(ctx, &s, "mode");
        _cleanup_opt_ struct opt lease = opt_get(ctx, &s, "lease");
        _cleanup_opt_ struct opt range = opt_get(ctx, &s, "range");
        unsigned n_range = s.cfg ? cfg_size(s.cfg, "range") : 0;

        p->dhcp.mode = xstrdup("server");
        /* Proxy DHCP needs another DHCP server on the same segment, and the
         * lab's bridge is a network of its own: refuse it plainly. */
        if (streq(mode.value, "proxy"))
                problem_value(&ctx->problems, mode.line, mode.field, mode.value,
                              "is not supported: the lab's bridge is its own network, use 'server'");
        else if (mode.value && check_choice(ctx, &mode, mode.value, modes) >= 0) {
                free(p->dhcp.mode);
                p->dhcp.mode = xstrdup(mode.value);
        }
        p->dhcp.lease = xstrdup("12h");
        if (lease.value && check_lease(ctx, &lease)) {
                free(p->dhcp.lease);
                p->dhcp.lease = xstrdup(lease.value);
        }

        /* without a range of its own the section's line stands for it, or
         * the address it is derived from */
        if (!s.cfg)
                range.line = field_line(ctx, "bridge.address", 1);
        b->range_line = range.line;

        if (n_range == 0) {
                if (!sn->valid)
                        return;
                if (!derive_range(sn, &b->range_start, &b->range_end)) {
                        problem_add(&ctx->problems, range.line, range.field,
                                    "no room for a DHCP range in %s beside the lab's own address; set range = {\"START\", \"END\"}",
                                    sn->cidr);
                        return;
                }
                b->range_valid = true;
        } else if (n_range != 2) {
                problem_add(&ctx->problems, range.line, range.field,
                            "needs exactly 2 addresses {\"START\", \"END\"}, got %u", n_range);
                return;
        } else {
                const char *v[2] = { cfg_getnstr(s.cfg, "range", 0), cfg_getnstr(s.cfg, "range", 1) };
                uint32_t a[2];
                bool ok = true;
                for (unsigned i = 0; i < 2; i++) {
                        struct opt item = range;
                        item.line = item_line(ctx, &s, "range", i, range.line);
                        if (!parse_ipv4(v[i], &a[i])) {
                                problem_value(&ctx->problems, item.line, item.field, v[i], "is not an IPv4 address");
                                ok = false;
                        } else if (sn->valid && !check_in_subnet(b, &item, v[i], a[i]))
                                ok = false;
                }
                if (!ok)
                        return;
                if (a[0] > a[1]) {
                        _cleanup_free_ char *e = show(&ctx->problems, v[1]);
                        problem_value(&ctx->problems, range.line, range.field, v[0], "comes after '%s'; give the start first", e);
                        return;
                }
                if (!sn->valid)
                        return;
                if (sn->addr >= a[0] && sn->addr <= a[1]) {
                        _cleanup_free_ char *e = show(&ctx->problems, v[1]), *own = ipv4_str(sn->addr);
                        problem_value(&ctx->problems, range.line, range.field, v[0],
                                      "to '%s' contains the lab's own address %s", e, own);
                        return;
                }
                b->range_start = a[0];
                b->range_end = a[1];
                b->range_valid = true;
        }
        p->dhcp.range_start.s_addr = htonl(b->range_start);
        p->dhcp.range_end.s_addr = htonl(b->range_end);
}

static void build_menu(struct builder *b) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, single_section(b, "menu"), "menu");
        _cleanup_opt_ struct opt title = opt_get(ctx, &s, "title");
        _cleanup_opt_ struct opt timeout = opt_get(ctx, &s, "timeout");

        if (title.value) {
                if (check_text(ctx, &title, title.value, CS_TITLE, MAX_STRING))
                        p->menu.title = xstrdup(title.value);
        } else
                p->menu.title = xasprintf("pxelab %s", p->lab ? p->lab : "");

        p->menu.timeout = 5;
        if (s.cfg && cfg_size(s.cfg, "timeout") > 0) {
                long t = cfg_getint(s.cfg, "timeout");
                if (t == LONG_MIN)
                        ;       /* reported by parse_number() */
                else if (t < 0 || t > 3600)
                        problem_add(&ctx->problems, timeout.line, timeout.field,
                                    "'%ld' is out of range (0..3600 seconds)", t);
                else
                        p->menu.timeout = t;
        }
        /* menu.default is checked once the boot entries are known */
}

/* Which keys each kind takes, besides title and kind. */
static const char *const kind_keys[_BOOT_KIND_MAX][9] = {
        [BOOT_LINUX] = { "kernel", "initrd", "cmdline" },
        [BOOT_CHAIN] = { "url" },
        [BOOT_LOCAL] = { NULL },
        [BOOT_SHELL] = { NULL },
        [BOOT_WIMBOOT] = { "wimboot", "bcd", "boot_sdi", "wim", "bootmgr", "inject", "args" },
        [BOOT_WINDOWS] = { "source", "unattend", "drivers", "setup_args", "wimboot" },
};

static const char *const boot_keys[] = {
        "kernel", "initrd", "cmdline", "url", "wimboot", "bcd", "boot_sdi", "wim", "bootmgr",
        "inject", "args", "source", "unattend", "drivers", "setup_args", NULL,
};

static bool kind_takes(enum boot_kind k, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(kind_keys[k]) && kind_keys[k][i]; i++)
                if (streq(kind_keys[k][i], key))
                        return true;
        return false;
}

/* A path option of a boot entry: NULL when unset or bad. */
static char *boot_path(struct builder *b, const struct sec *s, const char *name, bool required, enum boot_kind k) {
        _cleanup_opt_ struct opt o = opt_get(b->ctx, s, name);
        if (!o.value) {
                if (required)
                        problem_add(&b->ctx->problems, o.line, o.field, "not set (required for kind '%s')",
                                    boot_kind_to_string(k));
                return NULL;
        }
        return check_path(b->ctx, &o, o.value, b->p->dir);
}

/* A list of files served by name: each path with its served_name() in
 * *RET_NAMES; the names must differ. */
static char **boot_path_list(struct builder *b, const struct sec *s, const char *name, char ***ret_names,
                             size_t *ret_n) {
        struct parse_ctx *ctx = b->ctx;
        _cleanup_opt_ struct opt o = opt_get(ctx, s, name);
        unsigned n = cfg_size(s->cfg, name);
        char **v = xcalloc(n + 1, sizeof(char *)), **names = xcalloc(n + 1, sizeof(char *));
        size_t k = 0;
        for (unsigned i = 0; i < n; i++) {
                struct opt item = o;
                const char *value = cfg_getnstr(s->cfg, name, i);
                _cleanup_free_ char *r = NULL, *served = NULL;
                bool clash = false;
                item.line = item_line(ctx, s, name, i, o.line);
                r = check_path(ctx, &item, value, b->p->dir);
                if (!r || !(served = served_name(ctx, &item, value, r)))
                        continue;
                for (size_t j = 0; j < k && !clash; j++)
                        clash = streq(names[j], served);
                if (clash) {
                        problem_value(&ctx->problems, item.line, item.field, value,
                                      "has the same base name as another %s of this entry; they are served by name",
                                      name);
                        continue;
                }
                v[k] = TAKE_PTR(r);
                names[k++] = TAKE_PTR(served);
        }
        *ret_names = names;
        *ret_n = k;
        return v;
}

/* The kernel of a linux entry, and its served name. */
static void boot_kernel(struct builder *b, const struct sec *s, struct boot_entry *e) {
        _cleanup_opt_ struct opt o = opt_get(b->ctx, s, "kernel");
        e->kernel = boot_path(b, s, "kernel", true, BOOT_LINUX);
        if (e->kernel && !(e->kernel_name = served_name(b->ctx, &o, o.value, e->kernel))) {
                free(e->kernel);
                e->kernel = NULL;
        }
}

static char *boot_text(struct builder *b, const struct sec *s, const char *name, enum charset cs, bool empty_ok) {
        _cleanup_opt_ struct opt o = opt_get(b->ctx, s, name);
        if (!o.value || (empty_ok && !*o.value))
                return NULL;
        return check_text(b->ctx, &o, o.value, cs, MAX_STRING) ? xstrdup(o.value) : NULL;
}

/* entry > global `wimboot` > $PXELAB_WIMBOOT */
static char *boot_wimboot(struct builder *b, const struct sec *s) {
        struct parse_ctx *ctx = b->ctx;
        const char *env;
        _cleanup_opt_ struct opt o = opt_get(ctx, s, "wimboot");
        if (o.value)
                return check_path(ctx, &o, o.value, b->p->dir);
        if (b->p->wimboot)
                return xstrdup(b->p->wimboot);
        if (cfg_size(b->root, "wimboot") > 0)
                return NULL;    /* set but bad: reported already */
        env = getenv("PXELAB_WIMBOOT");
        if (env && *env) {
                struct opt e = { .line = s->line, .field = "PXELAB_WIMBOOT" };
                _cleanup_free_ char *cwd = get_current_dir_name();
                char *r = check_path(ctx, &e, env, cwd ? cwd : "/");
                if (r)
                        fieldmap_set(ctx->fields, "PXELAB_WIMBOOT", 0, env);
                return r;
        }
        problem_add(&ctx->problems, o.line, o.field,
                    "wimboot is not packaged by Debian; download wimboot from the iPXE project's releases "
                    "(https://github.com/ipxe/wimboot/releases) and set wimboot = \"PATH\" or PXELAB_WIMBOOT");
        return NULL;
}

static void build_boot(struct builder *b, cfg_t *cfg, struct boot_entry *e) {
        struct parse_ctx *ctx = b->ctx;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, cfg, "boot");
        _cleanup_opt_ struct opt kind = opt_get(ctx, &s, "kind");
        _cleanup_opt_ struct opt title = opt_get(ctx, &s, "title");
        int k;

        e->name = xstrdup(cfg_title(cfg));
        e->line = s.line;
        if (!rule_name_valid(e->name))
                problem_value(&ctx->problems, s.line, "boot", e->name,
                              "is not a valid name (%s)", RULE_NAME_RULE);

        if (title.value) {
                if (check_text(ctx, &title, title.value, CS_TITLE, MAX_STRING))
                        e->title = xstrdup(title.value);
        } else
                e->title = xstrdup(e->name);

        if (!kind.value) {
                problem_add(&ctx->problems, kind.line, kind.field,
                            "not set (one of: linux, chain, local, shell, wimboot, windows)");
                return;
        }
        k = check_choice(ctx, &kind, kind.value, boot_kind_table);
        if (k < 0)
                return;
        e->kind = k;

        for (size_t i = 0; boot_keys[i]; i++) {
                if (cfg_size(cfg, boot_keys[i]) == 0 || kind_takes(k, boot_keys[i]))
                        continue;
                _cleanup_opt_ struct opt o = opt_get(ctx, &s, boot_keys[i]);
                problem_add(&ctx->problems, o.line, o.field, "not valid for kind '%s'", kind.value);
        }

        switch (k) {
        case BOOT_LINUX:
                boot_kernel(b, &s, e);
                e->initrd = boot_path_list(b, &s, "initrd", &e->initrd_name, &e->n_initrd);
                e->cmdline = boot_text(b, &s, "cmdline", CS_CMDLINE, true);
                break;
        case BOOT_CHAIN: {
                _cleanup_opt_ struct opt url = opt_get(ctx, &s, "url");
                if (!url.value)
                        problem_add(&ctx->problems, url.line, url.field, "not set (required for kind 'chain')");
                else if (check_text(ctx, &url, url.value, CS_URL, MAX_STRING)) {
                        const char *rest = NULL;
                        for (const char *const *sch = (const char *const[]) { "http://", "https://", "tftp://", NULL }; *sch; sch++)
                                if (strncmp(url.value, *sch, strlen(*sch)) == 0)
                                        rest = url.value + strlen(*sch);
                        if (!rest)
                                problem_value(&ctx->problems, url.line, url.field, url.value,
                                              "must start with http://, https:// or tftp://");
                        else if (!*rest || *rest == '/')
                                problem_value(&ctx->problems, url.line, url.field, url.value, "has no host name");
                        else
                                e->url = xstrdup(url.value);
                }
                break;
        }
        case BOOT_WIMBOOT:
                e->wimboot = boot_wimboot(b, &s);
                e->bcd = boot_path(b, &s, "bcd", true, k);
                e->boot_sdi = boot_path(b, &s, "boot_sdi", true, k);
                e->wim = boot_path(b, &s, "wim", true, k);
                e->bootmgr = boot_path(b, &s, "bootmgr", false, k);
                e->inject = boot_path_list(b, &s, "inject", &e->inject_name, &e->n_inject);
                e->args = boot_text(b, &s, "args", CS_CMDLINE, true);
                break;
        case BOOT_WINDOWS:
                e->source = boot_path(b, &s, "source", true, k);
                e->unattend = boot_path(b, &s, "unattend", false, k);
                e->drivers = boot_path(b, &s, "drivers", false, k);
                e->setup_args = boot_text(b, &s, "setup_args", CS_CMDLINE, true);
                e->wimboot = boot_wimboot(b, &s);
                break;
        default:
                break;
        }
}

/* A MAC or IP address in use, for the uniqueness checks (MACs across hosts
 * and VMs). */
struct use {
        char *key;              /* normalised */
        const char *value;      /* as written */
        unsigned line;
        size_t order;
        char *field;            /* "host.vm1.mac" */
        char *owner;            /* "host.vm1" */
};

struct uses {
        struct use *v;
        size_t n;
};

static void uses_add(struct uses *u, const char *key, const struct opt *o, const char *owner) {
        u->v = xrealloc(u->v, (u->n + 1) * sizeof(*u->v));
        u->v[u->n] = (struct use) { xstrdup(key), o->value, o->line, u->n, xstrdup(o->field), xstrdup(owner) };
        u->n++;
}

static int use_cmp(const void *a, const void *b) {
        const struct use *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Orders indexes into a struct uses by key, then by position (the uses
 * are sorted by line already): the first of a run of equal keys is the
 * earliest use. qsort_r: the comparison needs the array. */
static int use_key_cmp(const void *a, const void *b, void *userdata) {
        const struct use *v = userdata;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        int c = strcmp(v[x].key, v[y].key);
        return c ? c : x < y ? -1 : x > y;
}

/* Reports every use of a value that an earlier line already used, naming
 * the earliest: sorted, O(n log n). */
static void uses_check(struct parse_ctx *ctx, struct uses *u) {
        _cleanup_free_ size_t *by_key = xcalloc(u->n + 1, sizeof(size_t));
        _cleanup_free_ size_t *first = xcalloc(u->n + 1, sizeof(size_t));

        if (u->n > 1)
                qsort(u->v, u->n, sizeof(*u->v), use_cmp);
        for (size_t i = 0; i < u->n; i++)
                by_key[i] = i;
        if (u->n > 1)
                qsort_r(by_key, u->n, sizeof(*by_key), use_key_cmp, u->v);
        for (size_t i = 0, run = 0; i < u->n; i++) {
                if (i > 0 && !streq(u->v[by_key[i]].key, u->v[by_key[run]].key))
                        run = i;
                first[by_key[i]] = by_key[run];
        }
        /* in line order, as problems are found */
        for (size_t i = 0; i < u->n; i++)
                if (first[i] != i)
                        problem_value(&ctx->problems, u->v[i].line, u->v[i].field, u->v[i].value,
                                      "is already used by %s on line %u", u->v[first[i]].owner,
                                      u->v[first[i]].line);
        for (size_t i = 0; i < u->n; i++) {
                free(u->v[i].key);
                free(u->v[i].field);
                free(u->v[i].owner);
        }
        free(u->v);
}

/* Sorted once, so 10,000 hosts referring to entries cost O(n log n). */
static void boot_index_build(struct builder *b) {
        b->boot_index = xcalloc(b->p->n_boots + 1, sizeof(char *));
        for (size_t i = 0; i < b->p->n_boots; i++)
                b->boot_index[i] = b->p->boots[i].name;
        qsort(b->boot_index, b->p->n_boots, sizeof(char *), strcmp_ptr);
}

static bool boot_exists(const struct builder *b, const char *name) {
        return bsearch(&name, b->boot_index, b->p->n_boots, sizeof(char *), strcmp_ptr) != NULL;
}

static void check_boot_ref(struct builder *b, const struct opt *o) {
        char list[512] = "";
        if (boot_exists(b, o->value))
                return;
        /* the list is cut at the buffer's end: stop there */
        for (size_t i = 0; i < b->p->n_boots && strlen(list) + 1 < sizeof(list); i++) {
                _cleanup_free_ char *name = show(&b->ctx->problems, b->p->boots[i].name);
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", name);
        }
        problem_value(&b->ctx->problems, o->line, o->field, o->value, "is not a boot entry (known: %s)",
                      *list ? list : "none");
}

static void build_host(struct builder *b, cfg_t *cfg, struct host *h, struct uses *macs, struct uses *ips) {
        struct parse_ctx *ctx = b->ctx;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, cfg, "host");
        _cleanup_opt_ struct opt mac = opt_get(ctx, &s, "mac");
        _cleanup_opt_ struct opt ip = opt_get(ctx, &s, "ip");
        _cleanup_opt_ struct opt boot = opt_get(ctx, &s, "boot");
        uint32_t a;

        h->name = xstrdup(cfg_title(cfg));
        h->line = s.line;
        if (!rule_name_valid(h->name))
                problem_value(&ctx->problems, s.line, "host", h->name,
                              "is not a valid name (%s)", RULE_NAME_RULE);
        if (!mac.value)
                problem_add(&ctx->problems, mac.line, mac.field, "not set; a host is known by its MAC address");
        else if ((h->mac = check_mac(ctx, &mac)))
                uses_add(macs, h->mac, &mac, s.field);

        if (ip.value) {
                if (!parse_ipv4(ip.value, &a))
                        problem_value(&ctx->problems, ip.line, ip.field, ip.value, "is not an IPv4 address");
                else if (b->subnet.valid && check_in_subnet(b, &ip, ip.value, a)) {
                        if (a == b->subnet.addr)
                                problem_value(&ctx->problems, ip.line, ip.field, ip.value,
                                              "is the lab's own address (bridge.address)");
                        else if (b->range_valid && a >= b->range_start && a <= b->range_end) {
                                _cleanup_free_ char *rs = ipv4_str(b->range_start), *re = ipv4_str(b->range_end);
                                problem_value(&ctx->problems, ip.line, ip.field, ip.value,
                                              "is inside the DHCP range %s-%s", rs, re);
                        } else {
                                h->ip = ipv4_str(a);
                                uses_add(ips, h->ip, &ip, s.field);
                        }
                }
        }
        if (boot.value) {
                h->boot = xstrdup(boot.value);
                check_boot_ref(b, &boot);
        }
}

static void build_vm(struct builder *b, cfg_t *cfg, struct vm_decl *v, struct uses *macs) {
        static const char *const firmwares[] = { "bios", "uefi", "uefi-pxe", NULL };
        int fw;
        struct parse_ctx *ctx = b->ctx;
        _cleanup_sec_ struct sec s = {};
        sec_init(&s, cfg, "vm");
        _cleanup_opt_ struct opt firmware = opt_get(ctx, &s, "firmware");
        _cleanup_opt_ struct opt mac = opt_get(ctx, &s, "mac");
        _cleanup_opt_ struct opt memory = opt_get(ctx, &s, "memory");
        _cleanup_opt_ struct opt disk = opt_get(ctx, &s, "disk");

        v->name = xstrdup(cfg_title(cfg));
        v->line = s.line;
        if (!rule_name_valid(v->name))
                problem_value(&ctx->problems, s.line, "vm", v->name,
                              "is not a valid name (%s)", RULE_NAME_RULE);
        v->firmware = FIRMWARE_BIOS;
        /* check_choice() words the message; the firmware table decides */
        if (firmware.value && (fw = firmware_from_string(firmware.value)) >= 0)
                v->firmware = fw;
        else if (firmware.value)
                check_choice(ctx, &firmware, firmware.value, firmwares);
        if (mac.value && (v->mac = check_mac(ctx, &mac)))
                uses_add(macs, v->mac, &mac, s.field);

        v->memory = VM_MEMORY_DEFAULT;
        if (cfg_size(cfg, "memory") > 0) {
                long m = cfg_getint(cfg, "memory");
                if (m == LONG_MIN)
                        ;       /* reported by parse_number() */
                else if (!rule_memory_valid(m))
                        problem_add(&ctx->problems, memory.line, memory.field,
                                    "'%ld' is out of range (%d..%d MiB)", m, VM_MEMORY_MIN, VM_MEMORY_MAX);
                else
                        v->memory = m;
        }
        if (disk.value) {
                enum disk_form form = rule_disk_form(disk.value);
                if (form == DISK_EMPTY)
                        problem_value(&ctx->problems, disk.line, disk.field, disk.value, "is an empty disk");
                else if (form == DISK_SIZE)
                        v->disk = xstrdup(disk.value);
                else
                        v->disk = check_path(ctx, &disk, disk.value, b->p->dir);
        }
        v->autostart = cfg_size(cfg, "autostart") > 0 && cfg_getbool(cfg, "autostart");
}

static void build_lists(struct builder *b) {
        struct parse_ctx *ctx = b->ctx;
        struct profile *p = b->p;
        struct uses macs = {}, ips = {};
        unsigned n;

        n = cfg_size(b->root, "boot");
        p->boots = xcalloc(n, sizeof(*p->boots));
        for (unsigned i = 0; i < n; i++)
                build_boot(b, cfg_getnsec(b->root, "boot", i), &p->boots[p->n_boots++]);
        if (n == 0)
                problem_add(&ctx->problems, 1, "boot", "no boot entries; add at least one boot \"NAME\" { kind = ... }");
        boot_index_build(b);

        /* menu.default can be checked now */
        {
                _cleanup_sec_ struct sec s = {};
                sec_init(&s, single_section(b, "menu"), "menu");
                _cleanup_opt_ struct opt def = opt_get(ctx, &s, "default");
                if (def.value) {
                        p->menu.default_entry = xstrdup(def.value);
                        check_boot_ref(b, &def);
                } else if (p->n_boots > 0)
                        p->menu.default_entry = xstrdup(p->boots[0].name);
        }

        n = cfg_size(b->root, "host");
        p->hosts = xcalloc(n, sizeof(*p->hosts));
        for (unsigned i = 0; i < n; i++)
                build_host(b, cfg_getnsec(b->root, "host", i), &p->hosts[p->n_hosts++], &macs, &ips);

        n = cfg_size(b->root, "vm");
        p->vms = xcalloc(n, sizeof(*p->vms));
        for (unsigned i = 0; i < n; i++)
                build_vm(b, cfg_getnsec(b->root, "vm", i), &p->vms[p->n_vms++], &macs);

        uses_check(ctx, &macs);
        uses_check(ctx, &ips);
        free(b->boot_index);
        b->boot_index = NULL;
}

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

int profile_parse(const char *path, const char *buf, char ***errors, struct profile **ret) {
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
        prepared = prepare_buffer(&ctx, buf, len);
        if (!prepared)
                goto fail;

        cfg = cfg_init(root_opts, CFGF_NONE);
        if (!cfg)
                abort();
        cfg_set_error_function(cfg, on_cfg_error);
        set_validate(cfg->opts);
        parsing = &ctx;
        r = cfg_parse_buf(cfg, prepared);
        parsing = NULL;
        detached_return(&ctx);
        if (r != CFG_SUCCESS) {
                if (ctx.problems.n == 0)
                        problem_add(&ctx.problems, 1, "syntax", "cannot parse the file");
                goto fail;
        }

        p = xcalloc(1, sizeof(*p));
        profile_set_path(p, path);
        {
                struct builder b = { .ctx = &ctx, .p = p, .root = cfg };
                parsing = &ctx;         /* show() of titles in field names */
                build_root(&b);
                build_bridge(&b);
                build_dhcp(&b);
                build_menu(&b);
                build_lists(&b);
                parsing = NULL;
                free(b.subnet.cidr);
        }
        cfg_free(cfg);
        cfg = NULL;
        if (ctx.problems.n > 0)
                goto fail;

        p->lines = TAKE_PTR(ctx.priv);
        if (errors)
                *errors = NULL;
        *ret = p;
        return 0;

fail:
        parsing = NULL;
        if (cfg)
                cfg_free(cfg);
        profile_free(p);
        profile_private_free(ctx.priv);
        if (errors)
                *errors = problems_finish(&ctx.problems);
        else
                problems_done(&ctx.problems);
        return -EINVAL;
}

int profile_load(const char *path, struct profile **ret) {
        _cleanup_strv_free_ char **errors = NULL;
        int r = profile_parse(path, NULL, &errors, ret);
        if (r < 0)
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
        return r;
}

/* ---- files the profile references ---------------------------------------- */

struct checker {
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
static bool resolve_one(struct checker *c, const char *field, unsigned line, const char *value, char **slot,
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
static void check_one(struct checker *c, const char *field, const char *key, unsigned fallback, char **slot,
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

static void check_entry_path(struct checker *c, const struct boot_entry *e, const char *opt, char **slot,
                             enum want want) {
        _cleanup_free_ char *key = xasprintf("boot.%s.%s", e->name, opt);
        check_one(c, key, key, e->line, slot, want, true);
}

static void check_entry_list(struct checker *c, const struct boot_entry *e, const char *opt, char **v, size_t n) {
        _cleanup_free_ char *field = xasprintf("boot.%s.%s", e->name, opt);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *key = xasprintf("%s[%zu]", field, i);
                check_one(c, field, key, e->line, &v[i], WANT_FILE, true);
        }
}

/* The entry's own wimboot, else the global one, else the environment's:
 * each entry's copy is resolved, a shared one reported once. */
static void check_wimboot(struct checker *c, struct boot_entry *e) {
        _cleanup_free_ char *key = xasprintf("boot.%s.wimboot", e->name);
        if (fieldmap_find(profile_fields(c->p), key))
                check_one(c, key, key, e->line, &e->wimboot, WANT_FILE, true);
        else if (fieldmap_find(profile_fields(c->p), "wimboot")) {
                check_one(c, "wimboot", "wimboot", 1, &e->wimboot, WANT_FILE, !c->global_wimboot_done);
                c->global_wimboot_done = true;
        } else {
                check_one(c, "PXELAB_WIMBOOT", "PXELAB_WIMBOOT", e->line, &e->wimboot, WANT_FILE,
                          !c->env_wimboot_done);
                c->env_wimboot_done = true;
        }
}

/* Windows install media: what wimboot needs, found case-insensitively. */
static void check_windows_source(struct checker *c, const struct boot_entry *e) {
        static const char *const needed[] = { "bootmgr", "boot/bcd", "boot/boot.sdi", "sources/boot.wim" };
        _cleanup_free_ char *key = xasprintf("boot.%s.source", e->name);
        struct stat st;
        unsigned line;
        const char *value;
        if (!e->source || stat(e->source, &st) < 0 || !S_ISDIR(st.st_mode))
                return;         /* check_one() said so */
        written(c->p, key, e->line, e->source, &line, &value);
        for (size_t i = 0; i < ELEMENTSOF(needed); i++) {
                _cleanup_free_ char *found = NULL;
                if (path_lookup_ci(e->source, needed[i], &found) < 0)
                        problem_value(&c->problems, line, key, value,
                                      "has no %s (looked up case-insensitively)", needed[i]);
                else if (stat(found, &st) < 0 || !S_ISREG(st.st_mode))
                        problem_value(&c->problems, line, key, value, "has %s, but it is not a regular file",
                                      needed[i]);
        }
}

/* Every path the profile references, resolved and (unless missing_ok)
 * checked; the problems in *ERRORS. */
static int check_files(struct profile *p, bool missing_ok, char ***errors) {
        const struct profile_private *priv = p->lines;
        /* messages name the profile the way profile_parse() was given it */
        struct checker c = { .p = p, .problems = { .path = priv ? priv->given_path : p->path },
                             .missing_ok = missing_ok };

        check_one(&c, "templates", "templates", 1, &p->templates, WANT_DIR, true);
        for (size_t i = 0; i < p->n_boots; i++) {
                struct boot_entry *e = &p->boots[i];
                switch (e->kind) {
                case BOOT_LINUX:
                        check_entry_path(&c, e, "kernel", &e->kernel, WANT_FILE);
                        check_entry_list(&c, e, "initrd", e->initrd, e->n_initrd);
                        break;
                case BOOT_WIMBOOT:
                        check_wimboot(&c, e);
                        check_entry_path(&c, e, "bcd", &e->bcd, WANT_FILE);
                        check_entry_path(&c, e, "boot_sdi", &e->boot_sdi, WANT_FILE);
                        check_entry_path(&c, e, "wim", &e->wim, WANT_FILE);
                        check_entry_path(&c, e, "bootmgr", &e->bootmgr, WANT_FILE);
                        check_entry_list(&c, e, "inject", e->inject, e->n_inject);
                        break;
                case BOOT_WINDOWS:
                        check_wimboot(&c, e);
                        check_entry_path(&c, e, "source", &e->source, WANT_DIR);
                        if (!missing_ok)
                                check_windows_source(&c, e);
                        check_entry_path(&c, e, "unattend", &e->unattend, WANT_FILE);
                        check_entry_path(&c, e, "drivers", &e->drivers, WANT_DIR);
                        break;
                default:
                        break;
                }
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

unsigned profile_line(const struct profile *p, const char *field) {
        const struct field *f;
        if (!p || !field)
                return 0;
        f = fieldmap_find(profile_fields(p), field);
        return f ? f->line : 0;
}

static void boot_entry_done(struct boot_entry *e) {
        free(e->name);
        free(e->title);
        free(e->kernel);
        free(e->kernel_name);
        strv_free(e->initrd);
        strv_free(e->initrd_name);
        free(e->cmdline);
        free(e->url);
        free(e->wimboot);
        free(e->bcd);
        free(e->boot_sdi);
        free(e->wim);
        free(e->bootmgr);
        strv_free(e->inject);
        strv_free(e->inject_name);
        free(e->args);
        free(e->source);
        free(e->unattend);
        free(e->drivers);
        free(e->setup_args);
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
        free(p->bridge.name);
        free(p->bridge.type);
        free(p->bridge.address);
        free(p->bridge.uplink);
        free(p->bridge.ovsdb);
        free(p->bridge.existing);
        free(p->bridge.datapath_type);
        free(p->bridge.allow_host_ports);
        free(p->dhcp.mode);
        free(p->dhcp.lease);
        free(p->menu.title);
        free(p->menu.default_entry);
        profile_private_free(p->lines);
        free(p);
}
