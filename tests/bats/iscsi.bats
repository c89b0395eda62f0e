#!/usr/bin/env bats
# kind = "iscsi": diskless machines booting a disk image over iSCSI, end to
# end in the throwaway systemd (tests/harness/sysd.bash), with Debian's tgt
# as the lab's fourth service. The disk is made at test time: a FAT image of
# the boot-proof payload with SYSLINUX in its boot sector (BIOS) and a GRUB
# EFI loader as \EFI\BOOT\BOOTX64.EFI (UEFI), so the marker proves the disk
# booted. Each VM host has a disk of its own (a copy); a userspace initiator
# (libiscsi-bin) checks the targets from namespaces on the lab's bridge.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=isc
NET=10.68.0
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}
export PXELAB_ACCEL=tcg
IQN=iqn.2026-12.lab.pxelab:$LAB

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR"
        # A disk in a home directory, which the units' sandbox hides.
        export HOME_DISKS
        HOME_DISKS=$(mktemp -d /root/pxelab-iscsi-test.XXXXXX)
        mkdisk "$PROFILE_DIR/base.img"
        cp "$PROFILE_DIR/base.img" "$PROFILE_DIR/b1.img"
        cp "$PROFILE_DIR/base.img" "$PROFILE_DIR/u1.img"
        cp "$PROFILE_DIR/base.img" "$PROFILE_DIR/secure.img"
        {
                echo "lab = \"$LAB\""
                echo "bridge { address = \"$NET.1/24\" uplink = \"none\" }"
                echo 'menu { timeout = 0 default = "disk" }'
                echo 'boot "disk" { kind = "iscsi" disk = "base.img" }'
                echo 'boot "fresh" { kind = "iscsi" disk = "fresh.img" size = "64M" }'
                echo 'boot "secure" { kind = "iscsi" disk = "secure.img" chap = "on" }'
                echo "boot \"home\" { kind = \"iscsi\" disk = \"$HOME_DISKS/home.img\" size = \"16M\" }"
                echo 'host "b1" { mac = "52:54:00:68:00:01" boot = "disk" disk = "b1.img" }'
                echo 'host "u1" { mac = "52:54:00:68:00:02" boot = "disk" disk = "u1.img" }'
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
}

teardown_file() {
        sysd_kill
        rm -rf "$HOME_DISKS"
}

# mkdisk IMAGE: a 64 MiB FAT "superfloppy" that boots the payload, BIOS
# (SYSLINUX) and UEFI (GRUB), each with its own marker.
mkdisk() {
        local img=$1 d
        d=$(dirname "$img")/mkdisk
        mkdir -p "$d"
        truncate -s 64M "$img"
        mkfs.vfat -n PXDISK "$img" >/dev/null
        syslinux --install "$img"
        printf '%s\n' 'SERIAL 0 115200' 'DEFAULT pxe' 'PROMPT 0' 'LABEL pxe' '  KERNEL /vmlinuz' \
                '  INITRD /initrd.img,/ibft.img' '  APPEND console=ttyS0 pxelab.ibft pxelab.marker=iscsi-bios' > "$d/syslinux.cfg"
        printf '%s\n' 'serial --unit=0 --speed=115200' 'terminal_output --append serial' \
                'search --no-floppy --file /vmlinuz --set=root' 'linux /vmlinuz console=ttyS0 pxelab.ibft pxelab.marker=iscsi-uefi' \
                'initrd /initrd.img /ibft.img' 'boot' > "$d/grub.cfg"
        grub-mkstandalone -O x86_64-efi -o "$d/BOOTX64.EFI" "boot/grub/grub.cfg=$d/grub.cfg"
        mmd -i "$img" ::/EFI ::/EFI/BOOT
        mcopy -i "$img" "$d/BOOTX64.EFI" ::/EFI/BOOT/
        mcopy -i "$img" "$PAYLOAD/vmlinuz" "$PAYLOAD/initrd.img" "$PAYLOAD/ibft.img" "$d/syslinux.cfg" ::/
}

# capacity NS TARGET [USER%PASSWORD@]: the LUN's size as a userspace
# initiator in namespace NS sees it.
capacity() {
        sysd_run ip netns exec "$1" iscsi-readcapacity16 "iscsi://${3:-}$NET.1/$2/1" | sed -n 's/^Total size://p'
}

@test "iscsi: tgtd is the lab's fourth unit, on the lab's address only; a missing disk is made sparse, existing ones untouched" {
        u=pxelab-$LAB-tgtd.service
        [ "$(sysd_run systemctl is-active "$u")" = active ]
        [ "$(sysd_run systemctl show -P Slice "$u")" = "pxelab-$LAB.slice" ]
        [ "$(sysd_run systemctl show -P ProtectSystem "$u")" = strict ]
        [ "$(sysd_run systemctl show -P NoNewPrivileges "$u")" = yes ]
        [ -z "$(sysd_run systemctl show -P CapabilityBoundingSet "$u")" ]
        [ "$(sysd_run systemctl show -P KillSignal "$u")" = 9 ]
        sysd_run systemctl show -P ReadWritePaths "$u" | grep -q /run/tgtd
        sysd_run systemctl show -P ReadWritePaths "$u" | grep -q "$PROFILE_DIR/fresh.img"
        [ "$(sysd_run ss -Hltn 'sport = :3260' | awk '{print $4}')" = "$NET.1:3260" ]
        sysd_run jq -e --arg u "$u" '.units | index($u) != null' "/run/pxelab/$LAB/state.json"
        # fresh.img: made at its size, sparse.
        [ "$(stat -c %s "$PROFILE_DIR/fresh.img")" -eq $((64 * 1024 * 1024)) ]
        [ "$(stat -c %b "$PROFILE_DIR/fresh.img")" -lt 100 ]
        cmp "$PROFILE_DIR/base.img" "$PROFILE_DIR/b1.img"
        # The lab's table lets the bridge reach 3260.
        sysd_run nft list table inet "pxelab-$LAB" | grep -q 'tcp dport { 80, 3260 } accept'
}

@test "iscsi: a userspace initiator on the bridge sees each target at its size; outside the subnet it is refused" {
        sysd_client_ns isccl "pxe-$LAB"
        sysd_run ip -n isccl addr add "$NET.50/24" dev eth0
        [ "$(capacity isccl "$IQN:disk")" = "$(stat -c %s "$PROFILE_DIR/base.img")" ]
        [ "$(capacity isccl "$IQN:b1")" = "$(stat -c %s "$PROFILE_DIR/b1.img")" ]
        [ "$(capacity isccl "$IQN:fresh")" = $((64 * 1024 * 1024)) ]
        # The disk in a home directory: bound into tgtd's sandbox, writable.
        [ "$(capacity isccl "$IQN:home")" = $((16 * 1024 * 1024)) ]
        # From an address outside the lab's subnet, on the same wire: refused.
        sysd_client_ns iscout "pxe-$LAB"
        sysd_run ip -n iscout addr add 10.200.0.5/24 dev eth0
        sysd_run ip -n iscout route add "$NET.1/32" dev eth0
        run --separate-stderr capacity iscout "$IQN:disk"
        echo "outside: $stderr"
        [ -z "$output" ]
        [[ "$stderr" == *"Login Failed"* ]]             # it reached tgtd, which refused it
        # CHAP: none or a wrong secret is refused, the lab's is let in.
        run --separate-stderr capacity isccl "$IQN:secure"
        echo "no CHAP: $stderr"
        [ -z "$output" ]
        [[ "$stderr" == *"Login Failed"* ]]
        run --separate-stderr capacity isccl "$IQN:secure" 'pxelab%wrongwrongwrong@'
        echo "wrong CHAP: $stderr"
        [ -z "$output" ]
        [[ "$stderr" == *"Login Failed"* ]]
        secret=$(sysd_run cat "/var/lib/pxelab/$LAB/iscsi-chap")
        [ ${#secret} -eq 16 ]
        [ "$(sysd_run stat -c %a "/var/lib/pxelab/$LAB/iscsi-chap")" = 600 ]
        [ "$(capacity isccl "$IQN:secure" "pxelab%$secret@")" = "$(stat -c %s "$PROFILE_DIR/secure.img")" ]
        # The entry's script has it (iPXE logs in with it).
        sysd_run grep -qx "set password $secret" "/run/pxelab/$LAB/http/boot/secure.ipxe"
}

@test "iscsi: a BIOS VM sanboots its own disk to the payload" {
        sysd_run "$PXELAB" vm start "$LAB" b1 --firmware bios --mac 52:54:00:68:00:01 --memory 256
        run console_until_off b1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"SYSLINUX"* ]]
        [[ "$output" == *"PXELAB-MARKER=iscsi-bios"* ]]
        # keep-san: the booted system finds its disk in the iBFT.
        [[ "$output" == *"PXELAB-IBFT-TARGET=$IQN:b1"* ]]
        [[ "$output" == *"PXELAB-IBFT-INITIATOR=$IQN:disk:52-54-00-68-00-01"* ]]
        sysd_run "$PXELAB" vm stop "$LAB" b1
}

@test "iscsi: a UEFI VM sanboots its own disk to the payload" {
        sysd_run "$PXELAB" vm start "$LAB" u1 --firmware uefi --mac 52:54:00:68:00:02 --memory 512
        run console_until_off u1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"PXELAB-MARKER=iscsi-uefi"* ]]
        [[ "$output" == *"PXELAB-IBFT-TARGET=$IQN:u1"* ]]
        [[ "$output" == *"PXELAB-IBFT-INITIATOR=$IQN:disk:52-54-00-68-00-02"* ]]
        sysd_run "$PXELAB" vm stop "$LAB" u1
}

@test "iscsi: a killed tgtd comes back with its targets" {
        u=pxelab-$LAB-tgtd.service
        pid=$(sysd_run systemctl show -P MainPID "$u")
        sysd_run kill -9 "$pid"
        for _ in $(seq 100); do
                new=$(sysd_run systemctl show -P MainPID "$u")
                [ "$(sysd_run systemctl is-active "$u")" = active ] && [ "$new" != "$pid" ] && [ "$new" != 0 ] && break
                sleep 0.1
        done
        [ "$new" != "$pid" ]
        [ "$(capacity isccl "$IQN:disk")" = "$(stat -c %s "$PROFILE_DIR/base.img")" ]
}

# The targets of status --json, as "IQN SIZE PATH" lines.
status_targets() {
        sysd_run "$PXELAB" status "$LAB" --json | jq -r '.labs[0].iscsi.targets[] | "\(.iqn) \(.luns[0].size) \(.luns[0].path)"'
}

# initiators TARGET: its logged-in initiators, "IQN ADDRESS..." lines.
initiators() {
        sysd_run "$PXELAB" status "$LAB" --json |
                jq -r --arg t "$1" '.labs[0].iscsi.targets[] | select(.iqn == $t) | .initiators[] | "\(.iqn) \(.addresses | join(" "))"'
}

@test "iscsi: status lists each target with its disk, and who is logged in to it, while they are" {
        [ "$(sysd_run "$PXELAB" status "$LAB" --json | jq -r '.labs[0].iscsi.portal')" = "$NET.1:3260" ]
        # Each disk (tgt's MB are 10^6 bytes), in tgt-admin's order (by name).
        [ "$(status_targets)" = "$IQN:b1 67 MB $PROFILE_DIR/b1.img
$IQN:disk 67 MB $PROFILE_DIR/base.img
$IQN:fresh 67 MB $PROFILE_DIR/fresh.img
$IQN:home 17 MB $HOME_DISKS/home.img
$IQN:secure 67 MB $PROFILE_DIR/secure.img
$IQN:u1 67 MB $PROFILE_DIR/u1.img" ]
        [ -z "$(initiators "$IQN:fresh")" ]
        # A userspace initiator that stays logged in while it reads.
        sysd_run ip netns exec isccl sh -c \
                "timeout 120 iscsi-perf -i iqn.2026-12.test:perf iscsi://$NET.1/$IQN:fresh/1 >/dev/null 2>&1 & echo \$! > /run/iscsi-perf.pid"
        for _ in $(seq 100); do
                [ -n "$(initiators "$IQN:fresh")" ] && break
                sleep 0.2
        done
        [ "$(initiators "$IQN:fresh")" = "iqn.2026-12.test:perf $NET.50" ]
        run sysd_run "$PXELAB" status "$LAB"
        echo "$output"
        [[ "$output" == *"  iscsi:    $NET.1:3260"* ]]
        [[ "$output" == *"  target:   $IQN:fresh lun 1 67 MB $PROFILE_DIR/fresh.img"$'\n'"            initiator iqn.2026-12.test:perf from $NET.50"* ]]
        [[ "$output" == *"  target:   $IQN:disk lun 1 67 MB $PROFILE_DIR/base.img, no initiator"* ]]
        # Logged out: gone from status.
        sysd_run sh -c 'kill "$(cat /run/iscsi-perf.pid)"'
        for _ in $(seq 100); do
                [ -z "$(initiators "$IQN:fresh")" ] && break
                sleep 0.2
        done
        [ -z "$(initiators "$IQN:fresh")" ]
}

@test "iscsi: a tgtd that does not answer leaves status degraded, saying so" {
        u=pxelab-$LAB-tgtd.service
        sysd_run systemctl kill --signal=SIGSTOP "$u"
        run --separate-stderr sysd_run timeout 30 "$PXELAB" status "$LAB" --json
        sysd_run systemctl kill --signal=SIGCONT "$u"
        echo "$output"
        [ "$status" -ne 0 ]
        jq -e '.labs[0].healthy == false and (.labs[0].iscsi.error | startswith("tgtd does not answer"))' <<< "$output"
}

@test "iscsi: two hosts without disks of their own on one entry are refused" {
        {
                echo 'lab = "isc2"'
                echo 'bridge { address = "10.68.9.1/24" }'
                echo 'boot "disk" { kind = "iscsi" disk = "base.img" }'
                echo 'host "a" { mac = "52:54:00:68:09:01" boot = "disk" }'
                echo 'host "b" { mac = "52:54:00:68:09:02" boot = "disk" }'
        } > "$PROFILE_DIR/shared.conf"
        run --separate-stderr "$PXELAB" check "$PROFILE_DIR/shared.conf"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "$PROFILE_DIR/shared.conf:5: host.b: boots entry 'disk' without a disk of its own, as host 'a' does"* ]]
        # One image as two targets' disks is the same thing.
        {
                echo 'lab = "isc3"'
                echo 'bridge { address = "10.68.9.1/24" }'
                echo 'boot "disk" { kind = "iscsi" disk = "base.img" }'
                echo 'host "a" { mac = "52:54:00:68:09:01" boot = "disk" disk = "./base.img" }'
        } > "$PROFILE_DIR/same.conf"
        run --separate-stderr "$PXELAB" check "$PROFILE_DIR/same.conf"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$PROFILE_DIR/same.conf:4: host.a.disk: '$PROFILE_DIR/base.img' is also the disk of 'disk': two machines would write one disk (and corrupt it); give each its own image" ]
        # A host's disk on an entry that attaches none would be ignored: refused.
        {
                echo 'lab = "isc4"'
                echo 'bridge { address = "10.68.9.1/24" }'
                echo "boot \"l\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\" }"
                echo 'host "a" { mac = "52:54:00:68:09:01" boot = "l"'
                echo '    disk = "a.img" }'
        } > "$PROFILE_DIR/nodisk.conf"
        run --separate-stderr "$PXELAB" check "$PROFILE_DIR/nodisk.conf"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$PROFILE_DIR/nodisk.conf:5: host.a.disk: '$PROFILE_DIR/a.img' is for a host that boots an iscsi entry or a windows entry with install_to = \"iscsi\"; this host's entry attaches no disk" ]
}

@test "iscsi: down stops tgtd and leaves the images" {
        before=$(sha256sum "$PROFILE_DIR/b1.img" "$PROFILE_DIR/fresh.img")
        sysd_run "$PXELAB" down "$LAB"
        run sysd_run systemctl is-active "pxelab-$LAB-tgtd.service"
        [ "$output" != active ]
        [ "$(sha256sum "$PROFILE_DIR/b1.img" "$PROFILE_DIR/fresh.img")" = "$before" ]
}
