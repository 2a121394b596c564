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
for c in read stats; do
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
