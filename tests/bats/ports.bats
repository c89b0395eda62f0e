#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Physical ports (bridge.ports) in the throwaway systemd. The "physical"
# port is a veth, prtp0, whose peer sits in a namespace of its own, prtfar,
# on a bridge of that namespace with a tap: the wire and the switch. A QEMU
# VM started inside prtfar (command line from pxelab's own builder,
# tests/integration/itest_qemu.c) PXE-boots the payload through the port;
# a plain dnsmasq on the far bridge is the shared network's DHCP server the
# probe must find. Every refusal is checked to change nothing.
load common
load ../harness/sysd

ITEST_QEMU=${B:-$REPO/build}/tests/itest_qemu
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-300}
export PXELAB_ACCEL=tcg

setup_file() {
        export PAYLOAD=$OUT/ports-payload
        "$REPO/tests/payload/build" "$PAYLOAD"
}

setup() { sysd_boot; }
teardown() { sysd_kill; }

# The wire: prtp0 on this host, its peer prtfe0 on bridge prtfbr in prtfar
# with the tap prttap (for a VM). prtp0 is left down, as an unconfigured
# spare NIC is; MTU: MTU of prtp0 (default 1500).
mkwire() {
        local mtu=${1:-1500}
        sysd_run ip netns add prtfar
        sysd_run ip link add prtp0 mtu "$mtu" type veth peer name prtfe0 netns prtfar
        sysd_run ip -n prtfar link set lo up
        sysd_run ip -n prtfar link add prtfbr type bridge stp_state 0 forward_delay 0
        sysd_run ip -n prtfar link set prtfe0 mtu "$mtu" master prtfbr up
        sysd_run ip -n prtfar tuntap add prttap mode tap
        sysd_run ip -n prtfar link set prttap mtu "$mtu" master prtfbr up
        sysd_run ip -n prtfar link set prtfbr up
}

# What down must give back: the port's master, flags, MTU and state.
port_state() {
        sysd_run ip -d -j link show "${1:-prtp0}" |
                jq -S '.[0] | {ifname, flags, mtu, master, operstate, address, linkinfo: .linkinfo.info_kind}'
}

# Everything a refusal must leave alone: links in detail, addresses, nft,
# units, the run dir.
snapshot() {
        host_snapshot
        sysd_run ip -d -j link show | jq -S '[.[] | {ifname, flags, mtu, master, operstate}]'
}

# portprofile NAME ADDRESS [EXTRA bridge lines]: isolated, one payload entry.
portprofile() {
        local n=$1 a=$2 d
        shift 2
        p=$(mkprofile "$n" "$a" 'uplink = "none"' "$@")
        d=$(dirname "$p")
        {
                echo "lab = \"$n\""
                echo "bridge { address = \"$a\""
                for l in 'uplink = "none"' "$@"; do echo "    $l"; done
                echo "}"
                echo 'menu { timeout = 0 default = "far" }'
                echo "boot \"far\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=entry-far\" }"
        } > "$p"
        echo "$p"
}

# farvm FIRMWARE MAC: a VM on the far side, booting from its NIC; prints
# the serial log's path.
farvm() {
        local dir=$OUT/far-$1
        rm -rf "$dir"
        mkdir -p "$dir/vm"
        sysd_run sh -c "'$ITEST_QEMU' $1 $2 prttap '$dir/vm-far.log' '$dir/vm' | xargs -0 systemd-run -q --unit=prt-far-$1 -p Type=exec ip netns exec prtfar" >&2
        echo "$dir/vm-far.log"
}

# wait_log FILE TEXT: TEXT appears in FILE within BOOT_TIMEOUT seconds.
wait_log() {
        local i
        for ((i = 0; i < BOOT_TIMEOUT * 2; i++)); do
                grep -q "$2" "$1" 2>/dev/null && return 0
                sleep 0.5
        done
        echo "no '$2' in $1 after ${BOOT_TIMEOUT}s:"; tail -c 3000 "$1" | tr -d '\r'
        return 1
}

# A plain DHCP server of the far network (not pxelab's): dnsmasq on prtfbr.
far_dhcp_server() {
        sysd_run ip -n prtfar addr add 192.168.77.1/24 dev prtfbr
        sysd_run systemd-run -q --unit=prt-far-dnsmasq -p Type=exec ip netns exec prtfar \
                dnsmasq -k --conf-file=/dev/null --port=0 --interface=prtfbr --bind-interfaces \
                --dhcp-range=192.168.77.100,192.168.77.200,1h --no-ping --pid-file= --dhcp-leasefile=/run/prt-far.leases
        for i in $(seq 50); do
                sysd_run ip netns exec prtfar ss -Hlun 'sport = :67' | grep -q . && return 0
                sleep 0.1
        done
        return 1
}

@test "up joins the port to the lab's bridge and sets it up; status shows it; down gives it back exactly" {
        mkwire 1400
        before=$(port_state)
        before_all=$(snapshot)
        p=$(portprofile prt1 10.86.0.1/24 'ports = {"prtp0"}')
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"  port:     prtp0"* ]]
        # NetworkManager does not run here: nothing was asked of it.
        [[ "$output" != *NetworkManager* ]]
        [ "$(sysd_run ip -j link show prtp0 | jq -r '.[0].master')" = pxe-prt1 ]
        sysd_run ip -j link show prtp0 | jq -e '.[0].flags | index("UP")'
        # Recorded as it was, before the change.
        sysd_run jq -e '.ports == [{"name": "prtp0", "master": null, "up": false, "noarp": false, "mtu": 1400}]' \
                /run/pxelab/prt1/state.json
        run sysd_run "$PXELAB" status prt1 --json
        echo "$output"
        echo "$output" | jq -e '.labs[0].ports == [{"name": "prtp0", "exists": true, "carrier": true, "operstate": "UP",
                "up": true, "mtu": 1400, "in_bridge": true, "nm_unmanaged": false}] and .labs[0].healthy'
        run sysd_run "$PXELAB" status prt1
        echo "$output"
        [[ "$output" == *"  port:     prtp0 carrier, up, mtu 1400"* ]]
        # No cable: the far end goes down, status says so.
        sysd_run ip -n prtfar link set prtfe0 down
        run sysd_run "$PXELAB" status prt1
        [[ "$output" == *"  port:     prtp0 no carrier, up, mtu 1400"* ]]
        sysd_run "$PXELAB" status prt1 --json | jq -e '.labs[0].ports[0].carrier == false'
        sysd_run ip -n prtfar link set prtfe0 up
        # A second up (the lab is up) keeps the port and its record.
        run sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 0 ]
        sysd_run jq -e '.ports | length == 1 and .[0].up == false' /run/pxelab/prt1/state.json
        # Taken out of the bridge behind pxelab's back: status says so (exit
        # 3), the next up puts it back.
        sysd_run ip link set prtp0 nomaster
        run sysd_run "$PXELAB" status prt1
        echo "$output"
        [ "$status" -eq 3 ]
        [[ "$output" == *"  port:     prtp0 carrier, up, mtu 1400, NOT IN THE BRIDGE"* ]]
        sysd_run "$PXELAB" up "$p"
        [ "$(sysd_run ip -j link show prtp0 | jq -r '.[0].master')" = pxe-prt1 ]
        sysd_run "$PXELAB" status prt1
        run sysd_run "$PXELAB" down prt1
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(port_state)" = "$before" ]
        [ "$(snapshot)" = "$before_all" ]
}

@test "a port that was up, with another MTU and a link-local address, comes back up with them" {
        mkwire
        sysd_run ip link set prtp0 mtu 1480 up
        # the link-local IPv6 address every up link has is no use of its own
        sysd_run ip -j addr show prtp0 | jq -e '[.[0].addr_info[] | select(.scope == "link")] | length == 1'
        before=$(port_state)
        p=$(portprofile prt2 10.87.0.1/24 'ports = {"prtp0"}')
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(sysd_run ip -j link show prtp0 | jq -r '.[0].master')" = pxe-prt2 ]
        # Meanwhile someone changed the MTU: down restores the recorded one.
        sysd_run ip link set prtp0 mtu 1300
        sysd_run "$PXELAB" down prt2
        [ "$(port_state)" = "$before" ]
}

@test "an unplugged port: status says MISSING, down skips it and takes the lab down" {
        mkwire
        p=$(portprofile prt10 10.95.0.1/24 'ports = {"prtp0"}')
        sysd_run "$PXELAB" up "$p"
        sysd_run ip link del prtp0
        run sysd_run "$PXELAB" status prt10
        echo "$output"
        [ "$status" -eq 3 ]
        [[ "$output" == *"  port:     prtp0 MISSING"* ]]
        sysd_run "$PXELAB" status prt10 --json | jq -e '.labs[0].ports == [{"name": "prtp0", "exists": false, "carrier": false}]'
        run --separate-stderr sysd_run "$PXELAB" down prt10
        [ "$status" -eq 0 ]
        [ "$stderr" = "Port 'prtp0' of lab 'prt10' is gone (unplugged?): nothing to give back" ]
        [ "$output" = "Lab 'prt10' is down" ]
        ! sysd_run test -e /run/pxelab/prt10 || false
}

@test "a machine behind the port PXE-boots the payload, BIOS and UEFI" {
        mkwire
        p=$(portprofile prt3 10.88.0.1/24 'ports = {"prtp0"}')
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        for fw in bios uefi; do
                mac=52:54:00:88:00:0$([ $fw = bios ] && echo 1 || echo 2)
                log=$(farvm $fw $mac)
                wait_log "$log" PXELAB-MARKER=entry-far
                grep -q PXELAB-BOOT-OK "$log"
                sysd_run systemctl stop prt-far-$fw 2>/dev/null || true
                # Through the port: the lab leased it an address and nginx
                # served it the kernel.
                ip=$(sysd_run "$PXELAB" status prt3 --json | jq -r --arg m $mac '.labs[0].leases[] | select(.mac == $m) | .ip')
                [[ "$ip" == 10.88.0.* ]]
                http_log prt3 | grep -E "^$ip .*\"GET /files/far/vmlinuz HTTP/1\.1\" 200 "
        done
        sysd_run "$PXELAB" down prt3
}

@test "up killed after the port step (and right after recording it) is undone by down" {
        mkwire
        before=$(port_state)
        before_all=$(snapshot)
        p=$(portprofile prt4 10.89.0.1/24 'ports = {"prtp0"}')
        for step in port-recorded port; do
                run sysd_run env PXELAB_FAULT=$step "$PXELAB" up "$p"
                echo "$step: $output"
                [ "$status" -eq 137 ]
                sysd_run jq -e '.ports[0].name == "prtp0"' /run/pxelab/prt4/state.json
                if [ $step = port ]; then
                        [ "$(sysd_run ip -j link show prtp0 | jq -r '.[0].master')" = pxe-prt4 ]
                fi
                run sysd_run "$PXELAB" down prt4
                echo "$output"
                [ "$status" -eq 0 ]
                [ "$(port_state)" = "$before" ]
                [ "$(snapshot)" = "$before_all" ]
        done
}

# refused PROFILE MESSAGE: up exits 2 with MESSAGE as its only line and the
# host is as it was.
refused() {
        local before
        before=$(snapshot)
        run --separate-stderr sysd_run "$PXELAB" up "$1"
        echo "status $status, stderr: $stderr"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$2" ]
        diff <(echo "$before") <(snapshot)
}

@test "refused with one line, nothing changed: missing, uplink, default route, addressed, bridged, a bridge, wireless" {
        mkwire
        mkuplink
        p=$(portprofile prt5 10.90.0.1/24 'ports = {"prtnone"}')
        refused "$p" "$p:4: bridge.ports: interface 'prtnone' does not exist"
        p=$(portprofile prt5 10.90.0.1/24 'ports = {"upl0"}')
        refused "$p" "$p:4: bridge.ports: 'upl0' is this host's default-route interface; a port joins the lab's own network"
        p=$(mkprofile prt5 10.90.0.1/24 'uplink = "auto"' 'ports = {"upl0"}')
        refused "$p" "$p:5: bridge.ports: 'upl0' is the lab's uplink; a port joins the lab's own network"

        sysd_run ip addr add 192.0.2.5/24 dev prtp0
        p=$(portprofile prt5 10.90.0.1/24 'ports = {"prtp0"}')
        refused "$p" "$p:4: bridge.ports: 'prtp0' has the address 192.0.2.5/24 of its own: it is in use"
        sysd_run ip addr flush dev prtp0
        sysd_run ip addr add 2001:db8::5/64 dev prtp0 nodad
        refused "$p" "$p:4: bridge.ports: 'prtp0' has the address 2001:db8::5/64 of its own: it is in use"
        sysd_run ip addr flush dev prtp0

        sysd_run ip link add prtob type bridge
        sysd_run ip link set prtp0 master prtob
        refused "$p" "$p:4: bridge.ports: 'prtp0' is already a port of 'prtob'"
        sysd_run ip link set prtp0 nomaster
        p=$(portprofile prt5 10.90.0.1/24 'ports = {"prtob"}')
        refused "$p" "$p:4: bridge.ports: 'prtob' is a bridge; name a network interface"

        # Wireless: no Wi-Fi device here (no mac80211_hwsim), so a veth gets
        # the sysfs entry that marks one (/sys/class/net/X/wireless, which
        # the check reads) from a tmpfs in the harness's own mount namespace.
        sysd_run ip link add prtw0 type veth peer name prtw1
        sysd_run sh -c 'd=$(realpath /sys/class/net/prtw0) && mount -t tmpfs tmpfs "$d" && mkdir "$d/wireless"'
        p=$(portprofile prt5 10.90.0.1/24 'ports = {"prtw0"}')
        refused "$p" "$p:4: bridge.ports: 'prtw0' is a wireless interface, which cannot be bridged"
}

@test "a port of another lab is refused, nothing changed" {
        mkwire
        p=$(portprofile prt6 10.91.0.1/24 'ports = {"prtp0"}')
        sysd_run "$PXELAB" up "$p"
        # Settled first (carrier on the new links, their link-local
        # addresses): the same snapshot twice, a second apart.
        a=$(snapshot)
        for i in $(seq 30); do sleep 1; b=$(snapshot); [ "$a" = "$b" ] && break; a=$b; done
        q=$(portprofile prt7 10.92.0.1/24 'ports = {"prtp0"}')
        refused "$q" "$q:4: bridge.ports: 'prtp0' is a port of lab 'prt6'"
        sysd_run "$PXELAB" down prt6
}

@test "a DHCP server answering on the port refuses it; dhcp.probe = false skips the probe" {
        mkwire
        far_dhcp_server
        mac=$(sysd_run ip -n prtfar -j link show prtfbr | jq -r '.[0].address')
        before_port=$(port_state)
        p=$(portprofile prt8 10.93.0.1/24 'ports = {"prtp0"}')
        refused "$p" "$p:4: bridge.ports: A DHCP server (192.168.77.1, $mac) answers on 'prtp0': this is a shared network; use dhcp.mode = \"proxy\" or another port"
        # The probe left the port down, as it was.
        [ "$(port_state)" = "$before_port" ]
        # The server saw our DISCOVER (and offered).
        sysd_run journalctl -q --no-pager -o cat -u prt-far-dnsmasq | grep -q DHCPOFFER
        echo 'dhcp { probe = false }' >> "$p"
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(sysd_run ip -j link show prtp0 | jq -r '.[0].master')" = pxe-prt8 ]
        sysd_run "$PXELAB" down prt8
        [ "$(port_state)" = "$before_port" ]
}

@test "OVS: the port joins the lab's OVS bridge and down gives it back" {
        sysd_run mkdir -p /run/openvswitch /run/ovs-test
        sysd_run ovsdb-tool create /run/ovs-test/conf.db /usr/share/openvswitch/vswitch.ovsschema
        sysd_run systemd-run -q --unit=test-ovsdb-server ovsdb-server /run/ovs-test/conf.db \
                --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
                --unixctl=/run/openvswitch/ovsdb-server.ctl
        for i in $(seq 50); do sysd_run test -S /run/openvswitch/db.sock && break; sleep 0.1; done
        sysd_run ovs-vsctl --timeout=5 --no-wait init
        sysd_run systemd-run -q --unit=test-ovs-vswitchd ovs-vswitchd unix:/run/openvswitch/db.sock \
                --pidfile=/run/openvswitch/ovs-vswitchd.pid --unixctl=/run/openvswitch/ovs-vswitchd.ctl
        mkwire
        before=$(port_state)
        p=$(portprofile prt9 10.94.0.1/24 'type = "ovs"' 'datapath_type = "netdev"' 'ports = {"prtp0"}')
        # A port of another OVS bridge (netdev: no kernel master shows it).
        sysd_run ovs-vsctl --timeout=5 add-br prtovs -- set bridge prtovs datapath_type=netdev -- add-port prtovs prtp0
        refused "$p" "$p:6: bridge.ports: 'prtp0' is already a port of Open vSwitch bridge 'prtovs'"
        sysd_run ovs-vsctl --timeout=5 del-br prtovs
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        sysd_run ovs-vsctl --timeout=5 list-ports pxe-prt9 | grep -qx prtp0
        [ "$(sysd_run ovs-vsctl --timeout=5 get Port prtp0 external_ids:pxelab-lab)" = prt9 ]
        # ARP off while it is an OVS port (the host's stack sees its frames too)
        sysd_run ip -j link show prtp0 | jq -e '.[0].flags | index("NOARP")'
        sysd_run "$PXELAB" status prt9 --json | jq -e '.labs[0].ports[0] | .in_bridge and .up'
        run sysd_run "$PXELAB" down prt9
        echo "$output"
        [ "$status" -eq 0 ]
        [ -z "$(sysd_run ovs-vsctl --timeout=5 list-ports pxe-prt9 2>/dev/null)" ]
        ! sysd_run ovs-vsctl --timeout=5 port-to-br prtp0 2>/dev/null || false
        [ "$(port_state)" = "$before" ]
}
