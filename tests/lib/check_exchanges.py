#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Assert properties of the exchanges in `tcpstap read --json` output.

  check_exchanges.py FILE --role server --port 5555 --count 5 \
      --near app_us=30000 --below queue_us=2000 --eq req_bytes=64

Selects exchanges by role and service port (local port for a server, remote
for a client), then checks each assertion on every selected exchange:
  --count N        exactly N selected
  --near F=V       median |F - V| <= 2000 + 10% of V (the latency tests'
                   tolerance), and no exchange below V - tolerance
  --near-each F=FILE  the same, the i-th exchange (by start time) against the
                   i-th number in FILE (the delays the workload really injected)
  --below F=V      median F < V
Delays are checked on the median with a per-exchange floor because the guest
runs under emulation: a scheduling hiccup there can only add time to one
exchange, never remove it, and must not fail a test about attribution.
  --eq F=V         F == V (numbers or strings)
  --flag NAME      NAME in flags;  --noflag NAME: not in flags
  --skip-first     ignore the first selected exchange of each connection
Prints what it checked; exits 1 with the offending exchange on failure.
"""
import argparse
import json
import sys


def tolerance(v):
    return 2000 + 0.10 * abs(v)


def parse_pairs(items):
    out = []
    for it in items or []:
        k, _, v = it.partition("=")
        try:
            v = float(v)
        except ValueError:
            pass
        out.append((k, v))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--role", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int)
    p.add_argument("--near", action="append")
    p.add_argument("--near-each", action="append")
    p.add_argument("--below", action="append")
    p.add_argument("--eq", action="append")
    p.add_argument("--flag", action="append", default=[])
    p.add_argument("--noflag", action="append", default=[])
    p.add_argument("--skip-first", action="store_true")
    a = p.parse_args()

    rows = []
    with open(a.file) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            x = json.loads(line)
            if x.get("role") != a.role:
                continue
            svc = x["lport"] if a.role == "server" else x["rport"]
            if svc != a.port:
                continue
            rows.append(x)
    rows.sort(key=lambda x: x["ts"])
    if a.skip_first:
        seen, kept = set(), []
        for x in rows:
            conn = (x["laddr"], x["lport"], x["raddr"], x["rport"])
            if conn in seen:
                kept.append(x)
            seen.add(conn)
        rows = kept

    def fail(msg, x=None):
        print("FAIL: %s %s:%d: %s" % (a.role, "port", a.port, msg), file=sys.stderr)
        if x is not None:
            print("      exchange: %s" % json.dumps(x), file=sys.stderr)
        sys.exit(1)

    if a.count is not None and len(rows) != a.count:
        for x in rows:
            print("      got: %s" % json.dumps(x), file=sys.stderr)
        fail("%d exchanges, expected %d" % (len(rows), a.count))
    if not rows:
        fail("no exchanges")
    def median(vals):
        vals = sorted(vals)
        return vals[len(vals) // 2]

    def check_near(k, pairs):
        for x, v in pairs:
            if x.get(k) is None:
                fail("%s missing" % k, x)
            if x[k] < v - tolerance(v):
                fail("%s = %s, below the injected %.0f us - %.0f" % (k, x[k], v, tolerance(v)), x)
        dev = median([x[k] - v for x, v in pairs])
        ref = median([v for _, v in pairs])
        if abs(dev) > tolerance(ref):
            fail("%s: median deviation from the injected delay %.0f us, tolerance %.0f"
                 % (k, dev, tolerance(ref)))

    for spec in a.near_each or []:
        k, _, path = spec.partition("=")
        with open(path) as f:
            want = [float(v) for v in f.read().split()]
        if len(want) != len(rows):
            fail("%d exchanges but %d injected delays in %s" % (len(rows), len(want), path))
        check_near(k, list(zip(rows, want)))
    for k, v in parse_pairs(a.near):
        check_near(k, [(x, v) for x in rows])
    for k, v in parse_pairs(a.below):
        if any(x.get(k) is None for x in rows):
            fail("%s missing" % k)
        m = median([x[k] for x in rows])
        if not m < v:
            fail("median %s = %s, expected < %s" % (k, m, v))
    for x in rows:
        for k, v in parse_pairs(a.eq):
            got = x.get(k)
            if isinstance(v, float) and isinstance(got, (int, float)):
                ok = got == v
            else:
                ok = str(got) == str(v)
            if not ok:
                fail("%s = %r, expected %r" % (k, got, v), x)
        for fl in a.flag:
            if fl not in x.get("flags", []):
                fail("flag %s missing" % fl, x)
        for fl in a.noflag:
            if fl in x.get("flags", []):
                fail("unexpected flag %s" % fl, x)
    checks = (["count=%d" % a.count] if a.count is not None else []) + \
        ["%s~%g" % kv for kv in parse_pairs(a.near)] + \
        ["%s~injected" % kv.partition("=")[0] for kv in (a.near_each or [])] + \
        ["%s<%g" % kv for kv in parse_pairs(a.below)] + \
        ["%s==%s" % kv for kv in parse_pairs(a.eq)] + a.flag + ["!" + f for f in a.noflag]
    for k in ("total_us", "recv_us", "queue_us", "app_us", "send_us", "xmit_us", "wait_us", "read_us"):
        vals = [x[k] for x in rows if x.get(k) is not None]
        if vals:
            print("# %s %s: %s median %.0f min %.0f max %.0f (n=%d)" % (
                a.role, a.port, k, sorted(vals)[len(vals) // 2], min(vals), max(vals),
                len(vals)), file=sys.stderr)
    print("# ok: %s port %d: %d exchanges: %s" % (a.role, a.port, len(rows), ", ".join(checks)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
