#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Who may do what, with the real polkitd on the private bus and the shipped
# policy: root passes without asking; an unprivileged caller can read
# everything, is denied changes with a named error and nothing changes;
# rules can allow it (matching the details vsocknsd passes); the per-uid
# quota stops it at the limit; its own leases it may always release, other
# users' not; with polkitd gone, everything is denied.
. "$(dirname "$0")/private-bus.sh"

polkitd=/usr/lib/polkit-1/polkitd
[[ -x $polkitd ]] || { echo "polkitd not installed ($polkitd): apt-get install polkitd"; exit 1; }
# polkitd reads actions and rules from fixed places: private copies here.
actions=$(mktemp -d) rules=$(mktemp -d)
chmod 755 "$actions" "$rules"
cp /usr/share/polkit-1/actions/* "$actions/" 2>/dev/null
cp "$(dirname "$0")/../../polkit/org.vsockns1.policy" "$actions/"
mount --bind "$actions" /usr/share/polkit-1/actions
mount --bind "$rules" /etc/polkit-1/rules.d
start_polkitd() {
    "$polkitd" --no-debug >>"$bus/polkitd.log" 2>&1 &
    polkitd_pid=$!
    for _ in $(seq 100); do busctl status org.freedesktop.PolicyKit1 >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "polkitd did not come up:"; cat "$bus/polkitd.log"; exit 1
}
start_polkitd
defer 'kill $polkitd_pid'
conf=$(mktemp)
printf 'NamespacesPerUser=2\nLeasesPerUser=2\n' >"$conf"
start_daemon --config="$conf"

# as_nobody CMD...: run as uid 65534 with no groups.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ncall() { # METHOD ARGS: a Manager call as nobody, no interactive authorization
    local method=$1
    shift
    as_nobody busctl --allow-interactive-authorization=no call org.vsockns1 /org/vsockns1 org.vsockns1.Manager \
        "$method" "$@" 2>&1
}
state() { ls -1 /run/netns 2>/dev/null; cat /run/vsockns/namespaces.json; ls /run/vsockns/leases 2>/dev/null; }

create hp-root global
# The lease signals reach anyone who listens: no owner label in them.
busctl monitor --match "type='signal',sender='org.vsockns1',member='LeaseAcquired'" >"$bus/signals.log" 2>&1 &
monitor_pid=$!
defer 'kill $monitor_pid 2>/dev/null'
for _ in $(seq 100); do grep -q Monitoring "$bus/signals.log" && break; sleep 0.05; done
$ctl acquire --cid 50 --no-reserve --owner root-lease hp-root >/dev/null
for _ in $(seq 100); do grep -q 'UINT32 50' "$bus/signals.log" && break; sleep 0.05; done
expect_eq "LeaseAcquired: sent, owner empty" "yes no" \
    "$(grep -A8 'Member=LeaseAcquired' "$bus/signals.log" | grep_q 'STRING "";' && echo -n yes || echo -n no
       grep_q root-lease "$bus/signals.log" && echo " yes" || echo " no")"
kill $monitor_pid
before=$(state)
expect_eq "nobody: ListNamespaces" yes "$(ncall ListNamespaces | grep_q '"hp-root"' && echo yes)"
# Need to know: nobody may not manage hp-root, so root's lease there is
# counted, not shown, in every path.
expect_eq "nobody: ListLeases of all hides root's lease" "a(susbt) 0" "$(ncall ListLeases s '')"
expect_eq "nobody: ListLeases of hp-root hides it" "a(susbt) 0" "$(ncall ListLeases s hp-root)"
expect_eq "root: ListLeases shows it" yes \
    "$(busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager ListLeases s '' | grep_q root-lease && echo yes)"
nsprop() { as_nobody busctl get-property org.vsockns1 "/org/vsockns1/namespace/$1" org.vsockns1.Namespace "$2" 2>&1; }
expect_eq "nobody: the Leases property hides it" "a(usbt) 0" "$(nsprop hp_2droot Leases)"
expect_eq "nobody: LeaseCount counts it" "u 1" "$(nsprop hp_2droot LeaseCount)"
expect_eq "nobody: GetManagedObjects hides it" no \
    "$(as_nobody busctl call org.vsockns1 /org/vsockns1 org.freedesktop.DBus.ObjectManager GetManagedObjects 2>&1 | grep_q root-lease && echo yes || echo no)"
out=$(ncall ListSockets s hp-root)
expect_eq "nobody: ListSockets of hp-root denied" yes \
    "$([[ $out == *"Not authorized to see the sockets of namespace 'hp-root'"* ]] && echo yes || echo "no: $out")"
out=$(as_nobody busctl call org.vsockns1 /org/vsockns1/namespace/hp_2droot org.vsockns1.Namespace ListSockets 2>&1)
expect_eq "nobody: the namespace's ListSockets denied" yes \
    "$([[ $out == *"Not authorized to see the sockets"* ]] && echo yes || echo "no: $out")"
expect_eq "nobody: a property" 's "none"' \
    "$(as_nobody busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager KernelSupport)"
out=$(ncall CreateNamespace ssa{sv} hp-x global 0)
expect_eq "nobody: CreateNamespace needs interactive authorization" yes \
    "$([[ $out == *"authentication is required"* ]] && echo yes || echo "no: $out")"
out=$(as_nobody busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager CreateNamespace ssa{sv} hp-x global 0 2>&1)
expect_eq "nobody, interactive but no agent: denied" yes \
    "$([[ $out == *"Not authorized for org.vsockns1.manage-namespaces: polkit said no"* ]] && echo yes || echo "no: $out")"
out=$(ncall DeleteNamespace sb hp-root true)
expect_eq "nobody: DeleteNamespace denied" yes "$([[ $out == *"Not authorized"* ]] && echo yes || echo "no: $out")"
out=$(ncall AcquireLease susa{sv} hp-root 0 x 1 Reserve b false)
expect_eq "nobody: AcquireLease denied" yes "$([[ $out == *"Not authorized"* ]] && echo yes || echo "no: $out")"
out=$(ncall ReleaseLease su hp-root 50)
expect_eq "nobody: releasing root's lease denied" yes \
    "$([[ $out == *"Not authorized for org.vsockns1.manage-foreign-leases"* ]] && echo yes || echo "no: $out")"
expect_eq "denials changed nothing" yes "$([[ $before == "$(state)" ]] && echo yes)"
expect_eq "journal: denial logged" yes "$(grep -q 'Denied org.vsockns1.manage-namespaces to' "$bus/daemon.log" && echo yes)"

# A rule that matches on the details: nobody may manage namespaces named
# hp-n*, and lease in hp-n1 only (a global namespace: the host's CID space,
# so manage-global-leases is granted too).
cat >"$rules/50-test.rules" <<'RULES'
polkit.addRule(function(action, subject) {
    if (subject.user != "nobody")
        return polkit.Result.NOT_HANDLED;
    if (action.id == "org.vsockns1.manage-namespaces" && action.lookup("namespace").indexOf("hp-n") == 0 &&
        (action.lookup("verb") == "create" ||
         (action.lookup("verb") == "delete" && (action.lookup("force") == "true" || action.lookup("force") == "false"))))
        return polkit.Result.YES;
    if (action.id == "org.vsockns1.manage-leases" && action.lookup("namespace") == "hp-n1" &&
        action.lookup("verb") == "list" && action.lookup("mode") == "global")
        return polkit.Result.YES;
    if ((action.id == "org.vsockns1.manage-leases" || action.id == "org.vsockns1.manage-global-leases") &&
        action.lookup("namespace") == "hp-n1" && action.lookup("verb") == "acquire" &&
        action.lookup("owner") != "" && action.lookup("mode") == "global" && action.lookup("space") == "host")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
RULES
chmod 644 "$rules/50-test.rules"
for _ in $(seq 50); do [[ $(ncall CreateNamespace ssa{sv} hp-n1 global 0) == o* ]] && break; sleep 0.2; done
expect_eq "rule: nobody created hp-n1" yes "$([[ -e /run/netns/hp-n1 ]] && echo yes)"
expect_eq "rule: nobody created hp-n2" yes "$([[ $(ncall CreateNamespace ssa{sv} hp-n2 global 0) == o* ]] && echo yes)"
out=$(ncall CreateNamespace ssa{sv} hp-n3 global 0)
expect_eq "quota: a third namespace is refused" yes \
    "$([[ $out == *"uid 65534 already has 2 namespaces, its quota (NamespacesPerUser="* ]] && echo yes || echo "no: $out")"
out=$(ncall CreateNamespace ssa{sv} hp-other global 0)
expect_eq "rule: another name still denied" yes "$([[ $out == *"Not authorized"* ]] && echo yes || echo "no: $out")"
expect_eq "rule: lease in hp-n1" yes "$([[ $(ncall AcquireLease susa{sv} hp-n1 3 vm-a 1 Reserve b false) == 'uh 3 '* ]] && echo yes)"
expect_eq "rule: lease in hp-n1 (2)" yes "$([[ $(ncall AcquireLease susa{sv} hp-n1 4 vm-b 1 Reserve b false) == 'uh 4 '* ]] && echo yes)"
out=$(ncall AcquireLease susa{sv} hp-n1 5 vm-c 1 Reserve b false)
expect_eq "quota: a third lease is refused" yes \
    "$([[ $out == *"already has 2 leases, its quota (LeasesPerUser="* ]] && echo yes || echo "no: $out")"
out=$(ncall AcquireLease susa{sv} hp-n2 0 vm 1 Reserve b false)
expect_eq "rule: no lease in hp-n2" yes "$([[ $out == *"Not authorized"* ]] && echo yes || echo "no: $out")"
expect_eq "own lease released without asking" "" "$(ncall ReleaseLease su hp-n1 4)"
expect_eq "root's lease still not releasable" yes "$([[ $(ncall ReleaseLease su hp-root 50) == *"Not authorized"* ]] && echo yes)"
expect_eq "root releases nobody's lease" "" "$(busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager ReleaseLease su hp-n1 3 2>&1)"

# Force is foreign: nobody may manage hp-n1, but a forced delete that would
# end root's lease there also needs manage-foreign-leases; over its own
# leases only, it may.
$ctl acquire --cid 60 --no-reserve --owner root-in-n1 hp-n1 >/dev/null
# Need to know: nobody may manage hp-n1 (the "list" rule), so it sees
# root's lease there when it names the namespace; what cannot ask polkit
# (ListLeases of all, the Leases property) shows its own leases only,
# whatever was asked before.
expect_eq "nobody: ListLeases of all, others' not shown" no "$(ncall ListLeases s '' | grep_q root-in-n1 && echo yes || echo no)"
expect_eq "nobody: ListLeases of hp-n1 shows root's lease" yes "$(ncall ListLeases s hp-n1 | grep_q root-in-n1 && echo yes)"
expect_eq "nobody: ListLeaseRecords of hp-n1 too, with its uid" yes \
    "$(ncall ListLeaseRecords s hp-n1 | grep_q '"root-in-n1" false [0-9]* 0' && echo yes)"
out=$(ncall ListLeases s '')
expect_eq "nobody: then ListLeases of all still shows only its own" "no no" \
    "$(grep_q root-in-n1 <<<"$out" && echo -n yes || echo -n no; grep_q root-lease <<<"$out" && echo " yes" || echo " no")"
expect_eq "nobody: and the Leases property" no "$(nsprop hp_2dn1 Leases | grep_q root-in-n1 && echo yes || echo no)"
expect_eq "vsocknsctl as nobody: counted, not shown" yes \
    "$(as_nobody $ctl leases 2>&1 | grep_q '^2 more not shown' && echo yes)"
before=$(state)
out=$(ncall DeleteNamespace sb hp-n1 true)
expect_eq "forced delete over root's lease: denied" yes \
    "$([[ $out == *"Not authorized for org.vsockns1.manage-foreign-leases"* ]] && echo yes || echo "no: $out")"
expect_eq "forced delete over root's lease: nothing changed" yes "$([[ $before == "$(state)" ]] && echo yes)"
out=$(ncall DeleteNamespace sb hp-n1 false)
expect_eq "unforced delete: NamespaceBusy (the namespace right holds)" yes \
    "$([[ $out == *"NamespaceBusy"* || $out == *"has 1 CID lease"* ]] && echo yes || echo "no: $out")"
$ctl release hp-n1 60 >/dev/null
expect_eq "nobody leases in hp-n1 again" yes "$([[ $(ncall AcquireLease susa{sv} hp-n1 7 vm-d 1 Reserve b false) == 'uh 7 '* ]] && echo yes)"
expect_eq "forced delete over its own lease only" "" "$(ncall DeleteNamespace sb hp-n1 true)"
expect_eq "hp-n1 is gone" no "$([[ -e /run/netns/hp-n1 ]] && echo yes || echo no)"
# Both actions allowed: a rule granting manage-foreign-leases for a forced
# delete of hp-n4 that ends exactly one foreign lease.
cat >"$rules/51-foreign.rules" <<'RULES'
polkit.addRule(function(action, subject) {
    if (subject.user == "nobody" && action.id == "org.vsockns1.manage-foreign-leases" &&
        action.lookup("verb") == "delete" && action.lookup("namespace") == "hp-n4" &&
        action.lookup("force") == "true" && action.lookup("foreign_leases") == "1")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
RULES
chmod 644 "$rules/51-foreign.rules"
expect_eq "nobody created hp-n4" yes "$([[ $(ncall CreateNamespace ssa{sv} hp-n4 global 0) == o* ]] && echo yes)"
$ctl acquire --cid 61 --no-reserve --owner root-in-n4 hp-n4 >/dev/null
for _ in $(seq 50); do # until polkitd has read the new rule
    out=$(ncall DeleteNamespace sb hp-n4 true)
    [[ $out != *"Not authorized"* ]] && break
    sleep 0.2
done
expect_eq "forced delete over one foreign lease, both actions allowed" "" "$out"
expect_eq "hp-n4 is gone, root's lease with it" "no no" \
    "$([[ -e /run/netns/hp-n4 ]] && echo yes || echo no) $($ctl leases 2>/dev/null | grep_q root-in-n4 && echo yes || echo no)"

# polkitd gone: deny, never allow, whatever the rules say.
kill "$polkitd_pid"; wait "$polkitd_pid" 2>/dev/null
before=$(state)
out=$(ncall DeleteNamespace sb hp-n2 false)
expect_eq "polkitd gone: denied" yes "$([[ $out == *"polkit could not be asked"* ]] && echo yes || echo "no: $out")"
expect_eq "polkitd gone: nothing changed" yes "$([[ $before == "$(state)" ]] && echo yes)"
expect_eq "root still passes without polkit" "" "$(busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager DeleteNamespace sb hp-n2 false 2>&1)"
[[ -n $daemon_pid ]] && stop_daemon # it must exit cleanly (leaks, under the sanitizers)
finish
