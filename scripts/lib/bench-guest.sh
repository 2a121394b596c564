#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench` (scripts/bench boots the guest and runs this).
#
#   bench-guest.sh modes    the tracing modes, interleaved round by round
#   bench-guest.sh profile  one run of a timing build (stap -t): per-probe
#                           cycles and global lock contention
#   bench-guest.sh scale    many connections with churn; module and kernel memory
#
# Results go to $TCPSTAP_VM_OUT as JSON lines (modes.jsonl, scale.jsonl) plus
# meta-PHASE.json; scripts/bench turns them into tables. Parameters come from the
# environment (scripts/bench passes them; defaults here are the same):
#   BENCH_ROUNDS, BENCH_REQUESTS, BENCH_CONNS, BENCH_VALUE_BYTES, BENCH_MODES,
#   BENCH_MAX_CPU, BENCH_SCALE_CONNS, BENCH_SCALE_SECONDS, BENCH_SCALE_EXCHANGES
#
# Topology: redis-server in the "server host" namespace (10.77.0.1:6379),
# the client in the "client host" namespace, over a veth pair. Every mode
# traces port 6379; tcpstap's kernel probes see both ends of each connection
# (one kernel), tcpdump captures the server host's interfaces only, as a
# pcap tool on the server would.
. "$(dirname "$0")/../../tests/lib/guest.sh"

ROUNDS=${BENCH_ROUNDS:-5}
REQUESTS=${BENCH_REQUESTS:-30000}
CONNS=${BENCH_CONNS:-64}
VALUE_BYTES=${BENCH_VALUE_BYTES:-16}
MODES=${BENCH_MODES:-baseline floor disarmed every threshold ring pcap}
MAX_CPU=${BENCH_MAX_CPU:-100}
SCALE_CONNS=${BENCH_SCALE_CONNS:-10000}
SCALE_SECONDS=${BENCH_SCALE_SECONDS:-60}
SCALE_EXCHANGES=${BENCH_SCALE_EXCHANGES:-3}
# tcprstat opens "any" with a 65535-byte snap length (tcpkit: 1024); with
# this workload's small messages both copy every packet whole.
PCAP_SNAPLEN=65535
PORT=6379
SRV=10.77.0.1
LOAD=$TOP/userspace/build/tcpstap-load
# The benchmark's builds (scripts/bench), with stap's overload backstop out
# of reach: the floor, tcpstap_latency, tcpstap_disarmed (latency.stp whose
# C engine never arms: every handler is SystemTap's entry, one call and a
# return) and profile/ (latency with stap -t timing). Mode "defaults" loads the prebuilt module with
# tcpstap-load's defaults instead, once, to show what a user's guards do
# under the same load.
BENCH_MODS=$TOP/build/bench/modules/$REL
CHURN=$TOP/build/bench/tstp-churn
HZ=$(getconf CLK_TCK)
LAT=tcpstap_latency

# Busy jiffies of the whole guest (all CPUs): everything but idle and iowait.
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
now_ns() { date +%s%N; }
# KEY=VALUE from the latency module's state line (0 when absent).
state_get() {	# STATE KEY
	local v
	v=$(tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p")
	echo "${v:-0}"
}
# The state file's read handler is a probe too: under lock contention
# SystemTap may skip it and the read comes back empty; try again.
lat_state() {
	local st i
	for i in 1 2 3 4 5; do
		st=$(cat /proc/systemtap/$LAT/state 2>/dev/null)
		[ -n "$st" ] || [ ! -e /proc/systemtap/$LAT/state ] && break
		sleep 0.2
	done
	echo "$st"
}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
module_kb() { awk -v m="$1" '$1 == m { printf "%d", $2 / 1024 }' /proc/modules; }

redis_start() {	# [extra redis-server options]
	ip netns exec tstp_srv redis-server --bind $SRV --port $PORT --save '' --appendonly no \
		--protected-mode no --daemonize no --loglevel warning "$@" > "$WORK/redis.log" 2>&1 &
	REDIS_PID=$!
	local i
	for i in $(seq 200); do
		ip netns exec tstp_cli redis-cli -h $SRV -p $PORT PING > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$WORK/redis.log" >&2
	fail "redis-server did not start"
}

# ---------------------------------------------------------------- tracers
# Each start_MODE leaves the tracer armed and ready; stop_tracer undoes it
# and sets TRACER_RC (0 when it ran cleanly to the end).
TRACER_PID=
# Ring mode waits for a trigger that does not come: an exchange of 5 s.
RING_OPTS=(--ring 10 --trigger-ms 5000)
ring_supported() { "$LOAD" --help 2>&1 | grep -q -- --ring; }

latency_start() {	# MODULE tcpstap-load options...
	local ko=$1
	shift
	rm -f "$WORK/cap.tstp"
	"$LOAD" -q "$@" "$ko" port $PORT \
		> "$WORK/tracer.out" 2> "$WORK/tracer.err" &
	TRACER_PID=$!
	local i
	for i in $(seq 300); do
		[ -e /proc/systemtap/$LAT/state ] && break
		kill -0 $TRACER_PID 2>/dev/null || break
		sleep 0.1
	done
	module_probes_fire $LAT || { cat "$WORK/tracer.err" >&2; fail "tcpstap-load $*: module not armed"; }
}

pcap_start() {
	rm -f "$WORK/cap.pcap"
	ip netns exec tstp_srv tcpdump -i any -s $PCAP_SNAPLEN -w "$WORK/cap.pcap" "tcp port $PORT" \
		> /dev/null 2> "$WORK/tracer.err" &
	TRACER_PID=$!
	local i
	for i in $(seq 300); do
		grep -q 'listening on' "$WORK/tracer.err" && return 0
		kill -0 $TRACER_PID 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/tracer.err" >&2
	fail "tcpdump did not start"
}

start_tracer() {	# MODE
	TRACER_PID=
	: > "$WORK/tracer.err"
	case $1 in
	baseline) ;;
	floor|disarmed)
		PREBUILT=$BENCH_MODS module_start "tcpstap_$1" /dev/null
		TRACER_PID=$STAPRUN_PID ;;
	every) latency_start "$BENCH_MODS/$LAT.ko" -w "$WORK/cap.tstp" --max-cpu "$MAX_CPU" --max-events 0 ;;
	threshold) latency_start "$BENCH_MODS/$LAT.ko" -w "$WORK/cap.tstp" --max-cpu "$MAX_CPU" -t 10 ;;
	ring)
		rm -rf "$WORK/ring" && mkdir "$WORK/ring"
		latency_start "$BENCH_MODS/$LAT.ko" --capture-dir "$WORK/ring" --max-cpu "$MAX_CPU" \
			--max-events 0 "${RING_OPTS[@]}" ;;
	defaults) latency_start latency -w "$WORK/cap.tstp" -t 10 ;;
	pcap) pcap_start ;;
	*) fail "unknown mode '$1'" ;;
	esac
}

stop_tracer() {	# MODE
	TRACER_RC=0
	[ -n "$TRACER_PID" ] || return 0
	case $1 in
	floor|disarmed)
		module_stop "tcpstap_$1"
		cp "$WORK/tcpstap_$1.staprun.err" "$WORK/tracer.err"
		return 0 ;;
	pcap) kill -INT $TRACER_PID 2>/dev/null ;;
	*) kill -TERM $TRACER_PID 2>/dev/null ;;
	esac
	local i
	for i in $(seq 200); do kill -0 $TRACER_PID 2>/dev/null || break; sleep 0.1; done
	kill -0 $TRACER_PID 2>/dev/null && fail "$1: tracer did not stop within 20 s"
	wait $TRACER_PID
	TRACER_RC=$?
	[ "$TRACER_RC" = 0 ] || { echo "# $1: tracer exited $TRACER_RC:" >&2; sed 's/^/#   /' "$WORK/tracer.err" >&2; }
	grep -q "^$LAT " /proc/modules && fail "$1: $LAT still loaded after its loader exited"
	return 0
}

# ---------------------------------------------------------------- modes
run_round() {	# MODE ROUND
	local mode=$1 round=$2 s0 s1 t0 t1 st0= st1= csv rps p50 p99 rc bytes=0 drops=0 captures=0 skipped
	start_tracer "$mode"
	sleep 1		# let loading settle, the same for every mode
	case $mode in every|threshold|ring|defaults) st0=$(lat_state) ;; esac
	s0=$(cpu_busy); t0=$(now_ns)
	csv=$(ip netns exec tstp_cli redis-benchmark -h $SRV -p $PORT -c "$CONNS" -n "$REQUESTS" \
		-t get -d "$VALUE_BYTES" --csv 2> "$WORK/bench.err")
	rc=$?
	t1=$(now_ns); s1=$(cpu_busy)
	case $mode in every|threshold|ring|defaults) st1=$(lat_state) ;; esac
	stop_tracer "$mode"
	[ "$rc" = 0 ] || { cat "$WORK/bench.err" >&2; fail "$mode round $round: redis-benchmark exited $rc"; }
	# "GET","rps","avg","min","p50","p95","p99","max"
	read -r rps p50 p99 <<< "$(awk -F'"' '$2 == "GET" { print $4, $10, $14 }' <<< "$csv")"
	[ -n "$rps" ] || fail "$mode round $round: no GET line in redis-benchmark's output: $csv"
	# SystemTap's exit report: handler runs it skipped (a global's lock
	# not had in time, reentrancy, a missed kprobe): events lost.
	skipped=$(sed -n 's/.*skipped probes: \([0-9]*\).*/\1/p' "$WORK/tracer.err" 2>/dev/null | tail -n 1)
	case $mode in
	every|threshold|defaults) bytes=$(stat -c %s "$WORK/cap.tstp" 2>/dev/null || echo 0) ;;
	ring) captures=$(find "$WORK/ring" -type f | wc -l) ;;
	pcap) bytes=$(stat -c %s "$WORK/cap.pcap" 2>/dev/null || echo 0)
	      drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$WORK/tracer.err") ;;
	esac
	{
		printf '{"mode":"%s","round":%d,"requests":%d,"rps":%s,"p50_ms":%s,"p99_ms":%s,"wall_ns":%d,"cpu_ticks":%d,"hz":%d,"tracer_rc":%d,"capture_bytes":%d,"pcap_drops":%d,"ring_captures":%d,"skipped_probes":%d' \
			"$mode" "$round" "$REQUESTS" "$rps" "$p50" "$p99" $((t1 - t0)) $((s1 - s0)) "$HZ" \
			"$TRACER_RC" "$bytes" "${drops:-0}" "$captures" "${skipped:-0}"
		# The tracer's first complaint, if it had one (JSON-safe).
		[ "$TRACER_RC" = 0 ] || printf ',"tracer_note":"%s"' "$(grep -m1 -iE 'error|disarm' "$WORK/tracer.err" |
			tr -d '"\\' | tr -c '[:print:]' ' ' | cut -c1-300)"
		[ -n "$st1" ] && printf ',"probe_hits":%d,"probe_ns":%d,"exchanges":%d,"emitted":%d,"dropped_rate":%d,"armed":%d,"disarm_reason":%d,"window_ppm":%d' \
			$(( $(state_get "$st1" probe_hits) - $(state_get "$st0" probe_hits) )) \
			$(( $(state_get "$st1" probe_ns) - $(state_get "$st0" probe_ns) )) \
			$(( $(state_get "$st1" exchanges) - $(state_get "$st0" exchanges) )) \
			$(( $(state_get "$st1" emitted) - $(state_get "$st0" emitted) )) \
			$(( $(state_get "$st1" dropped_rate) - $(state_get "$st0" dropped_rate) )) \
			"$(state_get "$st1" armed)" "$(state_get "$st1" disarm_reason)" "$(state_get "$st1" window_ppm)"
		echo '}'
	} >> "$OUT/modes.jsonl"
	note "$mode round $round: $rps req/s, p50 $p50 ms, p99 $p99 ms, $((s1 - s0)) ticks"
}

# Both hosts, Redis with the key the benchmark reads, everything paged in.
modes_setup() {
	two_hosts
	redis_start
	ip netns exec tstp_cli redis-cli -h $SRV -p $PORT SET key:__rand_int__ \
		"$(head -c "$VALUE_BYTES" /dev/zero | tr '\0' v)" > /dev/null
	ip netns exec tstp_cli redis-benchmark -h $SRV -p $PORT -c "$CONNS" -n 2000 -t get -q > /dev/null 2>&1
}

phase_modes() {
	local modes=() m r
	for m in $MODES; do
		if [ "$m" = ring ] && ! ring_supported; then
			note "ring: n/a (tcpstap-load has no --ring)"
			echo '{"mode":"ring","na":"tcpstap-load has no --ring"}' >> "$OUT/modes.jsonl"
			continue
		fi
		modes+=("$m")
	done
	for m in floor disarmed latency; do
		[ -f "$BENCH_MODS/tcpstap_$m.ko" ] || fail "$BENCH_MODS/tcpstap_$m.ko: not built (scripts/bench builds it)"
	done
	modes_setup
	for r in $(seq "$ROUNDS"); do
		for m in "${modes[@]}"; do run_round "$m" "$r"; done
	done
	# Once, outside the rounds: the prebuilt module, tcpstap-load's defaults.
	run_round defaults 1
	kill $REDIS_PID; wait $REDIS_PID 2>/dev/null
}

# The timing build under the "every exchange" load: stap -t prints, at exit,
# each probe's hits and cycles (min/avg/max) and each global's lock
# contention, into the module's output stream.
phase_profile() {
	local ko=$BENCH_MODS/profile/$LAT.ko csv
	[ -f "$ko" ] || fail "$ko: not built (scripts/bench builds it)"
	modes_setup
	PREBUILT=$BENCH_MODS/profile module_start $LAT "$WORK/prof.raw" ports=$PORT max_events=0
	csv=$(ip netns exec tstp_cli redis-benchmark -h $SRV -p $PORT -c "$CONNS" -n "$REQUESTS" \
		-t get -d "$VALUE_BYTES" --csv) || fail "redis-benchmark failed"
	lat_state > "$OUT/profile-state.txt"
	module_stop $LAT
	strings -n 6 "$WORK/prof.raw" | sed -n '/^----- probe hit report/,$p' > "$OUT/profile.txt"
	[ -s "$OUT/profile.txt" ] || fail "no timing report in the module's output"
	echo "$csv" > "$OUT/profile-bench.csv"
	cat "$OUT/profile.txt" >&2
	kill $REDIS_PID; wait $REDIS_PID 2>/dev/null
}

# ---------------------------------------------------------------- scale
sockstat() {	# NETNS FIELD: TCP sockets in use (inuse) or in TIME_WAIT (tw)
	ip netns exec "$1" awk -v f="$2" '$1 == "TCP:" { for (i = 2; i < NF; i += 2) if ($i == f) print $(i + 1) }' \
		/proc/net/sockstat 2>/dev/null
}

mem_line() {	# PHASE
	local st
	# Per slab cache, for the report to say where Slab grew.
	cp /proc/slabinfo "$OUT/slabinfo-$1.txt" 2>/dev/null
	printf '{"phase":"%s","uptime_s":%s,"slab_kb":%d,"sunreclaim_kb":%d,"mem_available_kb":%d,"module_kb":%d,"tcp_inuse":%d,"tcp_tw":%d' \
		"$1" "$(cut -d' ' -f1 /proc/uptime)" "$(meminfo Slab)" "$(meminfo SUnreclaim)" "$(meminfo MemAvailable)" "$(module_kb $LAT)" \
		$(( $(sockstat tstp_srv inuse || echo 0) + $(sockstat tstp_cli inuse || echo 0) + 0 )) \
		$(( $(sockstat tstp_srv tw || echo 0) + $(sockstat tstp_cli tw || echo 0) + 0 ))
	st=$(lat_state)
	[ -n "$st" ] && printf ',"sockets":%d,"evicted":%d,"exchanges":%d,"armed":%d,"probe_hits":%d,"probe_ns":%d' \
		"$(state_get "$st" sockets)" "$(state_get "$st" evicted)" "$(state_get "$st" exchanges)" \
		"$(state_get "$st" armed)" "$(state_get "$st" probe_hits)" "$(state_get "$st" probe_ns)"
	echo '}'
}

settle_mem() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep 3; }

# Phases: before_load (nothing set up), setup (namespaces, Redis), loaded,
# during churn, churn_done; then Redis stops and both namespaces go (which
# also frees their TIME_WAIT sockets): conns_gone, with the module still
# loaded; after_unload is to be compared with before_load.
phase_scale() {
	[ -x "$CHURN" ] || fail "$CHURN: not built (scripts/bench builds it)"
	local fds=$((SCALE_CONNS * 2 + 1024)) churn rc start
	ulimit -n "$fds" || fail "ulimit -n $fds"
	settle_mem
	mem_line before_load >> "$OUT/scale.jsonl"
	two_hosts
	# The client host opens connections far faster than TIME_WAIT expires.
	ip netns exec tstp_cli sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
	ip netns exec tstp_srv sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
	redis_start --maxclients $((SCALE_CONNS + 1000)) --tcp-backlog 4096
	settle_mem
	mem_line setup >> "$OUT/scale.jsonl"
	latency_start "$BENCH_MODS/$LAT.ko" -w "$WORK/cap.tstp" --max-cpu "$MAX_CPU" -t 10
	settle_mem
	mem_line loaded >> "$OUT/scale.jsonl"
	ip netns exec tstp_cli "$CHURN" --addr $SRV --port $PORT --conns "$SCALE_CONNS" \
		--exchanges "$SCALE_EXCHANGES" --duration "$SCALE_SECONDS" --json > "$WORK/churn.json" 2> "$WORK/churn.err" &
	churn=$!
	start=$(date +%s)
	while sleep 10 && kill -0 $churn 2>/dev/null; do
		mem_line "during_$(( $(date +%s) - start ))s" >> "$OUT/scale.jsonl"
	done
	wait $churn
	rc=$?
	cat "$WORK/churn.err" >&2
	[ "$rc" = 0 ] || fail "tstp-churn exited $rc"
	cp "$WORK/churn.json" "$OUT/churn.json"
	mem_line churn_done >> "$OUT/scale.jsonl"
	kill $REDIS_PID; wait $REDIS_PID 2>/dev/null
	ip netns del tstp_cli; ip netns del tstp_srv
	sleep 5		# namespaces are torn down by a workqueue
	settle_mem
	mem_line conns_gone >> "$OUT/scale.jsonl"
	stop_tracer threshold
	settle_mem
	mem_line after_unload >> "$OUT/scale.jsonl"
	note "scale: $(cat "$WORK/churn.json")"
}

# ---------------------------------------------------------------- main
[ -x "$LOAD" ] || fail "$LOAD: not built (make -C userspace)"
printf '{"kernel":"%s","cpus":%d,"mem_kb":%d,"hz":%d,"redis":"%s","tcpdump":"%s","systemtap_runtime":"%s"}\n' \
	"$REL" "$(nproc)" "$(meminfo MemTotal)" "$HZ" \
	"$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
	"$(tcpdump --version 2>&1 | sed -n '1s/tcpdump version //p')" \
	"$(dpkg-query -W -f='${Version}' systemtap-runtime)" > "$OUT/meta-$1.json"
case ${1:-} in
modes) phase_modes ;;
profile) phase_profile ;;
scale) phase_scale ;;
*) fail "usage: bench-guest.sh modes|profile|scale" ;;
esac
exit 0
