#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the demo: load the module, run a small client/server
# exchange on loopback, unload, print what the module saw.
. "$(dirname "$0")/../../tests/lib/guest.sh"
module_start tcpstap_selftest "$WORK/out" port=6379
python3 - <<'PY'
import socket
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 6379)); srv.listen(1)
cli = socket.create_connection(("127.0.0.1", 6379)); conn, _ = srv.accept()
for req in (b"PING\r\n", b"GET foo\r\n"):
    cli.sendall(req); conn.recv(100); conn.sendall(b"+OK\r\n"); cli.recv(100)
PY
sleep 0.3
module_stop tcpstap_selftest
echo "kernel $(uname -r): what tcpstap_selftest saw on port 6379:"
cat "$WORK/out"
