#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Fail safe (issue 7), inside the throwaway systemd of tests/harness/sysd.bash:
# hostile profiles change nothing, `up` killed at any point is undone by
# `down`, services that die come back, services that cannot start make `up`
# fail with their own error and undo itself.
load common
load ../harness/sysd

setup() { sysd_boot; }
teardown() { sysd_kill; }

# Everything `up` may make on the host, in one comparable text (host_snapshot
# plus the whole ruleset, ip_forward, every pxelab unit and slice, mounts and
# files below /run/pxelab). With "state": /var/lib/pxelab too.
residue() {
        host_snapshot
        sysd_run nft list ruleset
        echo "ip_forward=$(sysd_run cat /proc/sys/net/ipv4/ip_forward)"
        sysd_run systemctl list-units --all --plain --no-legend 'pxelab*'
        sysd_run findmnt -rn -o TARGET | grep pxelab || true
        sysd_run sh -c 'cd /run && find pxelab -mindepth 1 ! -name .lock 2>/dev/null | sort' || true
        if [ "${1:-}" = state ]; then
                sysd_run sh -c 'cd /var/lib && find pxelab 2>/dev/null | sort' || true
        fi
}

# Fails, showing what differs, unless the host looks like BEFORE.
assert_no_residue() {
        local before=$1 what=$2 now
        now=$(residue "${3:-}")
        if [ "$now" != "$before" ]; then
                echo "residue after $what:"
                diff <(echo "$before") <(echo "$now") || true
                return 1
        fi
}

# up P must work and give a healthy lab.
up_healthy() {
        run sysd_run "$PXELAB" up "$1"
        if [ "$status" -ne 0 ]; then
                echo "up after $2 failed (exit $status): $output"
                return 1
        fi
        run sysd_run "$PXELAB" status "$3"
        if [ "$status" -ne 0 ]; then
                echo "status after $2 (exit $status): $output"
                return 1
        fi
}

down_ok() {
        run sysd_run "$PXELAB" down "$1"
        if [ "$status" -ne 0 ]; then
                echo "down after $2 failed (exit $status): $output"
                return 1
        fi
}

@test "up refuses every bad profile with check's exact errors, exit 2, creating nothing" {
        cd "$REPO"
        before=$(residue state)
        n=0
        for conf in tests/bad-profiles/*.conf; do
                run --separate-stderr sysd_run "$PXELAB" up "$conf"
                if [ "$status" -ne 2 ] || [ "$stderr" != "$(cat "${conf%.conf}.err")" ] || [ -n "$output" ]; then
                        echo "MISMATCH for up $conf (exit $status):"
                        echo "--- expected"; cat "${conf%.conf}.err"
                        echo "--- got"; echo "$stderr"; echo "$output"
                        return 1
                fi
                assert_no_residue "$before" "up $conf" state
                n=$((n + 1))
        done
        echo "$n bad profiles"
        [ "$n" -ge 50 ]
}

@test "up refuses a bridge named like an existing interface or a missing uplink, creating nothing" {
        mkuplink
        before=$(residue state)
        # The bridge would take the uplink's name.
        p=$(mkprofile fs0 10.79.0.1/24 'name = "upl0"')
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Interface 'upl0' already exists and was not made by pxelab; choose another bridge.name" ]
        assert_no_residue "$before" "bridge upl0" state
        # ... or loopback's.
        sed -i 's/name = "upl0"/name = "lo"/' "$p"
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Interface 'lo' already exists and was not made by pxelab; choose another bridge.name" ]
        assert_no_residue "$before" "bridge lo" state
        # An uplink that is not there.
        p=$(mkprofile fs0 10.79.0.1/24 'uplink = "eth7"')
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "$p:"*": bridge.uplink: interface 'eth7' does not exist" ]]
        assert_no_residue "$before" "uplink eth7" state
}

# take_port tcp|udp ADDR PORT: another program holds the port inside the
# harness (bound with IP_FREEBIND: ADDR need not exist yet) until free_port.
# An ADDR with a ':' is IPv6, dual-stack (IPV6_V6ONLY off, the default).
take_port() {
        sysd_run python3 -c "
import os, socket, time
v6 = ':' in '$2'
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM if '$1' == 'tcp' else socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('$2', $3))
if '$1' == 'tcp':
    s.listen(1)
open('/run/taken.tmp', 'w').write(str(os.getpid()))
os.rename('/run/taken.tmp', '/run/taken.pid')
time.sleep(120)" </dev/null >/dev/null 2>&1 3>&- &
        for i in $(seq 200); do sysd_run test -e /run/taken.pid && return 0; sleep 0.05; done
        echo "could not take $1 port $2:$3"
        return 1
}

free_port() {
        sysd_run sh -c 'kill $(cat /run/taken.pid) && rm /run/taken.pid'
        wait
}

@test "up refuses when port 80 or 69 is taken at the lab's address, creating nothing" {
        p=$(mkprofile fs2 10.81.0.1/24 'uplink = "none"')
        before=$(residue state)
        take_port tcp 10.81.0.1 80
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Port 80/tcp is already in use on this host at 10.81.0.1 or on all addresses" ]
        assert_no_residue "$before" "port 80 taken" state
        free_port
        take_port udp 0.0.0.0 69
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Port 69/udp (TFTP) is already in use on this host at 10.81.0.1 or on all addresses" ]
        assert_no_residue "$before" "port 69 taken" state
        free_port
}

@test "up refuses when port 80 or 69 is taken by an IPv6 socket (dual-stack [::] or ::ffff:ADDR), creating nothing" {
        p=$(mkprofile fs8 10.88.0.1/24 'uplink = "none"')
        before=$(residue state)
        base=$(residue)
        # [::]:80 dual-stack holds port 80 on every IPv4 address: nginx's
        # bind at the lab's address would fail once everything is built.
        take_port tcp :: 80
        # (ss shows a dual-stack wildcard as *:80)
        sysd_run ss -Htln 'sport = 80' | grep -q ' \*:80 '
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Port 80/tcp is already in use on this host at 10.88.0.1 or on all addresses" ]
        [ -z "$output" ]
        assert_no_residue "$before" "[::]:80 taken" state
        free_port
        take_port udp :: 69
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Port 69/udp (TFTP) is already in use on this host at 10.88.0.1 or on all addresses" ]
        assert_no_residue "$before" "[::]:69 taken" state
        free_port
        # The lab's own IPv4 address through an IPv6 socket.
        take_port tcp ::ffff:10.88.0.1 80
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Port 80/tcp is already in use on this host at 10.88.0.1 or on all addresses" ]
        assert_no_residue "$before" "::ffff:10.88.0.1:80 taken" state
        free_port
        # Another IPv6 address takes nothing from the lab.
        take_port tcp ::1 80
        up_healthy "$p" "a listener on [::1]:80" fs8
        free_port
        down_ok fs8 "the up beside [::1]:80"
        assert_no_residue "$base" "the up beside [::1]:80"
}

@test "up of a profile that is a FIFO or /dev/zero: one line, exit 2, creating nothing" {
        before=$(residue state)
        sysd_run mkfifo /run/fifo.conf
        for f in /run/fifo.conf /dev/zero; do
                run --separate-stderr sysd_run timeout 20 "$PXELAB" up "$f"
                [ "$status" -eq 2 ]
                [ "$stderr" = "$f: not a regular file" ]
                [ -z "$output" ]
                run --separate-stderr sysd_run timeout 20 "$PXELAB" down "$f"
                [ "$status" -eq 2 ]
                [ "$stderr" = "$f: not a regular file" ]
        done
        sysd_run rm /run/fifo.conf
        assert_no_residue "$before" "up of a FIFO and /dev/zero" state
}

# The fault steps of `up`: the literal fault_point("STEP") calls on its path
# and "SERVICE-recorded" of fault_point_of(svc, "-recorded") per service unit.
# (`vm start` has fault points of its own, not on that path.)
fault_steps_in_source() {
        local svc files
        files=$(ls "$REPO"/src/lab/*.c | grep -v '/vm\.c$')
        # shellcheck disable=SC2086
        sed -n 's/.*fault_point("\([a-z-]*\)").*/\1/p' $files
        for svc in "$@"; do
                sed -n "s/.*fault_point_of(svc, \"\\([a-z-]*\\)\").*/$svc\\1/p" $files
        done
}

# The steps the README lists under "Crash safety", in order.
fault_steps_in_readme() {
        sed -n '/^### Crash safety/,/^##/p' "$REPO/README.md" | sed -n 's/^Steps, in order: //p' |
                grep -o '`[a-z-]*`' | tr -d '`'
}

@test "up killed after each of its steps: down leaves zero residue and up works again" {
        mkuplink
        sysd_run sysctl -qw net.ipv4.ip_forward=0
        p=$(mkprofile fs1 10.80.0.1/24)
        before=$(residue)
        # A clean run first: which services the lab has.
        up_healthy "$p" "nothing" fs1
        services=$(sysd_run jq -r '.units[] | sub("^pxelab-fs1-"; "") | sub("\\.service$"; "")' /run/pxelab/fs1/state.json)
        down_ok fs1 "the clean run"
        assert_no_residue "$before" "the clean run"
        # Every step in the code is documented, and the other way round.
        # shellcheck disable=SC2086
        diff <(fault_steps_in_source $services | sort) <(fault_steps_in_readme | sort)
        steps=$(fault_steps_in_readme)
        [ "$(echo "$steps" | wc -l)" -ge 19 ]
        for step in $steps; do
                run sysd_run env PXELAB_FAULT="$step" "$PXELAB" up "$p"
                if [ "$status" -ne 137 ]; then
                        echo "up with PXELAB_FAULT=$step: exit $status, not killed: $output"
                        return 1
                fi
                down_ok fs1 "a crash after '$step'"
                assert_no_residue "$before" "down after a crash after '$step'"
                up_healthy "$p" "a crash after '$step'" fs1
                down_ok fs1 "the up after '$step'"
                assert_no_residue "$before" "the up after '$step'"
        done
}

@test "down removes what an up killed in the middle of writing a file leaves" {
        mkuplink
        sysd_run sysctl -qw net.ipv4.ip_forward=0
        p=$(mkprofile fs7 10.87.0.1/24)
        before=$(residue)
        # Killed while writing its first record: the run dir and a temp file.
        run sysd_run env PXELAB_FAULT=rundir "$PXELAB" up "$p"
        [ "$status" -eq 137 ]
        sysd_run sh -c 'printf "{\"lab\": " > /run/pxelab/fs7/state.json.tmp.4242'
        run sysd_run "$PXELAB" down fs7
        [ "$status" -eq 0 ]
        [ "$output" = "Lab 'fs7' is not up; removed its leftover '/run/pxelab/fs7'" ]
        assert_no_residue "$before" "a kill while writing the first record"
        # Killed while saving the host's ip_forward.
        run sysd_run env PXELAB_FAULT=forwarding-recorded "$PXELAB" up "$p"
        [ "$status" -eq 137 ]
        sysd_run sh -c 'printf 0 > /run/pxelab/ip_forward.saved.tmp.4242'
        down_ok fs7 "a kill while saving ip_forward"
        assert_no_residue "$before" "a kill while saving ip_forward"
        # A run dir that holds anything else is not pxelab's to remove, and
        # a lab name is never a path.
        sysd_run mkdir /run/pxelab/fs7
        sysd_run touch /run/pxelab/fs7/mine
        run --separate-stderr sysd_run "$PXELAB" down fs7
        [ "$status" -eq 1 ]
        [ "$stderr" = "'/run/pxelab/fs7' holds files but no lab record; remove it by hand if no lab uses it" ]
        sysd_run test -e /run/pxelab/fs7/mine
        sysd_run rm -r /run/pxelab/fs7
        for name in .. . ""; do
                run --separate-stderr sysd_run "$PXELAB" down "$name"
                [ "$status" -eq 2 ]
                [[ "$stderr" == "'$name' is not a lab name ("* ]]
        done
        # With a '/' it names a profile, which does not exist: refused.
        run sysd_run "$PXELAB" down ../pxelab
        [ "$status" -eq 2 ]
        sysd_run test -d /run/pxelab
        sysd_run test -d /run/systemd
        assert_no_residue "$before" "down of odd names"
}

@test "up killed by SIGKILL at random moments: down leaves zero residue and up works again" {
        mkuplink
        sysd_run sysctl -qw net.ipv4.ip_forward=0
        p=$(mkprofile fs6 10.86.0.1/24)
        before=$(residue)
        # How long a whole `up` takes here: the kills fall within it.
        t0=$(date +%s%N)
        up_healthy "$p" "nothing" fs6
        span=$(( ($(date +%s%N) - t0) / 1000000 + 50 ))
        down_ok fs6 "the clean run"
        RANDOM=${FAILSAFE_SEED:-$$}
        echo "seed ${FAILSAFE_SEED:-$$}, up takes ~${span} ms"
        killed=0
        for round in $(seq "${FAILSAFE_ROUNDS:-15}"); do
                ms=$(( RANDOM % span ))
                rc=$(sysd_run sh -c "'$PXELAB' up '$p' >/dev/null 2>&1 & pid=\$!
                        sleep $(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
                        kill -KILL \$pid 2>/dev/null; wait \$pid; echo \$?")
                echo "round $round: SIGKILL after $ms ms, up exited $rc"
                [ "$rc" -eq 137 ] && killed=$((killed + 1))
                down_ok fs6 "SIGKILL after $ms ms"
                assert_no_residue "$before" "down after SIGKILL after $ms ms"
                up_healthy "$p" "SIGKILL after $ms ms" fs6
                down_ok fs6 "the up after SIGKILL after $ms ms"
                assert_no_residue "$before" "the up after SIGKILL after $ms ms"
        done
        # Most kills hit a running `up`.
        echo "$killed rounds killed mid-way"
        [ "$killed" -ge $(( ${FAILSAFE_ROUNDS:-15} / 3 )) ]
}

# Milliseconds since $1 (date +%s%N).
ms_since() {
        echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

@test "killed nginx and dnsmasq are back within 3 s, status counts the restart, the lab serves again" {
        p=$(mkprofile fs3 10.83.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        sysd_client_ns c1 pxe-fs3
        for svc in nginx dnsmasq; do
                u=pxelab-fs3-$svc.service
                pid=$(sysd_run systemctl show -P MainPID "$u")
                [ "$pid" -gt 0 ]
                t0=$(date +%s%N)
                sysd_run kill -KILL "$pid"
                while :; do
                        new=$(sysd_run systemctl show -P MainPID "$u")
                        [ "$(sysd_run systemctl show -P ActiveState "$u")" = active ] &&
                                [ "$new" -gt 0 ] && [ "$new" != "$pid" ] && break
                        [ "$(ms_since "$t0")" -lt 10000 ] || { echo "$svc did not come back"; return 1; }
                        sleep 0.02
                done
                ms=$(ms_since "$t0")
                echo "$svc: killed PID $pid, PID $new active after $ms ms"
                [ "$ms" -lt 3000 ]
                run sysd_run "$PXELAB" status fs3 --json
                [ "$status" -eq 0 ]
                echo "$output" | jq -e --arg u "$u" --argjson pid "$new" \
                        '.labs[0].healthy and (.labs[0].units[] | select(.name == $u) |
                          .restarts >= 1 and .active_state == "active" and .main_pid == $pid)'
                # Human status says so too.
                run sysd_run "$PXELAB" status fs3
                echo "$output" | grep -Eq "unit: +$u active/running pid $new restarts [1-9]"
        done
        # The lab serves again: a lease, the boot script, a loader, a boot file.
        ip=$(sysd_udhcpc c1)
        [[ "$ip" == 10.83.0.* ]]
        [ "$(sysd_lease c1 boot_file)" != "" ] || [ "$(sysd_lease c1 siaddr)" != "" ]
        sysd_client_run c1 curl -sf http://10.83.0.1/boot.ipxe | grep -q '^#!ipxe'
        sysd_client_run c1 curl -sf -o /tmp/u.kpxe tftp://10.83.0.1/undionly.kpxe
        sysd_client_run c1 cmp /tmp/u.kpxe /usr/lib/ipxe/undionly.kpxe
        sysd_client_run c1 curl -sf -o /tmp/k http://10.83.0.1/files/rescue/vmlinuz
        sysd_client_run c1 cmp /tmp/k "$OUT/lab-fs3/vmlinuz"
}

@test "dnsmasq rejecting its config fails up with dnsmasq's own error, and up undoes everything" {
        before=$(residue)
        p=$(mkprofile fs4 10.84.0.1/24 'uplink = "none"')
        mkdir -p "$OUT/lab-fs4/tpl"
        printf 'port=0\ninterface={{bridge.name}}\nbind-interfaces\nno-such-dnsmasq-option\n' \
                > "$OUT/lab-fs4/tpl/dnsmasq.conf.mustache"
        sed -i '1a templates = "tpl"' "$p"
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        echo "$stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"Failed to start unit 'pxelab-fs4-dnsmasq.service'"* ]]
        [[ "$stderr" == *"bad option at line 4 of /run/pxelab/fs4/dnsmasq.conf"* ]]
        assert_no_residue "$before" "the failed up"
}

@test "DHCP port taken by another program fails up with dnsmasq's own error, and up undoes everything" {
        p=$(mkprofile fs5 10.85.0.1/24 'uplink = "none"')
        before=$(residue)
        # Another DHCP server on all addresses, without SO_REUSEADDR: the
        # pre-flight checks don't cover 67, dnsmasq finds out when it binds.
        take_port udp 0.0.0.0 67
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        echo "$stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"Failed to start unit 'pxelab-fs5-dnsmasq.service'"* ]]
        [[ "$stderr" == *"failed to bind DHCP server socket: Address already in use"* ]]
        [[ "$stderr" == *"Undoing what this 'up' did for lab 'fs5'"* ]]
        assert_no_residue "$before" "the failed up"
        # Once the port is free, the same profile comes up.
        free_port
        up_healthy "$p" "freeing port 67" fs5
}

# bg_up NAME PROFILE [VAR=VALUE...]: `pxelab up PROFILE` in the background
# inside the harness, with those variables; its PID goes to /run/NAME.pid,
# its output to /run/NAME.out, its exit status to /run/NAME.rc at the end.
bg_up() {
        local n=$1 p=$2
        shift 2
        # shellcheck disable=SC2016 # expanded by the harness's shell
        sysd_run sh -c '
                n=$1; shift
                ( sh -c "echo \$\$ > /run/$n.pid.tmp && mv /run/$n.pid.tmp /run/$n.pid && exec env \"\$@\"" \
                        sh "$@" > "/run/$n.out" 2>&1
                  echo $? > "/run/$n.rc.tmp" && mv "/run/$n.rc.tmp" "/run/$n.rc" ) &' \
                sh "$n" "$@" "$PXELAB" up "$p" </dev/null >/dev/null 2>&1 3>&-
        wait_for "/run/$n.pid" 100
}

# wait_for FILE TENTHS: until FILE exists in the harness.
wait_for() {
        for _ in $(seq "$2"); do sysd_run test -e "$1" && return 0; sleep 0.1; done
        echo "no $1 after $(( $2 / 10 )) s"
        return 1
}

# wait_stopped NAME: until the `up` of bg_up NAME is stopped (SIGSTOP).
wait_stopped() {
        for _ in $(seq 300); do
                sysd_run grep -q '^State:.*stopped' "/proc/$(sysd_run cat "/run/$1.pid")/status" && return 0
                sysd_run test -e "/run/$1.rc" && { echo "$1 ended: $(sysd_run cat "/run/$1.out")"; return 1; }
                sleep 0.1
        done
        echo "$1 did not stop"
        return 1
}

# wait_output NAME TEXT: until the output of bg_up NAME contains TEXT.
wait_output() {
        for _ in $(seq 100); do sysd_run grep -qF "$2" "/run/$1.out" && return 0; sleep 0.1; done
        echo "$1 did not say '$2': $(sysd_run cat "/run/$1.out")"
        return 1
}

@test "a second up waits for the first (past the old 10 s) and then reconciles its lab; PXELAB_LOCK_TIMEOUT bounds the wait" {
        p=$(mkprofile fs9 10.89.0.1/24 'uplink = "none"')
        before=$(residue)
        # The first `up` holds the lock, stopped half-way.
        bg_up up1 "$p" PXELAB_FAULT=stop:dnsmasq
        wait_stopped up1
        pid1=$(sysd_run cat /run/up1.pid)
        # With a bound of 2 s: it says once that it waits, then gives up.
        t0=$(date +%s%N)
        run --separate-stderr sysd_run env PXELAB_LOCK_TIMEOUT=2 "$PXELAB" up "$p"
        [ "$status" -eq 1 ]
        [ "$(( ($(date +%s%N) - t0) / 1000000 ))" -ge 2000 ]
        [ "$stderr" = "Waiting for another pxelab (PID $pid1) to finish…
Another pxelab (PID $pid1) is still running after 2 s (lock '/run/pxelab/.lock' is held); try again when it has finished" ]
        run --separate-stderr sysd_run env PXELAB_LOCK_TIMEOUT=0 "$PXELAB" down fs9
        [ "$status" -eq 1 ]
        [[ "$stderr" == "Another pxelab (PID $pid1) is still running after 0 s"* ]]
        # By default it waits, well past the 10 s after which it used to fail.
        bg_up up2 "$p"
        wait_output up2 "Waiting for another pxelab (PID $pid1) to finish…"
        sleep 11
        run sysd_run test -e /run/up2.rc
        [ "$status" -ne 0 ]
        sysd_run kill -CONT "$pid1"
        wait_for /run/up1.rc 300
        wait_for /run/up2.rc 300
        echo "up1: $(sysd_run cat /run/up1.out)"
        echo "up2: $(sysd_run cat /run/up2.out)"
        [ "$(sysd_run cat /run/up1.rc)" -eq 0 ]
        [ "$(sysd_run cat /run/up2.rc)" -eq 0 ]
        # It said so once, and found the first one's lab up (no undo, one lab).
        [ "$(sysd_run grep -c 'Waiting for another pxelab' /run/up2.out)" -eq 1 ]
        run sysd_run grep -q Undoing /run/up2.out
        [ "$status" -ne 0 ]
        run sysd_run "$PXELAB" status fs9
        [ "$status" -eq 0 ]
        down_ok fs9 "two ups at once"
        assert_no_residue "$before" "two ups at once and down"
}

@test "a failed fresh up undoes itself before a waiting up gets the lock: that one starts fresh, adopting nothing" {
        before=$(residue)
        p=$(mkprofile fs10 10.91.0.1/24 'uplink = "none"')
        mkdir -p "$OUT/lab-fs10/tpl"
        printf 'port=0\ninterface={{bridge.name}}\nbind-interfaces\nno-such-dnsmasq-option\n' \
                > "$OUT/lab-fs10/tpl/dnsmasq.conf.mustache"
        sed -i '1a templates = "tpl"' "$p"
        # The first `up` fails (dnsmasq rejects its config) and stops as it
        # starts undoing itself: the half-made lab is there.
        bg_up up1 "$p" PXELAB_FAULT=stop:undo
        wait_stopped up1
        pid1=$(sysd_run cat /run/up1.pid)
        sysd_run test -e /run/pxelab/fs10/state.json
        sysd_run ip link show pxe-fs10 >/dev/null
        # The second one waits for it instead of taking that lab over.
        bg_up up2 "$p"
        wait_output up2 "Waiting for another pxelab (PID $pid1) to finish…"
        run sysd_run test -e /run/up2.rc
        [ "$status" -ne 0 ]
        sysd_run kill -CONT "$pid1"
        wait_for /run/up1.rc 300
        wait_for /run/up2.rc 300
        echo "up1: $(sysd_run cat /run/up1.out)"
        echo "up2: $(sysd_run cat /run/up2.out)"
        [ "$(sysd_run cat /run/up1.rc)" -eq 1 ]
        [ "$(sysd_run cat /run/up2.rc)" -eq 1 ]
        # Both were fresh: each failed on its own and undid everything it did.
        for u in up1 up2; do
                sysd_run grep -q "Failed to start unit 'pxelab-fs10-dnsmasq.service'" "/run/$u.out"
                sysd_run grep -q "Undoing what this 'up' did for lab 'fs10'" "/run/$u.out"
        done
        assert_no_residue "$before" "two failing ups at once"
}
