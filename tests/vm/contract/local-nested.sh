#!/bin/bash
# A child of a local namespace is local, with a CID space of its own.
. "$(dirname "$0")/../lib.sh"

parent_add ct-np local
ns_add ct-n1 ct-np
ns_add ct-n2 ct-n1
expect_eq "ct-n1 ns_mode" local "$(sysctl_get ct-n1 ns_mode)"
expect_eq "ct-n2 ns_mode (child of local ct-n1)" local "$(sysctl_get ct-n2 ns_mode)"
expect_eq "ct-n2 child_ns_mode" local "$(sysctl_get ct-n2 child_ns_mode)"

listen ct-n2 4001
expect_reach ct-n2 1 4001 ct-n2
expect_no_reach ct-n1 1 4001 ct-n2

expect_eq "cid 42 held in ct-n1" OK "$(qemu_hold ct-n1 42)"
expect_eq "cid 42 in ct-n2 (own space)" OK "$(qemu_hold ct-n2 42)"
finish
