#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest gives tests what the harness promises: the right kernel, the
# checkout at its host path, debugfs, tmpfs /tmp, loopback, a results share,
# and two network namespaces joined by veth with netem delay that works.
# timeout: 90
. "$(dirname "$0")/../lib/guest.sh"

assert_eq "$(uname -r)" "$REL" "running kernel"
[ -f "$TOP/Makefile" ] || fail "checkout not visible at $TOP"
mountpoint -q /sys/kernel/debug || fail "debugfs not mounted"
assert_eq "$(stat -f -c %T /tmp)" "tmpfs" "/tmp filesystem"
ip -o link show lo | grep -q 'UP' || fail "loopback is down"
touch "$TOP/.guest-write-test" 2>/dev/null || fail "overlay is not writable"
echo "written in the guest" > "$OUT/from-guest.txt" || fail "results share not writable"

two_hosts
ip netns exec tstp_cli ping -c 1 -W 2 10.77.0.1 > /dev/null || fail "veth: no IPv4 path"
ip netns exec tstp_cli ping -6 -c 1 -W 2 fd77::1 > /dev/null || fail "veth: no IPv6 path"
netem_delay 30
# One direction delayed by 30 ms: the RTT must be at least 30 ms.
rtt=$(ip netns exec tstp_cli ping -c 3 -i 0.2 10.77.0.1 | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
[ -n "$rtt" ] || fail "no ping RTT with netem"
awk -v r="$rtt" 'BEGIN { exit !(r >= 30 && r < 200) }' || fail "netem delay 30 ms: ping avg rtt $rtt ms"
note "ok: netem 30 ms -> avg rtt $rtt ms"
exit 0
