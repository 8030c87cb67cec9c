#!/usr/bin/env python3
# test-runner.py: checks that run-snippets.py rejects each bad block for
# the reason written in it, so that a broken runner cannot pass everything.
#
# SPDX-License-Identifier: MIT

import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
build_root, source_root = sys.argv[1], sys.argv[2]
md = os.path.join(here, 'bad-blocks.md')

with open(md, encoding='utf-8') as f:
    reasons = re.findall(r'reason: ([^*"\n)]+?)\s*(?:\*/|"\)|$)', f.read(), re.MULTILINE)
p = subprocess.run([sys.executable, os.path.join(here, 'run-snippets.py'),
                    '--build-root', build_root, '--source-root', source_root, md],
                   capture_output=True, text=True, timeout=300)
out = p.stdout
results = re.split(r'^(?=(?:not )?ok \d+ - )', out, flags=re.MULTILINE)[1:]

print('1..%d' % (len(reasons) + 2))
print('%s 1 - the runner exits non-zero' % ('ok' if p.returncode == 1 else 'not ok'))
print('%s 2 - one result per block (%d results, %d blocks)'
      % ('ok' if len(results) == len(reasons) else 'not ok', len(results), len(reasons)))
for n, (reason, result) in enumerate(zip(reasons, results), 3):
    expect_ok = reason.startswith('# SKIP')
    good = (result.startswith('ok') if expect_ok else result.startswith('not ok')) and reason in result
    print('%s %d - %s' % ('ok' if good else 'not ok', n, reason))
    if not good:
        print('# ' + result.replace('\n', '\n# '))
