#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap-load under pressure (issue 4, tests 3 and 4).
#  3. The reader stops reading (SIGSTOP of tcpstap-load) while heavy traffic
#     flows, long enough for the kernel's trace buffer (1 MB) to overflow:
#     the kernel stays healthy (the harness fails on any splat), the loss is
#     reported as soon as reading resumes (before the exit summary), counted
#     in the summary, and SIGINT still ends everything promptly.
#  4. A tiny --max-cpu under that traffic: the module disarms itself, the
#     loader's message names the measured overhead, the exit status is 3.
# timeout: 200
# One QEMU thread: a CI run on 5.10 saw a vCPU loop on a stale int3 at
# __tcp_transmit_skb+0x0 when this traffic met the unload (the emulator
# defect in scripts/tcpstap-vm --help).
# tcg: single
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"
state_field() { module_state_field tcpstap_latency "$1"; }	# empty: module gone
module_went_away() {
	kill -CONT $loader; sleep 2; kill -INT $loader; sleep 2
	cat "$WORK/stop.err" >&2
	fail "the module went away (or its state file did not answer for 5 s) while the reader was stopped"
}

two_hosts
server_start
# 3. --max-cpu 100 and --deadman 60: this part is about the reader, not the guards.
"$LOAD" --max-cpu 100 --deadman 90 --stats-interval 1 latency tcp port $LAT_PORT -- _stp_bufsize=1 \
	> "$WORK/stop.out" 2> "$WORK/stop.err" &
loader=$!
module_up_wait tcpstap_latency || fail "tcpstap-load did not load the module: $(cat "$WORK/stop.err")"
module_probes_fire tcpstap_latency || fail "module not armed"
# Below SystemTap's own overload backstop (10% of a CPU), which would end the run.
client_run --addr $SRV4 --conns 1 --exchanges 1000000 --gap 0.5 &
traffic=$!
sleep 1
kill -STOP $loader
note "reader stopped"
# Until the module emitted more than the trace buffer and the pipe hold: in
# a first run they held 8478 records (1.4 MB); 11000 records overflow them.
e0=$(state_field emitted)
[ -n "$e0" ] || module_went_away
for i in $(seq 600); do
	e=$(state_field emitted)
	[ -n "$e" ] || module_went_away
	[ $((e - e0)) -ge 11000 ] && break
	sleep 0.1
done
note "records emitted while the reader was stopped: $((e - e0)) in $((i / 10)) s; handlers at $(state_field window_ppm) ppm of a CPU"
[ $((e - e0)) -ge 11000 ] || fail "traffic too slow to overflow the trace buffer in 60 s (test premise)"
before_resume=$(wc -l < "$WORK/stop.err")
kill -CONT $loader
note "reader resumed"
for i in $(seq 100); do grep -q 'records lost so far' "$WORK/stop.err" && break; sleep 0.1; done
client_stop $traffic
grep -q 'records lost so far' "$WORK/stop.err" || { cat "$WORK/stop.err" >&2; fail "no loss reported within 10 s of resuming"; }
warn_line=$(grep -n -m1 'records lost so far' "$WORK/stop.err" | cut -d: -f1)
[ "$warn_line" -gt "$before_resume" ] || fail "loss reported before the reader resumed?"
kill -INT $loader
for i in $(seq 100); do kill -0 $loader 2>/dev/null || break; sleep 0.1; done
kill -0 $loader 2>/dev/null && fail "tcpstap-load did not exit within 10 s of SIGINT (hang)"
wait $loader
rc=$?
cat "$WORK/stop.err" >&2
assert_eq "$rc" 0 "exit status after SIGINT"
lost=$(sed -n 's/.* \([0-9][0-9]*\) records lost in sequence gaps.*/\1/p' "$WORK/stop.err" | tail -n 1)
[ -n "$lost" ] && [ "$lost" -gt 0 ] || fail "the exit summary does not count the lost records"
note "ok: $lost records lost while the reader was stopped, reported on resume and in the summary"
grep -q '^tcpstap_latency ' /proc/modules && fail "module left loaded"

# 4. the CPU budget through the loader.
"$LOAD" --max-cpu 0.001 latency tcp port $LAT_PORT -- budget_window_s=1 > /dev/null 2> "$WORK/cpu.err" &
loader=$!
module_up_wait tcpstap_latency || fail "tcpstap-load did not load the module: $(cat "$WORK/cpu.err")"
client_run --addr $SRV4 --conns 1 --exchanges 1000000 --gap 2 &	# well below stap's backstop
traffic=$!
for i in $(seq 150); do kill -0 $loader 2>/dev/null || break; sleep 0.1; done
kill -0 $loader 2>/dev/null && fail "tcpstap-load still running 15 s into traffic with --max-cpu 0.001"
wait $loader
rc=$?
client_stop $traffic
cat "$WORK/cpu.err" >&2
assert_eq "$rc" 3 "exit status when the module disarmed itself"
grep -Eq '^tcpstap-load: module disarmed itself: its handlers used [0-9]+\.[0-9]{4}% of one CPU \([0-9]+ ppm\) over 1 s, above the budget of --max-cpu 0\.001% \(10 ppm\)$' "$WORK/cpu.err" ||
	fail "the disarm message does not name the measured overhead"
grep -q '^tcpstap_latency ' /proc/modules && fail "module left loaded"
server_stop
exit 0
