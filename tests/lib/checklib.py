# SPDX-License-Identifier: GPL-2.0
"""What the tests' Python checkers share: FAIL/ok lines on stderr, exact comparison."""
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("# ok: " + msg, file=sys.stderr)


def eq(got, want, what):
    if got != want:
        fail("%s: got %r, expected %r" % (what, got, want))
    ok("%s = %r" % (what, got))
