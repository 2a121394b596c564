#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On-demand jitter capture (issue 4, test 8): tcpstap-load --ring keeps the
# recent records in memory and prints nothing until a trigger fires. The
# server stalls one request by 80 ms among normal ones; the slow-exchange
# trigger must write a capture holding that exchange (with the stall in its
# app stage) and the normal exchanges before and after it, which tcpstap
# read and stats decode cleanly. Then SIGUSR1 and `tcpstap trigger` each
# write a capture marked with their reason.
# timeout: 180
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"
LOAD=$TOP/userspace/build/tcpstap-load
[ -x "$LOAD" ] || fail "$LOAD not built"

captures_written() { grep -c '^tcpstap-load: capture: wrote' "$WORK/load.err"; }
wait_captures() {	# N: until N captures were written (15 s at most)
	local i
	for i in $(seq 150); do [ "$(captures_written)" -ge "$1" ] && return 0; sleep 0.1; done
	cat "$WORK/load.err" >&2
	fail "capture $1 was not written within 15 s"
}

two_hosts
server_start --stall-at 40 --stall-ms 80
mkdir -p "$WORK/cap"
# --max-cpu 50: emulated handlers cost ~50x native ones, so the default 1%
# budget can disarm a run; the budget has tests of its own (21, 34).
"$LOAD" --ring 5 --ring-after 1.5 --trigger-ms 60 --max-cpu 50 --capture-dir "$WORK/cap" latency tcp port $LAT_PORT \
	> "$WORK/load.out" 2> "$WORK/load.err" &
loader=$!
module_up_wait tcpstap_latency
module_probes_fire tcpstap_latency || fail "module not armed: $(cat "$WORK/load.err")"
client_run --addr $SRV4 --exchanges 80 --gap 5
wait_captures 1
stall_us=$(injected_us)

kill -USR1 $loader
wait_captures 2
out=$("$TSTP" trigger latency) || fail "tcpstap trigger exited $?"
note "tcpstap trigger: $out"
[[ $out == "triggered tcpstap_latency (tcpstap-load pid $loader)" ]] || fail "tcpstap trigger said: $out"
wait_captures 3
kill -INT $loader
wait $loader
rc=$?
server_stop
cat "$WORK/load.err" >&2
assert_eq "$rc" 0 "tcpstap-load exit status after SIGINT"
gone=1; grep -q '^tcpstap_latency ' /proc/modules && gone=0
assert_eq "$gone" 1 "module unloaded"

# Only exchanges at or above --trigger-ms reach stdout: the stall, seen by the server and the client.
slow_lines=$(grep -c '| server \|| client ' "$WORK/load.out")
note "stdout: $(cat "$WORK/load.out")"
[ "$slow_lines" -ge 1 ] && [ "$slow_lines" -le 2 ] || fail "stdout has $slow_lines exchange lines, expected the 1-2 slow ones"

caps=("$WORK/cap"/tcpstap_latency-*-[0-9].tstp)	# names end in -1, -2, -3 in time order
assert_eq "${#caps[@]}" 3 "capture files"
for f in "${caps[@]}"; do
	"$TSTP" read --all --json "$f" > "$f.json" 2> "$f.err" || fail "tcpstap read $f exited $?: $(cat "$f.err")"
	"$TSTP" stats "$f" > "$f.stats" 2>&1 || fail "tcpstap stats $f exited $?"
	cp "$f" "$OUT/" 2>/dev/null
done
cat "${caps[0]}.err" "${caps[0]}.stats" >&2
python3 - "${caps[0]}.json" "$stall_us" $LAT_PORT <<'PY' || fail "first capture"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
stall, port = float(sys.argv[2]), int(sys.argv[3])
head = recs[0]
assert head.get("type") == "capture", head
assert head["trigger"] == "slow-exchange" and head["trigger_us"] == 60000, head
srv = [r for r in recs if "type" not in r and r["role"] == "server" and r["lport"] == port]
slow = [i for i, r in enumerate(srv) if r["total_us"] is not None and r["total_us"] >= 60000]
assert len(slow) == 1, "slow server exchanges: %r" % [srv[i] for i in slow]
s = srv[slow[0]]
before, after = slow[0], len(srv) - slow[0] - 1
print("# slow exchange: total %.0f us, app %.0f us (stall slept %.0f us); %d server exchanges before it, %d after"
      % (s["total_us"], s["app_us"], stall, before, after), file=sys.stderr)
assert abs(s["app_us"] - stall) <= 2000 + 0.1 * stall, "app_us %s vs stall %s" % (s["app_us"], stall)
assert before >= 20, "only %d exchanges of context before the stall" % before
assert after >= 5, "only %d exchanges of context after the stall" % after
assert all(r["total_us"] < 60000 for i, r in enumerate(srv) if i != slow[0] and r["total_us"] is not None)
PY
for i in 1 2; do
	want=$([ $i = 1 ] && echo signal || echo command)
	got=$(head -n 1 "${caps[$i]}.json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("trigger"))')
	assert_eq "$got" "$want" "trigger reason of capture $((i + 1))"
done
grep -q 'ring: 3 captures written' "$WORK/load.err" || fail "summary does not count 3 captures"
exit 0
