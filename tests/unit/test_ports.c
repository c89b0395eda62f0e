/* lab/ports.c: what `up` does with NetworkManager, through a fake of the
 * seam (host/nm.h) that says what NetworkManager would answer and counts
 * what it is asked; and a port joined and given back against the real
 * kernel (a veth link and a Linux bridge in a private network namespace,
 * the record in a private /run/pxelab; needs root). */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mount.h>
#include <cmocka.h>

#include "basic/paths.h"
#include "basic/util.h"
#include "host/link.h"
#include "host/nm.h"
#include "lab/ports.h"
#include "lab/record.h"

#define BR "prtb0"
#define PORT "prtp0"

struct fake_nm {
        int running;            /* get_managed's answer: 1 knows the device, 0 not running, <0 error */
        bool managed;
        int gets, sets;
        bool last_set;
};

static int fake_get(void *data, const char *ifname, bool *ret) {
        struct fake_nm *f = data;
        f->gets++;
        if (f->running > 0)
                *ret = f->managed;
        return f->running;
}

static int fake_set(void *data, const char *ifname, bool managed) {
        struct fake_nm *f = data;
        f->sets++;
        f->last_set = managed;
        f->managed = managed;
        return 0;
}

static void sh(const char *cmd) {
        char *argv[] = { "sh", "-c", (char *) cmd, NULL };
        assert_int_equal(run_program(argv, NULL), 0);
}

static int setup_all(void **state) {
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                fprintf(stderr, "unshare: %m (these tests must run as root)\n");
                return -1;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || mkdir_p(PXELAB_RUN_ROOT, 0755) < 0 ||
            mount("tmpfs", PXELAB_RUN_ROOT, "tmpfs", 0, "mode=0755") < 0) {
                fprintf(stderr, "private %s: %m\n", PXELAB_RUN_ROOT);
                return -1;
        }
        return 0;
}

/* A fresh port (down, MTU 1400) and bridge, and a record of lab "prt". */
static struct lab_record *fresh(void) {
        struct lab_record *st = lab_record_new("prt", "/p/prt.conf", "10.99.0.1/24");

        sh("ip link del " PORT " 2>/dev/null; ip link del " BR " 2>/dev/null; "
           "ip link add " PORT " mtu 1400 type veth peer name prtq0 && ip link add " BR " type bridge && ip link set " BR " up");
        st->has_bridge = true;
        st->bridge.name = xstrdup(BR);
        st->bridge.type = xstrdup("linux");
        st->bridge.created = true;
        st->bridge.addresses = xcalloc(1, sizeof(char *));
        assert_int_equal(lab_record_save(st), 0);
        return st;
}

static struct profile *profile_with_port(void) {
        struct profile *p = xcalloc(1, sizeof(*p));
        p->bridge.ports = xcalloc(2, sizeof(char *));
        p->bridge.ports[0] = xstrdup(PORT);
        return p;
}

static void profile_done(struct profile *p) {
        strv_free(p->bridge.ports);
        free(p);
}

static void assert_port(bool up, const char *master, unsigned mtu) {
        struct link_state ls;
        assert_int_equal(link_state(PORT, &ls), 1);
        assert_int_equal(ls.up, up);
        assert_string_equal(ls.master, master);
        assert_int_equal(ls.mtu, mtu);
}

/* Reads the record back from disk: what a `down` after a crash sees. */
static struct lab_port saved_port(void) {
        struct lab_record *rec = NULL;
        struct lab_port ret;
        assert_int_equal(lab_record_load("prt", &rec), 0);
        assert_int_equal(rec->n_ports, 1);
        ret = rec->ports[0];
        ret.name = NULL;
        ret.master = NULL;
        lab_record_free(rec);
        return ret;
}

static void test_join_and_give_back(void **state) {
        struct fake_nm f = { .running = 0 };
        struct nm_seam nm = { fake_get, fake_set, &f };
        struct lab_record *st = fresh();
        struct profile *p = profile_with_port();

        assert_port(false, "", 1400);
        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        assert_port(true, BR, 1400);
        /* recorded as it was, before the change */
        struct lab_port sp = saved_port();
        assert_false(sp.up);
        assert_int_equal(sp.mtu, 1400);
        assert_int_equal(sp.nm_managed, -1);    /* NetworkManager not running: nothing asked of it */
        assert_int_equal(f.gets, 1);
        assert_int_equal(f.sets, 0);
        /* a second `up` changes nothing and asks nothing again */
        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        assert_int_equal(st->n_ports, 1);
        sh("ip link set " PORT " mtu 1300");   /* something changed it meanwhile */
        assert_int_equal(lab_ports_teardown(st, &nm), 0);
        assert_port(false, "", 1400);
        assert_int_equal(f.sets, 0);
        /* down twice is fine */
        assert_int_equal(lab_ports_teardown(st, &nm), 0);
        assert_port(false, "", 1400);
        profile_done(p);
        lab_record_free(st);
}

static void test_nm_managed_is_restored(void **state) {
        struct fake_nm f = { .running = 1, .managed = true };
        struct nm_seam nm = { fake_get, fake_set, &f };
        struct lab_record *st = fresh();
        struct profile *p = profile_with_port();

        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        assert_int_equal(f.sets, 1);
        assert_false(f.last_set);
        assert_int_equal(saved_port().nm_managed, 1);
        /* the next `up` does not ask again (the record says it was managed) */
        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        assert_int_equal(f.gets, 1);
        assert_int_equal(f.sets, 1);
        assert_int_equal(lab_ports_teardown(st, &nm), 0);
        assert_int_equal(f.sets, 2);
        assert_true(f.last_set);
        assert_true(f.managed);
        profile_done(p);
        lab_record_free(st);
}

static void test_nm_unmanaged_stays(void **state) {
        struct fake_nm f = { .running = 1, .managed = false };
        struct nm_seam nm = { fake_get, fake_set, &f };
        struct lab_record *st = fresh();
        struct profile *p = profile_with_port();

        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        assert_int_equal(saved_port().nm_managed, 0);
        assert_int_equal(lab_ports_teardown(st, &nm), 0);
        assert_int_equal(f.sets, 0);            /* never managed: never told to manage it */
        profile_done(p);
        lab_record_free(st);
}

static void test_nm_failure_stops_before_the_bridge(void **state) {
        struct fake_nm f = { .running = -EACCES };
        struct nm_seam nm = { fake_get, fake_set, &f };
        struct lab_record *st = fresh();
        struct profile *p = profile_with_port();

        assert_int_equal(lab_ports_setup(p, st, &nm), -EACCES);
        assert_port(false, "", 1400);           /* not joined */
        assert_int_equal(saved_port().nm_managed, -1);  /* but recorded: down has it */
        assert_int_equal(lab_ports_teardown(st, &nm), 0);
        assert_port(false, "", 1400);
        profile_done(p);
        lab_record_free(st);
}

static void test_port_dropped_from_profile(void **state) {
        struct fake_nm f = { .running = 1, .managed = true };
        struct nm_seam nm = { fake_get, fake_set, &f };
        struct lab_record *st = fresh();
        struct profile *p = profile_with_port();

        sh("ip link set " PORT " up");
        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        free(p->bridge.ports[0]);
        p->bridge.ports[0] = NULL;
        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        assert_int_equal(st->n_ports, 0);
        assert_port(true, "", 1400);            /* up, as it was */
        assert_true(f.managed);
        profile_done(p);
        lab_record_free(st);
}

static void test_gone_port(void **state) {
        struct fake_nm f = { .running = 0 };
        struct nm_seam nm = { fake_get, fake_set, &f };
        struct lab_record *st = fresh();
        struct profile *p = profile_with_port();

        assert_int_equal(lab_ports_setup(p, st, &nm), 0);
        sh("ip link del " PORT);                /* unplugged */
        assert_int_equal(lab_ports_teardown(st, &nm), 0);
        profile_done(p);
        lab_record_free(st);
}

static void test_record_round_trip(void **state) {
        struct lab_record *rec = NULL;
        const char *text =
                "{ \"lab\": \"prt\", \"units\": [], \"mounts\": [], \"vms\": {},"
                "  \"ports\": [ {\"name\": \"enx00e04c680001\", \"master\": null, \"up\": false, \"noarp\": false,"
                "                \"mtu\": 1500, \"nm_managed\": true},"
                "               {\"name\": \"eth1\", \"up\": true, \"mtu\": 9000},"
                "               {\"name\": \"bad/name\", \"mtu\": 1500},"
                "               {\"name\": \"eth1\", \"mtu\": 1500},"
                "               {\"name\": \"eth2\", \"master\": \"a b\"} ] }";

        assert_int_equal(lab_record_parse("prt", "/x/state.json", text, &rec), 0);
        assert_int_equal(rec->n_ports, 2);
        assert_string_equal(rec->ports[0].name, "enx00e04c680001");
        assert_null(rec->ports[0].master);
        assert_int_equal(rec->ports[0].nm_managed, 1);
        assert_int_equal(rec->ports[0].mtu, 1500);
        assert_string_equal(rec->ports[1].name, "eth1");
        assert_true(rec->ports[1].up);
        assert_int_equal(rec->ports[1].nm_managed, -1);
        assert_int_equal(rec->ports[1].mtu, 9000);
        lab_record_free(rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_join_and_give_back),
                cmocka_unit_test(test_nm_managed_is_restored),
                cmocka_unit_test(test_nm_unmanaged_stays),
                cmocka_unit_test(test_nm_failure_stops_before_the_bridge),
                cmocka_unit_test(test_port_dropped_from_profile),
                cmocka_unit_test(test_gone_port),
                cmocka_unit_test(test_record_round_trip),
        };
        return cmocka_run_group_tests(tests, setup_all, NULL);
}
