#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Runs the unit test binaries and the command-level tests of tcpstap.
# Usage: tests/run.sh [BUILD_DIR]   (from anywhere; default build)
# Prints PASS/FAIL per test and ends with "N passed, N failed"; exit 1 on any failure.
cd "$(dirname "$0")/.." || exit 2
BUILD=${1:-build}
TCPSTAP=$BUILD/tcpstap
GEN=$BUILD/tests/gen_capture
FIX=tests/fixtures
EXP=tests/expected
TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT
# Golden outputs are in UTC; local time must not leak in.
TZ=UTC
export TZ
passed=0
failed=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# Unit tests print their own PASS/FAIL lines; a crash counts as a failure too.
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	"$t" > "$TMP/unit.out" 2>&1
	rc=$?
	cat "$TMP/unit.out"
	p=$(grep -c '^PASS ' "$TMP/unit.out")
	f=$(grep -c '^FAIL ' "$TMP/unit.out")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail "$(basename "$t")" "exited $rc without a FAIL line (crash?)"
	fi
done

# golden NAME EXPECTED_RC ARGS...: stdout must equal $EXP/NAME, exit code EXPECTED_RC.
golden() {
	name=$1 want_rc=$2
	shift 2
	"$TCPSTAP" "$@" > "$TMP/$name" 2> "$TMP/$name.err"
	rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		fail "golden_$name" "exit $rc, want $want_rc"
	elif ! cmp -s "$TMP/$name" "$EXP/$name"; then
		fail "golden_$name" "output differs: diff $EXP/$name (make -C userspace check shows it)"
		diff -u "$EXP/$name" "$TMP/$name" | head -20
	else
		pass "golden_$name"
	fi
}

golden read.txt 0 read "$FIX/clean.tstp"
golden read_all.txt 0 read --all "$FIX/clean.tstp"
golden read.json 0 read --json --all "$FIX/clean.tstp"
golden stats.txt 0 stats "$FIX/clean.tstp"
golden stats.json 0 stats --json "$FIX/clean.tstp"
golden garbage_read.txt 3 read "$FIX/garbage.tstp"

# expect_stderr NAME EXPECTED_RC EXPECTED_STDERR ARGS...
expect_stderr() {
	name=$1 want_rc=$2 want_err=$3
	shift 3
	"$TCPSTAP" "$@" > /dev/null 2> "$TMP/err"
	rc=$?
	err=$(cat "$TMP/err")
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit $rc, want $want_rc"
	elif [ "$err" != "$want_err" ]; then
		fail "$name" "stderr [$err], want [$want_err]"
	else
		pass "$name"
	fi
}

expect_stderr summary_clean 0 "tcpstap: $FIX/clean.tstp: 10 records decoded, 0 bytes lost to resync, 0 truncated tail, 0 records lost in sequence gaps, 0 unknown-type records skipped" read "$FIX/clean.tstp"
expect_stderr summary_garbage 3 "tcpstap: $FIX/garbage.tstp: 10 records decoded, 37 bytes lost to resync (1 resyncs, first at offset 384), 0 truncated tail, 0 records lost in sequence gaps, 0 unknown-type records skipped" read "$FIX/garbage.tstp"
expect_stderr summary_truncated 3 "tcpstap: $FIX/truncated.tstp: 9 records decoded, 0 bytes lost to resync, 1 truncated tail (62 of 112 bytes), 0 records lost in sequence gaps, 0 unknown-type records skipped" read "$FIX/truncated.tstp"
expect_stderr summary_seqgap 3 "tcpstap: $FIX/seqgap.tstp: 12 records decoded, 0 bytes lost to resync, 0 truncated tail, 3 records lost in sequence gaps, 0 unknown-type records skipped" stats "$FIX/seqgap.tstp"
expect_stderr summary_unknown 0 "tcpstap: $FIX/unknown.tstp: 4 records decoded, 0 bytes lost to resync, 0 truncated tail, 0 records lost in sequence gaps, 2 unknown-type records skipped" read "$FIX/unknown.tstp"
expect_stderr missing_file 2 "tcpstap: $TMP/none.tstp: No such file or directory" read "$TMP/none.tstp"
expect_stderr bad_threshold 2 "tcpstap: -t 5ms: not a number of milliseconds in [0, 1e9]
Try 'tcpstap read --help'." read -t 5ms "$FIX/clean.tstp"
expect_stderr bad_max_endpoints 2 "tcpstap: --max-endpoints 0: not a count in [1, 1000000]
Try 'tcpstap stats --help'." stats --max-endpoints 0 "$FIX/clean.tstp"
expect_stderr unknown_command 2 "tcpstap: unknown command 'nope'
Try 'tcpstap --help'." nope
expect_stderr watch_bad_setting 2 "tcpstap: --close-wait: '5m' is not a number in [0, 100000000]
Try 'tcpstap watch --help'." watch --close-wait 5m "$FIX/clean.tstp"
printf 'conn-rate = 10\nclose-wait = soon\n' > "$TMP/bad.conf"
expect_stderr watch_bad_config 2 "tcpstap: $TMP/bad.conf:2: close-wait: 'soon' is not a number in [0, 100000000]" watch -c "$TMP/bad.conf" "$FIX/clean.tstp"
expect_stderr watch_latency_capture 0 "tcpstap: watch: 0 alerts; 0 health records used, 0 connections tracked at the end
tcpstap: $FIX/clean.tstp: 10 records decoded, 0 bytes lost to resync, 0 truncated tail, 0 records lost in sequence gaps, 0 unknown-type records skipped" watch "$FIX/clean.tstp"
expect_stderr watch_damaged 3 "tcpstap: watch: 0 alerts; 0 health records used, 0 connections tracked at the end
tcpstap: $FIX/garbage.tstp: 10 records decoded, 37 bytes lost to resync (1 resyncs, first at offset 384), 0 truncated tail, 0 records lost in sequence gaps, 0 unknown-type records skipped" watch "$FIX/garbage.tstp"

# Threshold: totals are 50.312, 1.172, 1.350, -, 0.061 and 2.5 ms.
count_lines() { "$TCPSTAP" read "$@" 2>/dev/null | wc -l | tr -d ' '; }
check_count() {
	name=$1 want=$2
	shift 2
	n=$(count_lines "$@")
	if [ "$n" = "$want" ]; then pass "$name"; else fail "$name" "$n lines, want $want"; fi
}
check_count threshold_none 6 "$FIX/clean.tstp"
check_count threshold_2_5 2 -t 2.5 "$FIX/clean.tstp"
check_count threshold_2_5001 1 -t 2.5001 "$FIX/clean.tstp"
check_count threshold_0 5 -t 0 "$FIX/clean.tstp"

if "$TCPSTAP" read - < "$FIX/clean.tstp" 2>/dev/null | cmp -s - "$EXP/read.txt"; then
	pass stdin_input
else
	fail stdin_input "read - from stdin differs from $EXP/read.txt"
fi
for c in read stats watch; do
	if "$TCPSTAP" "$c" --help | grep -q '^EXAMPLES:'; then pass "help_$c"; else fail "help_$c" "no EXAMPLES section"; fi
done

# The committed fixtures are what the generator writes.
for f in clean garbage truncated seqgap unknown; do
	if "$GEN" --fixture "$f" | cmp -s - "$FIX/$f.tstp"; then
		pass "fixture_current_$f"
	else
		fail "fixture_current_$f" "differs from gen_capture --fixture $f (run make fixtures?)"
	fi
done

# A prime number of exchanges through the generator must come out exactly.
"$GEN" -n 23 -e 3 --interval 7 > "$TMP/g23.tstp"
got=$("$TCPSTAP" stats --json "$TMP/g23.tstp" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(e["exchange_records"] for e in d["endpoints"]), d["decoder"]["seq_lost"], d["counters"]["emitted"])' 2>&1)
if [ "$got" = "23 0 23" ]; then pass generator_23; else fail generator_23 "got [$got], want [23 0 23]"; fi

# Below-threshold exchanges only reach HIST records; stats must count them all.
"$GEN" -n 1009 -e 5 --threshold-us 150 --interval 100 > "$TMP/gthr.tstp"
got=$("$TCPSTAP" stats --json "$TMP/gthr.tstp" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["counters"]
print(sum(e["count"] for e in d["endpoints"]) == c["exchanges"],
      sum(e["exchange_records"] for e in d["endpoints"]), c["below_threshold"] > 0)' 2>&1)
if [ "$got" = "True 1009 True" ]; then pass generator_threshold; else fail generator_threshold "got [$got]"; fi

# tcpstap states on a recorded netlink dump (the kernel's replies, as iproute2
# tests ss): recorded with 23 IPv4 and 7 IPv6 connections to two listeners,
# 5 half-closed (FIN-WAIT-2/CLOSE-WAIT), 3 closed (TIME-WAIT), 1000 bytes
# unread; ss -tan agreed: 44 ESTAB, 5 FIN-WAIT-2, 5 CLOSE-WAIT, 13 TIME-WAIT, 3 LISTEN.
SD=$FIX/states.nldump
golden states.txt 0 states --replay "$SD"
golden states.json 0 states --replay "$SD" --json -n 3
golden states.prom 0 states --replay "$SD" --prometheus
head -c 3000 "$SD" > "$TMP/cut.nldump"
expect_stderr states_replay_damaged 1 "tcpstap: $TMP/cut.nldump: recorded dump is damaged: does not end in NLMSG_DONE, 1 malformed messages" states --replay "$TMP/cut.nldump"
expect_stderr states_bad_top 2 "tcpstap: --top -1: not a count in [0, 100000]
Try 'tcpstap states --help'." states --top -1
expect_stderr states_bad_netlink 2 "tcpstap: --netlink v3: not one of auto, v2, legacy
Try 'tcpstap states --help'." states --netlink v3
expect_stderr exporter_bad_listen 2 "tcpstap: --listen 9477: not ADDR:PORT, [IPV6]:PORT or :PORT
Try 'tcpstap exporter --help'." exporter --listen 9477
expect_stderr exporter_bad_age 2 "tcpstap: --textfile-max-age 1m: not a number of seconds in [0, 31536000]
Try 'tcpstap exporter --help'." exporter --textfile-max-age 1m
for c in states exporter; do
	if "$TCPSTAP" "$c" --help | grep -q '^EXAMPLES:'; then pass "help_$c"; else fail "help_$c" "no EXAMPLES section"; fi
done

# A real Prometheus parser (Debian's python3-prometheus-client) must accept it all.
prom_parses() {	# NAME FILE
	if out=$(/usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
n = sum(len(f.samples) for f in text_string_to_metric_families(open(sys.argv[1]).read()))
print(n)' "$2" 2>&1); then pass "$1"; else fail "$1" "prometheus_client rejects it: $out (make deps?)"; fi
}
prom_parses prom_parser_states "$EXP/states.prom"

# The exporter's textfile handling, live states of this host (a dump needs no root).
TD=$TMP/textfiles
mkdir -p "$TD"
cat > "$TD/latency.prom" <<'PROM'
# HELP tcpstap_latency_exchange_seconds Exchange totals per service endpoint.
# TYPE tcpstap_latency_exchange_seconds histogram
tcpstap_latency_exchange_seconds_bucket{role="server",addr="10.0.0.1",port="6379",le="0.001"} 7
tcpstap_latency_exchange_seconds_bucket{role="server",addr="10.0.0.1",port="6379",le="+Inf"} 11
tcpstap_latency_exchange_seconds_sum{role="server",addr="10.0.0.1",port="6379"} 0.5
tcpstap_latency_exchange_seconds_count{role="server",addr="10.0.0.1",port="6379"} 11
PROM
printf 'old_metric 1\n' > "$TD/old.prom"
touch -d '-5 min' "$TD/old.prom"
printf 'not prometheus\n' > "$TD/bad.prom"
printf 'tcpstap_tcp_connections{state="listen"} 9\n' > "$TD/mine.prom"
printf 'tcpstap_latency_exchange_seconds_count 3' > "$TD/zz-dup.prom"
printf 'ignored 1\n' > "$TD/.hidden.prom"
printf 'ignored 1\n' > "$TD/notes.txt"
"$TCPSTAP" exporter --once -d "$TD" -a 60 > "$TMP/once.prom" 2> "$TMP/once.err"
rc=$?
prom_parses prom_parser_exporter "$TMP/once.prom"
got="rc=$rc served=$(grep -c '^tcpstap_latency_exchange_seconds' "$TMP/once.prom")"
got="$got up=$(sed -n 's/^tcpstap_exporter_states_up //p' "$TMP/once.prom")"
for r in stale invalid reserved duplicate too_large; do
	got="$got $r=$(sed -n "s/^tcpstap_exporter_textfile_skipped_total{reason=\"$r\"} //p" "$TMP/once.prom")"
done
got="$got notes=$(grep -c 'skipped' "$TMP/once.err") leaked=$(grep -c 'old_metric\|not prometheus\|ignored\|state=.listen.} 9' "$TMP/once.prom")"
want="rc=0 served=4 up=1 stale=1 invalid=1 reserved=1 duplicate=1 too_large=0 notes=4 leaked=0"
if [ "$got" = "$want" ]; then pass exporter_textfiles; else fail exporter_textfiles "got [$got], want [$want]: $(cat "$TMP/once.err")"; fi
if grep -q "old.prom: skipped (stale): last written 3[0-9][0-9] s ago, more than 60 s" "$TMP/once.err" &&
   grep -q "zz-dup.prom: skipped (duplicate): line 1: tcpstap_latency_exchange_seconds_count already served by an earlier file" "$TMP/once.err"; then
	pass exporter_skip_reasons
else
	fail exporter_skip_reasons "stderr: $(cat "$TMP/once.err")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
