#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Exact count: a prime number of exchanges (101: 98 measured + one warm-up
# on each of 3 connections) of known sizes. tcpstap reports exactly 101 per
# side, with no loss anywhere (decoder, event budget, evictions); each server
# exchange joins its client exchange by TCP sequence numbers, and every
# field of both matches the traffic (addresses, ports, sizes, pid, comm,
# flags, stages present and non-negative, client wait >= server total).
# timeout: 180
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

latency_scenario "" "--addr $SRV4 --conns 3 --exchanges 98 --gap 0 --req-bytes 77 --resp-bytes 131" \
	|| exit 1
python3 "$TOP/tests/lib/check_join.py" "$WORK/x.json" --port $LAT_PORT --count 101 \
	--req-bytes 77 --resp-bytes 131 --server-addr $SRV4 --client-addr 10.77.0.2 \
	--server-pid "$(cat "$WORK/srv.pid")" --client-pid "$(cat "$WORK/cli.pid")" || exit 1
"$TSTP" stats "$WORK/raw" > "$WORK/stats.txt" 2>&1
cat "$WORK/stats.txt" >&2
"$TSTP" stats --json "$WORK/raw" > "$WORK/stats.json" 2>/dev/null
for kv in exchanges=202 emitted=202 dropped_rate=0 evicted=0; do
	got=$(python3 "$TOP/tests/lib/stats_field.py" "$WORK/stats.json" "${kv%%=*}") || fail "stats: ${kv%%=*}"
	assert_eq "$got" "${kv#*=}" "producer counter ${kv%%=*}"
done
exit 0
