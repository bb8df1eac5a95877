#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every method and property of vsocknsd, called with hostile input by
# bus-fuzz (wrong types, 1 MiB strings, 16 fds, unknown keys, nested
# variants, random values), on a private bus: the daemon stays up, its
# state files parse, its fds and RSS return to baseline, and it still
# exits cleanly. The calls run as root, so they pass polkit and really act:
# systemd's unit directories are a scratch tmpfs here.
. "$(dirname "$0")/private-bus.sh"

for d in /etc/systemd/system /run/systemd/system; do
    mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done
start_daemon
calls=${VSOCKNS_BUS_FUZZ_CALLS:-3000}
rss_check=()
if ldd "$VSOCKNS_BUILD_ROOT/src/vsocknsd" | grep_q libasan; then
    echo "ASan build: its quarantine keeps freed memory, so RSS is not compared (fds still are)"
    rss_check=(--no-rss-check)
fi
out=$("$VSOCKNS_BUILD_ROOT/tests/integration/bus-fuzz" --pid "$daemon_pid" --calls "$calls" \
    --seed "${VSOCKNS_BUS_FUZZ_SEED:-1}" "${rss_check[@]}" 2>&1)
rc=$?
echo "$out"
expect_eq "bus-fuzz: daemon up, state valid, fds and RSS back to baseline" 0 "$rc"
expect_eq "vsocknsd still serves" yes "$($ctl status >/dev/null && echo yes)"
stop_daemon
finish
