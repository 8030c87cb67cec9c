#!/usr/bin/python3
"""pft-add-since.py FILE...: adds `Since: 0.1` to the gtk-doc blocks of
public symbols that have none (functions, types, properties, signals).

A block is a symbol's when its first line is `NAME:`, `Type:property:` or
`Type::signal:`; names starting with `_` are private and skipped. The tag
goes last in the block, after a blank comment line. tests/check-api.py
(suite docs) says which symbols still lack one.
"""

import re
import sys

HEADER = re.compile(r'^(\s*)\* ([A-Za-z]\w*(?::{1,2}[\w-]+)?):\s*(\(.*\))?\s*$')
SINCE = '0.1'


def add_since(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    out, added, i = [], 0, 0
    while i < len(lines):
        if not re.match(r'^\s*/\*\*\s*$', lines[i]):
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while not re.match(r'^\s*\*/\s*$', lines[j]):
            j += 1
        body = lines[i + 1:j]
        m = HEADER.match(body[0]) if body else None
        if (m and not m.group(2).startswith('_')
                and not any(re.match(r'^\s*\* Since:', line) for line in body)):
            indent = m.group(1)
            if body[-1].strip() != '*':
                body.append(indent + '*')
            body.append('%s* Since: %s' % (indent, SINCE))
            added += 1
        out += [lines[i]] + body + [lines[j]]
        i = j + 1
    open(path, 'w', encoding='utf-8').write('\n'.join(out))
    return added


if __name__ == '__main__':
    for p in sys.argv[1:]:
        print('%s: %d' % (p, add_since(p)))
