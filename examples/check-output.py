#!/usr/bin/env python3
# check-output.py: runs an example and fails unless it exits 0 without a
# GLib CRITICAL or WARNING, a Python traceback or a GJS warning in its
# output (criticals alone do not change the exit status).
#
# Usage: check-output.py COMMAND [ARG...]
#
# SPDX-License-Identifier: MIT

import re
import subprocess
import sys

BAD = re.compile(r'(\bCRITICAL\b|\bWARNING\b|^Traceback \(most recent call last\))', re.MULTILINE)

p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   stdin=subprocess.DEVNULL, text=True)
sys.stdout.write(p.stdout)
if p.returncode != 0:
    sys.exit('check-output: exit status %d' % p.returncode)
bad = BAD.search(p.stdout)
if bad:
    sys.exit('check-output: the output has %r' % bad.group(0))
if not p.stdout.strip():
    sys.exit('check-output: the example printed nothing')
