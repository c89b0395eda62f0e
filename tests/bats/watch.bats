#!/usr/bin/env bats
# pxelab watch, status's clients and vm start --wait, from real boots in the
# throwaway systemd (tests/harness/sysd.bash): two VMs boot through one lab,
# and every claim is checked on what their boots left in the journal.
#   b1  BIOS (QEMU's iPXE ROM), a known host whose entry "broken" names a
#       kernel removed after `up`: HTTP 404, the failed beacon, `vm start
#       --wait` exits 1 with the reason; the entry script then returns to the
#       menu, whose default "good" boots (the booted beacon).
#   u1  UEFI-PXE (OVMF's own PXE: TFTP snponly.efi, then iPXE): the whole chain;
#       `vm start --wait` exits 0.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=wat
NET=10.67.0
BIOS_MAC=52:54:00:67:00:01
UEFI_MAC=52:54:00:67:00:02
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-150}
# Pinned: these tests boot guests; how KVM fares here is accel.bats' business.
export PXELAB_ACCEL=tcg

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR"
        cp "$PAYLOAD/vmlinuz" "$PROFILE_DIR/gone-vmlinuz"
        {
                echo "lab = \"$LAB\""
                echo "bridge { address = \"$NET.1/24\" uplink = \"none\" }"
                echo 'menu { timeout = 0 default = "good" }'
                echo "boot \"good\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=good\" }"
                echo "boot \"broken\" { kind = \"linux\" kernel = \"$PROFILE_DIR/gone-vmlinuz\""
                echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0\" }"
                echo "host \"b1\" { mac = \"$BIOS_MAC\" boot = \"broken\" }"
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
        # up checked every file; now the broken entry's kernel is gone.
        rm "$PROFILE_DIR/gone-vmlinuz"
}

teardown_file() { sysd_kill; }

events() {   # MAC: watch --json's events of MAC
        sysd_run "$PXELAB" watch "$LAB" --json | jq -c --arg mac "$1" 'select(.mac == $mac)'
}

# Waits (bounded) until MAC has an event of KIND.
wait_event() {   # MAC KIND
        for _ in $(seq "$BOOT_TIMEOUT"); do
                events "$1" | jq -e --arg k "$2" 'select(.event == $k)' >/dev/null && return 0
                sleep 1
        done
        echo "no '$2' event for $1 within ${BOOT_TIMEOUT}s:"; events "$1"
        return 1
}

@test "watch and vm start --wait: usage errors exit 2, no lab exits 1" {
        run sysd_run "$PXELAB" watch --bogus
        [ "$status" -eq 2 ]
        run sysd_run "$PXELAB" watch "$LAB" --since yesterday-ish
        [ "$status" -eq 2 ]
        [[ "$output" == *"--since: 'yesterday-ish' is neither"* ]]
        run sysd_run "$PXELAB" watch Bad.Lab
        [ "$status" -eq 2 ]
        run sysd_run "$PXELAB" watch nolab
        [ "$status" -eq 1 ]
        [[ "$output" == *"Lab 'nolab' is not up"* ]]
        run sysd_run "$PXELAB" vm start "$LAB" x1 --wait=0
        [ "$status" -eq 2 ]
        [[ "$output" == *"--wait: '0' is not a number of seconds"* ]]
        # Nothing booted yet: no clients (up's own requests from the lab's
        # address are none), watch prints nothing and exits 0.
        sysd_run "$PXELAB" status "$LAB" --json | jq -e '.labs[0].units | length == 2'
        run sysd_run "$PXELAB" watch "$LAB"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
        for w in 30s 10m 2h 1d @1700000000 "2020-01-01 00:00" "2020-01-01 00:00:30"; do
                run sysd_run "$PXELAB" watch "$LAB" --since "$w"
                [ "$status" -eq 0 ]
                [ -z "$output" ]
        done
        # The only lab that is up is the default.
        run sysd_run "$PXELAB" watch --json
        [ "$status" -eq 0 ]
        sysd_run "$PXELAB" status "$LAB" --json | jq -e '.labs[0].clients == []'
}

@test "vm start --wait: 1 with the 404 and the failed entry for the broken one, 0 once UEFI-PXE booted" {
        # Both at once (they boot in parallel); the BIOS one in the background.
        sysd_run "$PXELAB" vm start "$LAB" b1 --firmware bios --mac $BIOS_MAC --memory 256 --wait "$BOOT_TIMEOUT" \
                > "$OUT/wait-b1.out" 2>&1 &
        bpid=$!
        run sysd_run "$PXELAB" vm start "$LAB" u1 --firmware uefi-pxe --mac $UEFI_MAC --memory 256 --wait "$BOOT_TIMEOUT"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"u1: +0.0s DHCP arch=uefi-x64 → $NET."*", snponly.efi"* ]]
        [[ "$output" == *"u1: +"*"s TFTP snponly.efi "* ]]
        [[ "$output" == *"u1: +"*"s booted 'good'"* ]]
        [[ "$output" == *"VM 'u1' booted 'good' "*" s after its first DHCPDISCOVER"* ]]
        rc=0
        wait "$bpid" || rc=$?
        cat "$OUT/wait-b1.out"
        [ "$rc" -eq 1 ]
        grep -q "b1: +0.0s DHCP (iPXE) arch=bios" "$OUT/wait-b1.out"
        grep -q "!! HTTP 404 /files/broken/gone-vmlinuz" "$OUT/wait-b1.out"
        grep -q "VM 'b1' did not boot: entry 'broken' failed (iPXE error 0x[0-9a-f]*) after HTTP 404 /files/broken/gone-vmlinuz" \
                "$OUT/wait-b1.out"
}

@test "watch --json: the BIOS VM's steps, its 404 and failed beacon, then the menu's default booted" {
        wait_event $BIOS_MAC booted
        ip=$(sysd_run "$PXELAB" status "$LAB" --json | jq -r --arg m $BIOS_MAC '.labs[0].leases[] | select(.mac == $m) | .ip')
        k=$(stat -c %s "$PAYLOAD/vmlinuz")
        run events $BIOS_MAC
        echo "$output"
        # One line per step, in order: event and what it was.
        steps=$(jq -r '[.event, (.path // .bootfile // .entry // "")] | join(" ")' <<< "$output" | tr '\n' ';')
        [ "$steps" = "dhcp http://$NET.1/boot.ipxe;http /boot.ipxe;http /hosts/52-54-00-67-00-01.ipxe;http /boot/broken.ipxe;http /files/broken/gone-vmlinuz;failed broken;http /menu.ipxe;http /boot/good.ipxe;http /files/good/vmlinuz;http /files/good/initrd.img;booted good;" ]
        first=$(head -1 <<< "$output")
        jq -e --arg ip "$ip" '.arch == "bios" and .ipxe == true and .result == "ack" and .ip == $ip and
                .hostname == "b1" and .t == 0 and .problem == null' <<< "$first"
        grep '"path":"/files/broken/gone-vmlinuz"' <<< "$output" |
                jq -e '.status == 404 and .problem == "HTTP 404 /files/broken/gone-vmlinuz"'
        grep '"event":"failed"' <<< "$output" |
                jq -e '.entry == "broken" and (.err | test("^0x[0-9a-f]{8}$")) and
                       .problem == "entry '"'broken'"' failed (iPXE error \(.err)) after HTTP 404 /files/broken/gone-vmlinuz"'
        grep '"path":"/files/good/vmlinuz"' <<< "$output" | jq -e --argjson k "$k" '.status == 200 and .bytes == $k and .length == $k'
        # Every event has the MAC, the leased IP and a time that only grows.
        jq -s -e --arg ip "$ip" 'all(.ip == $ip) and ([.[].t] == ([.[].t] | sort)) and
                ([.[] | select(.problem != null)] | length == 2)' <<< "$output"
}

@test "watch --json: the UEFI-PXE VM's chain: firmware DHCP, TFTP loader, iPXE DHCP, scripts, files, booted" {
        run events $UEFI_MAC
        echo "$output"
        steps=$(jq -r '[.event, (.path // .file // .bootfile // .entry // "")] | join(" ")' <<< "$output" | tr '\n' ';')
        # OVMF may fetch the loader twice (dnsmasq says "sent" for each).
        steps=$(sed 's/tftp snponly.efi;tftp snponly.efi;/tftp snponly.efi;/' <<< "$steps")
        [ "$steps" = "dhcp snponly.efi;tftp snponly.efi;dhcp http://$NET.1/boot.ipxe;http /boot.ipxe;http /menu.ipxe;http /boot/good.ipxe;http /files/good/vmlinuz;http /files/good/initrd.img;booted good;" ]
        head -1 <<< "$output" | jq -e '.arch == "uefi-x64" and .ipxe == false and .t == 0'
        size=$(stat -L -c %s /usr/lib/ipxe/snponly.efi)
        grep '"event":"tftp"' <<< "$output" | jq -e --argjson s "$size" '.result == "sent" and .bytes == $s'
        grep '"event":"dhcp"' <<< "$output" | tail -1 | jq -e '.ipxe == true and .arch == "uefi-x64" and .t > 0'
        # A good boot names no problem (OVMF's aborted size probe is none).
        jq -s -e 'all(.problem == null) and ([.[].t] == ([.[].t] | sort))' <<< "$output"
}

@test "watch: one line per step, grouped by client, with the VM's name and the problem in its line" {
        run sysd_run "$PXELAB" watch "$LAB"
        echo "$output"
        [ "$status" -eq 0 ]
        b=$(grep -n "^$BIOS_MAC (b1) " <<< "$output" | cut -d: -f1)
        u=$(grep -n "^$UEFI_MAC (u1) " <<< "$output" | cut -d: -f1)
        [ -n "$b" ] && [ -n "$u" ]
        # Each client's label once; its other lines indented under it.
        [ "$(grep -c "^52:54:00" <<< "$output")" -eq 2 ]
        [ "$(grep -c '^ ' <<< "$output")" -eq $(($(wc -l <<< "$output") - 2)) ]
        [[ "$(sed -n "${b}p" <<< "$output")" == *"+0.0s DHCP (iPXE) arch=bios → $NET."*", http://$NET.1/boot.ipxe" ]]
        grep -q "s HTTP /files/broken/gone-vmlinuz 404 .* !! HTTP 404 /files/broken/gone-vmlinuz$" <<< "$output"
        grep -q "s failed 'broken' (iPXE error 0x" <<< "$output"
        grep -qE "s HTTP /files/good/vmlinuz 200 [0-9.]+ MB" <<< "$output"
        [[ "$(sed -n "${u}p" <<< "$output")" == *"+0.0s DHCP arch=uefi-x64 → $NET."*", snponly.efi" ]]
        grep -qE "s TFTP snponly.efi [0-9.]+ (kB|MB)$" <<< "$output"
        [ "$(grep -c "s booted 'good'$" <<< "$output")" -eq 2 ]
}

@test "status: the clients, with their last step and the entry they booted" {
        run sysd_run "$PXELAB" status "$LAB" --json
        [ "$status" -eq 0 ]
        c=$(jq -c '.labs[0].clients' <<< "$output")
        echo "$c"
        jq -e --arg b $BIOS_MAC --arg u $UEFI_MAC '[.[].mac] == [$b, $u]' <<< "$c"
        jq -e '.[0] | .last_event == "booted" and .last_step == "booted '"'good'"'" and .entry == "good" and
                .hostname == "b1" and .problem == null and (.time | type) == "number"' <<< "$c"
        jq -e '.[1] | .last_event == "booted" and .entry == "good"' <<< "$c"
        # Each client's IP is its lease.
        run sysd_run "$PXELAB" status "$LAB" --json
        jq -e '.labs[0] | [.leases[] | {mac, ip}] - [.clients[] | {mac, ip}] == []' <<< "$output"
        run sysd_run "$PXELAB" status "$LAB"
        echo "$output"
        grep -qE "^  client:   $BIOS_MAC $NET\.[0-9]+ +[0-9:]{8} booted 'good' \(entry 'good'\)$" <<< "$output"
        grep -qE "^  client:   $UEFI_MAC " <<< "$output"
}

@test "watch -f follows new steps; --since leaves out the older ones" {
        # A client of our own on the bridge, asking for a beacon by hand.
        sysd_run ip netns add cl
        sysd_run ip link add wcl0 type veth peer name eth0 netns cl
        sysd_run ip link set wcl0 master "pxe-$LAB" up
        sysd_run ip -n cl addr add "$NET.9/24" dev eth0
        sysd_run ip -n cl link set eth0 up
        since=$(date +%s)
        sleep 1
        sysd_run timeout 8 "$PXELAB" watch "$LAB" -f --json --since "@$since" > "$OUT/follow.out" &
        fpid=$!
        sleep 2
        sysd_run ip netns exec cl curl -sf -o /dev/null "http://$NET.1/_/booted?mac=52%3A54%3A00%3A67%3A00%3A77&entry=byhand"
        sysd_run ip netns exec cl curl -s -o /dev/null "http://$NET.1/files/nothing-here"
        wait "$fpid" || true
        cat "$OUT/follow.out"
        # Only what came after --since: the two requests, live.
        [ "$(wc -l < "$OUT/follow.out")" -eq 2 ]
        head -1 "$OUT/follow.out" | jq -e --arg ip "$NET.9" '.event == "booted" and .mac == "52:54:00:67:00:77" and
                .entry == "byhand" and .ip == $ip'
        tail -1 "$OUT/follow.out" | jq -e --arg ip "$NET.9" '.event == "http" and .status == 404 and .ip == $ip and
                .mac == "52:54:00:67:00:77" and .problem == "HTTP 404 /files/nothing-here"'
        # Without -f it prints what happened and exits, --since 1h includes all.
        run sysd_run "$PXELAB" watch "$LAB" --json --since 1h
        [ "$status" -eq 0 ]
        [ "$(jq -s 'map(.mac) | unique | length' <<< "$output")" -eq 3 ]
}

@test "vm start --wait SECONDS: 1 when time runs out, with what it saw" {
        # OVMF takes longer than 2 s to its first DHCPDISCOVER under TCG.
        run sysd_run "$PXELAB" vm start "$LAB" t1 --firmware uefi --mac 52:54:00:67:00:03 --memory 256 --wait 2
        echo "$output"
        sysd_run "$PXELAB" vm stop "$LAB" t1
        [ "$status" -eq 1 ]
        [[ "$output" == *"VM 't1' did not boot within 2 s: no DHCP request from 52:54:00:67:00:03 seen"* ]]
}
