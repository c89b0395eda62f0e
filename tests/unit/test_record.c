/* The lab's record (record.h): names derived from the lab name, a record
 * read back as it was written, and a crafted record whose foreign names are
 * dropped or refused. Parses text only: touches no file. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "basic/util.h"
#include "lab/record.h"

static void test_derived_names(void **state) {
        _cleanup_free_ char *unit = lab_unit_name("a-b", "dnsmasq"), *vm = lab_vm_unit_name("a-b", "vm1"),
                            *slice = lab_slice_name("a-b"), *table = lab_nft_table_name("a-b"),
                            *mount = lab_tftp_mount("a-b"), *mark = lab_link_mark("a-b"),
                            *log = lab_vm_log_path("a-b", "vm1"), *dir = lab_vm_dir("a-b", "vm1");

        assert_string_equal(unit, "pxelab-a-b-dnsmasq.service");
        assert_string_equal(vm, "pxelab-a-b-vm-vm1.service");
        /* '-' in a slice name is nesting: lab a-b must not sit in lab a's */
        assert_string_equal(slice, "pxelab-a_b.slice");
        assert_string_equal(table, "pxelab-a-b");
        assert_string_equal(mount, PXELAB_RUN_ROOT "/a-b/tftp");
        assert_string_equal(mark, "pxelab:a-b");
        assert_string_equal(log, PXELAB_RUN_ROOT "/a-b/serial/vm1.log");
        assert_string_equal(dir, PXELAB_STATE_ROOT "/a-b/vm/vm1");
}

/* A lab's bridge MAC: locally administered unicast, one per lab name. */
static void test_link_mac(void **state) {
        _cleanup_free_ char *a = lab_link_mac("a-b"), *b = lab_link_mac("a-c"), *a2 = lab_link_mac("a-b");
        unsigned o[6];

        assert_int_equal(sscanf(a, "%2x:%2x:%2x:%2x:%2x:%2x", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]), 6);
        assert_int_equal(strlen(a), 17);
        assert_int_equal(o[0] & 3, 2);  /* locally administered, not multicast */
        assert_string_equal(a, a2);
        assert_string_not_equal(a, b);
}

/* What a real `up` writes reads back as it was. */
static void test_good_record(void **state) {
        static const char *text =
                "{ \"lab\": \"t1\", \"profile\": \"/p/t1.conf\", \"run_dir\": \"" PXELAB_RUN_ROOT "/t1\","
                "  \"state_dir\": \"" PXELAB_STATE_ROOT "/t1\", \"slice\": \"pxelab-t1.slice\","
                "  \"address\": \"10.1.0.1/24\", \"boot_url\": \"http://10.1.0.1/boot.ipxe\","
                "  \"bridge\": { \"name\": \"pxe-t1\", \"type\": \"linux\", \"created\": true,"
                "               \"addresses\": [\"10.1.0.1/24\", \"fd00::1/64\"] },"
                "  \"nft\": { \"table\": \"pxelab-t1\", \"family\": \"inet\", \"uplink\": \"eth0\" },"
                "  \"forwarding\": true,"
                "  \"units\": [\"pxelab-t1-dnsmasq.service\", \"pxelab-t1-nginx.service\", \"pxelab-t1-vm-b.service\"],"
                "  \"mounts\": [\"" PXELAB_RUN_ROOT "/t1/tftp\"],"
                "  \"vms\": { \"b\": { \"name\": \"b\", \"firmware\": \"uefi\", \"mac\": \"52:54:00:00:00:02\","
                "                    \"memory\": 1024, \"disk\": \"20G\", \"tap\": \"pxt-t1-1\", \"accel\": \"tcg\","
                "                    \"unit\": \"pxelab-t1-vm-b.service\", \"vnc\": \"127.0.0.1:3\" },"
                "             \"a\": { \"name\": \"a\", \"firmware\": \"bios\", \"mac\": \"52:54:00:00:00:01\","
                "                    \"memory\": 512, \"tap\": \"pxt-t1-0\", \"accel\": \"kvm\" } } }";
        _cleanup_(lab_record_freep) struct lab_record *rec = NULL;

        assert_int_equal(lab_record_parse("t1", "t1.json", text, &rec), 0);
        assert_string_equal(rec->profile, "/p/t1.conf");
        assert_true(rec->has_bridge && rec->bridge.created);
        assert_string_equal(rec->bridge.addresses[1], "fd00::1/64");
        assert_null(rec->bridge.addresses[2]);
        assert_true(rec->has_nft && rec->forwarding);
        assert_string_equal(rec->nft_uplink, "eth0");
        assert_string_equal(rec->units[2], "pxelab-t1-vm-b.service");
        assert_null(rec->units[3]);
        assert_string_equal(rec->mounts[0], PXELAB_RUN_ROOT "/t1/tftp");
        /* sorted by name, derived fields filled in */
        assert_int_equal(rec->n_vms, 2);
        assert_string_equal(rec->vms[0].name, "a");
        assert_string_equal(rec->vms[0].unit, "pxelab-t1-vm-a.service");
        assert_string_equal(rec->vms[0].dir, PXELAB_STATE_ROOT "/t1/vm/a");
        assert_string_equal(rec->vms[1].disk, "20G");
        assert_int_equal(rec->vms[1].memory, 1024);
        assert_string_equal(rec->vms[1].vnc, "127.0.0.1:3");
}

/* A crafted record: what is not the lab's is dropped, the derived names
 * stand. */
static void test_crafted_record(void **state) {
        static const char *text =
                "{ \"lab\": \"evil\", \"run_dir\": \"/\", \"state_dir\": \"/etc\", \"slice\": \"system.slice\","
                "  \"nft\": { \"table\": \"filter\" },"
                "  \"units\": [\"sshd.service\", \"pxelab-evil-b-dnsmasq.service\", \"pxelab-evil-nginx.service\"],"
                "  \"mounts\": [\"/home\", \"" PXELAB_RUN_ROOT "/evil/tftp\", \"" PXELAB_RUN_ROOT "/evil/serial\","
                "              \"" PXELAB_RUN_ROOT "/evil/tftp\", \"" PXELAB_RUN_ROOT "/other/serial\"],"
                "  \"vms\": { \"../x\": { \"tap\": \"eth0\" },"
                "             \"v1\": { \"tap\": \"veth0\", \"unit\": \"sshd.service\", \"log\": \"/etc/passwd\","
                "                     \"dir\": \"/etc\", \"disk\": \"img,file.locking=off\" } } }";
        _cleanup_(lab_record_freep) struct lab_record *rec = NULL;

        assert_int_equal(lab_record_parse("evil", "evil.json", text, &rec), 0);
        assert_string_equal(rec->run_dir, PXELAB_RUN_ROOT "/evil");
        assert_string_equal(rec->state_dir, PXELAB_STATE_ROOT "/evil");
        assert_string_equal(rec->slice, "pxelab-evil.slice");
        assert_string_equal(rec->nft_table, "pxelab-evil");
        assert_string_equal(rec->units[0], "pxelab-evil-nginx.service");
        assert_null(rec->units[1]);
        assert_string_equal(rec->mounts[0], PXELAB_RUN_ROOT "/evil/tftp");
        assert_string_equal(rec->mounts[1], PXELAB_RUN_ROOT "/evil/serial");
        assert_null(rec->mounts[2]);
        assert_int_equal(rec->n_vms, 1);
        assert_string_equal(rec->vms[0].unit, "pxelab-evil-vm-v1.service");
        assert_string_equal(rec->vms[0].log, PXELAB_RUN_ROOT "/evil/serial/v1.log");
        assert_string_equal(rec->vms[0].dir, PXELAB_STATE_ROOT "/evil/vm/v1");
        assert_null(rec->vms[0].disk);
        /* a link name cannot be derived: the mark decides (labbridge.c) */
        assert_string_equal(rec->vms[0].tap, "veth0");
}

static void test_refused_records(void **state) {
        struct lab_record *rec = NULL;

        /* another lab's name, none, a bad lab name, not JSON, wrong types */
        assert_int_equal(lab_record_parse("evil2", "r", "{ \"lab\": \"evil\" }", &rec), -EBADMSG);
        assert_int_equal(lab_record_parse("evil2", "r", "{ }", &rec), -EBADMSG);
        assert_int_equal(lab_record_parse("..", "r", "{ \"lab\": \"..\" }", &rec), -EINVAL);
        assert_int_equal(lab_record_parse("a", "r", "{ \"lab\": ", &rec), -EBADMSG);
        assert_int_equal(lab_record_parse("a", "r", "[1]", &rec), -EBADMSG);
        assert_int_equal(lab_record_parse("a", "r", "{ \"lab\": \"a\", \"units\": \"x\" }", &rec), -EBADMSG);
        assert_int_equal(lab_record_parse("a", "r", "{ \"lab\": \"a\", \"bridge\": { \"type\": \"linux\" } }", &rec),
                         -EBADMSG);
        assert_int_equal(lab_record_parse("a", "r", "{ \"lab\": \"a\", \"profile\": 7 }", &rec), -EBADMSG);
        assert_null(rec);
}

static void test_vms_and_units(void **state) {
        _cleanup_(lab_record_freep) struct lab_record *rec = lab_record_new("t", "/p.conf", "10.0.0.1/24");
        struct lab_vm vm = { .name = xstrdup("z"), .memory = 1 }, vm2 = { .name = xstrdup("a"), .memory = 2 },
                      vm3 = { .name = xstrdup("z"), .memory = 3 };

        lab_record_put_vm(rec, &vm);
        lab_record_put_vm(rec, &vm2);
        assert_string_equal(rec->vms[0].name, "a");
        assert_int_equal(lab_record_put_vm(rec, &vm3)->memory, 3);  /* replaced */
        assert_int_equal(rec->n_vms, 2);
        lab_record_del_vm(rec, "a");
        assert_int_equal(rec->n_vms, 1);
        assert_string_equal(rec->vms[0].name, "z");
        assert_true(lab_record_add_unit(rec, "u1"));
        assert_false(lab_record_add_unit(rec, "u1"));
        assert_true(lab_record_add_unit(rec, "u2"));
        assert_true(lab_record_del_unit(rec, "u1"));
        assert_string_equal(rec->units[0], "u2");
        assert_null(rec->units[1]);
        assert_false(lab_record_del_unit(rec, "u1"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_derived_names),
                cmocka_unit_test(test_link_mac),
                cmocka_unit_test(test_good_record),
                cmocka_unit_test(test_crafted_record),
                cmocka_unit_test(test_refused_records),
                cmocka_unit_test(test_vms_and_units),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
