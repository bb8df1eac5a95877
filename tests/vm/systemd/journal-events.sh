#!/bin/bash
# Events are journal entries with a MESSAGE_ID= and the fields NAMESPACE=,
# CID=, OWNER=, UID=, and the shipped catalog explains them (journalctl -x).
. "$(dirname "$0")/../daemon-lib.sh"

create je-a local
cid=$($ctl acquire --owner je-owner je-a)
$ctl release je-a "$cid" >/dev/null
acquired=3ae0c26d98a24688a017ecca7967c4cf released=61075a85b82f473cac64030729dfcaf3
created=411e6a28fdb2433898647ce7139bfb2c
for _ in $(seq 30); do journalctl -b MESSAGE_ID=$released NAMESPACE=je-a -q | grep_q . && break; sleep 0.2; done
fields() { journalctl -b -o export "MESSAGE_ID=$1" NAMESPACE=je-a | grep -aE '^(NAMESPACE|CID|OWNER|UID|_SYSTEMD_UNIT)=' | sort | xargs; }
expect_eq "lease acquired: entry and fields" "CID=$cid NAMESPACE=je-a OWNER=je-owner UID=0 _SYSTEMD_UNIT=vsocknsd.service" \
    "$(fields $acquired)"
expect_eq "lease released: entry and fields" "CID=$cid NAMESPACE=je-a OWNER=je-owner UID=0 _SYSTEMD_UNIT=vsocknsd.service" \
    "$(fields $released)"
expect_eq "namespace created: entry" "NAMESPACE=je-a UID=0 _SYSTEMD_UNIT=vsocknsd.service" "$(fields $created)"
expect_eq "the catalog explains it (journalctl -x)" yes \
    "$(journalctl -b -x MESSAGE_ID=$acquired NAMESPACE=je-a | grep_q "leased vhost-vsock CID $cid in the CID space of je-a" && echo yes)"
finish
