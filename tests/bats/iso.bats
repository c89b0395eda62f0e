#!/usr/bin/env bats
# kind = "iso": ISO images booted over HTTP, end to end in the throwaway
# systemd (tests/harness/sysd.bash). The image is made at test time with
# grub-mkrescue around the boot-proof payload (a hybrid BIOS + UEFI El Torito
# image whose GRUB boots the payload kernel from the image itself), so the
# marker proves the ISO booted, not a kernel served beside it. Hosts:
#   01 auto,    BIOS  memdisk: the whole image in one GET, in RAM
#   02 san,     BIOS  sanboot: HEAD, then range requests (206)
#   03 auto,    UEFI  sanboot (OVMF + iPXE ROM)
#   04 mem,     UEFI  method = "memdisk": told why, the failed beacon, back
#                     to the menu, whose default boots
#   05 ipxeiso, BIOS  Debian's ipxe.iso (an image nobody here made) under memdisk
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=isot
NET=10.66.0
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}
export PXELAB_ACCEL=tcg

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR/tree/boot/grub"
        cp "$PAYLOAD/vmlinuz" "$PAYLOAD/initrd.img" "$PROFILE_DIR/tree/"
        cat > "$PROFILE_DIR/tree/boot/grub/grub.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_output --append serial
echo PXELAB-ISO-GRUB
linux /vmlinuz console=ttyS0 pxelab.marker=from-iso
initrd /initrd.img
boot
CFG
        grub-mkrescue -o "$PROFILE_DIR/test.iso" "$PROFILE_DIR/tree" >"$PROFILE_DIR/mkrescue.log" 2>&1 ||
                { cat "$PROFILE_DIR/mkrescue.log"; return 1; }
        {
                echo "lab = \"$LAB\""
                echo "bridge { address = \"$NET.1/24\" uplink = \"none\" }"
                echo 'menu { timeout = 0 default = "other" }'
                echo "boot \"other\" { kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=entry-other\" }"
                echo 'boot "auto" { kind = "iso" iso = "test.iso" }'
                echo 'boot "san" { kind = "iso" iso = "test.iso" method = "sanboot" }'
                echo 'boot "mem" { kind = "iso" iso = "test.iso" method = "memdisk" }'
                echo 'boot "ipxeiso" { kind = "iso" iso = "/usr/lib/ipxe/ipxe.iso" }'
                echo 'host "a1" { mac = "52:54:00:66:00:01" boot = "auto" }'
                echo 'host "s1" { mac = "52:54:00:66:00:02" boot = "san" }'
                echo 'host "u1" { mac = "52:54:00:66:00:03" boot = "auto" }'
                echo 'host "m1" { mac = "52:54:00:66:00:04" boot = "mem" }'
                echo 'host "i1" { mac = "52:54:00:66:00:05" boot = "ipxeiso" }'
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
}

teardown_file() { sysd_kill; }

iso_size() { stat -c %s "$PROFILE_DIR/test.iso"; }

# beacon MAC EVENT ENTRY: watch saw MAC's entry script fetch the beacon.
beacon() {
        local out
        out=$(sysd_run "$PXELAB" watch "$LAB" --json)
        # -n and inputs: jq 1.6's -e judges by the last input, not by any match.
        jq -e -n --arg mac "$1" --arg ev "$2" --arg en "$3" \
                'any(inputs; .mac == $mac and .event == $ev and .entry == $en)' <<< "$out" >/dev/null && return 0
        echo "no '$2' beacon of entry '$3' from $1 in:"; echo "$out"; http_log "$LAB"
        return 1
}

no_short_transfer() {
        run sysd_run "$PXELAB" watch "$LAB" --json
        [ "$status" -eq 0 ]
        ! grep -q 'short transfer' <<< "$output"
}

@test "iso: the entry is served as files, memdisk beside it; a bad image is refused" {
        sysd_run curl -fsS -o /dev/null "http://$NET.1/files/auto/test.iso"
        sysd_run curl -fsS "http://$NET.1/files/auto/memdisk" | cmp - /usr/lib/syslinux/memdisk
        run sysd_run curl -fsS "http://$NET.1/files/san/memdisk"
        [ "$status" -ne 0 ]                     # sanboot only: no memdisk
        # Range requests work (sanboot reads the image that way).
        [ "$(sysd_run curl -fsS -r 32769-32773 "http://$NET.1/files/auto/test.iso")" = CD001 ]

        head -c 100000 /dev/urandom > "$PROFILE_DIR/notiso.iso"
        printf 'boot "x" { kind = "iso" iso = "%s" }\n' "$PROFILE_DIR/notiso.iso" > "$PROFILE_DIR/bad.conf"
        echo 'bridge { address = "10.66.9.1/24" }' >> "$PROFILE_DIR/bad.conf"
        run --separate-stderr "$PXELAB" check "$PROFILE_DIR/bad.conf"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "$PROFILE_DIR/bad.conf:1: boot.x.iso: '$PROFILE_DIR/notiso.iso' is not an ISO 9660 image"* ]]
        PXELAB_MEMDISK=/nonexistent/memdisk run --separate-stderr "$PXELAB" check "$PROFILE_DIR/lab.conf"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"BIOS clients need memdisk, and '/nonexistent/memdisk' is not there"* ]]
}

@test "iso: BIOS, method auto: memdisk loads the whole image, GRUB on it boots the payload" {
        mac=52:54:00:66:00:01
        sysd_run "$PXELAB" vm start "$LAB" a1 --firmware bios --mac $mac --memory 512
        run console_until_off a1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"MEMDISK"* ]]
        [[ "$output" == *"PXELAB-ISO-GRUB"* ]]
        [[ "$output" == *"PXELAB-MARKER=from-iso"* ]]
        ip=$(lease_ip $mac)
        s=$(iso_size)
        http_log "$LAB" | grep -E "^$ip .*\"GET /files/auto/memdisk HTTP/1\.1\" 200 "
        http_log "$LAB" | grep -E "^$ip .*\"GET /files/auto/test\.iso HTTP/1\.1\" 200 $s len=$s "
        beacon $mac booted auto
        no_short_transfer
        sysd_run "$PXELAB" vm stop "$LAB" a1
}

@test "iso: BIOS, method sanboot: iPXE reads the image by range requests" {
        mac=52:54:00:66:00:02
        sysd_run "$PXELAB" vm start "$LAB" s1 --firmware bios --mac $mac --memory 256
        run console_until_off s1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"PXELAB-ISO-GRUB"* ]]
        [[ "$output" == *"PXELAB-MARKER=from-iso"* ]]
        [[ "$output" != *"MEMDISK"* ]]
        ip=$(lease_ip $mac)
        http_log "$LAB" | grep -E "^$ip .*\"HEAD /files/san/test\.iso HTTP/1\.1\" 200 "
        [ "$(http_log "$LAB" | grep -cE "^$ip .*\"GET /files/san/test\.iso HTTP/1\.1\" 206 ")" -gt 10 ]
        ! http_log "$LAB" | grep -E "^$ip .*\"GET /files/san/test\.iso HTTP/1\.1\" 200 "
        beacon $mac booted san
        no_short_transfer
        sysd_run "$PXELAB" vm stop "$LAB" s1
}

@test "iso: UEFI, method auto: sanboot, the firmware boots the image's EFI loader" {
        mac=52:54:00:66:00:03
        sysd_run "$PXELAB" vm start "$LAB" u1 --firmware uefi --mac $mac --memory 512
        run console_until_off u1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"PXELAB-MARKER=from-iso"* ]]
        ip=$(lease_ip $mac)
        [ "$(http_log "$LAB" | grep -cE "^$ip .*\"GET /files/auto/test\.iso HTTP/1\.1\" 206 ")" -gt 10 ]
        ! http_log "$LAB" | grep -E "^$ip .*\"GET /files/auto/memdisk "
        beacon $mac booted auto
        sysd_run "$PXELAB" vm stop "$LAB" u1
}

@test "iso: UEFI, method memdisk: the client is told why, the entry fails, the menu's default boots" {
        mac=52:54:00:66:00:04
        sysd_run "$PXELAB" vm start "$LAB" m1 --firmware uefi --mac $mac --memory 256
        run console_until_off m1
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *'memdisk boots BIOS clients only, and this is a efi client: use method = "sanboot"'* ]]
        [[ "$output" == *"PXELAB-MARKER=entry-other"* ]]
        ip=$(lease_ip $mac)
        beacon $mac failed mem
        ! http_log "$LAB" | grep -E "^$ip .*\"GET /files/mem/"
        run sysd_run "$PXELAB" watch "$LAB"
        [[ "$output" == *"entry 'mem' failed"* ]]
        sysd_run "$PXELAB" vm stop "$LAB" m1
}

@test "iso: Debian's ipxe.iso boots under memdisk" {
        mac=52:54:00:66:00:05
        log=/run/pxelab/$LAB/serial/i1.log
        sysd_run "$PXELAB" vm start "$LAB" i1 --firmware bios --mac $mac --memory 256
        # The image's iPXE comes up after memdisk (and then netboots again: stop it there).
        for _ in $(seq "$BOOT_TIMEOUT"); do
                sysd_run sh -c "sed -n '/MEMDISK/,\$p' $log | grep -q 'iPXE initialising'" && break
                sleep 1
        done
        sysd_run cat "$log"
        sysd_run sh -c "sed -n '/MEMDISK/,\$p' $log | grep -q 'iPXE initialising'"
        ip=$(lease_ip $mac)
        s=$(stat -c %s /usr/lib/ipxe/ipxe.iso)
        http_log "$LAB" | grep -E "^$ip .*\"GET /files/ipxeiso/ipxe\.iso HTTP/1\.1\" 200 $s len=$s "
        sysd_run "$PXELAB" vm stop "$LAB" i1
}

@test "iso: down leaves the images where they were" {
        before=$(sha256sum "$PROFILE_DIR/test.iso")
        sysd_run "$PXELAB" down "$LAB"
        [ "$(sha256sum "$PROFILE_DIR/test.iso")" = "$before" ]
        [ -f /usr/lib/ipxe/ipxe.iso ]
}
