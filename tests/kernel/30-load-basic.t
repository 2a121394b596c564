#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap-load end to end: it loads tcpstap_latency with a tcpdump-style
# filter, decodes live to stdout (the same lines as tcpstap read), stops at
# -d, and leaves no module, no lock and no procfs entry behind. Then the
# watchdog: kill -9 of tcpstap-load during traffic, five times at varied
# moments; each time the module must be gone within 5 s.
# timeout: 240
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
"$LOAD" -d 6 latency tcp port $LAT_PORT > "$WORK/load.out" 2> "$WORK/load.err" &
loader=$!
for i in $(seq 100); do [ -e /proc/systemtap/tcpstap_latency/heartbeat ] && break; sleep 0.1; done
module_probes_fire tcpstap_latency || fail "module not armed: $(cat "$WORK/load.err")"
client_run --addr $SRV4 --exchanges 5
wait $loader
rc=$?
cat "$WORK/load.err" >&2
cat "$WORK/load.out" >&2
assert_eq "$rc" 0 "tcpstap-load exit status after -d"
n=$(grep -c '| server |' "$WORK/load.out")
assert_eq "$n" 6 "server lines decoded live"
gone_within 1 || fail "module left loaded after a clean stop"

for round in 1 2 3 4 5; do
	"$LOAD" latency tcp port $LAT_PORT > /dev/null 2> "$WORK/kill.err" &
	loader=$!
	for i in $(seq 100); do [ -e /proc/systemtap/tcpstap_latency/heartbeat ] && break; sleep 0.1; done
	client_run --addr $SRV4 --exchanges 2 --gap 0 &
	client=$!
	sleep "0.$((round * 17 % 10))"
	kill -9 $loader
	start=$(date +%s.%N)
	gone_within 5 || fail "round $round: module still loaded 5 s after kill -9 of tcpstap-load: $(cat "$WORK/kill.err")"
	note "ok: round $round: module gone $(echo "$(date +%s.%N) - $start" | bc) s after kill -9"
	wait $client 2>/dev/null
done
server_stop
exit 0
