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
