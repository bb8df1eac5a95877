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
    "$(grep -A3 'Member=NamespaceRemoved' "$log" | grep -q 'STRING "bb-victim"' && echo yes)"
$ctl show bb-victim >/dev/null 2>&1
expect_eq "vsocknsctl show bb-victim exit status" 4 "$?"
expect_eq "bb-victim in the state file" no "$(grep -q bb-victim /run/vsockns/namespaces.json && echo yes || echo no)"
expect_eq "bb-keep still managed" global "$($ctl show --json bb-keep | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
finish
