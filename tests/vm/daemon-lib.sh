# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the VM tests of vsocknsd under systemd: install the build into
# the guest's (throwaway) root, talk to the daemon with busctl and gdbus.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/../bus-lib.sh"

# The meson install staged by vm-batch (DESTDIR) goes into the guest's root
# once per boot; systemd and the bus then know the unit and the policy.
daemon_install() {
    [[ -e /run/vsockns-test-installed ]] && return 0
    local stage=$VSOCKNS_BUILD_ROOT/vm-install
    [[ -x $stage/usr/libexec/vsocknsd ]] || { echo "no staged install in $stage"; exit 1; }
    tar -C "$stage" -c . | tar -C / -x --keep-directory-symlink --no-same-owner
    systemctl daemon-reload
    busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
    touch /run/vsockns-test-installed
}
daemon_install

