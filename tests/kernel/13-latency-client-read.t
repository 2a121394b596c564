#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Client read delay: the client waits until the response has arrived, then
# sleeps 25 ms before reading it. tcpstap puts it in the client's read_us
# (response arrived -> application read), not in wait_us or the server.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

latency_scenario "" "--addr $SRV4 --exchanges 5 --read-delay 25"
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --count 6 || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --skip-first \
	--near-each read_us="$WORK/sleeps" --below wait_us=3000 || exit 1
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --skip-first --below total_us=3000 || exit 1
exit 0
