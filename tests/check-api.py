#!/usr/bin/python3
"""check-api.py: the public API stays even (suite `docs`, TAP).

    check-api.py SRCDIR PFT_GIR HTTP_GIR|'' PC_FILE GLIB_FLOOR

- every symbol of the GIRs has a version (`Since:`);
- the throttled and adaptive flows have the accessors and properties of
  their node siblings, under the flows' names, and the other way round;
- every enum gets its GType from mkenums (no hand-registered enums);
- every function a public header declares is defined in the .c file of
  the same name;
- the .pc file requires GLib at the build's floor;
- every page of docs/ is a page of a gi-docgen reference (Pft's or
  PftHttp's), once.
"""

import glob
import os
import re
import sys
import tomllib
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'
C = '{http://www.gtk.org/introspection/c/1.0}'

SYMBOL_KINDS = {
    'class', 'record', 'interface', 'enumeration', 'bitfield', 'constant',
    'callback', 'function', 'method', 'constructor', 'virtual-method',
    'property', 'signal', 'function-macro', 'alias', 'boxed',
}
CONTAINERS = {'class', 'record', 'interface', 'enumeration', 'bitfield', 'boxed'}

results = []


def check(name, problems):
    results.append((name, problems))


def kind_of(el):
    return el.tag.replace(CORE, '').replace(GLIB, '')


def namespace(gir):
    return ET.parse(gir).getroot().find(CORE + 'namespace')


def check_since(gir):
    missing = []

    def walk(el, path):
        for child in el:
            kind = kind_of(child)
            if kind not in SYMBOL_KINDS:
                continue
            name = '%s.%s' % (path, child.get('name'))
            # The class structs G_DECLARE_FINAL_TYPE writes: no declaration
            # in a header, so nothing to put a Since on.
            generated = (child.get(GLIB + 'is-gtype-struct-for') is not None
                         and child.find(CORE + 'doc') is None)
            if child.get('version') is None and not generated:
                missing.append('%s %s has no Since' % (kind, name))
            if kind in CONTAINERS:
                walk(child, name)

    ns = namespace(gir)
    walk(ns, ns.get('name'))
    return missing


def members(ns, class_name):
    cls = next(c for c in ns.findall(CORE + 'class') if c.get('name') == class_name)
    methods = {m.get('name') for m in cls.findall(CORE + 'method')}
    props = {p.get('name') for p in cls.findall(CORE + 'property')}
    return methods, props


# The flows say "flows" where the nodes say nothing: max-per-minute is
# max-flows-per-minute, current-concurrent is current-concurrent-flows.
FLOW_NAMES = [
    ('max_per_minute', 'max_flows_per_minute'),
    ('current_concurrent', 'current_concurrent_flows'),
    ('initial_concurrent', 'initial_concurrent_flows'),
    ('min_concurrent', 'min_concurrent_flows'),
]
# A flow's own alias of max-concurrent (its BatchFlow property), under the
# seed's name; the node has only max-concurrent.
FLOW_ONLY = {'max-concurrent-flows'}


def to_flow(name):
    sep = '-' if '-' in name else '_'
    for node_name, flow_name in FLOW_NAMES:
        node_name = node_name.replace('_', sep)
        flow_name = flow_name.replace('_', sep)
        if re.search(r'(^|[-_])%s$' % re.escape(node_name), name):
            return name[: len(name) - len(node_name)] + flow_name
    return name


def check_parity(gir):
    ns = namespace(gir)
    problems = []
    for node, flow in [('BatchNode', 'BatchFlow'),
                       ('ThrottledBatchNode', 'ThrottledBatchFlow'),
                       ('AdaptiveNode', 'AdaptiveBatchFlow')]:
        node_methods, node_props = members(ns, node)
        flow_methods, flow_props = members(ns, flow)
        for what, node_set, flow_set in [('method', node_methods, flow_methods),
                                         ('property', node_props, flow_props)]:
            expected = {to_flow(n) for n in node_set}
            for n in sorted(expected - flow_set):
                problems.append('%s %s.%s missing (the node has it)' % (what, flow, n))
            for n in sorted(flow_set - expected - FLOW_ONLY):
                problems.append('%s %s.%s has no counterpart on %s' % (what, flow, n, node))
    return problems


def check_enums(srcdir, girs):
    problems = []
    for gir in girs:
        ns = namespace(gir)
        for kind in ('enumeration', 'bitfield'):
            for e in ns.findall(CORE + kind):
                if e.get(GLIB + 'get-type') is None:
                    problems.append('%s %s has no GType' % (kind, e.get('name')))
    for path in sorted(glob.glob(os.path.join(srcdir, 'pft*', '*.c'))):
        text = open(path, encoding='utf-8').read()
        for m in re.finditer(r'G_DEFINE_(ENUM|FLAGS)_TYPE|g_(enum|flags)_register_static', text):
            problems.append('%s registers an enum by hand (%s): list its header '
                            'in the mkenums sources instead' % (os.path.relpath(path, srcdir), m.group(0)))
    return problems


def check_defined_with_header(srcdir):
    problems = []
    for header in sorted(glob.glob(os.path.join(srcdir, 'pft*', '*.h'))):
        if header.endswith('-private.h'):
            continue
        text = open(header, encoding='utf-8').read()
        declared = re.findall(r'PFT_(?:HTTP_)?AVAILABLE_IN_\w+\s*\n[^;(]*?\b(\w+)\s*\(', text)
        declared = [d for d in declared if not d.startswith('G_DECLARE_')]
        if not declared:
            continue
        source_path = header[:-2] + '.c'
        source = open(source_path, encoding='utf-8').read() if os.path.exists(source_path) else ''
        # G_DEFINE_* (Type, prefix, ...) defines prefix_get_type / prefix_quark.
        macro_prefixes = re.findall(r'G_DEFINE_\w+\s*\(\s*\w+\s*,\s*(\w+)', source)
        for func in declared:
            if re.search(r'^%s\s*\(' % func, source, re.M):
                continue
            if any(func in (p + '_get_type', p + '_quark') for p in macro_prefixes):
                continue
            problems.append('%s is declared in %s but not defined in %s'
                            % (func, os.path.relpath(header, srcdir),
                               os.path.relpath(source_path, srcdir)))
    return problems


def check_pc(pc_file, floor):
    text = open(pc_file, encoding='utf-8').read()
    m = re.search(r'^Requires:\s*(.*)$', text, re.M)
    requires = [r.strip() for r in m.group(1).split(',')] if m else []
    problems = []
    for pkg in ('glib-2.0', 'gobject-2.0', 'gio-2.0'):
        want = '%s >= %s' % (pkg, floor)
        if want not in requires:
            problems.append('%s: Requires has no "%s" (it has %r)' % (pc_file, want, requires))
    return problems


def check_doc_pages(srcdir):
    docs = os.path.join(srcdir, 'docs')
    owners = {}
    for toml in sorted(glob.glob(os.path.join(docs, '*.toml.in'))):
        # A line that is only @VAR@ is filled in by meson (Pft's related
        # libraries); the rest is TOML as it stands.
        text = re.sub(r'^@\w+@$', '', open(toml, encoding='utf-8').read(), flags=re.M)
        pages = tomllib.loads(text).get('extra', {}).get('content_files', [])
        for page in pages:
            owners.setdefault(page, []).append(os.path.basename(toml))
    problems = []
    for page in sorted(os.path.basename(p) for p in glob.glob(os.path.join(docs, '*.md'))):
        if page not in owners:
            problems.append('docs/%s is in no reference (content_files of docs/*.toml.in)' % page)
        elif len(owners[page]) > 1:
            problems.append('docs/%s is a page of %s' % (page, ', '.join(owners[page])))
    for page in sorted(set(owners) - {os.path.basename(p) for p in glob.glob(os.path.join(docs, '*.md'))}):
        problems.append('%s lists docs/%s, which does not exist' % (', '.join(owners[page]), page))
    return problems


def main():
    srcdir, pft_gir, http_gir, pc_file, floor = sys.argv[1:6]
    floor = floor.replace('>=', '').strip()
    girs = [pft_gir] + ([http_gir] if http_gir else [])

    for gir in girs:
        check('every symbol of %s has a Since' % os.path.basename(gir), check_since(gir))
    check('throttled and adaptive flows have their nodes\' accessors and properties',
          check_parity(pft_gir))
    check('every enum is registered by mkenums', check_enums(srcdir, girs))
    check('every public function is defined in the .c file of its header',
          check_defined_with_header(srcdir))
    check('%s requires GLib >= %s' % (os.path.basename(pc_file), floor), check_pc(pc_file, floor))
    check('every page of docs/ is in one gi-docgen reference', check_doc_pages(srcdir))

    print('1..%d' % len(results))
    failed = 0
    for i, (name, problems) in enumerate(results, 1):
        print('%s %d %s' % ('not ok' if problems else 'ok', i, name))
        for p in problems:
            print('#   %s' % p)
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
