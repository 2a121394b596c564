#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap states against ss(8) on 20,000 sockets in every TCP state (issue 5,
# test 7), and listen-queue overflow data (test 8's accept queues).
#  - tstp-sockets holds ~20,000 loopback sockets in a fresh network namespace:
#    ESTABLISHED, SYN_SENT (dummy-device black hole), SYN_RECV
#    (TCP_DEFER_ACCEPT), FIN_WAIT1/CLOSING/LAST_ACK (FIN behind a zero
#    window), FIN_WAIT2/CLOSE_WAIT, TIME_WAIT, LISTEN with an accept queue,
#    IPv6 pairs; each count is known.
#  - tcpstap states --json must equal, exactly: ss -tan state X for every
#    state, ss -s (CurrEstab, timewait, hashed sockets per family), the sum of
#    ss Recv-Q/Send-Q, every listener's queue/backlog, the top remote
#    addresses, and the workload's own counts; the 2.6.32-style request
#    (--netlink legacy) must give the same. The dump must take under a second
#    (the issue's requirement; measured and printed).
#  - A listener with backlog 1 and a burst of 10 connects: the accept queue
#    exceeds the backlog (FULL), ListenOverflows rises, ss agrees.
# timeout: 240
. "$(dirname "$0")/../lib/guest.sh"
SOCKS=$TOP/build/tests/tstp-sockets
[ -x "$SOCKS" ] || fail "$SOCKS not built (make testtools)"
[ -x "$TSTP" ] || fail "$TSTP not built"
ulimit -n 65536 || fail "ulimit -n 65536"

NS=tstp_st
nsx() { ip netns exec "$NS" "$@"; }
ip netns add "$NS" || fail "ip netns add"
nsx ip link set lo up
# SYN_SENT: a route into a dummy device drops every SYN, silently.
nsx ip link add tstp_bh type dummy || fail "dummy device (CONFIG_DUMMY)"
nsx ip link set tstp_bh up
nsx ip addr add 10.99.0.254/24 dev tstp_bh
nsx sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.core.somaxconn=8192 ||
	fail "sysctl in $NS"

# 8,900 established pairs plus the rest: 20,121 sockets.
start=$(date +%s)
ip netns exec "$NS" "$SOCKS" --ready "$WORK/ready" --established 8900 --close-wait 461 --time-wait 307 \
	--syn-recv 293 --syn-sent 23 --blackhole 10.99.0.1 --fin-wait1 7 --closing 5 --last-ack 3 \
	--queue 13 --ipv6 211 --sources 12 2> "$WORK/socks.err" &
socks=$!
for i in $(seq 1800); do
	[ -s "$WORK/ready" ] && break
	kill -0 $socks 2>/dev/null || fail "tstp-sockets died: $(cat "$WORK/socks.err")"
	sleep 0.1
done
[ -s "$WORK/ready" ] || fail "tstp-sockets not ready after 180 s"
note "tstp-sockets ready in $(( $(date +%s) - start )) s: $(tr '\n' ' ' < "$WORK/ready")"

# Warm the binary and the page cache (the checkout is on 9p).
nsx "$TSTP" states > /dev/null || fail "tcpstap states failed"
# Everything that reads the sockets, back to back inside the namespace (TIME_WAIT
# lasts 60 s): ss, ss -tan state X per state, tcpstap timed (bash's time: no
# extra fork; -v: the tool's own dump and total), the legacy request, ss -s, ss.
wall=$(nsx bash -c '
	ss -Htan > "$2/ss1.txt"
	for s in established syn-sent syn-recv fin-wait-1 fin-wait-2 time-wait closed close-wait last-ack listening closing; do
		echo "$s $(ss -Htan state $s | wc -l)"
	done > "$2/ss-state.txt"
	TIMEFORMAT=%R
	{ time "$1" states --json -v -n 8 > "$2/states.json" 2> "$2/states.err"; } 2>&1 || exit 1
	"$1" states --json -n 8 --netlink legacy > "$2/legacy.json" || exit 1
	ss -s > "$2/ss-s.txt"
	ss -Htan > "$2/ss.txt"' _ "$TSTP" "$WORK") ||
	fail "tcpstap states failed: $(cat "$WORK/states.err")"
for f in ss1 ss; do awk '{print $1}' "$WORK/$f.txt" | sort | uniq -c > "$WORK/$f.count"; done
diff "$WORK/ss1.count" "$WORK/ss.count" >&2 ||
	fail "socket states moved during the test (ss before and after differ)"
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sockets"])' "$WORK/states.json")
[ "$n" -ge 20000 ] || fail "only $n sockets, want >= 20000"
total=$(sed -n 's/.*total \([0-9]*\)\.[0-9] ms$/\1/p' "$WORK/states.err")
[ -n "$total" ] || fail "no timing in: $(cat "$WORK/states.err")"
note "tcpstap states --json, $n sockets: $wall s wall clock including exec (TCG guest, checkout over 9p); $(cat "$WORK/states.err")"
# The issue requires under a second. Asserted on the tool's own run (dump,
# counting, output); the wall clock, mostly emulated exec, is only bounded.
[ "$total" -lt 1000 ] || fail "tcpstap states took $total ms for $n sockets: the issue requires under 1 s"
awk -v w="$wall" 'BEGIN { exit !(w < 5) }' || fail "tcpstap states took $wall s wall clock"

# The issue's own form: ss -tan state X, per state.
declare -A GOT
python3 -c '
import json, sys
for k, v in json.load(open(sys.argv[1]))["states"].items():
    print(k, v)' "$WORK/states.json" > "$WORK/states.kv" || fail "states.json unreadable"
while read -r k v; do GOT[$k]=$v; done < "$WORK/states.kv"
declare -A KEY=([established]=established [syn-sent]=syn_sent [syn-recv]=syn_recv
	[fin-wait-1]=fin_wait1 [fin-wait-2]=fin_wait2 [time-wait]=time_wait [closed]=close
	[close-wait]=close_wait [last-ack]=last_ack [listening]=listen [closing]=closing)
while read -r s want; do
	assert_eq "${GOT[${KEY[$s]}]}" "$want" "tcpstap ${KEY[$s]} vs ss -tan state $s"
done < "$WORK/ss-state.txt"
python3 "$TOP/tests/lib/check_states.py" "$WORK/states.json" "$WORK/ss.txt" "$WORK/ss-s.txt" "$WORK/ready" \
	--top 8 --legacy "$WORK/legacy.json" || fail "tcpstap states disagrees (see above)"
nsx "$TSTP" states | head -20 >&2
kill -TERM $socks; wait $socks || fail "tstp-sockets exit status $?"

# Listen-queue overflow: backlog 1, ten connects at once.
NS=tstp_ov
ip netns add "$NS" && nsx ip link set lo up || fail "netns $NS"
ip netns exec "$NS" python3 - "$WORK/ov.ready" <<'PY' &
import socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 7100))
l.listen(1)
cs = []
for i in range(10):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", 7100))
    except BlockingIOError:
        pass
    cs.append(c)
time.sleep(0.5)
open(sys.argv[1], "w").write("ready\n")
time.sleep(60)
PY
ov=$!
for i in $(seq 100); do [ -s "$WORK/ov.ready" ] && break; sleep 0.1; done
[ -s "$WORK/ov.ready" ] || fail "overflow workload not ready"
nsx "$TSTP" states --json > "$WORK/ov.json" || fail "tcpstap states (overflow)"
read -r q b <<< "$(nsx ss -Hltn 'sport = :7100' | awk '{print $2, $3}')"
got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
l = [x for x in d["listeners"] if x["port"] == 7100][0]
print(l["queue"], l["backlog"], l["full"], d["listen_overflows"] > 0, d["listen_drops"] > 0)' "$WORK/ov.json")
assert_eq "$got" "$q $b 1 True True" "backlog-1 listener: queue backlog full, overflows and drops counted (ss: $q/$b)"
[ "$q" -gt "$b" ] || fail "accept queue $q not above backlog $b: no overflow happened"
nsx "$TSTP" states --prometheus | grep -E 'listen_(queue_full|overflows_total)' >&2
kill $ov; wait $ov 2>/dev/null
exit 0
