/* OVSDB stream framing: messages back to back without delimiter, split
 * anywhere across reads; and how server errors are formatted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "host/ovsdb.h"
#include "basic/util.h"

/* Two replies as ovsdb-server writes them: no separator. The first has
 * strings with escaped quotes/backslashes and brackets, a \u escape and
 * multi-byte UTF-8, numbers and literals, so that a split can land inside
 * every kind of token. */
static const char two[] =
        "{\"id\":7,\"result\":[{\"rows\":[{\"name\":\"br\\\"}]{[\\\\\",\"x\":\"\\u00e9\xc3\xa9\xe2\x82\xac\","
        "\"n\":-12.5e3,\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"a\":[]}]}],\"error\":null}"
        "{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]}";

static void check_first(json_t *m) {
        json_t *row = json_array_get(json_object_get(json_array_get(json_object_get(m, "result"), 0), "rows"), 0);
        assert_int_equal(json_integer_value(json_object_get(m, "id")), 7);
        assert_string_equal(json_string_value(json_object_get(row, "name")), "br\"}]{[\\");
        assert_string_equal(json_string_value(json_object_get(row, "x")), "\xc3\xa9\xc3\xa9\xe2\x82\xac");
        assert_true(json_is_true(json_object_get(row, "t")));
        assert_true(json_is_null(json_object_get(m, "error")));
}

static void check_second(json_t *m) {
        assert_string_equal(json_string_value(json_object_get(m, "method")), "echo");
}

static void test_two_concatenated(void **state) {
        struct ovsdb_framer f = {};
        json_t *m = NULL;

        ovsdb_framer_feed(&f, two, strlen(two));
        assert_int_equal(ovsdb_framer_next(&f, &m), 1);
        check_first(m);
        json_decref(m);
        assert_int_equal(ovsdb_framer_next(&f, &m), 1);
        check_second(m);
        json_decref(m);
        assert_int_equal(ovsdb_framer_next(&f, &m), 0);
        assert_int_equal(f.len, 0);
        ovsdb_framer_done(&f);
}

/* Every split point of the two messages, as two reads. */
static void test_split_everywhere(void **state) {
        size_t n = strlen(two);

        for (size_t cut = 0; cut <= n; cut++) {
                struct ovsdb_framer f = {};
                json_t *msgs[2] = {};
                size_t got = 0;
                int r;

                ovsdb_framer_feed(&f, two, cut);
                while ((r = ovsdb_framer_next(&f, &msgs[got])) == 1)
                        got++;
                assert_int_equal(r, 0);
                ovsdb_framer_feed(&f, two + cut, n - cut);
                while (got < 2 && (r = ovsdb_framer_next(&f, &msgs[got])) == 1)
                        got++;
                assert_int_equal(got, 2);
                check_first(msgs[0]);
                check_second(msgs[1]);
                assert_int_equal(ovsdb_framer_next(&f, &msgs[0]), 0);
                json_decref(msgs[0]);
                json_decref(msgs[1]);
                ovsdb_framer_done(&f);
        }
}

/* One byte per read: nothing until the closing brace of each message. */
static void test_byte_by_byte(void **state) {
        struct ovsdb_framer f = {};
        size_t n = strlen(two), done = 0;
        size_t first_end = strstr(two, "}{\"id\":\"echo\"") - two; /* last byte of message 1 */
        json_t *m = NULL;

        for (size_t i = 0; i < n; i++) {
                ovsdb_framer_feed(&f, two + i, 1);
                int r = ovsdb_framer_next(&f, &m);
                if (i == first_end || i == n - 1) {
                        assert_int_equal(r, 1);
                        if (done++ == 0)
                                check_first(m);
                        else
                                check_second(m);
                        json_decref(m);
                } else
                        assert_int_equal(r, 0);
        }
        assert_int_equal(done, 2);
        ovsdb_framer_done(&f);
}

static void test_whitespace_between(void **state) {
        static const char s[] = "\n {\"id\":1} \r\n\t{\"id\":2}\n  ";
        struct ovsdb_framer f = {};
        json_t *m = NULL;

        ovsdb_framer_feed(&f, s, strlen(s));
        assert_int_equal(ovsdb_framer_next(&f, &m), 1);
        assert_int_equal(json_integer_value(json_object_get(m, "id")), 1);
        json_decref(m);
        assert_int_equal(ovsdb_framer_next(&f, &m), 1);
        assert_int_equal(json_integer_value(json_object_get(m, "id")), 2);
        json_decref(m);
        assert_int_equal(ovsdb_framer_next(&f, &m), 0);
        ovsdb_framer_done(&f);
}

static void expect_bad(const char *s, const char *error_part) {
        struct ovsdb_framer f = {};
        json_t *m = NULL;
        int r;

        ovsdb_framer_feed(&f, s, strlen(s));
        /* valid messages before the bad bytes come out first */
        while ((r = ovsdb_framer_next(&f, &m)) == 1) {
                json_decref(m);
                m = NULL;
        }
        assert_int_equal(r, -EBADMSG);
        assert_null(m);
        assert_non_null(strstr(f.error, error_part));
        ovsdb_framer_done(&f);
}

static void test_malformed(void **state) {
        expect_bad("x{}", "unexpected byte 0x78");
        expect_bad("{\"id\":1}}", "unexpected byte 0x7d");
        expect_bad("{\"id\":tru}", "invalid token");
        expect_bad("{\"id\" 1}", "':' expected");
        expect_bad("[1,2]", "not a JSON object");
        expect_bad("{\"s\":\"\xff\"}", "unable to decode byte");
}

static void test_error_strings(void **state) {
        json_t *result = json_loads("[{\"uuid\":[\"uuid\",\"x\"]},{\"count\":1},"
                                    "{\"error\":\"constraint violation\",\"details\":\"two\\nlines\"}]", 0, NULL);
        json_t *ok = json_loads("[{\"rows\":[]},{}]", 0, NULL);
        json_t *bare = json_loads("[null,{\"error\":\"timed out\"}]", 0, NULL);
        _cleanup_free_ char *a = ovsdb_result_error(result), *b = ovsdb_result_error(ok),
                            *c = ovsdb_result_error(bare);
        json_t *str = json_string("unknown method");
        _cleanup_free_ char *d = ovsdb_error_string(str);

        assert_string_equal(a, "constraint violation: two lines");
        assert_null(b);
        assert_string_equal(c, "timed out");
        assert_string_equal(d, "unknown method");
        json_decref(result);
        json_decref(ok);
        json_decref(bare);
        json_decref(str);
}

static void test_too_large(void **state) {
        struct ovsdb_framer f = {};
        _cleanup_free_ char *chunk = xcalloc(1, 1 << 20);
        json_t *m = NULL;
        int r = 0;

        memset(chunk, ' ', 1 << 20);
        chunk[0] = '[';
        chunk[1] = '"';
        for (unsigned i = 0; i <= OVSDB_MAX_MESSAGE >> 20 && r == 0; i++) {
                ovsdb_framer_feed(&f, i ? chunk + 2 : chunk, i ? (1 << 20) - 2 : 1 << 20);
                r = ovsdb_framer_next(&f, &m);
        }
        assert_int_equal(r, -EMSGSIZE);
        ovsdb_framer_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_concatenated),
                cmocka_unit_test(test_split_everywhere),
                cmocka_unit_test(test_byte_by_byte),
                cmocka_unit_test(test_whitespace_between),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_error_strings),
                cmocka_unit_test(test_too_large),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
