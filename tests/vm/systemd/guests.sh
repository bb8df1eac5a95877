#!/bin/bash
# Real guests end to end: nested (L2) guests, each the VM's own Debian
# kernel with a busybox initramfs (kernel/build-guest), started through
# `vsocknsctl exec` with the lease's vhost-vsock fd (TCG inside the TCG VM).
# Every guest answers on port 1234 with its identity (the firmware config
# file opt/vsockns/id QEMU gives it) and, asked "dial PORT", connects to the
# host (CID 2) and reports the answer or the exact errno.
#
# One guest boots (three minutes of the VM's one emulated CPU); the others
# are that guest's snapshot restored by a new QEMU with its own lease, CID
# and identity (seconds). A restored guest learns its CID from the
# transport reset QEMU's vhost-vsock sends after a restore, as a migrated
# guest does, and the test asks it for that CID.
. "$(dirname "$0")/../daemon-lib.sh"

: "${VSOCKNS_GUEST_KERNEL:?set by vm-batch (kernel/build-guest)}" "${VSOCKNS_GUEST_INITRD:?set by vm-batch}"
port=1234
logdir=$(mktemp -d /tmp/guests.XXXXXX)
declare -A guest_pid

# errno_of TEXT: the errno name of socat's connect error in TEXT.
errno_of() {
    case $1 in
        *"No such device"*) echo ENODEV ;;
        *"Connection reset by peer"*) echo ECONNRESET ;;
        *"Connection refused"*) echo ECONNREFUSED ;;
        *"Connection timed out"*) echo ETIMEDOUT ;;
        *"No route to host"*) echo EHOSTUNREACH ;;
        *"Network is unreachable"*) echo ENETUNREACH ;;
        *"Cannot assign requested address"*) echo EADDRNOTAVAIL ;;
        *) echo "unexpected: $1" ;;
    esac
}

# ask NS CID REQUEST: the guest's one-line answer, or the connect's errno.
# socat waits up to 30 s for the answer after sending the request (-t; its
# default of 0.5 s is shorter than a guest's dial to the host takes here).
ask() {
    local out
    out=$(echo "$3" | in_ns "$1" timeout 60 socat -t30 -T30 - "VSOCK-CONNECT:$2:$port" 2>&1)
    if [[ $out == *" E connect("* ]]; then errno_of "$out"; else echo "$out"; fi
}

snap=$logdir/guest.state # the booted guest's snapshot (QEMU's migration stream)

# start_guest NS CID ID [restore]: a guest named ID in NS through vsocknsctl
# exec; with "restore", the snapshot taken by snapshot_guest restored. The
# machine is the same for all (a restore needs it so); only the identity in
# the firmware config and the monitor socket differ. The identity is padded
# to 32 bytes: a restored guest's kernel keeps the file size it saw at boot.
start_guest() {
    local ns=$1 cid=$2 id=$3 incoming=()
    [[ ${4:-} == restore ]] && incoming=(-incoming "exec:cat $snap")
    $ctl exec "$ns" --cid "$cid" --owner "guest-$id" -- \
        qemu-system-x86_64 -accel tcg -m 128 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
        -serial "file:$logdir/$id.console" -kernel "$VSOCKNS_GUEST_KERNEL" -initrd "$VSOCKNS_GUEST_INITRD" \
        -append "console=ttyS0 quiet loglevel=0 panic=-1 vsockns.port=$port" \
        -fw_cfg "name=opt/vsockns/id,string=$(printf '%-32s' "$id")" -qmp "unix:$logdir/$id.qmp,server=on,wait=off" \
        "${incoming[@]}" \
        -device 'vhost-vsock-pci,guest-cid={cid},vhostfd={fd}' >"$logdir/$id.out" 2>&1 &
    guest_pid[$id]=$!
    defer "kill -9 ${guest_pid[$id]}"
}

# guest_alive ID: fails the test (and ends it) if guest ID's QEMU is gone.
guest_alive() {
    kill -0 "${guest_pid[$1]}" 2>/dev/null && return 0
    fail "guest $1: QEMU exited: $(cat "$logdir/$1.out" "$logdir/$1.console" 2>/dev/null)"
    finish
}

# wait_guest ID: until the booted guest prints VSOCK-GUEST-READY (a line
# every 20 s meanwhile); prints how long it took.
wait_guest() {
    local id=$1 start=$SECONDS next=20
    until grep -q "VSOCK-GUEST-READY $id" "$logdir/$id.console" 2>/dev/null; do
        guest_alive "$id"
        if (( SECONDS - start >= next )); then echo "guest $id: booting, $((SECONDS - start)) s"; next=$((next + 20)); fi
        sleep 2
    done
    pass "guest $id listens after $((SECONDS - start)) s"
}

# qmp ID COMMAND...: sends each QMP command (JSON) to guest ID's QEMU in
# turn, each once the one before is answered; prints the last answer
# (nothing if the monitor is not there yet).
# A subshell: a monitor gone mid-way (SIGPIPE, a coproc already reaped)
# ends it, not the test.
qmp() (
    trap '' PIPE
    local id=$1 cmd reply=
    shift
    [[ -S $logdir/$id.qmp ]] || return 0
    coproc QMP { exec socat - "UNIX-CONNECT:$logdir/$id.qmp" 2>/dev/null; }
    local in=${QMP[0]:-} out=${QMP[1]:-} qpid=${QMP_PID:-}
    [[ -n $in && -n $out ]] || return 0 # socat has already given up
    read -r -t 60 reply 2>/dev/null <&"$in" # the greeting
    for cmd in '{"execute":"qmp_capabilities"}' "$@"; do
        echo "$cmd" 2>/dev/null >&"$out" || break
        reply=
        # Events ({"event": ...}) may come before the answer.
        while read -r -t 60 reply 2>/dev/null <&"$in"; do
            reply=${reply%$'\r'} # QMP ends its lines with CRLF
            [[ $reply == *'"return"'* || $reply == *'"error"'* ]] && break
        done
    done
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
    echo "$reply"
)

# snapshot_guest ID: guest ID's state into $snap (QEMU stopped for it, then
# resumed; written aside and renamed once complete); prints how long it took.
snapshot_guest() {
    local id=$1 start=$SECONDS r=
    qmp "$id" '{"execute":"stop"}' >/dev/null
    r=$(qmp "$id" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat >$snap.part && mv $snap.part $snap\"}}")
    [[ $r == *'"return"'* ]] || { fail "guest $id: migrate refused: $r"; finish; }
    until [[ $r == *'"status": "completed"'* && -e $snap ]]; do
        guest_alive "$id"
        [[ $r == *'"status": "failed"'* || $r == *'"status": "cancelled"'* ]] && { fail "guest $id: snapshot $r"; finish; }
        (( SECONDS - start < 300 )) || { fail "guest $id: no snapshot after 300 s: '$r'"; finish; }
        sleep 1
        r=$(qmp "$id" '{"execute":"query-migrate"}')
    done
    r=$(qmp "$id" '{"execute":"cont"}')
    expect_eq "guest $id: snapshot taken ($(( $(stat -c %s "$snap") >> 20 )) MiB in $((SECONDS - start)) s), running again" \
        '{"return": {}}' "$r"
}

# wait_restored NS CID ID: until the guest restored as ID runs (it comes up
# paused, as its snapshot was taken, and is resumed) and answers in NS on
# CID with its identity; prints how long it took.
wait_restored() {
    local ns=$1 cid=$2 id=$3 start=$SECONDS next=20 got= status=
    until [[ $status == *'"running": true'* ]]; do
        guest_alive "$id"
        (( SECONDS - start < 300 )) || { fail "guest $id: not running 300 s after its restore: $status"; finish; }
        sleep 1
        status=$(qmp "$id" '{"execute":"query-status"}')
        # "inmigrate" while the snapshot loads, then "paused".
        [[ $status == *'"status": "paused"'* ]] && qmp "$id" '{"execute":"cont"}' >/dev/null
    done
    until [[ $got == "$id" ]]; do
        guest_alive "$id"
        (( SECONDS - start < 300 )) || { fail "guest $id: restored, but no answer on $cid in $ns: '$got'"; finish; }
        if (( SECONDS - start >= next )); then echo "guest $id: restored, no answer yet, $((SECONDS - start)) s"; next=$((next + 20)); fi
        sleep 1
        got=$(echo id | in_ns "$ns" timeout 20 socat -t10 - "VSOCK-CONNECT:$cid:$port" 2>/dev/null)
    done
    pass "guest $id restored, answers after $((SECONDS - start)) s"
}

# host_listener NS PORT: answers "host-listener NS" to whoever connects and
# keeps what the peer sent in $logdir/heard-NS-PORT.
host_listener() {
    local ns=$1 p=$2
    in_ns "$ns" socat "VSOCK-LISTEN:$p,fork,reuseaddr" \
        "SYSTEM:'read -r line; echo \"\$line\" >>$logdir/heard-$ns-$p; echo host-listener $ns'" &
    defer "kill $!"
    wait_listening "$ns" "$p" || fail "listener on port $p in $ns did not come up"
}

# lease_owner NS CID: the owner of NS's lease of CID ("" if none).
lease_owner() { $ctl leases "$1" | awk -v c="$2" 'NR > 1 && $2 == c { print $NF }'; }

# A connect from a local namespace with g2h_fallback=1 to a CID nobody holds
# in its space goes to the guest-to-host transport: ENODEV when none is
# loaded, ENETUNREACH when virtio's is (local namespaces may not use it).
# Debian unstable's userland loads it at boot (systemd 262's
# systemd-ssh-generator binds AF_VSOCK in a VM), Debian 12's does not.
# Global namespaces and g2h_fallback=0 get ENODEV either way.
if [[ -d /sys/module/vmw_vsock_virtio_transport ]]; then local_unheld=ENETUNREACH; else local_unheld=ENODEV; fi
echo "guest-to-host transport loaded: $([[ $local_unheld == ENETUNREACH ]] && echo yes || echo no)"

create gt1 local
create gt2 local
create gt3 local "{'G2HFallback': <false>}"
create gg1 global
create gg2 global

# --- CID reuse with live guests: 42 in gt1 and in gt2 at the same time.
start_guest gt1 42 t1-guest
wait_guest t1-guest
snapshot_guest t1-guest
start_guest gt2 42 t2-guest restore
wait_restored gt2 42 t2-guest
expect_eq "lease 42 in gt1" guest-t1-guest "$(lease_owner gt1 42)"
expect_eq "lease 42 in gt2" guest-t2-guest "$(lease_owner gt2 42)"
expect_eq "gt1 -> 42 reaches t1's guest" t1-guest "$(ask gt1 42 id)"
expect_eq "gt2 -> 42 reaches t2's guest" t2-guest "$(ask gt2 42 id)"
expect_eq "t1's guest sees itself as CID 42" 42 "$(ask gt1 42 cid)"
expect_eq "host netns -> 42 (g2h_fallback=1)" ENODEV "$(ask host 42 id)"
expect_eq "gt3 -> 42 (local, G2HFallback=false)" ENODEV "$(ask gt3 42 id)"
expect_eq "gg1 -> 42 (global)" ENODEV "$(ask gg1 42 id)"

# --- Guest to host: CID 2 from a guest is its own namespace.
host_listener gt1 5000
host_listener gt2 5000
host_listener host 5000
host_listener host 5001
host_listener gt2 5001
expect_eq "t1's guest dials 5000" "dial ok host-listener gt1" "$(ask gt1 42 'dial 5000')"
expect_eq "t2's guest dials 5000" "dial ok host-listener gt2" "$(ask gt2 42 'dial 5000')"
expect_eq "gt1's listener heard t1's guest only" t1-guest "$(cat "$logdir/heard-gt1-5000" 2>/dev/null | xargs)"
expect_eq "gt2's listener heard t2's guest only" t2-guest "$(cat "$logdir/heard-gt2-5000" 2>/dev/null | xargs)"
expect_eq "the host's listener heard nobody" "" "$(cat "$logdir/heard-host-5000" 2>/dev/null)"
# 5001 listens in the host netns and in gt2, not in gt1.
expect_eq "t1's guest dials 5001 (no listener in gt1)" "dial error ECONNRESET" "$(ask gt1 42 'dial 5001')"
expect_eq "neither 5001 listener heard t1's guest" "" "$(cat "$logdir"/heard-*-5001 2>/dev/null)"

# --- Lease end: kill -9 t1's QEMU; its exec-bound lease ends and 42 is free.
kill -9 "${guest_pid[t1-guest]}"
wait "${guest_pid[t1-guest]}" 2>/dev/null
for _ in $(seq 50); do [[ -z $(lease_owner gt1 42) ]] && break; sleep 0.1; done
expect_eq "lease 42 in gt1 after its QEMU was killed" "" "$(lease_owner gt1 42)"
expect_eq "acquire 42 in gt1 at once" 42 "$($ctl acquire --cid 42 --owner after-t1 gt1 2>&1)"
expect_eq "kernel: 42 busy in gt1 again (the new lease)" EADDRINUSE "$(cid_probe gt1 42)"
$ctl release gt1 42 >/dev/null
expect_eq "kernel: 42 free in gt1 once released" OK "$(cid_probe gt1 42)"
expect_eq "gt1 -> 42 with no guest" "$local_unheld" "$(ask gt1 42 id)"
expect_eq "t2's guest still answers" t2-guest "$(ask gt2 42 id)"
kill -9 "${guest_pid[t2-guest]}"
wait "${guest_pid[t2-guest]}" 2>/dev/null

# --- Global guest with an automatic CID: reachable from the host and from
# another global namespace, not from a local one.
start_guest gg1 auto g-guest restore
for _ in $(seq 300); do
    gcid=$($ctl leases gg1 | awk '$NF == "guest-g-guest" { print $2 }')
    [[ -n $gcid ]] && break
    guest_alive g-guest
    sleep 0.1
done
[[ -n $gcid ]] || { fail "g-guest: no lease in gg1 30 s after vsocknsctl exec"; finish; }
echo "g-guest got CID $gcid"
expect_eq "g-guest has an automatic CID" yes "$([[ $gcid =~ ^[0-9]+$ && $gcid -ge 3 ]] && echo yes)"
wait_restored host "$gcid" g-guest
expect_eq "g-guest (restored from a guest of CID 42) sees itself as CID $gcid" "$gcid" "$(ask host "$gcid" cid)"
expect_eq "host netns -> g-guest" g-guest "$(ask host "$gcid" id)"
expect_eq "gg2 -> g-guest" g-guest "$(ask gg2 "$gcid" id)"
expect_eq "gg1 -> g-guest" g-guest "$(ask gg1 "$gcid" id)"
expect_eq "gt1 (local) -> g-guest" "$local_unheld" "$(ask gt1 "$gcid" id)"
expect_eq "gt3 (local, G2HFallback=false) -> g-guest" ENODEV "$(ask gt3 "$gcid" id)"
host_listener host 5002
expect_eq "g-guest dials 5002 (listener in the host netns)" "dial ok host-listener host" "$(ask host "$gcid" 'dial 5002')"
expect_eq "g-guest dials 5000 (listeners only in gt1, gt2)" "dial ok host-listener host" "$(ask host "$gcid" 'dial 5000')"
finish
