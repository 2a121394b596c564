# SPDX-License-Identifier: GPL-2.0
# Shared helpers for tcpstap's bash scripts. Sourced, never run.

TCPSTAP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TCPSTAP_BUILD=${TCPSTAP_BUILD:-$TCPSTAP_TOP/build}

tstp_die() { echo "${TSTP_PROG:-tcpstap}: $*" >&2; exit 1; }
tstp_info() { [ -n "${TSTP_QUIET:-}" ] || echo "${TSTP_PROG:-tcpstap}: $*" >&2; }

# The kernel matrix: every release with both a bootable image and a headers
# tree, oldest first. Discovered, never hard-coded: bookworm's ABI moves.
tstp_kernels() {
	local img rel
	for img in /boot/vmlinuz-*; do
		[ -e "$img" ] || continue
		rel=${img#/boot/vmlinuz-}
		[ -f "/lib/modules/$rel/build/Makefile" ] || continue
		echo "$rel"
	done | sort -V
}

tstp_default_kernel() { tstp_kernels | tail -n 1; }

# Fail with the fix when REL is not in the matrix.
tstp_check_kernel() {
	local rel=$1
	tstp_kernels | grep -qxF "$rel" && return 0
	local have
	have=$(tstp_kernels | tr '\n' ' ')
	tstp_die "kernel $rel: not in the matrix (have: ${have:-none}); run 'make deps' as root, or pick one with --kernel"
}

tstp_kdir() { echo "$TCPSTAP_BUILD/kernels/$1"; }
