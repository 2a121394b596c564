#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap-vm itself, driven from the host: exit status and stdout/stderr
# come back separately and intact, results come back through
# $TCPSTAP_VM_OUT, a guest WARNING fails the run (from a test-only module
# that warns on purpose) unless --allow-warnings, and the timeout kills the
# guest with a clear message.
# host: yes
# timeout: 240
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REL=${TCPSTAP_KERNEL:?}
VM="$TOP/scripts/tcpstap-vm --kernel $REL"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

# 1. status, streams and results.
$VM --out "$work/res" -- sh -c 'echo to-stdout; echo to-stderr >&2; echo kept > $TCPSTAP_VM_OUT/r.txt; exit 7' \
	> "$work/o" 2> "$work/e"
rc=$?
[ "$rc" = 7 ] || fail "exit status: got $rc, expected 7"
[ "$(cat "$work/o")" = to-stdout ] || fail "stdout: got '$(cat "$work/o")'"
grep -qx to-stderr "$work/e" || fail "stderr: got '$(cat "$work/e")'"
[ "$(cat "$work/res/r.txt" 2>/dev/null)" = kept ] || fail "results file did not come back"
note "ok: exit status 7, stdout and stderr separate, results back"

# 2. a kernel WARNING fails the run even though the command succeeded.
ko=$TOP/build/testmods/$REL/tstp_warn.ko
[ -f "$ko" ] || fail "$ko: not built (make testmods)"
$VM --keep-console "$work/console" -- insmod "$ko" > /dev/null 2> "$work/e"
rc=$?
[ "$rc" = 125 ] || fail "WARNING in guest: exit $rc, expected 125; stderr: $(cat "$work/e")"
grep -q 'kernel complaint' "$work/e" || fail "no clear message for the WARNING: $(cat "$work/e")"
grep -q 'tcpstap harness self-test warning' "$work/console" || fail "console file lacks the warning"
note "ok: WARNING detected -> exit 125: $(grep -m1 WARNING "$work/e")"

# 3. ... and does not with --allow-warnings.
$VM --allow-warnings -- insmod "$ko" > /dev/null 2> "$work/e"
rc=$?
[ "$rc" = 0 ] || fail "--allow-warnings: exit $rc, expected 0: $(cat "$work/e")"
note "ok: --allow-warnings lets it pass"

# 4. the timeout kills a hung guest and says so.
start=$(date +%s)
$VM --timeout 20 -- sleep 600 > /dev/null 2> "$work/e"
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" = 124 ] || fail "timeout: exit $rc, expected 124"
grep -q 'timeout' "$work/e" || fail "timeout: no clear message: $(cat "$work/e")"
[ "$took" -lt 40 ] || fail "timeout 20 s took ${took}s"
note "ok: timeout after ${took}s -> exit 124"
exit 0
