#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vsockns-libvirt-hook, the real binary, against the real vsocknsd on a
# private bus (advisory leases need no vhost device, so this machine's kernel
# will do), fed the calls libvirtd really made (fixtures/libvirt). Then with
# vsockns gone, and with a bus that accepts and never answers: the hook
# still answers, within its own deadline, with the status each operation
# allows. The VM suite (libvirt-hook) runs it under real libvirtd.
. "$(dirname "$0")/private-bus.sh"

hook=$VSOCKNS_BUILD_ROOT/src/vsockns-libvirt-hook
fx=$(dirname "$0")/../unit/fixtures/libvirt
export VSOCKNS_LIBVIRT_HOOK_CONFIG=$bus/hook.conf
: >"$bus/hook.conf"

# run_hook CALL: runs the hook as libvirt did for fixtures/libvirt/hook-CALL;
# prints its exit status, its stderr goes to $bus/hook.err.
run_hook() {
    local rc=0
    # shellcheck disable=SC2046 # the argv file is libvirt's four words
    "$hook" $(cat "$fx/hook-$1.argv") <"$fx/hook-$1.xml" >"$bus/hook.out" 2>"$bus/hook.err" || rc=$?
    [[ -s $bus/hook.out ]] && echo "STDOUT-NOT-EMPTY"
    echo "$rc"
}
host_leases() { busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager ListLeases s .host; }

start_daemon
auto_owner="libvirt:1047705b-906b-4af0-b013-fde2109c9585:fx-auto"
expect_eq "started (auto, CID 3)" 0 "$(run_hook fx-auto-started-begin)"
expect_eq "advisory lease recorded" "a(susbt) 1 \".host\" 3 \"$auto_owner\" false" \
    "$(host_leases | sed 's/ [0-9]*$//')"
expect_eq "reconnect keeps one lease" 0 "$(run_hook fx-auto-reconnect-begin)"
expect_eq "still one" 1 "$(host_leases | cut -d' ' -f2)"
expect_eq "vsocknsctl leases shows the owner" yes "$($ctl leases .host | grep_q "$auto_owner" && echo yes)"
expect_eq "stopped" 0 "$(run_hook fx-auto-stopped-end)"
expect_eq "lease released" "a(susbt) 0" "$(host_leases)"
expect_eq "release after stopped (idempotent)" 0 "$(run_hook fx-auto-release-end)"

# A fixed CID that vsockns has leased to someone else: refused, with a
# sentence naming the holder; the same domain passes once it is released.
$ctl acquire --cid 42 --owner tenant-db --no-reserve .host >/dev/null
expect_eq "prepare fixed 42, held by tenant-db" 1 "$(run_hook fx-fixed-prepare-begin)"
expect_eq "the sentence names the holder" yes \
    "$(grep -q "CID 42 of domain 'fx-fixed' is leased to 'tenant-db'" "$bus/hook.err" && echo yes)"
expect_eq "migrate refused too" 1 "$("$hook" fx-fixed migrate begin - <"$fx/hook-fx-fixed-prepare-begin.xml" 2>/dev/null; echo $?)"
$ctl release .host 42 >/dev/null
expect_eq "prepare fixed 42 after the release" 0 "$(run_hook fx-fixed-prepare-begin)"
expect_eq "no vsock: no call, 0" 0 "$(run_hook fx-novsock-prepare-begin)"
expect_eq "malformed XML at prepare refused" 1 "$(head -c 200 "$fx/hook-fx-fixed-prepare-begin.xml" | "$hook" fx-fixed prepare begin - 2>/dev/null; echo $?)"
expect_eq "malformed XML at stopped ignored" 0 "$(echo '<domain' | "$hook" fx-fixed stopped end - 2>/dev/null; echo $?)"
expect_eq "bad argv" 2 "$("$hook" only-one </dev/null 2>/dev/null; echo $?)"

# vsockns not running and not activatable: nothing blocks but a fixed CID
# when configured to refuse.
stop_daemon
expect_eq "unreachable: prepare fixed" 0 "$(run_hook fx-fixed-prepare-begin)"
expect_eq "  said why" yes "$(grep -q "cannot reach vsockns" "$bus/hook.err" && echo yes)"
expect_eq "unreachable: reconnect" 0 "$(run_hook fx-fixed-reconnect-begin)"
expect_eq "unreachable: stopped" 0 "$(run_hook fx-fixed-stopped-end)"
echo "RefuseStartWhenUnreachable=yes" >"$bus/hook.conf"
expect_eq "unreachable + refuse: prepare fixed" 1 "$(run_hook fx-fixed-prepare-begin)"
expect_eq "unreachable + refuse: prepare auto" 0 "$(run_hook fx-auto-prepare-begin)"
expect_eq "unreachable + refuse: reconnect" 0 "$(run_hook fx-fixed-reconnect-begin)"

# A bus that accepts the connection and never says a word: each call times
# out (TimeoutSec=1), and the hook answers anyway.
silent=$bus/silent
socat UNIX-LISTEN:"$silent",fork SYSTEM:"sleep 600" </dev/null >/dev/null 2>&1 &
defer "pkill -P $!; kill $!"
for _ in $(seq 50); do [[ -S $silent ]] && break; sleep 0.1; done
printf 'TimeoutSec=1\nRefuseStartWhenUnreachable=yes\n' >"$bus/hook.conf"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$silent
expect_eq "silent bus: reconnect still 0" 0 "$(timeout 120 "$hook" fx-fixed reconnect begin - <"$fx/hook-fx-fixed-reconnect-begin.xml" 2>"$bus/hook.err"; echo $?)"
expect_eq "  said it timed out" yes "$(grep -qiE "timed out|deadline" "$bus/hook.err" && echo yes)"
expect_eq "silent bus: prepare fixed refused (configured)" 1 "$(timeout 120 "$hook" fx-fixed prepare begin - <"$fx/hook-fx-fixed-prepare-begin.xml" 2>/dev/null; echo $?)"
finish
