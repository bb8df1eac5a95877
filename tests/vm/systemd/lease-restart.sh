#!/bin/bash
# Leases survive daemon restarts: under systemd the reserved fds go to the fd
# store and come back; after kill -9 nothing is lost or held twice. Without
# systemd there is no fd store: a lease whose CID nobody holds any more is
# dropped, one still held by a client's copy of the fd is kept.
. "$(dirname "$0")/../daemon-lib.sh"

create lr-a local
expect_eq "acquire 60 (only vsocknsd holds it)" 60 "$($ctl acquire --cid 60 --owner keep lr-a)"
expect_eq "advisory 61" 61 "$($ctl acquire --cid 61 --no-reserve --owner libvirt:vm1 lr-a)"
$ctl exec lr-a --cid 62 --owner bound -- sleep 1000 &
sleeper=$!
defer "kill $sleeper"
for _ in $(seq 50); do $ctl leases lr-a | grep_q bound && break; sleep 0.1; done
leases() { $ctl leases --json lr-a | grep -E '"(cid|owner|reserved)"' | tr -d ' \n'; }
before=$(leases)
expect_eq "FDStore property under systemd" "b true" "$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager FDStore)"

systemctl restart vsocknsd
expect_eq "leases after systemctl restart" "$before" "$(leases)"
expect_eq "kernel: 60 still held" EADDRINUSE "$(cid_probe lr-a 60)"
# 60 and 62 are reserved (their fds came back), 61 is advisory.
expect_eq "journal: fds from the fd store" "Re-adopted 3 leases, 2 of them with their fd from the fd store" \
    "$(journalctl -u vsocknsd -b -o cat | grep -E '^Re-adopted [0-9]+ leases' | tail -1)"

expect_eq "restarted by systemd after kill -9" yes "$(kill9_and_wait_restart && echo yes)"
expect_eq "leases after kill -9" "$before" "$(leases)"
expect_eq "kernel: 60 still held after kill -9" EADDRINUSE "$(cid_probe lr-a 60)"
expect_eq "LeaseCount" "u 3" "$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager LeaseCount)"
expect_eq "no CID held twice" 3 "$($ctl leases --json | grep -o '"cid":[0-9]*' | sort -u | wc -l)"

# The fd store keeps a copy of each reserved lease's record next to its fd,
# so a restart reads no lease file for them (the advisory one is read). A
# record rewritten since (lease 65 bound to a process after it was taken) is
# read from its file, not taken from the older copy, and its vault is
# rebuilt with the new one.
records_line() { journalctl -u vsocknsd -b -o cat | grep -E '^Read [0-9]+ lease records' | tail -1; }
read_as() { echo "Read $1 lease records: $2 from the copies the fd store kept with their fds, $3 from their files"; }
expect_eq "journal: records of reserved leases from the fd store's copies" "$(read_as 3 2 1)" "$(records_line)"
expect_eq "acquire 65" 65 "$($ctl acquire --cid 65 --owner rebound lr-a)"
sleep 1000 &
keeper=$!
defer "kill $keeper 2>/dev/null"
$ctl bind lr-a 65 "$keeper" >/dev/null
expect_eq "restarted after kill -9 (lease 65 bound since it was stored)" yes "$(kill9_and_wait_restart && echo yes)"
expect_eq "journal: the rewritten record read from its file" "$(read_as 4 2 2)" "$(records_line)"
expect_eq "restarted after kill -9 again" yes "$(kill9_and_wait_restart && echo yes)"
expect_eq "journal: its vault was rebuilt with the new copy" "$(read_as 4 3 1)" "$(records_line)"
kill "$keeper"
for _ in $(seq 50); do $ctl leases lr-a | grep_q rebound || break; sleep 0.1; done
expect_eq "lease 65 ended with the process it was bound to after the restarts (its new record was used)" "" \
    "$($ctl leases lr-a | grep -w rebound)"
expect_eq "kernel: 65 free" OK "$(cid_probe lr-a 65)"

# The bound process still ends its lease after the restarts.
kill "$sleeper"
for _ in $(seq 50); do $ctl leases lr-a | grep_q bound || break; sleep 0.1; done
expect_eq "bound lease ended with its process" "" "$($ctl leases lr-a | grep bound)"
expect_eq "kernel: 62 free" OK "$(cid_probe lr-a 62)"

# A VM that exits while vsocknsd is down (kill -9): at the restart its
# exec-bound lease is dropped and the fd store's copy is removed before the
# daemon serves again, so the CID is free at once.
$ctl exec lr-a --cid 64 --owner dies-while-down -- sleep 1000 &
vm=$!
defer "kill $vm"
for _ in $(seq 50); do $ctl leases lr-a | grep_q dies-while-down && break; sleep 0.1; done
expect_eq "kernel: 64 held while the VM runs" EADDRINUSE "$(cid_probe lr-a 64)"
kill -STOP "$(systemctl show -P MainPID vsocknsd)"
kill "$vm"; wait "$vm" 2>/dev/null
expect_eq "restarted after kill -9 (the VM exited meanwhile)" yes "$(kill9_and_wait_restart && echo yes)"
expect_eq "kernel: 64 free at once" OK "$(cid_probe lr-a 64)"
expect_eq "lease of the dead VM gone" "" "$($ctl leases lr-a | grep dies-while-down)"
expect_eq "journal: dropped at adoption" yes \
    "$(journalctl -u vsocknsd -b | grep_q "Dropping lease of CID 64 in lr-a ('dies-while-down'): the process it was bound to has exited" && echo yes)"

# Without systemd: no fd store.
$ctl exec lr-a --cid 63 --owner client -- sleep 1000 &
client=$!
defer "kill $client"
for _ in $(seq 50); do $ctl leases lr-a | grep_q client && break; sleep 0.1; done
stop_vsocknsd_unit
defer start_vsocknsd_unit
expect_eq "systemctl stop keeps the pins" yes "$([[ -e /run/netns/lr-a ]] && echo yes)"
log=$(mktemp)
start_vsocknsd_by_hand "$log" || exit 1
expect_eq "says there is no fd store" yes "$(grep -q 'no fd store' "$log" && echo yes)"
kill "$hand_pid"; wait "$hand_pid"
# fd store flushed by the stop above; our own fds closed by the exit: 60 is
# held by nobody now, 63 by the client's copy.
start_vsocknsd_by_hand "$log" || exit 1
expect_eq "60 dropped: nobody holds it" yes "$(grep -q "Dropping lease of CID 60 in lr-a ('keep'): the kernel no longer holds its CID" "$log" && echo yes)"
expect_eq "63 kept: the client holds it" yes "$($ctl leases lr-a | grep_q 'client' && echo yes)"
expect_eq "61 advisory kept" yes "$($ctl leases lr-a | grep_q 'libvirt:vm1' && echo yes)"
expect_eq "kernel: 63 still held by the client" EADDRINUSE "$(cid_probe lr-a 63)"
kill "$hand_pid"; wait "$hand_pid"
finish
