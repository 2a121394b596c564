#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pipelining: the client sends its second request while the 300 KB response
# to the first is still arriving (it has read none of it). The server sees a
# request that does not acknowledge the whole response sent so far; both of
# its exchanges are flagged "pipelined", as are the client's (it wrote while
# response bytes were unread). A plain exchange on a fresh connection after
# that is not flagged: the flag is about the exchange, not the connection.
# timeout: 150
. "$(dirname "$0")/../lib/guest.sh"
. "$(dirname "$0")/../lib/latency.sh"

two_hosts
module_start tcpstap_latency "$WORK/raw" ports=$LAT_PORT
server_start
ip netns exec tstp_cli python3 - <<'PY' || fail "pipelining client"
import socket, struct, time
def req(resp):
    return struct.pack("!III", 64, resp, 0) + b"q" * 52
def read_exact(s, n):
    got = 0
    while got < n:
        chunk = s.recv(n - got)
        if not chunk: raise SystemExit("closed")
        got += len(chunk)
s = socket.create_connection(("10.77.0.1", 5555))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(req(300000))
time.sleep(0.05)           # the response is in flight, unread
s.sendall(req(32))         # second request before reading the first response
read_exact(s, 300000 + 32)
s.close()
t = socket.create_connection(("10.77.0.1", 5555))
t.sendall(req(32)); read_exact(t, 32); t.close()
PY
sleep 0.5
server_stop
module_stop tcpstap_latency
decode "$WORK/raw"
$CHECK "$WORK/x.json" --role server --port $LAT_PORT --count 3 || exit 1
python3 - "$WORK/x.json" <<'PY' || fail "pipelined flags"
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")), key=lambda r: r["ts"])
for role in ("server", "client"):
    r = [x for x in rows if x["role"] == role]
    if len(r) != 3:
        sys.exit("%s: %d exchanges, expected 3" % (role, len(r)))
    pipelined = ["pipelined" in x["flags"] for x in r]
    if pipelined != [True, True, False]:
        sys.exit("%s: pipelined flags %s, expected [True, True, False]: %s" % (role, pipelined, r))
    print("# ok: %s: first two exchanges pipelined, the third (own connection) not" % role, file=sys.stderr)
PY
exit 0
