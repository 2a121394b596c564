#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap-load refuses, with a message naming the problem and the fix and a
# non-zero exit, before loading anything: not root, a module built for
# another kernel, a missing staprun, a staprun of another SystemTap version
# than the module's MANIFEST names, an unsupported filter, a module without
# tcpstap's guards, an option the module cannot honour, and a second
# instance on the same module. No module is left loaded by any of them.
# timeout: 120
. "$(dirname "$0")/../lib/guest.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"

expect() {	# WHAT RC PATTERN -- CMD...
	local what=$1 want=$2 pat=$3 rc
	shift 4
	"$@" > "$WORK/out" 2> "$WORK/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "$what: exit $rc, expected $want: $(cat "$WORK/err")"
	grep -q -- "$pat" "$WORK/err" || fail "$what: message lacks '$pat': $(cat "$WORK/err")"
	grep -q '^tcpstap_' /proc/modules && fail "$what: a module was left loaded"
	note "ok: $what -> exit $rc: $(grep -m1 -- "$pat" "$WORK/err")"
}

other=$(ls -d "$TOP"/prebuilt/*/ | grep -v "/$REL/" | head -n 1)
[ -n "$other" ] || skip "no module built for another kernel"
other_rel=$(basename "$other")
expect "module for another kernel" 1 "built for kernel $other_rel, this kernel is $REL" -- \
	"$LOAD" "$other/tcpstap_latency.ko" tcp port 6379
expect "missing staprun" 1 "staprun: not found in PATH" -- \
	env PATH=/nonexistent "$LOAD" latency tcp port 6379
expect "unsupported filter" 2 "supported" -- "$LOAD" latency udp port 53
expect "not root" 1 "needs root" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$LOAD" latency tcp port 6379

# A staprun that says it is SystemTap 9.9 (the module's MANIFEST says otherwise).
mkdir -p "$WORK/bin"
printf '#!/bin/sh\necho "Systemtap module loader/runner (version 9.9/0.189, non-git sources)"\n' > "$WORK/bin/staprun"
chmod +x "$WORK/bin/staprun"
mver=$(sed -n 's/^systemtap_version=//p' "$PREBUILT/MANIFEST")
expect "staprun of another SystemTap version" 1 \
	"staprun is SystemTap 9.9, the module was built with SystemTap $mver (MANIFEST)" -- \
	env PATH="$WORK/bin:$PATH" "$LOAD" latency tcp port 6379
expect "module without the guards" 1 "has no dead-man switch or CPU budget" -- "$LOAD" selftest
expect "module parameter it lacks" 2 "module parameter 'nosuch=1': tcpstap_latency has no parameter 'nosuch'" -- \
	"$LOAD" latency tcp port 6379 -- nosuch=1

"$LOAD" latency tcp port 6379 > /dev/null 2> "$WORK/first.err" &
first=$!
module_up_wait tcpstap_latency
"$LOAD" latency tcp port 6379 > /dev/null 2> "$WORK/err"
rc=$?
[ "$rc" = 1 ] || fail "second instance: exit $rc, expected 1: $(cat "$WORK/err")"
grep -q "pid $first" "$WORK/err" || fail "second instance: message does not name the owner pid $first: $(cat "$WORK/err")"
note "ok: second instance -> exit 1: $(head -n 1 "$WORK/err")"
kill -INT $first; wait $first
rc=$?
assert_eq "$rc" 0 "first instance exit status after Ctrl-C"
grep -q '^tcpstap_latency ' /proc/modules && fail "module left loaded after Ctrl-C"
exit 0
