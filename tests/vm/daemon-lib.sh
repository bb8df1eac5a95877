# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the VM tests of vsocknsd under systemd: install the build into
# the guest's (throwaway) root, talk to the daemon with busctl and gdbus.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/../bus-lib.sh"

# The meson install staged by vm-batch goes into the guest's root.
"$(dirname "${BASH_SOURCE[0]}")/../../tools/vm-install-daemon" "$VSOCKNS_BUILD_ROOT" || exit 1


# kill -9 vsocknsd and wait until systemd has restarted it (Restart=on-failure).
kill9_and_wait_restart() {
    local pid new
    pid=$(systemctl show -P MainPID vsocknsd)
    kill -9 "$pid"
    for _ in $(seq 100); do
        new=$(systemctl show -P MainPID vsocknsd)
        [[ $new != 0 && $new != "$pid" ]] && systemctl is-active -q vsocknsd && return 0
        sleep 0.1
    done
    return 1
}
