#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Join the server's and the client's view of the same exchanges by TCP
sequence numbers (the cross-host method: no clocks involved) and check
every field of both against the traffic that produced them.

  check_join.py FILE --port P --count N --req-bytes B --resp-bytes B
                --server-addr A --client-addr A --server-pid P --client-pid P
"""
import argparse
import json
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--req-bytes", type=int, required=True)
    p.add_argument("--resp-bytes", type=int, required=True)
    p.add_argument("--server-addr", required=True)
    p.add_argument("--client-addr", required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--client-pid", type=int, required=True)
    a = p.parse_args()

    def fail(msg, *xs):
        print("FAIL: " + msg, file=sys.stderr)
        for x in xs:
            print("      " + json.dumps(x), file=sys.stderr)
        sys.exit(1)

    srv, cli = [], []
    for line in open(a.file):
        if line.startswith("{"):
            x = json.loads(line)
            (srv if x["role"] == "server" else cli).append(x)
    if len(srv) != a.count or len(cli) != a.count:
        fail("%d server and %d client exchanges, expected %d each" % (len(srv), len(cli), a.count))

    by_seq = {}
    for c in cli:
        key = (c["req_seq"], c["resp_seq"])
        if key in by_seq:
            fail("two client exchanges with the same sequence numbers", c)
        by_seq[key] = c
    ports = set()
    for s in srv:
        c = by_seq.pop((s["req_seq"], s["resp_seq"]), None)
        if c is None:
            fail("server exchange has no client exchange with the same req_seq/resp_seq", s)
        want = {
            "laddr": a.server_addr, "lport": a.port, "raddr": a.client_addr,
            "req_bytes": a.req_bytes, "resp_bytes": a.resp_bytes, "retrans": 0,
            "flags": [], "pid": a.server_pid, "comm": "tstp-server",
        }
        for k, v in want.items():
            if s[k] != v:
                fail("server %s = %r, expected %r" % (k, s[k], v), s)
        want.update(laddr=a.client_addr, lport=c["lport"], raddr=a.server_addr,
                    rport=a.port, pid=a.client_pid, comm="tstp-client")
        for k, v in want.items():
            if c[k] != v:
                fail("client %s = %r, expected %r" % (k, c[k], v), c)
        if s["rport"] != c["lport"]:
            fail("server's remote port is not the client's local port", s, c)
        ports.add(c["lport"])
        for x, stages in ((s, ("recv_us", "queue_us", "app_us", "send_us", "xmit_us")),
                          (c, ("send_us", "wait_us", "recv_us", "read_us"))):
            for k in stages + ("total_us",):
                if x.get(k) is None or x[k] < 0:
                    fail("%s %s = %r: every stage must be observed and >= 0" % (x["role"], k, x.get(k)), x)
            if not x["srtt_us"] > 0:
                fail("srtt_us not positive", x)
        # One clock on both sides (same kernel): the client's wait contains
        # the server's whole time.
        if c["wait_us"] + 1 < s["total_us"]:
            fail("client wait %.1f us < server total %.1f us" % (c["wait_us"], s["total_us"]), s, c)
    print("# ok: %d exchanges joined by sequence numbers over %d connections; every field checked"
          % (a.count, len(ports)), file=sys.stderr)


if __name__ == "__main__":
    main()
