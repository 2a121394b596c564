#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare `tcpstap states --json` with ss(8) and with what tstp-sockets made.

Usage: check_states.py STATES_JSON SS_TAN SS_S READY [--top N] [--legacy JSON]
  SS_TAN  output of `ss -Htan` (every TCP socket, numeric)
  SS_S    output of `ss -s`
  READY   the file tstp-sockets wrote: "state count" per line
Every comparison is exact. Prints one "ok:" line per check on stderr and
exits 1 at the first mismatch.
"""
import ipaddress
import json
import re
import sys

from checklib import eq, fail, ok

SS_STATE = {
    "ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv",
    "FIN-WAIT-1": "fin_wait1", "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait",
    "UNCONN": "close", "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack",
    "LISTEN": "listen", "CLOSING": "closing",
}




def split_endpoint(text):
    """'127.0.0.1:80', '[::1]:80', '[::ffff:1.2.3.4]:80' -> (ip_address, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if "%" in host:
        host = host.split("%")[0]
    if host == "*":
        host = "0.0.0.0"
    return ipaddress.ip_address(host), 0 if port == "*" else int(port)


def norm(addr):
    """IPv4-mapped IPv6 counts as the IPv4 address, as tcpstap does."""
    if addr.version == 6 and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def parse_ss_tan(path):
    rows = []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] not in SS_STATE:
            fail("unexpected ss line: %s" % line.strip())
        laddr, lport = split_endpoint(f[3])
        raddr, rport = split_endpoint(f[4])
        rows.append(dict(state=SS_STATE[f[0]], rq=int(f[1]), wq=int(f[2]),
                         laddr=laddr, lport=lport, raddr=raddr, rport=rport))
    return rows


def parse_ss_s(path):
    text = open(path).read()
    m = re.search(r"TCP:\s+\d+ \(estab (\d+), closed \d+, orphaned \d+, timewait (\d+)\)", text)
    t = re.search(r"^TCP\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
    if not m or not t:
        fail("cannot parse ss -s:\n" + text)
    return dict(estab=int(m.group(1)), timewait=int(m.group(2)),
                hashed4=int(t.group(2)), hashed6=int(t.group(3)))


def main():
    args = sys.argv[1:]
    top_n, legacy = 10, None
    if "--top" in args:
        i = args.index("--top")
        top_n = int(args[i + 1])
        del args[i:i + 2]
    if "--legacy" in args:
        i = args.index("--legacy")
        legacy = args[i + 1]
        del args[i:i + 2]
    st = json.load(open(args[0]))
    rows = parse_ss_tan(args[1])
    sss = parse_ss_s(args[2])
    ready = dict(l.split() for l in open(args[3]) if l.strip())

    # Every state against ss -tan, and against what the workload built.
    eq(st["sockets"], len(rows), "sockets (ss -tan lines)")
    for state in SS_STATE.values():
        n = sum(1 for r in rows if r["state"] == state)
        eq(st["states"][state], n, "state %s vs ss -tan" % state)
        eq(st["states"][state], int(ready[state]), "state %s vs tstp-sockets" % state)
    v6 = sum(1 for r in rows if r["laddr"].version == 6)
    eq(st["ipv6"], v6, "IPv6 sockets vs ss")
    eq(st["ipv6"], int(ready["ipv6"]), "IPv6 sockets vs tstp-sockets")
    eq(st["states_ipv4"]["established"] + st["states_ipv6"]["established"],
       st["states"]["established"], "per-family split adds up")

    # ss -s: /proc/net/snmp CurrEstab and /proc/net/sockstat.
    eq(st["states"]["time_wait"], sss["timewait"], "time_wait vs ss -s timewait")
    est, cw = st["states"]["established"], st["states"]["close_wait"]
    if sss["estab"] == est:
        ok("ss -s estab %d = ESTABLISHED (CurrEstab without CLOSE_WAIT on this kernel)" % est)
    elif sss["estab"] == est + cw:
        ok("ss -s estab %d = ESTABLISHED %d + CLOSE_WAIT %d (CurrEstab per RFC 1213 on this kernel)"
           % (sss["estab"], est, cw))
    else:
        fail("ss -s estab %d is neither ESTABLISHED %d nor ESTABLISHED+CLOSE_WAIT %d"
             % (sss["estab"], est, est + cw))
    # sockstat "inuse": hashed full sockets, i.e. all but TIME_WAIT and request sockets.
    for fam, key in (("ipv4", "hashed4"), ("ipv6", "hashed6")):
        s = st["states_" + fam]
        eq(sum(s.values()) - s["time_wait"] - s["syn_recv"], sss[key],
           "%s sockets less TIME_WAIT and SYN_RECV vs ss -s TCP %s column" % (fam, fam))

    # Queues of non-listening sockets, and every listener.
    conns = [r for r in rows if r["state"] != "listen"]
    eq(st["rx_queue_bytes"], sum(r["rq"] for r in conns), "rx queue bytes vs ss Recv-Q")
    eq(st["tx_queue_bytes"], sum(r["wq"] for r in conns), "tx queue bytes vs ss Send-Q")
    if st["rx_queue_bytes"] == 0 or st["tx_queue_bytes"] == 0:
        fail("queues are empty: the zero-window sockets should hold data")
    ss_listen = sorted((str(r["laddr"]), r["lport"], r["rq"], r["wq"]) for r in rows
                       if r["state"] == "listen")
    ours = sorted((l["addr"], l["port"], l["queue"], l["backlog"]) for l in st["listeners"])
    eq(ours, ss_listen, "listeners (addr, port, accept queue, backlog) vs ss")
    queued = [l["queue"] for l in st["listeners"] if l["queue"]]
    eq(queued, [int(ready["listen_queue"])], "the one accept queue vs tstp-sockets")

    # Top remote addresses.
    counts = {}
    for r in conns:
        a = norm(r["raddr"])
        counts[a] = counts.get(a, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].version, kv[0].packed))
    want = [(str(a), n) for a, n in ranked[:top_n]]
    got = [(r["addr"], r["sockets"]) for r in st["top_remotes"]]
    eq(got, want, "top %d remote addresses vs ss" % top_n)
    eq(st["remote_addresses"], len(counts), "distinct remote addresses vs ss")

    if legacy:
        lg = json.load(open(legacy))
        eq(lg["request"], "inet_diag_legacy", "the legacy request was used")
        eq(st["request"], "sock_diag_v2", "auto chose SOCK_DIAG_BY_FAMILY")
        for k in ("sockets", "ipv4", "ipv6", "states", "states_ipv4", "states_ipv6",
                  "rx_queue_bytes", "tx_queue_bytes", "listeners", "top_remotes"):
            eq(lg[k], st[k], "legacy TCPDIAG_GETSOCK dump: %s" % k)


if __name__ == "__main__":
    main()
