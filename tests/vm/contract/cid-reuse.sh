#!/bin/bash
# vhost-vsock CIDs: each local namespace is its own CID space, all global
# namespaces and the host share one. A second holder in the same space gets
# EADDRINUSE; the CID is free again once the holder is gone.
. "$(dirname "$0")/../lib.sh"

parent_add ct-clp local
parent_add ct-cgp global
ns_add ct-ca ct-clp
ns_add ct-cb ct-clp
ns_add ct-cg1 ct-cgp
ns_add ct-cg2 ct-cgp

expect_eq "qemu cid 42 in ct-ca" OK "$(qemu_hold ct-ca 42)"
expect_eq "qemu cid 42 in ct-cb (other local space)" OK "$(qemu_hold ct-cb 42)"
expect_eq "second qemu cid 42 in ct-ca" EADDRINUSE "$(qemu_hold ct-ca 42)"
expect_eq "probe cid 42 in ct-ca" EADDRINUSE "$(cid_probe ct-ca 42)"
expect_eq "probe cid 42 in the host (global space)" OK "$(cid_probe host 42)"

expect_eq "qemu cid 77 in ct-cg1" OK "$(qemu_hold ct-cg1 77)"
expect_eq "qemu cid 77 in ct-cg2 (same global space)" EADDRINUSE "$(qemu_hold ct-cg2 77)"
expect_eq "probe cid 77 in the host" EADDRINUSE "$(cid_probe host 77)"
expect_eq "probe cid 77 in local ct-ca" OK "$(cid_probe ct-ca 77)"

# The CID is held exactly as long as an fd to the device is open.
coproc holder { in_ns ct-ca "$tools/vhost-cid" 99 --hold; }
read -r line <&"${holder[0]}"
expect_eq "vhost-cid 99 --hold in ct-ca" HELD "$line"
expect_eq "probe cid 99 in ct-ca while held" EADDRINUSE "$(cid_probe ct-ca 99)"
exec {holder[1]}>&-
wait "$holder_PID"
expect_eq "probe cid 99 in ct-ca after release" OK "$(cid_probe ct-ca 99)"

for cid in 0 1 2 4294967295 4294967296; do
    expect_eq "invalid cid $cid" EINVAL "$(cid_probe ct-ca "$cid")"
done
finish
