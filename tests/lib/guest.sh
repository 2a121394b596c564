# SPDX-License-Identifier: GPL-2.0
# Helpers for kernel tests (tests/kernel/*.t), sourced inside the guest.
# Exit codes: 0 pass, 1 fail, 77 skip.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REL=${TCPSTAP_VM_KERNEL:?kernel tests run inside tcpstap-vm}
PREBUILT=$TOP/prebuilt/$REL
OUT=${TCPSTAP_VM_OUT:-/tmp}
WORK=$(mktemp -d /tmp/tstp-test.XXXXXX)
TSTP=$TOP/userspace/build/tcpstap

# The reason is also kept in $OUT/FAIL (9p, synced), which tests/run shows
# should the console relay have lost the last lines.
fail() {
	echo "FAIL: $*" >&2
	[ -n "${TCPSTAP_VM_OUT:-}" ] && echo "FAIL: $*" >> "$TCPSTAP_VM_OUT/FAIL" 2>/dev/null
	exit 1
}
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "# $*" >&2; }

assert_eq() {	# ACTUAL EXPECTED WHAT
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
	note "ok: $3 = $1"
}

# ACTUAL_US EXPECTED_US WHAT: within +-(2 ms + 10%), the latency tests' tolerance.
assert_near_us() {
	awk -v a="$1" -v e="$2" 'BEGIN { t = 2000 + 0.10 * e; d = a - e; if (d < 0) d = -d; exit !(d <= t) }' ||
		fail "$3: got $1 us, expected $2 us +- (2 ms + 10%)"
	note "ok: $3 = $1 us (expected $2)"
}

assert_lt_us() {	# ACTUAL_US LIMIT_US WHAT
	awk -v a="$1" -v l="$2" 'BEGIN { exit !(a < l) }' || fail "$3: got $1 us, expected < $2 us"
	note "ok: $3 = $1 us (< $2)"
}

# Number of kprobes registered now (debugfs): a module's probes are armed
# only once they appear there, which can be well after its begin probe ran.
kprobe_count() { local n; n=$(grep -c . /sys/kernel/debug/kprobes/list 2>/dev/null); echo "${n:-0}"; }

# A module with a state file counts its handler hits: poke TCP (a connect to
# a closed loopback port) until a hit shows, so the caller's traffic cannot
# race the arming. Modules without one pass at once.
module_probes_fire() {	# NAME
	local st=/proc/systemtap/$1/state i
	[ -r "$st" ] || return 0
	for i in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null
		tr ' ' '\n' < "$st" 2>/dev/null | grep -q '^probe_hits=[1-9]' && return 0
		sleep 0.1
	done
	return 1
}

# Waits up to 10 s for a module's heartbeat file (its procfs is up).
module_up_wait() {	# NAME
	local i
	for i in $(seq 100); do [ -e "/proc/systemtap/$1/heartbeat" ] && return 0; sleep 0.1; done
	return 1
}

# The module's state line. A read comes back empty or fails while handlers
# hold the module's locks (SystemTap skips the procfs probe; more often with
# one QEMU thread): retry for up to 5 s while the file exists. Nothing is
# printed, and the status is 1, only when the module is gone or never answered.
module_state() {	# NAME
	local st=/proc/systemtap/$1/state line i
	for i in $(seq 50); do
		line=$(cat "$st" 2>/dev/null) && [ -n "$line" ] && { echo "$line"; return 0; }
		[ -e "$st" ] || return 1
		sleep 0.1
	done
	return 1
}
module_state_field() {	# NAME KEY
	module_state "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Start a prebuilt module with staprun in the background, output to FILE, and
# wait until its kprobes are registered (their count rose and is stable).
# Sets STAPRUN_PID.
module_start() {	# NAME OUTFILE [param=value ...]
	local name=$1 outfile=$2 ko base last now i stable=0
	shift 2
	ko=$PREBUILT/$name.ko
	[ -f "$ko" ] || fail "$ko: not built (make prebuilt)"
	base=$(kprobe_count)
	staprun -o "$outfile" "$ko" "$@" 2> "$WORK/$name.staprun.err" &
	STAPRUN_PID=$!
	last=$base
	for i in $(seq 300); do
		kill -0 "$STAPRUN_PID" 2>/dev/null || break
		now=$(kprobe_count)
		if [ "$now" -gt "$base" ] && [ "$now" = "$last" ] && grep -q "^$name " /proc/modules; then
			stable=$((stable + 1))
			[ "$stable" -ge 3 ] && module_probes_fire "$name" && return 0
		else
			stable=0
		fi
		last=$now
		sleep 0.1
	done
	cat "$WORK/$name.staprun.err" >&2
	fail "module $name did not arm its probes (kprobes: $base -> $(kprobe_count))"
}

# Stop it cleanly (SIGTERM to staprun) and check it is gone.
module_stop() {	# NAME
	local name=$1 i
	kill -TERM "$STAPRUN_PID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$STAPRUN_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$STAPRUN_PID" 2>/dev/null && fail "staprun for $name did not exit within 10 s"
	wait "$STAPRUN_PID" 2>/dev/null
	# SystemTap's own report (skipped probes, errors, warnings) into the log.
	sed 's/^/# staprun: /' "$WORK/$name.staprun.err" >&2
	grep -q "^$name " /proc/modules && fail "module $name still loaded after staprun exited"
	return 0
}

# Two "hosts" in their own network namespaces joined by a veth pair:
#   tstp_srv: 10.77.0.1, fd77::1    tstp_cli: 10.77.0.2, fd77::2
# Traffic never leaves the guest.
two_hosts() {
	ip netns add tstp_srv && ip netns add tstp_cli || fail "ip netns add"
	ip link add tstp_veth_s type veth peer name tstp_veth_c || fail "veth"
	ip link set tstp_veth_s netns tstp_srv
	ip link set tstp_veth_c netns tstp_cli
	ip -n tstp_srv addr add 10.77.0.1/24 dev tstp_veth_s
	ip -n tstp_cli addr add 10.77.0.2/24 dev tstp_veth_c
	ip -n tstp_srv -6 addr add fd77::1/64 dev tstp_veth_s nodad
	ip -n tstp_cli -6 addr add fd77::2/64 dev tstp_veth_c nodad
	local ns
	for ns in tstp_srv tstp_cli; do
		ip -n "$ns" link set lo up
	done
	ip -n tstp_srv link set tstp_veth_s up
	ip -n tstp_cli link set tstp_veth_c up
}

# netem delay on the client's side of the link (each direction it sends).
netem_delay() {	# MS
	ip netns exec tstp_cli tc qdisc add dev tstp_veth_c root netem delay "${1}ms" ||
		fail "tc netem (is sch_netem available?)"
}
