#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Threshold: with threshold_us=8000, only exchanges slower than 8 ms are
# emitted as records; the fast ones are counted in the kernel's histograms,
# and tcpstap stats adds both, so nothing is lost from the totals.
# Run 1: 6 fast exchanges (server answers at once). Run 2: 1 fast warm-up +
# 5 slow ones (15 ms in the server). 12 exchanges per side in all.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

two_hosts
module_start tcpstap_latency "$WORK/raw" ports=$LAT_PORT threshold_us=8000 interval_s=1
server_start
client_run --addr $SRV4 --exchanges 5
server_stop
server_start --app-delay 15
client_run --addr $SRV4 --exchanges 5
sleep 0.5
server_stop
module_stop tcpstap_latency
decode "$WORK/raw"
"$TSTP" stats --json "$WORK/raw" > "$WORK/stats.json" 2>/dev/null
"$TSTP" stats "$WORK/raw" >&2
# Which fast exchanges cross 8 ms is up to emulation (a cold first exchange
# can); what must hold is the invariant: every record is >= the threshold,
# the 5 slow ones are records, and records + histogram counts = 12 a side.
python3 - "$WORK/x.json" "$WORK/stats.json" "$TOP/tests/lib" <<'PY' || fail "threshold accounting"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
j = json.load(open(sys.argv[2]))
fast = [r for r in rows if r["total_us"] is None or r["total_us"] < 8000]
if fast:
    sys.exit("records below the 8 ms threshold: %s" % fast)
slow = [r for r in rows if r["role"] == "server" and r["app_us"] >= 15000]
if len(slow) != 5:
    sys.exit("%d server records with the 15 ms application delay, expected 5" % len(slow))
eps = {e["role"]: e for e in j["endpoints"]}
for role in ("server", "client"):
    e = eps.get(role)
    recs = sum(1 for r in rows if r["role"] == role)
    if not e or e["count"] != 12 or e["exchange_records"] != recs or e["kernel_count"] != 12 - recs:
        sys.exit("%s: endpoint %s, records %d: expected count 12 = records + kernel_count" % (role, e, recs))
sys.path.insert(0, sys.argv[3])
from stats_field import field
below = field(sys.argv[2], "below_threshold")
if below != 24 - len(rows):
    sys.exit("below_threshold %d, expected %d (24 exchanges - %d records)" % (below, 24 - len(rows), len(rows)))
print("# ok: %d records all >= 8 ms (5 slow server ones among them), %d exchanges only in "
      "kernel histograms; 12 per side in tcpstap stats" % (len(rows), below), file=sys.stderr)
PY
exit 0
