#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Drive a running `tcpstap exporter` and check what it serves.

Usage: check_exporter.py HTTP_PORT TCPKIT_PORT SS_TAN READY CLIENT_TIMEOUT_S
  SS_TAN  `ss -Htan` output taken while the sockets are held
  READY   tstp-sockets' "state count" file
Parses /metrics with prometheus_client (Debian python3-prometheus-client),
compares the socket metrics with ss and the workload, checks the textfiles
(served, stale one skipped and counted), the tcpkit JSON (mapped from the
hand-written latency histogram), HTTP errors, and that a silent client
neither blocks other scrapes nor lives past the client timeout.
"""
import json
import socket
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from checklib import eq, fail, ok

HOST = "127.0.0.1"




def scrape(port):
    with urllib.request.urlopen("http://%s:%d/metrics" % (HOST, port), timeout=30) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value}, and the families."""
    fams = list(text_string_to_metric_families(text))
    out = {}
    for f in fams:
        for s in f.samples:
            key = (s.name, frozenset(s.labels.items()))
            if key in out:
                fail("duplicate series %s%s" % (s.name, s.labels))
            out[key] = s.value
    return out, fams


def value(smp, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in smp:
        fail("no sample %s%s" % (name, labels))
    return smp[key]


def raw(port, data, wait_eof=True):
    s = socket.create_connection((HOST, port), timeout=30)
    if data:
        s.sendall(data)
    buf = b""
    while wait_eof:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    s.close()
    return buf


def main():
    http, tcpkit, ss_path, ready_path, timeout_s = sys.argv[1:6]
    http, tcpkit, timeout_s = int(http), int(tcpkit), float(timeout_s)
    ready = dict(l.split() for l in open(ready_path) if l.strip())
    ss_states = {}
    names = {"ESTAB": "established", "CLOSE-WAIT": "close_wait", "FIN-WAIT-2": "fin_wait2",
             "LISTEN": "listen", "TIME-WAIT": "time_wait"}
    # ss ran before the exporter's clients connected; its listeners are not the workload's.
    for line in open(ss_path):
        f = line.split()
        if f:
            st = names.get(f[0], f[0])
            ss_states[st] = ss_states.get(st, 0) + 1

    # A silent client holds a slot; the scrape below must still be served.
    silent = socket.create_connection((HOST, http), timeout=60)
    silent.sendall(b"GET /metr")
    t_silent = time.monotonic()

    status, ctype, text = scrape(http)
    eq(status, 200, "GET /metrics status while a silent client is connected")
    eq(ctype, "text/plain; version=0.0.4; charset=utf-8", "Content-Type")
    smp, fams = samples(text)
    ok("prometheus_client parsed %d families, %d samples" % (len(fams), len(smp)))
    for f in fams:
        if f.name.startswith("tcpstap_") and (not f.documentation or f.type == "unknown"):
            fail("family %s lacks HELP or TYPE" % f.name)
    ok("every tcpstap_ family has HELP and TYPE")

    eq(value(smp, "tcpstap_exporter_states_up"), 1.0, "states_up")
    for st in ("established", "close_wait", "fin_wait2", "listen"):
        got = value(smp, "tcpstap_tcp_connections", state=st, family="ipv4") + \
            value(smp, "tcpstap_tcp_connections", state=st, family="ipv6")
        # The exporter's own: its 2 listeners; during the scrape, the silent
        # client and this scrape's connection, both ends.
        extra = {"established": 4, "listen": 2}.get(st, 0)
        eq(int(got), ss_states.get(st, 0) + extra, "tcpstap_tcp_connections{state=%s} vs ss (+%d)" % (st, extra))
        eq(int(got), int(ready[st]) + extra, "tcpstap_tcp_connections{state=%s} vs tstp-sockets" % st)
    queues = {dict(k[1])["lport"]: v for k, v in smp.items()
              if k[0] == "tcpstap_tcp_listen_queue_length"}
    eq(sorted(int(v) for v in queues.values() if v), [int(ready["listen_queue"])],
       "the one non-empty accept queue")

    # Textfiles: the fresh one served as is, the stale one skipped and counted.
    eq(value(smp, "tcpstap_latency_exchange_seconds_count", role="server", addr="10.0.0.1",
             port="6379"), 29.0, "textfile histogram served")
    eq(value(smp, "tcpstap_exporter_textfile_skipped_total", reason="stale"), 1.0,
       "stale textfile skipped")
    eq(value(smp, "tcpstap_exporter_textfile_skipped_total", reason="invalid"), 1.0,
       "invalid textfile skipped")
    if any(k[0].startswith("stale_metric") for k in smp):
        fail("the stale file's metric was served")

    # The silent client is still connected and has had nothing yet.
    silent.setblocking(False)
    try:
        if silent.recv(1) == b"":
            fail("the silent client was closed before its timeout")
    except BlockingIOError:
        pass
    ok("a second client was served while the silent one held its slot")
    silent.setblocking(True)
    silent.settimeout(timeout_s + 30)
    if silent.recv(1) != b"":
        fail("the silent client got data")
    waited = time.monotonic() - t_silent
    if waited < timeout_s - 0.5:
        fail("silent client dropped after %.1f s, before the %.1f s timeout" % (waited, timeout_s))
    ok("silent client dropped after %.1f s (client timeout %.1f s)" % (waited, timeout_s))
    silent.close()

    # HTTP errors, HEAD, an oversized request.
    eq(raw(http, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").split(b"\r\n")[0],
       b"HTTP/1.1 404 Not Found", "unknown path")
    eq(raw(http, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").split(b"\r\n")[0],
       b"HTTP/1.1 405 Method Not Allowed", "POST")
    eq(raw(http, b"garbage\r\n\r\n").split(b"\r\n")[0], b"HTTP/1.1 400 Bad Request", "garbage")
    head = raw(http, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    eq((head.split(b"\r\n")[0], head.endswith(b"\r\n\r\n")), (b"HTTP/1.1 200 OK", True),
       "HEAD: headers only")
    big = raw(http, b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 9000)
    eq(big.split(b"\r\n")[0], b"HTTP/1.1 431 Request Header Fields Too Large", "9000-byte header")

    # tcpkit: JSON written on connect, the latency histogram in tcpkit's buckets.
    doc = json.loads(raw(tcpkit, None).decode())
    eq(sorted(doc), ["10.0.0.1:6379"], "tcpkit endpoints")
    ep = doc["10.0.0.1:6379"]
    eq((ep["requests"], ep["responses"], ep["request_bytes"], ep["response_bytes"]),
       (29, 29, 2900, 43000), "tcpkit counters")
    eq(ep["latency"], [{"<0.1ms": 2}, {"0.1ms~0.2ms": 3}, {"0.5ms~1ms": 5}, {"1ms~5ms": 7},
                       {"50ms~100ms": 11}, {"+inf": 1}], "tcpkit latency buckets")

    # Counters of what happened, in a last scrape.
    smp, _ = samples(scrape(http)[2])
    eq(value(smp, "tcpstap_exporter_client_timeouts_total"), 1.0, "client timeouts counted")
    eq(value(smp, "tcpstap_exporter_http_responses_total", code="431"), 1.0, "431 counted")
    eq(value(smp, "tcpstap_exporter_textfile_skipped_total", reason="stale"), 3.0,
       "stale file counted again at each scrape (GET, HEAD, GET)")


if __name__ == "__main__":
    main()
