#!/bin/bash
# Runs bench/lease-bench in a local namespace managed by vsocknsd and prints
# its figures: once with vsocknsd under systemd (every reserved fd also goes
# to the fd store, in vaults that systemd keeps), once with vsocknsd started
# by hand (no fd store), to tell vsocknsd's own costs from the fd store's.
# lease-bench ends by deleting the namespace with all its leases. Fails only
# if the benchmark cannot run, never on a number.
#
# Short by default (1,000 leases, 40 samples per figure: what CI runs);
# VSOCKNS_BENCH_FULL=1 (tools/test --suite bench --full) fills 10,000 leases
# with 300 samples per figure.
step_start=$SECONDS
. "$(dirname "$0")/../daemon-lib.sh"
# step WHAT: a timestamped line, so the log shows where the time goes.
step() { echo "[$((SECONDS - step_start)) s] $*"; }
step "daemon installed"

if [[ -n ${VSOCKNS_BENCH_FULL:-} ]]; then
    export LEASE_BENCH_FILL=10000 LEASE_BENCH_SAMPLES=300
    echo "full mode: $LEASE_BENCH_FILL leases, $LEASE_BENCH_SAMPLES samples per figure"
else
    export LEASE_BENCH_FILL=1000 LEASE_BENCH_SAMPLES=40
    echo "short mode: $LEASE_BENCH_FILL leases, $LEASE_BENCH_SAMPLES samples per figure" \
         "(tools/test --suite bench --full for 10,000)"
fi

create bench-ns local
step "== vsocknsd under systemd (fd store)"
in_ns bench-ns "$VSOCKNS_BUILD_ROOT/bench/lease-bench" bench-ns
expect_eq "lease-bench exit status (systemd)" 0 "$?"
# lease-bench ends by deleting its namespace with every lease.
expect_eq "the namespace and its leases are gone" 0 "$($ctl leases --json | grep -c '"bench-ns"')"
expect_eq "PID 1's fd store is empty again" 0 "$(systemctl show -P NFileDescriptorStore vsocknsd)"
# The bench is alone in its VM batch and the VM ends with it: the unit is
# not started again afterwards (it would re-adopt and drop the hand-started
# daemon's leases one by one, for nothing).
expect_eq "systemd's vsocknsd stopped" yes "$(stop_vsocknsd_unit && echo yes)"
step "systemd's vsocknsd stopped"
start_vsocknsd_by_hand /tmp/vsocknsd.log || exit 1
create bench-ns2 local
echo
step "== vsocknsd started by hand (no fd store)"
in_ns bench-ns2 "$VSOCKNS_BUILD_ROOT/bench/lease-bench" bench-ns2
expect_eq "lease-bench exit status (by hand)" 0 "$?"
expect_eq "the namespace and its leases are gone (by hand)" 0 "$($ctl leases --json | grep -c '"bench-ns2"')"
kill "$hand_pid"
cleanup_cmds=()
step "done"
finish
