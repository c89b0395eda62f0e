/* Mustache renderer in two phases:
 *
 *  parse():  template text -> tree of nodes (literal text, variable, section,
 *            inverted section, partial). Comments and set-delimiter tags leave
 *            no node. The standalone-line rule (a section/inverted/end/comment/
 *            partial/delimiter tag alone on its line takes its indentation and
 *            line ending with it) is applied here, on the source text.
 *  render(): walks the tree with a context stack of json_t values, appending to
 *            one growable buffer, so output costs are linear.
 *
 * Partials are fetched through a callback when rendered, indented (for a
 * standalone partial tag, every line of the partial's source gets the tag's
 * indentation, before parsing, as the spec asks) and parsed on the spot.
 * Recursion is bounded: section nesting per template at parse time (which also
 * bounds the recursive free), partial depth and total render depth at render
 * time. The parser itself is iterative. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "render/mustache.h"
#include "basic/util.h"

enum node_type {
        NODE_TEXT,
        NODE_VAR,
        NODE_SECTION,
        NODE_INVERTED,
        NODE_PARTIAL,
};

struct node;

struct node_list {
        struct node *v;
        size_t n, cap;
};

struct node {
        enum node_type type;
        unsigned line;               /* 1-based line of the tag in its template */
        const char *text;            /* TEXT: slice of the template source ... */
        size_t len;                  /* ... of this length */
        char *name;                  /* tag name as written (trimmed) */
        char **path;                 /* VAR/sections: name split at dots; {NULL} for "." */
        bool escape;                 /* VAR: {{x}} rather than {{{x}}} / {{&x}} */
        char *indent;                /* PARTIAL: indentation of a standalone tag, or NULL */
        struct node_list children;   /* SECTION, INVERTED */
};

static void node_list_free(struct node_list *l) {
        for (size_t i = 0; i < l->n; i++) {
                struct node *n = &l->v[i];
                free(n->name);
                strv_free(n->path);
                free(n->indent);
                node_list_free(&n->children);
        }
        free(l->v);
        *l = (struct node_list) {};
}

/* Appends a node (taking over its allocations) and returns it. */
static struct node *node_list_add(struct node_list *l, const struct node *n) {
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n] = *n;
        return &l->v[l->n++];
}

/* Growable output buffer, always NUL-terminated once anything was added. */
struct buf {
        char *data;
        size_t len, cap;
};

static void buf_append(struct buf *b, const char *s, size_t n) {
        if (b->cap - b->len <= n) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap - b->len <= n) {
                        if (cap > SIZE_MAX / 2)
                                abort();
                        cap *= 2;
                }
                b->data = xrealloc(b->data, cap);
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
}

static void buf_puts(struct buf *b, const char *s) {
        buf_append(b, s, strlen(s));
}

static char *xstrndup(const char *s, size_t n) {
        char *r = strndup(s, n);
        if (!r)
                abort();
        return r;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Finds NEEDLE in [S, END). Not strstr(): sanitizer interceptors take the
 * haystack's full strlen() on each call, which made parsing quadratic. The
 * memchr() scan costs O(length * needle length), and delimiters are short. */
static const char *find(const char *s, const char *end, const char *needle) {
        size_t n = strlen(needle);

        while ((size_t) (end - s) >= n) {
                s = memchr(s, needle[0], end - s - n + 1);
                if (!s)
                        return NULL;
                if (memcmp(s, needle, n) == 0)
                        return s;
                s++;
        }
        return NULL;
}

/* ---------------------------------------------------------------- parser */

struct frame {                       /* an open section while parsing */
        struct node_list nodes;      /* its body so far */
        char *name;
        char **path;
        unsigned line;
        bool inverted;
};

struct parser {
        const char *src;
        const char *end;             /* src + strlen(src) */
        const char *text_start;      /* start of literal text not yet emitted */
        char *open, *close;          /* current delimiters */
        char *close_triple;          /* "}" + close, ends {{{name}}} */
        char *close_set;             /* "=" + close, ends {{=a b=}} */
        const char *line_pos;        /* line number bookkeeping: src up to */
        unsigned line;               /* line_pos holds line-1 newlines */
        struct frame *stack;         /* stack[0] is the template's top level */
        size_t depth, stack_cap;     /* number of open sections */
        char *error;
};

/* 1-based line number of POS; positions must be asked in increasing order. */
static unsigned parser_line(struct parser *p, const char *pos) {
        for (; p->line_pos < pos; p->line_pos++)
                if (*p->line_pos == '\n')
                        p->line++;
        return p->line;
}

static int parser_error(struct parser *p, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int parser_error(struct parser *p, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        free(p->error);
        p->error = xasprintf("line %u: %s", line, msg);
        return -EINVAL;
}

static struct node_list *parser_nodes(struct parser *p) {
        return &p->stack[p->depth].nodes;
}

static void parser_emit_text(struct parser *p, unsigned line, const char *start,
                             const char *end) {
        if (end > start)
                node_list_add(parser_nodes(p), &(struct node) {
                        .type = NODE_TEXT, .line = line, .text = start, .len = end - start,
                });
}

/* Splits a tag name into its dotted parts; "." is the implicit iterator. */
static int parse_name(struct parser *p, unsigned line, const char *name, char ***ret) {
        char **path;
        size_t n = 1, i = 0;

        if (!*name)
                return parser_error(p, line, "empty tag name");
        for (const char *s = name; *s; s++) {
                if (is_space(*s))
                        return parser_error(p, line, "invalid tag name '%s'", name);
                if (*s == '.')
                        n++;
        }
        if (streq(name, ".")) {
                *ret = xcalloc(1, sizeof(char *));
                return 0;
        }

        path = xcalloc(n + 1, sizeof(char *));
        for (const char *s = name;; s++) {
                size_t len = strcspn(s, ".");
                if (len == 0) {
                        strv_free(path);
                        return parser_error(p, line, "invalid tag name '%s'", name);
                }
                path[i++] = xstrndup(s, len);
                s += len;
                if (!*s)
                        break;
        }
        *ret = path;
        return 0;
}

static void parser_set_closings(struct parser *p) {
        free(p->close_triple);
        free(p->close_set);
        p->close_triple = xasprintf("}%s", p->close);
        p->close_set = xasprintf("=%s", p->close);
}

/* Handles {{=OPEN CLOSE=}}: two non-blank delimiters without '='. */
static int parse_delimiters(struct parser *p, unsigned line, const char *content) {
        const char *s = content, *o, *c;
        size_t olen, clen;

        while (is_space(*s))
                s++;
        o = s;
        while (*s && !is_space(*s))
                s++;
        olen = s - o;
        while (is_space(*s))
                s++;
        c = s;
        while (*s && !is_space(*s))
                s++;
        clen = s - c;
        while (is_space(*s))
                s++;
        if (olen == 0 || clen == 0 || *s ||
            memchr(o, '=', olen) || memchr(c, '=', clen))
                return parser_error(p, line, "invalid delimiter change '%s'", content);
        /* Keeps find() linear. */
        if (olen > MUSTACHE_MAX_DELIMITER || clen > MUSTACHE_MAX_DELIMITER)
                return parser_error(p, line, "delimiters longer than %d bytes in '%s'",
                                    MUSTACHE_MAX_DELIMITER, content);

        free(p->open);
        free(p->close);
        p->open = xstrndup(o, olen);
        p->close = xstrndup(c, clen);
        parser_set_closings(p);
        return 0;
}

static int parser_open_section(struct parser *p, unsigned line, char *name, bool inverted) {
        char **path = NULL;
        int r;

        r = parse_name(p, line, name, &path);
        if (r < 0) {
                free(name);
                return r;
        }
        if (p->depth >= MUSTACHE_MAX_SECTION_DEPTH) {
                free(name);
                strv_free(path);
                return parser_error(p, line, "sections nested more than %d levels deep",
                                    MUSTACHE_MAX_SECTION_DEPTH);
        }
        if (p->depth + 1 >= p->stack_cap) {
                p->stack_cap *= 2;
                p->stack = xrealloc(p->stack, p->stack_cap * sizeof(*p->stack));
        }
        p->stack[++p->depth] = (struct frame) {
                .name = name, .path = path, .line = line, .inverted = inverted,
        };
        return 0;
}

static int parser_close_section(struct parser *p, unsigned line, char *name) {
        _cleanup_free_ char *n = name;
        struct frame *f = &p->stack[p->depth];

        if (p->depth == 0)
                return parser_error(p, line, "unexpected section end '%s'", n);
        if (!streq(f->name, n))
                return parser_error(p, line, "section '%s' opened on line %u closed by '%s'",
                                    f->name, f->line, n);

        p->depth--;
        node_list_add(parser_nodes(p), &(struct node) {
                .type = f->inverted ? NODE_INVERTED : NODE_SECTION,
                .line = f->line,
                .name = f->name,
                .path = f->path,
                .children = f->nodes,
        });
        return 0;
}

/* A tag that may stand alone is standalone when only blanks surround it up to
 * its line's start and end (the template's start/end count as such). Returns
 * the extent of that line in *ret_begin (first blank) and *ret_end (just past
 * the line ending). */
static bool is_standalone(const struct parser *p, const char *tag, const char *after,
                          const char **ret_begin, const char **ret_end) {
        const char *b = tag, *e = after;

        /* Stop at text_start: a tag earlier on the same line ends there. */
        while (b > p->text_start && is_blank(b[-1]))
                b--;
        if (b != p->src && b[-1] != '\n')
                return false;

        while (is_blank(*e))
                e++;
        if (*e == '\n')
                e++;
        else if (e[0] == '\r' && e[1] == '\n')
                e += 2;
        else if (*e)
                return false;

        *ret_begin = b;
        *ret_end = e;
        return true;
}

/* Parses the tag whose opening delimiter is at TAG. */
static int parse_tag(struct parser *p, const char *tag) {
        unsigned text_line = parser_line(p, p->text_start), line = parser_line(p, tag);
        const char *content = tag + strlen(p->open), *end, *after, *begin, *next;
        const char *closing = p->close;
        char type = *content, *name;
        bool standalone = false;
        size_t len;
        int r;

        switch (type) {
        case '#': case '^': case '/': case '!': case '>': case '&':
                content++;
                break;
        case '{':
                content++;
                closing = p->close_triple;
                break;
        case '=':
                content++;
                closing = p->close_set;
                break;
        default:
                type = 0;
        }

        end = find(content, p->end, closing);
        if (!end)
                return parser_error(p, line, "unclosed tag, no '%s' found", closing);
        after = end + strlen(closing);

        /* The tag's content, trimmed. */
        while (content < end && is_space(*content))
                content++;
        len = end - content;
        while (len > 0 && is_space(content[len - 1]))
                len--;
        name = xstrndup(content, len);

        begin = tag;
        next = after;
        if (type && strchr("#^/!>=", type))
                standalone = is_standalone(p, tag, after, &begin, &next);

        parser_emit_text(p, text_line, p->text_start, begin);
        p->text_start = next;

        switch (type) {
        case '!':
                free(name);
                return 0;

        case '=':
                r = parse_delimiters(p, line, name);
                free(name);
                return r;

        case '#':
        case '^':
                return parser_open_section(p, line, name, type == '^');

        case '/':
                return parser_close_section(p, line, name);

        case '>':
                if (!*name || strpbrk(name, " \t\r\n\v\f")) {
                        r = parser_error(p, line, "invalid partial name '%s'", name);
                        free(name);
                        return r;
                }
                node_list_add(parser_nodes(p), &(struct node) {
                        .type = NODE_PARTIAL,
                        .line = line,
                        .name = name,
                        .indent = standalone ? xstrndup(begin, tag - begin) : NULL,
                });
                return 0;

        default: {
                char **path = NULL;
                r = parse_name(p, line, name, &path);
                if (r < 0) {
                        free(name);
                        return r;
                }
                node_list_add(parser_nodes(p), &(struct node) {
                        .type = NODE_VAR,
                        .line = line,
                        .name = name,
                        .path = path,
                        .escape = type == 0,
                });
                return 0;
        }
        }
}

/* Parses SRC into *ret (whose text nodes point into SRC). On failure returns
 * -EINVAL and a "line N: ..." message in *error. */
static int parse(const char *src, struct node_list *ret, char **error) {
        struct parser p = {
                .src = src,
                .end = src + strlen(src),
                .text_start = src,
                .open = xstrdup("{{"),
                .close = xstrdup("}}"),
                .line_pos = src,
                .line = 1,
                .stack_cap = 8,
        };
        const char *tag;
        int r = 0;

        p.stack = xcalloc(p.stack_cap, sizeof(*p.stack));
        parser_set_closings(&p);

        /* Scanning restarts at text_start: after a standalone tag it skips
         * only blanks and a line ending, which can't hold a delimiter. */
        while ((tag = find(p.text_start, p.end, p.open))) {
                r = parse_tag(&p, tag);
                if (r < 0)
                        goto out;
        }
        parser_emit_text(&p, parser_line(&p, p.text_start), p.text_start, p.end);

        if (p.depth > 0) {
                r = parser_error(&p, p.stack[p.depth].line, "unclosed section '%s'",
                                 p.stack[p.depth].name);
                goto out;
        }
        *ret = p.stack[0].nodes;
        p.stack[0].nodes = (struct node_list) {};

out:
        for (size_t i = 0; i <= p.depth; i++) {
                node_list_free(&p.stack[i].nodes);
                free(p.stack[i].name);
                strv_free(p.stack[i].path);
        }
        free(p.stack);
        free(p.open);
        free(p.close);
        free(p.close_triple);
        free(p.close_set);
        if (r < 0)
                *error = TAKE_PTR(p.error);
        free(p.error);
        return r;
}

/* -------------------------------------------------------------- renderer */

struct renderer {
        struct buf out;
        json_t **stack;              /* context stack, stack[0] is the root */
        size_t n_stack;
        unsigned depth;              /* sections + partials being rendered */
        unsigned partial_depth;
        bool error_in_partial;       /* error already names its partial */
        mustache_partial_fn partials;
        void *userdata;
        struct mustache_limits limits;
        size_t steps;
        char *error;
};

static int render_nodes(struct renderer *r, const struct node_list *l);
static int render_error(struct renderer *r, int err, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Counts a step: rendering a node, or one pass over a section body (which
 * may be empty, yet costs time when repeated over a list). */
static int render_step(struct renderer *r, const struct node *n) {
        if (++r->steps > r->limits.max_steps)
                return render_error(r, -E2BIG, n->line, "rendering takes more than %zu steps",
                                    r->limits.max_steps);
        return 0;
}

static int render_error(struct renderer *r, int err, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        free(r->error);
        r->error = xasprintf("line %u: %s", line, msg);
        return err;
}

/* Resolves a name against the context stack: the first part in the topmost
 * object that has it, each further part only inside the previous result. */
static json_t *lookup(const struct renderer *r, char **path) {
        json_t *v = NULL;

        if (!path[0])
                return r->stack[r->n_stack - 1];

        for (size_t i = r->n_stack; i-- > 0;)
                if (json_is_object(r->stack[i]) && (v = json_object_get(r->stack[i], path[0])))
                        break;

        for (size_t k = 1; v && path[k]; k++)
                v = json_is_object(v) ? json_object_get(v, path[k]) : NULL;
        return v;
}

static bool truthy(const json_t *v) {
        if (!v || json_is_null(v) || json_is_false(v))
                return false;
        if (json_is_array(v))
                return json_array_size(v) > 0;
        if (json_is_string(v))
                return json_string_length(v) > 0;
        return true;
}

static void append_escaped(struct buf *b, const char *s, size_t len) {
        size_t start = 0;

        for (size_t i = 0; i < len; i++) {
                const char *e;
                switch (s[i]) {
                case '&': e = "&amp;"; break;
                case '<': e = "&lt;"; break;
                case '>': e = "&gt;"; break;
                case '"': e = "&quot;"; break;
                default: continue;
                }
                buf_append(b, s + start, i - start);
                buf_puts(b, e);
                start = i + 1;
        }
        buf_append(b, s + start, len - start);
}

/* Shortest "%g" form that reads back as the same double. */
static void format_real(double d, char *buf, size_t size) {
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        return;
        }
}

static void render_var(struct renderer *r, const struct node *n) {
        json_t *v = lookup(r, n->path);
        _cleanup_free_ char *dump = NULL;
        char num[64];
        const char *s;
        size_t len;

        if (!v)
                return;
        switch (json_typeof(v)) {
        case JSON_STRING:
                s = json_string_value(v);
                len = json_string_length(v);
                break;
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                s = num;
                len = strlen(s);
                break;
        case JSON_REAL:
                format_real(json_real_value(v), num, sizeof(num));
                s = num;
                len = strlen(s);
                break;
        case JSON_TRUE:
                s = "true";
                len = 4;
                break;
        case JSON_FALSE:
                s = "false";
                len = 5;
                break;
        case JSON_OBJECT:
        case JSON_ARRAY:
                /* NULL if the value nests beyond jansson's limit: then empty. */
                dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                s = dump ?: "";
                len = strlen(s);
                break;
        default:                     /* null */
                return;
        }

        if (n->escape)
                append_escaped(&r->out, s, len);
        else
                buf_append(&r->out, s, len);
}

/* Renders a section body with V pushed as the top context (V == NULL: the
 * stack as is, for inverted sections). */
static int render_body(struct renderer *r, const struct node *n, json_t *v) {
        int k;

        if (r->depth >= MUSTACHE_MAX_RENDER_DEPTH)
                return render_error(r, -EINVAL, n->line,
                                    "sections and partials nested more than %d levels deep",
                                    MUSTACHE_MAX_RENDER_DEPTH);
        k = render_step(r, n);
        if (k < 0)
                return k;
        r->depth++;
        if (v)
                r->stack[r->n_stack++] = v;
        k = render_nodes(r, &n->children);
        if (v)
                r->n_stack--;
        r->depth--;
        return k;
}

static int render_section(struct renderer *r, const struct node *n) {
        json_t *v = lookup(r, n->path);
        int k;

        if (n->type == NODE_INVERTED)
                return truthy(v) ? 0 : render_body(r, n, NULL);
        if (!truthy(v))
                return 0;
        if (!json_is_array(v))
                return render_body(r, n, v);

        for (size_t i = 0; i < json_array_size(v); i++) {
                k = render_body(r, n, json_array_get(v, i));
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Prepends INDENT to every line of S (not after a final newline). */
static char *indent_lines(const char *s, const char *indent) {
        size_t ilen = strlen(indent), lines = 1, len = 0;
        char *ret, *d;

        for (const char *c = s; *c; c++, len++)
                if (*c == '\n')
                        lines++;
        d = ret = xcalloc(1, len + lines * ilen + 1);
        for (const char *c = s; *c; c++) {
                if (c == s || c[-1] == '\n')
                        d = mempcpy(d, indent, ilen);
                *d++ = *c;
        }
        *d = 0;
        return ret;
}

/* Wraps the error of a failed partial with where it happened: the first wrap
 * names the innermost partial, and the top-level template's line is put in
 * front, so messages stay "line N: partial 'x', line M: ..." at any depth. */
static void render_locate_error(struct renderer *r, const struct node *n) {
        char *e;

        if (!r->error_in_partial) {
                e = xasprintf("partial '%s', %s", n->name, r->error);
                free(r->error);
                r->error = e;
                r->error_in_partial = true;
        }
        if (r->partial_depth == 0) {
                e = xasprintf("line %u: %s", n->line, r->error);
                free(r->error);
                r->error = e;
        }
}

static int render_partial(struct renderer *r, const struct node *n) {
        _cleanup_free_ char *src = NULL;
        struct node_list nodes = {};
        int k;

        if (!r->partials)
                return 0;
        if (r->partial_depth >= MUSTACHE_MAX_PARTIAL_DEPTH || r->depth >= MUSTACHE_MAX_RENDER_DEPTH)
                return render_error(r, -EINVAL, n->line,
                                    "partial '%s' nested more than %d levels deep", n->name,
                                    r->partial_depth >= MUSTACHE_MAX_PARTIAL_DEPTH ?
                                    MUSTACHE_MAX_PARTIAL_DEPTH : MUSTACHE_MAX_RENDER_DEPTH);

        k = r->partials(n->name, &src, r->userdata);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return render_error(r, k, n->line, "Failed to load partial '%s': %s",
                                    n->name, strerror(-k));
        if (!src)
                return 0;
        if (n->indent) {
                char *indented = indent_lines(src, n->indent);
                free(src);
                src = indented;
        }

        r->partial_depth++;
        r->depth++;
        k = parse(src, &nodes, &r->error);
        if (k >= 0)
                k = render_nodes(r, &nodes);
        r->depth--;
        r->partial_depth--;
        node_list_free(&nodes);
        if (k < 0)
                render_locate_error(r, n);
        return k;
}


static int render_nodes(struct renderer *r, const struct node_list *l) {
        int k = 0;

        for (size_t i = 0; i < l->n && k >= 0; i++) {
                const struct node *n = &l->v[i];

                k = render_step(r, n);
                if (k < 0)
                        break;
                switch (n->type) {
                case NODE_TEXT:
                        buf_append(&r->out, n->text, n->len);
                        break;
                case NODE_VAR:
                        render_var(r, n);
                        break;
                case NODE_SECTION:
                case NODE_INVERTED:
                        k = render_section(r, n);
                        break;
                case NODE_PARTIAL:
                        k = render_partial(r, n);
                        break;
                }
                /* Checked after each node: exceeded by one node's output at most. */
                if (k >= 0 && r->out.len > r->limits.max_output)
                        k = render_error(r, -E2BIG, n->line, "output larger than %zu bytes",
                                         r->limits.max_output);
        }
        return k;
}

int mustache_render_full(const char *template, json_t *data, mustache_partial_fn partials,
                         void *userdata, const struct mustache_limits *limits,
                         char **ret, char **error) {
        struct renderer r = {
                .partials = partials,
                .userdata = userdata,
                .limits = limits ? *limits : (struct mustache_limits) {
                        .max_output = MUSTACHE_DEFAULT_MAX_OUTPUT,
                        .max_steps = MUSTACHE_DEFAULT_MAX_STEPS,
                },
        };
        struct node_list nodes = {};
        int k;

        if (error)
                *error = NULL;
        if (!template || !ret) {
                if (error)
                        *error = xstrdup("line 0: no template");
                return -EINVAL;
        }

        k = parse(template, &nodes, &r.error);
        if (k >= 0) {
                /* Root + one context per nested section at most. */
                r.stack = xcalloc(MUSTACHE_MAX_RENDER_DEPTH + 1, sizeof(*r.stack));
                r.stack[r.n_stack++] = data ?: json_null();
                k = render_nodes(&r, &nodes);
                free(r.stack);
        }
        node_list_free(&nodes);

        if (k < 0) {
                free(r.out.data);
                if (error)
                        *error = TAKE_PTR(r.error);
                free(r.error);
                return k;
        }
        free(r.error);
        *ret = r.out.data ?: xstrdup("");
        return 0;
}

int mustache_render(const char *template, json_t *data, mustache_partial_fn partials,
                    void *userdata, char **ret, char **error) {
        return mustache_render_full(template, data, partials, userdata, NULL, ret, error);
}
