# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by the host integration tests: a private mount namespace with its
# own /run (the machine's /run/netns is not touched), a private
# dbus-daemon, and start_daemon/stop_daemon for the real vsocknsd. The
# test script re-executes itself under unshare first.
if [[ -z ${VSOCKNS_IN_PRIVATE_MOUNTS:-} ]]; then
    export VSOCKNS_IN_PRIVATE_MOUNTS=1
    exec unshare --mount --propagation private "$0" "$@"
fi
: "${VSOCKNS_BUILD_ROOT:?set by meson}"
ctl=$VSOCKNS_BUILD_ROOT/src/vsocknsctl
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../bus-lib.sh"

mount -t tmpfs -o mode=0755 tmpfs /run
bus=$(mktemp -d /var/tmp/vsockns-bus.XXXXXX)
chmod 755 "$bus" # callers of other uids reach the socket
defer "rm -rf $bus"
sed "s|@SOCKET@|$bus/socket|" "$(dirname "${BASH_SOURCE[0]}")/bus.conf.in" >"$bus/bus.conf"
dbus-daemon --config-file="$bus/bus.conf" --fork --print-pid >"$bus/pid" || { echo "no dbus-daemon"; exit 1; }
defer "kill $(cat "$bus/pid")"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus/socket

daemon_pid=
daemon_wrapper=() # e.g. (valgrind --leak-check=full ...): runs the daemon under it
# start_daemon [ARGS...]: vsocknsd, once it owns its bus name.
start_daemon() {
    "${daemon_wrapper[@]}" "$VSOCKNS_BUILD_ROOT/src/vsocknsd" "$@" >>"$bus/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 600); do
        busctl status org.vsockns1 >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "vsocknsd did not come up:"; cat "$bus/daemon.log"; exit 1
}
# stop_daemon: SIGTERM, and the daemon must exit cleanly (status 0): under
# ASan/UBSan (the sanitizers suite) a leak or an error shows up right here.
stop_daemon() {
    local rc=0
    kill "$daemon_pid" && wait "$daemon_pid" || rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "vsocknsd exited with status $rc"
        tail -40 "$bus/daemon.log"
    fi
    daemon_pid=
}
defer '[[ -n $daemon_pid ]] && stop_daemon'
