#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpstap_retrans against the kernel's own counters:
#  1. netem drops 10% of what the client sends during a 1 MB bulk transfer:
#     the retransmitted segments tcpstap counts (totals, and the sum of its
#     per-event records, all naming that connection) match the kernel's
#     RetransSegs delta (/proc/net/snmp, summed over every namespace)
#     within 5%; each retransmission is classified (timeout, fast, tlp,
#     syn, synack) with a known congestion state;
#  2. 3 connects to a closed port: 3 RSTs sent by the server (no socket)
#     and 3 received by the client, each naming the right ports.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/health.sh"

retranssegs() {	# the sum over the three namespaces
	echo $(( $(tcpsnmp tstp_srv RetransSegs) + $(tcpsnmp tstp_cli RetransSegs) +
		 $(awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
			$1 == "Tcp:" { for (i = 2; i <= NF; i++) if (n[i] == "RetransSegs") print $i }' /proc/net/snmp) ))
}

two_hosts
module_start tcpstap_retrans "$WORK/raw" interval_s=1
conn_serve tstp_srv $SRV4 5559 sink
base=$(retranssegs)
# Without offload the client hands netem one segment per packet; with it a
# 1 MB transfer is ~16 64 KB super-packets and 10% loss often drops none.
ip netns exec tstp_cli ethtool -K tstp_veth_c tso off gso off > /dev/null || fail "ethtool -K: offload off"
ip netns exec tstp_cli tc qdisc add dev tstp_veth_c root netem loss 10% || fail "netem loss"
ip netns exec tstp_cli "$CONN" bulk --addr $SRV4 --port 5559 --bytes 1000000 > "$WORK/bulk.out" ||
	fail "bulk transfer failed"
ip netns exec tstp_cli tc qdisc del dev tstp_veth_c root
conn_serve_stop "$CONN_SRV_PID"
kernel=$(( $(retranssegs) - base ))
note "bulk: $(cat "$WORK/bulk.out"); kernel RetransSegs delta: $kernel"

for i in 1 2 3; do
	ip netns exec tstp_cli bash -c "exec 3<>/dev/tcp/$SRV4/5556" 2>/dev/null &&
		fail "connect to a closed port succeeded"
done
sleep 1.5	# one more interval: the last totals
guard_interface_ok tcpstap_retrans
module_stop tcpstap_retrans
health_decode "$WORK/raw" retrans
J=$WORK/retrans.json

# 1.
[ "$kernel" -ge 10 ] || fail "only $kernel retransmissions with 10% loss (test premise)"
segs=$(total $J segs)
awk -v a="$segs" -v k="$kernel" 'BEGIN { d = a - k; if (d < 0) d = -d; exit !(d <= 0.05 * k) }' ||
	fail "tcpstap counted $segs retransmitted segments, the kernel $kernel (more than 5% apart)"
note "ok: tcpstap $segs retransmitted segments, kernel RetransSegs $kernel"
events=$($Q $J --type retrans --count)
assert_eq "$($Q $J --type retrans --sum segs)" "$segs" "segments in per-event records vs totals"
# the client's data and SYN, the server's SYN-ACK
assert_eq "$(( $($Q $J --type retrans --where laddr=$CLI4 --where raddr=$SRV4 --where rport=5559 --count) +
	       $($Q $J --type retrans --where laddr=$SRV4 --where lport=5559 --where raddr=$CLI4 --count) ))" \
	"$events" "retransmissions naming the bulk connection ($CLI4 -> $SRV4:5559)"
assert_eq "$($Q $J --type retrans --get ca_state | grep -vc '^\(open\|disorder\|cwr\|recovery\|loss\)$')" 0 \
	"retransmissions with an unknown congestion state"
kinds=$(( $(total $J timeout) + $(total $J fast) + $(total $J tlp) + $(total $J syn) + $(total $J synack) ))
assert_eq "$kinds" "$events" "timeout + fast + tlp + syn + synack retransmissions in the totals"
note "classified: timeout $(total $J timeout), fast $(total $J fast), tlp $(total $J tlp), syn $(total $J syn), synack $(total $J synack)"
grep -q "retrans \(timeout\|fast\|tlp\) $CLI4:[0-9]* => $SRV4:5559 | ESTABLISHED" "$WORK/retrans.txt" ||
	fail "no text line shows a retransmission of the bulk connection"

# 2.
assert_eq "$($Q $J --type reset --where kind=rst-sent --where lport=5556 --where raddr=$CLI4 --count)" 3 "RSTs sent for $SRV4:5556"
assert_eq "$($Q $J --type reset --where kind=rst-sent --where lport=5556 --get state | sort -u)" "" "socket state of those RSTs (none)"
assert_eq "$($Q $J --type reset --where kind=rst-recv --where rport=5556 --where state=SYN_SENT --count)" 3 "RSTs received by the connecting client"
exit 0
