#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Filters and the event budget, each against a run that must be traced:
#  - addr= another host's address: nothing traced; addr= the server: traced;
#  - sample=N with N huge: every socket sampled out, and counted as such;
#  - max_events=2: at most 2 records a second, the rest counted as dropped
#    and still present in tcpstap stats through the kernel's histograms.
# timeout: 200
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

two_hosts
server_start

run() {	# NAME CLIENT-OPTS -- MODULE PARAMS...
	local name=$1 copts=$2
	shift 3
	module_start tcpstap_latency "$WORK/$name.raw" ports=$LAT_PORT "$@"
	client_run --addr $SRV4 $copts
	sleep 0.3
	module_stop tcpstap_latency
	"$TSTP" read --json "$WORK/$name.raw" > "$WORK/$name.json" 2>/dev/null
	"$TSTP" stats --json "$WORK/$name.raw" > "$WORK/$name.stats" 2>/dev/null
	grep -c '^{' "$WORK/$name.json"
}
counter() { python3 "$TOP/tests/lib/stats_field.py" "$1" "$2"; }	# STATSJSON KEY

assert_eq "$(run other "--exchanges 3" -- addr=10.77.0.9)" 0 "records with addr= an uninvolved host"
assert_eq "$(run server "--exchanges 3" -- addr=$SRV4)" 8 "records with addr= the server (4 exchanges x 2 sides)"
assert_eq "$(run sampled "--exchanges 3" -- sample=1000003)" 0 "records with sample=1000003"
n=$(counter "$WORK/sampled.stats" sampled_out)
[ "$n" -ge 2 ] || fail "sampled_out = $n, expected both sockets of the connection"
note "ok: sample=1000003: $n sockets sampled out, none traced"

recs=$(run budget "--exchanges 9 --gap 0" -- max_events=2)
dropped=$(counter "$WORK/budget.stats" dropped_rate)
[ "$recs" -ge 1 ] && [ "$recs" -le 6 ] || fail "max_events=2: $recs records (the run lasts 1-3 s)"
assert_eq "$((recs + dropped))" 20 "records + dropped_rate with max_events=2"
python3 - "$WORK/budget.stats" <<'PY' || fail "dropped exchanges missing from tcpstap stats"
import json, sys
eps = json.load(open(sys.argv[1]))["endpoints"]
counts = sorted((e["role"], e["count"]) for e in eps)
if counts != [("client", 10), ("server", 10)]:
    sys.exit("per-endpoint totals %s, expected 10 per side" % counts)
PY
note "ok: max_events=2: $recs records, $dropped dropped and counted, 10 exchanges per side in stats"
exit 0
