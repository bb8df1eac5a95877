#!/bin/bash
# Non-root callers under polkit (the real polkitd, activated on the system
# bus), with the shipped example rules: anyone may read, but sees other
# users' leases and a namespace's sockets only where it may manage them
# (need to know); a plain user is denied every change with a named error and nothing changes; a member of
# "vsockns" may do everything; a member of "vsockns-tenant1" may lease in
# tenant1 only; the per-uid quota stops a user at the limit; users release
# their own leases, not root's; with polkitd stopped and masked, deny.
. "$(dirname "$0")/../daemon-lib.sh"

for g in vsockns vsockns-tenant1; do groupadd -f "$g"; done
useradd -M -N pk-plain; useradd -M -N -G vsockns pk-ops; useradd -M -N -G vsockns-tenant1 pk-tenant
useradd -M -N -G vsockns-tenant1 pk-tenant-b
install -m 0644 /usr/share/doc/vsockns/examples/50-vsockns-example.rules /etc/polkit-1/rules.d/
mkdir -p /etc/vsockns
printf 'NamespacesPerUser=2\nLeasesPerUser=3\nLeasesPerNamespace=4\n' >/etc/vsockns/vsocknsd.conf
defer "rm -f /etc/vsockns/vsocknsd.conf /etc/polkit-1/rules.d/50-vsockns-example.rules"
systemctl restart vsocknsd polkit

# as USER METHOD SIGNATURE ARGS...: a Manager call as USER, no interaction.
as() {
    local user=$1
    shift
    runuser -u "$user" -- busctl --allow-interactive-authorization=no call org.vsockns1 /org/vsockns1 \
        org.vsockns1.Manager "$@" 2>&1
}
denied() { [[ $1 == *"Not authorized"* || $1 == *"authentication is required"* ]] && echo yes || echo "no: $1"; }
state() { ls -1 /run/netns; cat /run/vsockns/namespaces.json; ls /run/vsockns/leases 2>/dev/null; $ctl leases --json; }

create tenant1 local
create tenant2 local
root_cid=$($ctl acquire tenant1)
before=$(state)
# nsprop USER PROPERTY: a property of tenant1's object, read as USER.
nsprop() { runuser -u "$1" -- busctl get-property org.vsockns1 /org/vsockns1/namespace/tenant1 org.vsockns1.Namespace "$2" 2>&1; }
for u in pk-plain pk-tenant; do
    expect_eq "$u reads ListNamespaces" yes "$(as "$u" ListNamespaces | grep_q '"tenant1"' && echo yes)"
    expect_eq "$u reads LeaseCount" "u 1" "$(nsprop "$u" LeaseCount)"
done
# Need to know: root's lease in tenant1 is shown to pk-tenant, who may
# manage tenant1 (the example rule), not to pk-plain, in every path.
expect_eq "pk-plain: ListLeases of tenant1 hides root's lease" "a(susbt) 0" "$(as pk-plain ListLeases s tenant1)"
expect_eq "pk-plain: ListLeases of all hides it" "a(susbt) 0" "$(as pk-plain ListLeases s '')"
expect_eq "pk-plain: the Leases property hides it" "a(usbt) 0" "$(nsprop pk-plain Leases)"
expect_eq "pk-tenant: ListLeases of tenant1 shows it" yes \
    "$(as pk-tenant ListLeases s tenant1 | grep_q "\"tenant1\" $root_cid " && echo yes)"
expect_eq "pk-tenant: the Leases property shows its own only, whatever was asked" "a(usbt) 0" "$(nsprop pk-tenant Leases)"
expect_eq "pk-tenant: ListSockets of tenant1 allowed" yes "$(as pk-tenant ListSockets s tenant1 | grep_q "^a(ssuuuut)" && echo yes)"
expect_eq "pk-plain: CreateNamespace denied" yes "$(denied "$(as pk-plain CreateNamespace ssa{sv} pk-x local 0)")"
expect_eq "pk-plain: DeleteNamespace denied" yes "$(denied "$(as pk-plain DeleteNamespace sb tenant2 false)")"
expect_eq "pk-plain: CheckIsolation denied" yes "$(denied "$(as pk-plain CheckIsolation sa{sv} tenant1 0)")"
expect_eq "pk-plain: ListSockets of tenant1 denied" yes "$(denied "$(as pk-plain ListSockets s tenant1)")"
expect_eq "pk-plain: ListSockets of .host allowed (as ss)" yes "$(as pk-plain ListSockets s .host | grep_q "^a(ssuuuut)" && echo yes)"
expect_eq "pk-ops: CheckIsolation allowed (group vsockns)" yes "$(as pk-ops CheckIsolation sa{sv} tenant1 0 | grep_q "^ssa(ssbbs) \"local\" \"local\" 4 " && echo yes)"
expect_eq "pk-plain: AcquireLease denied" yes "$(denied "$(as pk-plain AcquireLease susa{sv} tenant1 0 vm 0)")"
expect_eq "pk-tenant: lease in tenant2 denied" yes "$(denied "$(as pk-tenant AcquireLease susa{sv} tenant2 0 vm 0)")"
expect_eq "pk-tenant: CreateNamespace denied" yes "$(denied "$(as pk-tenant CreateNamespace ssa{sv} pk-x local 0)")"
expect_eq "pk-tenant: releasing root's lease denied" yes "$(denied "$(as pk-tenant ReleaseLease su tenant1 "$root_cid")")"
# No oracle of who holds which CID: a leased CID and a free one get the
# same answer from BindLease and from ReleaseLease, and CidInUse names
# no other user's lease.
taken=$(as pk-plain BindLease sua{sv} tenant1 "$root_cid" 1 BindPID u $$)
free=$(as pk-plain BindLease sua{sv} tenant1 4000 1 BindPID u $$)
expect_eq "pk-plain: BindLease of a leased and of a free CID, one answer" yes \
    "$([[ $taken == *"holds no lease of CID $root_cid in tenant1"* && $free == *"holds no lease of CID 4000 in tenant1"* ]] && echo yes || echo "no: $taken / $free")"
expect_eq "pk-plain: ReleaseLease of a free CID denied too" yes "$(denied "$(as pk-plain ReleaseLease su tenant1 4000)")"
out=$(as pk-tenant AcquireLease susa{sv} tenant1 "$root_cid" vm-x 1 HandOut b false)
expect_eq "pk-tenant: CidInUse names no other user's lease" yes \
    "$([[ $out == *"leased to another user in this CID space"* && $out != *"uid 0"* ]] && echo yes || echo "no: $out")"
# vsocknsctl on a terminal allows interactive authorization (and starts
# pkttyagent): polkit is asked to prompt rather than told not to.
out=$(runuser -u pk-plain -- vsocknsctl create pk-y </dev/null 2>&1)
expect_eq "vsocknsctl off a terminal: not interactive" yes \
    "$([[ $out == *"authentication is required; ask again allowing interactive authorization"* ]] && echo yes || echo "no: $out")"
out=$(echo | timeout 60 script -qec "runuser -u pk-plain -- vsocknsctl create pk-y" /dev/null 2>&1)
expect_eq "vsocknsctl on a terminal: interactive" yes \
    "$([[ $out == *"Not authorized for org.vsockns1.manage-namespaces: polkit said no"* ]] && echo yes || echo "no: $out")"
expect_eq "denials changed nothing" yes "$([[ $before == "$(state)" ]] && echo yes)"
expect_eq "journal: denials logged" yes "$(journalctl -u vsocknsd -b | grep_q 'Denied org.vsockns1.manage-namespaces' && echo yes)"

# The tenant leases in tenant1 (HandOut false: nothing to bind), up to its quota.
for i in 1 2 3; do
    out=$(as pk-tenant AcquireLease susa{sv} tenant1 0 "vm$i" 1 HandOut b false)
    expect_eq "pk-tenant: lease $i in tenant1" yes "$([[ $out == 'uh '* ]] && echo yes || echo "no: $out")"
done
out=$(as pk-tenant AcquireLease susa{sv} tenant1 0 vm4 1 HandOut b false)
expect_eq "pk-tenant: quota" yes "$([[ $out == *"already has 3 leases, its quota (LeasesPerUser="* ]] && echo yes || echo "no: $out")"
out="$(as pk-plain ListLeases s '') $(as pk-plain ListLeases s tenant1) $(runuser -u pk-plain -- vsocknsctl leases 2>&1)"
expect_eq "pk-plain sees no tenant owner label" no "$(grep -qE '"vm[123]"| vm[123]$' <<<"$out" && echo yes || echo no)"
expect_eq "vsocknsctl as pk-plain: counted, not shown" yes \
    "$(runuser -u pk-plain -- vsocknsctl leases 2>&1 | grep_q '^4 more not shown' && echo yes)"
cid=$($ctl leases --json tenant1 | tr -d ' \n' | grep -o '"cid":[0-9]*,"owner":"vm1"' | grep -o '[0-9]*' | head -1)
expect_eq "pk-tenant releases its own lease" "" "$(as pk-tenant ReleaseLease su tenant1 "$cid")"
# A tenant is a group: its members share tenant1's own quota
# (LeasesPerNamespace=4, users but root), whatever each one's is.
for i in 1 2; do
    out=$(as pk-tenant-b AcquireLease susa{sv} tenant1 0 "b$i" 1 HandOut b false)
    expect_eq "pk-tenant-b: lease $i in tenant1" yes "$([[ $out == 'uh '* ]] && echo yes || echo "no: $out")"
done
out=$(as pk-tenant-b AcquireLease susa{sv} tenant1 0 b3 1 HandOut b false)
expect_eq "pk-tenant-b: tenant1's own quota" yes \
    "$([[ $out == *"Namespace 'tenant1' already has 4 leases of users other than root, its quota (LeasesPerNamespace="* ]] && echo yes || echo "no: $out")"
for o in b1 b2; do
    cid=$($ctl leases --json tenant1 | tr -d ' \n' | grep -o "\"cid\":[0-9]*,\"owner\":\"$o\"" | grep -o '[0-9]*' | head -1)
    expect_eq "pk-tenant-b releases $o" "" "$(as pk-tenant-b ReleaseLease su tenant1 "$cid")"
done
# A handed-out device is bound to a process of the caller's only.
out=$(as pk-tenant AcquireLease susa{sv} tenant1 0 vm 1 BindPID u 1)
expect_eq "pk-tenant cannot bind a lease to PID 1" yes \
    "$([[ $out == *"is not yours"* ]] && echo yes || echo "no: $out")"
# The libvirt hook's labels are root's: the hook matches its leases by them.
out=$(as pk-tenant AcquireLease susa{sv} tenant1 0 "libvirt:1b4e28ba-2fa1-11d2-883f-0016d3cca427:web" 1 HandOut b false)
expect_eq "pk-tenant cannot lease under a libvirt: label" yes \
    "$([[ $out == *"labels beginning 'libvirt:' are the libvirt hook's"* ]] && echo yes || echo "no: $out")"

# The host's CID space: a rule granting manage-leases in a global
# namespace does not reach it; manage-global-leases is asked too.
create pk-glob global
cat >/etc/polkit-1/rules.d/60-pk-glob.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id == "org.vsockns1.manage-leases" && action.lookup("namespace") == "pk-glob" &&
        action.lookup("space") == "host" && subject.user == "pk-tenant")
        return polkit.Result.YES;
});
RULES
defer "rm -f /etc/polkit-1/rules.d/60-pk-glob.rules"
# polkitd reads a new rules file a moment after it appears.
for _ in $(seq 30); do
    out=$(as pk-tenant AcquireLease susa{sv} pk-glob 0 vm 0)
    [[ $out == *"org.vsockns1.manage-global-leases"* ]] && break
    sleep 1
done
expect_eq "pk-tenant: a lease in a global namespace needs manage-global-leases" yes \
    "$([[ $out == *"Not authorized for org.vsockns1.manage-global-leases"* ]] && echo yes || echo "no: $out")"
out=$(as pk-tenant AcquireLease susa{sv} .host 0 vm 0)
expect_eq "pk-tenant: and so does one in .host" yes "$(denied "$out")"
expect_eq "pk-tenant: nothing leased in the host's space" "" "$($ctl leases --json pk-glob | grep -o '"owner"')"

# The vsockns group may do everything, within its quota.
expect_eq "pk-ops creates ops1" yes "$([[ $(as pk-ops CreateNamespace ssa{sv} ops1 local 0) == o* ]] && echo yes)"
expect_eq "pk-ops creates ops2" yes "$([[ $(as pk-ops CreateNamespace ssa{sv} ops2 global 0) == o* ]] && echo yes)"
out=$(as pk-ops CreateNamespace ssa{sv} ops3 local 0)
expect_eq "pk-ops: namespace quota" yes "$([[ $out == *"already has 2 namespaces"* ]] && echo yes || echo "no: $out")"
# Binding is the lease user's own (or root's): manage-foreign-leases
# releases other users' leases, it does not bind them, and polkit is not
# asked.
out=$(as pk-ops BindLease sua{sv} tenant1 "$root_cid" 1 BindPID u $$)
expect_eq "pk-ops cannot bind root's lease" yes \
    "$([[ $out == *"only a lease's user or root may bind it"* ]] && echo yes || echo "no: $out")"
expect_eq "pk-ops releases root's lease (manage-foreign-leases)" "" "$(as pk-ops ReleaseLease su tenant1 "$root_cid")"
expect_eq "pk-ops deletes ops1" "" "$(as pk-ops DeleteNamespace sb ops1 false)"
out=$(as pk-ops AcquireLease susa{sv} pk-glob 0 vm 1 HandOut b false)
expect_eq "pk-ops leases in a global namespace (both actions granted)" yes "$([[ $out == 'uh '* ]] && echo yes || echo "no: $out")"

# Force is foreign: a user granted manage-namespaces (and manage-leases) for
# one namespace only may not end root's lease there with a forced delete;
# with its own leases only, it may. The rule grants only when polkit is told
# whether the delete is forced.
useradd -M -N pk-nsadmin
cat >/etc/polkit-1/rules.d/60-pk-nsadmin.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (subject.user != "pk-nsadmin" || action.lookup("namespace") != "pk-forced")
        return polkit.Result.NOT_HANDLED;
    if (action.id == "org.vsockns1.manage-leases")
        return polkit.Result.YES;
    if (action.id == "org.vsockns1.manage-namespaces" && action.lookup("verb") == "delete" &&
        (action.lookup("force") == "true" || action.lookup("force") == "false"))
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
RULES
defer "rm -f /etc/polkit-1/rules.d/60-pk-nsadmin.rules"
systemctl restart polkit
create pk-forced local
forced_cid=$($ctl acquire --owner root-vm pk-forced)
out=$(as pk-nsadmin DeleteNamespace sb pk-forced true)
expect_eq "pk-nsadmin: forced delete over root's lease denied (manage-foreign-leases)" yes \
    "$([[ $out == *"Not authorized for org.vsockns1.manage-foreign-leases"* ]] && echo yes || echo "no: $out")"
expect_eq "pk-nsadmin: root's lease stays" root-vm "$($ctl leases pk-forced | awk -v c="$forced_cid" 'NR > 1 && $2 == c { print $NF }')"
out=$(as pk-nsadmin DeleteNamespace sb pk-forced false)
expect_eq "pk-nsadmin: unforced delete is NamespaceBusy (the namespace right holds)" yes \
    "$([[ $out == *"has 1 CID lease"* ]] && echo yes || echo "no: $out")"
$ctl release pk-forced "$forced_cid" >/dev/null
out=$(as pk-nsadmin AcquireLease susa{sv} pk-forced 0 own-vm 1 HandOut b false)
expect_eq "pk-nsadmin leases in pk-forced" yes "$([[ $out == 'uh '* ]] && echo yes || echo "no: $out")"
expect_eq "pk-nsadmin: forced delete over its own lease only" "" "$(as pk-nsadmin DeleteNamespace sb pk-forced true)"
expect_eq "pk-nsadmin: pk-forced is gone" 4 "$($ctl show pk-forced >/dev/null 2>&1; echo $?)"

# On a terminal vsocknsctl has polkit ask a person (pkttyagent, as machinectl):
# an administrator's password (the sudo group is polkit's admin identity
# here) lets the plain user create a namespace; a wrong one does not.
useradd -m -N pk-term; useradd -M -N -G sudo pk-admin
echo 'pk-admin:vsockns-test-pw' | chpasswd
# PASSWORD CMD...: CMD as pk-term on a pty, PASSWORD typed once the agent
# asks for it. Not earlier: a line typed before the prompt is lost (the
# agent starts reading only then; with polkitd activated by this very call,
# as on Debian unstable, that can take 10 s), and the agent then waits.
on_terminal() {
    local pw=$1 out fifo runner w
    shift
    out=$(mktemp) fifo=$(mktemp -u)
    mkfifo "$fifo"
    timeout 120 systemd-run --quiet --uid=pk-term --pty -p PAMName=login --wait "$@" <"$fifo" >"$out" 2>&1 &
    runner=$!
    exec {w}>"$fifo"
    for _ in $(seq 500); do grep -q "Password:" "$out" && break; sleep 0.2; done
    sleep 0.5
    echo "$pw" >&"$w"
    wait "$runner"
    exec {w}>&-
    cat "$out"
    rm -f "$out" "$fifo"
}
out=$(on_terminal wrong-password vsocknsctl create pk-term-a)
expect_eq "terminal, wrong password: asked, then denied" yes \
    "$([[ $out == *"Authenticating as: pk-admin"* && $out == *"Not authorized"* ]] && echo yes || echo "no: $out")"
expect_eq "terminal, wrong password: nothing made" 4 "$($ctl show pk-term-a >/dev/null 2>&1; echo $?)"
out=$(on_terminal vsockns-test-pw vsocknsctl create pk-term-b)
expect_eq "terminal, admin password: asked and authorized" yes \
    "$([[ $out == *"AUTHENTICATION COMPLETE"* && $out == *"Created local namespace 'pk-term-b'"* ]] && echo yes || echo "no: $out")"
expect_eq "terminal: the namespace exists" local "$($ctl show --json pk-term-b | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
$ctl delete pk-term-b >/dev/null

# The stuck agent (finding 1 of the tenant-safety issue): pk-term's own
# agent never answers (its terminal's input stays open, nobody types), and
# pk-term sends 300 interactive calls, 60 unanswered at a time: fewer than
# the fair queue keeps per sender (64) and the bus's pending replies per
# connection (128), so every refusal comes from vsocknsd's polkit caps and
# none is lost to the other two. One of its questions is out at a time,
# the other 299 get LimitsExceeded at once, each naming the per-user
# interactive limit; pk-ops, whom a rule allows, is answered while
# pk-term's question is still out. When pk-term leaves the bus, vsocknsd
# cancels its question in polkit. All of it happens well within the 90 s
# a question may wait.
flood=$(mktemp) fifo=$(mktemp -u) cancels=$(mktemp)
mkfifo "$fifo"
timeout 300 systemd-run --quiet --uid=pk-term --pty -p PAMName=login --wait bash -c "
    n=\$(mktemp -u); mkfifo \$n
    pkttyagent --fallback --notify-fd 3 3>\$n &
    cat \$n >/dev/null; rm -f \$n
    exec $VSOCKNS_BUILD_ROOT/tests/vm/polkit-flood pk-flood 300 60" <"$fifo" >"$flood" 2>&1 &
flooder=$!
exec {w}>"$fifo"
for _ in $(seq 300); do [[ $(grep -c "^reply " "$flood") -ge 299 ]] && break; sleep 0.2; done
for _ in $(seq 300); do grep_q "Authenticating as" "$flood" && break; sleep 0.2; done
expect_eq "stuck agent: 299 of 300 calls answered at once" 299 "$(grep -c "^reply " "$flood")"
expect_eq "stuck agent: each refused for the per-user limit on interactive questions" 299 \
    "$(grep -c "^reply [0-9]* org.freedesktop.DBus.Error.LimitsExceeded uid $(id -u pk-term) has reached its limit of 1 open interactive authorization questions" "$flood")"
expect_eq "stuck agent: one question reached pk-term's agent" yes "$(grep_q "Authenticating as" "$flood" && echo yes)"
out=$(as pk-ops CreateNamespace ssa{sv} pk-victim local 0)
expect_eq "stuck agent: pk-ops answered meanwhile" yes "$([[ $out == o* ]] && echo yes || echo "no: $out")"
expect_eq "stuck agent: pk-term's question still out then" "" "$(grep "all answered" "$flood")"
stdbuf -oL busctl monitor --match "type='method_call',member='CancelCheckAuthorization'" >"$cancels" 2>&1 &
monitor=$!
for _ in $(seq 100); do grep_q "Monitoring bus message stream" "$cancels" && break; sleep 0.1; done
pkill -u pk-term -x polkit-flood
for _ in $(seq 300); do grep_q "CancelCheckAuthorization" "$cancels" && break; sleep 0.2; done
expect_eq "stuck agent: pk-term left the bus, its question cancelled in polkit" yes \
    "$(grep_q "Member=CancelCheckAuthorization" "$cancels" && echo yes || echo "no: $(cat "$cancels")")"
kill "$monitor"
exec {w}>&-
wait "$flooder"
expect_eq "stuck agent: nothing made for pk-term" "" "$($ctl list | grep pk-flood)"
$ctl delete pk-victim >/dev/null
rm -f "$flood" "$fifo" "$cancels"

# Big messages: 40 calls of 100,000 "Parent" options each (about 3 MB a
# call), all sent at once by a user with no rights. Each is refused by the
# fair queue before vsocknsd keeps it (it weighs more than a call may),
# so none waits for its turn or for polkit; once vsocknsd is idle again
# (idle-trim.h), its RSS is back where it was.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$(systemctl show -P MainPID vsocknsd)/status"; }
rss_before=$(rss)
big=$(mktemp)
runuser -u pk-plain -- "$VSOCKNS_BUILD_ROOT/tests/vm/polkit-flood" pk-big 40 40 100000 >"$big" 2>&1
echo "big calls: the answers: $(awk '$1 == "reply" { print $3 }' "$big" | sort | uniq -c | xargs); the last lines:"
tail -n 3 "$big" | cut -c1-300
# Each is answered, and none by a method handler (which would have said
# InvalidOption: "Parent" given twice): vsocknsd refuses them as too large
# (or, on a machine so slow that they pile up in the bus, the bus refuses
# some first: the answers are printed above).
expect_eq "big calls: all 40 answered, none handed to a handler" "40 0" \
    "$(grep -c '^reply ' "$big") $(grep -c 'InvalidOption' "$big")"
expect_eq "big calls: vsocknsd's refusal is the too-large one" yes \
    "$(grep_q '^reply [0-9]* org.freedesktop.DBus.Error.LimitsExceeded This call is too large for vsocknsd' "$big" && echo yes || echo "no: $(head -n 3 "$big")")"
for _ in $(seq 60); do (( $(rss) - rss_before < 4096 )) && break; sleep 0.5; done
rss_after=$(rss)
echo "big calls: vsocknsd RSS ${rss_before} kB before, ${rss_after} kB after"
expect_eq "big calls: RSS back within 4 MiB" yes "$( (( rss_after - rss_before < 4096 )) && echo yes || echo "no: $rss_before -> $rss_after kB")"
rm -f "$big"

# polkitd killed while a check waits for a password: the call is answered
# (denied), the daemon stays, nothing is made.
# The terminal's input stays open until the answer is there: systemd-run
# --pty ends only at its end, and an end before the answer would let the
# agent give up on its own.
waiting=$(mktemp) fifo=$(mktemp -u)
mkfifo "$fifo"
timeout 120 systemd-run --quiet --uid=pk-term --pty -p PAMName=login --wait \
    vsocknsctl create pk-term-c <"$fifo" >"$waiting" 2>&1 &
waiter=$!
exec {w}>"$fifo"
for _ in $(seq 300); do grep -q "Authenticating as" "$waiting" && break; sleep 0.2; done
daemon=$(systemctl show -P MainPID vsocknsd)
kill -9 "$(systemctl show -P MainPID polkit)"
for _ in $(seq 300); do grep -q "Not authorized for org.vsockns1.manage-namespaces" "$waiting" && break; sleep 0.2; done
exec {w}>&-
wait "$waiter"
rm -f "$fifo"
out=$(cat "$waiting")
expect_eq "polkitd killed mid-check: the call was answered, denied" yes \
    "$([[ $out == *"Authenticating as"* && ( $out == *"Not authorized"* || $out == *"denied"* || $out == *"ccess"* ) ]] && echo yes || echo "no: $out")"
expect_eq "polkitd killed mid-check: nothing made" 4 "$($ctl show pk-term-c >/dev/null 2>&1; echo $?)"
expect_eq "polkitd killed mid-check: vsocknsd stayed" "$daemon" "$(systemctl show -P MainPID vsocknsd)"

# polkitd stopped and masked: deny, never allow.
systemctl mask --runtime polkit.service >/dev/null 2>&1
systemctl stop polkit
defer "systemctl unmask --runtime polkit.service; systemctl start polkit"
before=$(state)
expect_eq "polkitd gone: pk-ops denied" yes "$(denied "$(as pk-ops DeleteNamespace sb ops2 false)")"
expect_eq "polkitd gone: nothing changed" yes "$([[ $before == "$(state)" ]] && echo yes)"
expect_eq "polkitd gone: root still passes" "" "$(busctl call org.vsockns1 /org/vsockns1 org.vsockns1.Manager DeleteNamespace sb ops2 false 2>&1)"
finish
