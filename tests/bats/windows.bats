#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Windows: wimboot and windows entries. Golden files of the startup pxelab
# renders (winpeshl.ini, install.cmd, smb.conf, the iPXE script), the
# credentials and smbd's passdb, then in the throwaway systemd
# (tests/harness/sysd.bash) the lab's real smbd against a real smbclient on
# the bridge, and VMs (BIOS and UEFI) fetching the whole Windows boot set.
#
# The install tree is made here: stand-ins for bootmgr, the BCD, boot.sdi
# and setup.exe, in the mixed case real media have, and a real WIM made by
# wimlib's wimcapture.
#
# PXELAB_GOLDEN_UPDATE=1 rewrites tests/golden/windows-startup/ instead of
# comparing (review the diff).
load common
load windows-fixture
load ../harness/sysd

GOLDEN=$REPO/tests/golden/windows-startup
# Bounded waits: QEMU runs under TCG here.
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-150}
# Pinned: these tests boot guests; how KVM fares here is accel.bats' business.
export PXELAB_ACCEL=tcg

teardown() { sysd_kill; }

# The credentials' password.
lab_password() {
        sed -n 's/^password = //p' "$1"
}

# golden CASE DIR FILE...: each FILE of the rendered DIR equals
# $GOLDEN/CASE/FILE with DIR as @DIR@, $OUT as @OUT@, the password as @PASSWORD@.
golden() {
        local case=$1 dir=$2 f pw
        shift 2
        pw=$(lab_password "$dir/smb.credentials" 2>/dev/null || true)
        for f in "$@"; do
                if [ -n "${PXELAB_GOLDEN_UPDATE:-}" ]; then
                        mkdir -p "$(dirname "$GOLDEN/$case/$f")"
                        sed -e "s|$dir|@DIR@|g" -e "s|$OUT|@OUT@|g" ${pw:+-e "s|$pw|@PASSWORD@|g"} "$dir/$f" > "$GOLDEN/$case/$f"
                fi
                diff -u "$GOLDEN/$case/$f" <(sed -e "s|$dir|@DIR@|g" -e "s|$OUT|@OUT@|g" ${pw:+-e "s|$pw|@PASSWORD@|g"} "$dir/$f")
        done
}

# (The iPXE scripts, nginx.conf and smb.conf of profiles/winpe.conf and
# profiles/windows.conf are in their golden trees too: render.bats.)
@test "windows: winpeshl.ini, install.cmd and smb.conf match their golden files" {
        dir=$OUT/render/windows-golden
        rm -rf "$dir"
        "$PXELAB" render profiles/windows.conf -o "$dir"
        golden windows "$dir" windows/win11/winpeshl.ini windows/win11/install.cmd smb.conf
        dir=$OUT/render/winpe-golden
        rm -rf "$dir"
        "$PXELAB" render profiles/winpe.conf -o "$dir"
        # No windows entry: no smbd, nothing of it rendered.
        [ ! -e "$dir/smb.conf" ] && [ ! -e "$dir/smb.credentials" ] && [ ! -e "$dir/windows" ]

        # Drivers (drvload, in name order), setup arguments, two shares.
        p=$(mkwinlab wg 10.71.0.1/24 "" \
                'boot "win10" { kind = "windows" source = "iso" setup_args = "/noreboot /dynamicupdate disable" }')
        dir=$OUT/render/windows-drivers
        rm -rf "$dir"
        "$PXELAB" render "$p" -o "$dir"
        golden drivers "$dir" windows/win/install.cmd windows/win10/install.cmd smb.conf
        # Every driver file is loaded (so injected) and served from where it is.
        for f in netkvm.cat netkvm.inf netkvm.sys; do
                grep -qx "initrd --name $f http://10.71.0.1/files/win/$f $f || goto failed" "$dir/http/boot/win.ipxe"
                grep -qx "        location = /files/win/$f { alias $OUT/win-wg/drivers/$f; }" "$dir/nginx.conf"
        done
}

@test "windows: cmd.exe gets CRLF line ends, smbd's testparm accepts smb.conf without a warning" {
        dir=$OUT/render/windows-crlf
        rm -rf "$dir"
        "$PXELAB" render profiles/windows.conf -o "$dir"
        for f in windows/win11/winpeshl.ini windows/win11/install.cmd; do
                # Every line ends in CR LF.
                [ "$(grep -c $'\r$' "$dir/$f")" -eq "$(wc -l < "$dir/$f")" ]
        done
        # The injected startup: cmd.exe runs install.cmd and stays at a prompt.
        grep -q $'^\\[LaunchApps\\]\r$' "$dir/windows/win11/winpeshl.ini"
        grep -q '^%SYSTEMROOT%\\System32\\cmd.exe, /k %SYSTEMROOT%\\System32\\install.cmd' "$dir/windows/win11/winpeshl.ini"
        run --separate-stderr testparm -s "$dir/smb.conf"
        echo "$stderr"
        [ "$status" -eq 0 ]
        # (It would like the lock, state and cache dirs 0755 "for browsing";
        # NetBIOS browsing is off and the lab's directories stay 0700.)
        [[ "$stderr" != *"Unknown parameter"* && "$stderr" != *"Ignoring"* ]]
        [ -z "$(grep WARNING <<< "$stderr" | grep -v 'should have permissions 0755 for browsing to work')" ]
        # What Samba reads back is what the lab needs.
        param() { testparm -s ${2:+--section-name="$2"} --parameter-name="$1" "$dir/smb.conf" 2>/dev/null; }
        [ "$(param 'server min protocol')" = SMB2 ]
        [ "$(param 'map to guest')" = Never ]
        [ "$(param 'restrict anonymous')" = 2 ]
        [ "$(param 'interfaces')" = 10.36.0.1/24 ]
        [ "$(param 'bind interfaces only')" = Yes ]
        [ "$(param 'hosts allow')" = 10.36.0.0/24 ]
        [ "$(param 'smb ports')" = 445 ]
        [ "$(param 'reset on zero vc')" = Yes ]
        [ "$(param 'read only' win11)" = Yes ]
        [ "$(param 'guest ok' win11)" = No ]
        [ "$(param 'path' win11)" = /srv/win11 ]
        # Every directory of smbd is inside the rendered tree.
        testparm -s -v "$dir/smb.conf" 2>/dev/null | grep -E '^\s*(private dir|lock directory|state directory|cache directory|pid directory|ncalrpc dir|binddns dir|log file|passdb backend|username map) = ' |
                while IFS='=' read -r k v; do
                        v=${v# }; v=${v#smbpasswd:}
                        echo "$k -> $v"
                        [[ "$v" == "$dir/"* ]]
                done
}

@test "windows: credentials are made once (0600) and kept; smbd's passdb holds their NT hash for 'nobody'" {
        dir=$OUT/render/windows-creds
        rm -rf "$dir"
        "$PXELAB" render profiles/windows.conf -o "$dir"
        [ "$(stat -c %a "$dir/smb.credentials")" = 600 ]
        [ "$(stat -c %a "$dir/smb/private/smbpasswd")" = 600 ]
        [ "$(sed -n 's/^username = //p' "$dir/smb.credentials")" = pxelab ]
        pw=$(lab_password "$dir/smb.credentials")
        [[ "$pw" =~ ^[A-Za-z0-9]{24}$ ]]
        grep -q " $pw /user:pxelab " "$dir/windows/win11/install.cmd"
        # nobody:UID:no LM hash:NT hash:flags:change time — Samba's format.
        uid=$(id -u nobody)
        grep -Eq "^nobody:$uid:X{32}:[0-9A-F]{32}:\[U {10}\]:LCT-[0-9A-F]{8}:\$" "$dir/smb/private/smbpasswd"
        [ "$(cat "$dir/smb/users.map")" = "nobody = pxelab" ]
        # Samba's own tools read it: the exported NT hash is the one of this
        # password as pdbedit stores it.
        nt=$(cut -d: -f4 "$dir/smb/private/smbpasswd")
        tmp=$(mktemp -d)
        sed "s|smbpasswd:$dir/smb/private/smbpasswd|tdbsam:$tmp/passdb.tdb|; s|$dir/smb/|$tmp/|g" "$dir/smb.conf" > "$tmp/smb.conf"
        mkdir -p "$tmp/private" "$tmp/lock" "$tmp/state" "$tmp/cache" "$tmp/pid" "$tmp/log" "$tmp/ncalrpc" "$tmp/binddns"
        printf '%s\n%s\n' "$pw" "$pw" | pdbedit -s "$tmp/smb.conf" -a -u nobody -t >/dev/null
        pdbedit -s "$tmp/smb.conf" -e "smbpasswd:$tmp/export" >/dev/null
        [ "$(cut -d: -f4 "$tmp/export")" = "$nt" ]
        rm -rf "$tmp"
        # Rendering again keeps the password, and changes nothing.
        before=$(cd "$dir" && find . -type f ! -path './tftp/*' -exec md5sum {} + | sort)
        "$PXELAB" render profiles/windows.conf -o "$dir"
        [ "$(lab_password "$dir/smb.credentials")" = "$pw" ]
        [ "$(cd "$dir" && find . -type f ! -path './tftp/*' -exec md5sum {} + | sort)" = "$before" ]
}

@test "windows: check finds the install tree's files in any case" {
        p=$(mkwinlab wc 10.72.0.1/24)
        run "$PXELAB" check "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        d=$OUT/win-wc
        [[ "$output" == *"/files/win/bootmgr"*"$d/iso/BOOTMGR"* ]]
        [[ "$output" == *"/files/win/BCD"*"$d/iso/BOOT/BCD"* ]]
        [[ "$output" == *"/files/win/boot.sdi"*"$d/iso/BOOT/Boot.SDI"* ]]
        [[ "$output" == *"/files/win/boot.wim"*"$d/iso/Sources/BOOT.WIM"* ]]
        [[ "$output" == *"/files/win/netkvm.inf"* ]]
        rm "$d/iso/Sources/BOOT.WIM"
        run --separate-stderr "$PXELAB" check "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$p:4: boot.win.source: 'iso' has no sources/boot.wim (looked up case-insensitively)" ]
}

@test "windows: render warns when the share's account 'nobody' cannot read the install tree" {
        p=$(mkwinlab wr 10.77.0.1/24)
        run --separate-stderr "$PXELAB" render "$p" -o "$OUT/render/windows-unreadable"
        [ "$status" -eq 0 ]
        [ -z "$stderr" ]
        chmod o-r "$OUT/win-wr/iso/setup.exe"
        run --separate-stderr "$PXELAB" render "$p" -o "$OUT/render/windows-unreadable"
        [ "$status" -eq 0 ]
        [ "$stderr" = "Warning: The install tree '$OUT/win-wr/iso' of boot entry 'win' is not readable by 'nobody', the account its SMB share is read with; make it world-readable (chmod -R o+rX) or use a mounted ISO" ]
}

@test "windows: up runs three hardened units; SMB works with the lab's credentials only, read-only, on the bridge only" {
        sysd_boot
        mkuplink
        p=$(mkwinlab ws 10.73.0.1/24)
        sed -i 's/uplink = "none"/uplink = "upl0"/' "$p"
        d=$OUT/win-ws
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"unit:     pxelab-ws-smbd.service"* ]]
        [[ "$output" == *'smb:      \\10.73.0.1\win (user pxelab, password in /var/lib/pxelab/ws/smb.credentials)'* ]]
        sysd_run jq -e '.units == ["pxelab-ws-dnsmasq.service", "pxelab-ws-nginx.service", "pxelab-ws-smbd.service"]' /run/pxelab/ws/state.json
        for s in dnsmasq nginx smbd; do
                [ "$(sysd_run systemctl show -P ActiveState pxelab-ws-$s.service)" = active ]
                [ "$(sysd_run systemctl show -P Slice pxelab-ws-$s.service)" = pxelab-ws.slice ]
        done
        u=pxelab-ws-smbd.service
        # smbd: notify readiness, the same sandbox as the others, writable
        # only its own directory, three capabilities.
        [ "$(sysd_run systemctl show -P Type $u)" = notify ]
        [ "$(sysd_run systemctl show -P ProtectSystem $u)" = strict ]
        [ "$(sysd_run systemctl show -P ProtectHome $u)" = yes ]
        [ "$(sysd_run systemctl show -P PrivateTmp $u)" = yes ]
        [ "$(sysd_run systemctl show -P NoNewPrivileges $u)" = yes ]
        [ "$(sysd_run systemctl show -P Restart $u)" = on-failure ]
        [ "$(sysd_run systemctl show -P ReadWritePaths $u)" = /run/pxelab/ws/smb ]
        [ "$(sysd_run systemctl show -P ReadOnlyPaths $u)" = "/run/pxelab/ws /var/lib/pxelab/ws" ]
        for k in PrivateDevices ProtectClock MemoryDenyWriteExecute; do
                [ "$(sysd_run systemctl show -P $k $u)" = yes ]
        done
        [ "$(sysd_run systemctl show -P ProtectProc $u)" = invisible ]
        [[ " $(sysd_run systemctl show -P SystemCallFilter $u) " == *" quotactl "* ]]
        [ "$(sysd_run systemctl show -P RestrictAddressFamilies $u | tr ' ' '\n' | sort | xargs)" = \
          "AF_INET AF_INET6 AF_NETLINK AF_UNIX" ]
        [ "$(sysd_run systemctl show -P CapabilityBoundingSet $u | tr ' ' '\n' | sort | xargs)" = "cap_net_bind_service cap_setgid cap_setuid" ]
        sysd_run systemctl show -P ExecStart $u | grep -q -- '--configfile=/run/pxelab/ws/smb.conf'

        # Listening: SMB on the lab's address only (no 139, no IPv6, not on upl0).
        sysd_run ss -Hltn > "$OUT/win-ws/ss.txt"
        cat "$OUT/win-ws/ss.txt"
        [ "$(awk '$4 ~ /:445$/ {print $4}' "$OUT/win-ws/ss.txt")" = 10.73.0.1:445 ]
        ! grep -E ':139\b' "$OUT/win-ws/ss.txt" || false
        # The lab's nft table lets SMB in from the bridge.
        sysd_run nft -j list table inet pxelab-ws | jq -e '[.nftables[] | select(.rule) | .rule.expr | tostring | select(contains("445"))] | length >= 1'
        # From the uplink side nothing answers on 445, and the lab's address,
        # which this host would route to, refuses SMB to anyone outside the lab.
        run sysd_run ip netns exec wan timeout 5 bash -c 'exec 3<>/dev/tcp/10.99.0.1/445'
        [ "$status" -ne 0 ]
        sysd_run ip -n wan route add 10.73.0.0/24 via 10.99.0.1
        run sysd_run ip netns exec wan smbclient //10.73.0.1/win -A /var/lib/pxelab/ws/smb.credentials -c ls
        echo "$output"
        [ "$status" -ne 0 ]
        [[ "$output" != *setup.exe* ]]

        # smbd's directories stay private to root (smbd makes its
        # lock/msg.lock 0755 itself, inside them, and its own tdb files);
        # nothing else of the lab is writable by others.
        [ "$(sysd_run find /run/pxelab/ws/smb -type d ! -perm 700)" = /run/pxelab/ws/smb/lock/msg.lock ]
        [ -z "$(sysd_run find /run/pxelab/ws -path /run/pxelab/ws/smb -prune -o -perm /022 ! -type l -print)" ]
        [ "$(sysd_run stat -c %a /run/pxelab/ws/smb /run/pxelab/ws/smb/private | xargs)" = "700 700" ]
        creds=/var/lib/pxelab/ws/smb.credentials
        [ "$(sysd_run stat -c %a $creds)" = 600 ]
        pw=$(sysd_run sed -n 's/^password = //p' $creds)
        sysd_client_ns c1 pxe-ws
        ip=$(sysd_udhcpc c1)
        echo "client: $ip"
        # The lab's credentials: the share is listed and read byte for byte.
        run sysd_client_run c1 smbclient -L //10.73.0.1 -A $creds
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" =~ win[[:space:]]+Disk ]]
        sysd_client_run c1 rm -f /tmp/setup.exe /tmp/boot.wim
        sysd_client_run c1 smbclient //10.73.0.1/win -A $creds -c 'ls; get setup.exe /tmp/setup.exe; get sources\boot.wim /tmp/boot.wim'
        sysd_client_run c1 cmp /tmp/setup.exe "$d/iso/setup.exe"
        sysd_client_run c1 cmp /tmp/boot.wim "$d/iso/Sources/BOOT.WIM"
        # Any domain (WinPE sends its own computer name), and SMB3.
        sysd_client_run c1 smbclient //10.73.0.1/win -U "MININT-1234\\pxelab%$pw" -m SMB3 -c 'ls setup.exe'
        # Guest and anonymous: refused.
        run sysd_client_run c1 smbclient //10.73.0.1/win -N -c ls
        echo "$output"
        [ "$status" -ne 0 ]
        [[ "$output" == *NT_STATUS_ACCESS_DENIED* || "$output" == *NT_STATUS_LOGON_FAILURE* ]]
        run sysd_client_run c1 smbclient //10.73.0.1/win -U 'guest%' -c ls
        [ "$status" -ne 0 ]
        [[ "$output" == *NT_STATUS_LOGON_FAILURE* ]]
        run sysd_client_run c1 smbclient -L //10.73.0.1 -N
        [ "$status" -ne 0 ]
        # A wrong password: refused.
        run sysd_client_run c1 smbclient //10.73.0.1/win -U "pxelab%${pw}x" -c ls
        [ "$status" -ne 0 ]
        [[ "$output" == *NT_STATUS_LOGON_FAILURE* ]]
        # SMB1: refused.
        run sysd_client_run c1 smbclient //10.73.0.1/win -A $creds -m NT1 -c ls
        [ "$status" -ne 0 ]
        # Writing: refused, even where the tree's own permissions would let the
        # share's account write (the share is read-only, and smbd's sandbox
        # can't write there either); the tree is unchanged.
        chmod -R o+w "$d/iso"
        before=$(cd "$d/iso" && find . -printf '%p %s %T@\n' | sort)
        sysd_client_run c1 sh -c 'echo x > /tmp/new.txt'
        for c in 'put /tmp/new.txt new.txt' 'mkdir newdir' 'del setup.exe' 'rename setup.exe moved.exe' 'put /tmp/new.txt setup.exe'; do
                run sysd_client_run c1 smbclient //10.73.0.1/win -A $creds -c "$c"
                echo "$c: $output"
                [[ "$output" == *NT_STATUS_ACCESS_DENIED* || "$output" == *NT_STATUS_MEDIA_WRITE_PROTECTED* ]]
        done
        [ "$(cd "$d/iso" && find . -printf '%p %s %T@\n' | sort)" = "$before" ]
        # A second session after the first ended still works (WinPE reconnects).
        sysd_client_run c1 smbclient //10.73.0.1/win -A $creds -c 'ls setup.exe'
        # Healthy, with three units.
        sysd_run "$PXELAB" status ws --json | jq -e '.labs[0].healthy and (.labs[0].units | length == 3)'
}

@test "windows: up twice keeps smbd and the password; without windows entries smbd goes; down leaves no account and no file" {
        sysd_boot
        accounts=$(sysd_run sh -c 'cat /etc/passwd /etc/group /etc/shadow /etc/gshadow 2>/dev/null | md5sum')
        before=$(host_snapshot)
        p=$(mkwinlab wd 10.74.0.1/24)
        sysd_run "$PXELAB" up "$p"
        pid=$(sysd_run systemctl show -P MainPID pxelab-wd-smbd.service)
        pw=$(sysd_run sed -n 's/^password = //p' /var/lib/pxelab/wd/smb.credentials)
        run sysd_run "$PXELAB" up "$p"
        [ "$status" -eq 0 ]
        [ "$(sysd_run systemctl show -P MainPID pxelab-wd-smbd.service)" = "$pid" ]
        [ "$(sysd_run sed -n 's/^password = //p' /var/lib/pxelab/wd/smb.credentials)" = "$pw" ]
        # A changed share restarts smbd.
        echo 'boot "win2" { kind = "windows" source = "iso" }' >> "$p"
        sysd_run "$PXELAB" up "$p"
        [ "$(sysd_run systemctl show -P MainPID pxelab-wd-smbd.service)" != "$pid" ]
        sysd_run grep -qx '\[win2\]' /run/pxelab/wd/smb.conf
        # The windows entries go: smbd is stopped, SMB no longer accepted.
        sed -i '/kind = "windows"/d' "$p"
        echo 'boot "disk" { kind = "local" }' >> "$p"
        run sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [ -z "$(sysd_run systemctl list-units --all --plain --no-legend pxelab-wd-smbd.service)" ]
        sysd_run jq -e '.units | index("pxelab-wd-smbd.service") == null' /run/pxelab/wd/state.json
        ! sysd_run nft list table inet pxelab-wd | grep -qw 445 || false
        ! sysd_run test -e /run/pxelab/wd/windows || false
        # Back, then down: nothing of the lab's SMB is left on the host, and no account.
        mkwinlab wd 10.74.0.1/24 >/dev/null
        sysd_run "$PXELAB" up "$p"
        run sysd_run "$PXELAB" down wd
        [ "$status" -eq 0 ]
        [ "$(host_snapshot)" = "$before" ]
        [ "$(sysd_run sh -c 'cat /etc/passwd /etc/group /etc/shadow /etc/gshadow 2>/dev/null | md5sum')" = "$accounts" ]
        run sysd_run getent passwd pxelab
        [ "$status" -ne 0 ]
        ! sysd_run test -e /run/pxelab/wd || false
        [ -z "$(sysd_run ss -Hltn 'sport = :445')" ]
}

@test "windows: a host Samba on port 445 makes up refuse before changing anything" {
        sysd_boot
        before=$(host_snapshot)
        p=$(mkwinlab wp 10.75.0.1/24)
        sysd_run sh -c 'exec python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 445)); s.listen(1); time.sleep(60)"' &
        for i in $(seq 50); do sysd_run ss -Hltn 'sport = :445' | grep -q . && break; sleep 0.1; done
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        kill %1 2>/dev/null || true
        echo "$stderr"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"Port 445/tcp (SMB) is already in use on this host at 10.75.0.1 or on all addresses"* ]]
        [ "$(host_snapshot)" = "$before" ]
}

# ---- VMs: BIOS and UEFI fetch the whole Windows boot set ------------------

# The profile of the VM tests: the windows entry (with unattend and drivers)
# and a wimboot entry with an injected file, wimboot being a stand-in: any
# bzImage, which iPXE loads exactly as it loads wimboot (it then panics
# without a root file system, which is fine: the fetches are the proof).
mkvmlab() {
        local kernel p
        kernel=$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1)
        p=$(mkwinlab wv 10.76.0.1/24 "$kernel" \
                'boot "pe" { kind = "wimboot" bcd = "iso/BOOT/BCD" boot_sdi = "iso/BOOT/Boot.SDI" wim = "iso/Sources/BOOT.WIM"' \
                '    inject = {"drivers/netkvm.inf", "autounattend.xml"} args = "console=ttyS0" }' \
                'host "bios1" { mac = "52:54:00:76:00:01" boot = "win" }' \
                'host "uefi1" { mac = "52:54:00:76:00:02" boot = "win" }' \
                'host "pe1"   { mac = "52:54:00:76:00:03" boot = "pe" }')
        echo "$p"
}

# What ENTRY's script loads, in its order: "URL_PATH 200 SIZE" per file
# (kernel first, then each initrd), sizes of the files nginx aliases.
expected_fetches() {
        local lab=$1 entry=$2 u path
        sysd_run sed -n -E 's#^(kernel|initrd --name [^ ]+) http://[0-9.]+(/files/[^ ]+).*#\2#p' \
                "/run/pxelab/$lab/http/boot/$entry.ipxe" |
                while read -r u; do
                        path=$(sysd_run sed -n "s#^ *location = $u { alias \\(.*\\); }\$#\\1#p" "/run/pxelab/$lab/nginx.conf")
                        echo "$u 200 $(sysd_run stat -c %s "$path")"
                done
}

# What IP fetched from /files/, in order: "URL_PATH STATUS BYTES" (nginx's
# log: $remote_addr [$time_iso8601] "$request" $status $body_bytes_sent).
fetched() {
        http_log "$1" |
                awk -v ip="$2" '$1 == ip && $3 == "\"GET" && $4 ~ /^\/files\// { print $4, $6, $7 }'
}

# vm_fetches_all LAB VM FIRMWARE MAC ENTRY [MARKER]: the VM boots ENTRY (its
# host entry) and fetches every file of ENTRY's script, each once, in the
# script's order, status 200, every byte; then the stand-in runs (MARKER, a
# line of its output, shows on the serial console). Bounded by $BOOT_TIMEOUT.
vm_fetches_all() {
        local lab=$1 vm=$2 fw=$3 mac=$4 entry=$5 marker=${6:-} expected last ip= got i log
        expected=$(expected_fetches "$lab" "$entry")
        echo "expected:"
        echo "$expected"
        [ "$(wc -l <<< "$expected")" -ge 5 ]
        last=$(tail -n 1 <<< "$expected" | cut -d' ' -f1)
        sysd_run "$PXELAB" vm start "$lab" "$vm" --firmware "$fw" --mac "$mac" --memory 512
        for ((i = 0; i < BOOT_TIMEOUT; i++)); do
                [ -n "$ip" ] || ip=$(sysd_run "$PXELAB" status "$lab" --json |
                        jq -r --arg mac "$mac" '.labs[0].leases[] | select(.mac == $mac) | .ip')
                if [ -n "$ip" ] && fetched "$lab" "$ip" | grep -q "^$last "; then
                        break
                fi
                sleep 1
        done
        # VM_DURING: a check run while the VM is still up.
        local during=ok
        if [ -n "${VM_DURING:-}" ]; then
                $VM_DURING "$ip" || during=failed
        fi
        got=$(fetched "$lab" "$ip")
        echo "fetched by $ip:"
        echo "$got"
        log=$OUT/win-$lab/vm-$vm.log
        for ((; i < BOOT_TIMEOUT; i++)); do
                sysd_run cat "/run/pxelab/$lab/serial/$vm.log" | tr -d '\r' > "$log"
                [ -z "$marker" ] || grep -q "$marker" "$log" && break
                sleep 1
        done
        sysd_run "$PXELAB" vm stop "$lab" "$vm"
        [ -n "$ip" ]
        [ "$got" = "$expected" ]
        # iPXE ran the script to its end: every file ok, `boot` did not fail.
        grep -q "pxelab: booting" "$log"
        ! grep -q "pxelab: boot entry $entry failed" "$log" || false
        [ -z "$marker" ] || grep -q "$marker" "$log"
        [ "$during" = ok ]
}

@test "windows VM, BIOS: iPXE fetches wimboot, bootmgr, BCD, boot.sdi, boot.wim and every injected file" {
        sysd_boot
        p=$(mkvmlab)
        sysd_run "$PXELAB" up "$p"
        # The kernel's real-mode setup prints this as it starts.
        vm_fetches_all wv bios1 bios 52:54:00:76:00:01 win "Probing EDD"
        # The injected startup is the rendered one, byte for byte.
        [ "$(expected_fetches wv win | cut -d' ' -f1 | xargs)" = "/files/win/wimboot /files/win/bootmgr /files/win/BCD /files/win/boot.sdi /files/win/boot.wim /files/win/winpeshl.ini /files/win/install.cmd /files/win/autounattend.xml /files/win/netkvm.cat /files/win/netkvm.inf /files/win/netkvm.sys" ]
}

@test "windows VM, UEFI: the same script and the same files" {
        sysd_boot
        p=$(mkvmlab)
        sysd_run "$PXELAB" up "$p"
        vm_fetches_all wv uefi1 uefi 52:54:00:76:00:02 win
}

@test "wimboot VM, UEFI: WinPE files, the injected ones, and wimboot's arguments" {
        sysd_boot
        p=$(mkvmlab)
        sysd_run "$PXELAB" up "$p"
        # args reach the stand-in's command line: it logs to the serial port.
        vm_fetches_all wv pe1 uefi 52:54:00:76:00:03 pe "Command line: wimboot console=ttyS0"
        [ "$(expected_fetches wv pe | cut -d' ' -f1 | xargs)" = "/files/pe/wimboot /files/pe/BCD /files/pe/boot.sdi /files/pe/boot.wim /files/pe/netkvm.inf /files/pe/autounattend.xml" ]
}

# ---- install_to = "iscsi": Setup installs onto the machine's iSCSI disk ----

# Entry "onto" attaches each host's own disk (made at the entry's size)
# before the boot set; wimboot's stand-in is a kernel, as above.
mkisclab() {
        local kernel
        kernel=$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1)
        mkwinlab wi 10.79.0.1/24 "$kernel" \
                'boot "onto" { kind = "windows" source = "iso" install_to = "iscsi" size = "64M" }' \
                'host "sb1" { mac = "52:54:00:79:00:01" boot = "onto" disk = "sb1.img" }' \
                'host "su1" { mac = "52:54:00:79:00:02" boot = "onto" disk = "su1.img" }'
}

# logged_in HOST MAC IP (as VM_DURING): tgtd has the VM's initiator (the
# entry's IQN and the MAC) logged in to HOST's target, from IP.
logged_in() {
        local host=$1 mac=$2 ip=$3 json i
        for ((i = 0; i < 30; i++)); do
                json=$(sysd_run "$PXELAB" status wi --json)
                echo "$json" | jq -c '.labs[0].iscsi' > "$OUT/win-wi/iscsi-$host.json"
                jq -e -n --argjson j "$json" --arg t "iqn.2026-12.lab.pxelab:wi:$host" \
                        --arg i "iqn.2026-12.lab.pxelab:wi:onto:${mac//:/-}" --arg ip "$ip" '
                        any($j.labs[0].iscsi.targets[]; .iqn == $t and
                            any(.initiators[]; .iqn == $i and .addresses == [$ip]))' >/dev/null && return 0
                sleep 1
        done
        return 1
}

# vm_installs_onto VM FIRMWARE MAC: the VM's iPXE sanhooks its host's disk,
# then fetches the whole boot set; the disk is the host's, untouched.
vm_installs_onto() {
        local vm=$1 fw=$2 mac=$3 p
        sysd_boot
        p=$(mkisclab)
        run --separate-stderr sysd_run "$PXELAB" up "$p"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Created disk image $OUT/win-wi/$vm.img (64M, sparse)"* ]]
        [ "$(stat -c %s "$OUT/win-wi/$vm.img")" = $((64 << 20)) ]
        [ "$(du -k "$OUT/win-wi/$vm.img" | cut -f1)" -lt 1024 ]
        [ "$(sysd_run systemctl is-active "pxelab-wi-tgtd.service")" = active ]
        VM_DURING="logged_in $vm $mac" vm_fetches_all wi "$vm" "$fw" "$mac" onto
        cat "$OUT/win-wi/iscsi-$vm.json"
        # iPXE said so on the console, before the first file.
        grep -q "Registered SAN device 0x80" "$OUT/win-wi/vm-$vm.log"
        # No write reached the disk: Setup is what writes it.
        [ "$(du -k "$OUT/win-wi/$vm.img" | cut -f1)" -lt 1024 ]
}

@test "windows, install_to = iscsi: a host without a disk, when the entry has none, is refused" {
        p=$(mkwinlab wn 10.79.1.1/24 "" \
                'boot "onto" { kind = "windows" source = "iso" install_to = "iscsi" size = "64M" }' \
                'host "a" { mac = "52:54:00:79:01:01" boot = "onto" disk = "a.img" }' \
                'host "b" { mac = "52:54:00:79:01:02" boot = "onto" }')
        run --separate-stderr "$PXELAB" check "$p"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$p:7: host.b: boots entry 'onto', which has no disk of its own, without a disk: give the host a disk = \"PATH\" (and size = \"SIZE\" on the entry to make it)" ]
        # Nothing was made.
        [ ! -e "$OUT/win-wn/a.img" ]
}

@test "windows VM, BIOS, install_to = iscsi: iPXE attaches the host's iSCSI disk (made sparse), then loads the boot set" {
        vm_installs_onto sb1 bios 52:54:00:79:00:01
}

@test "windows VM, UEFI, install_to = iscsi: the same" {
        vm_installs_onto su1 uefi 52:54:00:79:00:02
}
