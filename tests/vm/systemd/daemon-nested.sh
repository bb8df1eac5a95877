#!/bin/bash
# Option Parent nests a local namespace inside a managed local one; the
# kernel makes it local with a CID space and loopback world of its own.
. "$(dirname "$0")/../daemon-lib.sh"

create np-outer local
create np-glob global
create np-inner local "{'Parent': <'np-outer'>}"
expect_eq "np-inner ns_mode" local "$(sysctl_get np-inner ns_mode)"
expect_eq "np-inner Parent property" 's "np-outer"' \
    "$(busctl get-property org.vsockns1 /org/vsockns1/namespace/np_2dinner org.vsockns1.Namespace Parent)"
listen np-inner 6001
expect_reach np-inner 1 6001 np-inner
expect_no_reach np-outer 1 6001 np-inner
expect_eq "cid 42 in np-outer" OK "$(qemu_hold np-outer 42)"
expect_eq "cid 42 in np-inner (own space)" OK "$(qemu_hold np-inner 42)"

expect_error InvalidParent CreateNamespace np-x local "{'Parent': <'np-glob'>}"
expect_error NoSuchNamespace CreateNamespace np-x local "{'Parent': <'np-nope'>}"
expect_error InvalidMode CreateNamespace np-x global "{'Parent': <'np-outer'>}"
expect_eq "np-x not created" gone "$([[ -e /run/netns/np-x ]] && echo present || echo gone)"
finish
