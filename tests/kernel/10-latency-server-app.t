#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Server application delay: the server sleeps 30 ms between reading a request
# and writing the response. tcpstap must put those 30 ms in the server's
# app_us, and keep queue_us and send_us small. The client, on the other
# "host", sees the same 30 ms as waiting (wait_us), not as its own time.
# (Each connection starts with a warm-up exchange without delay, because the
# first pass through cold code costs milliseconds under emulation: counted,
# not timed.)
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

latency_scenario "--app-delay 30" "--addr $SRV4 --exchanges 5"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 6 \
	--eq req_bytes=64 --eq resp_bytes=32 --eq comm=tstp-server --eq pid="$(cat "$WORK/srv.pid")" || exit 1
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --skip-first \
	--near-each app_us="$WORK/sleeps" --below queue_us=2000 --below send_us=2000 || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --count 6 --eq comm=tstp-client || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --skip-first \
	--near-each wait_us="$WORK/sleeps" --below send_us=2000 --below read_us=2000 || exit 1
exit 0
