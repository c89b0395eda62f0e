/* The value rules of a profile: characters, lengths, paths, names,
 * addresses, leases. Each check reports what is wrong through the parse's
 * problems and touches no file. See values.h. */
#include <arpa/inet.h>
#include <stdio.h>

#include "basic/rules.h"
#include "profile/problems.h"
#include "profile/syntax.h"
#include "profile/values.h"
#include "basic/util.h"

void opt_done(struct opt *o) {
        free(o->field);
}

static const char *const charset_what[] = {
        [CS_PATH] = "a path",
        [CS_URL] = "a URL",
        [CS_TITLE] = "a title",
        [CS_CMDLINE] = "a command line",
};

bool char_allowed(enum charset cs, unsigned char c) {
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

char *describe_char(const struct problems *ps, unsigned char c) {
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

unsigned field_line(const struct parse_ctx *ctx, const char *key, unsigned fallback) {
        const struct field *f = fieldmap_find(ctx->fields, key);
        return f && f->line ? f->line : fallback;
}

struct opt opt_get(struct parse_ctx *ctx, const struct sec *s, const char *name) {
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

unsigned item_line(struct parse_ctx *ctx, const struct sec *s, const char *name, unsigned i, unsigned fallback) {
        _cleanup_free_ char *key = cfg_key(s->cfg, name), *item = xasprintf("%s[%u]", key, i);
        return field_line(ctx, item, fallback);
}

/* Length and character checks every free-form value passes. */
bool check_text(struct parse_ctx *ctx, const struct opt *o, const char *value, enum charset cs, size_t max) {
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
char *path_clean(const char *p) {
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

bool has_dotdot(const char *p) {
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
char *check_path(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *dir) {
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
char *served_name(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *path) {
        const char *s = strrchr(path, '/');
        s = s ? s + 1 : path;
        if (streq(s, "..")) {
                problem_value(&ctx->problems, o->line, o->field, value, "ends in '..', which names a directory, not a file");
                return NULL;
        }
        return xstrdup(s);
}

bool ifname_valid(const char *s) {
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
int check_choice(struct parse_ctx *ctx, const struct opt *o, const char *value, const char *const *choices) {
        char list[256] = "";
        for (int i = 0; choices[i]; i++) {
                if (streq(value, choices[i]))
                        return i;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", choices[i]);
        }
        problem_value(&ctx->problems, o->line, o->field, value, "is not one of: %s", list);
        return -1;
}

bool parse_ipv4(const char *s, uint32_t *ret) {
        struct in_addr a;
        if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
                return false;
        *ret = ntohl(a.s_addr);
        return true;
}

char *ipv4_str(uint32_t a) {
        struct in_addr ia = { htonl(a) };
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &ia, buf, sizeof(buf));
        return xstrdup(buf);
}

/* A well-formed unicast MAC, normalised; NULL after reporting. */
char *check_mac(struct parse_ctx *ctx, const struct opt *o) {
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
bool check_lease(struct parse_ctx *ctx, const struct opt *o) {
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

void sec_init(struct sec *s, cfg_t *cfg, const char *kind) {
        s->cfg = cfg;
        s->line = cfg ? (unsigned) (uintptr_t) cfg_getptr(cfg, LINE_OPT) : 1;
        s->field = cfg ? cfg_field(cfg, NULL) : xstrdup(kind);
}

void sec_done(struct sec *s) {
        free(s->field);
}

