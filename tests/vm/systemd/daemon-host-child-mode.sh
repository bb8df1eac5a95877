#!/bin/bash
# HostChildMode= in /etc/vsockns/vsocknsd.conf: at start vsocknsd writes,
# and so locks, the host's own child_ns_mode (from its own netns, without a
# helper); a host already locked to another value is named in the journal
# and left as it is, and vsocknsd serves on. An invalid value is named and
# ignored. This locks the host to global, the value it starts with, for the
# rest of the boot: the tests after it see no difference.
. "$(dirname "$0")/../daemon-lib.sh"

host() { cat /proc/sys/net/vsock/child_ns_mode; }
prop() { busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager HostChildMode; }
# Whether vsocknsd's journal has the line (journald may take a moment to
# have what the start wrote on stderr: looked for up to 10 s).
journal_has() {
    for _ in $(seq 50); do
        journalctl -b -u vsocknsd -o cat --no-pager | grep_q -F "$1" && { echo yes; return; }
        sleep 0.2
    done
    echo no
}
start_with() {
    printf '%s\n' "$1" >/etc/vsockns/vsocknsd.conf
    systemctl restart vsocknsd
}
mkdir -p /etc/vsockns
defer "rm -f /etc/vsockns/vsocknsd.conf; systemctl restart vsocknsd"

expect_eq "the host's child_ns_mode before" global "$(host)"
expect_eq "HostChildMode shows it" 's "global"' "$(prop)"

start_with HostChildMode=sideways
expect_eq "an invalid value is named and ignored" yes \
    "$(journal_has "HostChildMode='sideways' is neither 'local' nor 'global', ignoring")"

start_with HostChildMode=global
expect_eq "the journal says the host was locked as configured" yes \
    "$(journal_has "Host child_ns_mode locked to 'global' as configured")"
expect_eq "the host's child_ns_mode is locked now: local is refused" EBUSY \
    "$("$tools/vsock-sysctl-write" /proc/sys/net/vsock/child_ns_mode local)"
expect_eq "HostChildMode" 's "global"' "$(prop)"

# Asked for the other value: the kernel refuses, vsocknsd says why and
# serves on with the host as it is.
start_with HostChildMode=local
expect_eq "the journal names the lock" yes \
    "$(journal_has "HostChildMode=local: the host's child_ns_mode is already locked to 'global'")"
expect_eq "the host's child_ns_mode is unchanged" global "$(host)"
expect_eq "HostChildMode still says global" 's "global"' "$(prop)"
create hc-local local
expect_eq "vsocknsd serves on: a local namespace is made" local "$(sysctl_get hc-local ns_mode)"
$ctl delete hc-local >/dev/null
finish
