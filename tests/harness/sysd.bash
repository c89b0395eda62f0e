# A throwaway systemd for integration tests, sourced by bats files.
#
# sysd_boot starts /lib/systemd/systemd as PID 1 of new PID, mount, network
# and UTS namespaces. Everything systemd could write on the host is private:
# tmpfs on /run, /tmp, /var/tmp, /var/lib/pxelab, /var/lib/systemd and
# /var/log/journal (systemd's tmpfiles empty /tmp at boot), a private /dev
# (device nodes bound from the host, own devpts, /dev/console is the file
# console.log: systemd logs there until journald runs), a fresh sysfs
# whose /sys/fs/cgroup is a private tmpfs holding the host's hierarchies
# (PID 1 remounts that tmpfs read-only), /proc/sys read-only except the
# namespace's own /proc/sys/net. PID 1 runs in its own
# cgroup subtree "pxelab-sysd.XXXXXX" so several harnesses can run at once.
# Every unit the host's targets pull in is masked except journald, so starting
# a service (which pulls sysinit.target) runs nothing but journald and it.
#
# Patterns:
#   per file:  setup_file() { sysd_boot; }   teardown_file() { sysd_kill; }
#   per test:  setup() { sysd_boot; }        teardown() { sysd_kill; }
# Call sysd_boot directly (not through `run` or $(...)): the namespace is
# killed as soon as the shell that booted it exits, so nothing outlives a
# crashed or interrupted bats run.
#
# Inside, /tmp is empty: host paths under the private directories that tests
# need are bound in at the same place: $SYSD_BIND (space-separated), $PXELAB,
# $B and $BATS_RUN_TMPDIR when they lie under one of them.
#
# Exported: SYSD_PID (host PID of the namespace's PID 1), SYSD_UNSHARE_PID,
# SYSD_STATE (host directory with console.log), SYSD_CGROUP.

SYSD_BOOT_TIMEOUT=${SYSD_BOOT_TIMEOUT:-10}
SYSD_PRIVATE_DIRS="/run /tmp /var/tmp /var/lib/pxelab /var/lib/systemd /var/log/journal"

_sysd_err() {
        echo "sysd: $*" >&2
}

# The script PID 1 of the new namespaces runs before it execs systemd.
# $1 = state dir, $2 = cgroup name, $3 = private dirs, $4... = host paths to bind.
# shellcheck disable=SC2016 # expanded by the namespace's shell, not here
_sysd_inner='
set -eu
state=$1 cg=$2 private=$3
shift 3

# Our own cgroup subtree, so systemd takes it as its root instead of the
# host root (systemd derives its root from its own cgroup).
for h in systemd unified; do
        [ -d /sys/fs/cgroup/$h ] || continue
        mkdir -p "/sys/fs/cgroup/$h/$cg"
        echo $$ > "/sys/fs/cgroup/$h/$cg/cgroup.procs"
done

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
stage=/run/.sysd-stage
mkdir -p $stage/bind

# Host paths hidden by the private dirs: bind them aside now, move them back later.
i=0
for p in "$@"; do
        if [ -d "$p" ]; then mkdir -p $stage/bind/$i; else touch $stage/bind/$i; fi
        mount --bind "$p" $stage/bind/$i
        i=$((i + 1))
done

# A private /dev: host device nodes bound in, own devpts, shm and mqueue,
# the boot log as /dev/console.
mkdir -p $stage/dev
mount -t tmpfs -o mode=0755,nosuid tmpfs $stage/dev
for e in /dev/*; do
        n=${e#/dev/}
        case $n in
        console|log|kmsg|pts|shm|mqueue|hugepages|ptmx|core|fd|stdin|stdout|stderr|tty[0-9]*|vcs*|initctl) continue ;;
        esac
        if [ -L "$e" ]; then
                cp -P "$e" "$stage/dev/$n"
        elif [ -d "$e" ]; then
                mkdir "$stage/dev/$n"
                mount --rbind "$e" "$stage/dev/$n"
        elif [ -c "$e" ] || [ -b "$e" ]; then
                touch "$stage/dev/$n"
                mount --bind "$e" "$stage/dev/$n"
        fi
done
touch $stage/dev/console
mount --bind "$state/console.log" $stage/dev/console
mkdir $stage/dev/pts $stage/dev/shm $stage/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $stage/dev/pts
ln -s pts/ptmx $stage/dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $stage/dev/shm
mount -t mqueue mqueue $stage/dev/mqueue
ln -s /proc/self/fd $stage/dev/fd
ln -s /proc/self/fd/0 $stage/dev/stdin
ln -s /proc/self/fd/1 $stage/dev/stdout
ln -s /proc/self/fd/2 $stage/dev/stderr

# The cgroup hierarchies, on a private tmpfs: PID 1 adds mount points there
# and remounts it read-only, which must not touch the tmpfs of the host.
mkdir -p $stage/cg
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs $stage/cg
for e in /sys/fs/cgroup/*; do
        n=${e#/sys/fs/cgroup/}
        if [ -L "$e" ]; then
                cp -P "$e" "$stage/cg/$n"
        elif mountpoint -q "$e"; then
                mkdir "$stage/cg/$n"
                mount --bind "$e" "$stage/cg/$n"
        fi
done

for d in $private; do
        [ -d "$d" ] || continue
        [ "$d" = /run ] && continue
        mount -t tmpfs -o "mode=$(stat -c %a "$d"),nosuid,nodev" tmpfs "$d"
done
chmod 1777 /tmp /var/tmp

i=0
for p in "$@"; do
        if [ -d $stage/bind/$i ]; then mkdir -p "$p"; else mkdir -p "${p%/*}"; touch "$p"; fi
        mount --move $stage/bind/$i "$p"
        i=$((i + 1))
done

mount -t proc proc /proc
# Kernel tunables stay read-only; the network ones of the namespace are writable.
mount --bind /proc/sys /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,ro /proc/sys
mount -t sysfs sysfs /sys
mount --move $stage/cg /sys/fs/cgroup
mount --move $stage/dev /dev
rm -rf $stage

ip link set lo up

mkdir -p /run/systemd/system /run/pxelab-sysd
cat > /run/systemd/system/pxelab-test.target <<EOT
[Unit]
Description=pxelab test harness
DefaultDependencies=no
Wants=systemd-journald.service
After=systemd-journald.service
EOT
# Mask everything the targets of the host would pull in (tmpfiles, udev, sysctl,
# apparmor, timers, dbus, ...), journald excepted.
for u in /lib/systemd/system/*.wants/* /lib/systemd/system/*.requires/* \
         /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
        [ -e "$u" ] || [ -L "$u" ] || continue
        n=${u##*/}
        case $n in
        systemd-journald.service|systemd-journald.socket|systemd-journald-dev-log.socket) continue ;;
        esac
        ln -sf /dev/null "/run/systemd/system/$n"
done
for n in systemd-remount-fs.service systemd-fsck-root.service systemd-tmpfiles-setup.service \
         systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer systemd-sysctl.service \
         systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
         systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-random-seed.service \
         systemd-journal-flush.service systemd-update-utmp.service systemd-machine-id-commit.service \
         systemd-firstboot.service systemd-sysusers.service systemd-hwdb-update.service \
         ldconfig.service systemd-journal-catalog-update.service systemd-update-done.service \
         systemd-pstore.service systemd-timesyncd.service apparmor.service dbus.socket dbus.service \
         systemd-journald-audit.socket tmp.mount; do
        ln -sf /dev/null "/run/systemd/system/$n"
done
# No generators either (fstab, getty, sysv, ...): a /dev/null link in the
# first generator directory masks one.
mkdir -p /run/systemd/system-generators
for g in /usr/lib/systemd/system-generators/* /lib/systemd/system-generators/*; do
        [ -e "$g" ] || continue
        ln -sf /dev/null "/run/systemd/system-generators/${g##*/}"
done

cat > /run/pxelab-sysd/udhcpc.script <<"EOT"
#!/bin/sh
# udhcpc event script of the test harness: configure the lease, record it.
case "$1" in
deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        if [ -n "${SYSD_LEASE_FILE:-}" ]; then
                env | grep -v "^SYSD_LEASE_FILE=" > "$SYSD_LEASE_FILE.tmp"
                mv "$SYSD_LEASE_FILE.tmp" "$SYSD_LEASE_FILE"
        fi
        ;;
esac
exit 0
EOT
chmod 0755 /run/pxelab-sysd/udhcpc.script

exec /lib/systemd/systemd --system --unit=pxelab-test.target --log-target=journal --log-level=info
'

# Host paths the tests need inside although a private dir hides them.
_sysd_binds() {
        local p d seen=" "
        for p in ${SYSD_BIND:-} ${PXELAB:-} ${B:+$(realpath -m "$B")} ${BATS_RUN_TMPDIR:-}; do
                [ -e "$p" ] || continue
                p=$(realpath "$p")
                case "$seen" in *" $p "*) continue ;; esac
                for d in $SYSD_PRIVATE_DIRS; do
                        if [ "$p" = "$d" ]; then
                                _sysd_err "refusing to bind '$p' (it is one of the private directories)"
                                return 1
                        fi
                        case "$p" in "$d"/*) echo "$p"; seen="$seen$p "; break ;; esac
                done
        done
}

_sysd_proc_state() {
        # Prints the state letter of PID (R, S, Z, ...) or nothing when gone.
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
        stat=${stat##*) }
        echo "${stat%% *}"
}

_sysd_gone() {
        local s
        s=$(_sysd_proc_state "$1")
        [ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}

# Removes what harnesses that were not killed with sysd_kill left behind:
# their namespace died with the shell that booted them, but their state
# directory and empty cgroups stay. Harnesses still running are left alone.
_sysd_reap_stale() {
        local cg name upid
        for cg in /sys/fs/cgroup/systemd/pxelab-sysd.* /sys/fs/cgroup/unified/pxelab-sysd.* /tmp/pxelab-sysd.*; do
                [ -e "$cg" ] || continue
                name=${cg##*/}
                if [ -d "/tmp/$name" ]; then
                        # No PID yet: that harness is booting.
                        upid=$(cat "/tmp/$name/unshare.pid" 2>/dev/null) || continue
                        if ! _sysd_gone "$upid" &&
                           [[ "$(tr '\0' ' ' < "/proc/$upid/cmdline" 2>/dev/null)" == *"$name"* ]]; then
                                continue
                        fi
                fi
                # rmdir only removes empty cgroups: a live one is never touched.
                find /sys/fs/cgroup/*/"$name" -depth -type d -exec rmdir {} + 2>/dev/null || true
                rm -rf "/tmp/$name"
        done
}

sysd_boot() {
        local binds state upid pid i out

        if [ -n "${SYSD_PID:-}" ] && ! _sysd_gone "$SYSD_PID"; then
                _sysd_err "a harness is already running (PID $SYSD_PID); call sysd_kill first"
                return 1
        fi
        _sysd_reap_stale
        binds=$(_sysd_binds) || return 1
        mkdir -p /var/lib/pxelab
        state=$(mktemp -d /tmp/pxelab-sysd.XXXXXX) || return 1
        : > "$state/console.log"
        # bash keeps the script open: hiding /tmp later doesn't disturb it.
        printf '%s\n' "$_sysd_inner" > "$state/init.sh"
        export SYSD_STATE=$state SYSD_CGROUP=${state##*/}

        # pdeathsig: the namespace dies with the shell that booted it;
        # --kill-child: PID 1 dies with unshare.
        # shellcheck disable=SC2086
        setpriv --pdeathsig KILL -- \
                unshare --pid --kill-child --mount --net --uts --propagation private \
                env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                bash "$state/init.sh" "$state" "$SYSD_CGROUP" "$SYSD_PRIVATE_DIRS" $binds \
                </dev/null >>"$state/console.log" 2>&1 3>&- &
        upid=$!
        disown "$upid"
        export SYSD_UNSHARE_PID=$upid
        echo "$upid" > "$state/unshare.pid"

        # Poll: PID 1 appears, then systemd reaches pxelab-test.target.
        pid=
        for ((i = 0; i < SYSD_BOOT_TIMEOUT * 20; i++)); do
                if _sysd_gone "$upid"; then
                        _sysd_err "the namespace exited during boot; boot log:"
                        cat "$state/console.log" >&2
                        sysd_kill
                        return 1
                fi
                [ -n "$pid" ] || pid=$(pgrep -P "$upid") || true
                if [ -n "$pid" ] && [ "/proc/$pid/exe" -ef /lib/systemd/systemd ]; then
                        out=$(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null) || true
                        case "$out" in
                        running|degraded)
                                export SYSD_PID=$pid
                                echo "$pid" > "$state/pid1"
                                return 0
                                ;;
                        esac
                fi
                sleep 0.05
        done
        _sysd_err "systemd did not reach running within ${SYSD_BOOT_TIMEOUT}s (state: '${out:-none}'); boot log:"
        cat "$state/console.log" >&2
        export SYSD_PID=$pid
        sysd_kill
        return 1
}

# Every function here is safe under `set -e` (bats runs setup and tests so).

# Runs CMD inside every namespace of the harness, in the current directory,
# with the current environment.
sysd_run() {
        if [ -z "${SYSD_PID:-}" ]; then
                _sysd_err "no harness: call sysd_boot first"
                return 1
        fi
        nsenter -t "$SYSD_PID" -a --wd="$PWD" "$@"
}

# Kills the namespace (PID 1 and with it every process in it, its mounts and
# network) and removes its cgroups and state. Safe to call twice or unbooted.
sysd_kill() {
        local pid=${SYSD_PID:-} upid=${SYSD_UNSHARE_PID:-} state=${SYSD_STATE:-} cg=${SYSD_CGROUP:-}
        local i h rc=0

        if [ -n "$pid" ] && ! _sysd_gone "$pid" && [ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then
                kill -KILL "$pid" 2>/dev/null || true
        fi
        if [ -n "$upid" ] && ! _sysd_gone "$upid"; then
                case "$(tr '\0' ' ' < "/proc/$upid/cmdline" 2>/dev/null)" in
                unshare*|setpriv*) kill -KILL "$upid" 2>/dev/null || true ;;
                esac
        fi
        # PID 1 exits once every process in the namespace is gone; then unshare.
        if [ -n "$upid" ]; then
                for ((i = 0; i < 200; i++)); do
                        _sysd_gone "$upid" && break
                        sleep 0.05
                done
                if ! _sysd_gone "$upid"; then
                        _sysd_err "namespace (unshare PID $upid) did not exit"
                        rc=1
                fi
        fi
        if [ -n "$cg" ]; then
                for ((i = 0; i < 40; i++)); do
                        for h in /sys/fs/cgroup/*/"$cg"; do
                                [ -d "$h" ] && { find "$h" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
                        done
                        compgen -G "/sys/fs/cgroup/*/$cg" > /dev/null || break
                        sleep 0.05
                done
                if compgen -G "/sys/fs/cgroup/*/$cg" > /dev/null; then
                        _sysd_err "could not remove cgroups $(echo /sys/fs/cgroup/*/"$cg")"
                        rc=1
                fi
        fi
        if [ -n "$state" ] && [ -d "$state" ]; then
                if [ -n "${SYSD_KEEP_LOG:-}" ]; then
                        cp "$state/console.log" "$SYSD_KEEP_LOG" 2>/dev/null || true
                fi
                rm -rf "$state"
        fi
        unset SYSD_PID SYSD_UNSHARE_PID SYSD_STATE SYSD_CGROUP
        return $rc
}

# The boot log (systemd's console output) of the running harness.
sysd_log() {
        cat "${SYSD_STATE:?no harness}/console.log"
}

# sysd_client_ns NAME BRIDGE [MAC]: a network namespace NAME inside the
# harness, with a veth "eth0" whose peer "vc-NAME" is a port of BRIDGE.
# NAME: at most 12 characters (interface names are limited to 15).
sysd_client_ns() {
        local name=$1 bridge=$2 mac=${3:-}
        if [ -z "$name" ] || [ -z "$bridge" ] || [ ${#name} -gt 12 ]; then
                _sysd_err "usage: sysd_client_ns NAME(<=12 chars) BRIDGE [MAC]"
                return 1
        fi
        sysd_run ip netns add "$name" || return 1
        sysd_run ip link add "vc-$name" type veth peer name eth0 netns "$name" || return 1
        sysd_run ip link set "vc-$name" master "$bridge" up || return 1
        if [ -n "$mac" ]; then
                sysd_run ip -n "$name" link set eth0 address "$mac" || return 1
        fi
        sysd_run ip -n "$name" link set lo up || return 1
        sysd_run ip -n "$name" link set eth0 up
}

sysd_client_del() {
        sysd_run ip link del "vc-$1" 2>/dev/null || true
        sysd_run ip netns del "$1"
}

# sysd_client_run NAME CMD...: runs CMD in the client namespace NAME.
sysd_client_run() {
        local name=$1
        shift
        sysd_run ip netns exec "$name" "$@"
}

# sysd_udhcpc NAME [UDHCPC ARGS...]: obtains a DHCP lease on the client's
# eth0, configures the address and prints it. The whole lease (udhcpc's
# variables: ip, mask, router, siaddr, boot_file, serverid, ...) is kept
# for sysd_lease. udhcpc's own output goes to stderr. It sends up to
# $SYSD_UDHCPC_TRIES (8) DISCOVERs a second apart: dnsmasq pings an address
# before offering it, so the first ones often go unanswered.
sysd_udhcpc() {
        local name=$1 lease=/run/pxelab-sysd/lease-$1
        shift
        sysd_run rm -f "$lease"
        # A clean environment: the lease file then holds udhcpc's variables only.
        sysd_client_run "$name" env -i PATH="$PATH" SYSD_LEASE_FILE="$lease" \
                busybox udhcpc -i eth0 -n -q -f -t "${SYSD_UDHCPC_TRIES:-8}" -T 1 \
                -s /run/pxelab-sysd/udhcpc.script "$@" >&2 || return 1
        sysd_lease "$name" ip
}

# sysd_lease NAME VAR: one variable of the client's last lease (empty if unset).
sysd_lease() {
        sysd_run sed -n "s/^$2=//p" "/run/pxelab-sysd/lease-$1"
}
