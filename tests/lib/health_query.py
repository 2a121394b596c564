#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""health_query: select records from `tcpstap read --json` (or `tcpstap
watch --json`) output for the connection-health kernel tests.

  health_query.py FILE [--type T] [--where KEY=VALUE ...] (--count | --get KEY | --sum KEY | --last KEY)

--where compares the JSON value as text (numbers as written); several
--where all must hold. --get prints one value per matching record (lists
as comma-separated), --sum their sum, --last the last one's, --count how
many records match. Lines that are not JSON objects are an error: the
tests must never parse a damaged stream silently.
"""
import argparse
import json
import sys


def text(v):
    if isinstance(v, list):
        return ",".join(text(x) for x in v)
    if v is None:
        return "null"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--type")
    ap.add_argument("--where", action="append", default=[])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--count", action="store_true")
    g.add_argument("--get")
    g.add_argument("--sum")
    g.add_argument("--last")
    a = ap.parse_args()
    conds = [w.split("=", 1) for w in a.where]
    recs = []
    with open(a.file) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                sys.exit("%s:%d: not JSON: %s" % (a.file, n, line[:80]))
            if a.type and r.get("type") != a.type:
                continue
            if all(k in r and text(r[k]) == v for k, v in conds):
                recs.append(r)
    if a.count:
        print(len(recs))
    elif a.get:
        for r in recs:
            print(text(r.get(a.get)))
    elif a.sum:
        print(sum(r.get(a.sum) or 0 for r in recs))
    elif recs:
        print(text(recs[-1].get(a.last)))


if __name__ == "__main__":
    main()
