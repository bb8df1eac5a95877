#!/bin/bash
# vsockns-libvirt-hook under Debian's real libvirtd (qemu:///system, QEMU in
# the host netns, so every domain is in the global CID space): domains of
# type qemu with no disk, started --paused. libvirt and vsockns see each
# other's CIDs, a conflict is refused with a sentence, a libvirtd restart
# leaves exactly one lease, and neither side ever picks the other's CID.
. "$(dirname "$0")/../daemon-lib.sh"

hook=/etc/libvirt/hooks/qemu.d/50-vsockns
expect_eq "hook installed (meson install)" "/usr/libexec/vsockns-libvirt-hook" "$(readlink -f $hook)"
# libvirtd reads its hooks when it starts.
systemctl start libvirtd || { fail "libvirtd did not start"; finish; }
defer "systemctl stop libvirtd"

domain_xml() { # NAME VSOCK-ELEMENT
    cat <<DOM
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $2
  </devices>
</domain>
DOM
}
define() { # NAME VSOCK-ELEMENT
    domain_xml "$1" "$2" >"/tmp/$1.xml"
    virsh -q define "/tmp/$1.xml" >/dev/null || fail "virsh define $1"
    defer "virsh -q destroy $1; virsh -q undefine $1"
}
live_cid() { virsh -q dumpxml "$1" | sed -n "s/.*<cid auto='[a-z]*' address='\([0-9]*\)'.*/\1/p"; }
uuid_of() { virsh -q domuuid "$1"; }
# lease lines of .host: "CID OWNER"
host_leases() { $ctl leases .host | awk '$1 == ".host" { print $2, $NF }' | sort -n; }

auto="<vsock model='virtio'><cid auto='yes'/></vsock>"

# Auto CID: the lease shows the CID libvirt chose, owner libvirt:UUID:NAME.
define lv-auto "$auto"
virsh -q start --paused lv-auto >/dev/null || fail "virsh start lv-auto"
cid=$(live_cid lv-auto)
expect_eq "libvirt picked a CID" yes "$([[ $cid =~ ^[0-9]+$ ]] && echo yes)"
expect_eq "lease of lv-auto" "$cid libvirt:$(uuid_of lv-auto):lv-auto" "$(host_leases)"
expect_eq "vsocknsctl leases .host (table)" yes \
    "$($ctl leases .host | grep -E "^\.host +$cid +advisory .*libvirt:.*:lv-auto" >/dev/null && echo yes)"

# Destroy removes it.
virsh -q destroy lv-auto >/dev/null
expect_eq "virsh destroy removed the lease" "" "$(host_leases)"

# A fixed CID that vsockns holds reserved: libvirt refuses, and says why.
define lv-fixed "<vsock model='virtio'><cid auto='no' address='42'/></vsock>"
expect_eq "vsockns reserves 42 in .host" 42 "$($ctl acquire --cid 42 --owner tenant-db .host)"
out=$(virsh -q start --paused lv-fixed 2>&1)
expect_eq "start refused" "shut off" "$(virsh -q domstate lv-fixed)"
expect_eq "virsh's error has the hook's sentence" yes \
    "$([[ $out == *"CID 42 of domain 'lv-fixed' is leased to 'tenant-db'"* ]] && echo yes)"
echo "virsh said: $out"
$ctl release .host 42 >/dev/null
# A user's advisory lease of that CID (a user granted the host's CID
# space) does not stop root's domain: the hook says so and goes on.
useradd -M -N lv-squat
cat >/etc/polkit-1/rules.d/60-lv-squat.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (subject.user == "lv-squat" &&
        (action.id == "org.vsockns1.manage-leases" || action.id == "org.vsockns1.manage-global-leases"))
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
RULES
defer "rm -f /etc/polkit-1/rules.d/60-lv-squat.rules; userdel lv-squat"
for _ in $(seq 50); do # until polkitd has read the rule
    out=$(runuser -u lv-squat -- busctl --allow-interactive-authorization=no call org.vsockns1 /org/vsockns1 \
        org.vsockns1.Manager AcquireLease susa{sv} .host 42 squat 1 Reserve b false 2>&1)
    [[ $out == 'uh 42 '* ]] && break
    sleep 0.2
done
expect_eq "lv-squat's advisory lease of 42" yes "$([[ $out == 'uh 42 '* ]] && echo yes || echo "no: $out")"
out=$(virsh -q start --paused lv-fixed 2>&1)
expect_eq "a user's advisory lease does not stop root's domain" paused "$(virsh -q domstate lv-fixed)"
expect_eq "the hook said it saw it" yes \
    "$(journalctl -b -t vsockns-libvirt-hook --no-pager | grep_q "CID 42 of domain 'lv-fixed' has an advisory lease by uid $(id -u lv-squat) ('squat'" && echo yes)"
expect_eq "the user's lease gave way to the domain's record" "42 libvirt:$(uuid_of lv-fixed):lv-fixed" "$(host_leases)"
expect_eq "and the hook said so" yes \
    "$(journalctl -b -t vsockns-libvirt-hook --no-pager | grep_q "released uid $(id -u lv-squat)'s advisory lease of CID 42 ('squat', .host)" && echo yes)"
virsh -q destroy lv-fixed >/dev/null
virsh -q start --paused lv-fixed >/dev/null || fail "virsh start lv-fixed after the release"
expect_eq "lv-fixed runs after ReleaseLease" paused "$(virsh -q domstate lv-fixed)"
expect_eq "its lease" "42 libvirt:$(uuid_of lv-fixed):lv-fixed" "$(host_leases)"

# libvirtd restart with the domain running: reconnect, exactly one lease.
systemctl restart libvirtd
for _ in $(seq 100); do virsh -q domstate lv-fixed >/dev/null 2>&1 && break; sleep 0.2; done
expect_eq "after a libvirtd restart: one lease" "42 libvirt:$(uuid_of lv-fixed):lv-fixed" "$(host_leases)"

# With vsocknsd stopped and masked, a libvirtd restart (reconnect) keeps the domain.
stop_vsocknsd_unit || fail "vsocknsd did not stop"
systemctl restart libvirtd
for _ in $(seq 100); do virsh -q domstate lv-fixed >/dev/null 2>&1 && break; sleep 0.2; done
expect_eq "reconnect without vsockns: domain still running" paused "$(virsh -q domstate lv-fixed)"
expect_eq "  its QEMU too" 1 "$(pgrep -fc 'guest=lv-fixed')"
expect_eq "  the hook said why" yes \
    "$(journalctl -b -t vsockns-libvirt-hook --no-pager | grep_q "cannot reach vsockns.*'lv-fixed'" && echo yes)"
start_vsocknsd_unit
expect_eq "the lease survived vsocknsd's absence" "42 libvirt:$(uuid_of lv-fixed):lv-fixed" "$(host_leases)"
virsh -q destroy lv-fixed >/dev/null
expect_eq "destroy: no lease left" "" "$(host_leases)"

# No lost races: vsockns holds 3 reserved, libvirt's probe then skips it.
expect_eq "vsockns reserves 3" 3 "$($ctl acquire --cid 3 --owner first .host)"
virsh -q start --paused lv-auto >/dev/null || fail "virsh start lv-auto (2)"
cid=$(live_cid lv-auto)
expect_eq "libvirt did not pick vsockns's 3" yes "$([[ -n $cid && $cid != 3 ]] && echo yes)"
expect_eq "kernel: $cid is libvirt's" EADDRINUSE "$(cid_probe host "$cid")"
# ... and vsockns's automatic picks, reserved or advisory, never return libvirt's CID.
got=()
for i in 1 2 3; do got+=("$($ctl acquire --owner "auto-$i" .host)"); done
got+=("$($ctl acquire --no-reserve --owner auto-adv .host)")
expect_eq "vsockns auto picks skip libvirt's CID $cid" no "$(printf '%s\n' "${got[@]}" | grep_q -x "$cid" && echo yes || echo no)"
echo "vsockns picked: ${got[*]} (libvirt has $cid)"
for c in 3 "${got[@]}"; do $ctl release .host "$c" >/dev/null; done
virsh -q destroy lv-auto >/dev/null
expect_eq "nothing left" "" "$(host_leases)"
finish
