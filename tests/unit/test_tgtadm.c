/* tgtadm.c: the parser of `tgtadm --mode target --op show`, on the text
 * Debian 12's tgt 1.0.85 printed for two targets, one with a logged-in
 * initiator (iscsi-perf) and one with CHAP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "basic/json.h"
#include "host/tgtadm.h"

static const char *const lun0 =
        "        LUN: 0\n"
        "            Type: controller\n"
        "            SCSI ID: IET     00010000\n"
        "            SCSI SN: beaf10\n"
        "            Size: 0 MB, Block size: 1\n"
        "            Online: Yes\n"
        "            Backing store type: null\n"
        "            Backing store path: None\n"
        "            Backing store flags: \n";

static char *sample(void) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        fprintf(f, "Target 1: iqn.2026-12.lab.pxelab:x:d1\n"
                   "    System information:\n"
                   "        Driver: iscsi\n"
                   "        State: ready\n"
                   "    I_T nexus information:\n"
                   "        I_T nexus: 1\n"
                   "            Initiator: iqn.2026-12.test:init1 alias: none\n"
                   "            Connection: 0\n"
                   "                IP Address: 10.68.0.50\n"
                   "    LUN information:\n%s"
                   "        LUN: 1\n"
                   "            Type: disk\n"
                   "            SCSI ID: IET     00010001\n"
                   "            Size: 67 MB, Block size: 512\n"
                   "            Readonly: No\n"
                   "            Backing store type: rdwr\n"
                   "            Backing store path: /srv/disks/d1.img\n"
                   "            Backing store flags: \n"
                   "    Account information:\n"
                   "    ACL information:\n"
                   "        10.68.0.0/24\n"
                   "Target 2: iqn.2026-12.lab.pxelab:x:d2\n"
                   "    System information:\n"
                   "        Driver: iscsi\n"
                   "        State: ready\n"
                   "    I_T nexus information:\n"
                   "    LUN information:\n%s"
                   "        LUN: 1\n"
                   "            Type: disk\n"
                   "            Size: 34 MB, Block size: 512\n"
                   "            Backing store path: /srv/disks/pc 1.img\n"
                   "    Account information:\n"
                   "        pxelab\n"
                   "    ACL information:\n"
                   "        10.68.0.0/24\n",
                lun0, lun0);
        fclose(f);
        return s;
}

static void test_two_targets(void **state) {
        char *text = sample();
        json_t *t = tgt_parse_targets(text), *a, *b, *ini;

        assert_int_equal(json_array_size(t), 2);
        a = json_array_get(t, 0);
        b = json_array_get(t, 1);
        assert_int_equal(json_integer_value(json_object_get(a, "tid")), 1);
        assert_string_equal(json_str(a, "iqn"), "iqn.2026-12.lab.pxelab:x:d1");
        /* LUN 0 is tgt's controller: left out. */
        assert_int_equal(json_array_size(json_object_get(a, "luns")), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(a, "luns"), 0), "lun")), 1);
        assert_string_equal(json_str(json_array_get(json_object_get(a, "luns"), 0), "size"), "67 MB");
        assert_string_equal(json_str(json_array_get(json_object_get(a, "luns"), 0), "type"), "disk");
        assert_string_equal(json_str(json_array_get(json_object_get(a, "luns"), 0), "path"), "/srv/disks/d1.img");
        assert_int_equal(json_array_size(json_object_get(a, "initiators")), 1);
        ini = json_array_get(json_object_get(a, "initiators"), 0);
        assert_string_equal(json_str(ini, "iqn"), "iqn.2026-12.test:init1");
        assert_int_equal(json_array_size(json_object_get(ini, "addresses")), 1);
        assert_string_equal(json_string_value(json_array_get(json_object_get(ini, "addresses"), 0)), "10.68.0.50");
        assert_int_equal(json_array_size(json_object_get(a, "accounts")), 0);
        assert_string_equal(json_string_value(json_array_get(json_object_get(a, "acl"), 0)), "10.68.0.0/24");

        assert_string_equal(json_str(b, "iqn"), "iqn.2026-12.lab.pxelab:x:d2");
        assert_int_equal(json_array_size(json_object_get(b, "initiators")), 0);
        assert_string_equal(json_str(json_array_get(json_object_get(b, "luns"), 0), "path"), "/srv/disks/pc 1.img");
        assert_string_equal(json_string_value(json_array_get(json_object_get(b, "accounts"), 0)), "pxelab");
        json_decref(t);
        free(text);
}

static void test_empty_and_garbage(void **state) {
        json_t *t = tgt_parse_targets("");
        assert_int_equal(json_array_size(t), 0);
        json_decref(t);
        /* Lines before the first target, or unknown ones, are skipped. */
        t = tgt_parse_targets("tgtadm: something\n    Initiator: x\nTarget 7: iqn.x:y\n    Odd section:\n        LUN: 3\n");
        assert_int_equal(json_array_size(t), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "tid")), 7);
        assert_int_equal(json_array_size(json_object_get(json_array_get(t, 0), "luns")), 0);
        json_decref(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_targets),
                cmocka_unit_test(test_empty_and_garbage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
