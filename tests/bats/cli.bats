#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# The command line: help, version, usage errors and exit codes.
load common

@test "--version prints the version" {
        run "$PXELAB" --version
        [ "$status" -eq 0 ]
        [[ "$output" =~ ^pxelab\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "--help lists every command" {
        run "$PXELAB" --help
        [ "$status" -eq 0 ]
        for c in render check up down status help; do
                [[ "$output" == *"  $c "* ]]
        done
}

@test "no arguments is a usage error (exit 2)" {
        run --separate-stderr "$PXELAB"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"Usage: pxelab COMMAND"* ]]
}

@test "unknown command is a usage error naming it" {
        run --separate-stderr "$PXELAB" frobnicate
        [ "$status" -eq 2 ]
        [ "$stderr" = "Unknown command 'frobnicate'. See 'pxelab --help'." ]
}

@test "help COMMAND shows that command's usage" {
        run "$PXELAB" help render
        [ "$status" -eq 0 ]
        [[ "${lines[0]}" == "Usage: pxelab render PROFILE -o DIR [--address A/PREFIX]" ]]
        run "$PXELAB" check --help
        [ "$status" -eq 0 ]
        [[ "${lines[0]}" == "Usage: pxelab check PROFILE" ]]
}

@test "help for an unknown command fails with exit 2" {
        run --separate-stderr "$PXELAB" help nope
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"Unknown command 'nope'"* ]]
}

@test "render without -o is a usage error" {
        run --separate-stderr "$PXELAB" render profiles/demo.conf
        [ "$status" -eq 2 ]
        [ "$stderr" = "Usage: pxelab render PROFILE -o DIR [--address A/PREFIX]" ]
}

@test "check of a missing file says so with exit 2" {
        run --separate-stderr "$PXELAB" check /nonexistent/lab.conf
        [ "$status" -eq 2 ]
        [[ "$stderr" == "/nonexistent/lab.conf"*"No such file or directory"* ]]
}

@test "check of a good profile lists each boot file with its size" {
        d=$(mktemp -d "$OUT/check.XXXXXX")
        head -c 12345 /dev/zero > "$d/vmlinuz"
        head -c 777 /dev/zero > "$d/initrd.img"
        cat > "$d/lab.conf" <<CONF
bridge { address = "10.44.0.1/24" }
boot "rescue" { kind = "linux" kernel = "vmlinuz" initrd = {"initrd.img"} cmdline = "console=ttyS0" }
CONF
        run "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 0 ]
        [[ "$output" == *"/files/rescue/vmlinuz"*"$d/vmlinuz"*"12345 bytes"* ]]
        [[ "$output" == *"/files/rescue/initrd.img"*"$d/initrd.img"*"777 bytes"* ]]
        [ "${lines[-1]}" = "OK" ]
        rm -rf "$d"
}

@test "check reports a missing boot file with file, line and field" {
        d=$(mktemp -d "$OUT/check.XXXXXX")
        cat > "$d/lab.conf" <<CONF
bridge { address = "10.44.0.1/24" }
boot "rescue" {
    kind = "linux"
    kernel = "missing-kernel"
}
CONF
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$d/lab.conf:4: boot.rescue.kernel: 'missing-kernel' does not exist" ]
        rm -rf "$d"
}

@test "an unknown option is exit 2 for every command, named in full, with no leak" {
        # The sanitizer build reports a leak by failing with exit 1: exit 2
        # and no report means the usage path frees what it made.
        for cmd in render check up down status "vm start" "vm stop" "vm list" "vm console" version; do
                # shellcheck disable=SC2086 # "vm start" is two words
                run --separate-stderr "$PXELAB" $cmd --bogus
                echo "$cmd: $status: $stderr"
                [ "$status" -eq 2 ]
                [[ "$stderr" != *"LeakSanitizer"* ]]
                [[ "$stderr" == *"Usage: pxelab ${cmd%% *}"* ]]
        done
        run --separate-stderr "$PXELAB" status --bogus
        [[ "$stderr" == "pxelab status: unrecognized option '--bogus'"* ]]
        run --separate-stderr "$PXELAB" vm list --bogus
        [[ "$stderr" == "pxelab vm list: unrecognized option '--bogus'"* ]]
}

@test "every environment variable the code reads is in the README's Environment section" {
        section=$(sed -n '/^## Environment$/,/^## /p' "$REPO/README.md")
        vars=$(grep -ho 'getenv("[A-Z_][A-Z0-9_]*")' "$REPO"/src/*/*.c "$REPO"/src/*/*.h | sed 's/getenv("\(.*\)")/\1/' |
               grep -vx 'PATH' | sort -u)
        [ -n "$vars" ]
        for v in $vars; do
                echo "$v"
                [[ "$section" == *"| \`$v\` |"* ]]
        done
}

# Profiles as users write them: next to their image folders, named after
# what they boot. DIR/profiles/windows-setup.conf names ../images/... .
mk_user_tree() {   # DIR
        mkdir -p "$1/images/debian" "$1/profiles"
        head -c 1000 /dev/zero > "$1/images/debian/linux-6.1"
        ln -s linux-6.1 "$1/images/debian/linux"
        head -c 500 /dev/zero > "$1/images/debian/initrd-6.1.gz"
        ln -s initrd-6.1.gz "$1/images/debian/initrd.gz"
        cat > "$1/profiles/windows-setup.conf" <<CONF
bridge { address = "10.44.0.1/24" }
boot "rescue" {
    kind   = "linux"
    kernel = "../images/debian/linux"
    initrd = {"../images/./debian/../debian/initrd.gz"}
}
CONF
}

@test "check and render take a long lab name from the file and '..' paths, resolved to the real files" {
        d=$(mktemp -d "$OUT/names.XXXXXX")
        mk_user_tree "$d"
        real=$(realpath "$d")
        run "$PXELAB" check "$d/profiles/windows-setup.conf"
        echo "$output"
        [ "$status" -eq 0 ]
        # lab from the file name; its bridge name shortened to 15 characters
        [[ "${lines[0]}" == *": lab 'windows-setup', bridge pxe-window-b05b 10.44.0.1/24, 1 boot entries"* ]]
        # each file by its canonical path, served under the name it was given
        [[ "$output" == *"/files/rescue/linux "*" $real/images/debian/linux-6.1 "*"1000 bytes"* ]]
        [[ "$output" == *"/files/rescue/initrd.gz "*" $real/images/debian/initrd-6.1.gz "*"500 bytes"* ]]
        run "$PXELAB" render "$d/profiles/windows-setup.conf" -o "$d/tree"
        [ "$status" -eq 0 ]
        grep -qx "        location = /files/rescue/linux { alias $real/images/debian/linux-6.1; }" "$d/tree/nginx.conf"
        grep -qx "        location = /files/rescue/initrd.gz { alias $real/images/debian/initrd-6.1.gz; }" "$d/tree/nginx.conf"
        grep -qx "interface=pxe-window-b05b" "$d/tree/dnsmasq.conf"
        grep -q "^kernel http://10.44.0.1/files/rescue/linux initrd=initrd.gz" "$d/tree/http/boot/rescue.ipxe"
        rm -rf "$d"
}

@test "a '..' path that leads nowhere: one line with file, line, field and where it led" {
        d=$(mktemp -d "$OUT/names.XXXXXX")
        mk_user_tree "$d"
        real=$(realpath "$d")
        sed -i 's|"../images/debian/linux"|"../image/debian/linux"|' "$d/profiles/windows-setup.conf"
        run --separate-stderr "$PXELAB" check "$d/profiles/windows-setup.conf"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$d/profiles/windows-setup.conf:4: boot.rescue.kernel: '../image/debian/linux' ($real/image/debian/linux) does not exist" ]
        # render does not need the files: it renders what it cannot resolve as written
        run "$PXELAB" render "$d/profiles/windows-setup.conf" -o "$d/tree"
        [ "$status" -eq 0 ]
        grep -qx "        location = /files/rescue/linux { alias $real/profiles/../image/debian/linux; }" "$d/tree/nginx.conf"
        rm -rf "$d"
}

@test "a path whose real location the configs cannot carry is refused by check and render" {
        d=$(mktemp -d "$OUT/names.XXXXXX")
        mk_user_tree "$d"
        real=$(realpath "$d")
        mv "$d/images/debian" "$d/images/debian 12"
        ln -s "debian 12" "$d/images/debian"
        for cmd in check "render -o $d/tree"; do
                run --separate-stderr "$PXELAB" $cmd "$d/profiles/windows-setup.conf"
                [ "$status" -eq 2 ]
                [ "${stderr_lines[0]}" = "$d/profiles/windows-setup.conf:4: boot.rescue.kernel: '../images/debian/linux' resolves to '$real/images/debian 12/linux-6.1', which contains a space (not allowed in a path)" ]
                [ "${#stderr_lines[@]}" -eq 2 ]
        done
        [ ! -e "$d/tree" ]
        rm -rf "$d"
}

@test "check warns when someone but root can change a boot file or its directory" {
        d=$(mktemp -d "$BATS_TEST_TMPDIR/owned.XXXXXX")
        chmod 0755 "$d"
        head -c 100 /dev/zero > "$d/vmlinuz"
        head -c 100 /dev/zero > "$d/initrd.img"
        cat > "$d/lab.conf" <<CONF
bridge { address = "10.44.0.1/24" }
boot "rescue" { kind = "linux" kernel = "vmlinuz" initrd = {"initrd.img"} }
CONF
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 0 ]
        [ -z "$stderr" ]
        chown nobody "$d/vmlinuz"
        chmod 0777 "$d"
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 0 ]
        [ "${lines[-1]}" = "OK" ]
        [[ "$stderr" == *"Warning: boot file '$d/vmlinuz' is writable by its owner (not root)"* ]]
        [[ "$stderr" == *"Warning: the directory of boot file '$d/initrd.img' is writable by others"* ]]
}

# A good profile in $1/lab.conf, padded with a comment to exactly $2 bytes.
padded_profile() {
        printf 'lab = "pad"\nbridge { address = "10.44.0.1/24" }\nboot "disk" { kind = "local" }\n#' > "$1/lab.conf"
        local have
        have=$(stat -c %s "$1/lab.conf")
        head -c $(($2 - have)) /dev/zero | tr '\0' 'x' >> "$1/lab.conf"
        [ "$(stat -c %s "$1/lab.conf")" -eq "$2" ]
}

@test "a profile that is a FIFO, a device, a directory or over 4 MiB: one line, exit 2, nothing read" {
        d=$(mktemp -d "$OUT/inputs.XXXXXX")
        mkfifo "$d/fifo.conf"
        ln -s /dev/zero "$d/zero.conf"
        mkdir "$d/dir.conf"
        for f in "$d/fifo.conf" /dev/zero "$d/zero.conf" "$d/dir.conf"; do
                for cmd in check "render -o $d/out"; do
                        # (a FIFO used to block check for ever, /dev/zero to
                        # fill memory: timeout makes that a failure)
                        # shellcheck disable=SC2086 # "render -o DIR" is three words
                        run --separate-stderr timeout 20 "$PXELAB" $cmd "$f"
                        echo "$cmd $f: $status: $stderr"
                        [ "$status" -eq 2 ]
                        [ "$stderr" = "$f: not a regular file" ]
                        [ -z "$output" ]
                done
        done
        [ ! -e "$d/out" ]
        # 4 MiB is the limit: exactly that is read, one byte more is refused.
        padded_profile "$d" $((4 * 1024 * 1024))
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 0 ]
        padded_profile "$d" $((4 * 1024 * 1024 + 1))
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$d/lab.conf: larger than 4 MiB" ]
        rm -rf "$d"
}

@test "a template or loader that is a FIFO, a device or too large fails render in one line instead of hanging" {
        d=$(mktemp -d "$OUT/inputs.XXXXXX")
        mkdir "$d/tpl" "$d/ipxe"
        cat > "$d/lab.conf" <<CONF
templates = "tpl"
bridge { address = "10.44.0.1/24" }
boot "disk" { kind = "local" }
CONF
        mkfifo "$d/tpl/dnsmasq.conf.mustache"
        run --separate-stderr timeout 20 "$PXELAB" render "$d/lab.conf" -o "$d/out"
        [ "$status" -eq 1 ]
        [ "$stderr" = "Failed to read template '$d/tpl/dnsmasq.conf.mustache': not a regular file" ]
        rm "$d/tpl/dnsmasq.conf.mustache"
        ln -s /dev/zero "$d/tpl/boot.ipxe.mustache"
        run --separate-stderr timeout 20 "$PXELAB" render "$d/lab.conf" -o "$d/out"
        [ "$status" -eq 1 ]
        [ "$stderr" = "Failed to read template '$d/tpl/boot.ipxe.mustache': not a regular file" ]
        rm "$d/tpl/boot.ipxe.mustache"
        # A template may have 1 MiB, a loader 16 MiB.
        head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'x' > "$d/tpl/menu.ipxe.mustache"
        run --separate-stderr "$PXELAB" render "$d/lab.conf" -o "$d/out"
        [ "$status" -eq 1 ]
        [ "$stderr" = "Failed to read template '$d/tpl/menu.ipxe.mustache': larger than 1 MiB" ]
        rm "$d/tpl/menu.ipxe.mustache"
        cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi "$d/ipxe/"
        truncate -s $((16 * 1024 * 1024 + 1)) "$d/ipxe/ipxe.efi"
        run --separate-stderr env PXELAB_IPXE_DIR="$d/ipxe" "$PXELAB" render "$d/lab.conf" -o "$d/out"
        [ "$status" -eq 1 ]
        [ "$stderr" = "Failed to read the iPXE loader '$d/ipxe/ipxe.efi': larger than 16 MiB" ]
        rm "$d"/ipxe/*
        # The loaders are copied through memory too.
        cp /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/snponly.efi "$d/ipxe/"
        mkfifo "$d/ipxe/undionly.kpxe"
        run --separate-stderr env PXELAB_IPXE_DIR="$d/ipxe" timeout 20 "$PXELAB" render "$d/lab.conf" -o "$d/out"
        [ "$status" -eq 1 ]
        [ "$stderr" = "Failed to read the iPXE loader '$d/ipxe/undionly.kpxe': not a regular file" ]
        rm "$d/ipxe/undionly.kpxe"
        cp /usr/lib/ipxe/undionly.kpxe "$d/ipxe/"
        run env PXELAB_IPXE_DIR="$d/ipxe" "$PXELAB" render "$d/lab.conf" -o "$d/out"
        [ "$status" -eq 0 ]
        cmp "$d/out/tftp/undionly.kpxe" /usr/lib/ipxe/undionly.kpxe
        rm -rf "$d"
}

@test "a lab name on the command line that breaks the rule is exit 2, before anything is read" {
        for args in "down .." "status .." "vm list .." "vm start ../x" "vm stop .. vm1" "vm console .. vm1" "status A-B"; do
                # shellcheck disable=SC2086 # several words
                run --separate-stderr "$PXELAB" $args
                echo "$args: $status: $stderr"
                [ "$status" -eq 2 ]
                [[ "$stderr" == "'"*"' is not a lab name (1-32 characters from a-z 0-9 -, a letter or digit first and last, no '--')" ]]
        done
}

@test "up ARG: a bare ARG that is no lab name is exit 2 with one line, before systemd is asked; a file needs a / or .conf" {
        d=$(mktemp -d "$OUT/upname.XXXXXX")
        cp "$REPO/profiles/minimal.conf" "$d/lab.cfg"
        cd "$d"
        for arg in lab.cfg Bad_Name ..; do
                run --separate-stderr "$PXELAB" up "$arg"
                echo "$arg: $status: $stderr"
                [ "$status" -eq 2 ]
                [ "$stderr" = "'$arg' is neither a lab name (1-32 characters from a-z 0-9 -, a letter or digit first and last, no '--') nor a profile file (a path with '/' or ending in .conf, e.g. ./$arg)" ]
        done
        # With a '/', the same file is a profile: past the name check, to systemd
        # (not PID 1 where the CLI suite runs: exit 1).
        run --separate-stderr "$PXELAB" up ./lab.cfg
        [ "$status" -eq 1 ]
        [[ "$stderr" == "systemd is not running as PID 1"* ]]
        rm -rf "$d"
}

# README "Code layout".
@test "src/ is in layers: includes go downward only, no circle, no layer of one module (check-layers)" {
        run "$REPO/scripts/check-layers"
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$output" = "check-layers: 7 layers, no upward include, no circle" ]
}

@test "vm start, stop, list and console are rows of their own: usage, help and arity each" {
        run "$PXELAB" --help
        [ "$status" -eq 0 ]
        for s in start stop list console; do
                [[ "$output" == *"  vm $s "* ]]
        done
        run "$PXELAB" help vm start
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "Usage: pxelab vm start LAB [NAME] [--firmware bios|uefi|uefi-pxe|uefi-secure] [--mac MAC] [--memory MB] [--disk SIZE|PATH] [--vnc] [--wait[=SECONDS]]" ]
        run "$PXELAB" vm console --help
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "Usage: pxelab vm console LAB NAME [--no-follow]" ]
        run "$PXELAB" help vm
        [ "$status" -eq 0 ]
        [[ "$output" == *"pxelab vm stop LAB [NAME|--all]"* ]]
        # Arity from the table: one usage line, that sub-command's, exit 2.
        for args in "vm console onlylab" "vm console a b c" "vm list a b" "vm start" "vm start a b c" "vm stop" \
                    "vm stop a b c"; do
                # shellcheck disable=SC2086 # several words
                run --separate-stderr "$PXELAB" $args
                echo "$args: $status: $stderr"
                [ "$status" -eq 2 ]
                set -- $args
                [[ "$stderr" == "Usage: pxelab vm $2 "* ]]
                [ "$(echo "$stderr" | wc -l)" -eq 1 ]
        done
        # getopt names the whole command.
        run --separate-stderr "$PXELAB" vm console --bogus
        [ "$status" -eq 2 ]
        [ "${stderr%%$'\n'*}" = "pxelab vm console: unrecognized option '--bogus'" ]
        # A group without a sub-command, or with an unknown one.
        run --separate-stderr "$PXELAB" vm
        [ "$status" -eq 2 ]
        [ "$(echo "$stderr" | wc -l)" -eq 4 ]
        run --separate-stderr "$PXELAB" vm frob x
        [ "$status" -eq 2 ]
        [ "${stderr%%$'\n'*}" = "Unknown vm command 'frob'. See 'pxelab help vm'." ]
}

@test "diagnostics go to stderr, results to stdout" {
        run --separate-stderr "$PXELAB" help render
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "Usage: pxelab render PROFILE -o DIR [--address A/PREFIX]" ]
        [ -z "$stderr" ]
        run --separate-stderr "$PXELAB" check /nonexistent.conf
        [ "$status" -eq 2 ]
        [ -z "$output" ]
        [ -n "$stderr" ]
}
