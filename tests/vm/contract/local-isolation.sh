#!/bin/bash
# A local child is reachable only from inside itself: not from the host, not
# from another local namespace, and it cannot reach the host either.
. "$(dirname "$0")/../lib.sh"

parent_add ct-lp local
ns_add ct-a ct-lp
ns_add ct-b ct-lp
expect_eq "ct-a ns_mode" local "$(sysctl_get ct-a ns_mode)"
expect_eq "ct-b ns_mode" local "$(sysctl_get ct-b ns_mode)"

listen ct-a 3001
expect_reach ct-a 1 3001 ct-a
expect_no_reach host 1 3001 ct-a
expect_no_reach ct-b 1 3001 ct-a

listen host 3002
expect_no_reach ct-a 1 3002 host
listen ct-b 3003
expect_no_reach ct-a 1 3003 ct-b
expect_reach ct-b 1 3003 ct-b
finish
