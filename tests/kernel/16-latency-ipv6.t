#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# IPv6: the server-delay and count checks again over an IPv6 connection,
# with IPv6 addresses in every record.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

SERVER_ADDR=:: latency_scenario "--app-delay 30" "--addr $SRV6 --exchanges 5 --req-bytes 40 --resp-bytes 50"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 6 --eq laddr=$SRV6 --eq raddr=fd77::2 \
	--eq req_bytes=40 --eq resp_bytes=50 || exit 1
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --skip-first \
	--near-each app_us="$WORK/sleeps" --below queue_us=2000 || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --count 6 --eq laddr=fd77::2 --eq raddr=$SRV6 || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --skip-first --near-each wait_us="$WORK/sleeps" || exit 1
exit 0
