/* Every problem of a profile, collected (not printed) so the user sees all of
 * them at once, then sorted by line into "FILE:LINE: FIELD: message". */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* libconfuse expands ${VAR} from the environment. A value must be what the
 * file says, so every '$' is swapped for this byte before parsing (and shown
 * as '$' again in messages); validation then refuses it like any '$'. */
#define DOLLAR_STANDIN '\x1a'

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

void problem_addv(struct problems *ps, unsigned line, const char *field, const char *fmt, va_list ap);
/* "FILE: message", about the file as a whole. */
void problem_file(struct problems *ps, const char *msg);
/* "FIELD: message" at LINE (0: none). */
void problem_add(struct problems *ps, unsigned line, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* "FIELD: 'VALUE' <message>", VALUE made printable by show(). */
void problem_value(struct problems *ps, unsigned line, const char *field, const char *value,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sorts and hands out the "FILE:LINE: FIELD: message" lines (NULL-ended);
 * PS is empty afterwards. */
char **problems_finish(struct problems *ps);
void problems_done(struct problems *ps);

/* A value made printable for a one-line message: control bytes, non-ASCII,
 * backslash and (with QUOTES) the single quote escaped; cut after MAX.
 * PS (may be NULL) tells whether DOLLAR_STANDIN stands for '$'. */
char *show_n(const struct problems *ps, const char *s, size_t max, bool quotes);
/* show_n() at 64 characters, quotes escaped. */
char *show(const struct problems *ps, const char *s);
