#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the demo: a Redis server and a client on two "hosts"
# (network namespaces), 5 ms of network delay each way, and one slow command
# (DEBUG SLEEP 0.05: 50 ms in the server application). tcpstap_latency
# traces port 6379 on both hosts; the output shows where each request's
# time went.
. "$(dirname "$0")/../../tests/lib/guest.sh"
two_hosts
ip netns exec tstp_cli tc qdisc add dev tstp_veth_c root netem delay 5ms
ip netns exec tstp_srv tc qdisc add dev tstp_veth_s root netem delay 5ms
ip netns exec tstp_srv redis-server --bind 10.77.0.1 --port 6379 --save '' --appendonly no --protected-mode no \
	--enable-debug-command yes --daemonize no --loglevel warning > "$WORK/redis.log" 2>&1 &
redis=$!
for i in $(seq 100); do ip netns exec tstp_cli redis-cli -h 10.77.0.1 PING > /dev/null 2>&1 && break; sleep 0.1; done

module_start tcpstap_latency "$WORK/raw" ports=6379
printf 'SET greeting hello\nGET greeting\nDEBUG SLEEP 0.05\nINCR hits\nGET greeting\n' |
	ip netns exec tstp_cli redis-cli -h 10.77.0.1 > /dev/null
sleep 0.5
module_stop tcpstap_latency
kill "$redis"; wait "$redis" 2>/dev/null

echo "== kernel $(uname -r): redis-cli (client host) -> redis-server 10.77.0.1:6379 (server host),"
echo "== 5 ms network delay each way, one DEBUG SLEEP 0.05 (50 ms in the server application)."
echo "== Each request appears twice: as the server's kernel saw it and as the client's did."
echo
"$TSTP" read "$WORK/raw"
echo
echo "== tcpstap stats:"
"$TSTP" stats "$WORK/raw"
