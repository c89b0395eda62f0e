# A Windows lab for the suites that need one (windows.bats, security.bats).

# mkwinlab NAME ADDRESS [WIMBOOT] [EXTRA ENTRY LINES...]: $OUT/win-NAME with
# an install tree iso/, a wimboot stand-in (random bytes, or the file
# WIMBOOT), drivers/, autounattend.xml and lab.conf (lab NAME, no uplink,
# boot entry "win" of kind windows). Prints the profile's path.
mkwinlab() {
        local name=$1 addr=$2 wimboot=${3:-} d=$OUT/win-$1
        shift 3 || shift $#
        rm -rf "$d"
        mkdir -p "$d/iso/BOOT" "$d/iso/Sources" "$d/wim/Windows/System32" "$d/drivers"
        head -c 409600 /dev/urandom > "$d/iso/BOOTMGR"
        head -c 16384 /dev/urandom > "$d/iso/BOOT/BCD"
        head -c 300000 /dev/urandom > "$d/iso/BOOT/Boot.SDI"
        head -c 1000000 /dev/urandom > "$d/iso/setup.exe"
        head -c 200000 /dev/urandom > "$d/wim/Windows/System32/winpeshl.exe"
        echo "stand-in" > "$d/wim/Windows/System32/wpeinit.exe"
        wimcapture "$d/wim" "$d/iso/Sources/BOOT.WIM" "pxelab stand-in WinPE" >/dev/null
        head -c 50000 /dev/urandom > "$d/drivers/netkvm.sys"
        printf '[Version]\r\nSignature="$WINDOWS NT$"\r\n' > "$d/drivers/netkvm.inf"
        head -c 9000 /dev/urandom > "$d/drivers/netkvm.cat"
        printf '<?xml version="1.0"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend"/>\n' > "$d/autounattend.xml"
        if [ -n "$wimboot" ]; then
                cp "$wimboot" "$d/wimboot"
        else
                head -c 30000 /dev/urandom > "$d/wimboot"
        fi
        chmod -R a+rX "$d"
        {
                echo "lab = \"$name\""
                echo 'wimboot = "wimboot"'
                echo "bridge { address = \"$addr\" uplink = \"none\" }"
                echo 'boot "win" { kind = "windows" source = "iso" unattend = "autounattend.xml" drivers = "drivers" }'
                for l in "$@"; do echo "$l"; done
        } > "$d/lab.conf"
        echo "$d/lab.conf"
}
