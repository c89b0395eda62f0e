/* Lab names and the short names derived from them (names.h): the rule, the
 * exact derived names (hashes computed independently: 32-bit FNV-1a of the
 * lab name, folded to 16 bits), the 15-character limit, uniqueness. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "basic/names.h"
#include "basic/util.h"

static void test_lab_name_rule(void **state) {
        static const char *const good[] = {
                "a", "0", "t1", "windows-setup", "debian-installer", "a-b-c",
                "abcdefghijklmnopqrstuvwxyz012345",     /* 32 */
        };
        static const char *const bad[] = {
                "", "-a", "a-", "a--b", "A", "a_b", "a.b", "a b", "ä",
                "abcdefghijklmnopqrstuvwxyz0123456",    /* 33 */
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!lab_name_valid(good[i]))
                        fail_msg("'%s' should be a valid lab name", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (lab_name_valid(bad[i]))
                        fail_msg("'%s' should not be a valid lab name", bad[i]);
        assert_false(lab_name_valid(NULL));
}

static void assert_name(char *got, const char *want) {
        assert_string_equal(got, want);
        assert_true(strlen(got) <= SHORT_NAME_MAX);
        free(got);
}

static void test_bridge_names(void **state) {
        /* as before while "pxe-LAB" fits */
        assert_name(lab_bridge_name("t1"), "pxe-t1");
        assert_name(lab_bridge_name("pxelab"), "pxe-pxelab");
        assert_name(lab_bridge_name("abcdefghijk"), "pxe-abcdefghijk");
        /* one character more: readable part + hash of the whole name */
        assert_name(lab_bridge_name("abcdefghijkl"), "pxe-abcdef-d6ee");
        assert_name(lab_bridge_name("windows-setup"), "pxe-window-b05b");
        assert_name(lab_bridge_name("debian-installer"), "pxe-debian-515e");
        assert_name(lab_bridge_name("debian-installer2"), "pxe-debian-20ee");
        /* a '-' where the readable part ends is dropped */
        assert_name(lab_bridge_name("class-lab-for-the-whole-school"), "pxe-class-7574");
        assert_name(lab_bridge_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "pxe-aaaaaa-0175");
}

static void test_long_names_sharing_a_prefix_differ(void **state) {
        _cleanup_free_ char *a = lab_bridge_name("debian-installer"), *b = lab_bridge_name("debian-installer2");
        _cleanup_free_ char *c = lab_bridge_name("debian-installer-old"), *d = lab_bridge_name("debian-installer-new");
        assert_string_not_equal(a, b);
        assert_string_not_equal(c, d);
        assert_string_not_equal(a, c);
        assert_int_equal(strncmp(a, "pxe-debian-", 11), 0);
        assert_int_equal(strncmp(d, "pxe-debian-", 11), 0);
        /* and the same name gives the same result every time */
        _cleanup_free_ char *again = lab_bridge_name("debian-installer");
        assert_string_equal(a, again);
}

static void test_tap_names(void **state) {
        assert_name(lab_tap_name("t1", 0), "pxt-t1-0");
        assert_name(lab_tap_name("vmt", 12), "pxt-vmt-12");
        assert_name(lab_tap_name("abcdefghi", 9), "pxt-abcdefghi-9");
        assert_name(lab_tap_name("abcdefghi", 10), "pxt-abc-fad7-10");
        assert_name(lab_tap_name("windows-setup", 0), "pxt-wind-b05b-0");
        assert_name(lab_tap_name("windows-setup", 10), "pxt-win-b05b-10");
        assert_name(lab_tap_name("debian-installer", 0), "pxt-debi-515e-0");
        assert_name(lab_tap_name("debian-installer", 1), "pxt-debi-515e-1");
        assert_name(lab_tap_name("debian-installer", 3), "pxt-debi-515e-3");
        /* every N of one lab, and the same N of two labs, differ */
        for (unsigned i = 0; i < 100; i++) {
                _cleanup_free_ char *x = lab_tap_name("debian-installer", i), *y = lab_tap_name("debian-installer2", i);
                assert_true(strlen(x) <= SHORT_NAME_MAX && strlen(y) <= SHORT_NAME_MAX);
                assert_string_not_equal(x, y);
                for (unsigned j = 0; j < i; j++) {
                        _cleanup_free_ char *z = lab_tap_name("debian-installer", j);
                        assert_string_not_equal(x, z);
                }
        }
}

static void test_short_name_without_prefix(void **state) {
        /* the NetBIOS name of the lab's smbd */
        assert_name(lab_short_name("", "windows", ""), "windows");
        assert_name(lab_short_name("", "debian-installer", ""), "debian-ins-515e");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lab_name_rule),
                cmocka_unit_test(test_bridge_names),
                cmocka_unit_test(test_long_names_sharing_a_prefix_differ),
                cmocka_unit_test(test_tap_names),
                cmocka_unit_test(test_short_name_without_prefix),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
