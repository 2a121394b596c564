#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap-load end to end: it loads tcpstap_latency with a tcpdump-style
# filter, decodes live to stdout (the same lines as tcpstap read), stops at
# -d, and leaves no module, no lock and no procfs entry behind. Meanwhile it
# keeps /run/tcpstap/metrics/tcpstap_latency.prom for tcpstap exporter
# (checked with a real Prometheus parser) and removes it at exit. Then -c:
# it stops by itself after COUNT exchange records. (kill -9: 33-load-kill.)
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"

gone_within() {	# SECONDS: the module and its procfs directory are gone by then
	local i
	for i in $(seq $(( $1 * 10 ))); do
		grep -q '^tcpstap_latency ' /proc/modules || { [ -d /proc/systemtap/tcpstap_latency ] || return 0; }
		sleep 0.1
	done
	return 1
}

two_hosts
server_start --app-delay 10
# --max-cpu 50: emulated handlers cost ~50x native ones, so the default 1%
# budget can disarm a run; the budget has tests of its own (21, 34).
"$LOAD" -d 8 --stats-interval 1 --max-cpu 50 latency tcp port $LAT_PORT > "$WORK/load.out" 2> "$WORK/load.err" &
loader=$!
module_up_wait tcpstap_latency
module_probes_fire tcpstap_latency || fail "module not armed: $(cat "$WORK/load.err")"
client_run --addr $SRV4 --exchanges 5
sleep 2.5	# the next STATS records rewrite the metrics file
cp /run/tcpstap/metrics/tcpstap_latency.prom "$WORK/metrics.prom" || fail "no metrics file for tcpstap exporter"
wait $loader
rc=$?
cat "$WORK/load.err" >&2
cat "$WORK/load.out" >&2
assert_eq "$rc" 0 "tcpstap-load exit status after -d"
n=$(grep -c '| server |' "$WORK/load.out")
assert_eq "$n" 6 "server lines decoded live"
gone_within 1 || fail "module left loaded after a clean stop"
[ -e /run/tcpstap/tcpstap_latency.lock ] && fail "lock file left after a clean stop"
[ -e /run/tcpstap/metrics/tcpstap_latency.prom ] && fail "metrics file left after a clean stop"
# The metrics, read by a real Prometheus parser: the 6 server exchanges (a
# warm-up and 5) in the histogram of the service endpoint.
python3 - "$WORK/metrics.prom" <<'PY' || fail "metrics file"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
h = fams["tcpstap_latency_exchange_seconds"]
count = [s.value for s in h.samples if s.name.endswith("_count") and s.labels["role"] == "server"
         and s.labels["addr"] == "10.77.0.1" and s.labels["port"] == "5555"]
assert count == [6.0], "server count %r" % count
assert [s.value for s in fams["tcpstap_module_armed"].samples] == [1.0]
print("# ok: metrics parse: %d families, server exchanges %d" % (len(fams), count[0]), file=sys.stderr)
PY

# -c COUNT: 7 records, then a clean stop while the client still sends.
"$LOAD" -c 7 --max-cpu 50 latency tcp port $LAT_PORT > "$WORK/count.out" 2> "$WORK/count.err" &
loader=$!
module_up_wait tcpstap_latency
module_probes_fire tcpstap_latency || fail "module not armed: $(cat "$WORK/count.err")"
client_run --addr $SRV4 --exchanges 20 --gap 5 &
client=$!
for i in $(seq 150); do kill -0 $loader 2>/dev/null || break; sleep 0.1; done
kill -0 $loader 2>/dev/null && fail "tcpstap-load -c 7 still running 15 s after traffic started"
wait $loader
rc=$?
wait $client
cat "$WORK/count.err" >&2
assert_eq "$rc" 0 "tcpstap-load -c exit status"
assert_eq "$(grep -c ' | \(server\|client\) | ' "$WORK/count.out")" 7 "exchange lines printed with -c 7"
grep -q '^tcpstap-load: record count reached' "$WORK/count.err" || fail "no 'record count reached' summary"
gone_within 1 || fail "module left loaded after -c"

server_stop
exit 0
