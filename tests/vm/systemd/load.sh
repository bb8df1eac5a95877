#!/bin/bash
# Load: 50 clients make 2,000 mixed calls at once (10,000 with tools/test
# --full), a fifth of them AcquireLease of an automatic reserved CID: every
# call is answered (p50/p99 printed), every CID handed out is distinct and leased (none lost,
# none twice). Three rounds: the first two set the baseline; in the third
# one more client floods vsocknsd with ListLeases calls and never reads a
# reply, and still every call of the 50 is answered, the flooder's replies
# do not pile up in vsocknsd (its peak RSS during the load stays within
# 32 MiB of where it started), and once the leases are gone and vsocknsd
# has been quiet long enough to give its free heap back (idle-trim.h), its
# fds are back to the baseline and its RSS is within 5% of it. (The flood
# round takes about 7 times as long: on one emulated CPU the flood takes
# most of the bus's time.)
. "$(dirname "$0")/../daemon-lib.sh"

# CI's size: the same 50 clients and the same checks, 2,000 calls a round
# (about 4 minutes in all under emulation); tools/test --full: 10,000.
calls_default=2000
[[ -n ${VSOCKNS_BENCH_FULL:-} ]] && calls_default=10000
clients=${VSOCKNS_LOAD_CLIENTS:-50} calls=${VSOCKNS_LOAD_CALLS:-$calls_default}
echo "load: $clients clients, $calls calls a round${VSOCKNS_BENCH_FULL:+ (full size)}"
rss() { awk '/^VmRSS:/ { print $2 }' /proc/"$pid"/status; }
fds() { ls /proc/"$pid"/fd | wc -l; }
# Waits until vsocknsd has used no CPU for 10 s in a row, at most 5 min:
# it gives its free heap back at most 7.5 s after it went quiet (3 s, plus
# one more look if it was busy when the timer fired, plus the timer's
# slack: idle-trim.h). After a flood, the calls the bus had queued for it
# keep it busy for a while after the flooder is gone.
wait_quiet() {
    local last=-1 same=0 t i
    for ((i = 0; i < 300 && same < 10; i++)); do
        t=$(awk '{ print $14 + $15 }' /proc/"$pid"/stat)
        if [[ $t == "$last" ]]; then ((++same)); else same=0 last=$t; fi
        sleep 1
    done
    echo "vsocknsd quiet after ${i} s"
}

create ld1 local
pid=$(systemctl show -P MainPID vsocknsd)
rss0=$(rss)

# round N: the load, its checks, then every lease gone (a bulk drop) and the
# same empty namespace again.
round() {
    local out rc=0 got want leased sampler peak start flood=--no-flood
    [[ ${2:-} == flood ]] && flood=
    start=$(rss)
    # The peak RSS, sampled every 0.2 s while the load runs.
    ( peak=0; while [[ -e /proc/$pid ]]; do r=$(rss); ((r > peak)) && { peak=$r; echo "$peak" >/tmp/load-peak; }
      sleep 0.2; done ) &
    sampler=$!
    out=$("$tools/load-client" ld1 "$clients" "$calls" $flood) || rc=$?
    kill "$sampler"; wait "$sampler" 2>/dev/null
    peak=$(cat /tmp/load-peak)
    sed '/^CIDS$/,$d' <<<"$out"
    echo "round $1: vsocknsd RSS $start kB at the start, peak $peak kB during the load"
    expect_eq "round $1: the flooder's replies do not pile up in vsocknsd (peak RSS < start + 32 MiB)" yes \
        "$(((peak < start + 32768)) && echo yes)"
    expect_eq "round $1: every call of the $clients clients answered" 0 "$rc"
    got=$(sed '1,/^CIDS$/d' <<<"$out" | sort -n)
    want=$((calls / 5))
    expect_eq "round $1: CIDs handed out" "$want" "$(grep -c . <<<"$got")"
    expect_eq "round $1: no CID handed out twice" "$want" "$(uniq <<<"$got" | grep -c .)"
    leased=$($ctl leases ld1 | awk '$1 == "ld1" { print $2 }' | sort -n)
    expect_eq "round $1: every CID handed out is leased, nothing else (none lost)" yes \
        "$([[ $got == "$leased" ]] && echo yes)"
    expect_eq "round $1: vsocknsd is the same process" "$pid" "$(systemctl show -P MainPID vsocknsd)"
    $ctl delete --force ld1 >/dev/null
    create ld1 local
    wait_quiet
}

# The first rounds set the baseline (caches, tables and the allocator grow
# to what this load needs: +1 MiB, then +0.2 MiB here); the last must end
# where the one before did.
round 1
rss_1=$(rss)
round 2
rss1=$(rss) fds1=$(fds)
round 3 flood
rss2=$(rss) fds2=$(fds)
echo "vsocknsd RSS: before any load $rss0 kB, after rounds 1, 2, 3: $rss_1, $rss1, $rss2 kB" \
    "(last/baseline $(awk -v a="$rss1" -v b="$rss2" 'BEGIN { printf "%.3f", b / a }')); fds $fds1 -> $fds2"
expect_eq "fds back to baseline" "$fds1" "$fds2"
echo "after the flood: RSS $rss2 kB against a baseline of $rss1 kB"
expect_eq "RSS after the flood within 5% of baseline" yes "$(awk -v a="$rss1" -v b="$rss2" 'BEGIN { print (b <= a * 1.05) ? "yes" : "no" }')"
finish
