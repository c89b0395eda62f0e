#!/usr/bin/env bats
# pxelab vm: VMs that network-boot from a running lab, end to end in the
# throwaway systemd (tests/harness/sysd.bash): `pxelab up` of a profile whose
# entries are the boot-proof payload (tests/payload/build), then BIOS, UEFI
# (OVMF + iPXE ROM) and UEFI-PXE (OVMF's PXE, TFTP snponly.efi) VMs under QEMU
# boot to the payload's marker. Each machine's MAC is a `host` of the
# profile with its own entry, so the marker tells which entry booted; the
# services' own logs (dnsmasq's journal, nginx's access log) show the path.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=vmt
NET=10.64.0
# Bounded waits: TCG on a loaded 2-core machine is slow, but never endless.
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-150}
# Pinned: these tests boot guests; how KVM fares here is accel.bats' business.
export PXELAB_ACCEL=tcg

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR"
        {
                echo "lab = \"$LAB\""
                echo "bridge { address = \"$NET.1/24\" uplink = \"none\" }"
                echo "menu { timeout = 0 default = \"other\" }"
                for e in other bios uefi uefipxe; do
                        echo "boot \"$e\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                        echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=entry-$e\" }"
                done
                echo 'host "bios1"    { mac = "52:54:00:64:00:01" boot = "bios" }'
                echo 'host "uefi1"    { mac = "52:54:00:64:00:02" boot = "uefi" }'
                echo 'host "uefipxe1" { mac = "52:54:00:64:00:03" boot = "uefipxe" }'
                echo 'vm "decl1" { firmware = "uefi-pxe" memory = 300 mac = "52:54:00:64:00:09" }'
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
}

teardown_file() {
        sysd_kill
}

# dnsmasq's tags for every DHCP transaction of MAC, one line per transaction
# ("XID tags: ..."), from the unit's journal.
dhcp_tags() {
        sysd_run journalctl --no-pager -o cat -u "pxelab-$LAB-dnsmasq.service" |
                awk -v mac="$1" '
                { sub(/^dnsmasq[^ ]*: /, ""); sub(/^dnsmasq-dhcp\[[0-9]+\]: /, "") }
                $2 ~ /^DHCP(DISCOVER|REQUEST|ACK|OFFER)\(/ && index($0, mac) { mine[$1] = 1 }
                $2 == "tags:" { tags[$1] = $0 }
                END { for (x in mine) if (x in tags) print tags[x] }'
}

access_log() {
        http_log "$LAB"
}

# assert_fetched IP ENTRY: nginx served ENTRY's kernel and initrd to IP,
# status 200 and every byte.
assert_fetched() {
        local ip=$1 entry=$2 k i
        k=$(stat -c %s "$PAYLOAD/vmlinuz")
        i=$(stat -c %s "$PAYLOAD/initrd.img")
        access_log | grep -E "^$ip .*\"GET /files/$entry/vmlinuz HTTP/1\.1\" 200 $k len=$k "
        access_log | grep -E "^$ip .*\"GET /files/$entry/initrd\.img HTTP/1\.1\" 200 $i len=$i "
}

@test "vm: usage errors exit 2, a lab that is not up exits 1" {
        run sysd_run "$PXELAB" vm
        [ "$status" -eq 2 ]
        run sysd_run "$PXELAB" vm frobnicate x
        [ "$status" -eq 2 ]
        run sysd_run "$PXELAB" vm start "$LAB" --firmware coreboot
        [ "$status" -eq 2 ]
        [[ "$output" == *"Unknown firmware 'coreboot'"* ]]
        run sysd_run "$PXELAB" vm start "$LAB" Bad.Name
        [ "$status" -eq 2 ]
        run sysd_run "$PXELAB" vm start "$LAB" --mac 01:00:5e:00:00:01
        [ "$status" -eq 2 ]
        [[ "$output" == *"not a valid unicast MAC"* ]]
        run sysd_run "$PXELAB" vm start "$LAB" --memory 64
        [ "$status" -eq 2 ]
        run sysd_run "$PXELAB" vm start "$LAB" --disk /nonexistent/disk.img
        [ "$status" -eq 2 ]
        # An image under a home directory: invisible to the unit (ProtectHome).
        img=/root/.pxelab-vm-bats-$$.img
        truncate -s 1M "$img"
        run sysd_run "$PXELAB" vm start "$LAB" --disk "$img"
        rm -f "$img"
        [ "$status" -eq 2 ]
        [[ "$output" == *"is under a home directory"* ]]
        run sysd_run "$PXELAB" vm start nolab
        [ "$status" -eq 1 ]
        [[ "$output" == *"Lab 'nolab' is not running"* ]]
        run sysd_run "$PXELAB" vm console "$LAB" ghost --no-follow
        [ "$status" -eq 1 ]
        run --separate-stderr sysd_run "$PXELAB" vm stop "$LAB" ghost
        [ "$status" -eq 1 ]
        [ "$stderr" = "Lab '$LAB' has no VM 'ghost'" ]
        run --separate-stderr sysd_run "$PXELAB" vm stop "$LAB"
        [ "$status" -eq 1 ]
        [ "$stderr" = "Lab '$LAB' has no VMs" ]
        # None of that left a trace.
        sysd_run jq -e '(.vms // {}) | length == 0' "/run/pxelab/$LAB/state.json"
        [ -z "$(sysd_run ip -o link show type tun)" ]
}

@test "BIOS VM: SeaBIOS + iPXE ROM boots its entry over HTTP, then powers off" {
        mac=52:54:00:64:00:01
        run sysd_run "$PXELAB" vm start "$LAB" bios1 --firmware bios --mac $mac --memory 256
        echo "$output"
        [ "$status" -eq 0 ]
        # Recorded, on a tap of the bridge, as a unit of the lab's slice that
        # is not restarted when the guest powers off.
        rec=$(sysd_run jq -c '.vms.bios1' "/run/pxelab/$LAB/state.json")
        echo "$rec"
        tap=$(jq -r .tap <<< "$rec")
        [ "$(jq -r .mac <<< "$rec")" = $mac ]
        [ "$(jq -r .unit <<< "$rec")" = "pxelab-$LAB-vm-bios1.service" ]
        [ ${#tap} -le 15 ]
        [ "$(sysd_run ip -j link show "$tap" | jq -r '.[0].master')" = "pxe-$LAB" ]
        [ "$(sysd_run systemctl show -P Slice "pxelab-$LAB-vm-bios1.service")" = "pxelab-$LAB.slice" ]
        [ "$(sysd_run systemctl show -P Restart "pxelab-$LAB-vm-bios1.service")" = no ]
        # Of the host's devices QEMU gets the accelerator and the tap only.
        u=pxelab-$LAB-vm-bios1.service
        [ "$(sysd_run systemctl show -P DevicePolicy "$u")" = closed ]
        sysd_run systemctl show -P DeviceAllow "$u" | grep -q '/dev/kvm rw'
        sysd_run systemctl show -P DeviceAllow "$u" | grep -q '/dev/net/tun rw'
        [ "$(sysd_run systemctl show -P ProtectProc "$u")" = invisible ]
        [ "$(sysd_run systemctl show -P ProtectClock "$u")" = yes ]
        [ "$(sysd_run systemctl show -P RestrictAddressFamilies "$u" | tr ' ' '\n' | sort | xargs)" = \
          "AF_INET AF_INET6 AF_UNIX" ]
        # The accelerator, as pinned, announced and recorded.
        [[ "$output" == *"Using TCG (PXELAB_ACCEL=tcg)"* ]]
        [ "$(jq -r .accel <<< "$rec")" = tcg ]

        run console_until_off bios1
        [ "$status" -eq 0 ]
        [[ "$output" == *"iPXE"* ]]                     # SeaBIOS mirrors the ROM's screen
        [[ "$output" == *"PXELAB-BOOT-OK"* ]]
        [[ "$output" == *"PXELAB-MARKER=entry-bios"* ]]
        # The log is on the lab's capped serial tmpfs (nosymfollow), which
        # takes no more than 64 MiB however much is written to it.
        s=/run/pxelab/$LAB/serial
        [ "$(jq -r .log <<< "$rec")" = "$s/bios1.log" ]
        sysd_run grep -q PXELAB-BOOT-OK "$s/bios1.log"
        m=$(sysd_run findmnt -n -o FSTYPE,OPTIONS -M "$s")
        [[ "$m" == tmpfs* && "$m" == *nosymfollow* && "$m" == *size=65536k* ]]
        sysd_run jq -e --arg s "$s" '.mounts | index($s) != null' "/run/pxelab/$LAB/state.json"
        run sysd_run dd if=/dev/zero of="$s/flood" bs=1M count=100
        [ "$status" -ne 0 ]
        [[ "$output" == *"No space left on device"* ]]
        [ "$(sysd_run stat -c %s "$s/flood")" -le $((64 * 1024 * 1024)) ]
        sysd_run rm "$s/flood"
        # Powered off: the unit is gone, nothing restarted it; the record stays.
        run sysd_run systemctl is-active "pxelab-$LAB-vm-bios1.service"
        [ "$output" != active ]
        sysd_run "$PXELAB" vm list "$LAB" --json | jq -e '.[] | select(.name == "bios1") | .active_state != "active"'

        # dnsmasq saw the iPXE ROM at once (BIOS arch, user class iPXE).
        run dhcp_tags $mac
        echo "$output"
        [[ "$output" == *bios* ]]
        [[ "$output" == *ipxe* ]]
        ip=$(lease_ip $mac)
        [ -n "$ip" ]
        assert_fetched "$ip" bios

        run sysd_run "$PXELAB" vm stop "$LAB" bios1
        [ "$status" -eq 0 ]
        run sysd_run ip link show "$tap"
        [ "$status" -ne 0 ]
        sysd_run jq -e '.vms.bios1 == null' "/run/pxelab/$LAB/state.json"
}

@test "UEFI VM: OVMF runs the NIC's iPXE EFI ROM, no TFTP, boots its entry" {
        mac=52:54:00:64:00:02
        run sysd_run "$PXELAB" vm start "$LAB" uefi1 --firmware uefi --mac $mac --memory 256
        echo "$output"
        [ "$status" -eq 0 ]
        # A per-VM copy of the OVMF variable store.
        dir=$(sysd_run jq -r '.vms.uefi1.dir' "/run/pxelab/$LAB/state.json")
        sysd_run cmp "$dir/OVMF_VARS.fd" /usr/share/OVMF/OVMF_VARS_4M.fd
        sysd_run systemctl show -P ExecStart "pxelab-$LAB-vm-uefi1.service" | grep -q "file=$dir/OVMF_VARS.fd"

        run console_until_off uefi1
        [ "$status" -eq 0 ]
        [[ "$output" == *"PXELAB-BOOT-OK"* ]]
        [[ "$output" == *"PXELAB-MARKER=entry-uefi"* ]]
        # The UEFI kernel got initrd= on its command line (else no root fs).
        [[ "$output" == *"cmdline: "*"initrd="* ]]

        # Every DHCP transaction of this MAC came from iPXE with arch x86-64 EFI.
        run dhcp_tags $mac
        echo "$output"
        [ -n "$output" ]
        [ -z "$(grep -v efi64 <<< "$output")" ]
        [ -z "$(grep -v ipxe <<< "$output")" ]
        ip=$(lease_ip $mac)
        assert_fetched "$ip" uefi

        # Powered off, the record stays; starting it again keeps its settings.
        sysd_run "$PXELAB" vm start "$LAB" uefi1
        [ "$(sysd_run jq -r '.vms.uefi1 | .firmware + " " + (.memory | tostring) + " " + .mac' \
                "/run/pxelab/$LAB/state.json")" = "uefi 256 $mac" ]
        sysd_run "$PXELAB" vm stop "$LAB" uefi1
}

@test "UEFI-PXE VM: OVMF's PXE fetches snponly.efi over TFTP, iPXE boots its entry" {
        mac=52:54:00:64:00:03
        run sysd_run "$PXELAB" vm start "$LAB" uefipxe1 --firmware uefi-pxe --mac $mac --memory 256
        [ "$status" -eq 0 ]
        sysd_run systemctl show -P ExecStart "pxelab-$LAB-vm-uefipxe1.service" | grep -q 'romfile= '

        run console_until_off uefipxe1
        [ "$status" -eq 0 ]
        [[ "$output" == *"Start PXE over IPv4"* ]]
        [[ "$output" == *"PXELAB-MARKER=entry-uefipxe"* ]]

        # First the firmware (efi64, not iPXE), then iPXE (efi64 + ipxe).
        run dhcp_tags $mac
        echo "$output"
        echo "$output" | grep efi64 | grep -vq ipxe
        echo "$output" | grep efi64 | grep -q ipxe
        ip=$(lease_ip $mac)
        sysd_run journalctl --no-pager -o cat -u "pxelab-$LAB-dnsmasq.service" |
                grep -E "sent /.*/snponly\.efi to $ip\$"
        assert_fetched "$ip" uefipxe
        sysd_run "$PXELAB" vm stop "$LAB" uefipxe1
}

@test "vm start: names, MACs, disks, profile-declared VMs; stop --all; down stops VMs" {
        sysd_run "$PXELAB" vm start "$LAB" --disk 1G
        sysd_run "$PXELAB" vm start "$LAB"
        run sysd_run "$PXELAB" vm list "$LAB" --json
        echo "$output"
        [ "$(jq -r '[.[].name] | join(" ")' <<< "$output")" = "vm1 vm2" ]
        [ "$(jq -r '[.[] | select(.active_state == "active")] | length' <<< "$output")" = 2 ]
        # MACs: locally administered QEMU range, stable, distinct.
        m1=$(jq -r '.[0].mac' <<< "$output")
        m2=$(jq -r '.[1].mac' <<< "$output")
        [[ "$m1" =~ ^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$ ]]
        [ "$m1" != "$m2" ]
        # The disk: a 1 GiB qcow2 in the VM's dir, attached after the NIC.
        disk=$(jq -r '.[0].dir' <<< "$output")/disk.qcow2
        [ "$(sysd_run qemu-img info --output=json -U "$disk" | jq -r '.format + " " + (."virtual-size" | tostring)')" = "qcow2 1073741824" ]
        sysd_run systemctl show -P ExecStart "pxelab-$LAB-vm-vm1.service" | grep -q "file=$disk,.*format=qcow2"
        # A second start of a running VM is refused.
        run sysd_run "$PXELAB" vm start "$LAB" vm1
        [ "$status" -eq 2 ]
        [[ "$output" == *"already running"* ]]

        # An existing raw image: QEMU holds it open read-write (the unit's
        # sandbox lets it write that one file).
        rm -f "$OUT/vm-raw.img"
        truncate -s 64M "$OUT/vm-raw.img"
        sysd_run "$PXELAB" vm start "$LAB" raw1 --disk "$OUT/vm-raw.img"
        sysd_run systemctl show -P ExecStart "pxelab-$LAB-vm-raw1.service" | grep -q "file=$OUT/vm-raw.img,.*format=raw"
        pid=$(sysd_run systemctl show -P MainPID "pxelab-$LAB-vm-raw1.service")
        for _ in $(seq 100); do
                fd=$(sysd_run sh -c "ls -l /proc/$pid/fd | grep -F '$OUT/vm-raw.img' | awk '{print \$9}' | head -n1")
                [ -n "$fd" ] && break
                sleep 0.2
        done
        [ -n "$fd" ]
        flags=$(sysd_run awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/$fd")
        [ $((8#$flags & 3)) -eq 2 ]     # O_RDWR
        [ "$(sysd_run systemctl is-active "pxelab-$LAB-vm-raw1.service")" = active ]
        sysd_run "$PXELAB" vm stop "$LAB" raw1
        rm -f "$OUT/vm-raw.img"

        # A VM the profile declares starts with its settings; options win.
        sysd_run "$PXELAB" vm start "$LAB" decl1
        [ "$(sysd_run jq -r '.vms.decl1 | .firmware + " " + (.memory | tostring) + " " + .mac' \
                "/run/pxelab/$LAB/state.json")" = "uefi-pxe 300 52:54:00:64:00:09" ]
        sysd_run "$PXELAB" vm stop "$LAB" decl1
        sysd_run "$PXELAB" vm start "$LAB" decl1 --firmware bios --memory 260
        [ "$(sysd_run jq -r '.vms.decl1 | .firmware + " " + (.memory | tostring) + " " + .mac' \
                "/run/pxelab/$LAB/state.json")" = "bios 260 52:54:00:64:00:09" ]
        sysd_run "$PXELAB" vm stop "$LAB" decl1

        # --vnc: a display on loopback only, 5900 + the first free number.
        run sysd_run "$PXELAB" vm start "$LAB" vnc1 --vnc
        [ "$status" -eq 0 ]
        [[ "$output" == *"VNC 127.0.0.1:0"* ]]
        [ "$(sysd_run jq -r .vms.vnc1.vnc "/run/pxelab/$LAB/state.json")" = 127.0.0.1:0 ]
        for _ in $(seq 50); do
                [ -n "$(sysd_run ss -Hltn 'sport = :5900')" ] && break
                sleep 0.2
        done
        [ "$(sysd_run ss -Hltn 'sport = :5900' | awk '{print $4}')" = 127.0.0.1:5900 ]
        sysd_run "$PXELAB" vm stop "$LAB" vnc1

        # Stop one and start it again: same MAC.
        sysd_run "$PXELAB" vm stop "$LAB" vm1
        sysd_run "$PXELAB" vm start "$LAB" vm1
        [ "$(sysd_run jq -r .vms.vm1.mac "/run/pxelab/$LAB/state.json")" = "$m1" ]

        run sysd_run "$PXELAB" vm stop "$LAB" --all
        [ "$status" -eq 0 ]
        sysd_run jq -e '.vms | length == 0' "/run/pxelab/$LAB/state.json"
        [ -z "$(sysd_run ip -o link show type tun)" ]
        [ -z "$(sysd_run systemctl list-units --plain --no-legend "pxelab-$LAB-vm-*")" ]

        # down takes running VMs with it.
        sysd_run "$PXELAB" vm start "$LAB" vm3 --firmware uefi
        run sysd_run "$PXELAB" down "$LAB"
        [ "$status" -eq 0 ]
        [ -z "$(sysd_run ip -o link show type tun)" ]
        [ -z "$(sysd_run systemctl list-units --all --plain --no-legend "pxelab-$LAB-vm-*")" ]
        # ... and the serial tmpfs.
        [ -z "$(sysd_run findmnt -rn -o TARGET | grep "^/run/pxelab/$LAB/")" ]
        run sysd_run "$PXELAB" vm list "$LAB"
        [ "$status" -eq 1 ]
}
