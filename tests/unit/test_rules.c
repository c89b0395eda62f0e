/* basic/rules.c: the value rules the profile and the command line share. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basic/rules.h"
#include "basic/util.h"
#include "lab/vm.h"
#include "kinds/kind.h"
#include "profile/profile.h"

static void test_mac(void **state) {
        char mac[18] = "";

        assert_int_equal(rule_mac_parse("52:54:00:AB:cd:0F", mac), MAC_OK);
        assert_string_equal(mac, "52:54:00:ab:cd:0f");
        /* The form `vm start --mac` used to refuse while a profile took it. */
        assert_int_equal(rule_mac_parse("52-54-00-AB-CD-EF", mac), MAC_OK);
        assert_string_equal(mac, "52:54:00:ab:cd:ef");
        assert_int_equal(rule_mac_parse("02:00:00:00:00:01", mac), MAC_OK);

        assert_int_equal(rule_mac_parse(NULL, mac), MAC_MALFORMED);
        assert_int_equal(rule_mac_parse("", mac), MAC_MALFORMED);
        assert_int_equal(rule_mac_parse("52:54:00:ab:cd", mac), MAC_MALFORMED);
        assert_int_equal(rule_mac_parse("52:54:00:ab:cd:0f:", mac), MAC_MALFORMED);
        assert_int_equal(rule_mac_parse("52:54-00:ab:cd:0f", mac), MAC_MALFORMED);   /* mixed separators */
        assert_int_equal(rule_mac_parse("52.54.00.ab.cd.0f", mac), MAC_MALFORMED);
        assert_int_equal(rule_mac_parse("52:54:00:ab:cd:0g", mac), MAC_MALFORMED);
        /* Group (multicast) addresses can't be a NIC's. */
        assert_int_equal(rule_mac_parse("01:00:5e:00:00:01", mac), MAC_MULTICAST);
        assert_int_equal(rule_mac_parse("ff-ff-ff-ff-ff-ff", mac), MAC_MULTICAST);
        assert_int_equal(rule_mac_parse("00:00:00:00:00:00", mac), MAC_ZERO);
}

/* The same MAC in a profile and through the rule: both accept, both give
 * the same normal form. */
static void test_mac_profile_agrees(void **state) {
        static const char conf[] =
                "lab = \"t\"\nbridge { address = \"10.9.0.1/24\" }\nboot \"s\" { kind = \"shell\" }\n"
                "vm \"v\" { mac = \"52-54-00-AB-CD-EF\" }\n";
        _cleanup_strv_free_ char **errors = NULL;
        struct profile *p = NULL;
        char mac[18];

        assert_int_equal(profile_parse("t.conf", conf, kinds_profile(), &errors, &p), 0);
        assert_int_equal(rule_mac_parse("52-54-00-AB-CD-EF", mac), MAC_OK);
        assert_string_equal(p->vms[0].mac, mac);
        profile_free(p);
}

static void test_names(void **state) {
        assert_true(rule_name_valid("vm1"));
        assert_true(rule_name_valid("0-a_b"));
        assert_true(rule_name_valid("abcdefghijabcdefghijabcdefghij12"));
        assert_false(rule_name_valid("abcdefghijabcdefghijabcdefghij123"));
        assert_false(rule_name_valid(""));
        assert_false(rule_name_valid(NULL));
        assert_false(rule_name_valid("-vm"));
        assert_false(rule_name_valid("_vm"));
        assert_false(rule_name_valid("Vm1"));
        assert_false(rule_name_valid("vm.1"));
        assert_false(rule_name_valid("../x"));
}

static void test_firmware(void **state) {
        assert_int_equal(firmware_from_string("bios"), FIRMWARE_BIOS);
        assert_int_equal(firmware_from_string("uefi"), FIRMWARE_UEFI);
        assert_int_equal(firmware_from_string("uefi-pxe"), FIRMWARE_UEFI_PXE);
        assert_int_equal(firmware_from_string("UEFI"), -EINVAL);
        assert_int_equal(firmware_from_string("coreboot"), -EINVAL);
        assert_int_equal(firmware_from_string(NULL), -EINVAL);
        for (int f = 0; f < _FIRMWARE_MAX; f++)
                assert_int_equal(firmware_from_string(firmware_to_string(f)), f);
        assert_null(firmware_to_string(_FIRMWARE_MAX));
        assert_null(firmware_to_string((enum firmware) -1));
        assert_false(firmware_is_uefi(FIRMWARE_BIOS));
        assert_true(firmware_is_uefi(FIRMWARE_UEFI));
        assert_true(firmware_is_uefi(FIRMWARE_UEFI_PXE));
}

static void test_memory(void **state) {
        assert_true(rule_memory_valid(VM_MEMORY_DEFAULT));
        assert_true(rule_memory_valid(128));
        assert_true(rule_memory_valid(65536));
        assert_false(rule_memory_valid(127));
        assert_false(rule_memory_valid(65537));
        assert_false(rule_memory_valid(0));
        assert_false(rule_memory_valid(-512));
}

static void test_disk(void **state) {
        assert_int_equal(rule_disk_form("20G"), DISK_SIZE);
        assert_int_equal(rule_disk_form("512M"), DISK_SIZE);
        assert_int_equal(rule_disk_form("1T"), DISK_SIZE);
        assert_int_equal(rule_disk_form("010G"), DISK_SIZE);
        assert_int_equal(rule_disk_form("000G"), DISK_EMPTY);
        assert_int_equal(rule_disk_form("0M"), DISK_EMPTY);
        assert_int_equal(rule_disk_form("20"), DISK_PATH);
        assert_int_equal(rule_disk_form("G"), DISK_PATH);
        assert_int_equal(rule_disk_form("20GB"), DISK_PATH);
        assert_int_equal(rule_disk_form("1234567G"), DISK_PATH);
        assert_int_equal(rule_disk_form("20K"), DISK_PATH);
        assert_int_equal(rule_disk_form("/srv/disk.img"), DISK_PATH);
        assert_int_equal(rule_disk_form(NULL), DISK_PATH);
        assert_true(rule_disk_is_size("20G"));
        assert_false(rule_disk_is_size("000G"));
}

static void test_netmask(void **state) {
        assert_int_equal(rule_netmask(0), 0);
        assert_int_equal(rule_netmask(8), 0xff000000u);
        assert_int_equal(rule_netmask(24), 0xffffff00u);
        assert_int_equal(rule_netmask(30), 0xfffffffcu);
        assert_int_equal(rule_netmask(32), 0xffffffffu);
}

static void test_lab_address(void **state) {
        uint32_t a = 0;
        unsigned prefix = 0;

        (void) state;
        assert_int_equal(rule_lab_address_parse("10.33.0.1/24", &a, &prefix), ADDRESS_OK);
        assert_int_equal(a, 0x0a210001);
        assert_int_equal(prefix, 24);
        assert_int_equal(rule_lab_address_parse("192.168.255.254/30", &a, &prefix), ADDRESS_OK);
        assert_int_equal(prefix, 30);
        assert_int_equal(rule_lab_address_parse("10.0.0.1/8", &a, &prefix), ADDRESS_OK);
        /* A length outside 8..30 is said as such, with the length. */
        assert_int_equal(rule_lab_address_parse("10.0.0.1/31", &a, &prefix), ADDRESS_PREFIX);
        assert_int_equal(prefix, 31);
        assert_int_equal(rule_lab_address_parse("10.0.0.1/7", &a, &prefix), ADDRESS_PREFIX);
        assert_int_equal(prefix, 7);
        assert_int_equal(rule_lab_address_parse("10.0.0.1/32", &a, &prefix), ADDRESS_PREFIX);
        const char *bad[] = { "10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/024", "10.0.0.1/+4",
                              "10.0.0.1/2x", "10.0.0/24", "10.0.0.256/24", "/24", "fd00::1/64",
                              "10.0.0.1/24/1", " 10.0.0.1/24", "255.255.255.255.255/24" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(rule_lab_address_parse(bad[i], &a, &prefix), ADDRESS_MALFORMED);
}

static void test_strcmp_ptr(void **state) {
        const char *v[] = { "b", "a", "c", "ab" };
        qsort(v, ELEMENTSOF(v), sizeof(char *), strcmp_ptr);
        assert_string_equal(v[0], "a");
        assert_string_equal(v[1], "ab");
        assert_string_equal(v[2], "b");
        assert_string_equal(v[3], "c");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mac),
                cmocka_unit_test(test_mac_profile_agrees),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_firmware),
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_disk),
                cmocka_unit_test(test_netmask),
                cmocka_unit_test(test_lab_address),
                cmocka_unit_test(test_strcmp_ptr),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
