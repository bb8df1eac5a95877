#!/bin/bash
# child_ns_mode is write-once: the first write locks it, the same value is
# accepted again, a different one gives EBUSY; a local namespace cannot ask
# for global children (EPERM).
. "$(dirname "$0")/../lib.sh"

ns_add ct-w1
expect_eq "fresh ct-w1 child_ns_mode" global "$(sysctl_get ct-w1 child_ns_mode)"
expect_eq "ct-w1 := local (first write)" OK "$(sysctl_write ct-w1 child_ns_mode local)"
expect_eq "ct-w1 := local again" OK "$(sysctl_write ct-w1 child_ns_mode local)"
expect_eq "ct-w1 := global after local" EBUSY "$(sysctl_write ct-w1 child_ns_mode global)"
expect_eq "ct-w1 child_ns_mode" local "$(sysctl_get ct-w1 child_ns_mode)"

ns_add ct-w2
expect_eq "ct-w2 := global (first write)" OK "$(sysctl_write ct-w2 child_ns_mode global)"
expect_eq "ct-w2 := local after global" EBUSY "$(sysctl_write ct-w2 child_ns_mode local)"

ns_add ct-w3 ct-w1
expect_eq "ct-w3 ns_mode" local "$(sysctl_get ct-w3 ns_mode)"
expect_eq "ct-w3 (local) := global" EPERM "$(sysctl_write ct-w3 child_ns_mode global)"
expect_eq "ct-w3 child_ns_mode" local "$(sysctl_get ct-w3 child_ns_mode)"
expect_eq "ns_mode is read-only" EACCES "$(sysctl_write ct-w2 ns_mode local 2>&1 | sed 's/^open: //')"
finish
