# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by vm-run and build-guest: copy_module MODDIR NAME DEST writes
# module NAME of the kernel whose modules are in MODDIR to DEST,
# decompressed (busybox insmod cannot read .ko.xz/.zst/.gz). Status 2 if
# the module is built in, 1 if it is neither built in nor in modules.dep.
copy_module() {
    local moddir=$1 m=$2 dest=$3 path
    path=$(awk -F: -v m="$m" '{ n = $1; sub(".*/", "", n); sub("\\.ko.*", "", n) } n == m { print $1; exit }' "$moddir/modules.dep")
    if [[ -z $path ]]; then
        grep -qE "/$m\.ko" "$moddir/modules.builtin" 2>/dev/null && return 2
        return 1
    fi
    case $path in
        *.xz) xz -dc "$moddir/$path" ;;
        *.zst) zstd -dcq "$moddir/$path" ;;
        *.gz) gzip -dc "$moddir/$path" ;;
        *) cat "$moddir/$path" ;;
    esac >"$dest"
}
