#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Rendering: golden trees of every example profile, and the real dnsmasq and
# nginx accept each rendered config.
load common

# A proxy DHCP lab's address is its interface's, which this host need not
# have: its golden tree is rendered at an address given (as golden/update does).
PROXY_ADDRESS=192.168.1.20/24

render_into() {   # PROFILE DIR
        local extra=()
        grep -qE '^\s*mode\s*=\s*"proxy"' "$1" && extra=(--address "$PROXY_ADDRESS")
        rm -rf "$2"
        "$PXELAB" render "$1" -o "$2" "${extra[@]}"
}

@test "every example profile renders exactly its golden tree" {
        for conf in profiles/*.conf; do
                name=$(basename "$conf" .conf)
                dir="$OUT/render/$name"
                render_into "$conf" "$dir"
                [ -d "tests/golden/$name" ]
                # Every golden file matches, with the output dir as @DIR@ ...
                (cd "tests/golden/$name" && find . -type f | sort) > "$OUT/golden.list"
                (cd "$dir" && find . -type f \( -name '*.conf' -o -name '*.ipxe' -o -name '*.cfg' \) | sort) > "$OUT/rendered.list"
                diff -u "$OUT/golden.list" "$OUT/rendered.list"
                while read -r f; do
                        diff -u "tests/golden/$name/$f" <(sed "s|$dir|@DIR@|g" "$dir/$f")
                done < "$OUT/golden.list"
        done
}

@test "the rendered tree is self-contained: every path points into DIR" {
        dir="$OUT/render/self"
        render_into profiles/demo.conf "$dir"
        # Paths in the configs that are not boot files must be inside DIR.
        grep -E '^(pid-file|dhcp-leasefile|tftp-root)=' "$dir/dnsmasq.conf" | while IFS== read -r k v; do
                [[ "$v" == "$dir/"* ]]
        done
        grep -E '^\s*(pid|root|client_body_temp_path|proxy_temp_path)\s' "$dir/nginx.conf" |
                awk '{print $2}' | while read -r v; do [[ "$v" == "$dir/"* ]]; done
        # The access log goes to the journal (bounded by journald), no file.
        [ "$(grep -E '^\s*access_log\s' "$dir/nginx.conf" | awk '{print $2}')" = \
          "syslog:server=unix:/dev/log,tag=pxelab_http,nohostname" ]
        for l in undionly.kpxe ipxe.efi snponly.efi; do
                cmp "$dir/tftp/$l" "/usr/lib/ipxe/$l"
        done
        [ -f "$dir/http/boot.ipxe" ] && [ -f "$dir/http/menu.ipxe" ]
}

@test "dnsmasq --test and nginx -t accept every rendered example" {
        for conf in profiles/*.conf; do
                dir="$OUT/render/check-$(basename "$conf" .conf)"
                render_into "$conf" "$dir"
                run dnsmasq --test --conf-file="$dir/dnsmasq.conf"
                echo "$output"
                [ "$status" -eq 0 ]
                [[ "$output" == *"syntax check OK"* ]]
                # nginx -t binds its listen address: give it the lab's
                # address in a private network namespace.
                addr=$(sed -n 's/^ *listen \([0-9.]*\):80;/\1/p' "$dir/nginx.conf")
                [ -n "$addr" ]
                run unshare -n sh -c "ip link set lo up && ip addr add $addr/32 dev lo && nginx -t -c '$dir/nginx.conf' -e stderr"
                echo "$output"
                [ "$status" -eq 0 ]
                [[ "$output" == *"test is successful"* ]]
        done
}

@test "linux entries pass initrd=NAME for every initrd on the kernel line" {
        dir="$OUT/render/initrd"
        render_into profiles/demo.conf "$dir"
        for s in "$dir"/http/boot/*.ipxe; do
                grep -q '^initrd ' "$s" || continue
                names=$(sed -n 's/^initrd --name \([^ ]*\) .*/\1/p' "$s")
                kline=$(grep '^kernel ' "$s")
                for n in $names; do
                        [[ "$kline" == *" initrd=$n"* ]]
                done
        done
}

@test "DHCP hands each client class the right loader and iPXE the script (no loop)" {
        dir="$OUT/render/dhcp"
        render_into profiles/demo.conf "$dir"
        c="$dir/dnsmasq.conf"
        grep -qx 'dhcp-match=set:bios,option:client-arch,0' "$c"
        grep -qx 'dhcp-match=set:efi64,option:client-arch,7' "$c"
        grep -qx 'dhcp-match=set:efi64,option:client-arch,9' "$c"
        grep -qx 'dhcp-userclass=set:ipxe,iPXE' "$c"
        grep -qx 'dhcp-boot=tag:bios,tag:!ipxe,undionly.kpxe' "$c"
        grep -qx 'dhcp-boot=tag:efi64,tag:!ipxe,snponly.efi' "$c"
        grep -Eqx 'dhcp-boot=tag:efihttp,tag:!ipxe,http://[0-9.]+/snponly.efi' "$c"
        grep -Eqx 'dhcp-boot=tag:ipxe,http://[0-9.]+/boot.ipxe' "$c"
        # Every loader line excludes iPXE: iPXE never gets a loader again.
        ! grep -E '^dhcp-boot=' "$c" | grep -v 'tag:ipxe,' | grep -v 'tag:!ipxe' || false
}

@test "a profile's templates dir overrides one template, the rest stay built in" {
        d=$(mktemp -d "$OUT/tmpl.XXXXXX")
        mkdir "$d/tpl"
        printf '#!ipxe\n# custom menu for {{lab}}\n' > "$d/tpl/menu.ipxe.mustache"
        cat > "$d/lab.conf" <<CONF
lab = "custom"
templates = "tpl"
bridge { address = "10.45.0.1/24" }
boot "disk" { kind = "local" }
CONF
        render_into "$d/lab.conf" "$d/out"
        [ "$(cat "$d/out/http/menu.ipxe")" = "$(printf '#!ipxe\n# custom menu for custom')" ]
        grep -q '^#!ipxe' "$d/out/http/boot.ipxe"
        grep -q 'chain --replace http://10.45.0.1/menu.ipxe' "$d/out/http/boot.ipxe"
        rm -rf "$d"
}

@test "render -o never writes or deletes through a planted symlink" {
        base=$(mktemp -d "$BATS_TEST_TMPDIR/links.XXXXXX")
        dir=$base/out victim=$base/victim
        mkdir -p "$dir" "$victim/boot" "$victim/hosts"
        echo keep > "$victim/boot/precious"
        echo keep > "$victim/file"
        # http/ is a link to a tree outside DIR: render used to rm -rf
        # DIR/http/boot, i.e. the victim's boot/.
        ln -s "$victim" "$dir/http"
        run --separate-stderr "$PXELAB" render profiles/demo.conf -o "$dir"
        [ "$status" -ne 0 ]
        [[ "$stderr" == *"Too many levels of symbolic links"* ]]
        [ "$(cat "$victim/boot/precious")" = keep ]
        [ "$(ls -A "$victim")" = "$(printf 'boot\nfile\nhosts')" ]
        # A link where a file goes is replaced, not written through; links
        # at every temp name the old scheme used (NAME.tmp.PID) are inert.
        rm "$dir/http"
        mkdir -p "$dir/http"
        ln -s "$victim/file" "$dir/dnsmasq.conf"
        ln -s "$victim/file" "$dir/http/boot.ipxe"
        pid=$(sh -c 'echo $$')
        for n in $(seq "$pid" $((pid + 400))); do
                ln -s "$victim/file" "$dir/nginx.conf.tmp.$n"
                ln -s "$victim/file" "$dir/http/menu.ipxe.tmp.$n"
        done
        "$PXELAB" render profiles/demo.conf -o "$dir"
        [ "$(cat "$victim/file")" = keep ]
        [ -f "$dir/dnsmasq.conf" ] && [ ! -L "$dir/dnsmasq.conf" ]
        [ -f "$dir/http/boot.ipxe" ] && [ ! -L "$dir/http/boot.ipxe" ]
        grep -q '^dhcp-range=' "$dir/dnsmasq.conf"
}

@test "render -o refuses a directory someone else owns or may write" {
        base=$(mktemp -d "$BATS_TEST_TMPDIR/owner.XXXXXX")
        mkdir -p "$base/other" "$base/open"
        chown nobody "$base/other"
        chmod 0777 "$base/open"
        run --separate-stderr "$PXELAB" render profiles/demo.conf -o "$base/other"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Refusing to render into '$base/other': it is owned by uid $(id -u nobody), not by uid 0" ]
        run --separate-stderr "$PXELAB" render profiles/demo.conf -o "$base/open"
        [ "$status" -eq 2 ]
        [ "$stderr" = "Refusing to render into '$base/open': it is writable by others (mode 0777)" ]
        [ -z "$(ls -A "$base/other" "$base/open" | grep -v ':$' | grep -v '^$')" ]
}

@test "a 10,000-host profile checks and renders every host; its late duplicates name the first use" {
        d="$OUT/render/many"
        rm -rf "$d"
        tests/fixtures/many-hosts 10000 "$d"
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 0 ]
        [ "${lines[-1]}" = "OK" ]
        render_into "$d/lab.conf" "$d/out"
        # one dhcp-host line per host, in profile order; one script per host with a boot entry
        [ "$(grep -c '^dhcp-host=' "$d/out/dnsmasq.conf")" -eq 10000 ]
        [ "$(grep '^dhcp-host=' "$d/out/dnsmasq.conf" | head -1)" = "dhcp-host=52:54:00:00:00:01,10.50.1.2,h1" ]
        [ "$(grep '^dhcp-host=' "$d/out/dnsmasq.conf" | tail -1)" = "dhcp-host=52:54:00:00:27:10,10.50.41.1,h10000" ]
        [ "$(find "$d/out/http/hosts" -name '*.ipxe' | wc -l)" -eq 5000 ]
        [ "$(grep -c '^iseq ${netX/mac:hexhyp} 52-54-00-' "$d/out/http/boot.ipxe")" -eq 5000 ]
        grep -q 'boot/rescue.ipxe' "$d/out/http/hosts/52-54-00-00-27-10.ipxe"
        run dnsmasq --test --conf-file="$d/out/dnsmasq.conf"
        [ "$status" -eq 0 ]
        # Duplicates at the very end: each names the first use, with its line.
        mac1=$(grep -n '52:54:00:00:00:01' "$d/lab.conf" | cut -d: -f1)
        ip1=$(grep -n '"10.50.1.2"' "$d/lab.conf" | cut -d: -f1)
        h3=$(grep -n '^host "h3"' "$d/lab.conf" | cut -d: -f1)
        end=$(wc -l < "$d/lab.conf")
        printf 'host "late" {\n    mac = "52:54:00:00:00:01"\n    ip = "10.50.1.2"\n}\nhost "h3" { mac = "52:54:00:ff:00:03" }\n' \
                >> "$d/lab.conf"
        run --separate-stderr "$PXELAB" check "$d/lab.conf"
        [ "$status" -eq 2 ]
        [ "$stderr" = "$d/lab.conf:$((end + 2)): host.late.mac: '52:54:00:00:00:01' is already used by host.h1 on line $mac1
$d/lab.conf:$((end + 3)): host.late.ip: '10.50.1.2' is already used by host.h1 on line $ip1
$d/lab.conf:$((end + 5)): host.h3: defined twice (first on line $h3)" ]
}
