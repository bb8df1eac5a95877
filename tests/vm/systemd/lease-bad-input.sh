#!/bin/bash
# Bad lease requests get a named error and record nothing.
. "$(dirname "$0")/../daemon-lib.sh"

create lb-a local
before=$($ctl leases --json; ls /run/vsockns/leases 2>/dev/null)
for cid in 1 2 4294967295; do
    expect_error InvalidCid AcquireLease lb-a "$cid" "x" "@a{sv} {}"
done
expect_error NoSuchNamespace AcquireLease lb-nope 0 "x" "@a{sv} {}"
expect_error InvalidOwner AcquireLease lb-a 0 $'vm\x01' "@a{sv} {}"
expect_error InvalidOwner AcquireLease lb-a 0 "$(printf 'o%.0s' {1..256})" "@a{sv} {}"
# C1 controls and bidirectional overrides (a label that reads as another).
expect_error InvalidOwner AcquireLease lb-a 0 $'vm\u0085x' "@a{sv} {}"
expect_error InvalidOwner AcquireLease lb-a 0 $'evil\u202egpj.exe' "@a{sv} {}"
expect_error InvalidOwner AcquireLease lb-a 0 $'\u2066tenant1' "@a{sv} {}"
$ctl acquire --owner $'vm\u202ex' lb-a >/dev/null 2>&1
expect_eq "vsocknsctl acquire with a bidi owner: exit status" 1 "$?"
expect_error InvalidOption AcquireLease lb-a 0 "x" "{'Strategy': <'fastest'>}"
expect_error InvalidOption AcquireLease lb-a 0 "x" "{'Strategy': <3>}"
expect_error InvalidOption AcquireLease lb-a 0 "x" "{'Reserve': <'yes'>}"
expect_error InvalidOption AcquireLease lb-a 0 "x" "{'Colour': <'red'>}"
expect_error InvalidOption AcquireLease lb-a 0 "x" "{'Reserve': <true>, 'Reserve': <true>}"
expect_error InvalidOption AcquireLease lb-a 0 "x" "{'BindPID': <uint32 999999>}"
expect_error NoSuchLease ReleaseLease lb-a 77
expect_error NoSuchNamespace ReleaseLease lb-nope 77
expect_eq "nothing recorded" "$before" "$($ctl leases --json; ls /run/vsockns/leases 2>/dev/null)"
expect_eq "255-byte owner accepted" 3 "$($ctl acquire --owner "$(printf 'o%.0s' {1..255})" lb-a)"
expect_eq "stable strategy: same owner, same CID" yes "$(
    a=$($ctl acquire --strategy stable --owner vm-stable lb-a); $ctl release lb-a "$a" >/dev/null
    b=$($ctl acquire --strategy stable --owner vm-stable lb-a); [[ $a == "$b" && $a != 4 ]] && echo yes)"
expect_error NamespaceBusy DeleteNamespace lb-a false
# Text in any script is fine as an owner.
expect_eq "UTF-8 owner accepted" yes "$($ctl acquire --owner $'caf\u00e9-\u65e5\u672c' lb-a >/dev/null && echo yes)"
# The state names callers' uids and pids: 0700 directories, 0600 files.
expect_eq "/run/vsockns and leases/ modes" "700 700" "$(stat -c %a /run/vsockns /run/vsockns/leases | xargs)"
expect_eq "state files that are not 0600" "" \
    "$(find /run/vsockns -name '*.json' ! -perm 0600 -printf '%p %m\n')"
expect_eq "lease files present" yes "$(ls /run/vsockns/leases/*@lb-a.json >/dev/null && echo yes)"
finish
