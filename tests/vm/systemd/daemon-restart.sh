#!/bin/bash
# A restart (clean, and after kill -9) keeps every namespace and parent:
# same names, same kernel namespaces (inodes), same modes.
. "$(dirname "$0")/../daemon-lib.sh"

create rs-local local
create rs-global global
create rs-nested local "{'Parent': <'rs-local'>}"
snapshot() {
    $ctl list --json | grep -E '"(name|mode|inode|parent)"' | tr -d ' \n'
    stat -c %i /run/vsockns/parents/local /run/vsockns/parents/global | xargs
}
before=$(snapshot)
systemctl stop vsocknsd
expect_eq "clean exit on SIGTERM" "success 0" "$(systemctl show -P Result vsocknsd) $(systemctl show -P ExecMainStatus vsocknsd)"
expect_eq "pins stay while the daemon is stopped" yes "$([[ -e /run/netns/rs-nested ]] && echo yes)"
systemctl start vsocknsd
expect_eq "after stop and start" "$before" "$(snapshot)"
systemctl restart vsocknsd
expect_eq "after systemctl restart" "$before" "$(snapshot)"

expect_eq "restarted by systemd after kill -9" yes "$(kill9_and_wait_restart && echo yes)"
expect_eq "after kill -9" "$before" "$(snapshot)"
expect_eq "mode of rs-nested after restarts" local "$(sysctl_get rs-nested ns_mode)"
# One summary line per start, not one per namespace (1,000 namespaces
# would be 1,000 lines at every start).
expect_eq "journal: re-adopted (the last start)" "Re-adopted 3 namespaces" \
    "$(journalctl -u vsocknsd -b -o cat | grep -E '^Re-adopted [0-9]+ namespaces' | tail -1)"
expect_eq "journal: no line per namespace" 0 "$(journalctl -u vsocknsd -b -o cat | grep -c "Re-adopted namespace 'rs-")"
finish
