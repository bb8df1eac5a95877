#!/bin/bash
# Reserved leases' fds go into systemd's fd store in vaults (a socket pair
# per VAULT_SIZE = 64 leases of one namespace, the fds queued in it), so
# PID 1 keeps 2 entries per 64 leases instead of one per lease: checked with
# systemd's own count (NFileDescriptorStore). A release rebuilds its vault
# and the CID is free when ReleaseLease returns; kill -9 and systemctl
# restart give every lease back with its fd; deleting a namespace drops its
# vaults whole.
. "$(dirname "$0")/../daemon-lib.sh"

n_store() { systemctl show -P NFileDescriptorStore vsocknsd; }
vhost_fds() { find /proc/"$(systemctl show -P MainPID vsocknsd)"/fd -lname /dev/vhost-vsock 2>/dev/null | wc -l; }
count() { $ctl leases --json "$1" | grep -c '"cid"'; }

create fv-a local
base=$(n_store)
for c in $(seq 3 152); do $ctl acquire --cid "$c" --owner vault fv-a >/dev/null || echo "acquire $c failed"; done
expect_eq "150 leases" 150 "$(count fv-a)"
expect_eq "PID 1's store: 3 vaults of 2 entries for 150 leases" $((base + 6)) "$(n_store)"

expect_eq "release 10" yes "$($ctl release fv-a 10 >/dev/null && echo yes)"
expect_eq "CID 10 free in the kernel when the release returns" OK "$(cid_probe fv-a 10)"
expect_eq "its vault rebuilt: still 3 vaults" $((base + 6)) "$(n_store)"
expect_eq "CID 11 (same vault) still held" EADDRINUSE "$(cid_probe fv-a 11)"

expect_eq "restarted by systemd after kill -9" yes "$(kill9_and_wait_restart && echo yes)"
expect_eq "149 leases after kill -9" 149 "$(count fv-a)"
expect_eq "journal: the vaults came back with every fd" yes \
    "$(journalctl -u vsocknsd -b | grep_q 'fd store: 3 vaults with 149 lease fds' && echo yes)"
expect_eq "vsocknsd holds 149 vhost fds" 149 "$(vhost_fds)"
expect_eq "CID 3 held" EADDRINUSE "$(cid_probe fv-a 3)"
expect_eq "CID 152 held" EADDRINUSE "$(cid_probe fv-a 152)"
expect_eq "CID 10 still free" OK "$(cid_probe fv-a 10)"
expect_eq "store unchanged by the restart" $((base + 6)) "$(n_store)"
# The vaults' writing ends came back from systemd without close-on-exec;
# vsocknsd sets it on what it keeps (not on what it closes at once).
not_cloexec() {
    local pid f n flags
    pid=$(systemctl show -P MainPID vsocknsd)
    for f in /proc/"$pid"/fdinfo/*; do
        n=${f##*/}
        flags=$(awk '/^flags:/ { print $2 }' "$f" 2>/dev/null)
        ((n > 2)) && [[ -n $flags ]] || continue
        (( (8#$flags & 8#2000000) == 0 )) && echo "$n"
    done | wc -l
}
expect_eq "every fd vsocknsd holds after the restart is close-on-exec" 0 "$(not_cloexec)"

systemctl restart vsocknsd
expect_eq "149 leases after systemctl restart" 149 "$(count fv-a)"
expect_eq "vsocknsd holds 149 vhost fds again" 149 "$(vhost_fds)"

create fv-b local
expect_eq "a lease in another namespace" 7 "$($ctl acquire --cid 7 fv-b)"
expect_eq "it gets a vault of its own" $((base + 8)) "$(n_store)"
expect_eq "delete fv-a with its 149 leases" yes "$($ctl delete --force fv-a >/dev/null && echo yes)"
expect_eq "its vaults are gone from the store" $((base + 2)) "$(n_store)"
expect_eq "release 7" yes "$($ctl release fv-b 7 >/dev/null && echo yes)"
expect_eq "the last lease gone: the store is as it was" "$base" "$(n_store)"
expect_eq "CID 7 free" OK "$(cid_probe fv-b 7)"
finish
