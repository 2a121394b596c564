#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Compile one SystemTap script ahead of time for one kernel release:
#   stap-build.sh RELEASE SCRIPT.stp OUTDIR
# writes OUTDIR/tcpstap_NAME.ko. Flags: $TCPSTAP_STAP_FLAGS (the project's
# deliberate guard settings, set in the Makefile) plus the script's own
# "//@stap-flags: ..." lines.
set -euo pipefail
TSTP_PROG=tcpstap-prebuilt
. "$(dirname "$0")/common.sh"

rel=${1:?usage: stap-build.sh RELEASE SCRIPT OUTDIR}
script=$(readlink -f "${2:?script}")
outdir=${3:?outdir}
name=tcpstap_$(basename "$script" .stp)
command -v stap >/dev/null || tstp_die "stap not found; run 'make deps' as root (package systemtap)"
read -r tree runtime < <("$TCPSTAP_TOP/scripts/lib/kernel-prep.sh" "$rel")

read -ra flags <<< "${TCPSTAP_STAP_FLAGS:-}"
while read -r line; do
	read -ra more <<< "$line"; flags+=("${more[@]}")
done < <(sed -n 's|^//@stap-flags:[[:space:]]*||p' "$script")

# Embedded C (tapset/tcpstap_engine.stp) includes the exchange core and the
# record header: their directories go on the module's include path, and
# their digest into a -D, because stap's module cache hashes only the script
# side and would otherwise reuse a module built from older C.
csrc=("$TCPSTAP_TOP"/core/*.[ch] "$TCPSTAP_TOP"/stap/engine/*.[ch] "$TCPSTAP_TOP"/userspace/include/tcpstap/record.h)
csha=$(cat "${csrc[@]}" | sha256sum | cut -c1-16)
kcflags="-I$TCPSTAP_TOP/core -I$TCPSTAP_TOP/stap/engine -I$TCPSTAP_TOP/userspace/include"
args=(-p4 -r "$tree" -m "$name" -I "$TCPSTAP_TOP/stap/tapset" -B "KCFLAGS=$kcflags"
      -DTSTP_C_SHA=0x$csha "${flags[@]}")
[ -n "${runtime:-}" ] && args+=(-R "$runtime")

mkdir -p "$outdir"
work=$(mktemp -d "$outdir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
tstp_info "$rel: compiling $name ..."
if ! (cd "$work" && stap "${args[@]}" "$script") > "$work/log" 2>&1; then
	sed 's/^/  | /' "$work/log" >&2
	tstp_die "$rel: $script: stap failed (command: stap ${args[*]} $script)"
fi
mv "$work/$name.ko" "$outdir/$name.ko"
tstp_info "$rel: $name.ko built in $(( $(date +%s) - start ))s"
