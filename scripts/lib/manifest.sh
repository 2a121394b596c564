#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Write prebuilt/REL/MANIFEST: what the modules there were built for and
# with, so that the loader can refuse a mismatch with a precise message.
set -euo pipefail
TSTP_PROG=tcpstap-prebuilt
. "$(dirname "$0")/common.sh"

rel=${1:?usage: manifest.sh RELEASE DIR}
dir=${2:?dir}
stap_version=$(stap -V 2>&1 | sed -n 's/.*(version \([^/ ]*\).*/\1/p' | head -n 1)
{
	echo "# tcpstap prebuilt modules: written by 'make prebuilt', do not edit"
	echo "kernel_release=$rel"
	echo "systemtap_version=$stap_version"
	echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "stap_flags=${TCPSTAP_STAP_FLAGS:-}"
	for ko in "$dir"/tcpstap_*.ko; do
		[ -e "$ko" ] || continue
		name=$(basename "$ko" .ko)
		script=$TCPSTAP_TOP/stap/${name#tcpstap_}.stp
		extra=$(sed -n 's|^//@stap-flags:[[:space:]]*||p' "$script" 2>/dev/null | tr '\n' ' ')
		echo "module=$name.ko"
		echo "  vermagic=$(modinfo -F vermagic "$ko")"
		echo "  script=stap/${name#tcpstap_}.stp"
		echo "  script_sha256=$(sha256sum < "$script" | cut -d' ' -f1)"
		echo "  module_sha256=$(sha256sum < "$ko" | cut -d' ' -f1)"
		echo "  script_flags=${extra% }"
	done
} > "$dir/MANIFEST.tmp"
mv "$dir/MANIFEST.tmp" "$dir/MANIFEST"
tstp_info "$rel: wrote $dir/MANIFEST"
