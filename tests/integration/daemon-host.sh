#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vsocknsd on this machine's own kernel, which may have no vsock namespaces
# (< 7.0): a private dbus-daemon, the real daemon, in a private mount
# namespace with its own /run so the machine's /run/netns is not touched.
# Global namespaces work as before 7.0, local ones are NotSupported, bad
# input is refused, and a restart reconciles the state with /run/netns.
. "$(dirname "$0")/private-bus.sh"

start_daemon
support=$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager KernelSupport)
echo "kernel $(uname -r): KernelSupport $support"

# The interface descriptions shipped in dbus/ are what the daemon says.
interface_xml() { # FILE INTERFACE: just that interface's element
    awk -v want="$2" 'index($0, "<interface name=\"" want "\"") { on = 1 } on { print } on && /<\/interface>/ { exit }' "$1"
}
srcdir=$(dirname "$0")/../..
busctl introspect --xml-interface org.vsockns1 /org/vsockns1 >"$bus/manager.xml"
expect_eq "dbus/org.vsockns1.Manager.xml matches the daemon" \
    "$(interface_xml "$srcdir/dbus/org.vsockns1.Manager.xml" org.vsockns1.Manager)" \
    "$(interface_xml "$bus/manager.xml" org.vsockns1.Manager)"

create hg1 global
busctl introspect --xml-interface org.vsockns1 /org/vsockns1/namespace/hg1 >"$bus/ns.xml"
expect_eq "dbus/org.vsockns1.Namespace.xml matches the daemon" \
    "$(interface_xml "$srcdir/dbus/org.vsockns1.Namespace.xml" org.vsockns1.Namespace)" \
    "$(interface_xml "$bus/ns.xml" org.vsockns1.Namespace)"
create hg2 global
expect_eq "ns_mode-less kernel: lo up in hg1" yes "$(ip netns exec hg1 ip -br link show lo | grep_q UNKNOWN && echo yes)"
expect_eq "vsocknsctl list" "hg1 hg2" "$($ctl list --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | xargs)"
if [[ $support == 's "none"' ]]; then
    expect_error NotSupported CreateNamespace hl local "@a{sv} {}"
    out=$(call CreateNamespace hl local "@a{sv} {}")
    expect_eq "NotSupported names Linux >= 7.0" yes "$([[ $out == *"Linux >= 7.0"* ]] && echo yes)"
    expect_error NotSupported CreateNamespace hl global "{'G2HFallback': <false>}"
    expect_eq "vsocknsctl status says so" yes "$($ctl status | grep_q 'none (Linux >= 7.0 needed' && echo yes)"
else
    echo "this kernel has vsock namespaces: the NotSupported checks run in the VM suite instead"
fi
# This machine may itself be a guest with a virtio vsock device (a G2H
# transport): then local namespaces could never reach its host.
g2h=$([[ -d /sys/module/vmw_vsock_virtio_transport || -d /sys/module/hv_sock || -d /sys/module/vmw_vsock_vmci_transport ]] && echo true || echo false)
expect_eq "GuestTransport" "b $g2h" "$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager GuestTransport)"
if [[ $g2h == true ]]; then
    expect_eq "vsocknsctl status warns about the G2H transport" yes \
        "$($ctl status | grep_q 'local namespaces cannot reach the host' && echo yes)"
fi

before=$(world)
for name in "" "." ".." "a/b" "$(printf 'x%.0s' {1..65})" "é" $'a\tb' ".host"; do
    expect_error InvalidName CreateNamespace "$name" global "@a{sv} {}"
done
expect_error InvalidMode CreateNamespace hx LOCAL "@a{sv} {}"
expect_error InvalidOption CreateNamespace hx global "{'Bogus': <1>}"
expect_error InvalidOption CreateNamespace hx global "{'Parent': <'hg1'>, 'Parent': <'hg1'>}"
expect_eq "bad input changed nothing" "$before" "$(world)"
# Units: one that is not attached, and a drop-in that cannot be written
# (this private /run has no /run/systemd).
expect_error NotAttached DetachUnit hx.service true
expect_error UnitFileError AttachUnit hx.service hg1 true

# Deleting: InterfacesRemoved names the same interfaces that
# GetManagedObjects listed for the object.
busctl monitor --match "type='signal',sender='org.vsockns1',member='InterfacesRemoved'" >"$bus/monitor" 2>&1 &
monitor=$!
defer "kill $monitor"
sleep 0.5
listed=$(busctl call --json=short org.vsockns1 /org/vsockns1 org.freedesktop.DBus.ObjectManager GetManagedObjects |
    grep -o '"/org/vsockns1/namespace/hg2":{.*' | grep -o '"org\.[A-Za-z0-9.]*":' | tr -d '":' | sort | xargs)
$ctl delete hg2 >/dev/null
expect_eq "/run/netns/hg2 after delete" gone "$([[ -e /run/netns/hg2 ]] && echo present || echo gone)"
for _ in $(seq 50); do grep -q 'org.vsockns1.Namespace' "$bus/monitor" && break; sleep 0.1; done
expect_eq "InterfacesRemoved for hg2 lists what GetManagedObjects listed" "$listed" \
    "$(grep -A9 'OBJECT_PATH "/org/vsockns1/namespace/hg2"' "$bus/monitor" | grep -o 'STRING "[^"]*"' | cut -d'"' -f2 | sort | xargs)"
kill "$monitor"

# The state names callers' uids and pids: a 0700 directory of 0600 files.
expect_eq "/run/vsockns mode" 700 "$(stat -c %a /run/vsockns)"
expect_eq "namespaces.json mode" 600 "$(stat -c %a /run/vsockns/namespaces.json)"

# Restart reconciliation: one kept, one gone while we were down, one whose
# name now pins a different namespace (left alone: not ours any more).
create hr-keep global
create hr-gone global
create hr-replaced global
keep_ino=$(stat -c %i /run/netns/hr-keep)
stop_daemon
ip netns del hr-gone
ip netns del hr-replaced
ip netns add hr-replaced
defer "ip netns del hr-replaced"
start_daemon
expect_eq "after restart" "hg1 hr-keep" "$($ctl list --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | xargs)"
expect_eq "hr-keep is the same namespace" "$keep_ino" "$($ctl show --json hr-keep | grep -o '"inode":[0-9]*' | cut -d: -f2)"
expect_eq "log: hr-gone dropped" yes "$(grep -q "Namespace 'hr-gone' is gone" "$bus/daemon.log" && echo yes)"
expect_eq "log: hr-replaced dropped" yes "$(grep -q "'hr-replaced' at /run/netns/hr-replaced is a different namespace" "$bus/daemon.log" && echo yes)"
expect_eq "foreign hr-replaced left alone" yes "$([[ -e /run/netns/hr-replaced ]] && echo yes)"
expect_eq "state file after restart" "hg1 hr-keep" "$(grep -o '"name":"[^"]*"' /run/vsockns/namespaces.json | cut -d'"' -f4 | xargs)"

# Leases on this kernel: advisory ones always work; reserved ones need
# /dev/vhost-vsock, which this machine may lack.
out=$($ctl acquire --cid 40 --no-reserve --owner libvirt:vm1 hr-keep)
expect_eq "advisory lease" 40 "$out"
expect_error CidInUse AcquireLease .host 40 x "{'Reserve': <false>}"
if [[ ! -e /dev/vhost-vsock ]]; then
    expect_error NotSupported AcquireLease .host 0 x "@a{sv} {}"
fi
expect_eq "leases listed" "hr-keep 40 libvirt:vm1" \
    "$($ctl leases --json | grep -E '"(namespace|cid|owner)"' | cut -d: -f2- | tr -d ' ",' | xargs)"
stop_daemon
start_daemon
expect_eq "advisory lease after a restart (no fd store)" "hr-keep 40" \
    "$($ctl leases --json | grep -E '"(namespace|cid)"' | cut -d: -f2- | tr -d ' ",' | xargs)"
expect_eq "log: no fd store" yes "$(grep -q 'no fd store' "$bus/daemon.log" && echo yes)"
expect_error NamespaceBusy DeleteNamespace hr-keep false
$ctl release hr-keep 40 >/dev/null
expect_eq "released" 0 "$($ctl leases --json | grep -c '"cid"')"

# Creations that a crash interrupted. The record names what vsockns made
# (placeholder first, then the namespace before it is pinned): that is
# finished or undone; anything it cannot prove is its own is left alone.
stop_daemon
ip netns add pend-ours          # stands for our namespace, pinned just before the crash
ip netns add pend-foreign       # an `ip netns add` of the name after the crash
touch /run/netns/pend-placeholder /run/netns/pend-old
defer "ip netns del pend-foreign; rm -f /run/netns/pend-old"
id_of() { stat -c '"dev": %d, "inode": %i' "$1"; }
placeholder_of() { stat -c '"placeholder_dev": %d, "placeholder_inode": %i' "$1"; }
cat >/run/vsockns/namespaces.json <<JSON
{ "version": 1, "namespaces": [
  { "name": "hr-keep", "mode": "global", "inode": $keep_ino },
  { "name": "pend-ours", "mode": "global", "pending": true, $(id_of /run/netns/pend-ours),
    "placeholder_dev": 1, "placeholder_inode": 1 },
  { "name": "pend-placeholder", "mode": "global", "pending": true, $(placeholder_of /run/netns/pend-placeholder) },
  { "name": "pend-foreign", "mode": "global", "pending": true, "placeholder_dev": 1, "placeholder_inode": 2 },
  { "name": "pend-nothing", "mode": "global", "pending": true, "placeholder_dev": 1, "placeholder_inode": 3 },
  { "name": "pend-old", "mode": "global", "pending": true } ] }
JSON
start_daemon
expect_eq "after interrupted creations" "hr-keep pend-ours" "$($ctl list --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | xargs)"
expect_eq "adopted pin keeps its namespace" "$(stat -c %i /run/netns/pend-ours)" \
    "$($ctl show --json pend-ours | grep -o '"inode":[0-9]*' | cut -d: -f2)"
expect_eq "our placeholder removed" gone "$([[ -e /run/netns/pend-placeholder ]] && echo present || echo gone)"
expect_eq "foreign namespace of the same name left alone" yes "$([[ -e /run/netns/pend-foreign ]] && echo yes)"
expect_eq "file of an unprovable record left alone" yes "$([[ -e /run/netns/pend-old ]] && echo yes)"
expect_eq "log: finished" yes "$(grep -q "Finished the creation of namespace 'pend-ours'" "$bus/daemon.log" && echo yes)"
expect_eq "log: foreign left alone" yes \
    "$(grep -q "pend-foreign is not what vsockns made, leaving it alone" "$bus/daemon.log" && echo yes)"
expect_eq "state has no pending record left" no "$(grep -q pending /run/vsockns/namespaces.json && echo yes || echo no)"
$ctl delete pend-ours >/dev/null

# A corrupt state file: the daemon starts empty and says so.
stop_daemon
echo '{ not json' >/run/vsockns/namespaces.json
start_daemon
expect_eq "corrupt state: starts empty" 0 "$($ctl list --json | grep -c '"name"')"
expect_eq "log: corrupt state" yes "$(grep -q 'Cannot read /run/vsockns/namespaces.json' "$bus/daemon.log" && echo yes)"
expect_eq "pins of the old state left in place" yes "$([[ -e /run/netns/hg1 ]] && echo yes)"
# A state directory others can read (or that is not ours) is refused, and
# nothing is touched.
stop_daemon
chmod 0755 /run/vsockns
before=$(world)
timeout 20 "$VSOCKNS_BUILD_ROOT/src/vsocknsd" >"$bus/refused.log" 2>&1
expect_eq "vsocknsd exit status with a 0755 /run/vsockns" 1 "$?"
expect_eq "log: refusal says why" yes \
    "$(grep -q 'Refusing to use /run/vsockns: it is mode 0755 owned by uid 0; it must be mode 0700' "$bus/refused.log" && echo yes)"
expect_eq "refused start changed nothing" "$before" "$(world)"
chmod 0700 /run/vsockns
start_daemon
ip netns del hg1; ip netns del hr-keep
[[ -n $daemon_pid ]] && stop_daemon # it must exit cleanly (leaks, under the sanitizers)
finish
