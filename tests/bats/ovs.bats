#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Labs on Open vSwitch bridges: pxelab speaks OVSDB itself. ovsdb-server and
# ovs-vswitchd run as units of their own names inside the throwaway systemd;
# no openvswitch kernel module here, so the userspace (netdev) datapath.
load common
load ../harness/sysd

ovs() { sysd_run ovs-vsctl --timeout=5 "$@"; }

start_ovs() {
        sysd_run mkdir -p /run/openvswitch /run/ovs-test
        sysd_run ovsdb-tool create /run/ovs-test/conf.db /usr/share/openvswitch/vswitch.ovsschema
        sysd_run systemd-run -q --unit=test-ovsdb-server ovsdb-server /run/ovs-test/conf.db \
                --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
                --unixctl=/run/openvswitch/ovsdb-server.ctl
        for i in $(seq 50); do sysd_run test -S /run/openvswitch/db.sock && break; sleep 0.1; done
        ovs --no-wait init
        sysd_run systemd-run -q --unit=test-ovs-vswitchd ovs-vswitchd unix:/run/openvswitch/db.sock \
                --pidfile=/run/openvswitch/ovs-vswitchd.pid --unixctl=/run/openvswitch/ovs-vswitchd.ctl
}

# A client namespace on a veth that is an OVS port of BRIDGE.
ovs_client() {   # NAME BRIDGE
        sysd_run ip netns add "$1"
        sysd_run ip link add "vc-$1" type veth peer name eth0 netns "$1"
        # Like a port of the kernel datapath, not an interface of this host:
        # the host's stack must not answer ARP on it (userspace OVS reads
        # the same frames from it)...
        sysd_run ip link set "vc-$1" up arp off
        sysd_run ip -n "$1" link set lo up
        sysd_run ip -n "$1" link set eth0 up
        # ... and the client sends complete checksums, as a NIC would: the
        # userspace datapath does not fill in those a veth leaves to offload.
        sysd_run ip netns exec "$1" ethtool -K eth0 tx off >/dev/null
        ovs add-port "$2" "vc-$1"
}

ovs_profile() {   # NAME ADDRESS [EXTRA bridge lines]
        local n=$1 a=$2
        shift 2
        mkprofile "$n" "$a" 'type = "ovs"' 'datapath_type = "netdev"' 'uplink = "none"' "$@"
}

setup() { sysd_boot; start_ovs; }
teardown() { sysd_kill; }

@test "a lab on an OVS bridge: in OVSDB and the kernel, serves DHCP and HTTP to an OVS port" {
        p=$(ovs_profile o1 10.70.0.1/24)
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        ovs br-exists pxe-o1
        [ "$(ovs get Bridge pxe-o1 datapath_type)" = netdev ]
        [ "$(ovs get Bridge pxe-o1 external_ids:pxelab-lab)" = o1 ]
        sysd_run ip -j addr show pxe-o1 | jq -e '[.[0].addr_info[] | .local] | any(. == "10.70.0.1")'
        ovs_client c1 pxe-o1
        [[ "$(sysd_udhcpc c1)" == 10.70.0.* ]]
        sysd_client_run c1 curl -sf http://10.70.0.1/boot.ipxe | grep -q '^#!ipxe'
        run sysd_run "$PXELAB" status o1 --json
        [ "$status" -eq 0 ]
        echo "$output" | jq -e '.labs[0].bridge.type == "ovs" and .labs[0].bridge.ports == ["vc-c1"] and .labs[0].healthy'
}

@test "down removes the OVS bridge from OVSDB and the kernel" {
        p=$(ovs_profile o2 10.71.0.1/24)
        sysd_run "$PXELAB" up "$p"
        run sysd_run "$PXELAB" down o2
        [ "$status" -eq 0 ]
        run ovs br-exists pxe-o2
        [ "$status" -eq 2 ]
        ! sysd_run ip link show pxe-o2 || false
        [ -z "$(ovs list-br)" ]
}

@test "a foreign OVS bridge of that name is refused with nothing changed; existing = use borrows it" {
        ovs add-br pxe-o3 -- set bridge pxe-o3 datapath_type=netdev
        before=$(host_snapshot; ovs list-br)
        p=$(ovs_profile o3 10.72.0.1/24)
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Open vSwitch bridge 'pxe-o3' already exists and was not made by pxelab; choose another bridge.name or set bridge.existing = \"use\"" ]
        [ "$(host_snapshot; ovs list-br)" = "$before" ]
        # Borrowed: used, then left in place without the lab's addresses.
        p=$(ovs_profile o3 10.72.0.1/24 'existing = "use"')
        run sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 0 ]
        sysd_run ip -j addr show pxe-o3 | jq -e '[.[0].addr_info[] | .local] | any(. == "10.72.0.1")'
        sysd_run "$PXELAB" down o3
        ovs br-exists pxe-o3
        sysd_run ip -j addr show pxe-o3 | jq -e '[.[0].addr_info[] | .local] | any(. == "10.72.0.1") | not'
}

@test "with ovsdb-server stopped, up says so in one line and changes nothing" {
        sysd_run systemctl stop test-ovs-vswitchd test-ovsdb-server
        before=$(host_snapshot)
        p=$(ovs_profile o4 10.73.0.1/24)
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 1 ]
        [[ "$stderr" == "Failed to connect to ovsdb-server at '/run/openvswitch/db.sock': "*"(is Open vSwitch running?)" ]]
        [ "$(echo "$stderr" | wc -l)" -eq 1 ]
        [ "$(host_snapshot)" = "$before" ]
}

# ---- VMs on an OVS lab: their taps are OVS ports ---------------------------

BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-150}
# The accelerator is pinned: KVM differs from machine to machine.
export PXELAB_ACCEL=tcg

# A lab on an OVS bridge whose entries are the boot-proof payload
# (tests/payload/build) with its network modules: the booted system fetches
# its own initrd from the lab over TCP. The BIOS and UEFI machines are
# hosts with their own entry, so the marker tells which entry booted.
ovs_vm_profile() {   # NAME NET [EXTRA bridge lines]
        local n=$1 net=$2 payload=$OUT/vm-payload d=$OUT/lab-$1 e
        shift 2
        "$REPO/tests/payload/build" "$payload"
        rm -rf "$d"
        mkdir -p "$d"
        {
                echo "lab = \"$n\""
                echo "bridge {"
                echo "    address = \"$net.1/24\" uplink = \"none\" type = \"ovs\" datapath_type = \"netdev\""
                for l in "$@"; do echo "    $l"; done
                echo "}"
                echo 'menu { timeout = 0 default = "other" }'
                for e in other bios uefi; do
                        echo "boot \"$e\" { kind = \"linux\" kernel = \"$payload/vmlinuz\""
                        echo "    initrd = {\"$payload/initrd.img\", \"$payload/netmods.img\"}"
                        echo "    cmdline = \"console=ttyS0 pxelab.marker=ovs-$e pxelab.fetch=http://$net.1/files/$e/initrd.img\" }"
                done
                echo 'host "bios1" { mac = "52:54:00:74:00:01" boot = "bios" }'
                echo 'host "uefi1" { mac = "52:54:00:74:00:02" boot = "uefi" }'
        } > "$d/lab.conf"
        echo "$d/lab.conf"
}

tap_of() {   # LAB VM
        sysd_run jq -r --arg vm "$2" '.vms[$vm].tap' "/run/pxelab/$1/state.json"
}

# The tap is a port of BRIDGE in OVSDB, marked as LAB's, a system interface
# ovs-vswitchd has opened (an OpenFlow port number, no error); in the
# kernel it has no master, ARP off; status lists it among the bridge's ports.
assert_ovs_port() {   # LAB BRIDGE TAP
        ovs list-ports "$2" | grep -qx "$3"
        [ "$(ovs port-to-br "$3")" = "$2" ]
        [ "$(ovs get Port "$3" external_ids:pxelab-lab)" = "$1" ]
        [ "$(ovs get Interface "$3" type)" = '""' ]
        [ "$(ovs get Interface "$3" ofport)" -ge 1 ]
        [ "$(ovs get Interface "$3" error)" = "[]" ]
        sysd_run ip -j link show "$3" | jq -e '.[0].master == null and (.[0].flags | index("NOARP"))'
        sysd_run "$PXELAB" status "$1" --json | jq -e --arg t "$3" '.labs[0].bridge.ports | index($t)'
}

# Neither a Port nor an Interface row of that name, nor the device.
assert_no_port() {   # TAP
        run ovs port-to-br "$1"
        [ "$status" -ne 0 ]
        [ -z "$(ovs --bare --columns=name find Interface name="$1")" ]
        run sysd_run ip link show "$1"
        [ "$status" -ne 0 ]
}

# The VM boots to the payload of its host entry: the marker on the serial
# console, its kernel and initrd fetched over HTTP with every byte; then
# the booted Linux (its virtio-net driver, not the firmware's) gets a lease
# and fetches the initrd again over TCP, every byte.
assert_boots() {   # LAB VM MAC ENTRY
        local lab=$1 vm=$2 mac=$3 entry=$4 ip k i
        run sysd_run timeout "$BOOT_TIMEOUT" "$PXELAB" vm console "$lab" "$vm"
        echo "$output" | tail -n 20
        [ "$status" -eq 0 ]
        [[ "$output" == *"PXELAB-BOOT-OK"* ]]
        [[ "$output" == *"PXELAB-MARKER=ovs-$entry"* ]]
        i=$(stat -c %s "$OUT/vm-payload/initrd.img")
        [[ "$output" == *"PXELAB-FETCH=OK"* ]]
        [[ "$output" == *"PXELAB-FETCH-BYTES=$i"* ]]
        ip=$(sysd_run "$PXELAB" status "$lab" --json | jq -r --arg mac "$mac" '.labs[0].leases[] | select(.mac == $mac) | .ip')
        [ -n "$ip" ]
        k=$(stat -c %s "$OUT/vm-payload/vmlinuz")
        i=$(stat -c %s "$OUT/vm-payload/initrd.img")
        http_log "$lab" | grep -E "^$ip .*\"GET /files/$entry/vmlinuz HTTP/1\.1\" 200 $k len=$k "
        http_log "$lab" | grep -E "^$ip .*\"GET /files/$entry/initrd\.img HTTP/1\.1\" 200 $i len=$i "
}

@test "OVS lab: a BIOS and a UEFI VM PXE-boot their payload; their taps are OVS ports until vm stop and down" {
        p=$(ovs_vm_profile ov 10.74.0)
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]

        run sysd_run "$PXELAB" vm start ov bios1 --firmware bios --mac 52:54:00:74:00:01 --memory 256
        echo "$output"
        [ "$status" -eq 0 ]
        tap=$(tap_of ov bios1)
        assert_ovs_port ov pxe-ov "$tap"
        assert_boots ov bios1 52:54:00:74:00:01 bios
        # Powered off: the tap and its port stay until `vm stop`; a new
        # start finds them and boots again.
        assert_ovs_port ov pxe-ov "$tap"
        run sysd_run "$PXELAB" vm stop ov bios1
        [ "$status" -eq 0 ]
        assert_no_port "$tap"

        run sysd_run "$PXELAB" vm start ov uefi1 --firmware uefi --mac 52:54:00:74:00:02 --memory 256
        echo "$output"
        [ "$status" -eq 0 ]
        tap=$(tap_of ov uefi1)
        assert_ovs_port ov pxe-ov "$tap"
        assert_boots ov uefi1 52:54:00:74:00:02 uefi
        # Started again while powered off: the same tap and port.
        sysd_run "$PXELAB" vm start ov uefi1
        [ "$(tap_of ov uefi1)" = "$tap" ]
        assert_ovs_port ov pxe-ov "$tap"

        # down stops the running VM and removes its port with the bridge.
        run sysd_run "$PXELAB" down ov
        [ "$status" -eq 0 ]
        assert_no_port "$tap"
        [ -z "$(ovs list-br)" ]
        [ -z "$(ovs --bare --columns=name list Interface)" ]
        [ -z "$(sysd_run ip -o link show type tun)" ]
}

@test "OVS lab: a vm start killed after adding its port leaves nothing after down; a borrowed bridge keeps what is not the lab's" {
        # Someone else's bridge with a port of its own, borrowed by the lab.
        ovs add-br pxe-ob -- set bridge pxe-ob datapath_type=netdev
        ovs_client f1 pxe-ob
        p=$(ovs_vm_profile ob 10.75.0 'existing = "use"')
        sysd_run "$PXELAB" up "$p"

        # Killed right after the port was added: no unit, but tap and port.
        run sysd_run env PXELAB_FAULT=vm-attached "$PXELAB" vm start ob v1
        [ "$status" -eq 137 ]
        t1=$(tap_of ob v1)
        assert_ovs_port ob pxe-ob "$t1"
        run sysd_run systemctl is-active pxelab-ob-vm-v1.service
        [ "$output" != active ]
        # A running VM, and a port the record lost track of (marked as the
        # lab's all the same).
        sysd_run "$PXELAB" vm start ob v2
        t2=$(tap_of ob v2)
        assert_ovs_port ob pxe-ob "$t2"
        sysd_run ip tuntap add dev pxt-lost mode tap
        sysd_run ip link set pxt-lost up
        ovs add-port pxe-ob pxt-lost -- set Port pxt-lost external_ids:pxelab-lab=ob

        run sysd_run "$PXELAB" down ob
        echo "$output"
        [ "$status" -eq 0 ]
        assert_no_port "$t1"
        assert_no_port "$t2"
        run ovs port-to-br pxt-lost
        [ "$status" -ne 0 ]
        sysd_run ip link del pxt-lost
        # The borrowed bridge and its own port stay.
        ovs br-exists pxe-ob
        [ "$(ovs list-ports pxe-ob)" = vc-f1 ]
        # The only taps left are ovs-vswitchd's own: the netdev datapath's
        # and the bridge's internal port.
        [ "$(sysd_run ip -j link show type tun | jq -r '[.[].ifname] | sort | join(" ")')" = "ovs-netdev pxe-ob" ]
}

@test "down deletes no OVS bridge whose external_ids do not name the lab, whatever its record says" {
        ovs add-br brfor -- set bridge brfor datapath_type=netdev
        ovs add-br brother -- set bridge brother datapath_type=netdev external_ids:pxelab-lab=other
        for b in brfor brother; do
                sysd_run mkdir -p "/run/pxelab/ev-$b"
                sysd_run sh -c "cat > /run/pxelab/ev-$b/state.json" <<JSON
{ "lab": "ev-$b", "bridge": { "name": "$b", "type": "ovs", "created": true, "addresses": [],
  "ovsdb": "/run/openvswitch/db.sock" }, "units": [], "mounts": [], "vms": {} }
JSON
                run --separate-stderr sysd_run "$PXELAB" down "ev-$b"
                echo "$b: $status: $stderr"
                [ "$status" -eq 0 ]
                [ "$stderr" = "Warning: Not deleting Open vSwitch bridge '$b': its external_ids do not name lab 'ev-$b'" ]
                ovs br-exists "$b"
                ! sysd_run test -e "/run/pxelab/ev-$b" || false
        done
}
