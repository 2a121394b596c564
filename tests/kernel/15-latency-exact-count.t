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
python3 - "$WORK/stats.json" <<'PY' || fail "producer counters"
import json, sys
j = json.load(open(sys.argv[1]))
def find(d, key):
    if isinstance(d, dict):
        if key in d: return d[key]
        for v in d.values():
            r = find(v, key)
            if r is not None: return r
    if isinstance(d, list):
        for v in d:
            r = find(v, key)
            if r is not None: return r
    return None
for key, want in (("exchanges", 202), ("emitted", 202), ("dropped_rate", 0), ("evicted", 0)):
    got = find(j, key)
    if got != want:
        sys.exit("stats %s = %r, expected %r" % (key, got, want))
print("# ok: producer counted 202 exchanges, emitted 202, dropped 0, evicted 0", file=sys.stderr)
PY
exit 0
