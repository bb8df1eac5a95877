#!/bin/bash
# The system bus restarted under vsocknsd: it notices, exits with a
# failure, systemd starts it again, and the fd store gives its reserved
# CIDs back: every lease is still there and still held. Last in its batch:
# everything else on the bus restarts too.
. "$(dirname "$0")/../daemon-lib.sh"

create dr1 local
expect_eq "lease 5" 5 "$($ctl acquire --cid 5 dr1)"
expect_eq "lease 6" 6 "$($ctl acquire --cid 6 dr1)"
before=$(systemctl show -P MainPID vsocknsd)
systemctl restart dbus
for _ in $(seq 600); do
    now=$(systemctl show -P MainPID vsocknsd)
    [[ $now != 0 && $now != "$before" ]] && busctl status org.vsockns1 >/dev/null 2>&1 && break
    sleep 0.1
done
expect_eq "vsocknsd restarted after the bus" yes "$([[ $(systemctl show -P MainPID vsocknsd) != "$before" ]] && echo yes)"
# Who ended it depends on the userland: systemd 252 (dbus-daemon) leaves
# it running and vsocknsd notices the bus is gone; systemd 262 (dbus-broker)
# stops it itself when its BusName= goes away (SIGTERM: "vsocknsd
# stopping") and starts it again with the fd store kept. Either way the
# journal says so, and the checks below hold.
journalctl --sync
journal=$(journalctl -b -u vsocknsd --no-pager)
if grep -q "lost the system bus" <<<"$journal"; then
    pass "  and said why (it noticed the bus was gone)"
elif grep -A20 "vsocknsd stopping" <<<"$journal" | grep_q "Got [0-9]* fds back from the fd store"; then
    pass "  and said why (systemd stopped it with its bus name gone; started again with its fd store)"
else
    fail "  and said why: neither 'lost the system bus' nor a stop and fds back in its journal; its last lines:"
    tail -n 15 <<<"$journal"
fi
expect_eq "leases kept" "5 6" "$($ctl leases dr1 | awk '$1 == "dr1" { print $2 }' | sort -n | xargs)"
expect_eq "CID 5 still held" EADDRINUSE "$(cid_probe dr1 5)"
expect_eq "CID 6 still held" EADDRINUSE "$(cid_probe dr1 6)"
expect_eq "a new lease works" 7 "$($ctl acquire --cid 7 dr1)"
finish
