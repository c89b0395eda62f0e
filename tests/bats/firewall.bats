#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# What a lab client reaches (issue 13), inside the throwaway systemd of
# tests/harness/sysd.bash: the host's lab services and the ports the
# profile allows, at the lab's own addresses; the network beyond the uplink
# (NAT). Not the host's other services, not other labs, not the networks
# of the host's other interfaces, and nothing from those reaches the lab.
load common
load ../harness/sysd

setup() { sysd_boot; }
teardown() { sysd_kill; }

# listen WHERE ADDR PORT PROTO TAG: in the background, a server that answers
# every TCP connection and every UDP datagram with TAG; returns once it
# listens (it says so in a file of its own: another program may listen on
# the same port at another address). WHERE: "host" or a network namespace
# of the harness. ADDR "::" listens on every IPv4 and IPv6 address.
listen() {
        local where=$1 addr=$2 port=$3 proto=$4 tag=$5 ns=() ready
        ready=/run/pxelab-sysd/listen-$where-$addr-$port-$proto
        [ "$where" = host ] || ns=(ip netns exec "$where")
        sysd_run "${ns[@]}" python3 -c '
import socket, sys
addr, port, proto, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode() + b"\n"
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
if proto == "tcp":
    s.listen(8)
open(sys.argv[5], "w").close()
while proto == "tcp":
    c, _ = s.accept(); c.sendall(tag); c.close()
while True:
    _, peer = s.recvfrom(100); s.sendto(tag, peer)' "$addr" "$port" "$proto" "$tag" "$ready" \
                </dev/null >/dev/null 2>&1 3>&- &
        for _ in $(seq 50); do
                sysd_run test -e "$ready" && return 0
                sleep 0.1
        done
        echo "nothing listens on $proto port $port in $where"
        return 1
}

# probe WHERE ADDR PORT PROTO: "reply TAG", "timeout" (dropped), "refused"
# or "error REASON", trying for 2 s.
probe() {
        local where=$1 ns=()
        [ "$where" = host ] || ns=(ip netns exec "$where")
        sysd_run "${ns[@]}" python3 -c '
import socket, sys
addr, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.connect((addr, port))
    if proto == "udp":
        s.send(b"probe")
    print("reply " + s.recv(100).decode().strip())
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error " + e.strerror)' "$2" "$3" "$4"
}

# probe_is WANT WHERE ADDR PORT PROTO: probe, say what was probed, compare.
probe_is() {
        local want=$1 got
        shift
        got=$(probe "$@")
        echo "probe from $1 to $2 port $3/$4: $got (want: $want)"
        [ "$got" = "$want" ]
}

# client NAME BRIDGE GATEWAY: a lab client with its lease and a default route
# through the lab.
client() {
        sysd_client_ns "$1" "$2"
        [[ "$(sysd_udhcpc "$1")" == "${3%.*}".* ]]
        sysd_client_run "$1" ip route add default via "$3"
}

# dhcpv6 CLIENT: sends a DHCPv6 Information-Request from CLIENT's eth0 to
# All_DHCP_Relay_Agents_and_Servers; "reply" when a Reply to it comes back.
dhcpv6() {
        sysd_client_run "$1" python3 -c '
import os, socket, struct
idx = socket.if_nametoindex("eth0")
mac = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
xid = os.urandom(3)
duid = struct.pack("!HH", 3, 1) + mac                       # DUID-LL, Ethernet
msg = bytes([11]) + xid + struct.pack("!HH", 1, len(duid)) + duid \
    + struct.pack("!HHH", 8, 2, 0) + struct.pack("!HHH", 6, 2, 23)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 546))
s.settimeout(2)
for _ in range(3):
    s.sendto(msg, ("ff02::1:2", 547, 0, idx))
    try:
        while True:
            d, _ = s.recvfrom(1500)
            if d[0] == 7 and d[1:4] == xid:
                print("reply"); raise SystemExit(0)
    except socket.timeout:
        pass
print("timeout")'
}

@test "a lab client reaches the lab's services, not the host's others; allow_host_ports opens those it lists" {
        mkuplink
        p=$(mkprofile fw1 10.81.0.1/24)
        sysd_run "$PXELAB" up "$p"
        ula=$(sysd_run jq -r '.bridge.addresses[1] | sub("/.*"; "")' /run/pxelab/fw1/state.json)
        [[ "$ula" == fd*::1 ]]
        # Services of the host on all its addresses, answering the host itself.
        listen host :: 2222 tcp host-tcp
        listen host :: 2223 udp host-udp
        listen host :: 2224 tcp host-other
        probe_is "reply host-tcp" host 10.81.0.1 2222 tcp
        probe_is "reply host-udp" host 10.81.0.1 2223 udp
        # A lab client: DHCP, then router advertisements give it an address
        # in the lab's ULA prefix.
        client c1 pxe-fw1 10.81.0.1
        for _ in $(seq 100); do
                sysd_client_run c1 ip -6 -o addr show dev eth0 scope global | grep -q inet6 && break
                sleep 0.1
        done
        sysd_client_run c1 ip -6 -o addr show dev eth0 scope global | grep -q inet6
        sysd_run journalctl -u pxelab-fw1-dnsmasq.service -o cat | grep -q 'RTR-SOLICIT(pxe-fw1)'
        # The lab's services: HTTP, a whole loader over TFTP (its data
        # blocks and ACKs run on a port dnsmasq picks), DHCPv6, ping.
        [ "$(sysd_client_run c1 curl -fsS -m 3 http://10.81.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
        sysd_client_run c1 sh -c 'rm -f /tmp/l && busybox tftp -g -r undionly.kpxe -l /tmp/l 10.81.0.1'
        sysd_client_run c1 cmp /tmp/l /usr/lib/ipxe/undionly.kpxe
        [ "$(dhcpv6 c1)" = reply ]
        sysd_client_run c1 busybox ping -q -c 1 -W 2 10.81.0.1
        sysd_client_run c1 busybox ping -q -c 1 -W 2 "$ula"
        # The host's other services: dropped at every address of the host.
        for a in 10.81.0.1 "$ula" 10.99.0.1; do
                probe_is timeout c1 "$a" 2222 tcp
                probe_is timeout c1 "$a" 2223 udp
                probe_is timeout c1 "$a" 2224 tcp
        done
        # The lab's ports and ping are the lab's at its addresses, not at the
        # host's others (where other programs may listen on them).
        listen host 10.99.0.1 80 tcp host-http
        listen host 10.99.0.1 69 udp host-tftp
        probe_is "reply host-http" host 10.99.0.1 80 tcp
        probe_is "reply host-tftp" host 10.99.0.1 69 udp
        probe_is timeout c1 10.99.0.1 80 tcp
        probe_is timeout c1 10.99.0.1 69 udp
        run sysd_client_run c1 busybox ping -q -c 1 -W 1 10.99.0.1
        [ "$status" -ne 0 ]
        # Allowed by the profile: at the lab's addresses only, those ports only.
        sed -i 's|^bridge {$|bridge {\n    allow_host_ports = {"2222/tcp", "2223/udp"}|' "$p"
        grep -q 'allow_host_ports' "$p"
        sysd_run "$PXELAB" up "$p"
        for a in 10.81.0.1 "$ula"; do
                probe_is "reply host-tcp" c1 "$a" 2222 tcp
                probe_is "reply host-udp" c1 "$a" 2223 udp
                probe_is timeout c1 "$a" 2224 tcp
        done
        probe_is timeout c1 10.99.0.1 2222 tcp
        probe_is timeout c1 10.99.0.1 2223 udp
        [ "$(sysd_client_run c1 curl -fsS -m 3 http://10.81.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
}

@test "a lab client reaches neither another lab's clients nor its address; both reach the uplink's side" {
        mkuplink
        listen wan 10.99.0.2 9000 tcp wan
        sysd_run "$PXELAB" up "$(mkprofile fwa 10.82.0.1/24)"
        sysd_run "$PXELAB" up "$(mkprofile fwb 10.83.0.1/24)"
        client a1 pxe-fwa 10.82.0.1
        client a2 pxe-fwa 10.82.0.1
        client b1 pxe-fwb 10.83.0.1
        listen a1 0.0.0.0 9000 tcp a1
        listen b1 0.0.0.0 9000 tcp b1
        ipa=$(sysd_lease a1 ip)
        ipb=$(sysd_lease b1 ip)
        # Within a lab, its machines reach each other.
        probe_is "reply a1" a2 "$ipa" 9000 tcp
        # Each lab's client answers (the host reaches both)...
        probe_is "reply a1" host "$ipa" 9000 tcp
        probe_is "reply b1" host "$ipb" 9000 tcp
        # ... and both reach the network beyond the uplink.
        probe_is "reply wan" a1 10.99.0.2 9000 tcp
        probe_is "reply wan" b1 10.99.0.2 9000 tcp
        # Not each other: not the other lab's client, not its address.
        probe_is timeout a1 "$ipb" 9000 tcp
        probe_is timeout b1 "$ipa" 9000 tcp
        run sysd_client_run a1 busybox ping -q -c 1 -W 1 "$ipb"
        [ "$status" -ne 0 ]
        probe_is timeout a1 10.83.0.1 80 tcp
        probe_is timeout b1 10.82.0.1 80 tcp
        # Each still gets its own lab's boot script.
        [ "$(sysd_client_run a1 curl -fsS -m 3 http://10.82.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
        [ "$(sysd_client_run b1 curl -fsS -m 3 http://10.83.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
}

@test "only the uplink is forwarded to: not another interface's network, which cannot reach the lab either" {
        mkuplink
        # Another network of this host (say a VPN or a container bridge):
        # veth oth0 10.98.0.1/24 to namespace "other", routing everything
        # through this host.
        sysd_run ip netns add other
        sysd_run ip link add oth0 type veth peer name eth0 netns other
        sysd_run ip addr add 10.98.0.1/24 dev oth0
        sysd_run ip link set oth0 up
        sysd_run ip -n other addr add 10.98.0.2/24 dev eth0
        sysd_run ip -n other link set eth0 up
        sysd_run ip -n other link set lo up
        sysd_run ip -n other route add default via 10.98.0.1
        listen other 10.98.0.2 9000 tcp other
        listen wan 10.99.0.2 9000 tcp wan
        p=$(mkprofile fwc 10.84.0.1/24)
        sysd_run "$PXELAB" up "$p"
        # A lab without uplink beside it, which the uplink's side routes to.
        p=$(mkprofile fwn 10.85.0.1/24 'uplink = "none"')
        sysd_run "$PXELAB" up "$p"
        sysd_run ip -n wan route add 10.85.0.0/24 via 10.99.0.1
        [ "$(sysd_run cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
        client c1 pxe-fwc 10.84.0.1
        client n1 pxe-fwn 10.85.0.1
        listen c1 0.0.0.0 9000 tcp c1
        ipc=$(sysd_lease c1 ip)
        # The host itself reaches every one of them.
        probe_is "reply other" host 10.98.0.2 9000 tcp
        probe_is "reply c1" host "$ipc" 9000 tcp
        # The lab with an uplink goes out through it (NAT), nowhere else...
        probe_is "reply wan" c1 10.99.0.2 9000 tcp
        probe_is timeout c1 10.98.0.2 9000 tcp
        run sysd_client_run c1 busybox ping -q -c 1 -W 1 10.98.0.2
        [ "$status" -ne 0 ]
        # ... and the other network cannot open connections into the lab.
        probe_is timeout other "$ipc" 9000 tcp
        # The lab without uplink is forwarded nowhere, although this host
        # forwards for the other lab.
        probe_is timeout n1 10.99.0.2 9000 tcp
        probe_is timeout n1 10.98.0.2 9000 tcp
        [ "$(sysd_client_run n1 curl -fsS -m 3 http://10.85.0.1/boot.ipxe | head -1)" = '#!ipxe' ]
}
