#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel receive-queue delay: the server waits until a request has arrived,
# then sleeps 40 ms before reading it. The time is the request sitting in
# the socket's receive queue: server queue_us ~ 40 ms, app_us small.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

latency_scenario "--read-delay 40" "--addr $SRV4 --exchanges 5"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 6 || exit 1
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --skip-first \
	--near-each queue_us="$WORK/sleeps" --below app_us=2000 || exit 1
exit 0
