#!/bin/bash
# No dead VM's memory is kept by vsockns: a QEMU with -m 512 -mem-prealloc
# that uses a leased vhost-vsock fd is killed, and MemAvailable recovers (to
# within 10% of 512 MiB) within 10 s, because every copy vsockns keeps (its
# own and the fd store's) goes when the bound process exits. For a lease
# started by `vsocknsctl exec`, one bound after spawning (BindLease), and a
# persistent one (the CID is then taken again on a fresh device).
. "$(dirname "$0")/../daemon-lib.sh"

create lm-a local

# check_recovers LABEL PID: once QEMU (PID) has allocated its memory, kill
# it and check that the memory comes back.
check_recovers() {
    local label=$1 pid=$2 used left
    used=$(wait_mem_below "$base" 400 180)
    if [[ $used -ge 400 ]]; then pass "$label: QEMU took $used MiB"; else fail "$label: QEMU took only $used MiB"; fi
    kill -9 "$pid"
    wait_gone "$pid" || fail "$label: QEMU did not exit"
    left=$(wait_mem_recovered "$base" 52 10)
    if [[ $left -le 52 ]]; then pass "$label: memory back within 10 s ($left MiB below the start)"
    else fail "$label: still $left MiB below the start 10 s after QEMU died"; fi
}

base=$(mem_available)
$ctl exec lm-a --cid 80 -- "${QEMU_512[@]}" &
qemu=$!
check_recovers "exec-started" "$qemu"
wait "$qemu" 2>/dev/null
for _ in $(seq 50); do $ctl leases lm-a | grep_q ' 80 ' || break; sleep 0.1; done
expect_eq "exec-started: lease ended" "" "$($ctl leases lm-a | grep ' 80 ')"
expect_eq "exec-started: CID 80 free" OK "$(cid_probe lm-a 80)"

base=$(mem_available)
# To a file: QEMU inherits lease-spawn's stdout, a $(...) would wait for it.
spawned=$(mktemp)
"$tools/lease-spawn" lm-a 81 -- "${QEMU_512[@]}" >"$spawned"
qemu=$(cat "$spawned")
expect_eq "bound after spawn: lease bound to QEMU" yes \
    "$(journalctl -u vsocknsd -b | grep_q "CID 81 in lm-a ('lease-spawn') is now bound to process $qemu" && echo yes)"
check_recovers "bound after spawn" "$qemu"
for _ in $(seq 50); do $ctl leases lm-a | grep_q ' 81 ' || break; sleep 0.1; done
expect_eq "bound after spawn: lease ended" "" "$($ctl leases lm-a | grep ' 81 ')"

base=$(mem_available)
$ctl exec --persist lm-a --cid 82 -- "${QEMU_512[@]}" &
qemu=$!
check_recovers "persistent" "$qemu"
wait "$qemu" 2>/dev/null
for _ in $(seq 50); do journalctl -u vsocknsd -b | grep_q 'Took CID 82 in lm-a' && break; sleep 0.1; done
expect_eq "persistent: lease kept" yes "$($ctl leases lm-a | grep_q ' 82 ' && echo yes)"
expect_eq "persistent: CID 82 taken again on a fresh device" EADDRINUSE "$(cid_probe lm-a 82)"
expect_eq "persistent: journal says so" yes \
    "$(journalctl -u vsocknsd -b | grep_q "Took CID 82 in lm-a ('exec:qemu-system-x86_64') again on a fresh device" && echo yes)"
$ctl release lm-a 82 >/dev/null
finish
