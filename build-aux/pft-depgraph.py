#!/usr/bin/env python3
# usage: build-aux/pft-depgraph.py SOURCE_DIR
"""File-level call graph of pft/*.c (A -> B: A names a function or type of B),
with pft-node.c split into its entry points (class defaults, exec_async
invoker, run API: they start the engine) and the rest (properties, hooks,
invokers the engine calls). Prints edges and cycles."""
import re, sys, glob, os, collections
root = sys.argv[1]
files = sorted(glob.glob(os.path.join(root, 'pft', '*.c')))
strip = lambda s: re.sub(r'"(?:\\.|[^"\\])*"', '""', re.sub(r'/\*.*?\*/', ' ', s, flags=re.S))
ENTRY = {'pft_node_class_init', 'pft_node_exec_async', 'pft_node_exec_finish', 'pft_node_run_async', 'pft_node_run_finish',
         'pft_node_run', 'pft_node_run_sync_cb'}
defs = {}; bodies = collections.defaultdict(dict)
for f in files:
    s = strip(open(f).read())
    name = os.path.basename(f)[:-2]
    # split into top-level function bodies
    for m in re.finditer(r'^(\w[\w \*]*?)\n?\b(\w+)\s*\(([^;{]*?)\)\s*\n\{(.*?)\n\}', s, re.M | re.S):
        fn = m.group(2)
        unit = name
        if name == 'pft-node':
            unit = 'pft-node:entry' if fn in ENTRY else 'pft-node:data'
        if not m.group(1).startswith('static') and fn.startswith(('pft_', '_pft_')):
            defs[fn] = unit
        bodies[unit][fn] = m.group(4)
    for m in re.finditer(r'G_DEFINE_\w*TYPE\w*\s*\(\s*\w+\s*,\s*(\w+)', s):
        defs[m.group(1) + '_get_type'] = 'pft-node:data' if name == 'pft-node' else name
        if name == 'pft-node':
            defs[m.group(1) + '_get_instance_private'] = 'pft-node:data'
edges = collections.defaultdict(set)
for unit, fns in bodies.items():
    for fn, body in fns.items():
        ids = set(re.findall(r'\b(_?pft_\w+)\b', body))
        ids |= {'pft_' + t.lower() + '_get_type' for t in re.findall(r'\bPFT_(?:TYPE_|IS_)([A-Z_]+)\b', body)}
        ids |= {'pft_' + t.lower() + '_get_type' for t in re.findall(r'\bPFT_([A-Z_]+?)(?:_CLASS|_GET_CLASS)?\s*\(', body)}
        for i in ids:
            g = defs.get(i)
            if g and g != unit:
                edges[unit].add(g)
nodes = sorted(set(bodies) | set(defs.values()))
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
def strong(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in sorted(edges[v]):
        if w not in idx:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        sccs.append(sorted(comp))
for v in nodes:
    if v not in idx: strong(v)
for v in nodes:
    if edges[v]: print(f"{v} -> {', '.join(sorted(edges[v]))}")
cyc = [x for x in sccs if len(x) > 1]
print('cycles: ' + ('; '.join(' <-> '.join(x) for x in cyc) if cyc else 'none'))
