#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Network delay: netem adds 20 ms each way between the client and server
# hosts. The server's own total stays small (its kernel and application
# are fast); the client waits ~40 ms (wait_us: request sent -> response
# arrives), which is the network.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

NETEM_EACH_WAY_MS=20 latency_scenario "" "--addr $SRV4 --exchanges 5"
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --count 6 || exit 1
$CHECK "$WORK/x.json" --role client --port $LAT_PORT --skip-first --near wait_us=40000 || exit 1
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --skip-first --below total_us=3000 || exit 1
exit 0
