/* Mustache engine: every case of the official spec files in $MUSTACHE_SPEC_DIR
 * (one cmocka test per case, one group per file), then error reporting,
 * nesting limits, value formatting and linear-time behaviour. */
#include <time.h>
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "render/mustache.h"
#include "basic/util.h"

/* ------------------------------------------------------------ spec cases */

/* The spec's core modules; optional ones start with '~' (lambdas need code). */
static const char *const spec_files[] = {
        "comments.json", "delimiters.json", "interpolation.json",
        "inverted.json", "partials.json", "sections.json",
};

static int spec_partial(const char *name, char **ret, void *userdata) {
        const char *s = json_string_value(json_object_get(userdata, name));

        if (!s)
                return -ENOENT;
        *ret = xstrdup(s);
        return 0;
}

static void test_spec_case(void **state) {
        json_t *t = *state;
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *template = json_string_value(json_object_get(t, "template"));
        const char *expected = json_string_value(json_object_get(t, "expected"));
        _cleanup_free_ char *out = NULL, *error = NULL;
        int r;

        assert_non_null(template);
        assert_non_null(expected);
        r = mustache_render(template, json_object_get(t, "data"), spec_partial,
                            json_object_get(t, "partials"), &out, &error);
        if (r < 0)
                fail_msg("'%s': render failed (%d): %s", name, r, error);
        assert_null(error);
        if (!streq(out, expected))
                fail_msg("'%s'\ntemplate: \"%s\"\nexpected: \"%s\"\n     got: \"%s\"",
                         name, template, expected, out);
}

/* Runs one spec file as a cmocka group; adds to the case counters. */
static int run_spec_file(const char *path, size_t *n_cases, size_t *n_failed) {
        json_error_t jerr;
        json_t *spec = json_load_file(path, 0, &jerr), *tests;
        struct CMUnitTest *cases;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t n;
        int failed;

        if (!spec) {
                fprintf(stderr, "Failed to load spec file '%s': %s\n", path, jerr.text);
                (*n_failed)++;
                return 1;
        }
        tests = json_object_get(spec, "tests");
        n = json_array_size(tests);
        if (n == 0) {
                fprintf(stderr, "Spec file '%s' has no tests\n", path);
                json_decref(spec);
                (*n_failed)++;
                return 1;
        }

        cases = xcalloc(n, sizeof(*cases));
        for (size_t i = 0; i < n; i++) {
                json_t *t = json_array_get(tests, i);
                cases[i] = (struct CMUnitTest) {
                        .name = xasprintf("%s: %s", base,
                                          json_string_value(json_object_get(t, "name"))),
                        .test_func = test_spec_case,
                        .initial_state = t,
                };
        }
        failed = _cmocka_run_group_tests(base, cases, n, NULL, NULL);
        for (size_t i = 0; i < n; i++)
                free((char *) cases[i].name);
        free(cases);
        json_decref(spec);

        *n_cases += n;
        *n_failed += failed;
        return failed != 0;
}

static int run_spec(void) {
        const char *dir = getenv("MUSTACHE_SPEC_DIR") ?: "../shared/mustache-spec";
        _cleanup_free_ char *pattern = path_join(dir, "*.json");
        size_t n_cases = 0, n_failed = 0;
        int failed = 0;
        glob_t g = {};

        /* Every core module must be there: a missing file must not pass. */
        for (size_t i = 0; i < ELEMENTSOF(spec_files); i++) {
                _cleanup_free_ char *p = path_join(dir, spec_files[i]);
                if (access(p, R_OK) < 0) {
                        fprintf(stderr, "Spec file '%s' is missing: %m\n", p);
                        failed = 1;
                }
        }

        if (glob(pattern, 0, NULL, &g) != 0) {
                fprintf(stderr, "No spec files match '%s'\n", pattern);
                return 1;
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
                const char *base = strrchr(g.gl_pathv[i], '/') + 1;
                if (base[0] == '~')
                        continue;
                failed |= run_spec_file(g.gl_pathv[i], &n_cases, &n_failed);
        }
        globfree(&g);

        printf("mustache spec: %zu/%zu cases passed\n", n_cases - n_failed, n_cases);
        return failed || n_cases == 0;
}

/* ------------------------------------------------------------- helpers */

static char *render_ok(const char *template, const char *json) {
        json_t *data = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
        _cleanup_free_ char *error = NULL;
        char *out = NULL;
        int r;

        if (json)
                assert_non_null(data);
        r = mustache_render(template, data, NULL, NULL, &out, &error);
        json_decref(data);
        if (r < 0)
                fail_msg("render of \"%s\" failed: %s", template, error);
        return out;
}

static void assert_render(const char *template, const char *json, const char *expected) {
        _cleanup_free_ char *out = render_ok(template, json);

        if (!streq(out, expected))
                fail_msg("template \"%s\"\nexpected \"%s\"\n     got \"%s\"", template,
                         expected, out);
}

/* Renders expecting failure R with exactly the message EXPECTED. */
static void assert_error(const char *template, mustache_partial_fn partials, void *userdata,
                         int r, const char *expected) {
        char sentinel, *out = &sentinel, *error = NULL;
        int k;

        k = mustache_render(template, NULL, partials, userdata, &out, &error);
        if (k != r || !streq(error, expected))
                fail_msg("template \"%s\"\nexpected %d \"%s\"\n     got %d \"%s\"", template,
                         r, expected, k, error);
        assert_ptr_equal(out, &sentinel);    /* untouched on failure */
        free(error);

        /* error == NULL is allowed and must not leak. */
        assert_int_equal(mustache_render(template, NULL, partials, userdata, &out, NULL), r);
        assert_ptr_equal(out, &sentinel);
}

/* Partials from a JSON object given as userdata. */
static int object_partial(const char *name, char **ret, void *userdata) {
        const char *s = json_string_value(json_object_get(userdata, name));

        if (!s)
                return -ENOENT;
        *ret = xstrdup(s);
        return 0;
}

/* Every partial is "{{>self}}": unbounded recursion. */
static int self_partial(const char *name, char **ret, void *userdata) {
        *ret = xstrdup("{{>self}}");
        return 0;
}

static int eio_partial(const char *name, char **ret, void *userdata) {
        return -EIO;
}

/* ------------------------------------------------------------- unit tests */

static void test_template_errors(void **state) {
        assert_error("a\n{{b", NULL, NULL, -EINVAL, "line 2: unclosed tag, no '}}' found");
        assert_error("x {{{a}}\n", NULL, NULL, -EINVAL, "line 1: unclosed tag, no '}}}' found");
        assert_error("{{!\n\ncomment", NULL, NULL, -EINVAL, "line 1: unclosed tag, no '}}' found");
        assert_error("{{#a}}\n{{/b}}", NULL, NULL, -EINVAL,
                     "line 2: section 'a' opened on line 1 closed by 'b'");
        assert_error("{{#a}}{{^b}}{{/a}}{{/b}}", NULL, NULL, -EINVAL,
                     "line 1: section 'b' opened on line 1 closed by 'a'");
        assert_error("x\n\n{{#a}}\n{{#b}}{{/b}}\n", NULL, NULL, -EINVAL,
                     "line 3: unclosed section 'a'");
        assert_error("\n{{/a}}", NULL, NULL, -EINVAL, "line 2: unexpected section end 'a'");
        assert_error("{{=<% =}}", NULL, NULL, -EINVAL, "line 1: invalid delimiter change '<%'");
        assert_error("{{=a= b=}}", NULL, NULL, -EINVAL, "line 1: invalid delimiter change 'a= b'");
        assert_error("{{=a b c=}}", NULL, NULL, -EINVAL,
                     "line 1: invalid delimiter change 'a b c'");
        assert_error("{{=<% %>}}", NULL, NULL, -EINVAL, "line 1: unclosed tag, no '=}}' found");
        assert_error("{{=<% %>=}}\n<%a}}", NULL, NULL, -EINVAL,
                     "line 2: unclosed tag, no '%>' found");
        assert_error("{{=<% 123456789012345678901234567890123=}}", NULL, NULL, -EINVAL,
                     "line 1: delimiters longer than 32 bytes in "
                     "'<% 123456789012345678901234567890123'");
        assert_error("{{}}", NULL, NULL, -EINVAL, "line 1: empty tag name");
        assert_error("{{# }}{{/ }}", NULL, NULL, -EINVAL, "line 1: empty tag name");
        assert_error("{{a b}}", NULL, NULL, -EINVAL, "line 1: invalid tag name 'a b'");
        assert_error("{{a..b}}", NULL, NULL, -EINVAL, "line 1: invalid tag name 'a..b'");
        assert_error("{{&.a}}", NULL, NULL, -EINVAL, "line 1: invalid tag name '.a'");
        assert_error("{{a.}}", NULL, NULL, -EINVAL, "line 1: invalid tag name 'a.'");
        assert_error("{{>}}", NULL, NULL, -EINVAL, "line 1: invalid partial name ''");
        assert_error("{{> a b}}", NULL, NULL, -EINVAL, "line 1: invalid partial name 'a b'");
        assert_error(NULL, NULL, NULL, -EINVAL, "line 0: no template");
}

static void test_partial_errors(void **state) {
        json_t *p = json_pack("{s:s, s:s, s:s}",
                              "bad", "ok\n{{#x}}\n",
                              "outer", "a\n\n{{>inner}}",
                              "inner", "{{>bad}}");

        assert_error("one\n{{>bad}}", object_partial, p, -EINVAL,
                     "line 2: partial 'bad', line 2: unclosed section 'x'");
        /* Nested: the innermost partial's line, the top template's line. */
        assert_error("\n\n\n{{>outer}}", object_partial, p, -EINVAL,
                     "line 4: partial 'bad', line 2: unclosed section 'x'");
        assert_error("x\n{{>any}}", eio_partial, NULL, -EIO,
                     "line 2: Failed to load partial 'any': Input/output error");
        assert_error("{{>self}}", self_partial, NULL, -EINVAL,
                     "line 1: partial 'self', line 1: partial 'self' nested more than 64 levels deep");
        json_decref(p);
}

static void test_partials(void **state) {
        json_t *p = json_pack("{s:s, s:s, s:s}",
                              "list", "{{#items}}\n- {{.}}\n{{/items}}\n",
                              "wrap", "<\n  {{>list}}\n>\n",
                              "node", "{{#n}}{{>node}}{{/n}}.");
        json_t *data = json_pack("{s:[s,s]}", "items", "a", "b");
        _cleanup_free_ char *out = NULL, *error = NULL;

        /* Standalone indentation accumulates through nested partials. */
        assert_int_equal(mustache_render("  {{>wrap}}\nend", data, object_partial, p,
                                         &out, &error), 0);
        assert_string_equal(out, "  <\n    - a\n    - b\n  >\nend");
        free(TAKE_PTR(out));

        /* No partial function: partials render empty. */
        assert_int_equal(mustache_render("[{{>list}}]", data, NULL, NULL, &out, &error), 0);
        assert_string_equal(out, "[]");
        free(TAKE_PTR(out));
        json_decref(data);

        /* Exactly 64 nested partials are fine, 65 are not. */
        data = json_pack("{s:b}", "n", false);
        for (int i = 0; i < 63; i++)
                data = json_pack("{s:o}", "n", data);
        assert_int_equal(mustache_render("{{>node}}", data, object_partial, p, &out, &error), 0);
        assert_int_equal(strlen(out), 64);
        free(TAKE_PTR(out));
        data = json_pack("{s:o}", "n", data);
        assert_int_equal(mustache_render("{{>node}}", data, object_partial, p, &out, &error),
                         -EINVAL);
        assert_non_null(strstr(error, "nested more than 64 levels deep"));
        json_decref(data);
        json_decref(p);
}

static char *repeat(const char *s, size_t n) {
        size_t len = strlen(s);
        char *r = xcalloc(1, len * n + 1);

        for (size_t i = 0; i < n; i++)
                memcpy(r + i * len, s, len);
        return r;
}

static void test_deep_nesting(void **state) {
        _cleanup_free_ char *open = repeat("{{#a}}", MUSTACHE_MAX_SECTION_DEPTH);
        _cleanup_free_ char *close = repeat("{{/a}}", MUSTACHE_MAX_SECTION_DEPTH);
        _cleanup_free_ char *t = xasprintf("%sx%s", open, close);
        _cleanup_free_ char *t2 = xasprintf("{{#a}}%sx%s{{/a}}", open, close);
        _cleanup_free_ char *huge = repeat("{{#a}}\n", 200000);
        _cleanup_free_ char *p_src = xasprintf("%s{{>p}}%s", open, close);
        json_t *p = json_pack("{s:s}", "p", p_src);
        _cleanup_free_ char *out = NULL, *error = NULL;
        json_t *data = json_pack("{s:b}", "a", true);

        /* 256 nested sections render; one more is refused at parse time. */
        assert_int_equal(mustache_render(t, data, NULL, NULL, &out, &error), 0);
        assert_string_equal(out, "x");
        free(TAKE_PTR(out));
        assert_int_equal(mustache_render(t2, data, NULL, NULL, &out, &error), -EINVAL);
        assert_string_equal(error, "line 1: sections nested more than 256 levels deep");
        free(TAKE_PTR(error));

        /* A huge unclosed pile fails fast without deep recursion. */
        assert_int_equal(mustache_render(huge, data, NULL, NULL, &out, &error), -EINVAL);
        assert_string_equal(error, "line 257: sections nested more than 256 levels deep");
        free(TAKE_PTR(error));

        /* Sections across recursive partials hit the render depth limit
         * (1024) before the partial limit (64). */
        assert_int_equal(mustache_render("{{>p}}", data, object_partial, p, &out, &error),
                         -EINVAL);
        assert_non_null(strstr(error, "nested more than 1024 levels deep"));
        assert_true(strncmp(error, "line 1: partial 'p', line 1: ", 29) == 0);
        json_decref(data);
        json_decref(p);
}

static int branching_partial(const char *name, char **ret, void *userdata) {
        *ret = xstrdup("{{#n}}{{>a}}{{>b}}{{/n}}");
        return 0;
}

static void test_limits(void **state) {
        const struct mustache_limits small = { .max_output = 500, .max_steps = 10000 };
        const char *cube = "{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}";
        _cleanup_free_ char *out = NULL, *error = NULL;
        json_t *list = json_array(), *data;

        for (int i = 0; i < 100; i++)
                json_array_append_new(list, json_integer(i));
        data = json_pack("{s:o}", "l", list);

        /* 10^6 passes over empty bodies count, though they output nothing. */
        assert_int_equal(mustache_render_full(cube, data, NULL, NULL, &small, &out, &error),
                         -E2BIG);
        assert_string_equal(error, "line 1: rendering takes more than 10000 steps");
        free(TAKE_PTR(error));
        assert_int_equal(mustache_render(cube, data, NULL, NULL, &out, &error), 0);
        assert_string_equal(out, "");
        free(TAKE_PTR(out));

        assert_int_equal(mustache_render_full("{{#l}}\n0123456{{.}}{{/l}}", data, NULL, NULL,
                                              &small, &out, &error), -E2BIG);
        assert_string_equal(error, "line 2: output larger than 500 bytes");
        free(TAKE_PTR(error));
        assert_int_equal(mustache_render_full("{{#l}}0123456789{{/l}}", data, NULL, NULL,
                                              &(struct mustache_limits) {
                                                      .max_output = 1000, .max_steps = 10000,
                                              }, &out, &error), 0);
        assert_int_equal(strlen(out), 1000);
        free(TAKE_PTR(out));

        json_decref(data);

        /* Branching recursion 2^20 wide, 20 deep: within the depth limit but
         * not the steps. */
        data = json_pack("{s:b}", "n", false);
        for (int i = 0; i < 20; i++)
                data = json_pack("{s:o}", "n", data);
        assert_int_equal(mustache_render_full("\n{{>a}}", data, branching_partial, NULL,
                                              &small, &out, &error), -E2BIG);
        assert_string_equal(error, "line 2: partial 'a', line 1: "
                            "rendering takes more than 10000 steps");
        json_decref(data);
}

static void test_values(void **state) {
        const char *data = "{\"i\": -42, \"big\": 9007199254740993, \"r\": 0.1, \"e\": 1e100,"
                           " \"one\": 1.0, \"third\": 0.3333333333333333, \"neg\": -2.5e-7,"
                           " \"t\": true, \"f\": false, \"n\": null, \"arr\": [1, \"a\"],"
                           " \"obj\": {\"k\": \"v\"}, \"q\": \"it's <b>&amp;\"}";

        assert_render("{{i}} {{big}} {{r}} {{e}} {{one}} {{third}} {{neg}}", data,
                      "-42 9007199254740993 0.1 1e+100 1 0.3333333333333333 -2.5e-07");
        assert_render("{{t}} {{f}} [{{n}}] [{{missing}}] [{{n.x}}]", data, "true false [] [] []");
        assert_render("{{{arr}}} {{&obj}} {{arr}}", data,
                      "[1,\"a\"] {\"k\":\"v\"} [1,&quot;a&quot;]");
        assert_render("{{q}}|{{{q}}}|{{&q}}", data,
                      "it's &lt;b&gt;&amp;amp;|it's <b>&amp;|it's <b>&amp;");
        assert_render("{{obj.k}}{{obj.k.x}}{{arr.0}}", data, "v");
        assert_render("{{.}}", "[1]", "[1]");
        assert_render("{{.}}", "\"s\"", "s");
        assert_render("[{{.}}]{{#.}}x{{/.}}", NULL, "[]");
}

static void test_truthiness(void **state) {
        const char *t = "{{#v}}T{{/v}}{{^v}}F{{/v}}";

        assert_render(t, "{\"v\": \"\"}", "F");
        assert_render(t, "{\"v\": \"x\"}", "T");
        assert_render(t, "{\"v\": 0}", "T");
        assert_render(t, "{\"v\": 0.0}", "T");
        assert_render(t, "{\"v\": {}}", "T");
        assert_render(t, "{\"v\": []}", "F");
        assert_render(t, "{\"v\": [false]}", "T");
        assert_render(t, "{\"v\": null}", "F");
        assert_render(t, "{\"v\": false}", "F");
        assert_render(t, "{}", "F");
        /* A list element that is null is still iterated. */
        assert_render("{{#v}}<{{.}}>{{/v}}", "{\"v\": [null, 1, false]}", "<><1><false>");
        /* A key whose value is null hides the outer context's value. */
        assert_render("{{#o}}[{{v}}]{{/o}}", "{\"v\": 1, \"o\": {\"v\": null}}", "[]");
}

static void test_whitespace(void **state) {
        /* Standalone tags with tabs and CRLF; two tags on a line aren't standalone. */
        assert_render("a\r\n\t{{#t}}\t\r\nb\r\n {{/t}}\r\nc", "{\"t\": true}", "a\r\nb\r\nc");
        assert_render("{{#t}}{{/t}}\nx", "{\"t\": true}", "\nx");
        assert_render("  {{! c }}  \n{{=<% %>=}}\n<%{x}%><%&x%>{{x}}", "{\"x\": \"<\"}",
                      "<<{{x}}");
        /* A lone CR is not a line ending. */
        assert_render("{{#t}}\rx{{/t}}", "{\"t\": true}", "\rx");
        assert_render("", NULL, "");
        assert_render("{{=| |=}}\n|#t|\n{{x}}\n|/t|\n", "{\"t\": [1, 2]}", "{{x}}\n{{x}}\n");
}

/* Best of three render times in usec of TEMPLATE over DATA, checking the
 * output's length. */
/* The thread's CPU time, not the wall clock: on a busy machine the test is
 * descheduled at random, which says nothing about the engine's complexity. */
static unsigned long long cpu_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000;
}

static unsigned long long time_render(const char *template, json_t *data, size_t expected_len) {
        unsigned long long best = ~0ULL;

        for (int k = 0; k < 5; k++) {
                _cleanup_free_ char *out = NULL, *error = NULL;
                unsigned long long t = cpu_usec();
                assert_int_equal(mustache_render(template, data, NULL, NULL, &out, &error), 0);
                t = cpu_usec() - t;
                assert_int_equal(strlen(out), expected_len);
                if (t < best)
                        best = t;
        }
        return best ?: 1;
}

static unsigned long long time_list(size_t n) {
        const char *t = "{{#list}}<{{name}}>{{sep}}{{/list}}";
        json_t *list = json_array(), *data;
        unsigned long long usec;

        for (size_t i = 0; i < n; i++)
                json_array_append_new(list, json_pack("{s:s}", "name", "a&b"));
        data = json_pack("{s:o, s:s}", "list", list, "sep", ",");
        usec = time_render(t, data, n * strlen("<a&amp;b>,"));
        json_decref(data);
        return usec;
}

static unsigned long long time_template(size_t n) {
        _cleanup_free_ char *t = repeat("{{x}}-{{! c }}{{#x}}{{/x}}\n", n);
        json_t *data = json_pack("{s:i}", "x", 7);
        unsigned long long usec = time_render(t, data, n * 3);

        json_decref(data);
        return usec;
}

/* Linear time means ~4x for 4x the work; quadratic would be ~16x. The bound
 * is generous for noisy machines. */
static void test_linear(void **state) {
        const size_t n = 50000;
        unsigned long long t1, t4;

        t1 = time_list(n);
        t4 = time_list(4 * n);
        printf("list of %zu items: %lluus, %zu items: %lluus\n", n, t1, 4 * n, t4);
        assert_true(t4 < 10 * t1);

        t1 = time_template(n / 5);
        t4 = time_template(4 * n / 5);
        printf("template of %zu lines: %lluus, %zu lines: %lluus\n", n / 5, t1, 4 * n / 5, t4);
        assert_true(t4 < 10 * t1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_template_errors),
                cmocka_unit_test(test_partial_errors),
                cmocka_unit_test(test_partials),
                cmocka_unit_test(test_deep_nesting),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_truthiness),
                cmocka_unit_test(test_whitespace),
                cmocka_unit_test(test_linear),
        };
        int failed;

        failed = run_spec();
        failed |= cmocka_run_group_tests_name("mustache", tests, NULL, NULL) != 0;
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
