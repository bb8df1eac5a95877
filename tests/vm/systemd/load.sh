#!/bin/bash
# Load: 50 clients make 10,000 mixed calls (2,000 of them AcquireLease of an
# automatic reserved CID) while one more client floods vsocknsd and never
# reads its replies. The others keep being served (p50/p99 printed), every
# CID handed out is distinct and leased (none lost, none twice), and once
# the leases are gone the daemon's fds and RSS are back to their baseline
# (within 5%).
. "$(dirname "$0")/../daemon-lib.sh"

clients=${VSOCKNS_LOAD_CLIENTS:-50} calls=${VSOCKNS_LOAD_CALLS:-10000}
pid=$(systemctl show -P MainPID vsocknsd)
rss() { awk '/^VmRSS:/ { print $2 }' /proc/"$pid"/status; }
fds() { ls /proc/"$pid"/fd | wc -l; }

create ld1 local
# warm-up: one of each call, then the baseline
c=$($ctl acquire ld1) && $ctl release ld1 "$c" >/dev/null
$ctl leases ld1 >/dev/null; $ctl list >/dev/null
sleep 1
rss0=$(rss) fds0=$(fds)

out=$("$tools/load-client" ld1 "$clients" "$calls")
rc=$?
sed '/^CIDS$/,$d' <<<"$out"
expect_eq "load-client: every call of the 50 answered" 0 "$rc"
got=$(sed '1,/^CIDS$/d' <<<"$out" | sort -n)
want=$((calls / 5))
expect_eq "CIDs handed out" "$want" "$(grep -c . <<<"$got")"
expect_eq "no CID handed out twice" "$want" "$(uniq <<<"$got" | grep -c .)"
leased=$($ctl leases ld1 | awk '$1 == "ld1" { print $2 }' | sort -n)
expect_eq "every CID handed out is leased, nothing else (none lost)" yes "$([[ $got == "$leased" ]] && echo yes)"
expect_eq "vsocknsd is the same process" "$pid" "$(systemctl show -P MainPID vsocknsd)"

# All leases gone (a bulk drop), then the same empty namespace again.
$ctl delete --force ld1 >/dev/null
create ld1 local
sleep 1
rss1=$(rss) fds1=$(fds)
echo "vsocknsd: fds $fds0 -> $fds1, RSS $rss0 -> $rss1 kB ($(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%.3f", b / a }'))"
expect_eq "fds back to baseline" "$fds0" "$fds1"
expect_eq "RSS within 5% of baseline" yes "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { print (b <= a * 1.05) ? "yes" : "no" }')"
finish
