#!/bin/bash
# vsocknsd when the machine runs short: /dev/vhost-vsock missing, the fd
# limit reached part-way, lease records on a full 1 MiB tmpfs. Each request
# that cannot be done fails with a named error and keeps nothing (no lease,
# no CID held, no pin); what was granted before stays; everything works
# again once the resource is back, and after a restart nothing granted is
# lost.
. "$(dirname "$0")/../daemon-lib.sh"

create rs1 local
leases_of() { $ctl leases "$1" | awk -v ns="$1" '$1 == ns { print $2 }' | sort -n | xargs; }
expect_eq "a lease before" 10 "$($ctl acquire --cid 10 rs1)"

# /dev/vhost-vsock missing: reserved leases are NotSupported, advisory ones work.
mv /dev/vhost-vsock /dev/vhost-vsock.away
defer "mv /dev/vhost-vsock.away /dev/vhost-vsock"
out=$(call AcquireLease rs1 11 x "@a{sv} {}")
expect_eq "no device: NotSupported, says so" yes "$([[ $out == *NotSupported*"no /dev/vhost-vsock"* ]] && echo yes)"
expect_eq "no device: advisory still works" 12 "$($ctl acquire --no-reserve --cid 12 rs1)"
expect_eq "no device: leases" "10 12" "$(leases_of rs1)"
mv /dev/vhost-vsock.away /dev/vhost-vsock
expect_eq "device back: reserve works" 11 "$($ctl acquire --cid 11 rs1)"
expect_eq "device back: 10 still held" EADDRINUSE "$(cid_probe rs1 10)"

# The fd limit reached part-way: the soft limit just above what it has open.
pid=$(systemctl show -P MainPID vsocknsd)
limit=$(prlimit --pid "$pid" --nofile --output SOFT,HARD --noheadings)
open_now=$(ls /proc/"$pid"/fd | wc -l)
prlimit --pid "$pid" --nofile=$((open_now + 1)):"${limit##* }"
got=()
for c in 20 21 22 23; do
    raw=$(call AcquireLease rs1 $c x "{'HandOut': <false>}" 2>&1)
    echo "at the fd limit, CID $c: $raw"
    got+=("$(grep -o 'org.vsockns1.Error.[A-Za-z]*\|uint32 [0-9]*' <<<"$raw" | head -1)")
done
echo "at the fd limit: ${got[*]}"
expect_eq "at the fd limit: the last acquire fails with a named error" yes \
    "$([[ ${got[3]} == org.vsockns1.Error.* ]] && echo yes)"
out=$(call CreateNamespace rs-nofd local "@a{sv} {}")
expect_eq "at the fd limit: create fails, named" yes "$([[ $out == *org.vsockns1.Error.* ]] && echo yes)"
expect_eq "  and leaves no pin" "" "$(ls /run/netns | grep -x rs-nofd)"
for c in 20 21 22 23; do
    if $ctl leases rs1 | awk '{ print $2 }' | grep_q -x $c; then
        [[ $(cid_probe rs1 $c) == EADDRINUSE ]] || fail "lease $c granted at the limit is not held"
    else
        [[ $(cid_probe rs1 $c) == OK ]] || fail "CID $c refused at the limit is held by nobody"
    fi
done
prlimit --pid "$pid" --nofile="${limit// /:}"
expect_eq "limit back: acquire works" 30 "$($ctl acquire --cid 30 rs1)"
expect_eq "limit back: create works" yes "$($ctl create rs-nofd >/dev/null && echo yes)"
$ctl delete rs-nofd >/dev/null
expect_eq "the daemon never restarted" "$pid" "$(systemctl show -P MainPID vsocknsd)"

# The lease records under /run/vsockns on a full 1 MiB tmpfs (the records
# there copied onto it first, so nothing is hidden).
granted=$(xargs <<<"10 11 12 $(tr ' ' '\n' <<<"${got[*]}" | awk '/uint32/ { print $2 }') 30")
keep=$(mktemp -d)
cp -a /run/vsockns/leases/. "$keep/"
mount -t tmpfs -o size=1M,mode=0700 tmpfs /run/vsockns/leases
cp -a "$keep/." /run/vsockns/leases/
dd if=/dev/zero of=/run/vsockns/leases/filler bs=4k 2>/dev/null
before=$(leases_of rs1)
out=$(call AcquireLease rs1 40 x "{'HandOut': <false>}")
expect_eq "full state dir: acquire refused, says why" yes "$([[ $out == *"Cannot record the lease"*"No space left"* ]] && echo yes || echo "no: $out")"
expect_eq "  CID 40 not held" OK "$(cid_probe rs1 40)"
expect_eq "  leases unchanged" "$before" "$(leases_of rs1)"
rm /run/vsockns/leases/filler
expect_eq "space back: acquire works" 40 "$($ctl acquire --cid 40 rs1)"
kill9_and_wait_restart || fail "vsocknsd did not come back"
expect_eq "after a restart nothing granted is lost" "$granted 40" "$(leases_of rs1)"
# Back onto the real directory (a restart by kill -9 keeps the fd store; a
# clean stop would empty it).
rm -rf "$keep"/*
cp -a /run/vsockns/leases/. "$keep/"
umount /run/vsockns/leases
rm -f /run/vsockns/leases/*.json
cp -a "$keep/." /run/vsockns/leases/
rm -rf "$keep"
kill9_and_wait_restart || fail "vsocknsd did not come back"
expect_eq "records back on /run: leases" "$granted 40" "$(leases_of rs1)"
finish
