# SPDX-License-Identifier: GPL-2.0
# Connection-health scenario helpers for tests/kernel/4x-*.t (inside the
# guest). Sourced after guest.sh.

CONN="$TOP/build/tests/tstp-conn"
[ -x "$CONN" ] || fail "$CONN: not built (make testtools)"
Q="python3 $TOP/tests/lib/health_query.py"
SRV4=10.77.0.1
CLI4=10.77.0.2

# A TcpExt counter of a namespace (/proc/net/netstat is per namespace).
tcpext() {	# NS NAME
	ip netns exec "$1" awk -v k="$2" '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (n[i] == k) print $i }' /proc/net/netstat
}

# A Tcp counter of /proc/net/snmp (RetransSegs, ActiveOpens, ...).
tcpsnmp() {	# NS NAME
	ip netns exec "$1" awk -v k="$2" '
		$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		$1 == "Tcp:" { for (i = 2; i <= NF; i++) if (n[i] == k) print $i }' /proc/net/snmp
}

# Start a tstp-conn server in a namespace and wait until it listens. Sets CONN_SRV_PID.
conn_serve() {	# NS ADDR PORT MODE [more options]
	local ns=$1 addr=$2 port=$3 mode=$4 i
	shift 4
	rm -f "$WORK/serve.ready"
	ip netns exec "$ns" "$CONN" serve --addr "$addr" --port "$port" --mode "$mode" \
		--ready-file "$WORK/serve.ready" "$@" > "$WORK/serve.$port.out" &
	CONN_SRV_PID=$!
	for i in $(seq 100); do [ -e "$WORK/serve.ready" ] && return 0; sleep 0.05; done
	fail "tstp-conn serve on $addr:$port did not start"
}

conn_serve_stop() {	# PID
	kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0
}

# A third host on its own link to the server: tstp_cli2, 10.77.1.2 (the
# server is 10.77.1.1 on that link).
third_host() {
	ip netns add tstp_cli2 || fail "ip netns add tstp_cli2"
	ip link add tstp_veth_s2 type veth peer name tstp_veth_c2 || fail "veth"
	ip link set tstp_veth_s2 netns tstp_srv
	ip link set tstp_veth_c2 netns tstp_cli2
	ip -n tstp_srv addr add 10.77.1.1/24 dev tstp_veth_s2
	ip -n tstp_cli2 addr add 10.77.1.2/24 dev tstp_veth_c2
	ip -n tstp_cli2 link set lo up
	ip -n tstp_srv link set tstp_veth_s2 up
	ip -n tstp_cli2 link set tstp_veth_c2 up
}

# Decode a module's capture to $WORK/NAME.json (every record, JSON) and show
# the text form in the log; any loss or damage fails the test.
health_decode() {	# RAWFILE NAME
	cp "$1" "$OUT/$2.tstp" 2>/dev/null
	"$TSTP" read --all "$1" > "$WORK/$2.txt" 2> "$WORK/$2.err"
	local rc=$?
	"$TSTP" read --all --json "$1" > "$WORK/$2.json" 2>/dev/null
	echo "--- tcpstap read ($2):" >&2
	grep -v ' anchor \| stats \| totals ' "$WORK/$2.txt" | head -n 60 >&2
	cat "$WORK/$2.err" >&2
	[ "$rc" = 0 ] || fail "tcpstap read exited $rc (data lost or damaged)"
	return 0
}

# The last TOTALS value of counter KEY in a decoded capture.
total() {	# JSONFILE KEY
	$Q "$1" --type totals --last "$2"
}

# The guard interface every module offers to tcpstap-load: the state line's
# keys, and a heartbeat file that takes a write.
guard_interface_ok() {	# NAME
	local st=/proc/systemtap/$1/state k line
	if [ ! -r "$st" ]; then
		skip_if_overloaded "$1"
		fail "$st: missing; staprun said: $(cat "$WORK/$1.staprun.err" 2>/dev/null)"
	fi
	line=$(module_state "$1")
	for k in armed disarm_reason probe_hits probe_ns window_ppm max_cpu_ppm deadman_s; do
		echo "$line" | tr ' ' '\n' | grep -q "^$k=[0-9]*$" || fail "$st: no $k= in: $line"
	done
	echo beat > "/proc/systemtap/$1/heartbeat" || fail "/proc/systemtap/$1/heartbeat: not writable"
	note "ok: $1 state: $(cat "$st")"
}

# Probe hits SystemTap skipped (lock contention under the emulator), from
# staprun's report at exit: each can be one event missing from the records.
skipped_hits() {	# NAME (after module_stop)
	local n
	n=$(sed -n 's/.*skipped probes: \([0-9]*\).*/\1/p' "$WORK/$1.staprun.err" | tail -n 1)
	echo "${n:-0}"
}

# SystemTap's own overload backstop (10% of a CPU) unloads a module whose
# handlers cost more than that; under a loaded emulator a workload that is
# cheap on hardware can get there. Then the premise of the test is gone:
# skip, saying so, rather than report a wrong result.
skip_if_overloaded() {	# NAME
	if grep -q 'probe overhead .* exceeded threshold' "$WORK/$1.staprun.err" 2>/dev/null; then
		skip "SystemTap's overload backstop unloaded $1 (emulation too slow for this rate): $(grep -m1 'probe overhead' "$WORK/$1.staprun.err")"
	fi
}

# N - skipped <= GOT <= N, for counts that a skipped probe hit can lower.
assert_count_skips() {	# GOT N SKIPPED WHAT
	[ "$1" -le "$2" ] && [ "$1" -ge $(( $2 - $3 )) ] ||
		fail "$4: got $1, expected $2 (less at most the $3 probe hits SystemTap skipped)"
	note "ok: $4 = $1 (of $2; $3 probe hits skipped)"
}
