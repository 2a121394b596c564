#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap_states and tcpstap watch, in one boot:
#  1. CLOSE_WAIT leak: a server that never closes after its client's FIN
#     (the client half-closes and waits): the ESTABLISHED -> CLOSE_WAIT
#     transition is recorded, and watch --close-wait 3 flags exactly that
#     connection (its 4-tuple), once, with a duration of at least 3 s and no
#     more than the time it really spent there;
#  2. slowloris: 200 idle connections from 10.77.0.2 are flagged by watch
#     from a snapshot (count 200 exactly); 150 connections from 10.77.1.2
#     that each carried 1000 bytes are not, and neither are the 200
#     client-side sockets (their remote address is the server's);
#  3. the snapshot lists every connection of the server with its state.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/health.sh"

two_hosts
third_host
module_start tcpstap_states "$WORK/raw" interval_s=1
conn_serve tstp_srv 0.0.0.0 5561 hold
hold_pid=$CONN_SRV_PID
conn_serve tstp_srv $SRV4 5560 leak
leak_pid=$CONN_SRV_PID

# 2. (first: they must be older than --slowloris-age at the snapshot)
rm -f "$WORK/idle.ready" "$WORK/busy.ready"
# (paced: under emulation a burst of 350 connections costs the module more
# than SystemTap's 10% overload backstop allows)
ip netns exec tstp_cli "$CONN" open --addr $SRV4 --port 5561 --count 200 --rate 100 --hold 30 \
	--ready-file "$WORK/idle.ready" > "$WORK/idle.out" &
idle=$!
ip netns exec tstp_cli2 "$CONN" open --addr 10.77.1.1 --port 5561 --count 150 --rate 100 --send 1000 --hold 30 \
	--ready-file "$WORK/busy.ready" > "$WORK/busy.out" &
busy=$!
for i in $(seq 300); do [ -e "$WORK/idle.ready" ] && [ -e "$WORK/busy.ready" ] && break; sleep 0.1; done
[ -e "$WORK/idle.ready" ] && [ -e "$WORK/busy.ready" ] || fail "clients did not connect"
note "idle client: $(cat "$WORK/idle.out"); busy client: $(cat "$WORK/busy.out")"

# 1.
ip netns exec tstp_cli "$CONN" halfclose --addr $SRV4 --port 5560 --hold 30 \
	--ready-file "$WORK/half.ready" > "$WORK/half.out" &
half=$!
for i in $(seq 100); do [ -e "$WORK/half.ready" ] && break; sleep 0.05; done
start=$(date +%s.%N)
lport=$(sed -n 's/^lport=//p' "$WORK/half.out")
[ -n "$lport" ] || fail "the half-closing client did not report its port"
sleep 4.5
echo now > /proc/systemtap/tcpstap_states/snapshot
st=/proc/systemtap/tcpstap_states/state
for i in $(seq 200); do
	[ -r $st ] || { skip_if_overloaded tcpstap_states; fail "$st: gone"; }
	grep -q 'snapshots=1 snapshot_active=0' $st && break
	sleep 0.1
done
grep -q 'snapshots=1 snapshot_active=0' $st || fail "the snapshot did not complete: $(cat $st)"
sleep 1.2	# one more interval
took=$(echo "$(date +%s.%N) - $start" | bc)
guard_interface_ok tcpstap_states
module_stop tcpstap_states
kill $idle $busy $half 2>/dev/null; wait $idle $busy $half 2>/dev/null
conn_serve_stop "$hold_pid"; conn_serve_stop "$leak_pid"
health_decode "$WORK/raw" states
J=$WORK/states.json
skipped=$(skipped_hits tcpstap_states)

assert_eq "$($Q $J --type state --where laddr=$SRV4 --where lport=5560 --where rport="$lport" --where old_state=ESTABLISHED --get new_state)" \
	CLOSE_WAIT "transition of the leaking server's connection"
"$TSTP" watch --json --close-wait 3 --slowloris-age 3 "$WORK/raw" > "$WORK/alerts.json" 2> "$WORK/watch.err"
rc=$?
"$TSTP" watch --close-wait 3 --slowloris-age 3 "$WORK/raw" > "$WORK/alerts.txt" 2>/dev/null
echo "--- tcpstap watch:" >&2; cat "$WORK/alerts.txt" "$WORK/watch.err" >&2
assert_eq "$rc" 0 "watch exit status"
A=$WORK/alerts.json

# 1.
assert_eq "$($Q $A --where rule=close-wait --count)" 1 "close-wait alerts"
assert_eq "$($Q $A --where rule=close-wait --get local)" "$SRV4:5560" "its local end"
assert_eq "$($Q $A --where rule=close-wait --get remote)" "$CLI4:$lport" "its remote end"
secs=$($Q $A --where rule=close-wait --get seconds)
awk -v s="$secs" -v t="$took" 'BEGIN { exit !(s >= 3 && s <= t + 1) }' ||
	fail "close-wait alert after $secs s; the connection was in CLOSE_WAIT ${took}s, limit 3 s"
note "ok: close-wait flagged after $secs s (limit 3 s; ${took}s in CLOSE_WAIT by the end)"
grep -q "ALERT close-wait | $SRV4:5560 => $CLI4:$lport in CLOSE_WAIT for .* | hint: the application does not close" "$WORK/alerts.txt" ||
	fail "no text alert line for the CLOSE_WAIT leak"

# 2.
assert_eq "$($Q $A --where rule=slowloris --count)" 1 "slowloris alerts"
assert_eq "$($Q $A --where rule=slowloris --get raddr)" "$CLI4" "the address flagged"
assert_count_skips "$($Q $A --where rule=slowloris --get connections)" 200 "$skipped" "idle connections counted"

# 3.
snap=$($Q $J --type snapshot_end --last snapshot)
[ -n "$snap" ] || fail "no snapshot"
assert_count_skips "$($Q $J --type snapshot --where snapshot="$snap" --where laddr=$SRV4 --where lport=5561 --where state=ESTABLISHED --count)" \
	200 "$skipped" "server sockets of the idle client in the snapshot"
assert_count_skips "$($Q $J --type snapshot --where snapshot="$snap" --where laddr=10.77.1.1 --where lport=5561 --where state=ESTABLISHED --count)" \
	150 "$skipped" "server sockets of the busy client in the snapshot"
assert_eq "$($Q $J --type snapshot --where snapshot="$snap" --where lport=5560 --where state=CLOSE_WAIT --count)" 1 "the CLOSE_WAIT socket in the snapshot"
assert_eq "$($Q $J --type snapshot_end --where snapshot="$snap" --get sockets)" \
	"$($Q $J --type snapshot --where snapshot="$snap" --count)" "snapshot end count vs its records"
exit 0
