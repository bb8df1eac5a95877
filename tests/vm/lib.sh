# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the VM tests: namespaces, vsock loopback probes and CID holders
# built from plain tools (ip, nsenter, socat, qemu-system-x86_64). Sourced by
# each test; every helper either succeeds or ends the test with a message
# that says what was expected and what happened.

set -uo pipefail

: "${VSOCKNS_BUILD_ROOT:?VSOCKNS_BUILD_ROOT must point at the meson build directory}"
tools=$VSOCKNS_BUILD_ROOT/tests/vm
cleanup_cmds=()
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

pass() {
    echo "ok: $*"
}

# Ends the test: exit status 1 if any expectation failed.
finish() {
    if [[ $failures -gt 0 ]]; then
        echo "$failures expectation(s) failed"
        exit 1
    fi
    exit 0
}

on_exit() {
    local i
    for ((i = ${#cleanup_cmds[@]} - 1; i >= 0; i--)); do
        eval "${cleanup_cmds[$i]}" >/dev/null 2>&1 || true
    done
}
trap on_exit EXIT
defer() { cleanup_cmds+=("$*"); }

# in_ns NS CMD...: run CMD in network namespace NS ("host" = the initial one).
# nsenter switches only the network namespace, so /run/netns bind mounts made
# by CMD reach everyone (ip netns exec would make them private).
in_ns() {
    local ns=$1
    shift
    if [[ $ns == host ]]; then "$@"; else nsenter --net="/run/netns/$ns" "$@"; fi
}

sysctl_get() { in_ns "$1" cat "/proc/sys/net/vsock/$2"; }

# sysctl_write NS KEY VALUE: prints OK or the errno name.
sysctl_write() { in_ns "$1" "$tools/vsock-sysctl-write" "/proc/sys/net/vsock/$2" "$3"; }

# ns_add NAME [PARENT]: a new namespace created from PARENT (default host).
# Its vsock mode is PARENT's child_ns_mode at this moment.
ns_add() {
    local name=$1 parent=${2:-host}
    in_ns "$parent" ip netns add "$name" || { echo "ip netns add $name failed"; exit 1; }
    defer "ip netns del $name"
    in_ns "$name" ip link set lo up
}

# parent_add NAME MODE: a namespace whose child_ns_mode is written (locked)
# to MODE, as vsockns's managed parents are.
parent_add() {
    ns_add "$1"
    local r
    r=$(sysctl_write "$1" child_ns_mode "$2")
    [[ $r == OK ]] || { echo "cannot lock $1 child_ns_mode to $2: $r"; exit 1; }
}

# grep_q ARGS...: grep -q, but reading all its input. Under pipefail, a
# grep -q that stops at the first match can leave the writer of a long
# input (journalctl, grep -A) dying of SIGPIPE, and the pipeline failing.
grep_q() { grep "$@" >/dev/null; }

expect_eq() {
    local what=$1 want=$2 got=$3
    if [[ $got == "$want" ]]; then pass "$what = $got"; else fail "$what: expected '$want', got '$got'"; fi
}

# wait_listening NS PORT: until a vsock stream socket listens on PORT in NS
# (5 s at most; status 1 if none does).
wait_listening() {
    local ns=$1 port=$2 i
    for ((i = 0; i < 50; i++)); do
        in_ns "$ns" ss -H --vsock -l 2>/dev/null | grep_q ":$port\b" && return 0
        sleep 0.1
    done
    return 1
}

# listen NS PORT: a vsock stream listener in NS that answers "hello NS".
listen() {
    local ns=$1 port=$2
    in_ns "$ns" socat "VSOCK-LISTEN:$port,fork" "SYSTEM:echo hello $ns" &
    defer "kill $!"
    wait_listening "$ns" "$port" && return 0
    echo "listener on port $port in $ns did not come up"
    exit 1
}

# connect NS CID PORT: prints the peer's answer or the connect error. One
# way only (-u: from the peer to stdout): the client never writes, so a peer
# that answers and closes at once cannot make it fail with EPIPE.
connect() {
    in_ns "$1" timeout 10 socat -T5 -u "VSOCK-CONNECT:$2:$3" - </dev/null 2>&1
}

expect_reach() {
    local from=$1 cid=$2 port=$3 to=$4 out
    out=$(connect "$from" "$cid" "$port")
    if [[ $out == "hello $to" ]]; then
        pass "$from -> $to (cid $cid port $port) connects"
    else
        fail "$from -> $to (cid $cid port $port) should connect, got: $out"
    fi
}

# expect_no_reach FROM CID PORT TO [ERROR]: the connect from FROM fails with
# exactly ERROR (default "Connection reset by peer": what vsock loopback
# answers when no listener is visible from FROM's namespace). Connecting, a
# missing socat, a timeout or any other error is a failure, not a pass.
expect_no_reach() {
    local from=$1 cid=$2 port=$3 to=$4 want=${5:-Connection reset by peer} out
    out=$(connect "$from" "$cid" "$port")
    if [[ $out == *"hello "* ]]; then
        fail "$from -> $to (cid $cid port $port) should be refused, but connected: $out"
    elif [[ $out == *" E connect("*"): $want" ]]; then
        pass "$from -> $to (cid $cid port $port) refused: $want"
    else
        fail "$from -> $to (cid $cid port $port) should fail with '$want', got: ${out:-nothing (timeout?)}"
    fi
}

# qemu_hold NS CID: start a paused QEMU holding CID in NS. Prints "OK" or
# "EADDRINUSE" (QEMU's -daemonize returns only once the device is set up).
qemu_hold() {
    local ns=$1 cid=$2 pidfile out
    pidfile=$(mktemp /tmp/qemu.XXXXXX)
    out=$(in_ns "$ns" qemu-system-x86_64 -S -display none -nodefaults -accel tcg -m 64 \
          -device "vhost-vsock-pci,guest-cid=$cid" -daemonize -pidfile "$pidfile" 2>&1)
    if [[ -s $pidfile ]]; then
        defer "kill $(cat "$pidfile")"
        echo OK
    elif [[ $out == *"Address already in use"* ]]; then
        echo EADDRINUSE
    else
        echo "qemu: $out"
    fi
}

# cid_probe NS CID: OK if the CID is free in NS's CID space, else the errno.
cid_probe() { in_ns "$1" "$tools/vhost-cid" "$2"; }

# mem_available: MemAvailable in MiB.
mem_available() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }

# wait_mem_below BASELINE MIB SECONDS: waits until MemAvailable is at least
# MIB below BASELINE; prints how far below it got.
wait_mem_below() {
    local base=$1 want=$2 secs=$3 i now
    for ((i = 0; i < secs * 10; i++)); do
        now=$(mem_available)
        (( base - now >= want )) && break
        sleep 0.1
    done
    echo $((base - $(mem_available)))
}

# wait_mem_recovered BASELINE MIB SECONDS: waits until MemAvailable is at
# most MIB below BASELINE; prints how far below it still is.
wait_mem_recovered() {
    local base=$1 want=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        (( base - $(mem_available) <= want )) && break
        sleep 0.1
    done
    echo $((base - $(mem_available)))
}

# wait_gone PID: until PID has exited (or is a zombie: its memory is gone).
wait_gone() {
    local i
    for ((i = 0; i < 300; i++)); do
        [[ ! -e /proc/$1 || $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == Z ]] && return 0
        sleep 0.1
    done
    return 1
}

# The QEMU of the memory tests: 512 MiB, all of it allocated up front, a
# vhost-vsock device on an fd it is given ({cid} and {fd} filled in by the
# caller). -S: no guest needs to run for QEMU to own the device.
QEMU_512=(qemu-system-x86_64 -S -display none -nodefaults -accel tcg -m 512 -mem-prealloc
          -device 'vhost-vsock-pci,guest-cid={cid},vhostfd={fd}')
