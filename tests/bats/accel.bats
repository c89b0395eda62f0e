#!/usr/bin/env bats
# The accelerator a VM gets (src/host/accel.h), end to end: `pxelab vm start` in
# a lab inside the throwaway systemd (tests/harness/sysd.bash), with
# stand-in QEMUs in $PXELAB_QEMU for KVM that works, is absent or is present
# but broken (aborts, crawls, or kills a real VM), and with this machine's
# own QEMU, whose verdict must match what QEMU really does here.
#
# A stand-in is a bash wrapper around the real QEMU. "Working KVM" is the
# real QEMU under TCG: the wrapper turns -accel kvm into -accel tcg and drops
# -cpu host. Each probe run (the command line with isa-debugcon) is counted
# in /run/accel-calls/NAME inside the harness; the VM units can't write
# there (ProtectSystem=strict), so only probes count.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=acc
CALLS=/run/accel-calls
W=$OUT/accel
BOOT_ID_FILE=/proc/sys/kernel/random/boot_id

setup_file() {
        local profile
        export REAL_QEMU
        REAL_QEMU=$(command -v qemu-system-x86_64)
        rm -rf "$W"
        mkdir -p "$W"
        profile=$(mkprofile "$LAB" 10.67.0.1/24 'uplink = "none"')
        unset PXELAB_ACCEL PXELAB_QEMU PXELAB_KVM_DEVICE
        sysd_boot
        sysd_run "$PXELAB" up "$profile"
        export PROFILE=$profile
}

teardown_file() {
        sysd_kill
}

setup() {
        unset PXELAB_ACCEL PXELAB_QEMU PXELAB_KVM_DEVICE
        # Every test starts without a verdict of this boot.
        sysd_run rm -rf /run/pxelab/.accel "$CALLS"
        sysd_run mkdir -p "$CALLS"
}

teardown() {
        sysd_run "$PXELAB" vm stop "$LAB" --all > /dev/null 2>&1 || true
}

# stand_in NAME KVM-CODE: $W/NAME, a QEMU that runs KVM-CODE (bash) when
# given -accel kvm and is the real QEMU otherwise. In KVM-CODE, `as_tcg "$@"`
# is a working KVM and $probe is set for the probe's command line.
stand_in() {
        local name=$1 code=$2
        cat > "$W/$name" <<EOF
#!/bin/bash
as_tcg() {
        local a=() skip= x
        for x in "\$@"; do
                if [ -n "\$skip" ]; then skip=; continue; fi
                case \$x in -cpu) skip=1; continue ;; kvm) x=tcg ;; esac
                a+=("\$x")
        done
        exec $REAL_QEMU "\${a[@]}"
}
probe=
[[ " \$* " == *isa-debugcon* ]] && probe=1
if [[ " \$* " == *" -accel kvm "* ]]; then
        [ -n "\$probe" ] && { echo probe >> $CALLS/$name; } 2>/dev/null
        $code
fi
exec $REAL_QEMU "\$@"
EOF
        chmod 0755 "$W/$name"
        echo "$W/$name"
}

probes() {
        sysd_run sh -c "cat $CALLS/$1 2>/dev/null | wc -l"
}

rec() {
        sysd_run jq -r ".vms.$1.$2" "/run/pxelab/$LAB/state.json"
}

exec_start() {
        sysd_run systemctl show -P ExecStart "pxelab-$LAB-vm-$1.service"
}

cache() {
        sysd_run jq -r "$1" /run/pxelab/.accel
}

# The seconds a reason quotes ("... after 0.13 s ...").
reason_secs() {
        sed -n 's/.* after \([0-9.]*\) s .*/\1/p' <<< "$1"
}

@test "PXELAB_ACCEL forces the accelerator (no probe, no cache); another value is a usage error" {
        export PXELAB_QEMU
        PXELAB_QEMU=$(stand_in abort 'kill -ABRT $$')

        # A bad value: one line naming the variable and the value, nothing changed.
        run sysd_run env PXELAB_ACCEL=fast "$PXELAB" vm start "$LAB" bad1
        [ "$status" -eq 2 ]
        [ "$output" = "PXELAB_ACCEL: 'fast' is neither kvm nor tcg" ]
        sysd_run jq -e '(.vms // {}) | length == 0' "/run/pxelab/$LAB/state.json"
        run sysd_run env PXELAB_ACCEL=KVM "$PXELAB" up "$PROFILE"
        [ "$status" -eq 2 ]
        [ "$output" = "PXELAB_ACCEL: 'KVM' is neither kvm nor tcg" ]

        # tcg: QEMU's default CPU, no -cpu; not even the aborting QEMU is probed.
        run sysd_run env PXELAB_ACCEL=tcg "$PXELAB" vm start "$LAB" t1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Using TCG (PXELAB_ACCEL=tcg)"* ]]
        [ "$(rec t1 accel)" = tcg ]
        exec_start t1 | grep -q -- '-accel tcg '
        [[ "$(exec_start t1)" != *"-cpu"* ]]
        [ "$(probes abort)" -eq 0 ]
        sysd_run test ! -e /run/pxelab/.accel

        # kvm: taken as asked, also when it fails: no fallback, exit 1, no record.
        run sysd_run env PXELAB_ACCEL=kvm "$PXELAB" vm start "$LAB" k1
        echo "$output"
        [ "$status" -eq 1 ]
        [[ "$output" == *"Failed to start unit 'pxelab-$LAB-vm-k1.service'"* ]]
        [ "$(rec k1 accel)" = null ]
        [ "$(probes abort)" -eq 0 ]

        PXELAB_QEMU=$(stand_in works 'as_tcg "$@"')
        run sysd_run env PXELAB_ACCEL=kvm "$PXELAB" vm start "$LAB" k2
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Using KVM (PXELAB_ACCEL=kvm)"* ]]
        [ "$(rec k2 accel)" = kvm ]
        exec_start k2 | grep -q -- "-accel kvm -cpu host "
        [ "$(probes works)" -eq 0 ]
        sysd_run test ! -e /run/pxelab/.accel
}

@test "KVM absent: TCG at once, QEMU is not asked, nothing cached" {
        export PXELAB_QEMU PXELAB_KVM_DEVICE=/nonexistent/kvm
        PXELAB_QEMU=$(stand_in works 'as_tcg "$@"')

        run sysd_run "$PXELAB" vm start "$LAB" a1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"KVM is not usable here (cannot open /nonexistent/kvm: No such file or directory), using TCG"* ]]
        [ "$(rec a1 accel)" = tcg ]
        exec_start a1 | grep -q -- '-accel tcg '
        [ "$(probes works)" -eq 0 ]
        sysd_run test ! -e /run/pxelab/.accel
}

@test "KVM present but QEMU aborts under it: TCG, decided fast, cached for this boot and binary" {
        export PXELAB_QEMU
        PXELAB_QEMU=$(stand_in abort 'echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; kill -ABRT $$')

        run sysd_run "$PXELAB" vm start "$LAB" b1
        echo "$output"
        [ "$status" -eq 0 ]
        line=$(grep 'KVM is not usable here' <<< "$output")
        [[ "$line" == "KVM is not usable here (QEMU aborted after "*" s under -accel kvm -cpu host: error: failed to set MSR 0x10a to 0x69), using TCG" ]]
        awk -v s="$(reason_secs "$line")" 'BEGIN { exit !(s < 1.0) }'
        [ "$(rec b1 accel)" = tcg ]
        [ "$(probes abort)" -eq 1 ]

        # The verdict, kept for this boot and this binary.
        [ "$(sysd_run stat -c '%a %U %F' /run/pxelab/.accel)" = "600 root regular file" ]
        [ "$(cache .boot_id)" = "$(cat "$BOOT_ID_FILE")" ]
        [ "$(cache .qemu)" = "$PXELAB_QEMU" ]
        [ "$(cache .ino)" = "$(stat -c %i "$PXELAB_QEMU")" ]
        [ "$(cache .accel)" = tcg ]
        [ "$(cache .cpu)" = host ]

        # The next VM gets the same answer without a probe.
        run sysd_run "$PXELAB" vm start "$LAB" b2
        [ "$status" -eq 0 ]
        [ "$(grep 'KVM is not usable here' <<< "$output")" = "$line" ]
        [ "$(rec b2 accel)" = tcg ]
        [ "$(probes abort)" -eq 1 ]

        # A verdict of another boot is not believed: probed again.
        sysd_run sh -c "jq -c '.boot_id = \"00000000-0000-0000-0000-000000000000\"' /run/pxelab/.accel > /run/pxelab/.accel.new && mv /run/pxelab/.accel.new /run/pxelab/.accel"
        sysd_run "$PXELAB" vm start "$LAB" b3
        [ "$(probes abort)" -eq 2 ]
        [ "$(cache .boot_id)" = "$(cat "$BOOT_ID_FILE")" ]

        # Nor one of another binary.
        PXELAB_QEMU=$(stand_in abort2 'kill -ABRT $$')
        sysd_run "$PXELAB" vm start "$LAB" b4
        [ "$(probes abort2)" -eq 1 ]
        [ "$(cache .qemu)" = "$PXELAB_QEMU" ]
}

@test "KVM present but slower than the deadline: TCG after 1.5 s, the probe killed with what it started" {
        export PXELAB_QEMU
        PXELAB_QEMU=$(stand_in slow "sleep 30 & echo \$! > $CALLS/slow.pid; wait")

        t0=$(date +%s%N)
        run sysd_run "$PXELAB" vm start "$LAB" s1
        t1=$(date +%s%N)
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"KVM is not usable here (QEMU did not reach SeaBIOS's \"No bootable device\" within 1.5 s under -accel kvm -cpu host: too slow), using TCG"* ]]
        [ $(((t1 - t0) / 1000000)) -ge 1500 ]
        [ $(((t1 - t0) / 1000000)) -lt 5000 ]
        [ "$(rec s1 accel)" = tcg ]
        # The stand-in's own child is gone too.
        pid=$(sysd_run cat "$CALLS/slow.pid")
        for _ in $(seq 50); do
                sysd_run test -e "/proc/$pid" || break
                sleep 0.1
        done
        sysd_run test ! -e "/proc/$pid"
}

# A stand-in that passes the probe but whose VMs die under KVM (CODE), then
# the checks: one line, the VM runs under TCG, later VMs get TCG unprobed.
fallback_case() {
        local name=$1 code=$2
        export PXELAB_QEMU
        PXELAB_QEMU=$(stand_in "$name" "[ -n \"\$probe\" ] && as_tcg \"\$@\"; $code")

        run sysd_run "$PXELAB" vm start "$LAB" f1
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(grep -c 'under KVM' <<< "$output")" -eq 1 ]
        [[ "$output" == *"VM 'f1' ended within 3 s under KVM (exit-code); started it again under TCG"* ]]
        [[ "$output" != *"Failed"* ]]
        [[ "$output" != *"KVM is not usable"* ]]
        [[ "$output" != *"Using KVM"* ]]
        [ "$(rec f1 accel)" = tcg ]
        exec_start f1 | grep -q -- '-accel tcg '
        [ "$(sysd_run systemctl is-active "pxelab-$LAB-vm-f1.service")" = active ]
        [ "$(probes "$name")" -eq 1 ]
        [ "$(cache .accel)" = tcg ]
        [ "$(cache .reason)" = "a VM ended within 3 s under -accel kvm -cpu host (exit-code)" ]
        sysd_run "$PXELAB" vm list "$LAB" | awk '$2 == "f1" { print $6 }' | grep -qx tcg

        run sysd_run "$PXELAB" vm start "$LAB" f2
        [ "$status" -eq 0 ]
        [[ "$output" == *"KVM is not usable here (a VM ended within 3 s under -accel kvm -cpu host (exit-code)), using TCG"* ]]
        [ "$(rec f2 accel)" = tcg ]
        [ "$(probes "$name")" -eq 1 ]
}

@test "KVM passes the probe but a VM dies under it at once: started again under TCG, one line" {
        fallback_case dies 'echo "stand-in: no VM under kvm" >&2; exit 1'
}

@test "KVM passes the probe but a VM dies under it after a second: started again under TCG, one line" {
        fallback_case dies-later 'sleep 1; exit 1'
}

@test "KVM working: the VM runs under KVM, with the probe's -cpu" {
        export PXELAB_QEMU
        PXELAB_QEMU=$(stand_in works 'as_tcg "$@"')

        t0=$(date +%s%N)
        run sysd_run "$PXELAB" vm start "$LAB" w1
        t1=$(date +%s%N)
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Using KVM (QEMU reached SeaBIOS's \"No bootable device\" after "*" s under -accel kvm -cpu host)"* ]]
        [ "$(rec w1 accel)" = kvm ]
        exec_start w1 | grep -q -- "-accel kvm -cpu host "
        sysd_run "$PXELAB" vm list "$LAB" | awk '$2 == "w1" { print $6 }' | grep -qx kvm
        sysd_run "$PXELAB" status "$LAB" --json | jq -e '.labs[0].vms[] | select(.name == "w1") | .accel == "kvm"'
        [ "$(cache .accel)" = kvm ]
        # Watched for its first seconds, and still running; it really boots.
        [ $(((t1 - t0) / 1000000)) -ge 3000 ]
        [ "$(sysd_run systemctl is-active "pxelab-$LAB-vm-w1.service")" = active ]
        for _ in $(seq 100); do
                sysd_run grep -q iPXE "/run/pxelab/$LAB/serial/w1.log" && break
                sleep 0.2
        done
        sysd_run grep -q iPXE "/run/pxelab/$LAB/serial/w1.log"

        # The next VM: cached, no probe, no second thoughts.
        sysd_run "$PXELAB" vm start "$LAB" w2
        [ "$(rec w2 accel)" = kvm ]
        [ "$(probes works)" -eq 1 ]
}

# Whether SeaBIOS reaches the milestone under `-accel kvm -cpu host` of the
# real QEMU within 1.5 s (run here, on the host: the same kernel and KVM).
real_kvm_reaches_milestone() {
        local d pid rc=1
        d=$(mktemp -d "$W/real.XXXXXX")
        "$REAL_QEMU" -accel kvm -cpu host -machine pc -nodefaults -display none -m 32 \
                -chardev "file,id=d,path=$d/debugcon" -device isa-debugcon,iobase=0x402,chardev=d \
                > "$d/err" 2>&1 &
        pid=$!
        for _ in $(seq 150); do
                if grep -q "No bootable device" "$d/debugcon" 2>/dev/null; then rc=0; break; fi
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.01
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        rm -rf "$d"
        return $rc
}

@test "this machine's QEMU: the verdict matches what QEMU really does here" {
        run sysd_run "$PXELAB" vm start "$LAB" m1
        echo "$output"
        [ "$status" -eq 0 ]
        accel=$(rec m1 accel)
        if [ "$accel" = kvm ]; then
                [[ "$output" == *"Using KVM (QEMU reached SeaBIOS's"* ]]
                real_kvm_reaches_milestone
        else
                [ "$accel" = tcg ]
                line=$(grep 'KVM is not usable here (' <<< "$output")
                [ -n "$line" ]
                run real_kvm_reaches_milestone
                [ "$status" -ne 0 ]
                # Broken the abort way (as on the nested hosts): decided well under a second.
                if [[ "$line" == *"QEMU aborted after"* ]]; then
                        awk -v s="$(reason_secs "$line")" 'BEGIN { exit !(s < 1.0) }'
                fi
        fi
        exec_start m1 | grep -q -- "-accel $accel "
}
