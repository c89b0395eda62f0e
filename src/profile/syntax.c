/* The syntax of a profile: libconfuse's tables and callbacks, the
 * pre-lexer that makes libconfuse's input safe, and the map of where each
 * field was set. See syntax.h.
 *
 * libconfuse does not remember where an option was set, so the parse records
 * it: a validate callback on every option notes the current line, and a
 * hidden option with a default value in every section is "parsed" by
 * libconfuse at the moment the section opens, which tells us the section's
 * own line (a section's cfg_t.line ends up at its closing brace). */
#include <confuse.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>

#include "profile/kind.h"
#include "profile/problems.h"
#include "profile/syntax.h"
#include "profile/types.h"
#include "basic/util.h"

#define LINE_MAGIC "__pxelab_section_line__"

/* ---- where each field was set ------------------------------------------ */

/* A hash table (open addressing, linear probing) over a growing array of
 * fields, so that recording and finding a field costs O(1) and a profile of
 * 10,000 hosts (40,000 fields) parses in linear time. Fields are never taken
 * out of the table: a field of a replaced section is only marked dropped,
 * and setting it again revives it. */

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

struct field *fieldmap_find(const struct fieldmap *m, const char *key) {
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

void fieldmap_set(struct fieldmap *m, const char *key, unsigned line, const char *value) {
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

void profile_private_free(struct profile_private *priv) {
        if (!priv)
                return;
        fieldmap_done(&priv->fields);
        free(priv->given_path);
        free(priv);
}

const struct fieldmap *profile_fields(const struct profile *p) {
        return p->lines ? &((const struct profile_private *) p->lines)->fields : NULL;
}

/* ---- parse-time state ---------------------------------------------------- */

/* libconfuse's callbacks carry no user data; its lexer is global state, so
 * there is only ever one parse per thread anyway. */
static __thread struct parse_ctx *parsing;

/* "boot.NAME.OPT", "bridge.OPT" or "OPT" for the root; the raw title. */
char *cfg_key(cfg_t *cfg, const char *opt) {
        if (!cfg->name || streq(cfg->name, "root"))
                return xstrdup(opt);
        if (cfg->title)
                return opt ? xasprintf("%s.%s.%s", cfg->name, cfg->title, opt) : xasprintf("%s.%s", cfg->name, cfg->title);
        return opt ? xasprintf("%s.%s", cfg->name, opt) : xstrdup(cfg->name);
}

/* The same for messages: a title made printable. */
char *cfg_field(cfg_t *cfg, const char *opt) {
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
        OPT_LIST("allow_host_ports"), OPT_LIST("ports"), OPT_STR("ovsdb"), OPT_STR("existing"), OPT_STR("datapath_type"),
        OPT_LINE, CFG_END(),
};
static cfg_opt_t dhcp_opts[] = {
        OPT_STR("mode"), OPT_STR("interface"), OPT_LIST("range"), OPT_STR("lease"), OPT_BOOL("probe"), OPT_LINE,
        CFG_END(),
};
static cfg_opt_t menu_opts[] = {
        OPT_STR("title"), OPT_STR("default"), OPT_INT("timeout"), OPT_LINE, CFG_END(),
};
static cfg_opt_t host_opts[] = {
        OPT_STR("mac"), OPT_STR("ip"), OPT_STR("boot"), OPT_STR("uefi_loader"), OPT_STR("disk"), OPT_LINE,
        CFG_END(),
};
static cfg_opt_t vm_opts[] = {
        OPT_STR("firmware"), OPT_STR("mac"), OPT_INT("memory"), OPT_STR("disk"), OPT_BOOL("autostart"),
        OPT_LINE, CFG_END(),
};
/* bridge/dhcp/menu are MULTI too, only so that they open like the titled
 * ones (see on_section_open); a second one is reported. */
static cfg_opt_t root_opts[] = {
        OPT_STR("lab"), OPT_STR("templates"), OPT_STR("wimboot"), OPT_STR("uefi_loader"), OPT_STR("shim"),
        CFG_SEC("bridge", bridge_opts, CFGF_MULTI),
        CFG_SEC("dhcp", dhcp_opts, CFGF_MULTI),
        CFG_SEC("menu", menu_opts, CFGF_MULTI),
        CFG_SEC("boot", NULL, CFGF_MULTI | CFGF_TITLE),         /* the kinds' keys: boot_opts() */
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
 * - ${VAR} outside quotes gets a clearer message than libconfuse's.
 * (declared in syntax.h) */
char *syntax_prepare(struct parse_ctx *ctx, const char *buf, size_t len) {
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

/* The options of a boot section: title, kind, then every kind's keys in
 * table order, each once (a key two kinds take is one option). */
static cfg_opt_t *boot_opts(const struct profile_kind *const *kinds) {
        size_t n = 0, cap = 4;
        cfg_opt_t *v;

        for (size_t k = 0; kinds[k]; k++)
                for (const struct kind_key *key = kinds[k]->keys; key && key->name; key++)
                        cap++;
        v = xcalloc(cap, sizeof(*v));
        v[n++] = (cfg_opt_t) OPT_STR("title");
        v[n++] = (cfg_opt_t) OPT_STR("kind");
        for (size_t k = 0; kinds[k]; k++)
                for (const struct kind_key *key = kinds[k]->keys; key && key->name; key++) {
                        bool seen = false;
                        for (size_t i = 0; i < n && !seen; i++)
                                seen = streq(v[i].name, key->name);
                        if (seen)
                                continue;
                        if (key->type == KIND_KEY_LIST)
                                v[n++] = (cfg_opt_t) OPT_LIST(key->name);
                        else
                                v[n++] = (cfg_opt_t) OPT_STR(key->name);
                }
        v[n++] = (cfg_opt_t) OPT_LINE;
        v[n] = (cfg_opt_t) CFG_END();
        return v;
}

cfg_t *syntax_parse(struct parse_ctx *ctx, const char *prepared, const struct profile_kind *const *kinds) {
        cfg_opt_t root[ELEMENTSOF(root_opts)];
        cfg_t *cfg;
        int r;

        memcpy(root, root_opts, sizeof(root));
        ctx->boot_opts = boot_opts(kinds);
        for (size_t i = 0; root[i].name; i++)
                if (streq(root[i].name, "boot"))
                        root[i].subopts = ctx->boot_opts;
        cfg = cfg_init(root, CFGF_NONE);
        if (!cfg)
                abort();
        cfg_set_error_function(cfg, on_cfg_error);
        set_validate(cfg->opts);
        parsing = ctx;
        r = cfg_parse_buf(cfg, prepared);
        parsing = NULL;
        detached_return(ctx);
        if (r != CFG_SUCCESS) {
                if (ctx->problems.n == 0)
                        problem_add(&ctx->problems, 1, "syntax", "cannot parse the file");
                cfg_free(cfg);
                return NULL;
        }
        return cfg;
}

void syntax_enter(struct parse_ctx *ctx) {
        parsing = ctx;
}

void syntax_leave(void) {
        parsing = NULL;
}

void syntax_done(struct parse_ctx *ctx) {
        parsing = NULL;
        free(ctx->boot_opts);
        ctx->boot_opts = NULL;
}
