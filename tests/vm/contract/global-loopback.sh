#!/bin/bash
# A global child is reachable from the host over vsock loopback (CID 1), and
# the host from it: global namespaces share one vsock world.
. "$(dirname "$0")/../lib.sh"

parent_add ct-gp global
ns_add ct-g ct-gp
expect_eq "ct-g ns_mode" global "$(sysctl_get ct-g ns_mode)"

listen ct-g 2001
expect_reach host 1 2001 ct-g
listen host 2002
expect_reach ct-g 1 2002 host
finish
