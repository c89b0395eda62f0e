#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# pxelab@.service and `pxelab up NAME` under the throwaway systemd
# (tests/harness/sysd.bash). What `make install` makes (DESTDIR, the default
# PREFIX /usr/local) is put in place inside the harness, on overlays of /etc
# and /usr/local that live in its own mount namespace: the unit where systemd
# reads it (/usr/local/lib/systemd/system), the man pages its Documentation=
# names, the templates the binary finds in its data dir, /etc/pxelab with the
# profile. The host's /etc and /usr/local are never written.
load common
load ../harness/sysd

UNIT=/usr/local/lib/systemd/system/pxelab@.service

setup_file() {
        export STAGE=$OUT/service-stage
        rm -rf "$STAGE"
        make -s -C "$REPO" install DESTDIR="$STAGE" >&2
}

# An overlay on DIR, private to the harness's mount namespace; what the
# tests write there goes into the harness's /run.
overlay() {
        sysd_run sh -c "mkdir -p /run/ovl$1/upper /run/ovl$1/work &&
                mount -t overlay overlay -o lowerdir=$1,upperdir=/run/ovl$1/upper,workdir=/run/ovl$1/work $1"
}

setup() {
        sysd_boot
        overlay /etc
        overlay /usr/local
        sysd_run cp -a "$STAGE/usr/local/." /usr/local/
        sysd_run cp -a "$STAGE/etc/pxelab" /etc/
        # The tests run the sanitizer build, installed where the unit runs it.
        sysd_run install -m 0755 "$PXELAB" /usr/local/bin/pxelab
        sysd_run systemctl daemon-reload
        # The unit runs pxelab with systemd's environment: no PXELAB_TEMPLATES,
        # so the lab's templates are the installed ones.
        unset PXELAB_TEMPLATES
}

teardown() { sysd_kill; }

# mkconf NAME ADDRESS [EXTRA...]: /etc/pxelab/NAME.conf (inside the harness)
# without `lab =`, its boot files in $OUT/lab-NAME.
mkconf() {
        local name=$1 addr=$2 d=$OUT/lab-$1
        shift 2
        rm -rf "$d"
        mkdir -p "$d"
        head -c 300000 /dev/urandom > "$d/vmlinuz"
        head -c 70000 /dev/urandom > "$d/initrd.img"
        {
                echo "bridge {"
                echo "    address = \"$addr\""
                for l in "$@"; do echo "    $l"; done
                echo "}"
                echo "boot \"rescue\" { kind = \"linux\" kernel = \"$d/vmlinuz\" initrd = {\"$d/initrd.img\"} }"
        } > "$d/NAME.conf"
        sysd_run install -m 0644 "$d/NAME.conf" "/etc/pxelab/$name.conf"
}

# lab_is_up LAB: healthy in `pxelab status --json`, from /etc/pxelab/LAB.conf.
lab_is_up() {
        sysd_run pxelab status "$1" --json | jq -e --arg lab "$1" \
                '.labs | length == 1 and .[0].lab == $lab and .[0].healthy and
                 .[0].profile == "/etc/pxelab/\($lab).conf" and .[0].bridge.exists'
}

# no_lab: no lab is up, and nothing of one is left on the host.
no_lab() {
        sysd_run pxelab status --json | jq -e '.labs == []'
        local units
        [ -z "$(sysd_run ip -o link show type bridge)" ]
        [ -z "$(sysd_run nft list tables)" ]
        units=$(sysd_run systemctl list-units --all --plain --no-legend 'pxelab-*.service' 'pxelab-*.slice' 'pxelab.slice')
        echo "units left: $units"
        [ -z "$units" ]
}

@test "systemd-analyze verify passes for the installed unit and an instance of it" {
        run sysd_run systemd-analyze verify "$UNIT"
        echo "$output"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
        run sysd_run systemd-analyze verify pxelab@office.service
        echo "$output"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
        # It runs what make install put in BINDIR, on the instance's name.
        sysd_run grep -qx 'ExecStart=/usr/local/bin/pxelab up %i' "$UNIT"
        sysd_run grep -qx 'ExecStop=/usr/local/bin/pxelab down %i' "$UNIT"
}

@test "enabled: the boot (multi-user.target) brings the lab up, stop takes it down without residue" {
        mkuplink
        mkconf office-a 10.70.0.1/24
        before=$(host_snapshot)
        run sysd_run systemctl enable pxelab@office-a
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(sysd_run readlink /etc/systemd/system/multi-user.target.wants/pxelab@office-a.service)" = "$UNIT" ]
        # Ordered after the network, which it pulls in.
        [[ " $(sysd_run systemctl show -P After pxelab@office-a) " == *" network-online.target "* ]]
        [[ " $(sysd_run systemctl show -P Wants pxelab@office-a) " == *" network-online.target "* ]]
        [ "$(sysd_run systemctl is-active pxelab@office-a)" = inactive ] || false

        sysd_run systemctl start multi-user.target
        [ "$(sysd_run systemctl is-active pxelab@office-a)" = active ]
        [ "$(sysd_run systemctl show -P Type pxelab@office-a)" = oneshot ]
        [ "$(sysd_run systemctl show -P RemainAfterExit pxelab@office-a)" = yes ]
        [ "$(sysd_run systemctl show -P TimeoutStartUSec pxelab@office-a)" = 10min ]
        lab_is_up office-a
        # The uplink was there: masquerade out of it.
        sysd_run nft list table inet pxelab-office-a | grep -q 'oifname "upl0" masquerade'
        sysd_run journalctl -u pxelab@office-a | grep -q "Lab 'office-a' is up."

        run sysd_run systemctl stop pxelab@office-a
        [ "$status" -eq 0 ]
        [ "$(sysd_run systemctl is-active pxelab@office-a)" = inactive ] || false
        no_lab
        [ "$(host_snapshot)" = "$before" ]
}

@test "enable --now, then the shutdown transaction takes the lab down, its profile gone meanwhile" {
        mkconf lab2 10.71.0.1/24 'uplink = "none"'
        sysd_run systemctl enable --now pxelab@lab2
        lab_is_up lab2
        # down works from the lab's record: the profile may be gone by then.
        sysd_run rm /etc/pxelab/lab2.conf
        # What shutdown does before the final stage: start shutdown.target,
        # which every unit with default dependencies conflicts with
        # (shutdown.target refuses a manual start, so a target pulls it in;
        # poweroff.target would go on to halt the harness).
        sysd_run sh -c 'printf "[Unit]\nDefaultDependencies=no\nRequires=shutdown.target\nAfter=shutdown.target\n" \
                > /run/systemd/system/test-shutdown.target'
        sysd_run systemctl daemon-reload
        sysd_run systemctl start test-shutdown.target
        [ "$(sysd_run systemctl is-active pxelab@lab2)" = inactive ] || false
        # pxelab down ran: the bridge and table are gone, not only the units.
        no_lab
        sysd_run journalctl -u pxelab@lab2 | grep -q "pxelab\[[0-9]*\]: Lab 'lab2' is down"
}

@test "reload reconciles the lab with its edited profile" {
        mkconf lab3 10.72.0.1/24 'uplink = "none"'
        sysd_run systemctl enable --now pxelab@lab3
        n_pid=$(sysd_run systemctl show -P MainPID pxelab-lab3-nginx.service)
        run ! sysd_run grep -q 'Office menu' /run/pxelab/lab3/http/menu.ipxe
        sysd_run sh -c 'echo "menu { title = \"Office menu\" }" >> /etc/pxelab/lab3.conf'
        sysd_run systemctl reload pxelab@lab3
        sysd_run grep -q 'Office menu' /run/pxelab/lab3/http/menu.ipxe
        # A menu is a file nginx serves: its unit was not restarted.
        [ "$(sysd_run systemctl show -P MainPID pxelab-lab3-nginx.service)" = "$n_pid" ]
        lab_is_up lab3
}

@test "pxelab up NAME reads /etc/pxelab/NAME.conf, not a file of that name here; down NAME takes it down" {
        mkconf lab4 10.73.0.1/24 'uplink = "none"'
        d=$(mktemp -d "$OUT/cwd.XXXXXX")
        echo 'not a profile' > "$d/lab4"
        cd "$d"
        run sysd_run pxelab up lab4
        echo "$output"
        [ "$status" -eq 0 ]
        lab_is_up lab4
        run sysd_run pxelab down lab4
        [ "$status" -eq 0 ]
        no_lab
}

@test "up NAME: a lab = that is not NAME, a missing NAME.conf and a bad name are one line each, nothing changed" {
        mkconf lab5 10.74.0.1/24 'uplink = "none"'
        sysd_run sh -c 'sed -i "1i lab = \"other\"" /etc/pxelab/lab5.conf'
        before=$(host_snapshot)
        run --separate-stderr sysd_run pxelab up lab5
        [ "$status" -eq 2 ]
        [ "$stderr" = "/etc/pxelab/lab5.conf:1: lab: 'other' differs from the file name: \`pxelab up lab5\` brings up lab 'lab5'; remove \`lab =\` or rename the file" ]
        run --separate-stderr sysd_run pxelab up nosuch
        [ "$status" -eq 2 ]
        [ "$stderr" = "/etc/pxelab/nosuch.conf: cannot read: No such file or directory" ]
        run --separate-stderr sysd_run pxelab up Bad_Name
        [ "$status" -eq 2 ]
        [[ "$stderr" == "'Bad_Name' is neither a lab name ("*") nor a profile file (a path with '/' or ending in .conf, e.g. ./Bad_Name)" ]]
        # The unit of a missing profile fails, saying why in its journal.
        run sysd_run systemctl start pxelab@nosuch
        [ "$status" -ne 0 ]
        [ "$(sysd_run systemctl is-failed pxelab@nosuch)" = failed ]
        sysd_run journalctl -u pxelab@nosuch | grep -qF "/etc/pxelab/nosuch.conf: cannot read: No such file or directory"
        sysd_run systemctl reset-failed pxelab@nosuch
        [ "$(host_snapshot)" = "$before" ]
}
