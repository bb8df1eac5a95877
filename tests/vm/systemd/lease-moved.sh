#!/bin/bash
# Whoever holds a copy of a lease's fd can move the device to another CID
# (VHOST_VSOCK_SET_GUEST_CID again). vsockns finds out (CheckLeases, also
# run every minute in bounded steps), takes the CID back on a fresh device
# and says so: journal and a LeaseRetaken signal.
. "$(dirname "$0")/../daemon-lib.sh"

create lmv local
log=$(mktemp)
busctl monitor --match "type='signal',sender='org.vsockns1',member='LeaseRetaken'" >"$log" 2>&1 &
defer "kill $!"
fifo=$(mktemp -u)
mkfifo "$fifo"
out=$(mktemp)
$ctl exec lmv --cid 70 -- "$tools/vhost-cid" --move-fd 3 71 <"$fifo" >"$out" &
mover=$!
exec 6>"$fifo"
defer "exec 6>&-"
for _ in $(seq 100); do grep -q MOVED "$out" && break; sleep 0.1; done
expect_eq "the holder moved the device to CID 71" MOVED "$(cat "$out")"
expect_eq "CID 71 now held (by the moved device)" EADDRINUSE "$(cid_probe lmv 71)"

# vsocknsd's own check, every minute, may take 70 back first on a slow
# machine: either way it is taken back once, which the journal says.
retakes70() { journalctl -u vsocknsd -b | grep -c 'CID 70 in lmv .* was no longer held' || true; }
checked=$($ctl check-leases lmv)
expect_eq "check-leases" yes \
    "$([[ $checked == "1 reserved CIDs checked, 1 taken back after being moved away." ||
          ( $checked == "1 reserved CIDs checked, 0 taken back after being moved away." && $(retakes70) == 1 ) ]] &&
       echo yes || echo "no: $checked")"
for _ in $(seq 50); do [[ $(retakes70) == 1 ]] && break; sleep 0.1; done
expect_eq "CID 70 taken back once (journal)" 1 "$(retakes70)"
expect_eq "CID 70 held again" EADDRINUSE "$(cid_probe lmv 70)"
expect_eq "lease of 70 still listed" yes "$($ctl leases lmv | grep_q ' 70 ' && echo yes)"
for _ in $(seq 50); do grep -q 'STRING "lmv"' "$log" && break; sleep 0.1; done
expect_eq "LeaseRetaken signal" yes "$(grep -A6 'Member=LeaseRetaken' "$log" | grep_q 'UINT32 70' && echo yes)"
expect_eq "journal names the move" yes \
    "$(journalctl -u vsocknsd -b | grep_q 'CID 70 in lmv .* was no longer held: its device was moved' && echo yes)"
expect_eq "a second check finds nothing to take back" "1 reserved CIDs checked, 0 taken back after being moved away." \
    "$($ctl check-leases lmv)"

# The holder goes: its lease ends, both CIDs are free.
exec 6>&-
wait "$mover"
for _ in $(seq 50); do $ctl leases lmv | grep_q ' 70 ' || break; sleep 0.1; done
expect_eq "lease ended with its process" "" "$($ctl leases lmv | grep ' 70 ')"
expect_eq "CID 70 free" OK "$(cid_probe lmv 70)"
expect_eq "CID 71 free" OK "$(cid_probe lmv 71)"

# The holder moves the device, closes its copy and stays: the moved device
# is then held only by copies vsockns controls (its own and the one in
# systemd's fd store). Once CheckLeases takes CID 80 back, CID 81 must be
# free with no further call: the fd store lets go of the moved device on
# its own, not at some later, unrelated release.
fifo2=$(mktemp -u)
mkfifo "$fifo2"
: >"$out"
# Opened read-write: never blocks, and closing it is the end of file the
# other side waits for.
exec 6<>"$fifo"
exec 7<>"$fifo2"
defer "exec 7>&-"
$ctl exec lmv --cid 80 -- bash -c '"$1" --move-fd 3 81 <"$2" >>"$3"; exec 3>&-; echo CLOSED >>"$3"; read -r _ <"$4"' \
    _ "$tools/vhost-cid" "$fifo" "$out" "$fifo2" 6>&- 7>&- &
holder=$!
for _ in $(seq 100); do grep -q MOVED "$out" && break; sleep 0.1; done
exec 6>&- # the mover exits, the shell closes its copy and waits on fifo2
for _ in $(seq 100); do grep -q CLOSED "$out" && break; sleep 0.1; done
expect_eq "moved to 81, the holder's copy closed" "MOVED CLOSED" "$(paste -sd' ' "$out")"
# vsocknsd's own check, every minute, may take 80 back at any moment, as
# CheckLeases does: either way it happens once, and 81 is then free. A
# probe of 81 counts only if that had not happened yet.
retakes() { journalctl -u vsocknsd -b | grep -c 'CID 80 in lmv .* was no longer held' || true; }
probe81=$(cid_probe lmv 81)
if [[ $(retakes) == 0 ]]; then
    expect_eq "CID 81 held by vsockns's copies of the moved device" EADDRINUSE "$probe81"
else
    echo "skipped: CID 81 held before the take-back (the minute's check took 80 back first)"
fi
out=$($ctl check-leases lmv)
expect_eq "check-leases" yes \
    "$([[ $out == "1 reserved CIDs checked, "[01]" taken back after being moved away." ]] && echo yes || echo "no: $out")"
for _ in $(seq 50); do [[ $(retakes) == 1 ]] && break; sleep 0.1; done
expect_eq "CID 80 taken back once (journal)" 1 "$(retakes)"
for _ in $(seq 50); do [[ $(cid_probe lmv 81) == OK ]] && break; sleep 0.1; done
expect_eq "CID 81 free once 80 is taken back (the fd store let go by itself)" OK "$(cid_probe lmv 81)"
expect_eq "CID 80 held again" EADDRINUSE "$(cid_probe lmv 80)"
exec 7>&-
wait "$holder"
for _ in $(seq 50); do $ctl leases lmv | grep_q ' 80 ' || break; sleep 0.1; done
expect_eq "lease of 80 ended with its process" "" "$($ctl leases lmv | grep ' 80 ')"
finish
