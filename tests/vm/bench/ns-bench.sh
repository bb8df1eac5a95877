#!/bin/bash
# Runs bench/ns-bench against vsocknsd under systemd: vsocknsctl create /
# delete against ip netns add / del, and CreateNamespace from one client
# against an unshare + bind-mount floor, with CPU time per operation. Fails
# only if the benchmark cannot run, never on a number.
#
# Short by default (20 of each: what CI runs); VSOCKNS_BENCH_FULL=1
# (tools/test --suite bench --full): 200.
. "$(dirname "$0")/../daemon-lib.sh"

if [[ -n ${VSOCKNS_BENCH_FULL:-} ]]; then
    export NS_BENCH_COUNT=200
else
    export NS_BENCH_COUNT=20
fi
# The bench asks the bus for vsocknsd's pid before its first call: start it
# if no earlier test of the boot has.
systemctl start vsocknsd || { echo "cannot start vsocknsd"; exit 1; }
"$VSOCKNS_BUILD_ROOT/bench/ns-bench" "$ctl"
expect_eq "ns-bench exit status" 0 "$?"
expect_eq "namespaces left after the bench" 0 "$($ctl list --json | grep -c '"nsb-')"
expect_eq "ip netns entries left after the bench" 0 "$(ip netns list | grep -c '^nsb-')"
finish
