#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest init, stage 2 (runs as PID 1 in the host's userland): give the command
# the environment tcpstap's tests rely on, run it with stdout and stderr on
# their own serial ports, then hand back its exit status and the kernel log.
# Copied next to the control files by tcpstap-vm; CTL is its directory.
# Everything runs inside main(), which bash reads whole before running it:
# at power-off the script file (on 9p) goes away, and PID 1 must not be
# reading it then, or it exits and the kernel panics.
main() {
CTL=$(cd "$(dirname "$0")" && pwd)

mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug
. "$CTL/env"
# A fresh /tmp, except that the checkout and the caller's directory stay
# visible at their paths when they live under the host's /tmp (a CI clone
# may): bind them back from the overlay's view of the host /tmp.
mkdir -p /.tstp-hosttmp && mount --bind /tmp /.tstp-hosttmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
for keep in "$TCPSTAP_VM_TOP" "$TCPSTAP_VM_CWD"; do
	case "$keep" in
	/tmp/?*) mkdir -p "$keep" && mount --bind "/.tstp-hosttmp/${keep#/tmp/}" "$keep" ;;
	esac
done
mount -t tmpfs tmpfs /run
# Results share at the same path as on the host (after the tmpfs mounts).
mkdir -p "$1" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 tstpout "$1" ||
	echo "tcpstap-vm: guest: cannot mount the results share at $1" > /dev/console
ip link set lo up
hostname tcpstap-guest

# stdout and stderr travel on virtio-serial ports: byte-exact and fast,
# unlike an emulated UART. Ports are found by name, as udev is not running.
modprobe virtio_console
port_dev() {
	local n
	for n in /sys/class/virtio-ports/*; do
		[ "$(cat "$n/name" 2>/dev/null)" = "$1" ] && { echo "/dev/${n##*/}"; return; }
	done
	echo /dev/console
}
exec 3>"$(port_dev tstp.stdout)" 4>"$(port_dev tstp.stderr)"

cd "$TCPSTAP_VM_CWD" || cd /
echo "tcpstap-vm: guest up after $(cut -d' ' -f1 /proc/uptime) s" > /dev/console
"${TCPSTAP_VM_ARGV[@]}" < /dev/null >&3 2>&4 3>&- 4>&-
rc=$?
exec 3>&- 4>&-
dmesg > "$CTL/dmesg" 2>&1
echo "$rc" > "$CTL/rc"
sync
# Let QEMU drain the virtio ports: the last lines (a test's FAIL message)
# must not die with the guest.
sleep 0.5
echo "tcpstap-vm: command exited $rc; powering off" > /dev/console
echo o > /proc/sysrq-trigger
while :; do sleep 1; done
}
main "$@"
