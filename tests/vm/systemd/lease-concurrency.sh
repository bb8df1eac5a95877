#!/bin/bash
# 8 clients x 100 automatic acquisitions in one local namespace: 800
# distinct CIDs, each confirmed held by the kernel with a separate program.
. "$(dirname "$0")/../daemon-lib.sh"

create lc-a local
dir=$(mktemp -d)
for c in $(seq 1 8); do
    (for i in $(seq 1 100); do $ctl acquire --owner "c$c-$i" lc-a || echo FAIL; done >"$dir/$c") &
done
wait
expect_eq "failed acquisitions" 0 "$(cat "$dir"/* | grep -c FAIL)"
expect_eq "CIDs handed out" 800 "$(cat "$dir"/* | wc -l)"
expect_eq "distinct CIDs" 800 "$(cat "$dir"/* | sort -u | wc -l)"
expect_eq "leases listed" 800 "$($ctl leases --json lc-a | grep -c '"cid"')"
expect_eq "CIDs the kernel confirms held" 800 \
    "$(in_ns lc-a "$tools/vhost-cid" $(cat "$dir"/*) | grep -c '^EADDRINUSE$')"
expect_eq "same CIDs free in the host space" OK "$(cid_probe host "$(head -n1 "$dir/1")")"
finish
