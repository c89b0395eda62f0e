#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Isolation (issue 7), inside the throwaway systemd of tests/harness/sysd.bash:
# the lab answers DHCP only on its bridge, its services listen only there,
# TFTP and HTTP serve nothing outside their roots, its files are root's
# alone and its units are sandboxed.
load common
load ../harness/sysd

setup() { sysd_boot; }
teardown() { sysd_kill; }

@test "a DHCP client on the uplink's network gets no offer while a lab client gets its lease" {
        mkuplink
        p=$(mkprofile is1 10.91.0.1/24)
        sysd_run "$PXELAB" up "$p"
        sysd_client_ns c1 pxe-is1
        # Capture DHCP on the uplink for the whole exchange.
        sysd_run sh -c 'echo $$ > /run/tcpdump.pid; exec tcpdump -i upl0 -n -l -p "udp port 67 or udp port 68"' \
                > "$OUT/is1.cap" 2> "$OUT/is1.caperr" 3>&- &
        for i in $(seq 100); do grep -q "listening on upl0" "$OUT/is1.caperr" && break; sleep 0.05; done
        grep -q "listening on upl0" "$OUT/is1.caperr"
        # A lab client boots while an office machine behind the uplink asks
        # for an address.
        sysd_udhcpc c1 > "$OUT/is1.lease" 3>&- &
        lab=$!
        run sysd_run ip netns exec wan busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 -s /bin/true
        echo "$output"
        [ "$status" -ne 0 ]
        wait "$lab"
        [[ "$(cat "$OUT/is1.lease")" == 10.91.0.* ]]
        sysd_run sh -c 'kill -INT $(cat /run/tcpdump.pid)'
        wait
        cat "$OUT/is1.cap"
        # The office's DISCOVERs crossed the uplink (the capture works)...
        [ "$(grep -c '0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request' "$OUT/is1.cap")" -ge 3 ]
        # ... and nothing came back from a DHCP server.
        ! grep -q '\.67 > ' "$OUT/is1.cap" || false
        # dnsmasq served the bridge and never heard of the uplink.
        log=$(sysd_run journalctl -u pxelab-is1-dnsmasq.service -o cat)
        [[ "$log" == *"DHCPACK(pxe-is1)"* ]]
        [[ "$log" != *upl0* ]]
}

@test "the lab's services listen only on the bridge" {
        mkuplink
        p=$(mkprofile is2 10.92.0.1/24)
        sysd_run "$PXELAB" up "$p"
        ula=$(sysd_run jq -r '.bridge.addresses[1] | sub("/.*"; "")' /run/pxelab/is2/state.json)
        [[ "$ula" == fd* ]]
        units=$(sysd_run jq -r '.units[]' /run/pxelab/is2/state.json)
        [ "$(echo "$units" | wc -l)" -ge 2 ]
        # Every TCP/UDP socket of every process of the lab's units.
        sysd_run ss -H -lntup > "$OUT/is2.ss"
        cat "$OUT/is2.ss"
        : > "$OUT/is2.ours"
        while read -r line; do
                for pid in $(grep -o 'pid=[0-9]*' <<< "$line" | cut -d= -f2); do
                        if sysd_run grep -q "/pxelab-is2-[a-z]*\.service$" "/proc/$pid/cgroup"; then
                                echo "$line" >> "$OUT/is2.ours"
                                break
                        fi
                done
        done < "$OUT/is2.ss"
        n=0
        while read -r proto state rq sq local rest; do
                addr=${local%:*}
                case "$addr" in
                10.92.0.1 | "[$ula]" | "0.0.0.0%pxe-is2" | "[::]%pxe-is2") ;;
                *) echo "listens outside the bridge: $proto $local $rest"; return 1 ;;
                esac
                n=$((n + 1))
        done < "$OUT/is2.ours"
        # DHCP on the device, TFTP and HTTP on the bridge's address.
        grep -q '^udp .* 0\.0\.0\.0%pxe-is2:67 ' "$OUT/is2.ours"
        grep -q '^udp .* 10\.92\.0\.1:69 ' "$OUT/is2.ours"
        grep -q '^tcp .* 10\.92\.0\.1:80 ' "$OUT/is2.ours"
        [ "$n" -ge 4 ]
        # Nothing answers through the uplink or loopback.
        ! sysd_run ip netns exec wan curl -s -m 2 http://10.99.0.1/boot.ipxe || false
        ! sysd_run curl -s -m 2 http://127.0.0.1/boot.ipxe || false
        ! sysd_run busybox tftp -g -r undionly.kpxe -l /tmp/x 127.0.0.1 || false
}

# tftp_get NAME: fetches NAME from the lab over TFTP as client c1; prints
# the content.
tftp_get() {
        sysd_client_run c1 sh -c "rm -f /tmp/got && busybox tftp -g -r '$1' -l /tmp/got 10.93.0.1 && cat /tmp/got"
}

@test "TFTP and HTTP refuse path traversal and symlinks out of their roots" {
        p=$(mkprofile is3 10.93.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        sysd_client_ns c1 pxe-is3
        sysd_client_run c1 ip addr add 10.93.0.9/24 dev eth0
        # What may be fetched is fetched.
        tftp_get undionly.kpxe | cmp - /usr/lib/ipxe/undionly.kpxe
        [ "$(sysd_client_run c1 curl -s -o /dev/null -w '%{http_code}' http://10.93.0.1/boot.ipxe)" = 200 ]
        # TFTP: nothing outside tftp/, whatever the spelling...
        for name in ../../etc/passwd ../state.json ../dnsmasq.conf /etc/passwd //etc/passwd \
                    '..\..\etc\passwd' ..%2f..%2fetc%2fpasswd %2e%2e/%2e%2e/etc/passwd; do
                run tftp_get "$name"
                echo "tftp '$name': exit $status: $output"
                [ "$status" -ne 0 ]
                [[ "$output" != *root:x:0:0* ]]
        done
        # ... nor through symlinks in either root, out to a readable file
        # and a directory.
        for d in tftp http; do
                sysd_run ln -s /etc/passwd "/run/pxelab/is3/$d/passwd"
                sysd_run ln -s /etc "/run/pxelab/is3/$d/etc"
        done
        for name in passwd ./passwd etc/passwd /etc/passwd; do
                run tftp_get "$name"
                echo "tftp '$name': exit $status: $output"
                [ "$status" -ne 0 ]
                [[ "$output" != *root:x:0:0* ]]
        done
        tftp_get undionly.kpxe | cmp - /usr/lib/ipxe/undionly.kpxe
        # HTTP: the same, sent as-is.
        for path in /../../etc/passwd /%2e%2e/%2e%2e/etc/passwd /..%2f..%2fetc%2fpasswd /%2e%2e%2f%2e%2e%2fetc%2fpasswd \
                    /files/rescue/../../../etc/passwd /files/rescue/..%2f..%2f..%2fetc%2fpasswd //etc/passwd \
                    /../state.json /../nginx.conf /passwd /etc/passwd /./passwd /files/ /boot/ /; do
                code=$(sysd_client_run c1 curl -s --path-as-is -o /tmp/body -w '%{http_code}' "http://10.93.0.1$path")
                echo "http '$path': $code"
                [ "$code" != 200 ]
                ! sysd_client_run c1 grep -q 'root:x:0:0' /tmp/body || false
        done
        # An absolute URI in the request line does not escape either.
        code=$(sysd_client_run c1 curl -s --request-target 'http://10.93.0.1/../../etc/passwd' -o /tmp/body \
                -w '%{http_code}' http://10.93.0.1/)
        [ "$code" != 200 ]
}

@test "a boot file swapped for a symlink is not served, not even to a root-only file" {
        p=$(mkprofile is7 10.97.0.1/24 'uplink = "none"')
        d=$(dirname "$p")
        sysd_run "$PXELAB" up "$p"
        sysd_client_ns c1 pxe-is7
        sysd_client_run c1 ip addr add 10.97.0.9/24 dev eth0
        url=http://10.97.0.1/files/rescue/vmlinuz
        [ "$(sysd_client_run c1 curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]
        # A local user owns the boot file's directory and swaps the file for
        # a link: to a root-only file, and to one anybody may read.
        echo "root-only secret" > "$BATS_TEST_TMPDIR/secret"
        sysd_run sh -c "cat '$BATS_TEST_TMPDIR/secret' > /var/lib/pxelab/secret && chmod 0600 /var/lib/pxelab/secret"
        chown nobody "$d"
        for target in /var/lib/pxelab/secret /etc/hostname; do
                sysd_run setpriv --reuid=nobody --regid=nogroup --clear-groups ln -sfn "$target" "$d/vmlinuz"
                code=$(sysd_client_run c1 curl -s -o /tmp/body -w '%{http_code}' "$url")
                echo "$target: $code"
                [ "$code" = 403 ] || [ "$code" = 404 ]
                ! sysd_client_run c1 grep -q 'root-only secret' /tmp/body || false
        done
}

@test "run dir 0711, state dir 0700, all root's; served dirs readable; the record and configs 0600" {
        p=$(mkprofile is4 10.94.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        sysd_client_ns c1 pxe-is4
        sysd_udhcpc c1    # a lease file exists
        # The services run as nobody: they may pass through the run dir to
        # what they serve, but not list it or read anything else in it.
        [ "$(sysd_run stat -c '%a %U %G' /run/pxelab/is4)" = "711 root root" ]
        [ "$(sysd_run stat -c '%a %U %G' /var/lib/pxelab/is4)" = "700 root root" ]
        for d in http http/boot tftp; do
                [ "$(sysd_run stat -c '%a %U' "/run/pxelab/is4/$d")" = "755 root" ]
        done
        for d in log nginx dnsmasq; do
                [ "$(sysd_run stat -c '%a %U' "/run/pxelab/is4/$d")" = "700 root" ]
        done
        for d in /run/pxelab/is4 /var/lib/pxelab/is4; do
                # Nothing is writable by others; only nginx's own temp dirs
                # (made by its master for its workers) are not root's.
                [ -z "$(sysd_run find "$d" -perm /022 ! -type l)" ]
                [ -z "$(sysd_run find "$d" ! -user root ! -path '/run/pxelab/is4/nginx/*')" ]
        done
        sysd_run test -s /var/lib/pxelab/is4/dnsmasq.leases
        for f in state.json dnsmasq.conf nginx.conf; do
                [ "$(sysd_run stat -c %a "/run/pxelab/is4/$f")" = 600 ]
        done
        # As nobody: the record cannot be read, the run dir not listed.
        ! sysd_run setpriv --reuid=nobody --regid=nogroup --clear-groups cat /run/pxelab/is4/state.json || false
        ! sysd_run setpriv --reuid=nobody --regid=nogroup --clear-groups ls /run/pxelab/is4 || false
        sysd_run setpriv --reuid=nobody --regid=nogroup --clear-groups cat /run/pxelab/is4/http/boot.ipxe > /dev/null
}

# The unit's property, as systemctl shows it.
prop() {
        sysd_run systemctl show -P "$2" "$1"
}

# The sources of the unit's BindReadOnlyPaths ("SRC:DST:rbind ..."), sorted.
binds_of() {
        prop "$1" BindReadOnlyPaths | tr ' ' '\n' | cut -d: -f1 | sort | xargs
}

# Of the files given, those the units' PrivateTmp hides (so pxelab binds
# them in; PXELAB_TEST_TMP may put the test data there), sorted.
in_private_tmp() {
        local f
        for f in "$@"; do
                case "$f" in /tmp/* | /var/tmp/*) echo "$f" ;; esac
        done | sort | xargs
}

@test "the lab's units are sandboxed: systemctl shows it and the processes feel it" {
        p=$(mkprofile is5 10.95.0.1/24 'uplink = "none"')
        sysd_run mkdir -p /run/user/0
        sysd_run touch /run/user/0/is5-file
        sysd_run "$PXELAB" up "$p"
        for svc in dnsmasq nginx; do
                u=pxelab-is5-$svc.service
                [ "$(prop "$u" ProtectSystem)" = strict ]
                # No boot file lives in a home: all homes hidden; bound in
                # are only boot files that PrivateTmp would hide.
                [ "$(prop "$u" ProtectHome)" = yes ]
                [ "$(binds_of "$u")" = "$(in_private_tmp "$OUT/lab-is5/vmlinuz" "$OUT/lab-is5/initrd.img")" ]
                for k in PrivateTmp NoNewPrivileges ProtectControlGroups ProtectKernelModules ProtectKernelTunables \
                         ProtectKernelLogs ProtectHostname RestrictSUIDSGID LockPersonality RestrictRealtime \
                         PrivateDevices ProtectClock RestrictNamespaces MemoryDenyWriteExecute; do
                        [ "$(prop "$u" "$k")" = yes ] || { echo "$u: $k=$(prop "$u" "$k")"; return 1; }
                done
                [ "$(prop "$u" ProtectProc)" = invisible ]
                [ "$(prop "$u" SystemCallArchitectures)" = native ]
                # @system-service's allow-list: present, and without e.g. mount or reboot.
                filter=$(prop "$u" SystemCallFilter)
                [[ " $filter " == *" openat "* ]]
                [[ " $filter " != *" mount "* && " $filter " != *" reboot "* ]]
                [ "$(prop "$u" Restart)" = on-failure ]
        done
        # Each writes only its own dirs: not the run dir with the record.
        [ "$(prop pxelab-is5-dnsmasq.service ReadWritePaths)" = \
          "/run/pxelab/is5/dnsmasq /var/lib/pxelab/is5/dnsmasq.leases" ]
        [ "$(prop pxelab-is5-nginx.service ReadWritePaths)" = "/run/pxelab/is5/nginx /run/pxelab/is5/log" ]
        [ "$(prop pxelab-is5-dnsmasq.service RestrictAddressFamilies | tr ' ' '\n' | sort | xargs)" = \
          "AF_INET AF_INET6 AF_NETLINK AF_UNIX" ]
        [ "$(prop pxelab-is5-nginx.service RestrictAddressFamilies | tr ' ' '\n' | sort | xargs)" = \
          "AF_INET AF_INET6 AF_UNIX" ]
        # Exactly the capabilities each needs.
        [ "$(prop pxelab-is5-dnsmasq.service CapabilityBoundingSet | tr ' ' '\n' | sort | xargs)" = \
          "cap_net_admin cap_net_bind_service cap_net_raw cap_setgid cap_setuid" ]
        [ "$(prop pxelab-is5-nginx.service CapabilityBoundingSet | tr ' ' '\n' | sort | xargs)" = \
          "cap_chown cap_net_bind_service cap_setgid cap_setuid" ]
        # dnsmasq itself and nginx's workers (what lab clients talk to) are nobody.
        [ "$(sysd_run ps -o user= -p "$(prop pxelab-is5-dnsmasq.service MainPID)")" = nobody ]
        workers=$(sysd_run ps -o user= --ppid "$(prop pxelab-is5-nginx.service MainPID)" | sort -u)
        [ "$workers" = nobody ]
        # The running processes: bounding set as shown, no new privileges,
        # and inside their mount namespace / is read-only but for the lab's
        # dirs, /tmp private, and each home (/root, /home, /run/user) an
        # inaccessible mount: mode 000 and empty, whatever is in it outside
        # (the harness's /run/user/0 has a file; /root may hold this checkout).
        sysd_run touch /tmp/host-tmp-file
        for svc in dnsmasq nginx; do
                pid=$(prop "pxelab-is5-$svc.service" MainPID)
                [ "$(sysd_run awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")" = 1 ]
                capbnd=$(sysd_run awk '/^CapBnd:/ {print $2}' "/proc/$pid/status")
                [ $(( 16#$capbnd & (1 << 21) )) -eq 0 ]    # no CAP_SYS_ADMIN
                run sysd_run nsenter -t "$pid" -m touch /etc/pxelab-probe
                [ "$status" -ne 0 ]
                [[ "$output" == *"Read-only file system"* ]]
                run sysd_run nsenter -t "$pid" -m touch /usr/pxelab-probe
                [ "$status" -ne 0 ]
                # The record and the configs are out of reach; its own dir is not.
                run sysd_run nsenter -t "$pid" -m touch /run/pxelab/is5/state.json
                [ "$status" -ne 0 ]
                [[ "$output" == *"Read-only file system"* ]]
                sysd_run nsenter -t "$pid" -m touch "/run/pxelab/is5/$svc/probe"
                sysd_run nsenter -t "$pid" -m rm "/run/pxelab/is5/$svc/probe"
                # No block device (or any hardware) to write to.
                [ -z "$(sysd_run nsenter -t "$pid" -m find /dev -type b)" ]
                ! sysd_run nsenter -t "$pid" -m test -e /dev/kvm || false
                ! sysd_run nsenter -t "$pid" -m test -e /tmp/host-tmp-file || false
                for h in /root /home /run/user; do
                        sysd_run nsenter -t "$pid" -m mountpoint -q "$h"
                        [ "$(sysd_run nsenter -t "$pid" -m stat -c %a "$h")" = 0 ]
                        [ -z "$(sysd_run nsenter -t "$pid" -m ls -A "$h")" ]
                done
        done
}

@test "a boot file in a home directory is all the units see of the homes, and it is served" {
        p=$(mkprofile is8 10.98.0.1/24 'uplink = "none"')
        # In the harness's own /run/user (its /run is private), beside
        # another file that must stay hidden.
        sysd_run mkdir -p /run/user/0/is8
        sysd_run cp "$OUT/lab-is8/vmlinuz" /run/user/0/is8/vmlinuz
        sysd_run touch /run/user/0/is8/other /run/user/0/is8-other
        sed -i 's|kernel = "vmlinuz"|kernel = "/run/user/0/is8/vmlinuz"|' "$p"
        sysd_run "$PXELAB" up "$p"
        for svc in dnsmasq nginx; do
                u=pxelab-is8-$svc.service
                # Homes are an empty tmpfs with the one file bound in, read-only.
                [ "$(prop "$u" ProtectHome)" = tmpfs ]
                [ "$(binds_of "$u")" = "$(echo /run/user/0/is8/vmlinuz $(in_private_tmp "$OUT/lab-is8/initrd.img") | xargs -n1 | sort | xargs)" ]
                pid=$(prop "$u" MainPID)
                run sysd_run nsenter -t "$pid" -m find /root /home /run/user -mindepth 1
                echo "$output"
                [ "$status" -eq 0 ]
                [ "$(sort <<< "$output" | xargs)" = "/run/user/0 /run/user/0/is8 /run/user/0/is8/vmlinuz" ]
                run sysd_run nsenter -t "$pid" -m touch /run/user/0/is8/vmlinuz
                [ "$status" -ne 0 ]
        done
        sysd_client_ns c1 pxe-is8
        sysd_udhcpc c1
        sysd_client_run c1 curl -sf -o /tmp/k http://10.98.0.1/files/rescue/vmlinuz
        sysd_client_run c1 cmp /tmp/k "$OUT/lab-is8/vmlinuz"
}

@test "the lab's own addresses answer its bridge and the host, not a machine routing to them over the uplink" {
        mkuplink
        p=$(mkprofile is6 10.96.0.1/24)
        sysd_run "$PXELAB" up "$p"
        ula=$(sysd_run jq -r '.bridge.addresses[1] | sub("/.*"; "")' /run/pxelab/is6/state.json)
        [[ "$ula" == fd*::1 ]]
        # An office machine that routes the lab's subnets through this host.
        sysd_run ip addr add fd99::1/64 dev upl0 nodad
        sysd_run ip -n wan addr add fd99::2/64 dev eth0 nodad
        sysd_run ip -n wan route add 10.96.0.0/24 via 10.99.0.1
        sysd_run ip -n wan -6 route add "${ula%1}/64" via fd99::1
        # The path works: the host's uplink addresses answer over it...
        sysd_run ip netns exec wan busybox ping -q -c 1 -W 2 10.99.0.1
        sysd_run ip netns exec wan busybox ping -q -c 1 -W 2 fd99::1
        # ... the lab's don't: HTTP times out (dropped, not even refused),
        # pings go unanswered.
        run sysd_run ip netns exec wan curl -s -m 3 -o /dev/null http://10.96.0.1/boot.ipxe
        echo "curl from wan: exit $status"
        [ "$status" -eq 28 ]
        run sysd_run ip netns exec wan busybox ping -q -c 1 -W 1 10.96.0.1
        [ "$status" -ne 0 ]
        run sysd_run ip netns exec wan busybox ping -q -c 1 -W 1 "$ula"
        [ "$status" -ne 0 ]
        # A lab client and the host itself (over lo) still get boot.ipxe.
        sysd_client_ns c1 pxe-is6
        [[ "$(sysd_udhcpc c1)" == 10.96.0.* ]]
        [ "$(sysd_client_run c1 curl -fsS -m 3 http://10.96.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
        [ "$(sysd_run curl -fsS -m 3 http://10.96.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
        sysd_run busybox ping -q -c 1 -W 2 "$ula"
}

@test "a machine routing to the lab over the uplink cannot open connections to lab clients" {
        mkuplink
        p=$(mkprofile is7 10.97.0.1/24)
        sysd_run "$PXELAB" up "$p"
        sysd_client_ns c1 pxe-is7
        ip=$(sysd_udhcpc c1)
        [[ "$ip" == 10.97.0.* ]]
        sysd_client_run c1 ip route add default via 10.97.0.1
        # A service on the lab client.
        sysd_client_run c1 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(1); s.settimeout(8)
try:
    c, a = s.accept(); c.sendall(b"reached"); c.close()
except socket.timeout:
    pass' &
        for i in $(seq 50); do sysd_client_run c1 ss -ltn | grep -q ':9000' && break; sleep 0.1; done
        sysd_run ip -n wan route add 10.97.0.0/24 via 10.99.0.1
        run sysd_run ip netns exec wan curl -s -m 3 "http://$ip:9000/"
        echo "curl from wan to the lab client: exit $status, output '$output'"
        [ "$status" -ne 0 ]
        [[ "$output" != *reached* ]]
        # The lab client itself is fine and still reaches the lab.
        [ "$(sysd_client_run c1 curl -s -m 3 -o /dev/null -w '%{http_code}' http://10.97.0.1/boot.ipxe)" = 200 ]
        wait
}
