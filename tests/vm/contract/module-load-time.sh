#!/bin/bash
# Namespaces that exist before the vsock module loads all come up "global",
# whichever namespace triggers the load: no namespace can have asked for
# "local" yet. This is why vsocknsd loads vsock before it creates anything.
. "$(dirname "$0")/../lib.sh"

mods=(vsock_diag vhost_vsock vsock_loopback vmw_vsock_virtio_transport_common vsock)
rmmod "${mods[@]}" 2>/dev/null
defer "modprobe vsock; modprobe vsock_loopback; modprobe vhost_vsock; modprobe vsock_diag"
if [[ -e /proc/sys/net/vsock ]]; then
    echo "cannot unload vsock (in use?); lsmod:"; lsmod | grep vsock
    exit 1
fi
pass "vsock unloaded: /proc/sys/net/vsock is gone"

ns_add ct-pre
ns_add ct-pre-nested ct-pre
# The load is triggered from inside ct-pre (as an AF_VSOCK socket() would).
in_ns ct-pre modprobe vsock || { echo "modprobe vsock failed"; exit 1; }

expect_eq "host ns_mode" global "$(sysctl_get host ns_mode)"
expect_eq "ct-pre ns_mode (loaded from inside it)" global "$(sysctl_get ct-pre ns_mode)"
expect_eq "ct-pre child_ns_mode" global "$(sysctl_get ct-pre child_ns_mode)"
expect_eq "ct-pre-nested ns_mode" global "$(sysctl_get ct-pre-nested ns_mode)"
# Still writable: nothing locked it at load time.
expect_eq "ct-pre child_ns_mode := local" OK "$(sysctl_write ct-pre child_ns_mode local)"
finish
