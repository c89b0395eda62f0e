# Private Open vSwitch for tests: an ovsdb-server and an ovs-vswitchd whose
# database, sockets, pid files and logs all live in one directory, so the
# host's /run/openvswitch, /etc/openvswitch and /var/log are never touched.
# Run it inside a private network namespace (ovs_isolated): ovs-vswitchd
# creates kernel tap devices for its bridges. This kernel has no
# openvswitch module, so bridges need datapath_type=netdev (userspace).
#
#   ovs_start DIR       fresh database + both daemons; the socket is DIR/db.sock
#   ovs_start_db DIR    the same without ovs-vswitchd
#   ovs_stop DIR        stops whatever ovs_start started in DIR
#   ovs_vsctl DIR ARGS  ovs-vsctl against DIR's database
#   ovs_isolated CMD    runs CMD in new network + mount namespaces with a
#                       private /run (loopback up)

OVS_SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}

# OVS tools fall back to these directories for anything not given on the
# command line (control sockets, bridge .mgmt sockets, system-id...).
_ovs_env() {
        export OVS_RUNDIR="$1" OVS_DBDIR="$1" OVS_LOGDIR="$1" OVS_SYSCONFDIR="$1"
}

ovs_vsctl() {
        local dir=$1; shift
        OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir OVS_SYSCONFDIR=$dir \
                ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 "$@"
}

ovs_start_db() {
        local dir=$1
        mkdir -p "$dir" || return
        (
                _ovs_env "$dir"
                rm -f "$dir/conf.db" &&
                ovsdb-tool create "$dir/conf.db" "$OVS_SCHEMA" &&
                # manager_options: like the packaged service, so tests can add
                # extra listeners (e.g. one with an inactivity probe).
                ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" \
                        --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
                        --pidfile="$dir/ovsdb-server.pid" --unixctl="$dir/ovsdb-server.ctl" \
                        --detach --no-chdir --log-file="$dir/ovsdb-server.log" &&
                ovs-vsctl --db="unix:$dir/db.sock" --no-wait init
        )
}

ovs_start() {
        local dir=$1
        ovs_start_db "$dir" || return
        (
                _ovs_env "$dir"
                ovs-vswitchd "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" \
                        --unixctl="$dir/ovs-vswitchd.ctl" --detach --no-chdir \
                        --log-file="$dir/ovs-vswitchd.log"
        )
}

# Asks a daemon to exit over its control socket, then makes sure by pid.
_ovs_stop_one() {
        local dir=$1 name=$2 pid i
        [ -f "$dir/$name.pid" ] || return 0
        pid=$(cat "$dir/$name.pid")
        OVS_RUNDIR=$dir ovs-appctl -t "$dir/$name.ctl" exit >/dev/null 2>&1
        for i in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null
        fi
        rm -f "$dir/$name.pid"
}

ovs_stop() {
        local dir=$1
        _ovs_stop_one "$dir" ovs-vswitchd
        _ovs_stop_one "$dir" ovsdb-server
}

ovs_isolated() {
        unshare --net --mount --propagation private -- bash -c '
                mount -t tmpfs -o mode=0755 tmpfs /run || exit
                ip link set lo up || exit
                exec "$@"' ovs_isolated "$@"
}
