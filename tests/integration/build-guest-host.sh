#!/bin/bash
# kernel/build-guest: the nested test guest's initramfs holds what the VM
# suite boots (busybox, the three virtio-vsock guest modules, a static
# vsock-guest, our init), is cached, and is built again when an input
# changes. Runs on a copy of kernel/ with a stand-in kernel directory (the
# modules' content does not matter to the build), so nothing is downloaded.
# Then vsock-guest itself over this machine's vsock loopback, if it has one.
set -uo pipefail
src=$(realpath "$(dirname "$0")/../..")
. "$src/tests/vm/lib.sh" 2>/dev/null || { echo "cannot load tests/vm/lib.sh"; exit 1; }

tmp=$(mktemp -d)
defer "rm -rf $tmp"
cp -r "$src/kernel" "$tmp/kernel"
ver=9.9.9-test
kdir=$tmp/kdir
mods=$kdir/usr/lib/modules/$ver
mkdir -p "$mods/kernel/net/vmw_vsock" "$mods/kernel/drivers/firmware"
echo "$ver" >"$kdir/version"
for m in vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
    echo "stand-in $m" | xz >"$mods/kernel/net/vmw_vsock/$m.ko.xz"
done
echo "stand-in qemu_fw_cfg" | xz >"$mods/kernel/drivers/firmware/qemu_fw_cfg.ko.xz"
cat >"$mods/modules.dep" <<DEP
kernel/drivers/firmware/qemu_fw_cfg.ko.xz:
kernel/net/vmw_vsock/vsock.ko.xz:
kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko.xz: kernel/net/vmw_vsock/vsock.ko.xz
kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko.xz: kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko.xz kernel/net/vmw_vsock/vsock.ko.xz
DEP

build() { "$tmp/kernel/build-guest" "$kdir"; }
p1=$(build)
expect_eq "build-guest exit status" 0 "$?"
expect_eq "initramfs in the kernel directory" yes "$([[ $p1 == "$kdir"/guest-*.cpio && -s $p1 ]] && echo yes)"
list=$(cpio -it --quiet <"$p1" 2>/dev/null | sort | xargs)
for f in init bin/busybox bin/sh bin/vsock-guest modules.order modules/vsock.ko modules/qemu_fw_cfg.ko \
         modules/vmw_vsock_virtio_transport_common.ko modules/vmw_vsock_virtio_transport.ko; do
    expect_eq "initramfs holds $f" yes "$([[ " $list " == *" ./$f "* || " $list " == *" $f "* ]] && echo yes)"
done
x=$tmp/x
mkdir -p "$x" && (cd "$x" && cpio -id --quiet <"$p1")
expect_eq "modules are loaded in dependency order, qemu_fw_cfg first" \
    "qemu_fw_cfg.ko vsock.ko vmw_vsock_virtio_transport_common.ko vmw_vsock_virtio_transport.ko" "$(xargs <"$x/modules.order")"
expect_eq "modules are decompressed" "stand-in vsock" "$(cat "$x/modules/vsock.ko")"
expect_eq "vsock-guest is static" yes "$(file -L "$x/bin/vsock-guest" | grep_q 'statically linked' && echo yes)"
expect_eq "busybox is static" yes "$(file -L "$x/bin/busybox" | grep_q 'statically linked' && echo yes)"

mtime=$(stat -c %Y.%i "$p1")
sleep 1
p2=$(build)
expect_eq "unchanged inputs: the cached initramfs" "$p1 $mtime" "$p2 $(stat -c %Y.%i "$p2")"

echo "# changed" >>"$tmp/kernel/guest/init"
p3=$(build)
expect_eq "changed init: a new initramfs" yes "$([[ $p3 != "$p1" && -s $p3 ]] && echo yes)"
expect_eq "the old one is removed" no "$([[ -e $p1 ]] && echo yes || echo no)"
expect_eq "it holds the changed init" yes "$(cpio -i --to-stdout --quiet init <"$p3" | grep_q '^# changed' && echo yes)"
echo "/* changed */" >>"$tmp/kernel/guest/vsock-guest.c"
p4=$(build)
expect_eq "changed vsock-guest.c: a new initramfs" yes "$([[ $p4 != "$p3" && -s $p4 ]] && echo yes)"

sed -i '/vmw_vsock_virtio_transport.ko.xz:/d' "$mods/modules.dep"
echo "/* again */" >>"$tmp/kernel/guest/vsock-guest.c"
out=$(build 2>&1)
rc=$?
expect_eq "a missing module: exit status" 1 "$rc"
expect_eq "a missing module: named" yes "$([[ $out == *"module vmw_vsock_virtio_transport not found"* ]] && echo yes)"
expect_eq "a missing module: nothing new left behind" "$(basename "$p4")" "$(cd "$kdir" && ls guest-*.cpio | xargs)"

# vsock-guest over vsock loopback (CID 1), where this kernel has it.
if ! modprobe vsock_loopback 2>/dev/null && [[ ! -d /sys/module/vsock_loopback ]]; then
    echo "SKIP part: this kernel has no vsock_loopback; vsock-guest is checked in the VM suite (guests)"
    finish
fi
port=$((20000 + RANDOM % 10000))
"$x/bin/vsock-guest" --id host-check --port "$port" >"$tmp/vg.out" 2>&1 &
defer "kill $!"
for _ in $(seq 50); do grep -q READY "$tmp/vg.out" && break; sleep 0.1; done
expect_eq "vsock-guest announces itself" "VSOCK-GUEST-READY host-check $port" "$(head -n1 "$tmp/vg.out")"
ask() { echo "$1" | timeout 20 socat -t10 - "VSOCK-CONNECT:1:$port" 2>&1; }
expect_eq "id" host-check "$(ask id)"
expect_eq "empty request = id" host-check "$(ask '')"
expect_eq "unknown request" "error unknown request" "$(ask 'bogus')"
expect_eq "dial with a bad port" "error bad port" "$(ask 'dial 12x')"
finish
