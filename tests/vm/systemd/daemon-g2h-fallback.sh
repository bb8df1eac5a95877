#!/bin/bash
# G2HFallback=false writes g2h_fallback=0 inside the new namespace (7.2+).
. "$(dirname "$0")/../daemon-lib.sh"

create gf-off local "{'G2HFallback': <false>}"
create gf-default local
expect_eq "g2h_fallback in gf-off" 0 "$(sysctl_get gf-off g2h_fallback)"
expect_eq "g2h_fallback in gf-default" 1 "$(sysctl_get gf-default g2h_fallback)"
expect_eq "G2HFallback property of gf-off" "b false" \
    "$(busctl get-property org.vsockns1 /org/vsockns1/namespace/gf_2doff org.vsockns1.Namespace G2HFallback)"
expect_eq "vsocknsctl create --no-g2h-fallback" 0 \
    "$($ctl create --no-g2h-fallback gf-ctl >/dev/null && sysctl_get gf-ctl g2h_fallback)"
defer "$ctl delete gf-ctl"
finish
