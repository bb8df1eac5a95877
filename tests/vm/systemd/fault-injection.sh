#!/bin/bash
# vsocknsd killed with SIGKILL at each of its named failure points (the
# vsocknsd-faults build, shared/fault.h), restarted by systemd, and then
# checked: no orphan placeholder or mount in /run/netns, no lease without its
# CID held in the kernel, no vhost fd held without a lease, state files that
# parse, and the operation that was cut short works when asked again.
. "$(dirname "$0")/../daemon-lib.sh"

use_faults_build

main_pid() { systemctl show -P MainPID vsocknsd; }
# arm POINT CMD...: arms the point, runs CMD (which loses its daemon), waits
# for systemd's restart.
arm() {
    local point=$1 before
    shift
    before=$(main_pid)
    echo "$point" >/run/vsockns-fault
    "$@" >/dev/null 2>&1
    for _ in $(seq 300); do
        local now
        now=$(main_pid)
        [[ $now != 0 && $now != "$before" ]] && systemctl is-active -q vsocknsd &&
            busctl status org.vsockns1 >/dev/null 2>&1 && break
        sleep 0.1
    done
    expect_eq "$point: fired (armed file consumed)" gone "$([[ -e /run/vsockns-fault ]] && echo still-armed || echo gone)"
    expect_eq "$point: the journal names it" yes \
        "$(journalctl -b -u vsocknsd --no-pager | grep_q "Fault point $point reached" && echo yes)"
    expect_eq "$point: restarted" yes "$([[ $(main_pid) != "$before" ]] && echo yes)"
}

# invariants POINT: what must hold after every crash.
invariants() {
    local point=$1 bad=() f name
    for f in /run/netns/*; do
        [[ -e $f ]] || continue
        name=$(basename "$f")
        grep -q " /run/netns/$name " /proc/self/mountinfo || bad+=("orphan placeholder $name")
    done
    local managed pinned
    managed=$($ctl list --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | sort | xargs)
    pinned=$(ls /run/netns | sort | xargs)
    [[ $managed == "$pinned" ]] || bad+=("managed '$managed' vs pinned '$pinned'")
    # reserved leases: each CID held in the kernel; vhost fds == reserved leases
    local ns cid reserved=0
    while read -r ns cid kind; do
        [[ $kind == yes ]] || continue
        reserved=$((reserved + 1))
        [[ $(cid_probe "${ns/.host/host}" "$cid") == EADDRINUSE ]] || bad+=("lease $ns/$cid not held in the kernel")
    done < <($ctl leases | awk 'NR > 1 && $2 ~ /^[0-9]+$/ { print $1, $2, $3 }')
    local fds
    fds=$(find /proc/"$(main_pid)"/fd -lname /dev/vhost-vsock 2>/dev/null | wc -l)
    [[ $fds == "$reserved" ]] || bad+=("vsocknsd holds $fds vhost fds for $reserved reserved leases")
    for f in /run/vsockns/namespaces.json /run/vsockns/leases/*.json; do
        [[ -e $f ]] || continue
        python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null || bad+=("$f does not parse")
    done
    expect_eq "$point: invariants" "" "${bad[*]}"
}

create fi-base local

# Namespace creation, cut after the placeholder and after the bind mount.
arm after-placeholder $ctl create fi-a
invariants after-placeholder
expect_eq "after-placeholder: create again" yes "$($ctl create fi-a >/dev/null && echo yes)"
arm after-bind-mount $ctl create fi-b
invariants after-bind-mount
expect_eq "after-bind-mount: create again (or already there)" yes "$($ctl create --exist-ok fi-b >/dev/null && echo yes)"

# A lease, cut after SET_GUEST_CID, after its state file, after FDSTORE.
cid=50
for point in after-set-guest-cid after-state-write after-fdstore; do
    arm "$point" $ctl acquire --cid $cid fi-base
    invariants "$point"
    # the CID is either leased (held) or free in the kernel, never held by nobody
    if $ctl leases fi-base | awk '{ print $2 }' | grep_q -x $cid; then
        expect_eq "$point: CID $cid kept as a lease, held" EADDRINUSE "$(cid_probe fi-base $cid)"
    else
        expect_eq "$point: CID $cid not leased, so free" OK "$(cid_probe fi-base $cid)"
        expect_eq "$point: acquire again" $cid "$($ctl acquire --cid $cid fi-base)"
    fi
    cid=$((cid + 1))
done

# A release, cut after the new vault (the leases still in the old one) is in
# the fd store and before the old vault is removed: both come back.
for c in 60 61 62; do $ctl acquire --cid $c fi-base >/dev/null; done
arm after-vault-rebuild $ctl release fi-base 61
invariants after-vault-rebuild
expect_eq "after-vault-rebuild: 60 and 62 kept, held" "EADDRINUSE EADDRINUSE" \
    "$(cid_probe fi-base 60) $(cid_probe fi-base 62)"
if $ctl leases fi-base | awk '{ print $2 }' | grep_q -x 61; then
    expect_eq "after-vault-rebuild: 61 still leased, held" EADDRINUSE "$(cid_probe fi-base 61)"
else
    expect_eq "after-vault-rebuild: 61 released, free" OK "$(cid_probe fi-base 61)"
fi

# Deleting a namespace with 6 leases, cut in the middle of the bulk drop.
create fi-bulk local
for c in 3 4 5 6 7 8; do $ctl acquire --cid $c fi-bulk >/dev/null; done
arm bulk-drop-middle $ctl delete --force fi-bulk
invariants bulk-drop-middle
$ctl delete --force fi-bulk >/dev/null 2>&1
expect_eq "bulk-drop-middle: fi-bulk can be deleted (or is gone)" "" "$($ctl list | grep -w fi-bulk)"
invariants final
for n in fi-a fi-b; do $ctl delete --force $n >/dev/null 2>&1; done
finish
