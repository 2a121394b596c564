#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every script still elaborates under SystemTap 4.0's language rules
# (stap --compatible=4.0, CentOS 7.9's version) against this kernel: a newer
# language feature slipping in fails here, not on a customer's build host.
# And a script that uses one really is refused (so this test can fail).
# host: yes
# timeout: 300
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REL=${TCPSTAP_KERNEL:?}
read -r tree runtime < <("$TOP/scripts/lib/kernel-prep.sh" "$REL") || exit 1
plain=(-p2 -r "$tree" -I "$TOP/stap/tapset")
[ -n "${runtime:-}" ] && plain+=(-R "$runtime")
args=(--compatible=4.0 "${plain[@]}")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rc=0
for s in "$TOP"/stap/*.stp; do
	if stap "${args[@]}" "$s" > "$work/out" 2>&1; then
		echo "# ok: $(basename "$s") elaborates with --compatible=4.0" >&2
	else
		echo "FAIL: $(basename "$s") needs a SystemTap newer than 4.0:" >&2
		sed 's/^/  | /' "$work/out" | tail -n 15 >&2
		rc=1
	fi
done
# The negative control: --compatible=4.0 must really make scripts and
# tapsets see SystemTap 4.0 (systemtap_v), which is how post-4.0 tapset
# functions and behaviours are gated. A script whose 4.0 branch calls a
# function that does not exist must be refused with the flag, accepted
# without it. (New syntax that the parser does not gate by version is not
# caught this way; a CentOS 7 build host with its own 4.0 is the final word.)
cat > "$work/gated.stp" <<'STP'
probe begin { %( systemtap_v >= "4.1" %? exit() %: tstp_no_such_function_before_4_1() %) }
STP
if stap "${args[@]}" "$work/gated.stp" > "$work/out" 2>&1; then
	echo "FAIL: --compatible=4.0 did not select SystemTap 4.0 behaviour: the check proves nothing" >&2
	rc=1
elif ! stap "${plain[@]}" "$work/gated.stp" > "$work/out" 2>&1; then
	echo "FAIL: the control script does not elaborate even without --compatible:" >&2
	sed 's/^/  | /' "$work/out" | tail -n 5 >&2
	rc=1
else
	echo "# ok: --compatible=4.0 selects 4.0 behaviour (a 4.0-only branch is elaborated)" >&2
fi
exit $rc
