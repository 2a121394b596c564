#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap exporter end to end (issue 5, test 7's exposition check): in a
# network namespace with known sockets (tstp-sockets) and a textfile
# directory of hand-written .prom files, GET /metrics must parse with a real
# Prometheus parser (python3-prometheus-client), carry HELP and TYPE for
# every family, match ss and the workload's counts, serve the fresh textfile
# and skip (and count) the stale and the invalid one. tcpkit's port must
# serve tcpkit's JSON with the histogram mapped to tcpkit's buckets. A silent
# client must not block another scrape and must be dropped at the client
# timeout; bad requests get 400/404/405/431. SIGTERM stops it with status 0.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
SOCKS=$TOP/build/tests/tstp-sockets
[ -x "$SOCKS" ] || fail "$SOCKS not built (make testtools)"
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null ||
	fail "python3-prometheus-client missing (make deps)"
HTTP=9477 TCPKIT=33333 CLIENT_TIMEOUT=8

NS=tstp_ex
nsx() { ip netns exec "$NS" "$@"; }
ip netns add "$NS" && nsx ip link set lo up || fail "netns $NS"

PROM=$WORK/prom
mkdir -p "$PROM"
ep='role="server",addr="10.0.0.1",port="6379"'
{
	echo '# HELP tcpstap_latency_exchange_seconds Exchange totals per service endpoint.'
	echo '# TYPE tcpstap_latency_exchange_seconds histogram'
	for kv in 0.0001=2 0.0002=5 0.0005=5 0.001=10 0.005=17 0.01=17 0.02=17 0.05=17 0.1=28 \
		  0.2=28 0.5=28 1=28 2=28 3=28 5=28 10=28 20=28 +Inf=29; do
		echo "tcpstap_latency_exchange_seconds_bucket{$ep,le=\"${kv%%=*}\"} ${kv#*=}"
	done
	echo "tcpstap_latency_exchange_seconds_sum{$ep} 1.25"
	echo "tcpstap_latency_exchange_seconds_count{$ep} 29"
	echo '# HELP tcpstap_latency_request_bytes_total Request payload bytes.'
	echo '# TYPE tcpstap_latency_request_bytes_total counter'
	echo "tcpstap_latency_request_bytes_total{$ep} 2900"
	echo '# HELP tcpstap_latency_response_bytes_total Response payload bytes.'
	echo '# TYPE tcpstap_latency_response_bytes_total counter'
	echo "tcpstap_latency_response_bytes_total{$ep} 43000"
} > "$PROM/latency.prom.tmp" && mv "$PROM/latency.prom.tmp" "$PROM/latency.prom"
echo 'stale_metric 1' > "$PROM/retrans.prom"
touch -d '-10 min' "$PROM/retrans.prom"
echo 'this is not the exposition format' > "$PROM/broken.prom"

ip netns exec "$NS" "$SOCKS" --ready "$WORK/ready" --established 17 --close-wait 5 --queue 3 --port 7000 \
	2> "$WORK/socks.err" &
socks=$!
for i in $(seq 300); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || fail "tstp-sockets not ready: $(cat "$WORK/socks.err")"

ip netns exec "$NS" "$TSTP" exporter -l 127.0.0.1:$HTTP -k 127.0.0.1:$TCPKIT -d "$PROM" -t $CLIENT_TIMEOUT \
	2> "$WORK/exporter.err" &
exporter=$!
for i in $(seq 100); do
	nsx ss -Hltn "sport = :$HTTP" | grep -q LISTEN && break
	kill -0 $exporter 2>/dev/null || fail "exporter died: $(cat "$WORK/exporter.err")"
	sleep 0.1
done
nsx ss -Htan "! ( sport = :$HTTP or sport = :$TCPKIT )" > "$WORK/ss.txt"
nsx /usr/bin/python3 "$TOP/tests/lib/check_exporter.py" $HTTP $TCPKIT "$WORK/ss.txt" "$WORK/ready" \
	$CLIENT_TIMEOUT || { cat "$WORK/exporter.err" >&2; fail "exporter check failed"; }
kill -TERM $exporter
wait $exporter
rc=$?
cat "$WORK/exporter.err" >&2
assert_eq "$rc" 0 "exporter exit status after SIGTERM"
grep -q 'retrans.prom: skipped (stale)' "$WORK/exporter.err" || fail "stale file not reported on stderr"
assert_eq "$(grep -c 'retrans.prom: skipped' "$WORK/exporter.err")" 1 "stale file reported once, not per scrape"
kill -TERM $socks; wait $socks || fail "tstp-sockets exit status $?"
exit 0
