#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# The bad-profile corpus: each profile gives exactly its expected error lines
# and exit 2, and leaves nothing behind.
load common

@test "every bad profile gives its exact error lines and exit 2" {
        n=0
        for conf in tests/bad-profiles/*.conf; do
                run --separate-stderr "$PXELAB" check "$conf"
                if [ "$status" -ne 2 ] || [ "$stderr" != "$(cat "${conf%.conf}.err")" ]; then
                        echo "MISMATCH for $conf (exit $status):"
                        echo "--- expected"; cat "${conf%.conf}.err"
                        echo "--- got"; echo "$stderr"
                        return 1
                fi
                n=$((n + 1))
        done
        [ "$n" -ge 50 ]
}

@test "no bad profile makes render create anything" {
        # (*-files-* profiles are valid but name missing files: render, which
        # does not need the files, renders those; check and up refuse them.)
        for conf in tests/bad-profiles/*.conf; do
                [[ "$conf" == *-files-* ]] && continue
                dest="$OUT/bad-render-$$"
                run "$PXELAB" render "$conf" -o "$dest"
                [ "$status" -eq 2 ]
                [ ! -e "$dest" ]
        done
}
