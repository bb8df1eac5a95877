#!/bin/bash
# Without the systemd fd store (vsocknsd started by hand) vsocknsd holds the
# last reference to each reserved lease's device, and closing one waits for
# the kernel (an RCU grace period). Deleting a namespace with many leases
# must not stall the event loop while those devices close: other callers
# are answered meanwhile, and DeleteNamespace itself answers once the CIDs
# are really free. A single release frees its CID before the reply.
. "$(dirname "$0")/../daemon-lib.sh"

# 200 devices (about 2 s of closing under emulation); 400 with tools/test --full.
n=200 first=1000
[[ -n ${VSOCKNS_BENCH_FULL:-} ]] && n=400
last=$((first + n - 1))
stop_vsocknsd_unit || { echo "cannot stop the unit"; exit 1; }
defer start_vsocknsd_unit
log=$(mktemp)
start_vsocknsd_by_hand "$log" || exit 1
defer "kill $hand_pid"
vhost_fds() { ls -l "/proc/$hand_pid/fd" | grep -c vhost-vsock; }

create ca-g global
for cid in $(seq "$first" "$last"); do
    $ctl acquire --cid "$cid" --owner close-async ca-g >/dev/null || fail "acquire $cid"
done
expect_eq "leases in ca-g" "$n" "$($ctl leases --json ca-g | grep -c '"close-async"')"
expect_eq "vhost fds held by vsocknsd" "$n" "$(vhost_fds)"
expect_eq "kernel: $first held (global CID space)" EADDRINUSE "$(cid_probe host "$first")"

# Delete in the background; once vsocknsd has begun releasing, ask it
# something else and see whether the answer comes before the delete's.
out=$(mktemp)
(call DeleteNamespace ca-g true >"$out"; echo "done $EPOCHREALTIME" >>"$out") &
deleter=$!
records() { ls /run/vsockns/leases | grep -c '@ca-g\.json$'; }
for _ in $(seq 300); do (( $(records) < n )) && break; sleep 0.05; done
expect_eq "vsocknsd began releasing (lease records going)" yes "$( (( $(records) < n )) && echo yes)"
answered=0 before=0
for _ in 1 2 3 4 5; do
    if $ctl list >/dev/null; then
        answered=$((answered + 1))
        grep -q '^done' "$out" || before=$((before + 1))
    fi
done
wait "$deleter"
echo "list calls answered: $answered, of them before DeleteNamespace answered: $before"
expect_eq "DeleteNamespace answered" "()" "$(head -1 "$out")"
expect_eq "other callers answered while the devices closed" yes "$([[ $before -ge 1 ]] && echo yes)"
# The answer came only once every device was closed: all CIDs free at once.
expect_eq "kernel: CIDs free when DeleteNamespace answered" \
    "$n" "$("$tools/vhost-cid" $(seq "$first" "$last") | grep -c '^OK$')"
expect_eq "no vhost fd left in vsocknsd" 0 "$(vhost_fds)"
expect_eq "leases left" 0 "$($ctl leases --json | grep -c '"close-async"')"

# One release: the CID is free when the call returns, and can be taken again.
expect_eq "acquire .host $first" "$first" "$($ctl acquire --cid "$first" --owner one .host)"
$ctl release .host "$first" || fail "release .host $first"
expect_eq "kernel: $first free when ReleaseLease answered" OK "$("$tools/vhost-cid" "$first")"
expect_eq "acquire it again" "$first" "$($ctl acquire --cid "$first" --owner again .host)"
$ctl release .host "$first" || fail "release again"

kill "$hand_pid"
wait "$hand_pid"
expect_eq "hand-started vsocknsd exit status" 0 "$?"
finish
