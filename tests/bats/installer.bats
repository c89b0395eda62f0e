#!/usr/bin/env bats
# Real installers through the lab: profiles/debian-installer.conf, as
# shipped, serves Debian's own netboot installer (package
# debian-installer-12-netboot-amd64, nothing of it made here) and BIOS and
# UEFI VMs boot it to the installer's first dialog on the serial console,
# in the throwaway systemd of tests/harness/sysd.bash.
bats_require_minimum_version 1.5.0
load common
load ../harness/sysd

LAB=debian-installer
# The installer's initrd is 40 MB and TCG is slow; bounded all the same.
DIALOG_TIMEOUT=${VM_BOOT_TIMEOUT:-300}
export PXELAB_ACCEL=tcg

setup_file() {
        sysd_boot
        sysd_run "$PXELAB" up "$REPO/profiles/debian-installer.conf"
}

teardown_file() { sysd_kill; }

# wait_dialog VM TEXT: until the VM's serial log shows TEXT (the newt
# frontend draws with escape sequences, so the text is looked for with
# them removed), bounded. Prints the cleaned log's tail.
wait_dialog() {
        local log=/run/pxelab/$LAB/serial/$1.log
        sysd_run timeout "$DIALOG_TIMEOUT" sh -c '
                until sed "s/\x1b\[[0-9;?]*[A-Za-z]//g" "$1" 2>/dev/null | grep -qF "$2"; do sleep 2; done' - "$log" "$2"
        local rc=$?
        sysd_run sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | tr -s ' ' | tail -c 3000
        return $rc
}

# installer_boots VM FIRMWARE: the VM reaches "Select a language".
installer_boots() {
        local vm=$1 fw=$2
        sysd_run "$PXELAB" vm start "$LAB" "$vm" --firmware "$fw" --memory 1024
        run wait_dialog "$vm" "Choose the language to be used for the installation process."
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Select a language"* ]]
        # Debian's kernel, with the entry's command line, booted from the lab.
        sysd_run grep -a -q "Linux version 6.1.0-" "/run/pxelab/$LAB/serial/$vm.log"
        sysd_run grep -a -q "console=ttyS0,115200n8" "/run/pxelab/$LAB/serial/$vm.log"
        # nginx served the installer's kernel and its whole initrd.
        size=$(stat -c %s /usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/initrd.gz)
        http_log "$LAB" | grep -E "\"GET /files/install/initrd\.gz HTTP/1\.1\" 200 $size len=$size "
        sysd_run "$PXELAB" vm stop "$LAB" "$vm"
}

@test "debian-installer: the profile as shipped checks and is up" {
        run sysd_run "$PXELAB" check "$REPO/profiles/debian-installer.conf"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"/files/install/initrd.gz"* ]]
        sysd_run "$PXELAB" status "$LAB" --json | jq -e '.labs[0].units | length >= 2'
}

@test "debian-installer: a BIOS VM boots Debian's installer to its first dialog" {
        installer_boots dib bios
}

@test "debian-installer: a UEFI VM boots Debian's installer to its first dialog (initrd= on its command line)" {
        installer_boots diu uefi
        sysd_run grep -a -q "initrd=initrd.gz" "/run/pxelab/$LAB/serial/diu.log"
}
