#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# Guest init, stage 1 (runs from the initramfs): mount the host's root
# read-only over 9p, put a tmpfs overlay on it, mount the control and result
# shares at their host paths, and switch to stage 2 inside that root.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

fail() {
	echo "tcpstap-vm: guest stage 1: $*" > /dev/console
	echo o > /proc/sysrq-trigger
	sleep 60
}

for ko in $(cat /modules/order); do
	insmod "/modules/$ko" || fail "insmod $ko failed"
done

out=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	tstp.out=*) out=${arg#tstp.out=} ;;
	esac
done
[ -n "$out" ] || fail "tstp.out missing from the kernel command line"

p9="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$p9,ro,cache=loose" hostroot /mnt/ro || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=755 tmpfs /mnt/rw || fail "tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/ro,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot ||
	fail "overlay mount failed"
# The control share goes to a fixed place; stage 2 mounts the results share
# at its host path only after its own tmpfs mounts, which could hide it.
mkdir -p /newroot/.tstp-ctl
mount -t 9p -o "$p9" tstpctl /newroot/.tstp-ctl || fail "cannot mount the control share"

umount /proc /sys 2>/dev/null
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /bin/bash /.tstp-ctl/stage2.sh "$out"
