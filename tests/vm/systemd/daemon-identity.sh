#!/bin/bash
# vsocknsd knows its namespaces by the fd it holds, never by /run/netns/NAME
# alone: a name swapped behind its back (ip netns del X; ip netns add X while
# the daemon is stopped) is never acted on, and crash recovery leaves alone
# what it cannot prove is its own.
. "$(dirname "$0")/../daemon-lib.sh"

call GetNamespace nothing >/dev/null  # the daemon is up
is_answer() { # KIND OUTPUT: a named error or the right result
    [[ $2 == *"org.vsockns1.Error."*": "* ]] && return 0
    case $1 in
        acquire) [[ $2 == "(uint32 "*", handle "* ]] ;;
        delete) [[ $2 == "()" ]] ;;
        create) [[ $2 == "(objectpath '/org/vsockns1/namespace/"* ]] ;;
    esac
}

for round in 1 2 3 4 5; do
    create sp-x local
    pid=$(systemctl show -P MainPID vsocknsd)
    kill -STOP "$pid"
    ip netns del sp-x
    ip netns add sp-x
    theirs=$(stat -c %i /run/netns/sp-x)
    kill -CONT "$pid"
    # All three at once, while the inotify event may not be handled yet.
    call AcquireLease sp-x 0 "round$round" "@a{sv} {}" >/tmp/sp-acquire &
    call DeleteNamespace sp-x true >/tmp/sp-delete &
    call CreateNamespace sp-x-child local "{'Parent': <'sp-x'>}" >/tmp/sp-create &
    wait
    acquire=$(cat /tmp/sp-acquire) delete=$(cat /tmp/sp-delete) create=$(cat /tmp/sp-create)
    expect_eq "round $round: ip's sp-x still pinned" "$theirs" "$(stat -c %i /run/netns/sp-x 2>/dev/null)"
    cid=3
    [[ $acquire =~ ^\(uint32\ ([0-9]+), ]] && cid=${BASH_REMATCH[1]}
    expect_eq "round $round: CID $cid not reserved in ip's sp-x" OK "$(cid_probe sp-x "$cid")"
    for kind in acquire delete create; do
        expect_eq "round $round: $kind answered with a named error or a result" yes \
            "$(is_answer "$kind" "${!kind}" && echo yes || echo "no: ${!kind}")"
    done
    expect_eq "round $round: sp-x no longer managed" 4 "$($ctl show sp-x >/dev/null 2>&1; echo $?)"
    $ctl delete --force sp-x-child >/dev/null 2>&1
    ip netns del sp-x
done

# Recovery: a pending record (vsocknsd died while creating fr-b) and, meanwhile,
# someone's `ip netns add fr-b`: the next start leaves it alone.
create fr-a local
expect_eq "unit stopped" yes "$(stop_vsocknsd_unit && echo yes)"
defer start_vsocknsd_unit
ip netns add fr-b
defer "ip netns del fr-b"
theirs=$(stat -c %i /run/netns/fr-b)
fr_a=$(stat -c %i /run/netns/fr-a)
cat >/run/vsockns/namespaces.json <<JSON
{ "version": 1, "namespaces": [
  { "name": "fr-a", "mode": "local", "inode": $fr_a },
  { "name": "fr-b", "mode": "local", "pending": true, "placeholder_dev": 1, "placeholder_inode": 12345 } ] }
JSON
start_vsocknsd_unit
expect_eq "fr-a re-adopted" local "$($ctl show --json fr-a | grep -o '"mode":"[^"]*"' | cut -d'"' -f4)"
expect_eq "fr-b not taken over" 4 "$($ctl show fr-b >/dev/null 2>&1; echo $?)"
expect_eq "ip's fr-b left pinned" "$theirs" "$(stat -c %i /run/netns/fr-b)"
expect_eq "journal says it was left alone" yes \
    "$(journalctl -u vsocknsd -b | grep_q 'fr-b is not what vsockns made, leaving it alone' && echo yes)"
expect_eq "no pending record left" no "$(grep -q pending /run/vsockns/namespaces.json && echo yes || echo no)"
finish
