#!/bin/bash
# An `ip netns del` behind the daemon's back: NamespaceRemoved is emitted and
# the namespace leaves the state; other namespaces are untouched.
. "$(dirname "$0")/../daemon-lib.sh"

create bb-victim local
create bb-keep global
log=$(mktemp)
busctl monitor --match "type='signal',sender='org.vsockns1',member='NamespaceRemoved'" >"$log" 2>&1 &
defer "kill $!"
sleep 1
ip netns del bb-victim
for _ in $(seq 50); do grep -q bb-victim "$log" && break; sleep 0.1; done
expect_eq "NamespaceRemoved signal for bb-victim" yes "$(grep -q 'STRING "bb-victim"' "$log" && echo yes)"
$ctl show bb-victim >/dev/null 2>&1
expect_eq "vsocknsctl show bb-victim exit status" 4 "$?"
expect_eq "bb-victim in the state file" no "$(grep -q bb-victim /run/vsockns/namespaces.json && echo yes || echo no)"
expect_eq "bb-keep still managed" global "$($ctl show --json bb-keep | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
finish
