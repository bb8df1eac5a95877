#!/bin/bash
# ConnectVsock and `vsocknsctl connect`: a tenant reaches a vsock port inside
# its namespace without root (vsocknsd makes the socket in there). A
# listener inside cv-t (socat on loopback, CID 1) answers a line; a member of
# the tenant's group (a polkit rule for org.vsockns1.connect in cv-t) gets
# the answer after its end of input (half-close); a user outside it is
# denied with connect's exit status and no connection is made; the kernel's
# refusals come back named, each with its exit status (a paused QEMU's CID
# is NoDevice: its guest has not started the device); while the worker
# making the socket stalls, vsocknsd answers other calls, and a stall past
# the deadline is TimedOut.
. "$(dirname "$0")/../daemon-lib.sh"

groupadd -f cv-tenant
useradd -M -N -G cv-tenant cv-a
useradd -M -N cv-plain
defer "userdel cv-a; userdel cv-plain; groupdel cv-tenant"
cat >/etc/polkit-1/rules.d/60-cv.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id == "org.vsockns1.connect" && action.lookup("namespace") == "cv-t" &&
        action.lookup("mode") == "local" && action.lookup("space") == "cv-t" &&
        action.lookup("port") == "1234" && subject.isInGroup("cv-tenant"))
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
RULES
defer "rm -f /etc/polkit-1/rules.d/60-cv.rules"
create cv-t local

# The listener: reads a line, answers it, closes. socat -t: after our end
# of input it waits for the answer as long as it takes (its default gives
# up after 0.5 s, too short for a slow machine), and ends with the shell.
ip netns exec cv-t socat -t 600 VSOCK-LISTEN:1234,fork SYSTEM:'read line; echo "got:$line"' &
defer "kill $!"
for _ in $(seq 300); do ip netns exec cv-t ss -Hl --vsock | grep_q ':1234 ' && break; sleep 0.1; done
expect_eq "listener ready in cv-t" yes "$(ip netns exec cv-t ss -Hl --vsock | grep_q ':1234 ' && echo yes)"
established() { ip netns exec cv-t ss -H --vsock state established | wc -l; }

as_user() { # USER CMD...: with no terminal, so no polkit agent
    local user=$1
    shift
    runuser -u "$user" -- "$@" </dev/null
}
# polkitd reads a new rules file a moment after it appears.
for _ in $(seq 50); do
    out=$(echo ping | runuser -u cv-a -- vsocknsctl connect cv-t 1 1234 2>&1)
    rc=$?
    [[ $rc == 0 ]] && break
    sleep 0.2
done
expect_eq "tenant: connect, answer after its half-close" "0 got:ping" "$rc $out"
expect_eq "journal: the connect logged with the uid" yes \
    "$(journalctl -u vsocknsd -b -o verbose MESSAGE_ID=efe6c05363244f72912d0a6bc66c858a | grep_q "UID=$(id -u cv-a)" && echo yes)"

out=$(echo ping | runuser -u cv-plain -- vsocknsctl connect cv-t 1 1234 2>&1)
rc=$?
expect_eq "outsider: denied (exit 13)" "13 yes" "$rc $([[ $out == *"Not authorized for org.vsockns1.connect"* ]] && echo yes || echo "no: $out")"
expect_eq "outsider: nothing connected" 0 "$(established)"
out=$(as_user cv-plain busctl --allow-interactive-authorization=no call org.vsockns1 /org/vsockns1 \
    org.vsockns1.Manager ConnectVsock suua{sv} .host 1 1234 0 2>&1)
expect_eq "outsider: .host is root's" yes "$([[ $out == *"Only root may connect from the host's own network namespace"* ]] && echo yes || echo "no: $out")"

# The kernel's refusals, named (as root: no polkit).
out=$(vsocknsctl connect cv-t 1 1235 </dev/null 2>&1)
rc=$?
expect_eq "nothing on the port: ConnectionRefused (exit 10)" "10 yes" "$rc $([[ $out == *"refused: nothing listens"* ]] && echo yes || echo "no: $out")"
out=$(vsocknsctl connect cv-t 99 1234 </dev/null 2>&1)
rc=$?
expect_eq "no device with CID 99: NoDevice (exit 12)" "12 yes" "$rc $([[ $out == *"no device with that CID runs"* ]] && echo yes || echo "no: $out")"
expect_error InvalidCid ConnectVsock cv-t 4294967295 1234 "@a{sv} {}"
expect_error NoSuchNamespace ConnectVsock cv-nope 1 1234 "@a{sv} {}"
expect_error InvalidOption ConnectVsock cv-t 1 1234 "{'Colour': <true>}"

# A CID whose device a paused QEMU holds: its guest has not started the
# device, and the kernel says so at once.
$ctl exec cv-t --cid 42 --owner cv-vm -- qemu-system-x86_64 -S -display none -nodefaults -accel tcg -m 64 \
    -device vhost-vsock-pci,guest-cid={cid},vhostfd={fd} &
defer "kill $!"
for _ in $(seq 300); do pgrep -f 'guest-cid=42,vhostfd=' >/dev/null && break; sleep 0.1; done
out=$(vsocknsctl connect cv-t 42 1234 </dev/null 2>&1)
rc=$?
expect_eq "paused guest: NoDevice (exit 12)" "12 yes" "$rc $([[ $out == *"has not started its vsock device"* ]] && echo yes || echo "no: $out")"

# Nothing blocks the loop: the worker making the socket stalls (the
# vsocknsd-faults build's vsock-socket-stall point) until the test lets it
# go (the workers' deadline is 10 minutes for that part); meanwhile
# vsocknsd answers others; then the connect completes. A stall past the
# deadline (3 s in the second part) is TimedOut, named.
use_faults_build --worker-timeout=600
echo 'vsock-socket-stall+' >/run/vsockns-fault
slow=$(mktemp)
(echo ping | vsocknsctl connect cv-t 1 1234 >"$slow" 2>&1; echo "exit $?" >>"$slow") &
waiter=$!
for _ in $(seq 300); do pgrep -x vsockns-busy >/dev/null && break; sleep 0.1; done
out=$(call ListNamespaces)
expect_eq "others served while the socket is being made" "yes yes" \
    "$(grep_q "'cv-t'" <<<"$out" && echo -n yes || echo -n "no: $out"; kill -0 "$waiter" 2>/dev/null && echo " yes" || echo " no: it had ended")"
rm -f /run/vsockns-fault
wait "$waiter"
expect_eq "then the connect completes" "got:ping exit 0" "$(xargs <"$slow")"
use_faults_build --worker-timeout=3
echo vsock-socket-stall >/run/vsockns-fault
out=$(vsocknsctl connect cv-t 1 1234 </dev/null 2>&1)
rc=$?
rm -f /run/vsockns-fault
expect_eq "a stall past the deadline: TimedOut (exit 14)" "14 yes" "$rc $([[ $out == *"no answer in time"* ]] && echo yes || echo "no: $out")"
rm -f "$slow"
finish
