#!/bin/bash
# vsocknsctl check (CheckIsolation) and vsocknsctl sockets (ListSockets,
# vsock_diag): a live proof of each mode's isolation over vsock loopback,
# and per-namespace socket lists that show each namespace only its own.
. "$(dirname "$0")/../daemon-lib.sh"

create il local
create ig global
create in local "{'Parent': <'il'>}"
netns_before=$(ls /run/netns | sort | xargs)

# check_json NS [ARGS]: "PATH:reached ..." from vsocknsctl check --json, then its exit status.
check_json() {
    local ns=$1 rc=0 out
    shift
    out=$($ctl check "$ns" --json "$@") || rc=$?
    echo "$out" | tr -d ' \n' | grep -o '"path":"[a-z-]*"[^}]*"reached":[a-z]*' |
        sed 's/"path":"\([a-z-]*\)".*"reached":\([a-z]*\)/\1:\2/' | xargs
    echo "exit $rc"
}
expect_eq "check il (local)" "inside:true from-host:false from-sibling:false to-host:false exit 0" "$(check_json il | xargs)"
expect_eq "check ig (global)" "inside:true from-host:true from-sibling:true to-host:true exit 0" "$(check_json ig | xargs)"
expect_eq "check in (nested in il)" "inside:true from-host:false from-sibling:false to-host:false exit 0" "$(check_json in | xargs)"
expect_eq "the kernel's mode is reported" '"kernel_mode":"local"' "$($ctl check in --json | tr -d ' \n' | grep -o '"kernel_mode":"[a-z]*"')"
out=$($ctl check il)
expect_eq "table verdict" yes "$([[ $out == *"Isolation is as expected."* && $out == *"from-host"*"unreachable"*"ok"*"ECONNRESET"* ]] && echo yes)"
echo "$out"

# One expectation turned around: the same namespace now fails the check.
rc=0; out=$($ctl check il --expect from-host=reachable) || rc=$?
expect_eq "mutated expectation fails" 1 "$rc"
expect_eq "  and says where" yes "$([[ $out == *"from-host"*"reachable"*"SURPRISE"* && $out == *"NOT as expected"* ]] && echo yes)"
rc=0; $ctl check ig --expect to-host=unreachable >/dev/null || rc=$?
expect_eq "global ig expected not to reach the host: fails" 1 "$rc"
rc=0; $ctl check il --expect nowhere=reachable >/dev/null 2>&1 || rc=$?
expect_eq "--expect of an unknown path" 1 "$rc"
rc=0; $ctl check il --expect from-host >/dev/null 2>&1 || rc=$?
expect_eq "--expect without a value" 2 "$rc"
expect_error InvalidName CheckIsolation .host "@a{sv} {}"
expect_error NoSuchNamespace CheckIsolation nope "@a{sv} {}"
expect_error InvalidOption CheckIsolation il "{'Bogus': <1>}"
expect_eq "no sibling namespace left behind" "$netns_before" "$(ls /run/netns | sort | xargs)"
expect_eq "no worker left busy" "" "$(pgrep -P "$(systemctl show -P MainPID vsocknsd)" -x vsockns-busy)"

# Sockets: a listener in il and one in ig; each namespace shows its own.
nsenter --net=/run/netns/il socat VSOCK-LISTEN:5001,fork SYSTEM:"sleep 30" &
defer "kill $!"
nsenter --net=/run/netns/ig socat VSOCK-LISTEN:5002,fork SYSTEM:"sleep 30" &
defer "kill $!"
for _ in $(seq 50); do
    [[ $($ctl sockets il --json) == *'"local_port":5001'* && $($ctl sockets ig --json) == *'"local_port":5002'* ]] && break
    sleep 0.1
done
ports() { $ctl sockets "$1" --json | tr -d ' \n' | grep -o '"local_port":[0-9]*' | cut -d: -f2 | sort -n | xargs; }
expect_eq "sockets il" 5001 "$(ports il)"
expect_eq "sockets ig" 5002 "$(ports ig)"
expect_eq "sockets in (nested, empty)" "" "$(ports in)"
expect_eq "sockets .host sees neither" no "$(ports .host | grep_q -E '5001|5002' && echo yes || echo no)"
expect_eq "il's listener is listening, owned by socat" yes \
    "$($ctl sockets il | grep -E '^ +stream +listening +\*:5001 .*socat\[' >/dev/null && echo yes)"
all=$($ctl sockets)
expect_eq "sockets (all): grouped, host first" yes \
    "$(echo "$all" | grep -E '^[^ ].*:$' | head -1 | grep_q -x '.host:' && echo yes)"
expect_eq "  5001 under il only" "il:" "$(echo "$all" | awk '/^[^ ].*:$/ { g = $0 } /:5001 / { print g }' | xargs)"
# An established connection inside il: both ends, loopback CID 1.
nsenter --net=/run/netns/il socat -u VSOCK-CONNECT:1:5001 SYSTEM:"sleep 30" &
defer "kill $!"
for _ in $(seq 50); do $ctl sockets il | grep_q established && break; sleep 0.1; done
# The client's end is bound to no particular CID (vsock_diag reports *);
# the accepted end is 1:5001 and knows its peer's port.
expect_eq "established connection, client end" yes \
    "$($ctl sockets il | grep -E 'established +\*:[0-9]+ +1:5001 ' >/dev/null && echo yes)"
expect_eq "established connection, accepted end" yes \
    "$($ctl sockets il | grep -E 'established +1:5001 +1:[0-9]+ ' >/dev/null && echo yes)"
# The namespace object answers too, for tools that never enter namespaces.
expect_eq "Namespace.ListSockets" yes "$(busctl call org.vsockns1 /org/vsockns1/namespace/il org.vsockns1.Namespace ListSockets | grep_q ' 5001 ' && echo yes)"
expect_error NoSuchNamespace ListSockets nope
finish
