#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Large exchanges: a 5000-byte request (several MSS) and a 300000-byte
# response make one exchange each, not one per segment, with exact byte
# counts; the multi-segment stages (server recv_us, xmit_us; client recv_us)
# are observed.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

latency_scenario "" "--addr $SRV4 --exchanges 4 --req-bytes 5000 --resp-bytes 300000"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 5 \
	--eq req_bytes=5000 --eq resp_bytes=300000 --noflag pipelined || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --count 5 \
	--eq req_bytes=5000 --eq resp_bytes=300000 --noflag pipelined || exit 1
python3 - "$WORK/x.json" <<'PY' || fail "multi-segment stages"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
srv = [r for r in rows if r["role"] == "server"]
cli = [r for r in rows if r["role"] == "client"]
if not all(r["xmit_us"] > 0 for r in srv): sys.exit("server xmit_us must be > 0 for 300 KB")
if not all(r["recv_us"] > 0 for r in cli): sys.exit("client recv_us must be > 0 for 300 KB")
print("# ok: 300 KB responses spread over time: server xmit_us and client recv_us > 0", file=sys.stderr)
PY
exit 0
