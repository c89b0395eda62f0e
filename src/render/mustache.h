/* Mustache templates (https://mustache.github.io/mustache.5.html) rendered
 * against jansson values. Implements the spec modules comments, interpolation,
 * sections, inverted, partials and delimiters (no lambdas: JSON has none).
 *
 * Choices where the spec leaves room:
 *  - {{x}} escapes & < > " (exactly the spec's set); {{{x}}} and {{&x}} don't.
 *  - Falsey: missing, null, false, [] and "" (an empty string hides a section,
 *    as in JavaScript); 0 and {} are truthy.
 *  - Interpolation: strings as-is; integers in decimal; reals in the shortest
 *    form that reads back to the same double ("1.21", "0.1", "1e+100");
 *    true/false as "true"/"false"; null and misses as ""; arrays and objects
 *    as compact JSON.
 *  - Tag names must be non-empty, without whitespace or empty dotted parts.
 *  - Set-delimiter tags take two delimiters of at most 32 bytes without '='.
 *  - Nesting limits: 64 partials deep, 256 sections deep within one template,
 *    1024 sections+partials deep while rendering; beyond, -EINVAL. */
#pragma once
#include <jansson.h>

#define MUSTACHE_MAX_PARTIAL_DEPTH 64
#define MUSTACHE_MAX_SECTION_DEPTH 256
#define MUSTACHE_MAX_RENDER_DEPTH 1024
#define MUSTACHE_MAX_DELIMITER 32       /* bytes, in {{=OPEN CLOSE=}} */

/* Bounds on one render against runaway templates (sections nested over big
 * lists, branching partial recursion): past them rendering stops with -E2BIG.
 * A step is one tag or piece of text rendered; partials count as tags. */
struct mustache_limits {
        size_t max_output;              /* bytes */
        size_t max_steps;
};
#define MUSTACHE_DEFAULT_MAX_OUTPUT (256u << 20)
#define MUSTACHE_DEFAULT_MAX_STEPS (64u << 20)

/* Looks up a partial by name. Returns 0 and a malloc'd template in *ret, or -ENOENT
 * (the partial then renders as empty, as the spec says), or another negative errno.
 * It is called each time a partial tag is expanded (results are not cached). */
typedef int (*mustache_partial_fn)(const char *name, char **ret, void *userdata);

/* Renders TEMPLATE against DATA (any json_t: object is the root context; NULL acts
 * as null). PARTIALS may be NULL (every partial is then empty).
 * On success returns 0 and a malloc'd NUL-terminated string in *ret, and sets
 * *error to NULL (if error != NULL).
 * On a template error (unclosed tag, unclosed/mismatched section, bad delimiter
 * change, invalid tag name, partial nesting > 64, nesting too deep) returns -EINVAL
 * and a malloc'd message "line N: ..." in *error (if error != NULL); N is the line
 * in TEMPLATE, and an error inside a partial reads
 * "line N: partial 'NAME', line M: ...". When PARTIALS fails with an errno other
 * than ENOENT, that errno is returned with a message in *error too, as is
 * -E2BIG when a default limit (struct mustache_limits) is exceeded.
 * *ret is left untouched on failure. */
int mustache_render(const char *template, json_t *data, mustache_partial_fn partials,
                    void *userdata, char **ret, char **error);

/* mustache_render() with explicit LIMITS (NULL: the defaults). */
int mustache_render_full(const char *template, json_t *data, mustache_partial_fn partials,
                         void *userdata, const struct mustache_limits *limits,
                         char **ret, char **error);
