#!/bin/bash
# CreateNamespace while the kernel stalls in the middle of making the
# namespace (the vsocknsd-faults build's create-helper-stall point: the
# namespace worker making it stops until it is killed; pin-stall: the one
# pinning it stops once the bind mount is made). vsocknsd keeps serving everyone else,
# other creations included; the name is taken but shown nowhere; after the
# helper deadline the call fails with a named error, nothing of it is
# left, and the name can be created again. At most 8 creations run at once;
# the others wait their turn. A stop of vsocknsd in the middle of a creation
# answers the caller and leaves nothing either.
#
# The deadline is the test's own (--worker-timeout, faults build only): long
# enough that the steps which must come before it fit on a machine twice as
# slow as usual, where the default 10 s did not.
. "$(dirname "$0")/../daemon-lib.sh"

deadline=25
call_timeout=$((3 * deadline)) # the stalled calls are answered at the deadline
# At debug level vsocknsd logs each creation that waits for its turn.
use_faults_build --log-level=debug --worker-timeout=$deadline
main_pid() { systemctl show -P MainPID vsocknsd; }
# A user the shipped example rules let create ("vsockns" group), with a
# quota of 2 namespaces (used with 8 creations stalled, below).
groupadd -f vsockns
id cs-quota >/dev/null 2>&1 || useradd -M -N -G vsockns cs-quota
install -m 0644 /usr/share/doc/vsockns/examples/50-vsockns-example.rules /etc/polkit-1/rules.d/60-cs-quota.rules
mkdir -p /etc/vsockns
printf 'NamespacesPerUser=2\n' >/etc/vsockns/vsocknsd.conf
defer "rm -f /etc/vsockns/vsocknsd.conf /etc/polkit-1/rules.d/60-cs-quota.rules; systemctl restart polkit"
systemctl restart vsocknsd polkit

dir=$(mktemp -d)
defer "rm -rf $dir"
# stall NAME OUT [POINT]: starts CreateNamespace NAME in the background (its
# pid in $stalled), returns once its worker has stopped at the fault point
# (create-helper-stall unless POINT is given).
stall() {
    echo "${3:-create-helper-stall}" >/run/vsockns-fault
    call CreateNamespace "$1" local "@a{sv} {}" >"$2" &
    stalled=$!
    for _ in $(seq 300); do
        [[ -e /run/vsockns-fault ]] || break
        sleep 0.1
    done
    expect_eq "$1: its worker stalls at ${3:-create-helper-stall} (armed file consumed)" gone \
        "$([[ -e /run/vsockns-fault ]] && echo still-armed || echo gone)"
}
# Workers serving a request name themselves vsockns-busy (ns-worker.h).
helpers() { pgrep -c -P "$(main_pid)" -x vsockns-busy || true; }
not_left() {
    expect_eq "$1: no pin or placeholder left" no "$([[ -e /run/netns/$1 ]] && echo yes || echo no)"
    expect_eq "$1: no record left" no "$(grep -q "\"$1\"" /run/vsockns/namespaces.json && echo yes || echo no)"
}

stall cs-slow "$dir/slow"
slow=$stalled
expect_eq "the stalled helper is a child of vsocknsd" 1 "$(helpers)"
# Beside it, a creation whose second step stalls once the bind mount is
# made (the pin-stall point): at the deadline its worker is killed and the
# pin it made is undone.
stall cs-pin "$dir/pin" pin-stall
pinning=$stalled
expect_eq "cs-pin: the bind mount is there meanwhile" nsfs "$(stat -f -c %T /run/netns/cs-pin)"

# Everything below is answered while the creation waits for the kernel.
out=$(call CreateNamespace cs-fast global "@a{sv} {}")
expect_eq "another creation goes through meanwhile" yes \
    "$([[ $out == "(objectpath '/org/vsockns1/namespace/cs_2dfast'"* ]] && echo yes)"
defer "$ctl delete --force cs-fast"
expect_eq "ns_mode of the namespace made meanwhile" global "$(sysctl_get cs-fast ns_mode)"
expect_eq "the list answers, without the name being created" "cs-fast" \
    "$($ctl list --json | grep -o '"name":"cs-[^"]*"' | cut -d'"' -f4 | xargs)"
expect_error NoSuchNamespace GetNamespace cs-slow
expect_error NoSuchNamespace DeleteNamespace cs-slow true
expect_error NoSuchNamespace AcquireLease cs-slow 0 "x" "@a{sv} {}"
out=$(call CreateNamespace cs-slow global "@a{sv} {}")
expect_eq "the same name again: NamespaceExists, being created" yes \
    "$([[ $out == *NamespaceExists*"being created"* ]] && echo yes)"
expect_eq "NamespaceCount leaves it out" "u 1" \
    "$(busctl get-property org.vsockns1 /org/vsockns1 org.vsockns1.Manager NamespaceCount)"
expect_eq "the stalled CreateNamespace is still waiting after all that" yes \
    "$(kill -0 "$slow" 2>/dev/null && echo yes)"

wait "$slow"
echo "stalled call answered: $(cat "$dir/slow")"
expect_eq "it fails with a named error once the helper deadline passed" yes \
    "$(grep -q "org.vsockns1.Error.KernelError: Creating namespace 'cs-slow' did not finish within $deadline s" "$dir/slow" &&
        echo yes)"
not_left cs-slow
wait "$pinning"
echo "the call whose pin step stalled answered: $(cat "$dir/pin")"
expect_eq "cs-pin: it fails with the named error too" yes \
    "$(grep -q "KernelError: Creating namespace 'cs-pin' did not finish within $deadline s" "$dir/pin" && echo yes)"
not_left cs-pin
expect_eq "the stalled helpers are gone" 0 "$(helpers)"
expect_eq "the journal names the stall" yes \
    "$(journalctl -b -u vsocknsd --no-pager | grep_q "Fault point create-helper-stall reached: stalling" && echo yes)"
create cs-slow local
expect_eq "ns_mode of cs-slow made again" local "$(sysctl_get cs-slow ns_mode)"

# At most 8 helpers at once: with 8 stalled, a ninth creation waits for its
# turn (no ninth helper), everything else is still answered, and it is made
# once the stalled ones have been stopped. The 8 are sent at once, the
# point armed for every helper ('*') until all 8 have stopped at it (the
# journal names each), so the checks below come well before the first
# stall's deadline. vsocknsd's journal of this boot is followed into a
# file (cheaper to look at than a journalctl run each time).
journalctl -b -u vsocknsd -o cat -f -n all --no-pager >"$dir/journal" 2>&1 &
follower=$!
defer "kill $follower"
stalls_seen() { grep -c "Fault point create-helper-stall reached" "$dir/journal" || true; }
seen=$(journalctl -b -u vsocknsd -o cat --no-pager | grep -c "Fault point create-helper-stall reached" || true)
echo 'create-helper-stall*' >/run/vsockns-fault
started=$SECONDS
for i in $(seq 8); do
    call CreateNamespace "cs-st-$i" local "@a{sv} {}" >"$dir/st-$i" &
    pids+=($!)
done
for _ in $(seq 300); do
    (($(stalls_seen) >= seen + 8)) && break
    sleep 0.1
done
rm -f /run/vsockns-fault
expect_eq "8 helpers stalled at once" 8 "$(($(stalls_seen) - seen))"
echo "the 8 stalled $((SECONDS - started)) s after they were sent"
# A ninth creation, then a user allowed to create, with a quota of 2, asks
# for 3 while those wait: calls waiting for their turn count toward the
# quota (and the quota is checked again when a call's turn comes), so 2 are
# made, never 3. Each call is sent once the one before it waits (a
# deadline reached would give a waiting call its turn).
# waiting NAME: "yes" once vsocknsd has logged that CreateNamespace NAME
# waits for its turn, "no" if a stalled creation ended first.
waiting() {
    while kill -0 "${pids[0]}" 2>/dev/null; do
        grep -q "CreateNamespace '$1' waits" "$dir/journal" &&
            { echo yes; return; }
        sleep 0.1
    done
    echo no
}
call CreateNamespace cs-queued global "@a{sv} {}" >"$dir/queued" &
queued=$!
expect_eq "the ninth creation waits for its turn (vsocknsd says so)" yes "$(waiting cs-queued)"
as_quota_user() {
    runuser -u cs-quota -- busctl --timeout="$call_timeout" --allow-interactive-authorization=no call org.vsockns1 /org/vsockns1 \
        org.vsockns1.Manager CreateNamespace 'ssa{sv}' "$1" local 0 >"$2" 2>&1
}
# q1 and q2 wait before q3 is sent.
for q in 1 2; do
    as_quota_user "cs-q$q" "$dir/q$q" &
    qpids+=($!)
    [[ $(waiting "cs-q$q") == yes ]] || echo "cs-q$q was not seen waiting before a stalled creation ended"
done
echo "q3 sent $((SECONDS - started)) s after the first of the 8 stalled creations began"
as_quota_user cs-q3 "$dir/q3"
# Whether the ninth still waits, then whether all 8 stalled calls are still
# unanswered: only if they are had no turn come (each ends $deadline s after it
# began), so only then must the ninth be waiting, and q1 and q2 have been
# waiting as q3 arrived. A machine slow enough to reach a deadline by now is
# told so, not failed.
queued_waiting=$(kill -0 "$queued" 2>/dev/null && echo yes)
still_stalled=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && still_stalled=$((still_stalled + 1)); done
echo "the ninth looked at $((SECONDS - started)) s after the first of the 8 stalled creations began"
if ((still_stalled == 8)); then
    expect_eq "the ninth creation is still waiting" yes "$queued_waiting"
else
    echo "not checked: the ninth creation still waiting ($((8 - still_stalled)) stalled creations" \
         "had ended by then, so the ninth may have had its turn)"
fi
expect_eq "helpers running with 8 stalled and more asked for" 8 "$(helpers)"
expect_eq "the list answers meanwhile" "cs-fast cs-slow" \
    "$($ctl list --json | grep -o '"name":"cs-[^"]*"' | cut -d'"' -f4 | sort | xargs)"
wait "${pids[@]}" "$queued"
expect_eq "the 8 stalled ones failed with the named error" 8 \
    "$(grep -l "KernelError: Creating namespace 'cs-st-.*did not finish within $deadline s" "$dir"/st-* | wc -l)"
expect_eq "the ninth was made once it was its turn" yes \
    "$(grep -q "objectpath '/org/vsockns1/namespace/cs_2dqueued'" "$dir/queued" && echo yes)"
defer "$ctl delete --force cs-queued"
wait "${qpids[@]}"
echo "the user's calls answered: $(cat "$dir"/q1 "$dir"/q2 "$dir"/q3 | tr '\n' ' ')"
# Which two are made is not promised (a deadline reached gives a waiting
# call its turn, in whatever order); that two are, and one is refused
# naming the quota, is.
made=$($ctl list --json | grep -o '"name":"cs-q[0-9]"' | cut -d'"' -f4 | sort | xargs)
expect_eq "the user's namespaces made: 2 of 3 (quota 2)" 2 "$(wc -w <<<"$made")"
expect_eq "the one not made was refused with the quota named" 1 \
    "$(grep -l "already has .*NamespacesPerUser= in /etc/vsockns/vsocknsd.conf" "$dir"/q[123] | wc -l)"
if ((still_stalled == 8)); then
    expect_eq "it was refused on arrival, counting the 2 waiting" yes \
        "$(grep -q "already has 0 namespaces and 2 more waiting to be created" "$dir/q3" && echo yes)"
else
    echo "not checked: refused on arrival ($((8 - still_stalled)) stalled creations had ended by" \
         "the time q3 was answered, so q1/q2 may have had their turn before q3)"
fi
for q in $made; do $ctl delete --force "$q" >/dev/null; done
for i in $(seq 8); do not_left "cs-st-$i"; done
expect_eq "no helper left" 0 "$(helpers)"

# Stopping vsocknsd in the middle of a creation: the caller gets an answer
# and nothing is left for the next start to clean up.
stall cs-stop "$dir/stop"
systemctl restart vsocknsd
wait "$stalled"
echo "call answered at the stop: $(cat "$dir/stop")"
expect_eq "the caller is told vsocknsd stopped" yes \
    "$(grep -q "vsocknsd is stopping: the creation of namespace 'cs-stop' was stopped" "$dir/stop" && echo yes)"
not_left cs-stop
expect_eq "the next start had no interrupted creation to finish" no \
    "$(journalctl -b -u vsocknsd --no-pager | grep_q "cs-stop.*interrupted\|interrupted.*cs-stop" && echo yes || echo no)"
expect_eq "namespaces kept across the restart" "cs-fast cs-queued cs-slow" \
    "$($ctl list --json | grep -o '"name":"cs-[^"]*"' | cut -d'"' -f4 | sort | xargs)"
finish
