#!/bin/bash
# The seed's QEMU examples through vsockns: `vsocknsctl exec` reserves the CID
# before QEMU starts and hands QEMU the vhost-vsock fd (vhostfd=); the kernel
# enforces every lease against QEMUs started by hand.
. "$(dirname "$0")/../daemon-lib.sh"

qemu_args="-S -display none -nodefaults -accel tcg -m 64 -device vhost-vsock-pci,guest-cid={cid},vhostfd={fd}"
create lq-a local
create lq-b local
create lq-g1 global
create lq-g2 global

# exec with cid 42 in two local namespaces at the same time
for ns in lq-a lq-b; do
    $ctl exec "$ns" --cid 42 --owner "vm-$ns" -- qemu-system-x86_64 $qemu_args &
    defer "kill $!"
done
for _ in $(seq 100); do [[ $($ctl leases --json | grep -c '"cid":42') == 2 ]] && break; sleep 0.1; done
expect_eq "leases of CID 42" "lq-a lq-b" "$($ctl leases --json | grep -B1 '"cid":42' | grep -o '"namespace":"[^"]*"' | cut -d'"' -f4 | sort | xargs)"
expect_eq "QEMUs running" 2 "$(pgrep -c -f 'guest-cid=42,vhostfd=3')"
expect_eq "kernel: 42 busy in lq-a" EADDRINUSE "$(cid_probe lq-a 42)"
expect_eq "kernel: 42 busy in lq-b" EADDRINUSE "$(cid_probe lq-b 42)"
expect_eq "kernel: 42 free in the host" OK "$(cid_probe host 42)"

# a second 42 in lq-a fails with CidInUse before QEMU starts
out=$($ctl exec lq-a --cid 42 -- sh -c 'echo QEMU-WOULD-START' 2>&1)
expect_eq "second exec of 42 in lq-a" yes "$([[ $out == *"leased to 'vm-lq-a'"* && $out != *QEMU-WOULD-START* ]] && echo yes)"
expect_error CidInUse AcquireLease lq-a 42 "x" "@a{sv} {}"

# two global namespaces share one space
expect_eq "acquire 50 in lq-g1" 50 "$($ctl acquire --cid 50 lq-g1)"
expect_error CidInUse AcquireLease lq-g2 50 "x" "@a{sv} {}"
expect_error CidInUse AcquireLease .host 50 "x" "@a{sv} {}"

# a QEMU started by hand holds 77 in lq-g1: vsockns says so, auto skips it
expect_eq "hand-started qemu 77 in lq-g1" OK "$(qemu_hold lq-g1 77)"
out=$(call AcquireLease lq-g1 77 x "@a{sv} {}")
expect_eq "AcquireLease 77: held outside vsockns" yes "$([[ $out == *CidInUse*"held outside vsockns"* ]] && echo yes)"
got=()
for i in $(seq 1 80); do got+=("$($ctl acquire --owner "auto-$i" lq-g2)"); done
# lowest first: 3..49, then 51..76, then 78...
expect_eq "80 auto CIDs skip 50 and 77" "3 49 51 76 78 84" "${got[0]} ${got[46]} ${got[47]} ${got[72]} ${got[73]} ${got[79]}"
expect_eq "77 not among them" no "$(printf '%s\n' "${got[@]}" | grep_q -x 77 && echo yes || echo no)"

# while a lease is held, a hand-started QEMU with that CID fails; after release it works
expect_eq "hand-started qemu 3 in lq-g1 while leased" EADDRINUSE "$(qemu_hold lq-g1 3)"
$ctl release lq-g2 3 >/dev/null
expect_eq "after release" OK "$(qemu_hold lq-g1 3)"

# the lease ends when the COMMAND of exec exits
$ctl exec lq-a --cid 43 -- true
for _ in $(seq 50); do [[ -z $($ctl leases --json lq-a | grep '"cid":43') ]] && break; sleep 0.1; done
expect_eq "lease 43 gone after its command exited" "" "$($ctl leases --json lq-a | grep '"cid":43')"
expect_eq "kernel: 43 free again in lq-a" OK "$(cid_probe lq-a 43)"
# BindPID: the lease ends with that process.
sleep 1000 &
sleeper=$!
out=$(call AcquireLease lq-b 0 bound-to-sleep "{'BindPID': <uint32 $sleeper>}")
cid=$(echo "$out" | grep -o 'uint32 [0-9]*' | cut -d' ' -f2)
expect_eq "BindPID lease listed" yes "$($ctl leases lq-b | grep_q bound-to-sleep && echo yes)"
kill "$sleeper"; wait "$sleeper" 2>/dev/null
for _ in $(seq 50); do $ctl leases lq-b | grep_q bound-to-sleep || break; sleep 0.1; done
expect_eq "BindPID lease ended with its process" no "$($ctl leases lq-b | grep_q bound-to-sleep && echo yes || echo no)"
expect_eq "kernel: its CID free again" OK "$(cid_probe lq-b "$cid")"
expect_eq "exec passes LISTEN_FDNAMES" "vhost-vsock 1" "$($ctl exec lq-b -- sh -c 'echo $LISTEN_FDNAMES $LISTEN_FDS')"
finish
