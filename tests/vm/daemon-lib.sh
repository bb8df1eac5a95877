# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the VM tests of vsocknsd under systemd: install the build into
# the guest's (throwaway) root, talk to the daemon with busctl and gdbus.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ctl=vsocknsctl

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

# call METHOD ARGS...: a Manager method through gdbus (GVariant text args).
call() {
    local method=$1
    shift
    gdbus call --system --dest org.vsockns1 --object-path /org/vsockns1 \
        --method "org.vsockns1.Manager.$method" "$@" 2>&1
}

# expect_error ERROR METHOD ARGS...: the call fails with org.vsockns1.Error.ERROR.
expect_error() {
    local want=$1 out
    shift
    out=$(call "$@")
    if [[ $out == *"org.vsockns1.Error.$want:"* ]]; then
        pass "$* -> $want: ${out##*$want: }"
    else
        fail "$* should fail with $want, got: $out"
    fi
}

# create NAME MODE [OPTIONS as GVariant]: must succeed.
create() {
    local out
    out=$(call CreateNamespace "$1" "$2" "${3:-@a{sv\} {\}}")
    if [[ $out == "(objectpath '/org/vsockns1/namespace/"* ]]; then
        defer "$ctl delete --force $1"
        pass "created $2 namespace $1"
    else
        fail "CreateNamespace $1 $2 ${3:-}: $out"
    fi
}

# A fingerprint of what exists: pins, mounts and vsockns's state.
world() {
    ls -1 /run/netns 2>/dev/null
    grep -c ' /run/netns' /proc/self/mountinfo
    cat /run/vsockns/namespaces.json 2>/dev/null
}
