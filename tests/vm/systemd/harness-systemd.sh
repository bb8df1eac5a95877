#!/bin/bash
# The harness's systemd mode gives what the daemon's VM tests stand on:
# systemd as PID 1, the system bus, an activatable polkitd, the vsock modules.
. "$(dirname "$0")/../lib.sh"

expect_eq "PID 1" systemd "$(cat /proc/1/comm)"
expect_eq "cgroup of this test" 0::/system.slice/vsockns-vm.service "$(cat /proc/self/cgroup)"
out=$(busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId 2>&1)
[[ $out == s\ \"* ]] && pass "system bus answers GetId" || fail "system bus: $out"
out=$(busctl get-property org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority \
      org.freedesktop.PolicyKit1.Authority BackendName 2>&1)
[[ $out == s\ \"* ]] && pass "polkitd activated: $out" || fail "polkitd: $out"
for m in vsock vsock_loopback vhost_vsock vsock_diag; do
    [[ -d /sys/module/$m ]] && pass "module $m loaded" || fail "module $m not loaded"
done
expect_eq "host ns_mode" global "$(cat /proc/sys/net/vsock/ns_mode)"
finish
