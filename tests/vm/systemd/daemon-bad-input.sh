#!/bin/bash
# Bad input gets a named error and changes nothing: no pin, no mount, no
# state entry.
. "$(dirname "$0")/../daemon-lib.sh"

create bi-ok local  # the daemon is up and state exists
before=$(world)
long=$(printf 'x%.0s' {1..65})
for name in "" "." ".." "a/b" "$long" "tenant-é" $'a\x01b' $'a\nb' ".host" ".hidden"; do
    expect_error InvalidName CreateNamespace "$name" local "@a{sv} {}"
done
expect_error InvalidMode CreateNamespace bi-x LOCAL "@a{sv} {}"
expect_error InvalidMode CreateNamespace bi-x "" "@a{sv} {}"
expect_error InvalidOption CreateNamespace bi-x local "{'Colour': <'blue'>}"
expect_error InvalidOption CreateNamespace bi-x local "{'G2HFallback': <'no'>}"
expect_error InvalidOption CreateNamespace bi-x local "{'Parent': <true>}"
expect_error InvalidOption CreateNamespace bi-x local "{'G2HFallback': <true>, 'G2HFallback': <false>}"
expect_error NamespaceExists CreateNamespace bi-ok global "@a{sv} {}"
expect_eq "bad names, modes and options changed nothing" "$before" "$(world)"
ip netns add bi-foreign
defer "ip netns del bi-foreign"
before=$(world)
expect_error NamespaceExists CreateNamespace bi-foreign local "@a{sv} {}"
expect_error NoSuchNamespace DeleteNamespace bi-nope false
expect_error NoSuchNamespace DeleteNamespace bi-foreign false
expect_error NoSuchNamespace GetNamespace ""
expect_eq "pins, mounts and state unchanged" "$before" "$(world)"
$ctl create "a/b" >/dev/null 2>&1
expect_eq "vsocknsctl exit status for a bad name" 1 "$?"
$ctl show bi-nope >/dev/null 2>&1
expect_eq "vsocknsctl exit status for an unknown namespace" 4 "$?"
$ctl frobnicate >/dev/null 2>&1
expect_eq "vsocknsctl exit status for an unknown command" 2 "$?"
finish
