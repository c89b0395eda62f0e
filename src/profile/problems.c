/* The problems of a profile, collected so the user sees all at once. See
 * problems.h. */
#include <stdarg.h>
#include <stdio.h>

#include "profile/problems.h"
#include "basic/util.h"

void problem_addv(struct problems *ps, unsigned line, const char *field, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
        ps->v[ps->n] = (struct problem) { line, ps->n, xasprintf("%s: %s", field, msg) };
        ps->n++;
}

/* "FILE: message", about the file as a whole. */
void problem_file(struct problems *ps, const char *msg) {
        ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
        ps->v[ps->n] = (struct problem) { 0, ps->n, xstrdup(msg) };
        ps->n++;
}

void problem_add(struct problems *ps, unsigned line, const char *field, const char *fmt, ...) {
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
char **problems_finish(struct problems *ps) {
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

void problems_done(struct problems *ps) {
        for (size_t i = 0; i < ps->n; i++)
                free(ps->v[i].text);
        free(ps->v);
        ps->v = NULL;
        ps->n = 0;
}

/* A value made printable for a one-line message: control bytes, non-ASCII,
 * backslash and the single quote escaped; long values cut. */
char *show_n(const struct problems *ps, const char *s, size_t max, bool quotes) {
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

char *show(const struct problems *ps, const char *s) {
        return show_n(ps, s, 64, true);
}

/* "FIELD: 'VALUE' <message>" */
void problem_value(struct problems *ps, unsigned line, const char *field, const char *value,
                          const char *fmt, ...) {
        _cleanup_free_ char *shown = show(ps, value), *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        problem_add(ps, line, field, "'%s' %s", shown, msg);
}
