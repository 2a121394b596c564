#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""stats_field.py FILE KEY: print the last value of KEY anywhere in the JSON
of `tcpstap stats --json` (producer counters are nested; the last STATS
record's value is the one that counts)."""
import json
import sys


def walk(d):
    if isinstance(d, dict):
        yield d
        for v in d.values():
            yield from walk(v)
    elif isinstance(d, list):
        for v in d:
            yield from walk(v)


def field(path, key):
    vals = [d[key] for d in walk(json.load(open(path))) if key in d]
    if not vals:
        sys.exit("%s: no %s" % (path, key))
    return vals[-1]


if __name__ == "__main__":
    print(field(sys.argv[1], sys.argv[2]))
