#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Connection flood: 10.77.0.2 connects and closes at 500 connections a
# second for 2 s while 10.77.1.2 does so at 5 a second. tcpstap_connect
# records every accepted connection of each, as many as each client made
# (less at most the probe hits SystemTap reports it skipped), and tcpstap
# watch --conn-rate 100 raises the conn-flood alert naming 10.77.0.2, and
# none naming 10.77.1.2.
# Then the shared guard: with deadman_s=3 the module stays armed while
# heartbeats come, and disarms itself (reason 1, said in a STATS record)
# within 4 s of the last one.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/health.sh"

two_hosts
third_host
# (heartbeats from before the module exists: arming may take longer than 3 s)
( while :; do echo beat 2>/dev/null > /proc/systemtap/tcpstap_connect/heartbeat; sleep 0.5; done ) &
beats=$!
# active=0: a server watching the connections it accepts; the connect()
# side's probes are not armed (the flood's 500 connects a second would
# otherwise cost the module as much again under emulation).
module_start tcpstap_connect "$WORK/raw" interval_s=1 ports=5562 deadman_s=3 active=0
conn_serve tstp_srv 0.0.0.0 5562 close --backlog 1024
ip netns exec tstp_cli2 "$CONN" flood --addr 10.77.1.1 --port 5562 --rate 5 --duration 2.2 > "$WORK/calm.out" &
calm=$!
ip netns exec tstp_cli "$CONN" flood --addr $SRV4 --port 5562 --rate 500 --duration 2 > "$WORK/flood.out" ||
	fail "flood client failed: $(cat "$WORK/flood.out")"
wait $calm || fail "calm client failed: $(cat "$WORK/calm.out")"
sleep 1.5	# the server accepts the last ones; one more interval
conn_serve_stop "$CONN_SRV_PID"
guard_interface_ok tcpstap_connect
assert_eq "$(module_state_field tcpstap_connect armed)" 1 "armed while heartbeats arrive"
kill $beats; wait $beats 2>/dev/null
for i in $(seq 60); do [ "$(module_state_field tcpstap_connect armed)" = 0 ] && break; sleep 0.1; done
assert_eq "$(module_state_field tcpstap_connect armed)" 0 "armed 6 s after the last heartbeat (deadman_s=3)"
assert_eq "$(module_state_field tcpstap_connect disarm_reason)" 1 "disarm reason (1: heartbeat)"
module_stop tcpstap_connect
flooded=$(sed -n 's/^connected=//p' "$WORK/flood.out")
calmed=$(sed -n 's/^connected=//p' "$WORK/calm.out")
secs=$(sed -n 's/^seconds=//p' "$WORK/flood.out")
note "flood: $flooded connections in $secs s ($(echo "$flooded / $secs" | bc) a second); calm: $calmed"
health_decode "$WORK/raw" connect
J=$WORK/connect.json
assert_eq "$($Q $J --type connect --where role=client --count)" 0 "client-side records with active=0"
assert_eq "$($Q $J --type stats --last disarm_reason)" heartbeat "the last STATS record's disarm reason"

skipped=$(skipped_hits tcpstap_connect)
assert_count_skips "$($Q $J --type connect --where role=server --where raddr=$CLI4 --where outcome=accepted --count)" \
	"$flooded" "$skipped" "accepted connections recorded from $CLI4"
assert_count_skips "$($Q $J --type connect --where role=server --where raddr=10.77.1.2 --where outcome=accepted --count)" \
	"$calmed" "$skipped" "accepted connections recorded from 10.77.1.2"
awk -v n="$flooded" -v s="$secs" 'BEGIN { exit !(n / s > 200) }' ||
	fail "the flood reached only $flooded connections in $s s (test premise: well above --conn-rate 100)"

"$TSTP" watch --json --conn-rate 100 "$WORK/raw" > "$WORK/alerts.json" 2> "$WORK/watch.err"
rc=$?
"$TSTP" watch --conn-rate 100 "$WORK/raw" > "$WORK/alerts.txt" 2>/dev/null
echo "--- tcpstap watch:" >&2; cat "$WORK/alerts.txt" "$WORK/watch.err" >&2
assert_eq "$rc" 0 "watch exit status"
A=$WORK/alerts.json
n=$($Q $A --where rule=conn-flood --where raddr=$CLI4 --count)
[ "$n" -ge 1 ] || fail "no conn-flood alert naming $CLI4"
assert_eq "$($Q $A --where rule=conn-flood --where raddr=10.77.1.2 --count)" 0 "conn-flood alerts naming 10.77.1.2"
assert_eq "$($Q $A --where rule=conn-flood --get raddr | sort -u)" "$CLI4" "addresses named by conn-flood alerts"
python3 - "$A" "$flooded" <<'PY' || fail "conn-flood counts inconsistent with the flood"
import json, sys
counts = [json.loads(l)["connections"] for l in open(sys.argv[1]) if '"conn-flood"' in l]
total = int(sys.argv[2])
if not all(100 < c <= total for c in counts) or sum(counts) > total:
    sys.exit("alert counts %s, flood total %d" % (counts, total))
print("# ok: conn-flood alerts with %s connections in a second (flood total %d)" % (counts, total))
PY
grep -q "ALERT conn-flood | $CLI4 opened [0-9]* new connections in one second (limit 100), last to port 5562 | hint: " "$WORK/alerts.txt" ||
	fail "no text alert line for the flood"
exit 0
