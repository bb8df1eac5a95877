#!/bin/bash
# CheckIsolation while its prober stalls (the vsocknsd-faults build's
# isolation-probe-stall point: the namespace worker running the probe
# stops, as a kernel that never answers would).
# First part, with a probe deadline of 10 minutes so that a slow machine
# sets up every stall before any deadline: the loop serves everything else
# meanwhile; at most 8 probes run at once, so a ninth check gets
# LimitReached at once and starts nothing; one non-root user (allowed by a
# polkit rule) may have 2 of the 8 at once: its third is refused at once,
# and root's still fit. Let go, the 8 probes finish and are answered.
# Second part, with the daemon's own 20 s deadline: a stalled check is
# answered with the named KernelError, its worker killed and reaped (no
# zombie); and a check after that works, on a fresh worker.
. "$(dirname "$0")/../daemon-lib.sh"

use_faults_build --probe-timeout=600
main_pid() { systemctl show -P MainPID vsocknsd; }
# Workers serving a request name themselves vsockns-busy (ns-worker.h).
probers() { pgrep -c -P "$(main_pid)" -x vsockns-busy || true; }
zombies() { ps -o stat= --ppid "$(main_pid)" | grep -c '^Z' || true; }
# A check with a timeout above the deadlines (the first part's stalls last
# until the test lets them go); "as USER" first makes it USER's.
check_call() {
    local as=()
    [[ $1 == as ]] && { as=(runuser -u "$2" --); shift 2; }
    "${as[@]}" gdbus call --system --timeout 900 --dest org.vsockns1 --object-path /org/vsockns1 \
        --method org.vsockns1.Manager.CheckIsolation "$1" "@a{sv} {}" 2>&1
}

create is-a local
dir=$(mktemp -d)
defer "rm -rf $dir"
useradd -M -N is-user
defer "userdel is-user"
cat >/etc/polkit-1/rules.d/60-is-user.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id == "org.vsockns1.manage-namespaces" && subject.user == "is-user")
        return polkit.Result.YES;
});
RULES
defer "rm -f /etc/polkit-1/rules.d/60-is-user.rules"
# polkitd reads a new rules file a moment after it appears.
for _ in $(seq 30); do
    check_call as is-user is-a | grep_q "'local'" && break
    sleep 1
done
expect_eq "is-user may check (its rule is read)" yes "$(check_call as is-user is-a | grep_q "'local'" && echo yes)"

# stalled_check [as USER] NAME: a check whose probe stalls, in the
# background; it returns once its prober is there.
pids=()
stalled_check() {
    local want=$(( $(probers) + 1 ))
    check_call "$@" >"$dir/c$((${#pids[@]} + 1))" &
    pids+=($!)
    for _ in $(seq 600); do
        (( $(probers) >= want )) && break
        sleep 0.1
    done
}
# "+": every probe stalls while the file is there (shared/fault.h).
echo 'isolation-probe-stall+' >/run/vsockns-fault
stalled_check as is-user is-a
stalled_check as is-user is-a
expect_eq "is-user has 2 probers stalled" 2 "$(probers)"
out=$(check_call as is-user is-a)
expect_eq "is-user's third check is refused at once (2 per user)" yes \
    "$([[ $out == *"org.vsockns1.Error.LimitReached: uid $(id -u is-user) has 2 isolation checks under way"* ]] && echo yes || echo "no: $out")"
for i in $(seq 6); do
    stalled_check is-a
done
expect_eq "8 probers stalled (root's fit beside is-user's)" 8 "$(probers)"
out=$(check_call is-a)
expect_eq "a ninth check is refused at once with LimitReached" yes \
    "$([[ $out == *"org.vsockns1.Error.LimitReached: 8 isolation checks are under way"* ]] && echo yes || echo "no: $out")"
expect_eq "and starts no ninth prober" 8 "$(probers)"
expect_eq "the loop answers other calls meanwhile" yes "$($ctl list --json | grep_q '"is-a"' && echo yes)"
expect_eq "the stalled checks are still waiting" 8 "$(for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && echo; done | wc -l)"
expect_eq "the journal names the stall" yes \
    "$(journalctl -b -u vsocknsd --no-pager | grep_q "Fault point isolation-probe-stall reached: stalling" && echo yes)"
rm -f /run/vsockns-fault
wait "${pids[@]}"
echo "a check let go answered: $(head -c 300 "$dir/c1")"
expect_eq "let go, the 8 checks are answered with their reports" 8 \
    "$(grep -l "^('local', 'local', \[('" "$dir"/c* | wc -l)"
rm -f "$dir"/c*

# The daemon's own deadline.
use_faults_build
pids=()
# "*": every probe stalls until killed while the file is there.
echo 'isolation-probe-stall*' >/run/vsockns-fault
stalled_check as is-user is-a
stalled_check is-a
expect_eq "2 probers stalled" 2 "$(probers)"
wait "${pids[@]}"
rm -f /run/vsockns-fault
echo "a stalled check answered: $(cat "$dir/c1")"
expect_eq "the 2 stalled checks end with the named error at the 20 s deadline" 2 \
    "$(grep -l "org.vsockns1.Error.KernelError: The isolation probe of 'is-a' did not finish within 20 s" "$dir"/c* | wc -l)"
for _ in $(seq 100); do
    [[ $(probers) == 0 ]] && break
    sleep 0.1
done
expect_eq "their workers are killed" 0 "$(probers)"
expect_eq "and reaped (no zombie)" 0 "$(zombies)"
expect_eq "a check after that works" yes "$($ctl check is-a | grep_q "Isolation is as expected." && echo yes)"
finish
