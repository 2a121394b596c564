#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# CPU budget: with a budget far below what the handlers cost under traffic
# (max_cpu_ppm=1 over 1 s), the module disarms itself, names the measured
# overhead and the budget, and reports reason 2 (overhead) in its state and
# in a STATS record.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

field() { tr ' ' '\n' < /proc/systemtap/tcpstap_latency/state | sed -n "s/^$1=//p"; }

two_hosts
module_start tcpstap_latency "$WORK/raw" ports=$LAT_PORT max_cpu_ppm=1 budget_window_s=1
server_start
client_run --addr $SRV4 --exchanges 40 --gap 0
for i in $(seq 40); do [ "$(field armed)" = 0 ] && break; sleep 0.1; done
assert_eq "$(field armed)" 0 "armed after exceeding the budget"
assert_eq "$(field disarm_reason)" 2 "disarm reason (2: overhead)"
ppm=$(field window_ppm)
note "state: $(cat /proc/systemtap/tcpstap_latency/state)"
server_stop
module_stop tcpstap_latency
msg=$(grep 'probes disarmed: handlers used' "$WORK/tcpstap_latency.staprun.err") ||
	fail "no disarm message on stderr: $(cat "$WORK/tcpstap_latency.staprun.err")"
note "ok: $msg"
used=$(echo "$msg" | sed -n 's/.*handlers used \([0-9]*\) ppm.*/\1/p')
[ -n "$used" ] && [ "$used" -gt 1 ] || fail "the message does not name an overhead above the budget: $msg"
"$TSTP" read --all "$WORK/raw" 2>/dev/null | grep stats | tail -n 1 | grep -q 'armed no' ||
	fail "last STATS record does not say disarmed"
exit 0
