# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the VM tests of vsocknsd under systemd: install the build into
# the guest's (throwaway) root, talk to the daemon with busctl and gdbus.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/../bus-lib.sh"

# The meson install staged by vm-batch goes into the guest's root.
"$(dirname "${BASH_SOURCE[0]}")/../../tools/vm-install-daemon" "$VSOCKNS_BUILD_ROOT" || exit 1


# The unit runs the fault-injection build (vsocknsd-faults, shared/fault.h)
# from the build tree until the test ends; arguments are added to its
# command line (e.g. --log-level=debug).
use_faults_build() {
    local dropin=/run/systemd/system/vsocknsd.service.d/60-faults.conf
    mkdir -p "$(dirname "$dropin")"
    printf '[Service]\nExecStart=\nExecStart=%s\n' "$VSOCKNS_BUILD_ROOT/src/vsocknsd-faults $*" >"$dropin"
    defer "rm -f $dropin /run/vsockns-fault; systemctl daemon-reload; systemctl restart vsocknsd"
    systemctl daemon-reload
    systemctl restart vsocknsd
    expect_eq "the unit runs vsocknsd-faults" yes \
        "$([[ $(readlink /proc/"$(systemctl show -P MainPID vsocknsd)"/exe) == */vsocknsd-faults ]] && echo yes)"
}

# kill -9 vsocknsd and wait until systemd has restarted it (Restart=on-failure).
kill9_and_wait_restart() {
    local pid new
    pid=$(systemctl show -P MainPID vsocknsd)
    # Never kill -9 0 (the whole process group, this test with it).
    [[ $pid -gt 0 ]] || { echo "kill9_and_wait_restart: vsocknsd is not running" >&2; return 1; }
    kill -9 "$pid"
    for _ in $(seq 100); do
        new=$(systemctl show -P MainPID vsocknsd)
        [[ $new != 0 && $new != "$pid" ]] && systemctl is-active -q vsocknsd && return 0
        sleep 0.1
    done
    return 1
}

# Stops the unit and waits until its process and bus name are gone (closing
# thousands of stored fds takes PID 1 a while). Masks it for the time being,
# so a bus call cannot activate it behind a hand-started daemon.
stop_vsocknsd_unit() {
    systemctl mask --runtime vsocknsd >/dev/null 2>&1
    systemctl stop vsocknsd >/dev/null 2>&1
    for _ in $(seq 900); do
        if [[ $(systemctl show -P ActiveState vsocknsd 2>/dev/null) == inactive ]] &&
           ! busctl status org.vsockns1 >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

start_vsocknsd_unit() {
    systemctl unmask --runtime vsocknsd >/dev/null 2>&1
    systemctl start vsocknsd
}

# start_vsocknsd_by_hand LOG: vsocknsd outside systemd (no fd store); sets
# $hand_pid once it owns the bus name.
start_vsocknsd_by_hand() {
    /usr/libexec/vsocknsd >>"$1" 2>&1 &
    hand_pid=$!
    for _ in $(seq 300); do
        [[ $(busctl status org.vsockns1 2>/dev/null | awk -F= '$1 == "PID" { print $2 }') == "$hand_pid" ]] && return 0
        sleep 0.1
    done
    echo "hand-started vsocknsd did not get the bus name:"; cat "$1"
    return 1
}
