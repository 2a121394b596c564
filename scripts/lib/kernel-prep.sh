#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare what SystemTap needs to build for one kernel release, cached under
# build/kernels/REL/:
#   System.map  the real symbol table: /boot/System.map-REL where it is real
#               (RHEL, CentOS), else read from /proc/kallsyms of a nokaslr
#               boot under QEMU (Debian's /boot/System.map-* is a placeholder);
#   build/      a link farm over /lib/modules/REL/build plus that System.map,
#               passed to stap as -r, so nothing is written into /usr/src;
#   runtime/    a patched copy of SystemTap's runtime, only for kernels whose
#               task_work.h has task_work_cancel_func (the 6.1 backport).
# Prints "BUILD_TREE [RUNTIME_DIR]".
set -euo pipefail
TSTP_PROG=tcpstap-prebuilt
. "$(dirname "$0")/common.sh"

rel=${1:?usage: kernel-prep.sh RELEASE}
[ -f "/lib/modules/$rel/build/Makefile" ] ||
	tstp_die "$rel: no kernel headers at /lib/modules/$rel/build (Debian: make deps; RHEL/CentOS: yum install kernel-devel-$rel)"
kd=$(tstp_kdir "$rel")
hdrs=$(readlink -f "/lib/modules/$rel/build")
mkdir -p "$kd"
# make -j builds several modules per kernel at once: one preparation at a time.
exec 9> "$kd/.prep.lock"
flock 9

# A usable map has a real address for tcp_sendmsg.
real_map() { grep -m1 ' [Tt] tcp_sendmsg$' "$1" 2>/dev/null | grep -qv '^0*[[:space:]]'; }

if [ ! -s "$kd/System.map" ] && real_map "/boot/System.map-$rel"; then
	# RHEL/CentOS ship the real map; Debian ships a placeholder.
	cp "/boot/System.map-$rel" "$kd/System.map"
fi
if [ ! -s "$kd/System.map" ]; then
	tstp_check_kernel "$rel"
	tstp_info "$rel: booting once to read the real symbol table (nokaslr kallsyms)"
	"$TCPSTAP_TOP/scripts/tcpstap-vm" --kernel "$rel" --timeout 120 --out "$kd" -- \
		sh -c 'sysctl -q kernel.kptr_restrict=0 &&
		       grep -v "\[" /proc/kallsyms > "$TCPSTAP_VM_OUT/System.map.tmp"'
	# A map of zeros means kptr_restrict hid the addresses: useless to stap.
	if ! real_map "$kd/System.map.tmp"; then
		tstp_die "$rel: kallsyms from the guest has no usable tcp_sendmsg address"
	fi
	mv "$kd/System.map.tmp" "$kd/System.map"
fi

farm=$kd/build
if [ ! -e "$farm/Makefile" ]; then
	rm -rf "$farm"; mkdir -p "$farm"
	for f in "$hdrs"/* "$hdrs"/.config "$hdrs"/.kernelvariables; do
		[ -e "$f" ] && ln -sfn "$f" "$farm/${f##*/}"
	done
fi
ln -sfn ../System.map "$farm/System.map"

runtime=
if grep -qs task_work_cancel_func "$hdrs/include/linux/task_work.h" \
	"/lib/modules/$rel/source/include/linux/task_work.h"; then
	runtime=$kd/runtime
	stock=/usr/share/systemtap/runtime
	if [ ! -f "$runtime/.tcpstap-fixed" ] || [ "$stock/stp_task_work.c" -nt "$runtime/.tcpstap-fixed" ]; then
		rm -rf "$runtime"; cp -a "$stock" "$runtime"
		# The kernel backported the task_work_cancel() change: the old
		# (task, func) lookup is task_work_cancel_func() there.
		sed -i 's/\btask_work_cancel\b/task_work_cancel_func/g' "$runtime/stp_task_work.c"
		grep -q task_work_cancel_func "$runtime/stp_task_work.c" ||
			tstp_die "$rel: runtime fix did not apply to $runtime/stp_task_work.c"
		touch "$runtime/.tcpstap-fixed"
	fi
fi
echo "$farm${runtime:+ $runtime}"
