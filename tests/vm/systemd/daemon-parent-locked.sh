#!/bin/bash
# A parent planted before the daemon starts with child_ns_mode locked to the
# wrong value is never used: local creation fails with ModeLocked saying what
# was found, and nothing is created. Global keeps working.
. "$(dirname "$0")/../daemon-lib.sh"

systemctl stop vsocknsd
umount -l /run/vsockns/parents/local 2>/dev/null
rm -f /run/vsockns/parents/local
mkdir -p /run/vsockns/parents
touch /run/vsockns/parents/local
unshare --net=/run/vsockns/parents/local true || { echo "cannot plant the parent"; exit 1; }
expect_eq "planted parent locked to global" OK \
    "$(nsenter --net=/run/vsockns/parents/local "$tools/vsock-sysctl-write" /proc/sys/net/vsock/child_ns_mode global)"
restore() {
    systemctl stop vsocknsd
    umount -l /run/vsockns/parents/local
    rm -f /run/vsockns/parents/local
    systemctl start vsocknsd
}
defer restore
systemctl start vsocknsd

before=$(world)
expect_error ModeLocked CreateNamespace pl-local local "@a{sv} {}"
out=$(call CreateNamespace pl-local local "@a{sv} {}")
expect_eq "the error says what was found" yes "$([[ $out == *"locked to 'global'"* ]] && echo yes)"
expect_eq "nothing created" "$before" "$(world)"
expect_eq "vsocknsctl status shows the problem" yes \
    "$($ctl status --json | grep_q "\"local_parent\":\"its child_ns_mode is locked to .global." && echo yes)"
expect_eq "planted parent still locked to global" global \
    "$(nsenter --net=/run/vsockns/parents/local cat /proc/sys/net/vsock/child_ns_mode)"
create pl-global global
finish
