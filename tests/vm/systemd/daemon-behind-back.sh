#!/bin/bash
# An `ip netns del` behind the daemon's back: NamespaceRemoved is emitted and
# the namespace leaves the state; other namespaces are untouched.
. "$(dirname "$0")/../daemon-lib.sh"

call GetNamespace nothing >/dev/null  # the daemon is up
log=$(mktemp)
busctl monitor --match "type='signal',sender='org.vsockns1'" >"$log" 2>&1 &
defer "kill $!"
sleep 1
create bb-victim local
create bb-keep global
for _ in $(seq 50); do grep -q '"bb-keep"' "$log" && break; sleep 0.1; done
expect_eq "NamespaceCreated signals" 2 "$(grep -A3 'Member=NamespaceCreated' "$log" | grep -c 'STRING "bb-')"
ip netns del bb-victim
for _ in $(seq 50); do grep -q bb-victim "$log" && break; sleep 0.1; done
expect_eq "NamespaceRemoved signal for bb-victim" yes \
    "$(grep -A3 'Member=NamespaceRemoved' "$log" | grep_q 'STRING "bb-victim"' && echo yes)"
# The ObjectManager side: InterfacesAdded at creation, InterfacesRemoved when
# it goes (behind our back here, by DeleteNamespace below), each naming the
# object's interfaces.
# om_signal MEMBER ENCODED-NAME: "yes" if a MEMBER signal for that namespace
# object names org.vsockns1.Namespace (busctl monitor starts each message
# with a line beginning '‣').
om_signal() {
    awk -v member="Member=$1" -v path="OBJECT_PATH \"/org/vsockns1/namespace/$2\";" '
        function check() { if (in_msg && has_path && has_iface) found = 1; in_msg = has_path = has_iface = 0 }
        /^‣/ { check() }
        index($0, member) { in_msg = 1 }
        in_msg && index($0, path) { has_path = 1 }
        in_msg && index($0, "STRING \"org.vsockns1.Namespace\";") { has_iface = 1 }
        END { check(); print found ? "yes" : "no" }' "$log"
}
for _ in $(seq 50); do [[ $(om_signal InterfacesRemoved bb_2dvictim) == yes ]] && break; sleep 0.1; done
expect_eq "InterfacesAdded for bb-victim names org.vsockns1.Namespace" yes "$(om_signal InterfacesAdded bb_2dvictim)"
expect_eq "InterfacesRemoved for bb-victim names org.vsockns1.Namespace" yes "$(om_signal InterfacesRemoved bb_2dvictim)"
create bb-deleted local
$ctl delete bb-deleted >/dev/null
for _ in $(seq 50); do [[ $(om_signal InterfacesRemoved bb_2ddeleted) == yes ]] && break; sleep 0.1; done
expect_eq "InterfacesRemoved after DeleteNamespace" yes "$(om_signal InterfacesRemoved bb_2ddeleted)"
$ctl show bb-victim >/dev/null 2>&1
expect_eq "vsocknsctl show bb-victim exit status" 4 "$?"
expect_eq "bb-victim in the state file" no "$(grep -q bb-victim /run/vsockns/namespaces.json && echo yes || echo no)"
expect_eq "bb-keep still managed" global "$($ctl show --json bb-keep | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
finish
