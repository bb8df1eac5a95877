# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Talking to vsocknsd in tests (VM and host): gdbus for calls whose error
# name matters, plus a fingerprint of what exists on the machine.
ctl=${ctl:-vsocknsctl}

# call METHOD ARGS...: a Manager method through gdbus (GVariant text args);
# $call_timeout, if set, is how long it waits for the answer (seconds;
# gdbus's default is 25).
call() {
    local method=$1
    shift
    gdbus call --system --dest org.vsockns1 --object-path /org/vsockns1 ${call_timeout:+--timeout "$call_timeout"} \
        --method "org.vsockns1.Manager.$method" "$@" 2>&1
}

# expect_error ERROR METHOD ARGS...: the call fails with org.vsockns1.Error.ERROR.
expect_error() {
    local want=$1 out
    shift
    out=$(call "$@")
    if [[ $out == *"org.vsockns1.Error.$want:"* ]]; then
        pass "$* -> $want: ${out##*$want: }"
    else
        fail "$* should fail with $want, got: $out"
    fi
}

# create NAME MODE [OPTIONS as GVariant]: must succeed.
create() {
    local out
    out=$(call CreateNamespace "$1" "$2" "${3:-@a{sv\} {\}}")
    if [[ $out == "(objectpath '/org/vsockns1/namespace/"* ]]; then
        defer "$ctl delete --force $1"
        pass "created $2 namespace $1"
    else
        fail "CreateNamespace $1 $2 ${3:-}: $out"
    fi
}

# A fingerprint of what exists: pins, mounts and vsockns's state.
world() {
    ls -1 /run/netns 2>/dev/null
    grep -c ' /run/netns' /proc/self/mountinfo
    cat /run/vsockns/namespaces.json 2>/dev/null
}
