#!/usr/bin/env python3
# check-po.py: po/POTFILES.in lists exactly the sources with translatable
# strings, and every language of po/LINGUAS translates all of them.
#
# Usage: check-po.py SOURCE_ROOT
#
# SPDX-License-Identifier: MIT
"""Output is TAP.

1. Every C source or header of the tree (outside tests/, examples/ and
   build directories) that marks a string with _(), N_(), C_(), NC_() or
   Q_() is listed in po/POTFILES.in, and every listed file exists and
   marks one: a new message in an unlisted file would never reach the
   translators.
2. For each language in po/LINGUAS, msgcmp finds a translation (neither
   missing, untranslated nor fuzzy) in po/LANG.po for every message that
   xgettext extracts from the listed files, with the keywords of meson's
   glib preset.
"""

import os
import re
import subprocess
import sys
import tempfile

MARK_RE = re.compile(r'(?<![A-Za-z0-9_])(?:_|N_|C_|NC_|Q_)\s*\(\s*"')
SKIP_DIRS = {'tests', 'examples', 'po', 'docs', 'build-aux', 'subprojects'}
XGETTEXT_KEYWORDS = ['--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
                     '--keyword=Q_', '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3',
                     '--keyword=g_dpgettext2:2c,3']

root = sys.argv[1]
results = []


def check(ok, name, detail=''):
    results.append((ok, name, detail))


def sources_with_marks():
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == '.':
            dirnames[:] = [d for d in dirnames
                           if d not in SKIP_DIRS and not d.startswith(('.', '_build'))]
        for f in filenames:
            if f.endswith(('.c', '.h')):
                path = os.path.join(dirpath, f)
                with open(path, encoding='utf-8', errors='replace') as fh:
                    if MARK_RE.search(fh.read()):
                        found.add(os.path.relpath(path, root))
    return found


def potfiles():
    with open(os.path.join(root, 'po', 'POTFILES.in'), encoding='utf-8') as fh:
        return [l.strip() for l in fh if l.strip() and not l.startswith('#')]


marked = sources_with_marks()
listed = potfiles()
missing = sorted(marked - set(listed))
check(not missing, 'every source that marks a string is in po/POTFILES.in',
      'not listed: ' + ', '.join(missing))
stale = sorted(f for f in listed if f not in marked)
check(not stale, 'every file in po/POTFILES.in exists and marks a string',
      'listed but without a marked string (or missing): ' + ', '.join(stale))

with open(os.path.join(root, 'po', 'LINGUAS'), encoding='utf-8') as fh:
    linguas = [w for l in fh if not l.startswith('#') for w in l.split()]
check(bool(linguas), 'po/LINGUAS names at least one language')

with tempfile.TemporaryDirectory() as tmp:
    pot = os.path.join(tmp, 'pft.pot')
    p = subprocess.run(['xgettext', '--from-code=UTF-8', '--language=C', '-o', pot,
                        '--directory', root] + XGETTEXT_KEYWORDS + listed,
                       capture_output=True, text=True)
    check(p.returncode == 0, 'xgettext extracts the messages', p.stderr)
    for lang in linguas:
        po = os.path.join(root, 'po', lang + '.po')
        p = subprocess.run(['msgcmp', po, pot], capture_output=True, text=True)
        check(p.returncode == 0, 'po/%s.po translates every message of the sources' % lang,
              p.stderr)
        p = subprocess.run(['msgfmt', '--check', '--statistics', '-o', os.devnull, po],
                           capture_output=True, text=True)
        check(p.returncode == 0 and 'untranslated' not in p.stderr and 'fuzzy' not in p.stderr,
              'po/%s.po compiles with no untranslated or fuzzy message (%s)'
              % (lang, p.stderr.strip()), p.stderr)

print('1..%d' % len(results))
for n, (ok, name, detail) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, name))
    if not ok and detail:
        for line in detail.strip().split('\n'):
            print('# ' + line)
sys.exit(0 if all(r[0] for r in results) else 1)
