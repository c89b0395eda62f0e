#!/usr/bin/env bats
# shellcheck disable=SC2016 # backquotes here are Markdown's, in single quotes on purpose
bats_require_minimum_version 1.5.0
# make install / uninstall into a DESTDIR: the exact tree, the paths that
# PREFIX and SYSCONFDIR change, the man pages (rendered without a warning,
# and holding everything the README documents), the bash completion (as
# bash-completion loads it) and an uninstall that leaves none of our files.
load common

# The files of an install, "MODE PATH" below DESTDIR, sorted; directories
# only when empty. $1 = DESTDIR.
tree() {
        (cd "$1" && find . -mindepth 1 \( ! -type d -o -empty \) -printf '%m %P%y\n' | sed 's/d$/\//; s/[fl]$//' | sort)
}

# The tree an install with PREFIX=$1, the unit dir $2, SYSCONFDIR=$3 must give.
expected_tree() {
        local p=${1#/} u=${2#/} e=${3#/} f
        {
                echo "755 $e/pxelab/"
                echo "755 $p/bin/pxelab"
                echo "644 $u/pxelab@.service"
                echo "644 $p/share/bash-completion/completions/pxelab"
                echo "644 $p/share/man/man1/pxelab.1"
                echo "644 $p/share/man/man5/pxelab.conf.5"
                for f in "$REPO"/profiles/*.conf; do echo "644 $p/share/doc/pxelab/examples/${f##*/}"; done
                for f in "$REPO"/templates/*.mustache; do echo "644 $p/share/pxelab/templates/${f##*/}"; done
        } | sort
}

setup() {
        D=$(mktemp -d "$OUT/destdir.XXXXXX")
}

teardown() {
        rm -rf "$D"
}

@test "make install DESTDIR=... gives exactly the tree of the default PREFIX, and uninstall removes it" {
        make -s -C "$REPO" install DESTDIR="$D"
        diff <(expected_tree /usr/local /usr/local/lib/systemd/system /etc) <(tree "$D")
        cmp "$D/usr/local/bin/pxelab" "$REPO/pxelab"
        for f in "$REPO"/templates/*.mustache; do cmp "$f" "$D/usr/local/share/pxelab/templates/${f##*/}"; done
        grep -qx 'ExecStart=/usr/local/bin/pxelab up %i' "$D/usr/local/lib/systemd/system/pxelab@.service"
        # A profile the user put in /etc/pxelab is not ours: uninstall keeps it.
        echo 'bridge { address = "10.9.0.1/24" }' > "$D/etc/pxelab/office.conf"
        make -s -C "$REPO" uninstall DESTDIR="$D"
        [ "$(tree "$D" | grep -v '/$')" = "644 etc/pxelab/office.conf" ]
        rm "$D/etc/pxelab/office.conf"
        make -s -C "$REPO" uninstall DESTDIR="$D"
        # Nothing of ours is left: no file, no pxelab directory.
        [ -z "$(find "$D" ! -type d)" ]
        [ -z "$(find "$D" -name '*pxelab*')" ]
}

@test "PREFIX=/usr and SYSCONFDIR: the binary is rebuilt with those paths, the unit goes to /lib/systemd/system" {
        # A copy of the checkout's build: installing with other paths must
        # rebuild it (the paths are compiled in), not install it as it is.
        b=$D/build
        mkdir -p "$b"
        cp -a "$REPO/build/obj" "$REPO/build/paths" "$b/"
        cp -a "$REPO/pxelab" "$b/pxelab"
        dest=$D/root
        mk=(B="$b" OUT="$b" PREFIX=/usr SYSCONFDIR=/etc/lab-test DESTDIR="$dest")
        make -s -C "$REPO" -j2 install "${mk[@]}" >&2
        diff <(expected_tree /usr /lib/systemd/system /etc/lab-test) <(tree "$dest")
        run ! cmp -s "$dest/usr/bin/pxelab" "$REPO/pxelab"
        grep -aq '/usr/share/pxelab' "$dest/usr/bin/pxelab"
        grep -aq '/etc/lab-test' "$dest/usr/bin/pxelab"
        run ! grep -aq '/usr/local/share/pxelab' "$dest/usr/bin/pxelab"
        # The unit runs the installed binary; the pages and the completion
        # name the installed paths.
        grep -qx 'ExecStart=/usr/bin/pxelab up %i' "$dest/lib/systemd/system/pxelab@.service"
        grep -q '^\.I /etc/lab-test/pxelab/NAME.conf$' "$dest/usr/share/man/man1/pxelab.1"
        grep -q '^\.I /usr/share/pxelab/templates/$' "$dest/usr/share/man/man1/pxelab.1"
        grep -q '^\.I /lib/systemd/system/pxelab@.service$' "$dest/usr/share/man/man1/pxelab.1"
        grep -q '^\.I /usr/share/doc/pxelab/examples/$' "$dest/usr/share/man/man5/pxelab.conf.5"
        run ! grep -q '/usr/local\|/etc/pxelab' "$dest/usr/share/man/man1/pxelab.1" "$dest/usr/share/man/man5/pxelab.conf.5"
        grep -q 'for f in /etc/lab-test/pxelab/\*.conf' "$dest/usr/share/bash-completion/completions/pxelab"
        make -s -C "$REPO" uninstall "${mk[@]}"
        [ -z "$(find "$dest" ! -type d)" ]
        [ -z "$(find "$dest" -name '*pxelab*')" ]
}

@test "BINDIR, DATADIR, MANDIR, DOCDIR, UNITDIR and BASHCOMPDIR each move their files" {
        b=$D/build
        mkdir -p "$b"
        cp -a "$REPO/build/obj" "$REPO/build/paths" "$REPO/pxelab" "$b/"
        dest=$D/root
        mk=(B="$b" OUT="$b" DESTDIR="$dest" BINDIR=/opt/x/sbin DATADIR=/opt/x/data MANDIR=/opt/x/man
            DOCDIR=/opt/x/doc UNITDIR=/etc/systemd/system BASHCOMPDIR=/opt/x/compl)
        make -s -C "$REPO" -j2 install "${mk[@]}" >&2
        diff <({
                echo "755 etc/pxelab/"
                echo "755 opt/x/sbin/pxelab"
                echo "644 etc/systemd/system/pxelab@.service"
                echo "644 opt/x/compl/pxelab"
                echo "644 opt/x/man/man1/pxelab.1"
                echo "644 opt/x/man/man5/pxelab.conf.5"
                for f in "$REPO"/profiles/*.conf; do echo "644 opt/x/doc/examples/${f##*/}"; done
                for f in "$REPO"/templates/*.mustache; do echo "644 opt/x/data/templates/${f##*/}"; done
        } | sort) <(tree "$dest")
        # DATADIR is where the binary looks for its templates.
        grep -aq '/opt/x/data' "$dest/opt/x/sbin/pxelab"
        grep -qx 'ExecStart=/opt/x/sbin/pxelab up %i' "$dest/etc/systemd/system/pxelab@.service"
        grep -q '^\.I /opt/x/data/templates/$' "$dest/opt/x/man/man1/pxelab.1"
        grep -q '^\.I /etc/systemd/system/pxelab@.service$' "$dest/opt/x/man/man1/pxelab.1"
        make -s -C "$REPO" uninstall "${mk[@]}"
        [ -z "$(find "$dest" ! -type d)" ]
        [ -z "$(find "$dest" -name '*pxelab*')" ]
}

@test "the installed man pages render without a warning" {
        make -s -C "$REPO" install DESTDIR="$D"
        for page in man1/pxelab.1 man5/pxelab.conf.5; do
                f=$D/usr/local/share/man/$page
                run --separate-stderr groff -man -ww -z "$f"
                echo "groff $page: $stderr"
                [ "$status" -eq 0 ] && [ -z "$stderr" ]
                run --separate-stderr env MANWIDTH=80 man --warnings -l "$f"
                echo "man $page: $stderr"
                [ "$status" -eq 0 ] && [ -z "$stderr" ]
                [[ "$output" == *NAME*DESCRIPTION*"SEE ALSO"* ]]
        done
        # The version in the title line is the binary's.
        grep -q "^\.TH PXELAB 1 \"[0-9-]*\" \"$("$REPO/pxelab" --version)\"" "$REPO/man/pxelab.1"
        grep -q "^\.TH PXELAB.CONF 5 \"[0-9-]*\" \"$("$REPO/pxelab" --version)\"" "$REPO/man/pxelab.conf.5"
}

# The man page as text, one line per paragraph's words (no hyphenation,
# no adjusting), for grepping.
man_text() {
        MANWIDTH=1000 man -l "$1" 2>/dev/null | col -b
}

@test "pxelab(1) has every command, option, exit code, variable and file the README documents" {
        text=$(man_text "$REPO/man/pxelab.1")
        # The Commands section without its shell examples (```sh: systemctl's
        # options are not pxelab's).
        commands=$(sed -n '/^## Commands$/,/^## /p' "$REPO/README.md" | sed '/^```sh$/,/^```$/d')
        # Commands: the table's rows and vm's sub-commands.
        cmds=$(grep -o '^| `pxelab [a-z]*' <<< "$commands" | sed 's/.* //' | sort -u)
        subs=$(grep -o '^pxelab vm [a-z]*' <<< "$commands" | sort -u)
        [ "$(wc -w <<< "$cmds")" -ge 6 ] && [ "$(wc -l <<< "$subs")" -eq 4 ]
        for c in $cmds; do echo "command $c"; [[ "$text" == *"pxelab $c"* ]]; done
        while read -r s; do echo "command $s"; [[ "$text" == *"$s"* ]]; done <<< "$subs"
        # Every option the Commands section names.
        opts=$(grep -o -- '\(^\|[^a-z-]\)\(-o\|--[a-z][a-z-]*\)' <<< "$commands" | grep -o -- '-.*' | sort -u)
        [ "$(wc -w <<< "$opts")" -ge 11 ]
        for o in $opts; do echo "option $o"; grep -q -- "^ *$o\b\|^ *[-a-z]*, $o\b" <<< "$text"; done
        # Exit codes: `0` ok, `1` ..., as EXIT STATUS entries.
        codes=$(grep -o '^Exit codes everywhere:.*' <<< "$commands"; sed -n '/^Exit codes everywhere:/{n;p}' <<< "$commands")
        status_section=$(sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' <<< "$text")
        for c in $(grep -o '`[0-9]`' <<< "$codes" | tr -d '`'); do echo "exit $c"; grep -q "^ *$c  *[A-Z(]" <<< "$status_section"; done
        # Every variable of the README's Environment table.
        env_section=$(sed -n '/^ENVIRONMENT/,/^FILES/p' <<< "$text")
        vars=$(sed -n '/^## Environment$/,/^## /p' "$REPO/README.md" | grep -o '^| `[A-Z_]*`' | tr -d '|` ')
        [ "$(wc -w <<< "$vars")" -ge 10 ]
        for v in $vars; do echo "variable $v"; grep -q "^ *$v\$" <<< "$env_section"; done
        # Every path of /run/pxelab and /var/lib/pxelab the README's table of
        # what pxelab makes names.
        files=$(sed -n '/^## What pxelab does to your host/,/^### /p' "$REPO/README.md" |
                grep -o '`/\(run\|var/lib\)/pxelab/[^`]*`' | tr -d '`' | sort -u)
        [ "$(wc -l <<< "$files")" -ge 6 ]
        files_section=$(sed -n '/^FILES/,/^EXAMPLES/p' <<< "$text")
        while read -r f; do echo "file $f"; [[ "$files_section" == *"$f"* ]]; done <<< "$files"
}

@test "pxelab.conf(5) has every profile key the README documents, each with its default or required" {
        # Keys and sections of the README's profile reference and Windows
        # entries (the code blocks after those headings).
        keys=$(sed -n '/^## Profile reference$/,/^## Windows/{/^```$/,/^```$/p}; /^## Windows/,/^## /{/^```$/,/^```$/p}' "$REPO/README.md" |
               sed 's/"[^"]*"//g; s/#.*//' | grep -o '[a-z_][a-z0-9_]* *=' | tr -d ' =' | sort -u)
        sections=$(sed -n '/^## Profile reference$/,/^## Windows/{/^```$/,/^```$/p}' "$REPO/README.md" |
                   grep -o '^[a-z]* *\("[^"]*" *\)\?{' | grep -o '^[a-z]*' | sort -u)
        [ "$(wc -w <<< "$keys")" -ge 36 ]
        [ "$sections" = "$(printf '%s\n' boot bridge dhcp host menu)" ]
        page=$REPO/man/pxelab.conf.5
        for s in $sections; do echo "section $s"; grep -q "^\.SH SECTION $s\b" "$page"; done
        # Each key is an entry (.TP, then .B KEY) whose text gives its default
        # or says it is required.
        for k in $keys; do
                echo "key $k"
                grep -qx "\.B $k" "$page"
                awk -v k="$k" '
                        /^\.(TP|SH)/ { if (inkey) exit(!found); tp = /^\.TP/; next }
                        tp && $0 == ".B " k { inkey = 1; found = 0; tp = 0; next }
                        { tp = 0 }
                        inkey && /[Dd]efault|[Rr]equired/ { found = 1 }
                        END { if (inkey) exit(!found); exit 1 }' "$page"
        done
        # The vm section the README describes in prose, too.
        for k in firmware mac memory disk autostart; do grep -qx "\.B $k" "$page"; done
        grep -q '^\.SH SECTION vm\b' "$page"
}

# complete WORD...: the completions of the last word of `pxelab WORD...`, one
# a line, from the installed completion as bash-completion loads it, in a
# private mount namespace where /run/pxelab holds labs "office" and "lab2"
# (whose VMs vm1 and win2 have serial logs) and /etc/pxelab the profile
# "branch".
complete_words() {
        local cwd=$OUT/complete-cwd
        mkdir -p "$cwd/sub"
        touch "$cwd/a.conf" "$cwd/b.txt"
        # shellcheck disable=SC2016 # expanded by the inner shell
        unshare --mount --propagation private bash -c '
                D=$1; shift
                mount -t tmpfs tmpfs /run &&
                mkdir -p /run/pxelab/office /run/pxelab/lab2/serial /run/ovl/u /run/ovl/w &&
                touch /run/pxelab/lab2/serial/vm1.log /run/pxelab/lab2/serial/win2.log &&
                touch /run/pxelab/.lock /run/pxelab/.accel &&
                mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/ovl/u,workdir=/run/ovl/w /etc &&
                mkdir -p /etc/pxelab &&
                touch /etc/pxelab/branch.conf &&
                cd "$D/../complete-cwd" || exit 1
                # bash-completion finds it in XDG_DATA_DIRS, as it finds
                # /usr/local/share/bash-completion/completions/pxelab.
                XDG_DATA_DIRS=$D/usr/local/share:/usr/share
                . /usr/share/bash-completion/bash_completion
                ! complete -p pxelab 2>/dev/null || exit 1
                _completion_loader pxelab
                complete -p pxelab > /dev/null || exit 1
                COMP_WORDS=(pxelab "$@")
                COMP_CWORD=$#
                COMP_LINE="pxelab $*"
                COMP_POINT=${#COMP_LINE}
                f=$(complete -p pxelab | sed "s/.*-F \([^ ]*\) .*/\1/")
                "$f" pxelab "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                printf "%s\n" "${COMPREPLY[@]}" | sort' bash "$D" "$@"
}

@test "the installed bash completion completes commands, sub-commands, options, lab names and profiles" {
        make -s -C "$REPO" install DESTDIR="$D"
        [ "$(complete_words st)" = status ]
        [ "$(complete_words "")" = "$(printf '%s\n' check down help render status up version vm watch)" ]
        [ "$(complete_words status o)" = office ]
        [ "$(complete_words status "")" = "$(printf '%s\n' lab2 office)" ]
        [ "$(complete_words down "")" = "$(printf '%s\n' a.conf lab2 office sub)" ]
        [ "$(complete_words down --)" = "$(printf '%s\n' --all --help)" ]
        [ "$(complete_words up "")" = "$(printf '%s\n' a.conf branch sub)" ]
        [ "$(complete_words check "")" = "$(printf '%s\n' a.conf sub)" ]
        [ "$(complete_words render a.conf -o s)" = sub ]
        [ "$(complete_words vm "")" = "$(printf '%s\n' console list start stop)" ]
        [ "$(complete_words vm start l)" = lab2 ]
        [ "$(complete_words vm start lab2 --firmware "")" = "$(printf '%s\n' bios uefi uefi-pxe uefi-secure)" ]
        [ "$(complete_words vm start lab2 --v)" = --vnc ]
        [ "$(complete_words vm start lab2 --w)" = --wait ]
        [ "$(complete_words watch "")" = "$(printf '%s\n' lab2 office)" ]
        [ "$(complete_words watch --s)" = --since ]
        [ "$(complete_words watch --since "")" = "" ]
        [ "$(complete_words vm console lab2 vm1 --)" = "$(printf '%s\n' --help --no-follow)" ]
        [ "$(complete_words vm console lab2 "")" = "$(printf '%s\n' vm1 win2)" ]
        [ "$(complete_words vm stop lab2 w)" = win2 ]
        [ "$(complete_words vm start office "")" = "" ]
        [ "$(complete_words vm list lab2 "")" = "" ]
        [ "$(complete_words help v)" = "$(printf '%s\n' version vm)" ]
}
