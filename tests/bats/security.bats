#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# `systemd-analyze security` of every kind of unit a lab runs (dnsmasq,
# nginx, smbd, a QEMU VM), by scripts/security-report, in the throwaway
# systemd of tests/harness/sysd.bash: the figures are the README's.
load common
load windows-fixture
load ../harness/sysd

export PXELAB_ACCEL=tcg

setup() { sysd_boot; }
teardown() { sysd_kill; }

# The README's exposure table as report lines for lab LAB and VM NAME.
readme_exposure() {
        sed -n '/^#### Exposure/,/^#/p' "$REPO/README.md" |
                sed -n 's/^| `\(pxelab-[^`]*\)` | \([0-9.]*\) \([A-Z]*\) |.*/\1 \2 \3/p' |
                sed -e "s/LAB/$1/" -e "s/NAME/$2/" | sort
}

@test "security-report: each unit's exposure is the README's, and every daemon is below 3.0" {
        p=$(mkwinlab sx 10.78.0.1/24)
        sysd_run "$PXELAB" up "$p"
        sysd_run "$PXELAB" vm start sx v1
        run sysd_run "$REPO/scripts/security-report" sx
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(echo "$output" | wc -l)" -eq 4 ]
        diff -u <(readme_exposure sx v1) <(echo "$output")
        while read -r unit score verdict; do
                case $unit in *-vm-*) continue ;; esac
                awk -v s="$score" 'BEGIN { exit !(s < 3.0) }'
        done <<< "$output"
        sysd_run "$PXELAB" down sx
        run sysd_run "$REPO/scripts/security-report" sx
        [ "$status" -eq 1 ]
        [[ "$output" == *"lab 'sx' has no running units"* ]]
}

@test "security-report: a bad lab name is a usage error" {
        run "$REPO/scripts/security-report" '../x'
        [ "$status" -eq 2 ]
        [[ "$output" == *"'../x' is not a lab name"* ]]
}
