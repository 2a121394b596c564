#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap_connect against three injected failures, in one boot:
#  1. connect to a closed port, 3 times: 3 attempts refused by RST
#     (errno 111), no SYN retransmission, counted in the totals;
#  2. connect to a black-holed address (netem drops every packet the client
#     sends, tcp_syn_retries=2 to keep the test short): the SYN
#     retransmissions appear at the kernel's backoff, 1 and 3 s after the
#     SYN, and the attempt ends as a timeout (errno 110) 7 s after it began:
#     gaps of 1, 2 and 4 s;
#  3. listen-queue overflow: a listener with backlog 1 that never accepts,
#     and a burst of 10 connects: overflows are reported for that listener
#     and their total equals the kernel's TcpExtListenOverflows delta.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/health.sh"

two_hosts
# The black hole: a permanent neighbour entry (no ARP needed), then netem
# drops everything the client sends.
mac=$(ip -n tstp_srv link show tstp_veth_s | awk '/ether/ { print $2 }')
ip -n tstp_cli neigh replace $SRV4 lladdr "$mac" dev tstp_veth_c nud permanent || fail "static neighbour"
ip netns exec tstp_cli sysctl -qw net.ipv4.tcp_syn_retries=2 || fail "tcp_syn_retries"
overflows0=$(tcpext tstp_srv ListenOverflows)

module_start tcpstap_connect "$WORK/raw" interval_s=1

# 1. closed port
for i in 1 2 3; do
	ip netns exec tstp_cli bash -c "exec 3<>/dev/tcp/$SRV4/5556" 2>/dev/null &&
		fail "connect to a closed port succeeded"
done

# 2. black hole, in the background (7 s)
ip netns exec tstp_cli tc qdisc add dev tstp_veth_c root netem loss 100% || fail "netem loss"
start=$(date +%s.%N)
ip netns exec tstp_cli bash -c "exec 3<>/dev/tcp/$SRV4/5557" 2> "$WORK/bh.err" &
bh=$!

# 3. listen-queue overflow, meanwhile, on the server's loopback
conn_serve tstp_srv 127.0.0.1 5558 none --backlog 1
ip netns exec tstp_srv "$CONN" burst --addr 127.0.0.1 --port 5558 --count 10 --hold 2.5 > "$WORK/burst.out"
conn_serve_stop "$CONN_SRV_PID"
overflows=$(( $(tcpext tstp_srv ListenOverflows) - overflows0 ))
note "burst: $(tr '\n' ' ' < "$WORK/burst.out"); kernel ListenOverflows delta: $overflows"

wait $bh && fail "connect to a black-holed address succeeded"
took=$(echo "$(date +%s.%N) - $start" | bc)
note "black-holed connect failed after ${took}s: $(cat "$WORK/bh.err")"
sleep 1.5	# one more interval: the last totals
guard_interface_ok tcpstap_connect
module_stop tcpstap_connect
health_decode "$WORK/raw" connect
J=$WORK/connect.json

# 1.
assert_eq "$($Q $J --type connect --where outcome=refused --where rport=5556 --where raddr=$SRV4 --where role=client --count)" 3 "refused attempts to $SRV4:5556"
assert_eq "$($Q $J --type connect --where outcome=refused --get error | sort -u)" 111 "errno of the refused attempts"
assert_eq "$($Q $J --type connect --where outcome=refused --get syn_retrans | sort -u)" 0 "SYN retransmissions of the refused attempts"
# (module_start's own probe of a closed loopback port is one more)
assert_eq "$(total $J refused)" "$($Q $J --type connect --where outcome=refused --count)" "refused in the totals"
grep -q "connect client $CLI4:[0-9]* => $SRV4:5556 | refused (errno 111)" "$WORK/connect.txt" ||
	fail "no text line shows a refused attempt"

# 2.
assert_eq "$($Q $J --type connect --where rport=5557 --count)" 1 "records of the black-holed attempt"
assert_eq "$($Q $J --type connect --where rport=5557 --get outcome)" timeout "its outcome"
assert_eq "$($Q $J --type connect --where rport=5557 --get error)" 110 "its errno"
assert_eq "$($Q $J --type connect --where rport=5557 --get syn_retrans)" 2 "its SYN retransmissions"
assert_eq "$(total $J timeout)" 1 "timeouts in the totals"
# (the totals also count those of the burst's clients that gave up, which
# get no record: abandoned attempts are not followed)
n=$(total $J syn_retrans)
[ "$n" -ge "$($Q $J --type connect --sum syn_retrans)" ] && [ "$n" -ge 2 ] ||
	fail "SYN retransmissions in the totals: $n, fewer than the records show"
note "ok: SYN retransmissions in the totals: $n"
at=$($Q $J --type connect --where rport=5557 --get retrans_at_us)
end=$($Q $J --type connect --where rport=5557 --get failed_after_us)
python3 - "$at" "$end" <<'PY' || fail "SYN retransmissions at $at us, failed after $end us: not the 1, 2, 4 s backoff"
import sys
at = [int(x) for x in sys.argv[1].split(",")]
end = float(sys.argv[2])
# The kernel's initial RTO is 1 s, doubling: SYNs at 0, 1, 3 s, given up at 7 s.
want = [1e6, 3e6]
for got, w in zip(at, want):
    if abs(got - w) > 0.1 * w + 100e3:
        sys.exit("retransmission at %d us, expected %d us" % (got, w))
if len(at) != len(want):
    sys.exit("%d retransmission times, expected %d" % (len(at), len(want)))
gaps = [at[0], at[1] - at[0], end - at[1]]
for a, b in zip(gaps, gaps[1:]):
    if not 1.7 < b / a < 2.3:
        sys.exit("gaps %s do not double" % gaps)
if abs(end - 7e6) > 0.8e6:
    sys.exit("gave up after %d us, expected 7 s" % end)
print("# ok: SYN retransmissions at %s us, gaps %s, timeout after %d us" % (at, [int(g) for g in gaps], end))
PY
grep -q "=> $SRV4:5557 | timeout (errno 110) | after [0-9.]* ms | syn retrans 2 at " "$WORK/connect.txt" ||
	fail "no text line shows the timeout with its retransmissions"

# 3.
[ "$overflows" -gt 0 ] || fail "the burst caused no overflow (test premise)"
assert_eq "$($Q $J --type listen_overflow --where lport=5558 --sum overflows)" "$overflows" "overflows reported for 127.0.0.1:5558 (kernel ListenOverflows delta)"
assert_eq "$(total $J listen_overflows)" "$overflows" "listen overflows in the totals"
assert_eq "$($Q $J --type listen_overflow --where lport=5558 --get max_backlog | sort -u)" 1 "backlog of the overflowing listener"
exit 0
