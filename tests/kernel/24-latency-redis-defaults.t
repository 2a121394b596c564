#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Light concurrent load with every default: redis-benchmark (1000 GET
# requests over 4 connections) against redis-server, traced by tcpstap-load
# given nothing but the filter. Each GET is one server exchange, so exactly
# 1000 of them must be decoded on the benchmark's 4 connections (its CONFIG
# GETs use a connection of their own), with no probe skipped by
# SystemTap, no disarm by the CPU budget or the dead-man switch, and
# nothing lost between the kernel and the file.
# timeout: 180
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"
command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null ||
	skip "redis-server / redis-benchmark not installed (make deps)"
PORT=6379

two_hosts
ip netns exec tstp_srv redis-server --bind $SRV4 --port $PORT --save '' --appendonly no \
	--protected-mode no --daemonize no --loglevel warning > "$WORK/redis.log" 2>&1 &
redis=$!
for i in $(seq 200); do
	ip netns exec tstp_cli redis-cli -h $SRV4 -p $PORT PING > /dev/null 2>&1 && break
	sleep 0.1
done
[ "$i" -lt 200 ] || { cat "$WORK/redis.log" >&2; fail "redis-server did not start"; }

"$LOAD" -w "$WORK/raw" latency tcp port $PORT > "$WORK/load.out" 2> "$WORK/load.err" &
loader=$!
module_up_wait tcpstap_latency || fail "module not up: $(cat "$WORK/load.err")"
module_probes_fire tcpstap_latency || fail "module not armed: $(cat "$WORK/load.err")"
ip netns exec tstp_cli redis-benchmark -h $SRV4 -p $PORT -n 1000 -c 4 -t get -q > "$WORK/bench.out" 2>&1 ||
	{ cat "$WORK/bench.out" >&2; fail "redis-benchmark failed"; }
cat "$WORK/bench.out" >&2
sleep 1		# the connections' closes end their last exchanges
state=$(module_state tcpstap_latency)
note "module state: $state"
kill -INT $loader
wait $loader
rc=$?
cat "$WORK/load.err" >&2
kill $redis 2>/dev/null; wait $redis 2>/dev/null

assert_eq "$rc" 0 "tcpstap-load exit status (3 would be a disarm)"
echo "$state" | grep -q '^armed=1 ' || fail "module disarmed under light load: $state"
if grep -q 'skipped probes: [1-9]' "$WORK/load.err"; then
	fail "SystemTap skipped probe hits: $(grep -o 'skipped probes: [0-9]*' "$WORK/load.err")"
fi
"$TSTP" read --json "$WORK/raw" > "$WORK/x.json" 2> "$WORK/read.err" ||
	{ cat "$WORK/read.err" >&2; fail "tcpstap read: records lost or damaged"; }
# Server exchanges per client port: the four benchmark connections, and
# one or two CONFIG GETs on another.
python3 - "$WORK/x.json" > "$WORK/conns" <<'PY'
import collections, json, sys
per = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "type" not in r and r.get("role") == "server":
        per[r["rport"]] += 1
for port, n in sorted(per.items()):
    print(port, n)
PY
note "server exchanges per client port: $(tr '\n' ' ' < "$WORK/conns")"
n=$(awk '$2 > 10 { c++; s += $2 } END { print c + 0, s + 0 }' "$WORK/conns")
assert_eq "$n" "4 1000" "benchmark connections and their server exchanges"
exit 0
