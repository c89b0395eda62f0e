# Shared setup for the bats suites. Run from the repo root via tests/run-all.
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PXELAB=${PXELAB:-$REPO/pxelab-asan}
export PXELAB_TEMPLATES=${PXELAB_TEMPLATES:-$REPO/templates}
# Test data (profiles, boot files, install trees, disk images): the run's
# own directory outside the checkout and any home, made by setup_suite.bash,
# so the services and VMs can read it wherever the checkout lives.
OUT=${PXELAB_TEST_OUT:?no per-run test directory: run the suites with bats or tests/run-all (tests/bats/setup_suite.bash makes it)}
# The corpus expects no wimboot from the environment.
unset PXELAB_WIMBOOT
# Integration suites bind the repo and the test data into the throwaway
# systemd (they may live under /tmp or /var/tmp, which are private in there).
export SYSD_BIND="$REPO $OUT"

# mkprofile NAME ADDRESS [EXTRA...]: a lab profile with a small kernel and
# initrd stand-in (nginx serves them; no VM boots them) in $OUT/lab-NAME.
mkprofile() {
        local name=$1 addr=$2 d=$OUT/lab-$1
        shift 2
        rm -rf "$d"
        mkdir -p "$d"
        head -c 300000 /dev/urandom > "$d/vmlinuz"
        head -c 70000 /dev/urandom > "$d/initrd.img"
        {
                echo "lab = \"$name\""
                echo "bridge {"
                echo "    address = \"$addr\""
                for l in "$@"; do echo "    $l"; done
                echo "}"
                echo 'boot "rescue" { kind = "linux" kernel = "vmlinuz" initrd = {"initrd.img"} cmdline = "console=ttyS0" }'
                echo 'boot "disk" { kind = "local" }'
        } > "$d/lab.conf"
        echo "$d/lab.conf"
}

# http_log LAB: nginx's access log of LAB, from the journal of its unit
# (nginx.conf.mustache sends it there over syslog): one line per request,
# `IP [TIME] "REQUEST" STATUS BYTES len=LENGTH t=SECONDS`; nginx's own error
# lines (which start with a date) left out.
http_log() {
        sysd_run journalctl -q --no-pager -o cat -u "pxelab-$1-nginx.service" | grep -E '^[0-9a-f.:]+ \['
}

# An "uplink" for the namespace host: veth upl0 (10.99.0.1/24) to a "wan"
# namespace (10.99.0.2), default route through it.
mkuplink() {
        sysd_run ip netns add wan
        sysd_run ip link add upl0 type veth peer name eth0 netns wan
        sysd_run ip addr add 10.99.0.1/24 dev upl0
        sysd_run ip link set upl0 up
        sysd_run ip -n wan addr add 10.99.0.2/24 dev eth0
        sysd_run ip -n wan link set eth0 up
        sysd_run ip -n wan link set lo up
        sysd_run ip route add default via 10.99.0.2
}

# Everything of pxelab's on the namespace host, for before/after comparisons.
host_snapshot() {
        sysd_run ip -j link show | jq -S '[.[] | {ifname, flags}]'
        sysd_run ip -j addr show | jq -S '[.[] | {ifname, a: [.addr_info[] | .local]}]'
        sysd_run nft -j list ruleset | jq -S '[.nftables[] | select(.table) | .table.name]'
        sysd_run systemctl list-units --all --plain --no-legend 'pxelab-*'
        sysd_run sh -c 'ls -A /run/pxelab 2>/dev/null | grep -v "^.lock$"' || true
}

# VMs of the lab $LAB, bounded by the suite's $BOOT_TIMEOUT (seconds).
# The serial console of VM $1 until it powers off (console follows it and
# ends when the unit stops).
console_until_off() {
        sysd_run timeout "$BOOT_TIMEOUT" "$PXELAB" vm console "$LAB" "$1"
}

# Waits until VM $1's serial log matches the extended regex $2; else shows
# the log's end and fails.
wait_console() {
        local log=/run/pxelab/$LAB/serial/$1.log
        for _ in $(seq "$BOOT_TIMEOUT"); do
                sysd_run grep -qE "$2" "$log" 2>/dev/null && return 0
                sleep 1
        done
        echo "no '$2' in $1's console within ${BOOT_TIMEOUT}s:"; sysd_run cat "$log" | tr -d '\r' | tail -30
        return 1
}

# The address the lab leased to MAC $1.
lease_ip() {
        sysd_run "$PXELAB" status "$LAB" --json | jq -r --arg mac "$1" '.labs[0].leases[] | select(.mac == $mac) | .ip'
}
