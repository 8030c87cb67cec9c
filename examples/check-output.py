#!/usr/bin/env python3
# check-output.py: runs an example and fails unless it exits 0 without a
# GLib CRITICAL or WARNING, a Python traceback or a GJS warning in its
# output (criticals alone do not change the exit status).
#
# Usage: check-output.py [--expect REGEX]... COMMAND [ARG...]
#
# Each --expect regular expression must match a line of the output: what
# the recipe claims (every item done, the API's peak within the limit) is
# checked too, not only that it ran.
#
# SPDX-License-Identifier: MIT

import re
import subprocess
import sys

BAD = re.compile(r'(\bCRITICAL\b|\bWARNING\b|^Traceback \(most recent call last\))', re.MULTILINE)

args = sys.argv[1:]
expects = []
while len(args) >= 2 and args[0] == '--expect':
    expects.append(args[1])
    args = args[2:]

p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   stdin=subprocess.DEVNULL, text=True)
sys.stdout.write(p.stdout)
if p.returncode != 0:
    sys.exit('check-output: exit status %d' % p.returncode)
bad = BAD.search(p.stdout)
if bad:
    sys.exit('check-output: the output has %r' % bad.group(0))
if not p.stdout.strip():
    sys.exit('check-output: the example printed nothing')
for expect in expects:
    if not re.search(expect, p.stdout, re.MULTILINE):
        sys.exit('check-output: no line of the output matches %r' % expect)
