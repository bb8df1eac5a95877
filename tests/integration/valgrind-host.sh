#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vsocknsd under valgrind memcheck on a private bus, through a scenario that
# touches most of its code a host kernel allows: namespaces created, nested
# lookups, advisory leases, bad input of every kind, a round of bus-fuzz, a
# restart that re-adopts the state. Each run of the daemon must end with
# 0 errors and 0 bytes definitely lost.
. "$(dirname "$0")/private-bus.sh"

# valgrind cannot run a program built with ASan (the sanitizers suite runs
# this script too): there, the sanitizers are the memory check.
if ldd "$VSOCKNS_BUILD_ROOT/src/vsocknsd" | grep_q libasan; then
    echo "SKIP: vsocknsd is built with ASan, which valgrind cannot run; ASan/LSan check it in this build"
    exit 77
fi
for d in /etc/systemd/system /run/systemd/system; do
    mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done
# Forked helpers are checked by their parent's run, not on their own.
daemon_wrapper=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
                --child-silent-after-fork=yes --log-file="$bus/valgrind.%p.log")

# summary: valgrind's verdict on the run that just ended, "ERRORS LOST" for
# a clean one (0 errors; definitely lost 0 bytes, or no leak possible).
summary() {
    local log
    log=$(cat "$bus"/valgrind.*.log 2>/dev/null)
    rm -f "$bus"/valgrind.*.log
    grep -E "ERROR SUMMARY|definitely lost|no leaks are possible" <<<"$log" | sed 's/^==[0-9]*== //' >&2
    local errors=no lost=no
    grep -q "ERROR SUMMARY: 0 errors" <<<"$log" && errors=ERRORS
    grep -qE "definitely lost: 0 bytes|no leaks are possible" <<<"$log" && lost=LOST
    [[ $errors == ERRORS && $lost == LOST ]] || grep -vE "unhandled ioctl|spurious value errors|README_MISSING" <<<"$log" | head -60 >&2
    echo "$errors $lost"
}

start_daemon
create vg1 global
create vg2 global
$ctl acquire --no-reserve --cid 42 --owner vg vg1 >/dev/null
$ctl acquire --no-reserve --owner vg-auto .host >/dev/null
expect_error NoSuchNamespace AcquireLease nope 0 x "@a{sv} {}"
expect_error InvalidName CreateNamespace "a/b" global "@a{sv} {}"
expect_error InvalidOption CreateNamespace vgx global "{'Bogus': <1>}"
expect_error InvalidCid AcquireLease vg1 2 x "{'Reserve': <false>}"
$ctl list --json >/dev/null
$ctl leases >/dev/null
"$VSOCKNS_BUILD_ROOT/tests/integration/bus-fuzz" --pid "$daemon_pid" --calls 300 --no-rss-check ||
    fail "bus-fuzz under valgrind"
stop_daemon
out=$(summary)
expect_eq "first run: 0 valgrind errors, 0 bytes definitely lost" "ERRORS LOST" "$out"

# A restart re-adopts the namespaces and leases from the state files.
start_daemon
expect_eq "re-adopted" "vg1 vg2" "$($ctl list --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | xargs)"
expect_eq "advisory lease kept" yes "$($ctl leases vg1 | grep_q ' 42 ' && echo yes)"
$ctl release vg1 42 >/dev/null
$ctl delete --force vg1 >/dev/null
$ctl delete --force vg2 >/dev/null
stop_daemon
out=$(summary)
expect_eq "second run: 0 valgrind errors, 0 bytes definitely lost" "ERRORS LOST" "$out"
finish
