#!/usr/bin/env bats
# units.c (transient units over sd-bus, sd-journal) against a real systemd:
# tests/integration/itest_units.c runs inside the throwaway systemd.

bats_require_minimum_version 1.5.0
load ../harness/sysd.bash

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
ITEST=${B:-$ROOT/build}/tests/itest_units
[[ $ITEST = /* ]] || ITEST=$ROOT/$ITEST

setup_file() {
        [ -x "$ITEST" ] || { echo "missing $ITEST (make unit)" >&2; return 1; }
        sysd_boot
}

teardown_file() {
        sysd_kill
}

@test "units: start, hardening, restart on kill, failures with their journal, stop, list" {
        run sysd_run "$ITEST"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ $output == *"PASSED  ] 15 test(s)"* ]]
}

@test "units: the suite leaves no unit of its own behind" {
        run sysd_run systemctl list-units --all --plain --no-legend 'pxelab-itest*.service'
        [ "$status" -eq 0 ]
        [ -z "$output" ]
        run sysd_run systemctl list-units --failed --plain --no-legend
        [ -z "$output" ]
}

@test "units: without systemd as PID 1 units_connect fails with one line" {
        # A private /run hides /run/systemd/system wherever this runs.
        run --separate-stderr unshare --mount --propagation private \
                sh -c 'mount -t tmpfs tmpfs /run && exec "$0" connect' "$ITEST"
        [ "$status" -eq 1 ]
        [ "$stderr" = "systemd is not running as PID 1 on this machine; pxelab needs it to run the lab's services" ]
        [ -z "$output" ]
}
