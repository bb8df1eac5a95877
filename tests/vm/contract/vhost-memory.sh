#!/bin/bash
# Once QEMU has set up a vhost-vsock device (VHOST_SET_OWNER, even with -S),
# the device holds on to QEMU's memory until the last copy of its fd is
# closed: a copy that outlives QEMU keeps the dead VM's RAM allocated. This
# is why vsockns binds every fd it hands out to a process.
. "$(dirname "$0")/../lib.sh"

exec 5<>/dev/vhost-vsock   # our copy of the device QEMU will use
base=$(mem_available)
pidfile=$(mktemp)
args=("${QEMU_512[@]}")
args[-1]=vhost-vsock-pci,guest-cid=60,vhostfd=5
"${args[@]}" -daemonize -pidfile "$pidfile" || { echo "qemu did not start"; exit 1; }
qemu=$(cat "$pidfile")
used=$(wait_mem_below "$base" 400 120)
[[ $used -ge 400 ]] && pass "QEMU took $used MiB" || fail "QEMU took only $used MiB"
kill -9 "$qemu"
wait_gone "$qemu" || fail "QEMU did not exit"
sleep 3
held=$((base - $(mem_available)))
if [[ $held -ge 400 ]]; then pass "QEMU gone, our copy open: $held MiB still held"
else fail "QEMU gone, our copy open: expected >= 400 MiB still held, got $held"; fi
exec 5>&-
left=$(wait_mem_recovered "$base" 52 10)
if [[ $left -le 52 ]]; then pass "last copy closed: memory back (within $left MiB)"
else fail "last copy closed: still $left MiB below the start after 10 s"; fi
finish
