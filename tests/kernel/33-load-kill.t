#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module is never left armed (issue 4, tests 1 and 2).
#  1. kill -9 of tcpstap-load during traffic, 20 times at random moments
#     (before, during and after arming): its watchdog removes the module
#     within 5 s every time, and no lock file is left behind.
#  2. kill -9 of tcpstap-load, its watchdog and staprun at once (nothing of
#     tcpstap left alive): the module's dead-man switch disarms it within
#     T s (--deadman 4), its own counters show the handlers stopped running
#     under traffic, and the next tcpstap-load removes it before loading.
# timeout: 300
# tcg: single
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"
ST=/proc/systemtap/tcpstap_latency/state

module_gone() { ! grep -q '^tcpstap_latency ' /proc/modules && [ ! -d /proc/systemtap/tcpstap_latency ]; }
gone_within() {	# SECONDS
	local i
	for i in $(seq $(( $1 * 10 ))); do module_gone && return 0; sleep 0.1; done
	return 1
}
state_field() { module_state_field tcpstap_latency "$1"; }

two_hosts
server_start
# Traffic for the whole test, in the background: a long client run.
client_run --addr $SRV4 --exchanges 1000000 --gap 5 &
traffic=$!

RANDOM=4242	# random moments, the same each run
for round in $(seq 20); do
	"$LOAD" --max-cpu 50 latency tcp port $LAT_PORT > /dev/null 2> "$WORK/kill.err" &
	loader=$!
	delay_ms=$((RANDOM % 2500))
	sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"
	armed=no; [ -e "$ST" ] && armed=yes
	kill -9 $loader
	start=$(date +%s%N)
	gone_within 5 || fail "round $round: module still loaded 5 s after kill -9 of tcpstap-load: $(cat "$WORK/kill.err")"
	wait $loader 2>/dev/null
	took=$(( ($(date +%s%N) - start) / 1000000 ))
	note "ok: round $round: killed ${delay_ms} ms after start (module up: $armed), module gone ${took} ms later"
	[ -e /run/tcpstap/tcpstap_latency.lock ] && sleep 0.5
	[ -e /run/tcpstap/tcpstap_latency.lock ] && fail "round $round: lock file left by the watchdog"
done

# 2. nothing of tcpstap survives: the module must disarm itself.
# --max-cpu 50: under emulation this traffic can exceed the default 1% budget,
# and this part is about the dead-man switch alone.
"$LOAD" --deadman 4 --max-cpu 50 latency tcp port $LAT_PORT > /dev/null 2> "$WORK/all.err" &
loader=$!
module_up_wait tcpstap_latency || fail "tcpstap-load did not load the module: $(cat "$WORK/all.err")"
module_probes_fire tcpstap_latency || fail "module not armed"
sleep 1
kill -0 $loader 2>/dev/null || { cat "$WORK/all.err" >&2; fail "tcpstap-load ended before the kill (its stderr above)"; }
children=$(pgrep -P $loader | tr '\n' ' ')
grandchildren=$(for c in $children; do pgrep -P "$c"; done | tr '\n' ' ')
note "killing loader $loader and its processes: $children $grandchildren"
kill -9 $loader $children $grandchildren
killed=$(date +%s%N)
wait $loader 2>/dev/null
sleep 0.5
pgrep -x tcpstap-load > /dev/null && fail "a tcpstap-load survived kill -9"
grep -q '^tcpstap_latency ' /proc/modules || fail "the module was unloaded (test premise: SystemTap leaves it when staprun is killed)"
for i in $(seq 80); do [ "$(state_field armed)" = 0 ] && break; sleep 0.1; done
took=$(( ($(date +%s%N) - killed) / 1000000 ))
assert_eq "$(state_field armed)" 0 "armed after the heartbeats stopped"
assert_eq "$(state_field disarm_reason)" 1 "disarm reason (1: no heartbeat)"
[ "$took" -le 6000 ] || fail "disarmed ${took} ms after the kill, --deadman 4 allows 4 s plus one 1 s heartbeat period and a timer tick"
note "ok: disarmed ${took} ms after everything was killed (--deadman 4)"
hits1=$(state_field probe_hits)
sleep 2	# traffic keeps flowing
hits2=$(state_field probe_hits)
kill -0 $traffic 2>/dev/null || fail "the traffic stopped (test premise)"
assert_eq "$hits2" "$hits1" "handler hits over 2 s of traffic after disarming"

# The next loader removes the stale module first, then traces normally (the
# same budget as above: this is about the cleanup, not the guard).
"$LOAD" -d 2 --max-cpu 50 latency tcp port $LAT_PORT > "$WORK/next.out" 2> "$WORK/next.err"
rc=$?
cat "$WORK/next.err" >&2
assert_eq "$rc" 0 "the next tcpstap-load's exit status"
grep -q 'cleanup: removed tcpstap_latency' "$WORK/next.err" || fail "the next tcpstap-load did not remove the stale module"
grep -q '| server |' "$WORK/next.out" || fail "the next tcpstap-load traced nothing"
gone_within 2 || fail "module left after the next run"
client_stop $traffic
server_stop
exit 0
