#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stale-module cleanup: kill -9 of staprun leaves tcpstap_latency loaded with
# its probes armed (SystemTap's behaviour). tcpstap cleanup --dry-run only
# reports it; tcpstap cleanup removes it. A module owned by a live process
# (its lock file names it) is kept; a module that is not ours (dummy) is
# never touched; a stale lock of a dead owner is removed with the module.
# A module that is not ours but carries our name prefix (tcpstap_impostor, a
# plain kernel module with no SystemTap control directory) is left loaded
# and reported as not removable, with the reason.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"

locks=$WORK/locks
mkdir -p "$locks"
modprobe dummy || fail "modprobe dummy (a module that is not ours)"

# 1. a detached module with a stale lock (its owner is dead)
module_start tcpstap_latency "$WORK/raw" ports=5555
kill -9 "$STAPRUN_PID"; wait "$STAPRUN_PID" 2>/dev/null
sleep 0.5
grep -q '^tcpstap_latency ' /proc/modules || fail "SystemTap did not leave the module behind (test premise)"
echo "pid=$STAPRUN_PID start=1 module=tcpstap_latency" > "$locks/tcpstap_latency.lock"

"$TSTP" cleanup --dry-run --lock-dir "$locks" > "$WORK/dry" 2>&1
cat "$WORK/dry" >&2
grep -q '^would remove tcpstap_latency' "$WORK/dry" || fail "dry run does not report the stale module"
grep -q '^tcpstap_latency ' /proc/modules || fail "--dry-run removed the module"

"$TSTP" cleanup --lock-dir "$locks" > "$WORK/out" 2>&1
rc=$?
cat "$WORK/out" >&2
assert_eq "$rc" 0 "cleanup exit status"
grep -q '^removed tcpstap_latency' "$WORK/out" || fail "no 'removed' line"
grep -q '^tcpstap_latency ' /proc/modules && fail "module still loaded after cleanup"
[ -e "$locks/tcpstap_latency.lock" ] && fail "stale lock not removed"
grep -q '^dummy ' /proc/modules || fail "cleanup touched a module that is not ours"
[ -d /proc/systemtap/tcpstap_latency ] && fail "procfs entries leaked"

# 2. a module whose owner is alive is kept
module_start tcpstap_latency "$WORK/raw2" ports=5555
start=$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$STAPRUN_PID/stat")
echo "pid=$STAPRUN_PID start=$start module=tcpstap_latency" > "$locks/tcpstap_latency.lock"
"$TSTP" cleanup --lock-dir "$locks" > "$WORK/out2" 2>&1
cat "$WORK/out2" >&2
grep -q '^kept tcpstap_latency: owned by pid '"$STAPRUN_PID" "$WORK/out2" || fail "an owned module was not kept"
grep -q '^tcpstap_latency ' /proc/modules || fail "an owned module was removed"
module_stop tcpstap_latency

# 3. not ours, under our prefix
insmod "$TOP/build/testmods/$REL/tcpstap_impostor.ko" || fail "insmod tcpstap_impostor.ko (make testmods)"
"$TSTP" cleanup --lock-dir "$locks" > "$WORK/out3" 2>&1
rc=$?
cat "$WORK/out3" >&2
assert_eq "$rc" 1 "cleanup exit status with a module it must not remove"
grep -q '^could not remove tcpstap_impostor: no SystemTap control directory' "$WORK/out3" ||
	fail "the impostor is not reported as not removable, with its reason"
grep -q '^tcpstap_impostor ' /proc/modules || fail "cleanup removed a module that is not ours"
rmmod tcpstap_impostor
rmmod dummy
exit 0
