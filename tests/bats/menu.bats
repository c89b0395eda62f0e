#!/usr/bin/env bats
# The boot menu, seen from real BIOS VMs (QEMU's iPXE ROM) in the systemd
# harness: the default entry boots after the menu's timeout, a known host
# skips the menu, a `local` entry leaves iPXE, and a failing entry shows its
# error on the console and returns to the menu instead of hanging.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=mnu
NET=10.65.0
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-150}
# Pinned: these tests boot guests; how KVM fares here is accel.bats' business.
export PXELAB_ACCEL=tcg

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR"
        {
                echo "lab = \"$LAB\""
                echo "bridge { address = \"$NET.1/24\" uplink = \"none\" }"
                echo 'menu { title = "menu test" timeout = 2 default = "second" }'
                for e in first second hosted; do
                        echo "boot \"$e\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                        echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=$e\" }"
                done
                echo 'boot "disk" { kind = "local" }'
                echo "boot \"broken\" { kind = \"chain\" url = \"http://$NET.1/no-such-script.ipxe\" }"
                echo 'host "h-hosted" { mac = "52:54:00:65:00:02" boot = "hosted" }'
                echo 'host "h-disk"   { mac = "52:54:00:65:00:03" boot = "disk" }'
                echo 'host "h-broken" { mac = "52:54:00:65:00:04" boot = "broken" }'
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
}

teardown_file() { sysd_kill; }

ip_of() {
        sysd_run "$PXELAB" status "$LAB" --json | jq -r --arg mac "$1" '.labs[0].leases[] | select(.mac == $mac) | .ip'
}

requests_of() {   # IP: the paths it asked nginx for, in order
        http_log "$LAB" | awk -v ip="$1" '$1 == ip {print $4}'
}

@test "an unknown machine gets the menu, and its default entry boots after the timeout" {
        sysd_run "$PXELAB" vm start "$LAB" anon --firmware bios --mac 52:54:00:65:00:01 --memory 256
        wait_console anon 'PXELAB-MARKER=second'
        ip=$(ip_of 52:54:00:65:00:01)
        [ -n "$ip" ]
        [ "$(requests_of "$ip" | head -3 | tr '\n' ' ')" = "/boot.ipxe /menu.ipxe /boot/second.ipxe " ]
        sysd_run "$PXELAB" vm stop "$LAB" anon
}

@test "a known host skips the menu and boots its own entry" {
        sysd_run "$PXELAB" vm start "$LAB" hosted --firmware bios --mac 52:54:00:65:00:02 --memory 256
        wait_console hosted 'PXELAB-MARKER=hosted'
        ip=$(ip_of 52:54:00:65:00:02)
        [ "$(requests_of "$ip" | head -3 | tr '\n' ' ')" = "/boot.ipxe /hosts/52-54-00-65-00-02.ipxe /boot/hosted.ipxe " ]
        ! requests_of "$ip" | grep -qx /menu.ipxe || false
        sysd_run "$PXELAB" vm stop "$LAB" hosted
}

@test "a local entry leaves iPXE for the next boot device" {
        sysd_run "$PXELAB" vm start "$LAB" disk --firmware bios --mac 52:54:00:65:00:03 --memory 256
        wait_console disk 'pxelab: booting from the next boot device'
        # iPXE let go: the BIOS goes on to its next boot device (this VM has
        # none but the network, so it starts over); no menu, no kernel.
        wait_console disk 'No more network devices|No bootable device'
        ip=$(ip_of 52:54:00:65:00:03)
        ! requests_of "$ip" | grep -qx /menu.ipxe || false
        ! sysd_run grep -q PXELAB-BOOT-OK "/run/pxelab/$LAB/serial/disk.log" || false
        sysd_run "$PXELAB" vm stop "$LAB" disk
}

@test "a failing entry shows iPXE's error and returns to the menu instead of hanging" {
        sysd_run "$PXELAB" vm start "$LAB" broken --firmware bios --mac 52:54:00:65:00:04 --memory 256
        wait_console broken 'pxelab: boot entry broken failed'
        log=$(sysd_run cat "/run/pxelab/$LAB/serial/broken.log" | tr -d '\r')
        # iPXE's own reason for it.
        [[ "$log" == *"no-such-script.ipxe... No such file or directory"* ]]
        # Back to the menu, whose default then boots.
        wait_console broken 'PXELAB-MARKER=second'
        ip=$(ip_of 52:54:00:65:00:04)
        requests_of "$ip" | grep -qx /no-such-script.ipxe
        requests_of "$ip" | grep -qx /menu.ipxe
        sysd_run "$PXELAB" vm stop "$LAB" broken
}

@test "up starts the profile's autostart VMs, once" {
        d=$OUT/lab-auto
        mkdir -p "$d"
        cat > "$d/lab.conf" <<CONF
lab = "auto"
bridge { address = "10.66.0.1/24" uplink = "none" }
menu { timeout = 0 default = "payload" }
boot "payload" { kind = "linux" kernel = "$PAYLOAD/vmlinuz" initrd = {"$PAYLOAD/initrd.img"} cmdline = "console=ttyS0 pxelab.marker=auto" }
vm "auto1" { firmware = "bios" memory = 256 mac = "52:54:00:66:00:01" autostart = true }
vm "manual" { firmware = "bios" memory = 256 }
CONF
        sysd_run "$PXELAB" up "$d/lab.conf"
        run sysd_run "$PXELAB" vm list auto --json
        echo "$output"
        echo "$output" | jq -e 'map(.name) == ["auto1"]'
        # PXELAB_ACCEL reaches the VMs up starts, too.
        echo "$output" | jq -e '.[0].accel == "tcg"'
        unit=$(echo "$output" | jq -r '.[0].unit')
        pid=$(sysd_run systemctl show -P MainPID "$unit")
        [ "$pid" -gt 0 ]
        for _ in $(seq "$BOOT_TIMEOUT"); do
                sysd_run grep -q 'PXELAB-MARKER=auto' /run/pxelab/auto/serial/auto1.log && break
                sleep 1
        done
        sysd_run grep -q 'PXELAB-MARKER=auto' /run/pxelab/auto/serial/auto1.log
        # up again does not start it a second time.
        sysd_run "$PXELAB" up "$d/lab.conf"
        [ "$(sysd_run "$PXELAB" vm list auto --json | jq length)" -eq 1 ]
        sysd_run "$PXELAB" down auto
}
