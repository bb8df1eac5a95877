#!/bin/bash
# Sizes vsocknsd under systemd to many local namespaces with reserved
# leases (bench/scale-bench): its RSS with that state, and how long a
# restart takes to be ready again with it against with an empty state
# (kill -9, as a crash; systemd restarts it and the fd store gives the
# CIDs back). Restart time is systemd's own record: from forking vsocknsd
# (ExecMainStartTimestamp) to READY=1 (ActiveEnterTimestamp), the median of
# three. Checks only that nothing is lost across the restarts, never a number.
#
# Short by default (100 namespaces x 10 leases: what CI runs);
# VSOCKNS_BENCH_FULL=1 (tools/test --suite bench --full): 1,000 x 10.
. "$(dirname "$0")/../daemon-lib.sh"

if [[ -n ${VSOCKNS_BENCH_FULL:-} ]]; then
    namespaces=1000
else
    namespaces=100
fi
leases=10 total=$((namespaces * leases))
echo "$namespaces local namespaces x $leases reserved leases = $total leases"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(systemctl show -P MainPID vsocknsd)/status"; }
# Running, also when this bench runs alone (the others start it by a call).
systemctl start vsocknsd || { echo "cannot start vsocknsd"; exit 1; }

# restart_ms: kill -9 vsocknsd, wait for systemd's restart to be ready, and
# print how long the new vsocknsd took from its start to READY=1, in ms.
# The figure is systemd's, so the wait looks only once a second: a
# systemctl every 0.1 s costs the one emulated CPU more than the restart
# of an empty state takes, and would slow the restart it watches.
restart_ms() {
    local old new
    old=$(systemctl show -P MainPID vsocknsd)
    [[ $old -gt 0 ]] || { echo "vsocknsd is not running" >&2; return 1; }
    kill -9 "$old"
    for _ in $(seq 300); do
        sleep 1
        new=$(systemctl show -P MainPID vsocknsd)
        [[ $new != 0 && $new != "$old" ]] && systemctl is-active -q vsocknsd && break
    done
    systemctl is-active -q vsocknsd || { echo "vsocknsd did not come back" >&2; return 1; }
    local exec active
    exec=$(systemctl show -P ExecMainStartTimestampMonotonic vsocknsd)
    active=$(systemctl show -P ActiveEnterTimestampMonotonic vsocknsd)
    echo $(((active - exec) / 1000))
}
# median3 CMD: runs CMD three times, prints the median of what it prints.
median3() { for _ in 1 2 3; do "$@" || return 1; done | sort -n | sed -n 2p; }

empty_rss=$(rss)
empty_ms=$(median3 restart_ms)
echo "empty state: vsocknsd RSS $empty_rss kB; restart to ready $empty_ms ms (median of 3)"

"$VSOCKNS_BUILD_ROOT/bench/scale-bench" fill "$namespaces" "$leases"
expect_eq "scale-bench fill exit status" 0 "$?"
full_rss=$(rss)
# What the unit's cgroup holds (against its MemoryMax=): vsocknsd, its
# namespace workers, and the state files it wrote to /run (tmpfs pages are
# charged to their writer, so they count as shmem).
cg=/sys/fs/cgroup$(systemctl show -P ControlGroup vsocknsd)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "cgroup memory with that state: current $(mib "$(cat "$cg/memory.current")") MiB," \
     "peak $(mib "$(cat "$cg/memory.peak" 2>/dev/null || echo 0)") MiB (since the last restart)," \
     "shmem $(mib "$(awk '$1 == "shmem" { print $2 }' "$cg/memory.stat")") MiB; MemoryMax=$(systemctl show -P MemoryMax vsocknsd)"
full_ms=$(median3 restart_ms)
after_rss=$(rss)
echo "with $namespaces namespaces and $total leases: vsocknsd RSS $full_rss kB" \
     "($(awk -v k="$full_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB); restart to ready $full_ms ms" \
     "(median of 3); RSS after the restarts $after_rss kB"
# Where the last restart spent its time (vsocknsd's ready line).
journalctl -u vsocknsd -b -o cat --no-pager | grep 'ready (kernel support' | tail -1
echo "ratio: restart to ready with that state / with an empty state:" \
     "$(awk -v a="$full_ms" -v b="$empty_ms" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }')"
expect_eq "namespaces kept across three kill -9 restarts" "$namespaces" "$($ctl list --json | grep -c '"scb-')"
expect_eq "leases kept across three kill -9 restarts" "$total" "$($ctl leases --json | grep -c '"scale-bench"')"
expect_eq "vhost fds held by vsocknsd" "$total" \
    "$(ls -l "/proc/$(systemctl show -P MainPID vsocknsd)/fd" | grep -c vhost-vsock)"

"$VSOCKNS_BUILD_ROOT/bench/scale-bench" drop "$namespaces" "$leases"
expect_eq "scale-bench drop exit status" 0 "$?"
expect_eq "namespaces left after the bench" 0 "$($ctl list --json | grep -c '"scb-')"
finish
