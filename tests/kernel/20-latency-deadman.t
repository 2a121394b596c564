#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In-kernel dead-man switch: with deadman_s=2 the module traces while
# heartbeats arrive; once they stop it disarms itself within 2 s, says so
# (stderr, procfs state, a STATS record with the reason), and its handlers
# stop costing anything: under further traffic its own probe_hits counter
# does not move and no exchange is recorded.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

# A read can fail while handlers hold the module's locks (SystemTap skips
# the procfs probe): retry a few times.
state() { local i; for i in 1 2 3 4 5; do cat /proc/systemtap/tcpstap_latency/state 2>/dev/null && return; sleep 0.1; done; }
field() { state | tr ' ' '\n' | sed -n "s/^$1=//p"; }

two_hosts
# Heartbeats from before the module exists: on a loaded emulator, arming
# (and module_start's wait for a first handler hit) can take longer than 2 s.
( while :; do echo beat 2>/dev/null > /proc/systemtap/tcpstap_latency/heartbeat; sleep 0.5; done ) &
beats=$!
module_start tcpstap_latency "$WORK/raw" ports=$LAT_PORT deadman_s=2
server_start
client_run --addr $SRV4 --exchanges 5
sleep 3		# heartbeats still coming: must stay armed
assert_eq "$(field armed)" 1 "armed while heartbeats arrive"
kill $beats; wait $beats 2>/dev/null
start=$(date +%s.%N)
for i in $(seq 60); do [ "$(field armed)" = 0 ] && break; sleep 0.1; done
took=$(echo "$(date +%s.%N) - $start" | bc)
assert_eq "$(field armed)" 0 "armed after heartbeats stopped"
assert_eq "$(field disarm_reason)" 1 "disarm reason (1: heartbeat)"
awk -v t="$took" 'BEGIN { exit !(t <= 3.0) }' || fail "disarmed ${took}s after the last heartbeat, deadman_s=2"
note "ok: disarmed ${took}s after heartbeats stopped (deadman_s=2); state: $(state)"
hits=$(field probe_hits)
client_run --addr $SRV4 --exchanges 5
assert_eq "$(field probe_hits)" "$hits" "handler hits under traffic after disarm"
server_stop
module_stop tcpstap_latency
grep -q 'probes disarmed: no heartbeat for 2 s' "$WORK/tcpstap_latency.staprun.err" ||
	fail "no disarm message on stderr: $(cat "$WORK/tcpstap_latency.staprun.err")"
decode "$WORK/raw"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 6 || exit 1
"$TSTP" read --all "$WORK/raw" 2>/dev/null | grep -q 'armed no.*heartbeat\|disarm.*heartbeat' ||
	fail "no STATS record reporting the heartbeat disarm: $("$TSTP" read --all "$WORK/raw" 2>/dev/null | grep stats)"
exit 0
