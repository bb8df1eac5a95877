#!/bin/bash
# The seed examples through vsocknsd: local a and b and global g created with
# busctl (the first call activates the daemon through D-Bus and systemd),
# their modes checked with ip netns exec, and the socat isolation matrix.
. "$(dirname "$0")/../daemon-lib.sh"

out=$(busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager CreateNamespace 'ssa{sv}' tenant1 local 0 2>&1)
expect_eq "busctl CreateNamespace tenant1 local" 'o "/org/vsockns1/namespace/tenant1"' "$out"
defer "$ctl delete tenant1"
expect_eq "vsocknsd activated by the bus" active "$(systemctl is-active vsocknsd)"
expect_eq "KernelSupport" 's "namespaces"' "$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager KernelSupport)"
expect_eq "GuestTransport (no G2H device in this VM)" "b false" \
    "$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager GuestTransport)"
expect_eq "ip netns exec tenant1 ns_mode" local "$(ip netns exec tenant1 cat /proc/sys/net/vsock/ns_mode)"

for spec in a:local b:local g:global; do
    out=$(busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager CreateNamespace 'ssa{sv}' "${spec%:*}" "${spec#*:}" 0 2>&1)
    expect_eq "busctl CreateNamespace $spec" "o \"/org/vsockns1/namespace/${spec%:*}\"" "$out"
    defer "$ctl delete ${spec%:*}"
    expect_eq "ns_mode of ${spec%:*}" "${spec#*:}" "$(ip netns exec "${spec%:*}" cat /proc/sys/net/vsock/ns_mode)"
done
expect_eq "lo is up in a" yes "$(ip netns exec a ip -br link show lo | grep_q UNKNOWN && echo yes)"

listen a 5001
listen b 5002
listen g 5003
listen host 5004
expect_reach a 1 5001 a
expect_no_reach host 1 5001 a
expect_no_reach b 1 5001 a
expect_no_reach a 1 5002 b
expect_no_reach a 1 5004 host
expect_reach host 1 5003 g
expect_reach g 1 5004 host
expect_no_reach g 1 5001 a

list=$($ctl list --json)
expect_eq "vsocknsctl list --json names" "a b g tenant1" "$(echo "$list" | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | sort | xargs)"
expect_eq "vsocknsctl show a: mode" "local" "$($ctl show --json a | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
expect_eq "Namespace object Path" 's "/run/netns/g"' \
    "$(busctl get-property org.vsockns1 /org/vsockns1/namespace/g org.vsockns1.Namespace Path)"

$ctl delete a >/dev/null
expect_eq "/run/netns/a after delete" gone "$([[ -e /run/netns/a ]] && echo present || echo gone)"
expect_eq "GetNamespace a after delete" NoSuchNamespace "$(call GetNamespace a | grep -o NoSuchNamespace)"
finish
