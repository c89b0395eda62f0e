#!/usr/bin/env bats
# ovsdb.c (Open vSwitch over OVSDB JSON-RPC) against a private ovsdb-server
# and ovs-vswitchd, each test in its own network and mount namespace so no
# bridge or socket reaches the host. Needs root.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
ITEST=${B:-$ROOT/build}/tests/itest_ovsdb
[[ $ITEST = /* ]] || ITEST=$ROOT/$ITEST

setup() {
        [ -x "$ITEST" ] || { echo "missing $ITEST (make unit)" >&2; return 1; }
        DIR=$BATS_TEST_TMPDIR/ovs
}

load ../harness/ovs

# Runs bash CODE in fresh namespaces (ovs_isolated) with the harness loaded
# and $1 = a private OVS directory; ovs_stop runs whatever CODE does.
in_lab() {
        run ovs_isolated bash -c "source '$ROOT/tests/harness/ovs.bash'
                trap 'ovs_stop \"\$1\"' EXIT
                $1" in_lab "$DIR"
}

@test "ovsdb: bridges, ports, errors and echo against ovsdb-server + ovs-vswitchd" {
        in_lab '
                ovs_start "$1" || exit
                # a second listener whose clients get an inactivity probe
                ovs_vsctl "$1" -- --id=@m create Manager target=\"punix:$1/probe.sock\" inactivity_probe=1000 \
                        -- set Open_vSwitch . manager_options=@m >/dev/null || exit
                for i in $(seq 50); do [ -S "$1/probe.sock" ] && break; sleep 0.1; done
                OVS_RUNDIR=$1 '"$ITEST"' "$1/db.sock" "$1/probe.sock"'
        echo "$output"
        [ "$status" -eq 0 ]
        [[ $output == *"PASSED  ] 9 test(s)"* ]]
}

@test "ovsdb: changes time out without ovs-vswitchd" {
        in_lab '
                ovs_start_db "$1" || exit
                OVS_RUNDIR=$1 '"$ITEST"' --no-vswitchd "$1/db.sock"'
        echo "$output"
        [ "$status" -eq 0 ]
        [[ $output == *"PASSED  ] 1 test(s)"* ]]
}

@test "ovsdb: the private switches left no links on the host" {
        run ip -o link show
        [ "$status" -eq 0 ]
        [[ $output != *pxt-* ]]
}
