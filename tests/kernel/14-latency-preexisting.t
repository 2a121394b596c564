#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pre-existing connections: the client connects (3 pooled connections) before
# the module loads, and only then runs its exchanges. They are still timed,
# with the right roles, and the first exchange of each connection is flagged
# "preexisting" (its socket was found mid-connection).
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

two_hosts
server_start --app-delay 10
ip netns exec tstp_cli $WL client --port $LAT_PORT --sleep-log "$WORK/sleeps" --addr $SRV4 --conns 3 --exchanges 9 \
	--start-file "$WORK/go" &
client=$!
for i in $(seq 200); do [ -e "$WORK/go.connected" ] && break; sleep 0.05; done
[ -e "$WORK/go.connected" ] || fail "client did not connect"
module_start tcpstap_latency "$WORK/raw" ports=$LAT_PORT
touch "$WORK/go"
wait $client || fail "client failed"
sleep 0.5
server_stop
module_stop tcpstap_latency
decode "$WORK/raw"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 9 --near-each app_us="$WORK/sleeps" \
	--eq req_bytes=64 --eq resp_bytes=32 || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --count 9 --near-each wait_us="$WORK/sleeps" || exit 1
n=$(grep -c '"preexisting"' "$WORK/x.json")
assert_eq "$n" 6 "exchanges flagged preexisting (first of 3 connections, both sides)"
exit 0
