#!/bin/bash
# Units join namespaces the systemd way: `vsocknsctl attach` (vsocknsd writes
# the drop-in and reloads systemd) and /etc/vsockns/namespaces.d read by
# vsockns-generator. A unit attached to a local namespace sees ns_mode
# "local"; its vsock listener is reachable from inside the namespace and
# not from the host. A malformed namespaces.d file makes nothing at all.
. "$(dirname "$0")/../daemon-lib.sh"
# An attach waits for systemd's Reload, which on a busy machine takes far
# longer than the 25 s a bus call waits by default.
call_timeout=600

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

# Attaching is a power of its own (org.vsockns1.attach-units). A tenant
# that polkit allows for its namespace may attach only the units that
# vsocknsd.conf lists for it (AttachableUnits=); units the system needs in
# the host's namespace are refused even to root, by any name; a drop-in
# vsockns did not write is never replaced; many attaches at once cost fewer
# systemd Reloads than attaches.
create at-t local
useradd -M -N at-tenant
defer "userdel at-tenant"
cat >/etc/polkit-1/rules.d/60-at-tenant.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id == "org.vsockns1.attach-units" && subject.user == "at-tenant" &&
        action.lookup("namespace") == "at-t")
        return polkit.Result.YES;
});
RULES
mkdir -p /etc/vsockns
printf 'AttachableUnits=at-t:at-web*.service\n' >/etc/vsockns/vsocknsd.conf
defer "rm -f /etc/polkit-1/rules.d/60-at-tenant.rules /etc/vsockns/vsocknsd.conf; systemctl restart vsocknsd"
systemctl restart vsocknsd
# as_tenant METHOD SIGNATURE ARGS...: a Manager call as at-tenant.
as_tenant() {
    runuser -u at-tenant -- busctl --timeout=600 --allow-interactive-authorization=no call org.vsockns1 /org/vsockns1 \
        org.vsockns1.Manager "$@" 2>&1
}
probe_unit at-web1 at-t 7104
out=""
for _ in $(seq 30); do # polkitd reads a new rules file a moment after it appears
    out=$(as_tenant AttachUnit ssb at-web1.service at-t true) && break
    sleep 1
done
expect_eq "tenant attaches a listed unit to its namespace" "" "$out"
expect_eq "its drop-in" yes \
    "$(grep_q 'NetworkNamespacePath=/run/netns/at-t' /run/systemd/system/at-web1.service.d/50-vsockns.conf && echo yes)"
expect_eq "journal: the attach, with the unit and the uid" yes \
    "$(journalctl -b -o verbose MESSAGE_ID=3ab906de2de94240bc2fe78d96821c00 OBJECT_SYSTEMD_UNIT=at-web1.service \
        UID="$(id -u at-tenant)" NAMESPACE=at-t | grep_q 'joins namespace' && echo yes)"
expect_eq "journalctl -u shows it" yes "$(journalctl -b -u at-web1.service | grep_q 'now joins namespace' && echo yes)"
out=$(as_tenant AttachUnit ssb ssh.service at-t true)
expect_eq "tenant: an unlisted unit refused" yes \
    "$([[ $out == *"ssh.service is not listed as attachable to namespace 'at-t'"* ]] && echo yes || echo "no: $out")"
out=$(as_tenant AttachUnit ssb at-web1.service at-a true)
expect_eq "tenant: a listed unit into another namespace refused" yes \
    "$([[ $out == *"at-web1.service is not listed as attachable to namespace 'at-a'"* ]] && echo yes || echo "no: $out")"
out=$(as_tenant AttachUnit ssb dbus.service at-t true)
expect_eq "tenant: dbus.service refused" yes \
    "$([[ $out == *"vsockns never moves dbus.service into a namespace"* ]] && echo yes || echo "no: $out")"
for u in dbus.service vsocknsd.service polkit.service systemd-journald.service serial-getty@ttyS0.service; do
    out=$(call AttachUnit "$u" at-a true)
    expect_eq "root: $u refused" yes \
        "$([[ $out == *"AccessDenied: vsockns never moves $u into a namespace"* ]] && echo yes || echo "no: $out")"
done
# An alias of the bus's unit (a symlink to its unit file): systemd names
# the unit by both, and the refusal says so.
ln -s "$(systemctl show -P FragmentPath dbus.service)" /run/systemd/system/at-alias.service
defer "rm -f /run/systemd/system/at-alias.service; systemctl daemon-reload"
systemctl daemon-reload
out=$(call AttachUnit at-alias.service at-a true)
expect_eq "root: an alias of the bus's unit refused" yes \
    "$([[ $out == *"AccessDenied: vsockns never moves at-alias.service into a namespace: it is also "*"the system bus"* ]] && echo yes || echo "no: $out")"
expect_eq "no drop-in for any of them" "" \
    "$(ls /{run,etc}/systemd/system/{dbus,dbus-broker,vsocknsd,polkit,systemd-journald,serial-getty@ttyS0,ssh,at-alias}.service.d/50-vsockns.conf 2>/dev/null)"
expect_eq "tenant detaches its unit" "" "$(as_tenant DetachUnit sb at-web1.service true)"
mkdir -p /run/systemd/system/at-own.service.d
printf '[Service]\nEnvironment=MINE=1\n' >/run/systemd/system/at-own.service.d/50-vsockns.conf
defer "rm -rf /run/systemd/system/at-own.service.d"
expect_error UnitFileError AttachUnit at-own.service at-a true
expect_eq "a drop-in vsockns did not write stays as it was" "Environment=MINE=1" \
    "$(grep -v '^\[' /run/systemd/system/at-own.service.d/50-vsockns.conf)"
# Six attaches at once: the Reloads that vsocknsd asks for are counted on
# the bus.
reloads=$(mktemp)
stdbuf -oL busctl monitor --match "type='method_call',interface='org.freedesktop.systemd1.Manager',member='Reload'" \
    >"$reloads" 2>&1 &
monitor=$!
for _ in $(seq 100); do grep_q "Monitoring bus message stream" "$reloads" && break; sleep 0.1; done
pids=()
for i in $(seq 6); do
    probe_unit "at-many$i" at-a $((7110 + i))
    call AttachUnit "at-many$i.service" at-a true >/dev/null &
    pids+=($!)
done
wait "${pids[@]}"
sleep 1
kill "$monitor"
n=$(grep -c "Member=Reload" "$reloads")
echo "six attaches at once: $n systemd Reloads"
expect_eq "six attaches at once: fewer Reloads than attaches" yes "$([[ $n -ge 1 && $n -lt 6 ]] && echo yes || echo "no: $n")"
expect_eq "all six attached" 6 "$(ls -d /run/systemd/system/at-many*.service.d | wc -l)"
for i in $(seq 6); do call DetachUnit "at-many$i.service" true >/dev/null; done
rm -f "$reloads"

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
