#!/usr/bin/env bats
# Secure Boot clients (uefi_loader = "shim"), end to end in the throwaway
# systemd (tests/harness/sysd.bash): `pxelab up` of a lab whose UEFI clients
# get Debian's signed chain, then `uefi-secure` VMs (OVMF's Secure Boot
# build with Microsoft's keys, SMM, its own PXE, TCG) boot the payload
# (tests/payload/build: Debian's signed kernel + the marker initramfs)
# through shim and GRUB over TFTP. The kernel's own lines prove Secure Boot
# was on; a machine the lab hands Debian's unsigned iPXE (snponly.efi) is refused by
# the firmware, which proves it enforces signatures. SB boots under TCG are
# slow: three VMs, each boot once.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=sbt
NET=10.66.0
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-300}
export PXELAB_ACCEL=tcg
MAC_MENU=52:54:00:66:00:01
MAC_HOST=52:54:00:66:00:02
MAC_IPXE=52:54:00:66:00:03

setup_file() {
        export PAYLOAD=$OUT/vm-payload PROFILE_DIR=$OUT/lab-$LAB
        "$REPO/tests/payload/build" "$PAYLOAD"
        rm -rf "$PROFILE_DIR"
        mkdir -p "$PROFILE_DIR"
        {
                echo "lab = \"$LAB\""
                echo 'uefi_loader = "shim"'
                echo "bridge { address = \"$NET.1/24\" uplink = \"none\" }"
                echo 'menu { title = "Secure Boot test lab" timeout = 2 default = "sbdefault" }'
                for e in sbfirst sbdefault sbhost; do
                        echo "boot \"$e\" { title = \"Signed payload $e\" kind = \"linux\" kernel = \"$PAYLOAD/vmlinuz\""
                        echo "    initrd = {\"$PAYLOAD/initrd.img\"} cmdline = \"console=ttyS0 pxelab.marker=entry-$e\" }"
                done
                echo 'boot "shell" { kind = "shell" }'
                echo "host \"sbhost1\" { mac = \"$MAC_HOST\" boot = \"sbhost\" }"
                echo "host \"legacy1\" { mac = \"$MAC_IPXE\" uefi_loader = \"ipxe\" }"
        } > "$PROFILE_DIR/lab.conf"
        sysd_boot
        sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
}

teardown_file() { sysd_kill; }

# dnsmasq's journal lines of MAC's DHCP transactions: from each DISCOVER or
# REQUEST of MAC up to the next client's (OVMF gives every VM the same XID,
# so the XID does not tell them apart).
dhcp_log() {
        sysd_run journalctl --no-pager -o cat -u "pxelab-$LAB-dnsmasq.service" |
                awk -v mac="$1" '/DHCP(DISCOVER|REQUEST)\(/ { mine = index($0, mac) > 0 } mine'
}

journal() {
        sysd_run journalctl --no-pager -o cat -u "pxelab-$LAB-dnsmasq.service"
}

# A shim lab of one linux entry with KERNEL, in $OUT/sbcheck.conf.
mkcheck() {   # KERNEL [LOADER [EXTRA]]
        {
                echo 'lab = "sbcheck"'
                echo "uefi_loader = \"${2:-shim}\""
                echo 'bridge { address = "10.67.0.1/24" }'
                echo "boot \"k\" { kind = \"linux\" kernel = \"$1\" }"
                echo "${3:-}"
        } > "$OUT/sbcheck.conf"
        echo "$OUT/sbcheck.conf"
}

@test "secboot: check warns about a kernel shim and GRUB would refuse, and only for shim labs" {
        # Debian's signed kernel: no warning.
        run --separate-stderr "$PXELAB" check "$(mkcheck "$PAYLOAD/vmlinuz")"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *Warning* ]]
        # Debian's iPXE is a PE image without a signature.
        run --separate-stderr "$PXELAB" check "$(mkcheck /usr/lib/ipxe/ipxe.efi)"
        [ "$status" -eq 0 ]
        [[ "$stderr" == *"Warning: boot.k.kernel '"*"ipxe.efi' is not signed (its PE certificate table is empty)"* ]]
        [[ "$output" == *OK* ]]
        # Not an EFI image at all.
        run --separate-stderr "$PXELAB" check "$(mkcheck "$REPO/tests/fixtures/vmlinuz")"
        [ "$status" -eq 0 ]
        [[ "$stderr" == *"boot.k.kernel '$REPO/tests/fixtures/vmlinuz' is not an EFI (PE) image"* ]]
        # Only a host on shim: still warned; nobody on shim: not.
        run --separate-stderr "$PXELAB" check "$(mkcheck /usr/lib/ipxe/ipxe.efi ipxe 'host "h" { mac = "52:54:00:67:00:01" uefi_loader = "shim" }')"
        [[ "$stderr" == *"is not signed"* ]]
        run --separate-stderr "$PXELAB" check "$(mkcheck /usr/lib/ipxe/ipxe.efi ipxe)"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *Warning* ]]
        # The shipped example checks clean: the installer's kernel is signed.
        run --separate-stderr "$PXELAB" check "$REPO/profiles/secure-boot.conf"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *Warning* ]]
        # It lists the chain served over TFTP.
        [[ "$output" == *"tftp efi/shimx64.efi "*"shimx64.efi.signed"* ]]
        [[ "$output" == *"tftp efi/grubx64.efi "*"/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"* ]]
}

@test "secboot: a shim the profile names must exist; uefi-secure VMs may be declared" {
        run --separate-stderr "$PXELAB" check "$(mkcheck "$PAYLOAD/vmlinuz" shim 'shim = "/nonexistent/shimx64.efi"')"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$OUT/sbcheck.conf:5: shim: '/nonexistent/shimx64.efi' does not exist" ]
        run "$PXELAB" check "$(mkcheck "$PAYLOAD/vmlinuz" shim 'vm "v" { firmware = "uefi-secure" }')"
        [ "$status" -eq 0 ]
        run sysd_run "$PXELAB" vm start "$LAB" --firmware uefi-bogus
        [ "$status" -eq 2 ]
        [[ "$output" == *"(bios, uefi, uefi-pxe or uefi-secure)"* ]]
}

@test "secboot: one shim host in an iPXE lab is tagged; without shim clients the chain goes from tftp/" {
        conf=$(mkcheck "$PAYLOAD/vmlinuz" ipxe "host \"sb\" { mac = \"52:54:00:67:00:02\" uefi_loader = \"shim\" }
boot \"shell\" { kind = \"shell\" }
menu { default = \"shell\" }")
        dir=$OUT/sbrender
        rm -rf "$dir"
        run "$PXELAB" render "$conf" -o "$dir"
        [ "$status" -eq 0 ]
        grep -qx 'dhcp-host=52:54:00:67:00:02,set:loader-shim,sb' "$dir/dnsmasq.conf"
        grep -qx 'tag-if=set:shim,tag:efi64,tag:!ipxe,tag:loader-shim' "$dir/dnsmasq.conf"
        grep -qx 'dhcp-boot=tag:shim,efi/shimx64.efi' "$dir/dnsmasq.conf"
        grep -qx 'dhcp-boot=tag:efi64,tag:!ipxe,tag:!shim,snponly.efi' "$dir/dnsmasq.conf"
        run dnsmasq --test --conf-file="$dir/dnsmasq.conf"
        [ "$status" -eq 0 ]
        # The menu's default is the iPXE shell: GRUB's is the linux entry, and says why.
        grep -qx 'set default=k' "$dir/tftp/grub/grub.cfg"
        grep -q "the menu's default 'shell' cannot boot under Secure Boot" "$dir/tftp/grub/grub.cfg"
        cmp "$dir/tftp/files/k/vmlinuz" "$PAYLOAD/vmlinuz"
        # Nobody on shim any more: efi/, grub/ and files/ go, the iPXE loaders stay.
        run "$PXELAB" render "$(mkcheck "$PAYLOAD/vmlinuz" ipxe)" -o "$dir"
        [ "$status" -eq 0 ]
        [ ! -e "$dir/tftp/efi" ] && [ ! -e "$dir/tftp/grub" ] && [ ! -e "$dir/tftp/files" ]
        [ -f "$dir/tftp/ipxe.efi" ]
        ! grep -q 'shim\|dhcp-no-override' "$dir/dnsmasq.conf"
}

@test "secboot: the installer's two entries share one copy of its kernel and initrd" {
        dir=$OUT/sbinstaller
        rm -rf "$dir"
        "$PXELAB" render "$REPO/profiles/secure-boot.conf" -o "$dir"
        for f in linux initrd.gz; do
                cmp "$dir/tftp/files/install/$f" \
                        "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/$f"
                [ "$(stat -c %i "$dir/tftp/files/install/$f")" = "$(stat -c %i "$dir/tftp/files/expert/$f")" ]
        done
}

@test "secboot: get-shim unpacks Debian's signed shim without installing shim-signed" {
        before=$(dpkg-query -W -f='${Status}' shim-signed shim-helpers-amd64-signed 2>/dev/null || true)
        run "$REPO/scripts/get-shim" "$OUT/get-shim"
        echo "$output"
        [ "$status" -eq 0 ]
        [ -f "$OUT/get-shim/shimx64.efi.signed" ]
        [ "$(stat -c %a "$OUT/get-shim/shimx64.efi.signed")" = 644 ]
        [ "$(cat "$OUT/get-shim/VERSION")" = "$(apt-cache policy shim-signed | awk '/Candidate:/ { print $2 }')" ]
        # Signed (a shim lab with it as its "kernel" checks without a warning).
        run --separate-stderr "$PXELAB" check "$(mkcheck "$OUT/get-shim/shimx64.efi.signed")"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *Warning* ]]
        # dpkg knows nothing new; a second run with the same version does nothing.
        [ "$(dpkg-query -W -f='${Status}' shim-signed shim-helpers-amd64-signed 2>/dev/null || true)" = "$before" ]
        run "$REPO/scripts/get-shim" "$OUT/get-shim"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
}

@test "secboot: install-deps would install GRUB's signed image but never shim-signed, on a machine with nothing installed" {
        run --separate-stderr "$REPO/scripts/install-deps" --simulate
        [ "$status" -eq 0 ]
        for p in grub-efi-amd64-signed grub-efi-amd64-bin tgt qemu-system-x86 ovmf; do
                grep -qx "$p" <<<"$output"
        done
        ! grep -E '^shim-(signed|helpers-amd64-signed)$' <<<"$output"
}

@test "secboot: the lab's TFTP tree holds the signed chain, GRUB's menu and the boot files" {
        t=/run/pxelab/$LAB/tftp
        # The default shim: Debian's path if shim-signed is installed, else get-shim's.
        shim=/usr/local/lib/pxelab/shim/shimx64.efi.signed
        [ ! -f /usr/lib/shim/shimx64.efi.signed ] || shim=/usr/lib/shim/shimx64.efi.signed
        sysd_run cmp "$t/efi/shimx64.efi" "$shim"
        sysd_run cmp "$t/efi/grubx64.efi" /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed
        sysd_run cmp "$t/files/sbdefault/vmlinuz" "$PAYLOAD/vmlinuz"
        sysd_run cmp "$t/files/sbdefault/initrd.img" "$PAYLOAD/initrd.img"
        # Regular files only, no symlink, in the nosymfollow TFTP root.
        [ -z "$(sysd_run find "$t" -type l)" ]
        run sysd_run cat "$t/grub/grub.cfg"
        [[ "$output" == *"set default=sbdefault"* ]]
        [[ "$output" == *"set timeout=2"* ]]
        [[ "$output" == *"linux /files/sbdefault/vmlinuz console=ttyS0 pxelab.marker=entry-sbdefault"* ]]
        [[ "$output" == *'"shell" (shell) is left out'* ]]
        run sysd_run cat "$t/grub/hosts/$MAC_HOST.cfg"
        [[ "$output" == *"set default=sbhost"* ]]
        # dnsmasq: shim for the lab's UEFI clients, snponly.efi for the tagged host.
        run sysd_run cat "/run/pxelab/$LAB/dnsmasq.conf"
        [[ "$output" == *$'\ndhcp-no-override\n'* ]]
        [[ "$output" == *"dhcp-host=$MAC_IPXE,set:loader-ipxe,legacy1"* ]]
        # up's self-check asked dnsmasq for the whole chain over TFTP, from
        # the lab's own address, before any client came; not for the
        # per-host GRUB configs.
        run journal
        for f in efi/shimx64.efi efi/grubx64.efi grub/grub.cfg files/sbdefault/vmlinuz files/sbdefault/initrd.img \
                 snponly.efi undionly.kpxe; do
                [[ "$output" == *"sent $t/$f to $NET.1"* ]]
        done
        [[ "$output" != *"sent $t/grub/hosts/"*" to $NET.1"* ]]
        # up warns as check does: an entry with an unsigned kernel, added and taken away again.
        cp "$PROFILE_DIR/lab.conf" "$PROFILE_DIR/lab.conf.orig"
        echo 'boot "unsigned" { kind = "linux" kernel = "/usr/lib/ipxe/ipxe.efi" }' >> "$PROFILE_DIR/lab.conf"
        run --separate-stderr sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
        mv "$PROFILE_DIR/lab.conf.orig" "$PROFILE_DIR/lab.conf"
        [ "$status" -eq 0 ]
        [[ "$stderr" == *"Warning: boot.unsigned.kernel '"*"ipxe.efi' is not signed"* ]]
        sysd_run test -f "$t/files/unsigned/ipxe.efi"
        run --separate-stderr sysd_run "$PXELAB" up "$PROFILE_DIR/lab.conf"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *Warning* ]]
        run sysd_run test -e "$t/files/unsigned"
        [ "$status" -ne 0 ]
}

@test "secboot: a Secure Boot VM boots the default entry through shim and GRUB after the menu's timeout" {
        run sysd_run "$PXELAB" vm start "$LAB" sbmenu --firmware uefi-secure --mac $MAC_MENU --memory 512
        echo "$output"
        [ "$status" -eq 0 ]
        u=pxelab-$LAB-vm-sbmenu.service
        sysd_run systemctl show -P ExecStart "$u" | grep -q 'OVMF_CODE_4M.secboot.fd'
        sysd_run systemctl show -P ExecStart "$u" | grep -q 'smm=on'
        dir=$(sysd_run jq -r '.vms.sbmenu.dir' "/run/pxelab/$LAB/state.json")
        sysd_run cmp "$dir/OVMF_VARS.secure.fd" /usr/share/OVMF/OVMF_VARS_4M.ms.fd

        run console_until_off sbmenu
        log=$(tr -d '\r' <<< "$output")
        # GRUB's menu listed the linux entries (not the shell) ...
        [[ "$log" == *"Signed payload sbfirst"* ]]
        [[ "$log" == *"Signed payload sbdefault"* ]]
        [[ "$log" == *"Signed payload sbhost"* ]]
        [[ "$log" == *"Secure Boot test lab"* ]]
        # ... and booted its default; Secure Boot was on all the way.
        [[ "$log" == *"pxelab: booting Signed payload sbdefault"* ]]
        [[ "$log" == *"EFI stub: UEFI Secure Boot is enabled."* ]]
        [[ "$log" == *"secureboot: Secure boot enabled"* ]]
        [[ "$log" == *"PXELAB-BOOT-OK"* ]]
        [[ "$log" == *"PXELAB-MARKER=entry-sbdefault"* ]]
        # The journal names the loader: tag "shim", shim's file; TFTP served the chain.
        run dhcp_log $MAC_MENU
        echo "$output"
        [[ "$output" == *"tags: "*"shim"* ]]
        [[ "$output" == *"bootfile name: efi/shimx64.efi"* ]]
        [[ "$output" != *"bootfile name: snponly.efi"* ]]
        run journal
        [[ "$output" == *"sent /run/pxelab/$LAB/tftp/efi/shimx64.efi"* ]]
        [[ "$output" == *"sent /run/pxelab/$LAB/tftp/efi/grubx64.efi"* ]]
        [[ "$output" == *"sent /run/pxelab/$LAB/tftp/grub/grub.cfg"* ]]
        [[ "$output" == *"sent /run/pxelab/$LAB/tftp/files/sbdefault/vmlinuz"* ]]
        # watch names the loader and the chain, and a kernel over TFTP is no stall.
        run sysd_run "$PXELAB" watch "$LAB" --json
        echo "$output"
        [ "$status" -eq 0 ]
        mine=$(jq -c --arg mac $MAC_MENU 'select(.mac == $mac)' <<< "$output")
        [[ "$mine" == *'"efi/shimx64.efi"'* ]]
        [[ "$mine" == *'"files/sbdefault/vmlinuz"'* ]]
        [[ "$mine" != *stalled* ]]
}

@test "secboot: a host entry boots its own entry, and the host handed iPXE (snponly.efi) is refused by the firmware" {
        run sysd_run "$PXELAB" vm start "$LAB" sbhost1 --firmware uefi-secure --mac $MAC_HOST --memory 512
        [ "$status" -eq 0 ]
        run sysd_run "$PXELAB" vm start "$LAB" legacy1 --firmware uefi-secure --mac $MAC_IPXE --memory 512
        [ "$status" -eq 0 ]

        # Signatures are enforced: Debian's iPXE is unsigned.
        wait_console legacy1 'Access Denied'
        run sysd_run cat "/run/pxelab/$LAB/serial/legacy1.log"
        log=$(tr -d '\r' <<< "$output")
        [[ "$log" == *"failed to load"*"Access Denied"* ]]
        [[ "$log" != *"iPXE initialising"* ]]
        run dhcp_log $MAC_IPXE
        echo "$output"
        [[ "$output" == *"loader-ipxe"* ]]
        [[ "$output" == *"bootfile name: snponly.efi"* ]]
        [[ "$output" != *"tags: shim"* ]]
        [[ "$output" != *", shim"* ]]
        sysd_run "$PXELAB" vm stop "$LAB" legacy1

        run console_until_off sbhost1
        log=$(tr -d '\r' <<< "$output")
        [[ "$log" == *"secureboot: Secure boot enabled"* ]]
        [[ "$log" == *"PXELAB-MARKER=entry-sbhost"* ]]
        [[ "$log" != *"PXELAB-MARKER=entry-sbdefault"* ]]
}
