#!/bin/bash
# Runs bench/lease-bench in a local namespace managed by vsocknsd and prints
# its figures: once with vsocknsd under systemd (every reserved fd also goes
# to the fd store, which systemd keeps), once with vsocknsd started by hand
# (no fd store), to tell vsocknsd's own costs from the fd store's. Fails only
# if the benchmark cannot run, never on a number.
. "$(dirname "$0")/../daemon-lib.sh"

create bench-ns local
echo "== vsocknsd under systemd (fd store)"
in_ns bench-ns "$VSOCKNS_BUILD_ROOT/bench/lease-bench" bench-ns
expect_eq "lease-bench exit status (systemd)" 0 "$?"
expect_eq "leases left after the bench" 10000 "$($ctl leases --json bench-ns | grep -c '"cid"')"

start=$SECONDS
$ctl delete --force bench-ns >/dev/null
echo "deleting a namespace with 10,000 leases: $((SECONDS - start)) s"
expect_eq "systemd's vsocknsd stopped" yes "$(stop_vsocknsd_unit && echo yes)"
defer start_vsocknsd_unit
start_vsocknsd_by_hand /tmp/vsocknsd.log || exit 1
defer "kill $hand_pid"
create bench-ns2 local
echo
echo "== vsocknsd started by hand (no fd store)"
in_ns bench-ns2 "$VSOCKNS_BUILD_ROOT/bench/lease-bench" bench-ns2
expect_eq "lease-bench exit status (by hand)" 0 "$?"
finish
