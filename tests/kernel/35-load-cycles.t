#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# 100 load/unload cycles of tcpstap-load under traffic (issue 4, test 7):
# every run ends cleanly, and afterwards nothing is left behind: no module,
# no kprobe, no /proc/systemtap or debugfs entry, no lock file. The harness
# fails the run on any oops, BUG, WARNING or lockdep report.
# timeout: 400
# tcg: single
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"
CYCLES=${CYCLES:-100}

snapshot() {	# what a module could leak, one item per line
	grep -c . /sys/kernel/debug/kprobes/list 2>/dev/null | sed 's/^/kprobes /'
	ls /proc/systemtap 2>/dev/null | sed 's/^/procfs /'
	ls /sys/kernel/debug/systemtap 2>/dev/null | sed 's/^/debugfs /'
	# locks, metrics files; not .guard, the empty file every lock change
	# flocks, kept on purpose (unlinking a flock file races with its users)
	find /run/tcpstap -type f ! -name .guard 2>/dev/null | sed 's/^/file /'
	grep '^tcpstap_' /proc/modules | sed 's/^/module /'
}

two_hosts
server_start
snapshot > "$WORK/before"
client_run --addr $SRV4 --conns 2 --exchanges 1000000 --gap 2 &
traffic=$!
start=$(date +%s)
# --max-cpu 50: emulated handlers cost ~50x native ones, so the default 1%
# budget can disarm a run; the budget has tests of its own (21, 34).
for c in $(seq $CYCLES); do
	# Durations vary so that stops land at different points of a run.
	"$LOAD" -q --max-cpu 50 -d "0.$(( (c * 37) % 3 + 1 ))" latency tcp port $LAT_PORT > /dev/null 2> "$WORK/cycle.err"
	rc=$?
	[ "$rc" = 0 ] || { cat "$WORK/cycle.err" >&2; fail "cycle $c: tcpstap-load exited $rc"; }
	grep -q '^tcpstap_latency ' /proc/modules && fail "cycle $c: module left loaded"
	kill -0 $traffic 2>/dev/null || fail "cycle $c: the traffic stopped"
done
note "ok: $CYCLES cycles in $(( $(date +%s) - start )) s under traffic"
client_stop $traffic
server_stop
snapshot > "$WORK/after"
diff -u "$WORK/before" "$WORK/after" >&2 || fail "something was left behind after $CYCLES cycles (diff above)"
note "ok: no module, kprobe, procfs, debugfs or lock file left ($(tr '\n' ' ' < "$WORK/after"))"
exit 0
