#!/bin/bash
# 8 clients x 30 automatic acquisitions at once in one local namespace
# (x 100 with tools/test --full): all distinct CIDs, each confirmed held
# by the kernel with a separate program.
. "$(dirname "$0")/../daemon-lib.sh"

each=30
[[ -n ${VSOCKNS_BENCH_FULL:-} ]] && each=100
total=$((8 * each))
create lc-a local
dir=$(mktemp -d)
for c in $(seq 1 8); do
    (for i in $(seq 1 "$each"); do $ctl acquire --owner "c$c-$i" lc-a || echo FAIL; done >"$dir/$c") &
done
wait
expect_eq "failed acquisitions" 0 "$(cat "$dir"/* | grep -c FAIL)"
expect_eq "CIDs handed out" "$total" "$(cat "$dir"/* | wc -l)"
expect_eq "distinct CIDs" "$total" "$(cat "$dir"/* | sort -u | wc -l)"
expect_eq "leases listed" "$total" "$($ctl leases --json lc-a | grep -c '"cid"')"
expect_eq "CIDs the kernel confirms held" "$total" \
    "$(in_ns lc-a "$tools/vhost-cid" $(cat "$dir"/*) | grep -c '^EADDRINUSE$')"
expect_eq "same CIDs free in the host space" OK "$(cid_probe host "$(head -n1 "$dir/1")")"
finish
