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

# Stopping the unit flushes the fd store: every CID of the first run is free.
systemctl stop vsocknsd
expect_eq "systemd's vsocknsd stopped" inactive "$(systemctl is-active vsocknsd)"
/usr/libexec/vsocknsd >/tmp/vsocknsd.log 2>&1 &
daemon=$!
defer "kill $daemon"
for _ in $(seq 100); do busctl status org.vsockns1 >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "the bus name belongs to the hand-started vsocknsd" "$daemon" \
    "$(busctl status org.vsockns1 | awk -F= '$1 == "PID" { print $2 }')"
create bench-ns2 local
echo
echo "== vsocknsd started by hand (no fd store)"
in_ns bench-ns2 "$VSOCKNS_BUILD_ROOT/bench/lease-bench" bench-ns2
expect_eq "lease-bench exit status (by hand)" 0 "$?"
finish
