#!/bin/bash
# Runs bench/objects-bench against vsocknsd under systemd: what
# GetManagedObjects, a namespace's Leases property and ListLeases cost with
# 1 namespace and with many, each with the same number of leases. Fails only
# if the benchmark cannot run, never on a number.
#
# Short by default (5 namespaces x 40 leases: what CI runs);
# VSOCKNS_BENCH_FULL=1 (tools/test --suite bench --full): 100 x 100.
. "$(dirname "$0")/../daemon-lib.sh"

if [[ -n ${VSOCKNS_BENCH_FULL:-} ]]; then
    export OBJECTS_BENCH_NAMESPACES=100 OBJECTS_BENCH_LEASES=100 OBJECTS_BENCH_SAMPLES=50
else
    export OBJECTS_BENCH_NAMESPACES=5 OBJECTS_BENCH_LEASES=40 OBJECTS_BENCH_SAMPLES=20
fi
echo "$OBJECTS_BENCH_NAMESPACES namespaces x $OBJECTS_BENCH_LEASES leases," \
     "$OBJECTS_BENCH_SAMPLES samples per figure"
"$VSOCKNS_BUILD_ROOT/bench/objects-bench"
expect_eq "objects-bench exit status" 0 "$?"
expect_eq "namespaces left after the bench" 0 "$($ctl list --json | grep -c '"objb-')"
finish
