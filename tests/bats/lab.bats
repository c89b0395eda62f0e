#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# pxelab up / down / status against a real systemd (the throwaway one of
# tests/harness/sysd.bash), real netlink, nftables, dnsmasq and nginx.
load common
load ../harness/sysd

setup() { sysd_boot; }
teardown() { sysd_kill; }

@test "up builds the bridge, addresses, nft table with masquerade and hardened units" {
        mkuplink
        p=$(mkprofile t1 10.50.0.1/24)
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab 't1' is up."* ]]
        # Bridge: a Linux bridge, up, STP off, with its IPv4 address and ULA.
        [ "$(sysd_run ip -j -d link show pxe-t1 | jq -r '.[0].linkinfo.info_kind')" = bridge ]
        [ "$(sysd_run ip -j -d link show pxe-t1 | jq -r '.[0].linkinfo.info_data.stp_state')" = 0 ]
        [ "$(sysd_run ip -j -d link show pxe-t1 | jq -r '.[0].linkinfo.info_data.forward_delay')" = 0 ]
        sysd_run ip -j addr show pxe-t1 | jq -e '[.[0].addr_info[] | select(.family == "inet" and .prefixlen == 24) | .local] == ["10.50.0.1"]'
        sysd_run ip -j addr show pxe-t1 | jq -e '[.[0].addr_info[] | select(.family == "inet6") | .local | startswith("fd")] | any'
        sysd_run ip -j link show pxe-t1 | jq -e '.[0].flags | any(. == "UP")'
        # nftables: our own table, masquerading the lab subnet out of upl0.
        sysd_run nft -j list table inet pxelab-t1 > "$OUT/t1.nft.json"
        jq -e '[.nftables[] | select(.rule) | .rule | select(.chain == "postrouting") | .expr[] | select(has("masquerade"))] | length == 1' "$OUT/t1.nft.json"
        grep -q '"10.50.0.0"' "$OUT/t1.nft.json"
        grep -q '"upl0"' "$OUT/t1.nft.json"
        [ "$(sysd_run cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
        # Units: active, in the lab's slice, hardened, restarting on failure;
        # homes hidden (the boot files are in none).
        for s in dnsmasq nginx; do
                u=pxelab-t1-$s.service
                [ "$(sysd_run systemctl show -P ActiveState $u)" = active ]
                [ "$(sysd_run systemctl show -P Slice $u)" = pxelab-t1.slice ]
                [ "$(sysd_run systemctl show -P Restart $u)" = on-failure ]
                [ "$(sysd_run systemctl show -P ProtectSystem $u)" = strict ]
                [ "$(sysd_run systemctl show -P ProtectHome $u)" = yes ]
                [ "$(sysd_run systemctl show -P PrivateTmp $u)" = yes ]
                [ "$(sysd_run systemctl show -P NoNewPrivileges $u)" = yes ]
                sysd_run systemctl show -P ReadWritePaths $u | grep -q /run/pxelab/t1
                caps=$(sysd_run systemctl show -P CapabilityBoundingSet $u)
                [[ "$caps" == *cap_net_bind_service* ]]
                [[ "$caps" != *cap_sys_admin* ]]
        done
        # The record names what was made.
        sysd_run jq -e '.bridge.created == true and .nft.table == "pxelab-t1" and (.units | length == 2)' /run/pxelab/t1/state.json
        [ "$(sysd_run stat -c %a /run/pxelab/t1)" = 711 ]
}

@test "a client on the bridge gets a lease in range, boot.ipxe over HTTP and a loader over TFTP" {
        p=$(mkprofile t2 10.51.0.1/24 'uplink = "none"')
        run sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 0 ]
        # The self-check asked dnsmasq for each loader over TFTP (tsize,
        # aborted after the answer), from the lab's address.
        j=$(sysd_run journalctl --no-pager -o cat -u pxelab-t2-dnsmasq.service)
        for f in undionly.kpxe ipxe.efi snponly.efi; do
                [[ "$j" == *"sent /run/pxelab/t2/tftp/$f to 10.51.0.1"* ]]
        done
        [ "$(grep -c 'error 8 probe received from 10.51.0.1' <<< "$j")" -eq 3 ]
        sysd_client_ns c1 pxe-t2
        ip=$(sysd_udhcpc c1)
        echo "lease: $ip"
        [[ "$ip" =~ ^10\.51\.0\.([0-9]+)$ ]]
        [ "${BASH_REMATCH[1]}" -ge 100 ] && [ "${BASH_REMATCH[1]}" -le 200 ]
        run sysd_client_run c1 curl -sf http://10.51.0.1/boot.ipxe
        [ "$status" -eq 0 ]
        [[ "${lines[0]}" == "#!ipxe" ]]
        sysd_client_run c1 curl -sf -o /tmp/undionly.kpxe tftp://10.51.0.1/undionly.kpxe
        sysd_client_run c1 cmp /tmp/undionly.kpxe /usr/lib/ipxe/undionly.kpxe
        sysd_client_run c1 curl -sf -o /tmp/k http://10.51.0.1/files/rescue/vmlinuz
        sysd_client_run c1 cmp /tmp/k "$OUT/lab-t2/vmlinuz"
        # The lease shows in status, with the client's MAC.
        mac=$(sysd_client_run c1 cat /sys/class/net/eth0/address)
        sysd_run "$PXELAB" status t2 --json | jq -e --arg mac "$mac" --arg ip "$ip" \
                '.labs[0].leases | map(select(.mac == $mac and .ip == $ip)) | length == 1'
}

@test "SNAT: a lab client reaches the uplink side with the uplink's address" {
        mkuplink
        p=$(mkprofile t3 10.52.0.1/24)
        sysd_run "$PXELAB" up "$p"
        # A server on the far side that answers with the peer address it sees.
        sysd_run ip netns exec wan python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.2", 9000)); s.listen(1)
c, a = s.accept(); c.sendall(a[0].encode()); c.close()' &
        sysd_client_ns c1 pxe-t3
        sysd_udhcpc c1
        # The lab is the client's gateway.
        [ "$(sysd_lease c1 router)" = 10.52.0.1 ]
        sysd_client_run c1 ip route add default via 10.52.0.1
        for i in $(seq 50); do sysd_run ip netns exec wan ss -ltn | grep -q 10.99.0.2:9000 && break; sleep 0.1; done
        seen=$(sysd_client_run c1 busybox nc 10.99.0.2 9000 </dev/null)
        wait
        [ "$seen" = 10.99.0.1 ]
}

@test "up twice changes nothing: same rules, addresses and service PIDs" {
        mkuplink
        p=$(mkprofile t4 10.53.0.1/24)
        sysd_run "$PXELAB" up "$p"
        before=$(host_snapshot; sysd_run nft -j list table inet pxelab-t4 | jq -S '[.nftables[] | select(.rule) | .rule.expr]'
                 sysd_run systemctl show -P MainPID pxelab-t4-dnsmasq.service pxelab-t4-nginx.service)
        run sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 0 ]
        after=$(host_snapshot; sysd_run nft -j list table inet pxelab-t4 | jq -S '[.nftables[] | select(.rule) | .rule.expr]'
                sysd_run systemctl show -P MainPID pxelab-t4-dnsmasq.service pxelab-t4-nginx.service)
        [ "$before" = "$after" ]
        [ "$(sysd_run nft list tables | grep -c pxelab-t4)" -eq 1 ]
}

@test "up again after a config change restarts only the changed unit" {
        p=$(mkprofile t5 10.54.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        d_pid=$(sysd_run systemctl show -P MainPID pxelab-t5-dnsmasq.service)
        n_pid=$(sysd_run systemctl show -P MainPID pxelab-t5-nginx.service)
        echo 'host "h1" { mac = "52:54:00:aa:bb:01" ip = "10.54.0.20" }' >> "$p"
        sysd_run "$PXELAB" up "$p"
        [ "$(sysd_run systemctl show -P MainPID pxelab-t5-dnsmasq.service)" != "$d_pid" ]
        [ "$(sysd_run systemctl show -P MainPID pxelab-t5-nginx.service)" = "$n_pid" ]
        sysd_run grep -qx 'dhcp-host=52:54:00:aa:bb:01,10.54.0.20,h1' /run/pxelab/t5/dnsmasq.conf
}

@test "down leaves zero residue, twice in a row, and restores ip_forward" {
        mkuplink
        sysd_run sysctl -qw net.ipv4.ip_forward=0
        before=$(host_snapshot)
        p=$(mkprofile t6 10.55.0.1/24)
        sysd_run "$PXELAB" up "$p"
        [ "$(sysd_run cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
        run sysd_run "$PXELAB" down t6
        [ "$status" -eq 0 ]
        [ "$(host_snapshot)" = "$before" ]
        [ "$(sysd_run cat /proc/sys/net/ipv4/ip_forward)" = 0 ]
        ! sysd_run test -e /run/pxelab/t6 || false
        # Leases are kept.
        sysd_run test -d /var/lib/pxelab/t6
        run sysd_run "$PXELAB" down "$p"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab 't6' is not up; nothing to do"* ]]
}

@test "two labs side by side; a colliding third is refused with nothing changed" {
        mkuplink
        pa=$(mkprofile ta 10.56.0.1/24)
        pb=$(mkprofile tb 10.57.0.1/24)
        sysd_run "$PXELAB" up "$pa"
        sysd_run "$PXELAB" up "$pb"
        run sysd_run "$PXELAB" status
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab ta: healthy"* && "$output" == *"Lab tb: healthy"* ]]
        before=$(host_snapshot)
        # Same subnet as ta.
        pc=$(mkprofile tc 10.56.0.1/24)
        run --separate-stderr sysd_run "$PXELAB" up "$pc"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Subnet 10.56.0.0/24 of lab 'tc' overlaps address 10.56.0.1/24 on pxe-ta on this host" ]
        # Same bridge name as tb.
        pd=$(mkprofile td 10.58.0.1/24 'name = "pxe-tb"')
        run --separate-stderr sysd_run "$PXELAB" up "$pd"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Bridge 'pxe-tb' belongs to lab 'tb'" ]
        # Same lab name from another profile.
        cp "$pa" "$OUT/lab-ta/other.conf"
        run --separate-stderr sysd_run "$PXELAB" up "$OUT/lab-ta/other.conf"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "Lab 'ta' is already up from profile '$pa'"* ]]
        [ "$(host_snapshot)" = "$before" ]
        # Each lab serves its own clients.
        sysd_client_ns ca pxe-ta
        sysd_client_ns cb pxe-tb
        [[ "$(sysd_udhcpc ca)" == 10.56.0.* ]]
        [[ "$(sysd_udhcpc cb)" == 10.57.0.* ]]
        sysd_run "$PXELAB" down --all
        [ -z "$(sysd_run systemctl list-units --all --plain --no-legend 'pxelab-ta*' 'pxelab-tb*' 'pxelab.slice')" ]
        [ -z "$(sysd_run nft list tables | grep pxelab)" ]
}

@test "up refuses a foreign interface of the bridge's name, changing nothing" {
        sysd_run ip link add pxe-t7 type bridge
        before=$(host_snapshot)
        p=$(mkprofile t7 10.59.0.1/24 'uplink = "none"')
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Interface 'pxe-t7' already exists and was not made by pxelab; choose another bridge.name" ]
        [ "$(host_snapshot)" = "$before" ]
}

@test "status --json follows its schema; exit 3 when degraded" {
        p=$(mkprofile t8 10.60.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        run sysd_run "$PXELAB" status --json
        [ "$status" -eq 0 ]
        echo "$output" | jq -e '
          .version == 1 and (.labs | length == 1) and
          (.labs[0] | (.lab == "t8") and (.healthy == true) and
            (.profile | type == "string") and (.boot_url == "http://10.60.0.1/boot.ipxe") and
            (.address == "10.60.0.1/24") and
            (.units | length == 2 and all(.[]; (.name | type == "string") and .active_state == "active" and
               (.sub_state | type == "string") and (.main_pid | type == "number") and (.main_pid > 0) and
               (.since_usec | type == "number") and (.restarts | type == "number"))) and
            (.bridge | .name == "pxe-t8" and .exists == true and .up == true and (.addresses | type == "array") and
               (.ports | type == "array")) and
            (.nft | .table == "pxelab-t8" and .present == true) and
            (.leases | type == "array") and (.vms | type == "array"))'
        # Take the nft table away behind pxelab's back: degraded, exit 3.
        sysd_run nft delete table inet pxelab-t8
        run sysd_run "$PXELAB" status t8 --json
        [ "$status" -eq 3 ]
        echo "$output" | jq -e '.labs[0].healthy == false and .labs[0].nft.present == false'
}

@test "a killed dnsmasq shows in status and systemd brings it back" {
        p=$(mkprofile t9 10.61.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        pid=$(sysd_run systemctl show -P MainPID pxelab-t9-dnsmasq.service)
        sysd_run kill -KILL "$pid"
        for i in $(seq 50); do
                st=$(sysd_run "$PXELAB" status t9 --json | jq -c '.labs[0].units[] | select(.name == "pxelab-t9-dnsmasq.service")')
                [ "$(jq -r .restarts <<< "$st")" -ge 1 ] && [ "$(jq -r .active_state <<< "$st")" = active ] && break
                sleep 0.1
        done
        [ "$(jq -r .restarts <<< "$st")" -ge 1 ]
        [ "$(jq -r .active_state <<< "$st")" = active ]
        [ "$(jq -r .main_pid <<< "$st")" != "$pid" ]
        sysd_client_ns c1 pxe-t9
        [[ "$(sysd_udhcpc c1)" == 10.61.0.* ]]
}

@test "a unit that cannot start fails up with its own error, and up undoes everything" {
        before=$(host_snapshot)
        p=$(mkprofile t10 10.62.0.1/24 'uplink = "none"')
        mkdir -p "$OUT/lab-t10/tpl"
        printf 'events {}\nhttp { server { listen {{bridge.address}}:80; bogus_directive on; } }\n' \
                > "$OUT/lab-t10/tpl/nginx.conf.mustache"
        sed -i '1a templates = "tpl"' "$p"
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        echo "$stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"Failed to start unit 'pxelab-t10-nginx.service'"* ]]
        [[ "$stderr" == *'unknown directive "bogus_directive"'* ]]
        [ "$(host_snapshot)" = "$before" ]
}

@test "up with no profile brings up the default lab serving this host's kernel" {
        run sysd_run "$PXELAB" up
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab 'pxelab' is up."* ]]
        url=$(sysd_run jq -r .boot_url /run/pxelab/pxelab/state.json)
        base=${url%/boot.ipxe}
        sysd_client_ns c1 pxe-pxelab
        sysd_udhcpc c1
        sysd_client_run c1 curl -sf "$base/menu.ipxe" | grep -q '^item rescue '
        size=$(sysd_run stat -c %s /var/lib/pxelab/payload/vmlinuz)
        [ "$(sysd_client_run c1 curl -sf "$base/files/rescue/vmlinuz" | wc -c)" -eq "$size" ]
        sysd_run "$PXELAB" down
        ! sysd_run test -e /run/pxelab/pxelab || false
}

@test "without systemd as PID 1, up says so in one line and changes nothing" {
        # A plain namespace with no systemd in it at all (private /run).
        p=$(mkprofile t11 10.63.0.1/24 'uplink = "none"')
        run --separate-stderr unshare --net --mount --pid --fork --mount-proc sh -c "
                mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib/pxelab &&
                '$PXELAB' up '$p'; rc=\$?
                test -e /run/pxelab/t11 && echo RESIDUE-RUNDIR
                ip -o link show | grep -v ': lo:' && echo RESIDUE-LINK
                exit \$rc"
        [ "$status" -eq 1 ]
        [ "$stderr" = "systemd is not running as PID 1 on this machine; pxelab needs it to run the lab's services" ]
        [ -z "$output" ]
}

@test "boot files in a home directory are served (ProtectHome binds them in read-only)" {
        p=$(mkprofile t12 10.64.0.1/24 'uplink = "none"')
        # A home the harness has to itself (its /run is private), whatever
        # the checkout's place: /run/user/0, hidden like /home and /root.
        sysd_run mkdir -p /run/user/0/pxelab-test-t12
        sysd_run cp "$OUT/lab-t12/vmlinuz" /run/user/0/pxelab-test-t12/vmlinuz
        sed -i 's|kernel = "vmlinuz"|kernel = "/run/user/0/pxelab-test-t12/vmlinuz"|' "$p"
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(sysd_run systemctl show -P ProtectHome pxelab-t12-nginx.service)" = tmpfs ]
        sysd_client_ns c1 pxe-t12
        sysd_udhcpc c1
        sysd_client_run c1 curl -sf -o /tmp/k http://10.64.0.1/files/rescue/vmlinuz
        sysd_client_run c1 cmp /tmp/k "$OUT/lab-t12/vmlinuz"
}

# A profile as users keep one: DIR/profiles/debian-installer.conf (no
# lab = ..., so the lab is "debian-installer") beside DIR/images/, whose
# kernel is a symlink into a home directory.
@test "a long lab name from the file, '..' paths: derived bridge and tap, shown by up and status, gone at down" {
        d=$(mktemp -d "$OUT/names.XXXXXX")
        mkdir -p "$d/images" "$d/profiles"
        sysd_run mount -t tmpfs tmpfs /home
        sysd_run mkdir -p /home/pxelab-test-names
        head -c 300000 /dev/urandom > "$d/kernel"
        sysd_run cp "$d/kernel" /home/pxelab-test-names/vmlinuz-6.1
        ln -s /home/pxelab-test-names/vmlinuz-6.1 "$d/images/vmlinuz"
        cat > "$d/profiles/debian-installer.conf" <<CONF
bridge { address = "10.65.0.1/24" uplink = "none" }
boot "install" { kind = "linux" kernel = "../images/vmlinuz" cmdline = "console=ttyS0" }
vm "v1" { autostart = true }
CONF
        # The VM's accelerator is not what this is about: no KVM in here
        # (KVM may be present but broken on the host), so QEMU runs on TCG.
        sysd_run sh -c 'umount /dev/kvm 2>/dev/null; rm -f /dev/kvm'
        run sysd_run "$PXELAB" up "$d/profiles/debian-installer.conf"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab 'debian-installer' is up."* ]]
        # The bridge: "pxe-" + the name's start + a hash, 15 characters.
        br=$(sysd_run "$PXELAB" status debian-installer --json | jq -r '.labs[0].bridge.name')
        [[ "$br" =~ ^pxe-debian-[0-9a-f]{4}$ ]]
        [[ "$output" == *"  bridge:   $br 10.65.0.1/24"* ]]
        [ "$(sysd_run ip -j -d link show "$br" | jq -r '.[0].linkinfo.info_kind')" = bridge ]
        sysd_run "$PXELAB" status debian-installer --json | jq -e --arg br "$br" '
          .labs[0] | .healthy and .bridge.name == $br and .bridge.exists and .nft.table == "pxelab-debian-installer"'
        # The autostarted VM's tap: "pxt-" + a shorter start + the same hash + "-0".
        tap=$(sysd_run "$PXELAB" status debian-installer --json | jq -r '.labs[0].vms[0].tap')
        [[ "$tap" =~ ^pxt-debi-[0-9a-f]{4}-0$ ]]
        sysd_run "$PXELAB" status debian-installer --json | jq -e --arg tap "$tap" '.labs[0].vms[0] |
          .name == "v1" and .lab == "debian-installer" and .firmware == "bios" and (.mac | type == "string") and
          .memory == 512 and .disk == null and .tap == $tap and .vnc == null and
          .unit == "pxelab-debian-installer-vm-v1.service" and .log == "/run/pxelab/debian-installer/serial/v1.log" and
          .dir == "/var/lib/pxelab/debian-installer/vm/v1" and (.accel | type == "string") and
          (.active_state | type == "string")'
        [ "${tap:9:4}" = "${br:11:4}" ]
        [[ "$output" == *"  vm:       v1 on tap $tap"* ]]
        [ "$(sysd_run ip -j link show "$tap" | jq -r '.[0].master')" = "$br" ]
        run sysd_run "$PXELAB" status debian-installer
        [[ "$output" == *"  bridge:   $br up 10.65.0.1/24"* ]]
        [[ "$output" == *"  vm:       v1 bios "*" tap $tap "* ]]
        run sysd_run "$PXELAB" vm list debian-installer
        [[ "$output" == *" $tap "* ]]
        # the LAB column as wide as the name
        [[ "${lines[0]}" == "LAB              NAME "* ]]
        [[ "${lines[1]}" == "debian-installer v1           bios "* ]]
        # The kernel is served from its real path, which the sandbox shows.
        sysd_run grep -qx "        location = /files/install/vmlinuz { alias /home/pxelab-test-names/vmlinuz-6.1; }" \
                /run/pxelab/debian-installer/nginx.conf
        sysd_client_ns c1 "$br"
        sysd_udhcpc c1
        sysd_client_run c1 curl -sf -o /tmp/k http://10.65.0.1/files/install/vmlinuz
        sysd_client_run c1 cmp /tmp/k "$d/kernel"
        # down takes both away.
        run sysd_run "$PXELAB" down debian-installer
        [ "$status" -eq 0 ]
        run sysd_run ip link show "$br"
        [ "$status" -ne 0 ]
        run sysd_run ip link show "$tap"
        [ "$status" -ne 0 ]
        rm -rf "$d"
}

@test "labs whose names share a prefix have their own slices: down of one leaves the other running" {
        pa=$(mkprofile nest 10.67.0.1/24 'uplink = "none"')
        pb=$(mkprofile nest-b 10.68.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$pa"
        sysd_run "$PXELAB" up "$pb"
        # systemd reads '-' in a slice name as nesting: pxelab-nest-b.slice
        # would sit inside pxelab-nest.slice.
        [ "$(sysd_run systemctl show -P Slice pxelab-nest-b-dnsmasq.service)" = pxelab-nest_b.slice ]
        [ "$(sysd_run systemctl show -P Slice pxelab-nest-dnsmasq.service)" = pxelab-nest.slice ]
        sysd_run "$PXELAB" down nest
        for s in dnsmasq nginx; do
                [ "$(sysd_run systemctl show -P ActiveState pxelab-nest-b-$s.service)" = active ]
        done
        run sysd_run "$PXELAB" status nest-b
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab nest-b: healthy"* ]]
        sysd_run "$PXELAB" down nest-b
        [ -z "$(sysd_run systemctl list-units --all --plain --no-legend 'pxelab-nest*')" ]
}

@test "down trusts nothing a record says: foreign links, units, tables, mounts and another lab's record are left alone" {
        # A real lab's bridge carries pxelab's mark, and down deletes it.
        p=$(mkprofile t20 10.60.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        [ "$(sysd_run ip -j link show pxe-t20 | jq -r '.[0].ifalias')" = "pxelab:t20" ]
        # ... and the lab's MAC, which it was created with.
        mac=$(sysd_run ip -j link show pxe-t20 | jq -r '.[0].address')
        [[ "$mac" == 02:70:78:??:??:?? ]]
        sysd_run "$PXELAB" down t20
        ! sysd_run ip link show pxe-t20 || false
        [ "$(sysd_run "$PXELAB" up "$p" >/dev/null; sysd_run ip -j link show pxe-t20 | jq -r '.[0].address')" = "$mac" ]
        sysd_run "$PXELAB" down t20
        # The MAC alone marks a bridge only while it has no alias: one with
        # the lab's MAC and another alias is not the lab's.
        sysd_run ip link add brmac type bridge
        sysd_run ip link set brmac address "$mac" alias pxelab:other
        sysd_run mkdir -p /run/pxelab/t20
        sysd_run sh -c 'cat > /run/pxelab/t20/state.json' <<'JSON'
{ "lab": "t20", "bridge": { "name": "brmac", "type": "linux", "created": true, "addresses": [] },
  "units": [], "mounts": [], "vms": {} }
JSON
        run --separate-stderr sysd_run "$PXELAB" down t20
        [ "$status" -eq 0 ]
        [[ "$stderr" == *"Not deleting link 'brmac': it is a bridge link without pxelab's mark 'pxelab:t20' (alias 'pxelab:other')"* ]]
        sysd_run ip link show brmac
        # Without an alias, the lab's MAC is the mark a killed up leaves.
        sysd_run ip link set brmac alias ""
        sysd_run mkdir -p /run/pxelab/t20
        sysd_run sh -c 'cat > /run/pxelab/t20/state.json' <<'JSON'
{ "lab": "t20", "bridge": { "name": "brmac", "type": "linux", "created": true, "addresses": [] },
  "units": [], "mounts": [], "vms": {} }
JSON
        sysd_run "$PXELAB" down t20
        ! sysd_run ip link show brmac || false
        # Things that are not lab 'evil''s: a bridge and a veth, a unit, Debian's
        # default table, a mount outside the lab's dirs.
        sysd_run ip link add brfor type bridge
        sysd_run ip link add vfor0 type veth peer name vfor1
        sysd_run systemd-run --unit foreign-svc sleep 4646
        sysd_run nft add table inet filter
        sysd_run mkdir -p /run/foreign
        sysd_run mount -t tmpfs tmpfs /run/foreign
        sysd_run mkdir -p /run/pxelab/evil
        sysd_run sh -c 'cat > /run/pxelab/evil/state.json' <<'JSON'
{ "lab": "evil", "profile": "/x/evil.conf", "run_dir": "/run/foreign", "state_dir": "/etc",
  "slice": "system.slice", "address": "10.61.0.1/24",
  "bridge": { "name": "brfor", "type": "linux", "created": true, "addresses": ["10.61.0.1/24"] },
  "nft": { "table": "filter", "family": "inet" }, "forwarding": false,
  "units": ["foreign-svc.service", "pxelab-evil-b-dnsmasq.service"],
  "mounts": ["/run/foreign"],
  "vms": { "v1": { "name": "v1", "firmware": "bios", "mac": "52:54:00:00:00:01", "memory": 512,
                   "tap": "vfor0", "unit": "foreign-svc.service", "log": "/etc/passwd", "dir": "/etc",
                   "accel": "tcg" } } }
JSON
        run --separate-stderr sysd_run "$PXELAB" down evil
        echo "stdout: $output"
        echo "stderr: $stderr"
        [ "$status" -eq 0 ]
        r=/run/pxelab/evil/state.json
        [[ "$stderr" == *"Warning: $r: ignoring run directory '/run/foreign', which is not lab 'evil''s ('/run/pxelab/evil')"* ]]
        [[ "$stderr" == *"Warning: $r: ignoring slice 'system.slice', which is not lab 'evil''s ('pxelab-evil.slice')"* ]]
        [[ "$stderr" == *"Warning: $r: ignoring nftables table 'filter', which is not lab 'evil''s ('pxelab-evil')"* ]]
        [[ "$stderr" == *"Warning: $r: ignoring unit 'foreign-svc.service', which is not one of lab 'evil'"* ]]
        [[ "$stderr" == *"Warning: $r: ignoring unit 'pxelab-evil-b-dnsmasq.service', which is not one of lab 'evil'"* ]]
        [[ "$stderr" == *"Warning: $r: ignoring unit 'foreign-svc.service', which is not lab 'evil''s ('pxelab-evil-vm-v1.service')"* ]]
        [[ "$stderr" == *"Warning: $r: ignoring mount '/run/foreign', which is not lab 'evil''s ('/run/pxelab/evil/tftp' or '/run/pxelab/evil/serial')"* ]]
        [[ "$stderr" == *"Warning: Not deleting link 'vfor0': it is a veth link without pxelab's mark 'pxelab:evil' (alias none), so not lab 'evil''s"* ]]
        [[ "$stderr" == *"Warning: Not deleting link 'brfor': it is a bridge link without pxelab's mark 'pxelab:evil' (alias none), so not lab 'evil''s"* ]]
        [[ "$output" == *"Lab 'evil' is down"* ]]
        # All of it is still there; only the lab's own run dir went.
        sysd_run ip link show brfor
        sysd_run ip link show vfor0
        [ "$(sysd_run systemctl show -P ActiveState foreign-svc.service)" = active ]
        sysd_run nft list table inet filter
        sysd_run mountpoint -q /run/foreign
        sysd_run test -s /etc/passwd
        ! sysd_run test -e /run/pxelab/evil || false
        # A record whose "lab" is another lab's: nothing it names is touched, the
        # record is kept.
        sysd_run ip link set brfor alias pxelab:evil
        sysd_run mkdir -p /run/pxelab/evil2
        sysd_run sh -c 'cat > /run/pxelab/evil2/state.json' <<'JSON'
{ "lab": "evil", "bridge": { "name": "brfor", "type": "linux", "created": true, "addresses": [] },
  "units": [], "mounts": [], "vms": {} }
JSON
        run --separate-stderr sysd_run "$PXELAB" down evil2
        [ "$status" -eq 1 ]
        [ "$stderr" = "/run/pxelab/evil2/state.json: the record is of lab 'evil', not 'evil2'; leaving everything it names alone" ]
        sysd_run ip link show brfor
        sysd_run test -e /run/pxelab/evil2/state.json
}

@test "up: the checks fail with exit 2 and change nothing; a failure while making the lab is exit 1 and undone" {
        before=$(host_snapshot)
        # The check phase: the bridge's name is taken by a foreign link.
        sysd_run ip link add pxe-t21 type bridge
        p=$(mkprofile t21 10.63.0.1/24 'uplink = "none"')
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Interface 'pxe-t21' already exists and was not made by pxelab; choose another bridge.name" ]
        ! sysd_run test -e /run/pxelab/t21 || false
        sysd_run ip link del pxe-t21
        # The apply phase: a template that does not render (an unclosed section).
        mkdir -p "$OUT/lab-t21/tpl"
        printf 'events {}\n{{#bridge}}\n' > "$OUT/lab-t21/tpl/nginx.conf.mustache"
        sed -i '1a templates = "tpl"' "$p"
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        echo "$stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"nginx.conf.mustache:"* ]]
        [[ "$stderr" == *"Undoing what this 'up' did for lab 't21'"* ]]
        [ "$(host_snapshot)" = "$before" ]
}

@test "PXELAB_TIMING=1: up prints each step with its time on stderr, stdout stays the summary" {
        p=$(mkprofile t9 10.59.0.1/24 'uplink = "none"')
        run --separate-stderr sysd_run env PXELAB_TIMING=1 "$PXELAB" up "$p"
        echo "$stderr"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Lab 't9' is up."* ]]
        [[ "$output" != *"s] "* ]]
        # In order, each with the seconds since up began.
        steps=$(grep -E '^\[ *[0-9]+\.[0-9]{3}s\] ' <<< "$stderr" | sed 's/^\[[^]]*\] //' | cut -d' ' -f1-2)
        [ "$steps" = "$(printf '%s\n' 'Checked profile' 'Rendered /run/pxelab/t9' 'Bridge pxe-t9' 'nftables table' \
                'Started pxelab-t9-dnsmasq.service' 'Started pxelab-t9-nginx.service' 'Services stayed' 'Self-check passed:')" ]
        # Without it, and not on a terminal: no step lines at all.
        sysd_run "$PXELAB" down t9
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 0 ]
        [[ "$stderr$output" != *"s] "* ]]
        sysd_run "$PXELAB" down t9
}
