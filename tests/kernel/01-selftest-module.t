#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The whole chain on this kernel: a script built ahead of time on the host
# (prebuilt/REL/tcpstap_selftest.ko) loads with staprun, sees real loopback
# TCP traffic with exactly the payload sizes sent, and unloads cleanly.
# timeout: 120
. "$(dirname "$0")/../lib/guest.sh"

port=5555
module_start tcpstap_selftest "$WORK/out" port=$port
python3 - "$port" <<'PY' || fail "loopback workload failed"
import socket, sys
port = int(sys.argv[1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(1)
cli = socket.create_connection(("127.0.0.1", port)); conn, _ = srv.accept()
for n in (11, 23, 37):		# the server must see exactly these payloads
    cli.sendall(b"x" * n)
    got = b""
    while len(got) < n:
        got += conn.recv(n - len(got))
cli.close(); conn.close()
PY
sleep 0.3
module_stop tcpstap_selftest
cat "$WORK/out" >&2
grep -q "^selftest: armed port=$port" "$WORK/out" || fail "no 'armed' line"
# Payload = skb->len minus the TCP header (doff), as the server port saw it.
hdr=$(awk -v p=$port '$3 == "lport=" p && $5 ~ /^len=/ { sub("len=", "", $5); print $5 }' "$WORK/out" | sort -n | head -n 1)
payloads=$(awk -v p=$port -v h="$hdr" '$3 == "lport=" p { sub("len=", "", $5); if ($5 > h) print $5 - h }' "$WORK/out" | tr '\n' ' ')
assert_eq "$payloads" "11 23 37 " "payload sizes seen by the probe (header $hdr B)"
exit 0
