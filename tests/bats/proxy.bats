#!/usr/bin/env bats
# dhcp.mode = "proxy": a lab on an existing LAN whose DHCP server pxelab
# does not control, end to end in the throwaway systemd
# (tests/harness/sysd.bash). The "office LAN" is a namespace of its own,
# prxoff, with a bridge (prxobr, 192.168.79.1), a plain dnsmasq that hands
# out addresses and no boot options (the office's DHCP server), and a tap
# for a VM; this host is on it through a veth, prxlan0, 192.168.79.2. VMs
# there (QEMU command lines from pxelab's own builder,
# tests/integration/itest_qemu.c) get their address from the office server
# and their boot information from pxelab's proxy: BIOS (QEMU's iPXE ROM)
# and UEFI with OVMF's own PXE (how real UEFI machines boot).
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

ITEST_QEMU=${B:-$REPO/build}/tests/itest_qemu
LAB=prx
IFACE=prxlan0
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-150}
export PXELAB_ACCEL=tcg
BIOS_MAC=52:54:00:79:00:01      # not a host: the menu's default
UEFI_MAC=52:54:00:79:00:02      # host "pc2": its own entry
LEASES=/run/prx-office.leases

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR"
        {
                echo "lab = \"$LAB\""
                echo "dhcp { mode = \"proxy\" interface = \"$IFACE\" }"
                echo 'menu { timeout = 0 default = "other" }'
                for e in other mine; do
                        echo "boot \"$e\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                        echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=entry-$e\" }"
                done
                echo "host \"pc2\" { mac = \"$UEFI_MAC\" boot = \"mine\" }"
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        # The office LAN.
        sysd_run ip netns add prxoff
        sysd_run ip -n prxoff link set lo up
        sysd_run ip -n prxoff link add prxobr type bridge stp_state 0 forward_delay 0
        sysd_run ip -n prxoff addr add 192.168.79.1/24 dev prxobr
        sysd_run ip link add "$IFACE" type veth peer name prxoe0 netns prxoff
        sysd_run ip -n prxoff link set prxoe0 master prxobr up
        sysd_run ip -n prxoff tuntap add prxtap mode tap
        sysd_run ip -n prxoff link set prxtap master prxobr up
        sysd_run ip -n prxoff link set prxobr up
        sysd_run ip addr add 192.168.79.2/24 dev "$IFACE"
        sysd_run ip link set "$IFACE" up
}

teardown_file() { sysd_kill; }

office_dhcp_start() {
        sysd_run systemd-run -q --unit=prx-office-dnsmasq -p Type=exec ip netns exec prxoff \
                dnsmasq -k --conf-file=/dev/null --port=0 --interface=prxobr --bind-interfaces --log-dhcp \
                --dhcp-range=192.168.79.100,192.168.79.200,1h --no-ping --pid-file= --dhcp-leasefile=$LEASES
        for _ in $(seq 50); do
                sysd_run ip netns exec prxoff ss -Hlun 'sport = :67' | grep -q . && return 0
                sleep 0.1
        done
        return 1
}

# officevm FIRMWARE MAC: a VM on the office LAN, booting from its NIC;
# prints the serial log's path.
officevm() {
        local dir=$OUT/prx-$1
        rm -rf "$dir"
        mkdir -p "$dir/vm"
        sysd_run sh -c "'$ITEST_QEMU' $1 $2 prxtap '$dir/vm.log' '$dir/vm' | xargs -0 systemd-run -q --unit=prx-vm-$1 -p Type=exec ip netns exec prxoff" >&2
        echo "$dir/vm.log"
}

wait_log() {   # FILE TEXT
        local i
        for ((i = 0; i < BOOT_TIMEOUT * 2; i++)); do
                grep -q "$2" "$1" 2>/dev/null && return 0
                sleep 0.5
        done
        echo "no '$2' in $1 after ${BOOT_TIMEOUT}s:"; tail -c 3000 "$1" | tr -d '\r'
        return 1
}

iface_state() {
        sysd_run ip -d -j addr show "$IFACE" |
                jq -S '.[0] | {ifname, flags, mtu, master, operstate, address, a: [.addr_info[] | .local + "/" + (.prefixlen | tostring)]}'
}

dnsmasq_log() {
        sysd_run journalctl -q --no-pager -o cat -u "pxelab-$LAB-dnsmasq.service"
}

@test "proxy: check reads the address from the interface; a missing one or one without IPv4 is refused" {
        run --separate-stderr sysd_run "$PXELAB" check "$PROFILE_DIR/lab.conf"
        echo "$output$stderr"
        [ "$status" -eq 0 ]
        [[ "$output" == "Profile $PROFILE_DIR/lab.conf: lab '$LAB', proxy DHCP on $IFACE 192.168.79.2/24,"* ]]

        before=$(host_snapshot)
        sed "s/\"$IFACE\"/\"prxnone0\"/" "$PROFILE_DIR/lab.conf" > "$PROFILE_DIR/gone.conf"
        for cmd in check up; do
                run --separate-stderr sysd_run "$PXELAB" $cmd "$PROFILE_DIR/gone.conf"
                [ "$status" -eq 2 ]
                [ "$stderr" = "$PROFILE_DIR/gone.conf:2: dhcp.interface: interface 'prxnone0' does not exist" ]
        done
        sysd_run ip link add prxbare0 type veth peer name prxbare1
        sysd_run ip link set prxbare0 up
        sed "s/\"$IFACE\"/\"prxbare0\"/" "$PROFILE_DIR/lab.conf" > "$PROFILE_DIR/bare.conf"
        for cmd in check up; do
                run --separate-stderr sysd_run "$PXELAB" $cmd "$PROFILE_DIR/bare.conf"
                [ "$status" -eq 2 ]
                [[ "$stderr" == "$PROFILE_DIR/bare.conf:2: dhcp.interface: 'prxbare0' has no IPv4 address; "* ]]
                [ "$(wc -l <<< "$stderr")" -eq 1 ]
        done
        sysd_run ip link del prxbare0
        [ "$(host_snapshot)" = "$before" ]
        ! sysd_run test -e "/run/pxelab/$LAB"
        # render takes the address as given, for a lab on another machine.
        run sysd_run "$PXELAB" render "$PROFILE_DIR/gone.conf" -o "$OUT/prx-render" --address 10.1.2.3/16
        [ "$status" -eq 0 ]
        grep -qx 'dhcp-range=10.1.0.0,proxy,255.255.0.0' "$OUT/prx-render/dnsmasq.conf"
        grep -qx 'interface=prxnone0' "$OUT/prx-render/dnsmasq.conf"
        for bad in 10.1.2.3 10.1.2.3/31 10.1.2.300/16 10.1.2.3/+16; do
                run --separate-stderr sysd_run "$PXELAB" render "$PROFILE_DIR/gone.conf" -o "$OUT/prx-render2" --address "$bad"
                [ "$status" -eq 2 ]
                [ "$stderr" = "--address '$bad' is not an IPv4 address with a prefix length of 8 to 30" ]
                [ ! -e "$OUT/prx-render2" ]
        done
}

@test "proxy: up with no DHCP server on the LAN warns, and still comes up; down leaves the interface as it was" {
        before=$(iface_state)
        run --separate-stderr sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
        echo "$output"; echo "$stderr"
        [ "$status" -eq 0 ]
        [[ "$stderr" == *"Warning: no DHCP server answered on '$IFACE' within 2 s"* ]]
        sysd_run "$PXELAB" down "$LAB"
        [ "$(iface_state)" = "$before" ]
}

@test "proxy: up makes no bridge and no NAT; nftables accepts the lab's ports on the interface only; status" {
        office_dhcp_start
        links() { sysd_run ip -j link show | jq -r '[.[].ifname] | sort | join(" ")'; }
        before=$(links)
        before_if=$(iface_state)
        run --separate-stderr sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
        echo "$output"; echo "$stderr"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *"Warning"* ]]
        [[ "$output" == *"proxy:    $IFACE 192.168.79.2/24"* ]]
        # No link made or changed; the interface is exactly as it was.
        [ "$(links)" = "$before" ]
        [ "$(iface_state)" = "$before_if" ]
        sysd_run jq -e --arg i "$IFACE" '.proxy_interface == $i and .bridge == null' "/run/pxelab/$LAB/state.json"
        # The table: accepts on the interface, no drop, no forward, no NAT.
        t=$(sysd_run nft list table inet "pxelab-$LAB")
        echo "$t"
        grep -q "iifname \"$IFACE\" udp dport { 67, 4011 } accept" <<< "$t"
        grep -q "iifname \"$IFACE\" ip daddr 192.168.79.2 udp dport 69 accept" <<< "$t"
        grep -q "iifname \"$IFACE\" ip daddr 192.168.79.2 tcp dport 80 accept" <<< "$t"
        ! grep -qE 'drop|masquerade|chain forward|chain postrouting' <<< "$t"
        # dnsmasq serves proxy DHCP on the interface: 67 and 4011.
        sysd_run ss -Hlun 'sport = :4011' | grep -q "%$IFACE"
        # status
        run sysd_run "$PXELAB" status "$LAB"
        echo "$output"
        [[ "$output" == *"Lab $LAB: healthy"* ]]
        [[ "$output" == *"proxy:    $IFACE up 192.168.79.2/24"* ]]
        sysd_run "$PXELAB" status "$LAB" --json | jq -e --arg i "$IFACE" '.labs[0].proxy.name == $i and (.labs[0].bridge == null)'
        # A proxy lab has no bridge for pxelab's VMs.
        run --separate-stderr sysd_run "$PXELAB" vm start "$LAB"
        [ "$status" -ne 0 ]
        [[ "$stderr" == *"Lab '$LAB' is a proxy DHCP lab on '$IFACE': it has no bridge for VMs"* ]]
        # A second lab cannot take the same interface.
        sed 's/^lab = .*/lab = "prx2"/' "$PROFILE_DIR/lab.conf" > "$PROFILE_DIR/second.conf"
        run --separate-stderr sysd_run "$PXELAB" up "$PROFILE_DIR/second.conf"
        [ "$status" -ne 0 ]
        [[ "$stderr" == *"dhcp.interface: '$IFACE' is already used by lab '$LAB'"* ]]
        ! sysd_run test -e /run/pxelab/prx2
}

@test "proxy: a BIOS VM on the LAN gets its address from the LAN's server, its boot from the proxy, and boots the menu's default" {
        log=$(officevm bios $BIOS_MAC)
        wait_log "$log" PXELAB-MARKER=entry-other
        sysd_run systemctl stop prx-vm-bios 2>/dev/null || true
        # Its lease is the office server's; pxelab handed out none.
        ip=$(sysd_run awk -v m=$BIOS_MAC '$2 == m { print $3 }' $LEASES)
        [[ "$ip" == 192.168.79.* ]]
        http_log "$LAB" | grep -E "^$ip .*\"GET /files/other/vmlinuz HTTP/1\.1\" 200 "
        dnsmasq_log | grep -E "PXE\($IFACE\) .*$BIOS_MAC proxy"
        ! dnsmasq_log | grep -E 'DHCP(OFFER|ACK)\('
        [ "$(sysd_run sh -c "cat /var/lib/pxelab/$LAB/dnsmasq.leases 2>/dev/null | wc -l")" -eq 0 ]
}

@test "proxy: a UEFI machine (OVMF's own PXE) gets snponly.efi by TFTP from the proxy, and its host entry" {
        log=$(officevm uefi-pxe $UEFI_MAC)
        wait_log "$log" PXELAB-MARKER=entry-mine
        sysd_run systemctl stop prx-vm-uefi-pxe 2>/dev/null || true
        grep -q 'Start PXE over IPv4' "$log"
        ip=$(sysd_run awk -v m=$UEFI_MAC '$2 == m { print $3 }' $LEASES)
        [[ "$ip" == 192.168.79.* ]]
        dnsmasq_log | grep -E "sent /.*/snponly\.efi to $ip\$"
        http_log "$LAB" | grep -E "^$ip .*\"GET /hosts/52-54-00-79-00-02\.ipxe HTTP/1\.1\" 200 "
        http_log "$LAB" | grep -E "^$ip .*\"GET /files/mine/vmlinuz HTTP/1\.1\" 200 "
        ! dnsmasq_log | grep -E 'DHCP(OFFER|ACK)\('
}

@test "proxy: down removes the table and leaves the interface and the LAN as they were" {
        before_if=$(iface_state)
        sysd_run "$PXELAB" down "$LAB"
        [ "$(iface_state)" = "$before_if" ]
        run sysd_run nft list table inet "pxelab-$LAB"
        [ "$status" -ne 0 ]
        ! sysd_run test -e "/run/pxelab/$LAB"
        sysd_run test -s $LEASES
        sysd_run systemctl is-active prx-office-dnsmasq
}
