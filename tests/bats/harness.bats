#!/usr/bin/env bats
# Tests of the throwaway-systemd harness (tests/harness/sysd.bash) itself.
# One harness serves the whole file (setup_file); some tests boot more.

bats_require_minimum_version 1.5.0
load ../harness/sysd.bash
# The unit's long sleep, told apart from one of another run on this host
# (pgrep sees the host's processes): the same for every test of this run.
NAP=4242.$(cksum <<< "$BATS_RUN_TMPDIR" | cut -d" " -f1)

# The host-side facts a harness must leave as they were.
host_snapshot() {
        {
                ls -A /sys/fs/cgroup
                grep ' /sys/fs/cgroup ' /proc/self/mountinfo | awk '{print $NF, $(NF-1)}'
                ls -la /dev/log 2>&1 | sed 's/.*: //'
                stat -c '%a %U' /tmp
        } 2>&1
}

setup_file() {
        export MARKER=/tmp/pxelab-harness-marker.$$
        echo keep > "$MARKER"
        host_snapshot > "$BATS_FILE_TMPDIR/host.before"
        # Host paths under /tmp that the tests need inside.
        export BIND_DIR=/tmp/pxelab-harness-dir.$$ BIND_FILE=/tmp/pxelab-harness-file.$$
        mkdir -p "$BIND_DIR"
        echo dir-content > "$BIND_DIR/f"
        echo file-content > "$BIND_FILE"
        SYSD_BIND="$BIND_DIR $BIND_FILE" sysd_boot
}

teardown_file() {
        sysd_kill
        rm -rf "$MARKER" "$BIND_DIR" "$BIND_FILE"
}

@test "systemd runs as PID 1 in the harness and systemctl reaches it" {
        run sysd_run systemctl is-system-running
        [ "$status" -eq 0 ]
        [ "$output" = running ]
        run sysd_run cat /proc/1/comm
        [ "$output" = systemd ]
        run sysd_run systemctl show -p ActiveState --value pxelab-test.target
        [ "$output" = active ]
        # The boot pulled in nothing from the host's targets but journald.
        run sysd_run systemctl list-units --type=service --state=active --plain --no-legend
        [ "$status" -eq 0 ]
        [ "$(echo "$output" | awk '{print $1}')" = systemd-journald.service ]
}

@test "the harness has private /tmp, /run, /dev, network and cgroups" {
        [ -f "$MARKER" ]
        run sysd_run test -e "$MARKER"
        [ "$status" -ne 0 ]
        sysd_run sh -c 'echo inside > /tmp/pxelab-harness-inside'
        [ ! -e /tmp/pxelab-harness-inside ]
        run sysd_run ls /sys/class/net
        [ "$output" = lo ]
        run sysd_run readlink /dev/log
        [ "$output" = /run/systemd/journal/dev-log ]
        [ ! -e /dev/log ]
        run sysd_run sh -c 'echo 1 > /proc/sys/kernel/sysrq'
        [ "$status" -ne 0 ]
        # The namespace's own network sysctls are writable, the host's stay.
        host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
        sysd_run sh -c "echo $((1 - host_fwd)) > /proc/sys/net/ipv4/ip_forward"
        run sysd_run cat /proc/sys/net/ipv4/ip_forward
        [ "$output" = $((1 - host_fwd)) ]
        [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]
        run sysd_run cat /proc/1/cgroup
        [[ "$output" == *"name=systemd:/$SYSD_CGROUP/init.scope"* ]]
}

@test "host paths named in SYSD_BIND are there inside, writable" {
        run sysd_run cat "$BIND_DIR/f" "$BIND_FILE"
        [ "${lines[0]}" = dir-content ]
        [ "${lines[1]}" = file-content ]
        sysd_run sh -c "echo from-inside > '$BIND_DIR/g'"
        [ "$(cat "$BIND_DIR/g")" = from-inside ]
        # Bound paths can't be /tmp itself: that would undo the private /tmp.
        run env SYSD_BIND=/tmp bash -c "source '$BATS_TEST_DIRNAME/../harness/sysd.bash'; _sysd_binds"
        [ "$status" -ne 0 ]
        [[ "$output" == *"refusing to bind '/tmp'"* ]]
}

@test "a hardened transient unit runs and its output is in the journal" {
        sysd_run systemd-run --unit hx -p ProtectSystem=strict -p PrivateTmp=yes \
                sh -c 'echo harness-hello; touch /usr/x 2>/dev/null || echo usr-read-only; exec sleep '"$NAP"
        run sysd_run systemctl show -p ActiveState --value hx.service
        [ "$output" = active ]
        run sysd_run systemctl show -p ProtectSystem --value hx.service
        [ "$output" = strict ]
        for _ in $(seq 50); do
                run sysd_run journalctl -u hx --no-pager -o cat
                [[ "$output" == *usr-read-only* ]] && break
                sleep 0.1
        done
        [[ "$output" == *harness-hello* ]]
        [[ "$output" == *usr-read-only* ]]
        pgrep -f "sleep $NAP"
}

@test "the environment and working directory carry into sysd_run" {
        cd "$BATS_TEST_TMPDIR"
        echo here > file
        PXELAB_PROBE=yes-probe run sysd_run sh -c 'echo "$PXELAB_PROBE"; cat file'
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = yes-probe ]
        [ "${lines[1]}" = here ]
}

@test "a client namespace gets a veth on a bridge made inside and a DHCP lease" {
        sysd_run ip link add hbr0 type bridge
        sysd_run ip addr add 10.77.0.1/24 dev hbr0
        sysd_run ip link set hbr0 up
        sysd_client_ns c1 hbr0 52:54:00:77:00:01
        run sysd_run ip -o link show master hbr0
        [[ "$output" == *vc-c1* ]]
        run sysd_client_run c1 cat /sys/class/net/eth0/address
        [ "$output" = 52:54:00:77:00:01 ]
        # A real DHCP server on the bridge, as a unit of the harness.
        sysd_run systemd-run --unit hdhcp /usr/sbin/dnsmasq --keep-in-foreground --port=0 \
                --bind-interfaces --interface=hbr0 --dhcp-range=10.77.0.50,10.77.0.60 \
                --dhcp-boot=pxe-probe.efi,,10.77.0.1 --dhcp-leasefile=/run/hdhcp.leases
        ip=$(sysd_udhcpc c1)
        [[ "$ip" =~ ^10\.77\.0\.(5[0-9]|60)$ ]]
        run sysd_lease c1 boot_file
        [ "$output" = pxe-probe.efi ]
        run sysd_client_run c1 ip -4 -o addr show dev eth0
        [[ "$output" == *"inet $ip/24"* ]]
        sysd_client_run c1 busybox ping -c1 -W2 10.77.0.1
        sysd_client_del c1
        run sysd_run ip link show vc-c1
        [ "$status" -ne 0 ]
}

@test "a second harness runs alongside, isolated, and goes away completely" {
        (
                unset SYSD_PID SYSD_UNSHARE_PID SYSD_STATE SYSD_CGROUP
                sysd_boot
                echo "$SYSD_CGROUP" > "$BATS_TEST_TMPDIR/cg2"
                # Its own units: the first harness doesn't see them.
                sysd_run systemd-run --unit hx2 sleep 4343
                sysd_run systemctl is-active hx2.service
                sysd_kill
        )
        run sysd_run systemctl is-active hx2.service
        [ "$output" != active ]
        cg2=$(cat "$BATS_TEST_TMPDIR/cg2")
        [ "$cg2" != "$SYSD_CGROUP" ]
        run ! pgrep -f 'sleep 4343'
        run ! compgen -G "/sys/fs/cgroup/*/$cg2"
        [ ! -e "/tmp/$cg2" ]
        # The first one is unharmed.
        run sysd_run systemctl is-active hx.service
        [ "$output" = active ]
}

@test "a harness dies with the shell that booted it" {
        (
                unset SYSD_PID SYSD_UNSHARE_PID SYSD_STATE SYSD_CGROUP
                sysd_boot
                echo "$SYSD_CGROUP" > "$BATS_TEST_TMPDIR/cg3"
                sysd_run systemd-run --unit orphan sleep 4444
        )
        for _ in $(seq 50); do
                pgrep -f 'sleep 4444' || break
                sleep 0.1
        done
        run ! pgrep -f 'sleep 4444'
        # Its leftovers (empty cgroups, state) go at the next boot.
        cg3=$(cat "$BATS_TEST_TMPDIR/cg3")
        _sysd_reap_stale
        run ! compgen -G "/sys/fs/cgroup/*/$cg3"
        [ ! -e "/tmp/$cg3" ]
        run sysd_run systemctl is-active hx.service
        [ "$output" = active ]
}

@test "sysd_kill ends every process and leaves the host as it was" {
        pgrep -f "sleep $NAP"
        cg=$SYSD_CGROUP state=$SYSD_STATE
        sysd_kill
        run ! pgrep -f "sleep $NAP"
        [ -z "${SYSD_PID:-}" ]
        [ ! -e "$state" ]
        run ! compgen -G "/sys/fs/cgroup/*/$cg"
        [ "$(cat "$MARKER")" = keep ]
        host_snapshot > "$BATS_FILE_TMPDIR/host.after"
        diff "$BATS_FILE_TMPDIR/host.before" "$BATS_FILE_TMPDIR/host.after"
        # Killing again is harmless; the sysd_run of a dead harness fails.
        sysd_kill
        run sysd_run true
        [ "$status" -ne 0 ]
}

@test "boots in a row, one per use, work and leave nothing" {
        for i in 1 2 3; do
                sysd_boot
                sysd_run systemd-run --unit "row$i" sleep 4545
                run sysd_run systemctl is-active "row$i.service"
                [ "$output" = active ]
                cg=$SYSD_CGROUP
                sysd_kill
                run ! pgrep -f 'sleep 4545'
                run ! compgen -G "/sys/fs/cgroup/*/$cg"
        done
        host_snapshot > "$BATS_FILE_TMPDIR/host.after"
        diff "$BATS_FILE_TMPDIR/host.before" "$BATS_FILE_TMPDIR/host.after"
}

@test "each run's test data directory (setup_suite.bash): outside the checkout and homes, 0755, removed at the end" {
        local suite=$BATS_TEST_DIRNAME/setup_suite.bash d
        # This run's, made before the first suite.
        [ -d "$PXELAB_TEST_OUT" ]
        [ "$(stat -c '%a %U' "$PXELAB_TEST_OUT")" = "755 root" ]
        case "$PXELAB_TEST_OUT/" in
        /home/* | /root/* | /run/user/* | "$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"/*) false ;;
        esac
        # Another one in a chosen place: made, then removed...
        run bash -c 'source "$1"; PXELAB_TEST_TMP=$2 setup_suite && echo "$PXELAB_TEST_OUT" && teardown_suite' _ \
                "$suite" "$BATS_TEST_TMPDIR"
        [ "$status" -eq 0 ]
        [[ "$output" == "$BATS_TEST_TMPDIR"/pxelab-tests.* ]]
        [ ! -e "$output" ]
        # ... or kept and named with PXELAB_TEST_KEEP.
        run bash -c 'source "$1"; PXELAB_TEST_TMP=$2 setup_suite && PXELAB_TEST_KEEP=1 teardown_suite 3>&1' _ \
                "$suite" "$BATS_TEST_TMPDIR"
        [ "$status" -eq 0 ]
        d=${output#"# test data kept in "}
        [[ "$d" == "$BATS_TEST_TMPDIR"/pxelab-tests.* ]]
        [ -d "$d" ]
        rm -rf "$d"
        # A home directory is refused.
        for home in /root /home/x /run/user/0; do
                run bash -c 'source "$1"; PXELAB_TEST_TMP=$2 setup_suite' _ "$suite" "$home"
                [ "$status" -eq 1 ]
                [ "$output" = "PXELAB_TEST_TMP='$home' is under a home directory, which the lab's units cannot see" ]
        done
}
