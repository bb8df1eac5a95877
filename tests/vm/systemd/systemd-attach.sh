#!/bin/bash
# Units join namespaces the systemd way: `vsocknsctl attach` (vsocknsd writes
# the drop-in and reloads systemd) and /etc/vsockns/namespaces.d read by
# vsockns-generator. A unit attached to a local namespace sees ns_mode
# "local"; its vsock listener is reachable from inside the namespace and
# not from the host. A malformed namespaces.d file makes nothing at all.
. "$(dirname "$0")/../daemon-lib.sh"

probe_unit() { # NAME NS PORT: a service that records its ns_mode and listens on vsock
    cat >"/run/systemd/system/$1.service" <<UNIT
[Service]
ExecStart=/bin/sh -c 'cat /proc/sys/net/vsock/ns_mode >/run/$1.out; exec socat VSOCK-LISTEN:$3,fork "SYSTEM:echo hello $2"'
UNIT
    defer "systemctl stop $1.service; rm -f /run/systemd/system/$1.service"
}

create at-a local
probe_unit at-probe at-a 7101
expect_eq "attach --runtime" yes "$($ctl attach --runtime at-probe.service at-a >/dev/null && echo yes)"
expect_eq "the drop-in, written by the daemon" yes \
    "$(grep -q 'NetworkNamespacePath=/run/netns/at-a' /run/systemd/system/at-probe.service.d/50-vsockns.conf && echo yes)"
expect_eq "systemd reloaded: it knows the path" /run/netns/at-a "$(systemctl show -P NetworkNamespacePath at-probe.service)"
systemctl start at-probe.service
for _ in $(seq 50); do [[ -s /run/at-probe.out ]] && in_ns at-a ss -H --vsock -l | grep_q ':7101\b' && break; sleep 0.1; done
expect_eq "attached unit sees ns_mode" local "$(cat /run/at-probe.out)"
expect_reach at-a 1 7101 at-a
expect_no_reach host 1 7101 at-a
expect_eq "namespace unit active (BindsTo)" active "$(systemctl is-active vsockns-namespace@at-a.service)"
systemctl stop at-probe.service
expect_eq "detach" yes "$($ctl detach --runtime at-probe.service >/dev/null && echo yes)"
expect_eq "drop-in gone" gone "$([[ -e /run/systemd/system/at-probe.service.d/50-vsockns.conf ]] && echo present || echo gone)"
expect_eq "unit back in the host netns" "" "$(systemctl show -P NetworkNamespacePath at-probe.service)"
expect_error NotAttached DetachUnit at-probe.service true
expect_eq "detach again: exit 4 (not attached)" 4 "$($ctl detach --runtime at-probe.service >/dev/null 2>&1; echo $?)"
expect_error InvalidOption AttachUnit "'bad/unit.service'" at-a false
expect_error NoSuchNamespace AttachUnit at-probe.service at-nope false

# Declarative: namespaces.d and the generator.
mkdir -p /etc/vsockns/namespaces.d
defer "rm -rf /etc/vsockns/namespaces.d; systemctl daemon-reload"
printf '[Namespace]\nMode=local\n\n[Attach]\nUnits=gen-probe.service\n' >/etc/vsockns/namespaces.d/gen1.conf
printf '[Namespace]\nMode=sideways\n\n[Attach]\nUnits=bad-probe.service\n' >/etc/vsockns/namespaces.d/bad1.conf
probe_unit gen-probe gen1 7102
probe_unit bad-probe bad1 7103
systemctl daemon-reload
systemctl start vsockns.target
expect_eq "gen1 made by vsockns-namespace@gen1" local "$($ctl show --json gen1 | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
systemctl start gen-probe.service
for _ in $(seq 50); do [[ -s /run/gen-probe.out ]] && break; sleep 0.1; done
expect_eq "listed unit runs inside gen1" local "$(cat /run/gen-probe.out 2>/dev/null)"
expect_eq "bad1: no namespace unit" "" "$(ls /run/systemd/generator/vsockns.target.wants | grep bad1)"
expect_eq "bad1: no drop-in for its unit" gone "$([[ -e /run/systemd/generator/bad-probe.service.d ]] && echo present || echo gone)"
expect_eq "bad1: no namespace" 4 "$($ctl show bad1 >/dev/null 2>&1; echo $?)"
out=$(VSOCKNS_NAMESPACES_D=/etc/vsockns/namespaces.d "$(pkg-config --variable=systemdsystemgeneratordir systemd 2>/dev/null || echo /lib/systemd/system-generators)/vsockns-generator" "$(mktemp -d)" 2>&1)
expect_eq "bad1: one clear line" yes \
    "$([[ $out == *"bad1.conf: line 2: Mode=sideways: use local or global; nothing generated from it."* ]] && echo yes || echo "no: $out")"
systemctl stop gen-probe.service

# The namespace unit refuses to delete a namespace that holds leases.
$ctl acquire gen1 >/dev/null
systemctl stop vsockns-namespace@gen1.service
expect_eq "stop with a lease: namespace kept" yes "$($ctl show gen1 >/dev/null && echo yes)"
expect_eq "stop with a lease: says why" yes \
    "$(journalctl -b -u vsockns-namespace@gen1.service | grep_q 'has 1 CID lease' && echo yes)"
$ctl delete --force gen1 >/dev/null
finish
