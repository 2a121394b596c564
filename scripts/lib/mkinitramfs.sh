#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) the guest initramfs for one kernel release and print its
# path. It holds only busybox, the 9p/overlay modules and stage 1 of the
# guest init: the guest's real userland is the host's, shared over 9p.
set -euo pipefail
TSTP_PROG=tcpstap-vm
. "$(dirname "$0")/common.sh"

rel=${1:?usage: mkinitramfs.sh RELEASE}
tstp_check_kernel "$rel"
kd=$(tstp_kdir "$rel")
out=$kd/initramfs.cpio.gz
stage1=$TCPSTAP_TOP/scripts/lib/vm-stage1.sh
busybox=/bin/busybox
[ -x "$busybox" ] || tstp_die "$busybox: missing; run 'make deps' (package busybox-static)"

mkdir -p "$kd"
exec 9> "$kd/.initramfs.lock"	# concurrent guests of one kernel build it once
flock 9
# Rebuilt only when an input changed.
if [ -s "$out" ] && [ "$out" -nt "$stage1" ] && [ "$out" -nt "$busybox" ] &&
   [ "$out" -nt "/lib/modules/$rel/modules.dep" ]; then
	echo "$out"; exit 0
fi

root=$(mktemp -d "$kd/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,mnt/ro,mnt/rw,newroot,modules}
cp "$busybox" "$root/bin/busybox"
cp "$stage1" "$root/init"
chmod 755 "$root/init"
# Modules in dependency order, each once.
modprobe -S "$rel" --show-depends -a virtio_pci 9pnet_virtio 9p overlay |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
	while read -r ko; do
		cp "$ko" "$root/modules/"
		basename "$ko" >> "$root/modules/order"
	done
[ -s "$root/modules/order" ] || tstp_die "$rel: no 9p/overlay modules found under /lib/modules/$rel"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$root.cpio.gz"
mv "$root.cpio.gz" "$out"
echo "$out"
