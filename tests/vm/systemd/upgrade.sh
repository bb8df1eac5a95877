#!/bin/bash
# Upgrade with live state: vsocknsd as an earlier commit built it (each of
# tests/vm/upgrade-from, built from git by tests/vm/build-previous) runs
# under systemd with namespaces and leases (reserved, advisory, bound to a
# process, more than a vault holds), then the unit restarts into this build,
# as a package upgrade would: the fd store (its names and vault records) and
# /run/vsockns as the old build left them. Nothing is lost: the same
# namespaces and leases, the kernel still holds every reserved CID, no
# lease is dropped, and the leases still work (release frees the CID, the
# bound process's exit ends its lease).
. "$(dirname "$0")/../daemon-lib.sh"

if [[ -z ${VSOCKNS_PREVIOUS_VSOCKNSD:-} ]]; then
    echo "SKIP: the earlier builds could not be made (tests/vm/build-previous): ${VSOCKNS_PREVIOUS_PROBLEM:-unknown}"
    exit 77
fi
dropin=/run/systemd/system/vsocknsd.service.d/60-previous.conf
defer "rm -f $dropin; systemctl daemon-reload; systemctl restart vsocknsd"
main_exe() { readlink "/proc/$(systemctl show -P MainPID vsocknsd)/exe"; }
# Every lease's namespace, CID, owner and reserved flag, as one checksum
# (73 leases) and their count.
leases() {
    $ctl leases --json | grep -E '"(namespace|cid|owner|reserved)"' | tr -d ' \n' | md5sum | cut -c1-16
    $ctl leases --json | grep -c '"cid"'
}
names() { $ctl list --json | grep -o '"name":"up-[^"]*"' | cut -d'"' -f4 | sort | xargs; }

for old in $VSOCKNS_PREVIOUS_VSOCKNSD; do
    commit=${old##*/vsocknsd-}
    commit=${commit:0:12}
    mkdir -p "$(dirname "$dropin")"
    printf '[Service]\nExecStart=\nExecStart=%s\n' "$old" >"$dropin"
    systemctl daemon-reload
    systemctl restart vsocknsd
    expect_eq "$commit: the unit runs the old build" "$old" "$(main_exe)"

    create up-l local
    create up-g global
    # 70 reserved leases in one namespace: more than one vault (64) holds.
    for cid in $(seq 100 169); do
        $ctl acquire --cid "$cid" --owner "vault-$cid" up-l >/dev/null || fail "$commit: acquire $cid"
    done
    expect_eq "$commit: advisory lease" 71 "$($ctl acquire --cid 71 --no-reserve --owner libvirt:vm1 up-l)"
    expect_eq "$commit: reserved lease in the global namespace" 72 "$($ctl acquire --cid 72 --owner glob up-g)"
    $ctl exec up-l --cid 73 --owner bound -- sleep 1000 &
    sleeper=$!
    defer "kill $sleeper 2>/dev/null"
    for _ in $(seq 100); do $ctl leases up-l | grep_q bound && break; sleep 0.1; done
    before=$(leases) names_before=$(names)
    expect_eq "$commit: leases before the upgrade" 73 "$($ctl leases --json | grep -c '"cid"')"
    since=$(date '+%Y-%m-%d %H:%M:%S')

    rm -f "$dropin"
    systemctl daemon-reload
    systemctl restart vsocknsd
    expect_eq "$commit: the unit runs this build after the upgrade" /usr/libexec/vsocknsd "$(main_exe)"
    expect_eq "$commit: namespaces kept" "$names_before" "$(names)"
    expect_eq "$commit: leases kept, the same" "$before" "$(leases)"
    expect_eq "$commit: no lease dropped at the upgrade" "" \
        "$(journalctl -u vsocknsd --since "$since" -o cat | grep 'Dropping lease')"
    expect_eq "$commit: 72 reserved leases re-adopted with their fd from the fd store" \
        "Re-adopted 73 leases, 72 of them with their fd from the fd store" \
        "$(journalctl -u vsocknsd --since "$since" -o cat | grep -E '^Re-adopted [0-9]+ leases' | tail -1)"
    held=$(in_ns up-l "$tools/vhost-cid" $(seq 100 169) 73 | grep -c '^EADDRINUSE$')
    expect_eq "$commit: the kernel holds every reserved CID of up-l" 71 "$held"
    expect_eq "$commit: the kernel holds 72 in the global space" EADDRINUSE "$(cid_probe host 72)"

    # The leases still work under the new build.
    $ctl release up-l 100 >/dev/null
    expect_eq "$commit: released after the upgrade: CID free" OK "$(cid_probe up-l 100)"
    kill "$sleeper"
    for _ in $(seq 100); do $ctl leases up-l | grep_q bound || break; sleep 0.1; done
    expect_eq "$commit: the bound lease ended with its process" "" "$($ctl leases up-l | grep -w bound)"
    expect_eq "$commit: kernel: 73 free" OK "$(cid_probe up-l 73)"
    # A restart of this build from what the upgrade left: nothing lost either.
    before=$(leases)
    systemctl restart vsocknsd
    expect_eq "$commit: leases kept across a restart after the upgrade" "$before" "$(leases)"
    $ctl delete --force up-l >/dev/null
    $ctl delete --force up-g >/dev/null
    expect_eq "$commit: every CID free once deleted" OK "$(cid_probe host 72)"
done
finish
