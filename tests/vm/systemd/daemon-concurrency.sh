#!/bin/bash
# 20 parallel CreateNamespace calls next to `ip netns add` from a shell all
# succeed, with exactly one /run/netns mount plus one per namespace; two
# parallel calls for one name: exactly one wins.
. "$(dirname "$0")/../daemon-lib.sh"

call GetNamespace nothing >/dev/null  # make sure the daemon is up
dir=$(mktemp -d)
for i in $(seq 1 20); do
    call CreateNamespace "cc-$i" "$([[ $((i % 2)) == 0 ]] && echo local || echo global)" "@a{sv} {}" >"$dir/d$i" &
    defer "$ctl delete cc-$i"
done
for i in $(seq 1 10); do
    ip netns add "cc-ip-$i" >"$dir/i$i" 2>&1 &
    defer "ip netns del cc-ip-$i"
done
wait
ok=$(grep -l "objectpath '/org/vsockns1/namespace/cc_2d" "$dir"/d* | wc -l)
expect_eq "parallel CreateNamespace calls that succeeded" 20 "$ok"
expect_eq "ip netns add failures" "" "$(cat "$dir"/i*)"
expect_eq "namespaces vsockns lists" 20 "$($ctl list --json | grep -c '"name":"cc-')"
for i in 2 7 20; do
    want=$([[ $((i % 2)) == 0 ]] && echo local || echo global)
    expect_eq "ns_mode of cc-$i" "$want" "$(sysctl_get "cc-$i" ns_mode)"
done

pins=$(ls /run/netns | wc -l)
expect_eq "mounts on /run/netns itself" 1 "$(awk '$5 == "/run/netns"' /proc/self/mountinfo | wc -l)"
# One pin per namespace mounted on /run/netns. (Where /run/netns, bound
# onto itself, is in the same peer group as /run -- Debian unstable's
# systemd -- the kernel also propagates each pin onto /run, hidden below
# /run/netns; ip netns's pins get the same copy. Those are not counted.)
netns_mnt=$(awk '$5 == "/run/netns" { print $1 }' /proc/self/mountinfo)
expect_eq "mounts on /run/netns's mount (one per pin: $pins)" "$pins" \
    "$(awk -v p="$netns_mnt" '$2 == p && $5 ~ "^/run/netns/"' /proc/self/mountinfo | wc -l)"
expect_eq "distinct mount points below /run/netns" "$pins" \
    "$(awk '$5 ~ "^/run/netns/" { print $5 }' /proc/self/mountinfo | sort -u | wc -l)"

call CreateNamespace cc-same local "@a{sv} {}" >"$dir/s1" &
call CreateNamespace cc-same global "@a{sv} {}" >"$dir/s2" &
wait
defer "$ctl delete cc-same"
expect_eq "same-name winners" 1 "$(grep -l objectpath "$dir"/s1 "$dir"/s2 | wc -l)"
expect_eq "same-name losers with NamespaceExists" 1 "$(grep -l NamespaceExists "$dir"/s1 "$dir"/s2 | wc -l)"
finish
