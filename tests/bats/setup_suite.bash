# Once per bats run (bats loads setup_suite.bash from the suites' directory):
# the run's test data directory, $PXELAB_TEST_OUT ($OUT in common.bash).
#
# The lab's services and VMs read what the tests make there (boot files,
# install trees, disk images, stand-in QEMUs), as the unprivileged account
# `nobody` too and from units with ProtectHome=yes, so it must not live in
# the checkout: a checkout under /root (0700) or /home would hide it from
# them. It is made with mktemp under $PXELAB_TEST_TMP (default /srv, where
# boot files usually live: the units see it as it is, while /tmp and
# /var/tmp are private to them and /home, /root, /run/user hidden; never a
# home directory), mode 0755, and removed at the end of the run
# (PXELAB_TEST_KEEP=1 keeps it and says where).

setup_suite() {
        local base=${PXELAB_TEST_TMP:-/srv} real
        real=$(realpath -m "$base")
        case "$real/" in
        /home/* | /root/* | /run/user/*)
                echo "PXELAB_TEST_TMP='$base' is under a home directory, which the lab's units cannot see" >&2
                return 1
                ;;
        esac
        PXELAB_TEST_OUT=$(mktemp -d "$real/pxelab-tests.XXXXXX")
        chmod 0755 "$PXELAB_TEST_OUT"
        export PXELAB_TEST_OUT
}

teardown_suite() {
        [ -n "${PXELAB_TEST_OUT:-}" ] && [ -d "$PXELAB_TEST_OUT" ] || return 0
        if [ -n "${PXELAB_TEST_KEEP:-}" ]; then
                echo "# test data kept in $PXELAB_TEST_OUT" >&3
                return 0
        fi
        rm -rf "$PXELAB_TEST_OUT"
}
