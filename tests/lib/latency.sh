# SPDX-License-Identifier: GPL-2.0
# Latency scenario helpers for tests/kernel/1*-latency-*.t (inside the guest).
# Sourced after guest.sh.

WL="$TOP/build/tests/tstp-workload"
[ -x "$WL" ] || fail "$WL: not built (make testtools)"
CHECK="python3 $TOP/tests/lib/check_exchanges.py"
LAT_PORT=5555
SRV4=10.77.0.1
SRV6=fd77::1

# Start the workload server in the server namespace and wait until it listens.
server_start() {	# [workload server options...]
	rm -f "$WORK/srv.ready"
	ip netns exec tstp_srv $WL server --port $LAT_PORT --addr "${SERVER_ADDR:-0.0.0.0}" --ready-file "$WORK/srv.ready" \
		--pid-file "$WORK/srv.pid" --sleep-log "$WORK/sleeps" "$@" &
	SERVER_PID=$!
	local i
	for i in $(seq 200); do [ -e "$WORK/srv.ready" ] && return 0; sleep 0.05; done
	fail "workload server did not start"
}

server_stop() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; return 0; }

client_run() {	# [workload client options...]
	ip netns exec tstp_cli $WL client --port $LAT_PORT --sleep-log "$WORK/sleeps" \
		--pid-file "$WORK/cli.pid" "$@" ||
		fail "workload client failed"
}

# Stops a client started with "client_run ... &" (PID: $!). Killing that
# subshell alone leaves the client running: ip netns exec replaced itself
# with it, so it is the subshell's child. The subshell goes first, so that
# it does not report the client's death as a failure.
client_stop() {	# PID
	kill "$1" 2>/dev/null
	[ -s "$WORK/cli.pid" ] && kill "$(cat "$WORK/cli.pid")" 2>/dev/null
	wait "$1" 2>/dev/null
	rm -f "$WORK/cli.pid"
}

# Median of the injected sleeps as they really happened (us): emulation
# overshoots time.sleep() by a few ms, and the test must hold tcpstap to the
# delay that was injected, not to the one that was asked for.
injected_us() {
	[ -s "$WORK/sleeps" ] || fail "the workload logged no injected sleep"
	sort -n "$WORK/sleeps" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Decode the module's output into $WORK/x.json (and show the text form).
decode() {	# RAWFILE
	cp "$1" "$OUT/capture.tstp" 2>/dev/null
	"$TSTP" read "$1" > "$WORK/x.txt" 2> "$WORK/decode.err"
	local rc=$?
	"$TSTP" read --json "$1" > "$WORK/x.json" 2>/dev/null
	echo "--- tcpstap read:" >&2
	cat "$WORK/x.txt" "$WORK/decode.err" >&2
	[ "$rc" = 0 ] || fail "tcpstap read exited $rc (data lost or damaged)"
	return 0
}

# The typical scenario: module traced on the service port, server in one
# namespace, client in the other, module stopped after the client is done
# and its connections are closed (so that every exchange is final).
# NETEM_EACH_WAY_MS=N delays both directions of the link by N ms.
latency_scenario() {	# "SERVER OPTS" "CLIENT OPTS" [module params...]
	local sopts=$1 copts=$2
	shift 2
	[ -x "$TSTP" ] || fail "$TSTP not built"
	two_hosts
	if [ -n "${NETEM_EACH_WAY_MS:-}" ]; then
		netem_delay "$NETEM_EACH_WAY_MS"
		ip netns exec tstp_srv tc qdisc add dev tstp_veth_s root netem delay "${NETEM_EACH_WAY_MS}ms" ||
			fail "tc netem on the server side"
	fi
	module_start tcpstap_latency "$WORK/raw" ports=$LAT_PORT "$@"
	server_start $sopts
	client_run $copts
	sleep 0.5
	server_stop
	module_stop tcpstap_latency
	decode "$WORK/raw"
}
