# bash completion for pxelab(1), installed as
# $(PREFIX)/share/bash-completion/completions/pxelab (bash-completion loads it
# the first time `pxelab` is completed). Completes the commands, vm's
# sub-commands, each command's options and their values, lab names (the labs
# that are up: the directories of /run/pxelab; for `up`, the profiles of
# /etc/pxelab by name), VM names (for `vm start|stop|console LAB`: those
# with a serial log) and profile files (*.conf and directories).

# The labs that are up, one a line: /run/pxelab/LAB/ (pxelab's own files
# there, .lock and .accel, are not directories).
_pxelab_labs() {
        local d
        for d in /run/pxelab/*/; do
                [ -d "$d" ] || continue
                d=${d%/}
                printf '%s\n' "${d##*/}"
        done
}

# The VMs lab $1 has started, one a line: their serial logs,
# /run/pxelab/LAB/serial/NAME.log (the record itself is root's only).
_pxelab_vms() {
        local f
        for f in "/run/pxelab/$1/serial/"*.log; do
                [ -f "$f" ] || continue
                f=${f##*/}
                printf '%s\n' "${f%.log}"
        done
}

# The names `pxelab up NAME` takes: /etc/pxelab/NAME.conf.
_pxelab_conf_names() {
        local f
        for f in /etc/pxelab/*.conf; do
                [ -f "$f" ] || continue
                f=${f##*/}
                printf '%s\n' "${f%.conf}"
        done
}

# Adds the words of WORDLIST (blank-separated) that start with $cur.
_pxelab_add() {
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -W "$1" -- "$cur")
}

# Profile files: *.conf, and directories to go on into (names with spaces
# stay one word).
_pxelab_add_profiles() {
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -X '!*.conf' -- "$cur"; compgen -d -- "$cur")
}

_pxelab() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local commands="render check up down status watch vm help version"
        local cmd="" sub="" npos=0 i w skip="" lab_word=""
        COMPREPLY=()

        # The command, vm's sub-command and how many plain arguments come
        # before the word being completed (an option's value is not one).
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                if [ -n "$skip" ]; then
                        skip=""
                        continue
                fi
                case $w in
                -o | --output | --address | --firmware | --mac | --memory | --disk | --since) skip=1; continue ;;
                -*) continue ;;
                esac
                if [ -z "$cmd" ]; then
                        cmd=$w
                elif [ "$cmd" = vm ] && [ -z "$sub" ]; then
                        sub=$w
                else
                        [ "$npos" -eq 0 ] && lab_word=$w
                        npos=$((npos + 1))
                fi
        done

        # The value of an option.
        case $prev in
        -o | --output)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -d -- "$cur")
                return 0
                ;;
        --address) return 0 ;;
        --firmware) _pxelab_add "bios uefi uefi-pxe uefi-secure"; return 0 ;;
        --disk)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return 0
                ;;
        --mac | --memory | --since) return 0 ;;
        esac

        if [ -z "$cmd" ]; then
                if [[ $cur == -* ]]; then
                        _pxelab_add "--help --version"
                else
                        _pxelab_add "$commands"
                fi
                return 0
        fi

        case $cmd in
        render)
                if [[ $cur == -* ]]; then _pxelab_add "-o --output --address --help"
                elif [ "$npos" -eq 0 ]; then _pxelab_add_profiles
                fi
                ;;
        check)
                if [[ $cur == -* ]]; then _pxelab_add "--help"
                elif [ "$npos" -eq 0 ]; then _pxelab_add_profiles
                fi
                ;;
        up)
                if [[ $cur == -* ]]; then _pxelab_add "--help"
                elif [ "$npos" -eq 0 ]; then
                        _pxelab_add "$(_pxelab_conf_names)"
                        _pxelab_add_profiles
                fi
                ;;
        down)
                if [[ $cur == -* ]]; then _pxelab_add "--all --help"
                elif [ "$npos" -eq 0 ]; then
                        _pxelab_add "$(_pxelab_labs)"
                        _pxelab_add_profiles
                fi
                ;;
        status)
                if [[ $cur == -* ]]; then _pxelab_add "--json --help"
                elif [ "$npos" -eq 0 ]; then _pxelab_add "$(_pxelab_labs)"
                fi
                ;;
        watch)
                if [[ $cur == -* ]]; then _pxelab_add "--json -f --follow --since --help"
                elif [ "$npos" -eq 0 ]; then _pxelab_add "$(_pxelab_labs)"
                fi
                ;;
        vm)
                if [ -z "$sub" ]; then
                        _pxelab_add "start stop list console"
                        return 0
                fi
                if [[ $cur == -* ]]; then
                        case $sub in
                        start) _pxelab_add "--firmware --mac --memory --disk --vnc --wait --help" ;;
                        stop) _pxelab_add "--all --help" ;;
                        list) _pxelab_add "--json --help" ;;
                        console) _pxelab_add "--no-follow --help" ;;
                        esac
                elif [ "$npos" -eq 0 ]; then
                        _pxelab_add "$(_pxelab_labs)"
                elif [ "$npos" -eq 1 ] && [ "$sub" != list ]; then
                        _pxelab_add "$(_pxelab_vms "${lab_word}")"
                fi
                ;;
        help)
                [ "$npos" -eq 0 ] && _pxelab_add "$commands"
                ;;
        esac
        return 0
}
complete -F _pxelab pxelab
