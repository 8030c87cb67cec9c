#!/usr/bin/env python3
# run-snippets.py: runs the code blocks of Markdown pages against the build
#
# SPDX-License-Identifier: MIT
"""Extracts the code blocks of Markdown files and runs them, so that the
README and the docs cannot rot.

A block is run when the line before its opening fence is the HTML comment
``<!-- runnable -->`` (invisible on GitHub and in gi-docgen's pages, and
the fence keeps its plain language tag so highlighting still works). The
comment may require text in the output: ``<!-- runnable expect="HELLO" -->``.
A block that only shows a piece of a program is marked
``<!-- fragment -->``. Every ``c``, ``python``, ``js`` and ``vala`` block
must carry one of the two marks, so that a new example is either run or
declared a fragment on purpose.

How each language runs (uninstalled build, as the binding suites do):
  c       cc -Wall -Werror, flags from pkg-config pft-1 (meson-uninstalled)
  python  /usr/bin/python3 (or --python), the override from the source tree
  js      gjs -m
  vala    valac --vapidir BUILD/pft --pkg pft-1 --pkg gio-2.0
A block fails when it does not build, exits non-zero, runs longer than
--timeout seconds, or prints a GLib CRITICAL or WARNING (or a Python
traceback, a GJS warning) anywhere in its output: criticals do not change
the exit status on their own.

Output is TAP, one test per block (file:line).
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

LANGS = {'c', 'python', 'js', 'vala'}
MARK_RE = re.compile(r'^\s*<!--\s*(runnable|fragment)\b(.*?)-->\s*$')
FENCE_RE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([\w+#.-]*)')
EXPECT_RE = re.compile(r'expect="([^"]*)"')
# Lines that mean something went wrong even when the exit status is 0.
BAD_OUTPUT_RE = re.compile(r'(-CRITICAL \*\*|-WARNING \*\*|\bCRITICAL\b|\bWARNING\b|'
                           r'^Traceback \(most recent call last\)|Gjs-WARNING)',
                           re.MULTILINE)


class Block(object):
    def __init__(self, path, line, lang, code, mark, options):
        self.path = path
        self.line = line
        self.lang = lang
        self.code = code
        self.mark = mark
        self.options = options

    @property
    def name(self):
        return '%s:%d (%s)' % (os.path.basename(self.path), self.line, self.lang or 'text')


def parse(path):
    """Yields every fenced block of the file with the mark before it."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    i = 0
    mark, options, mark_line = None, '', -10
    while i < len(lines):
        m = MARK_RE.match(lines[i])
        if m:
            mark, options, mark_line = m.group(1), m.group(2), i
            i += 1
            continue
        m = FENCE_RE.match(lines[i])
        if m:
            indent, fence, lang = m.groups()
            start = i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            this_mark = mark if mark_line == start - 1 else None
            yield Block(path, start + 1, lang.lower(), '\n'.join(body) + '\n',
                        this_mark, options if this_mark else '')
            mark = None
        i += 1


def command_for(block, workdir, args):
    """Returns (build command or None, run command) for a block."""
    ext = {'c': 'c', 'python': 'py', 'js': 'js', 'vala': 'vala'}[block.lang]
    src = os.path.join(workdir, 'snippet.' + ext)
    with open(src, 'w', encoding='utf-8') as f:
        f.write(block.code)
    exe = os.path.join(workdir, 'snippet')
    # Blocks that use the HTTP layer also get libpft-http-1.
    http = 'pft-http.h' in block.code or 'PftHttp' in block.code
    if block.lang == 'c':
        flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'pft-http-1' if http else 'pft-1'],
                               check=True, capture_output=True, text=True).stdout.split()
        return [args.cc, '-Wall', '-Werror', '-o', exe, src] + flags, [exe]
    if block.lang == 'vala':
        pkgs = ['--pkg', 'pft-1', '--pkg', 'gio-2.0']
        if http:
            pkgs += ['--pkg', 'pft-http-1', '--pkg', 'libsoup-3.0', '--pkg', 'json-glib-1.0']
        vapidirs = [a for d in args.vapidirs for a in ('--vapidir', d)]
        return [args.valac] + vapidirs + pkgs + ['-o', exe, src], [exe]
    if block.lang == 'python':
        return None, [args.python, src]
    return None, [args.gjs, '-m', src]


def run_block(block, args):
    """Returns None when the block passed, or a message saying why not."""
    with tempfile.TemporaryDirectory(prefix='pft-snippet-') as workdir:
        build, run = command_for(block, workdir, args)
        if build is not None:
            p = subprocess.run(build, cwd=workdir, capture_output=True, text=True,
                               timeout=args.timeout)
            if p.returncode != 0:
                return 'does not build: %s\n%s%s' % (shlex.join(build), p.stdout, p.stderr)
        try:
            p = subprocess.run(run, cwd=workdir, capture_output=True, text=True,
                               timeout=args.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 'still running after %d s' % args.timeout
        out = p.stdout + p.stderr
        if p.returncode != 0:
            return 'exit status %d\n%s' % (p.returncode, out)
        bad = BAD_OUTPUT_RE.search(out)
        if bad:
            return 'printed %r\n%s' % (bad.group(0), out)
        m = EXPECT_RE.search(block.options)
        if m and m.group(1) not in out:
            return 'output lacks %r\n%s' % (m.group(1), out)
        return None


def prepend(env, name, *dirs):
    old = [p for p in env.get(name, '').split(os.pathsep) if p and p not in dirs]
    env[name] = os.pathsep.join(list(dirs) + old)


def setup_uninstalled(env, args):
    """The build tree, as the binding suites use it."""
    pft_dir = os.path.join(args.build_root, 'pft')
    http_dir = os.path.join(args.build_root, 'pft-http')
    prepend(env, 'PKG_CONFIG_PATH', os.path.join(args.build_root, 'meson-uninstalled'))
    env['GI_TYPELIB_PATH'] = os.pathsep.join([pft_dir, http_dir])
    prepend(env, 'LD_LIBRARY_PATH', pft_dir, http_dir)
    env['PYTHONPATH'] = os.path.join(args.source_root, 'pft', 'python')
    args.vapidirs = [pft_dir, http_dir]


def find_under(prefix, suffix):
    """The directory under prefix whose path ends with suffix (a file in it)."""
    for root, dirs, files in os.walk(prefix):
        path = os.path.join(root, os.path.basename(suffix))
        if path.endswith(suffix) and os.path.exists(path):
            return root
    sys.exit('run-snippets: no %s under %s' % (suffix, prefix))


def setup_installed(env, args):
    """An installed prefix, with exactly the variables the README tells
    users to export for a prefix that is not /usr."""
    libdir = find_under(args.prefix, '/pkgconfig/pft-1.pc')
    libdir = os.path.dirname(libdir)
    prepend(env, 'PKG_CONFIG_PATH', os.path.join(libdir, 'pkgconfig'))
    prepend(env, 'LD_LIBRARY_PATH', libdir)
    prepend(env, 'GI_TYPELIB_PATH', os.path.join(libdir, 'girepository-1.0'))
    overrides = find_under(args.prefix, '/gi/overrides/Pft.py')
    prepend(env, 'PYTHONPATH', os.path.dirname(os.path.dirname(overrides)))
    args.vapidirs = [os.path.join(args.prefix, 'share', 'vala', 'vapi')]
    for name in ('PKG_CONFIG_PATH', 'LD_LIBRARY_PATH', 'GI_TYPELIB_PATH', 'PYTHONPATH'):
        print('# %s=%s' % (name, env[name]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build-root', help='an uninstalled build to run against')
    parser.add_argument('--source-root', help='the source tree of that build')
    parser.add_argument('--prefix', help='or: an installed prefix to run against')
    parser.add_argument('--python', default='/usr/bin/python3')
    parser.add_argument('--gjs', default='gjs')
    parser.add_argument('--valac', default='valac')
    parser.add_argument('--cc', default=os.environ.get('CC', 'cc'))
    parser.add_argument('--timeout', type=int, default=60)
    parser.add_argument('--list', action='store_true', help='only list the blocks')
    parser.add_argument('files', nargs='+', help='Markdown files, or directories of them')
    args = parser.parse_args()
    if not args.prefix and not (args.build_root and args.source_root):
        parser.error('give --build-root and --source-root, or --prefix')

    env = os.environ
    if args.prefix:
        setup_installed(env, args)
    else:
        setup_uninstalled(env, args)

    paths = []
    for path in args.files:     # a directory stands for its *.md pages
        if os.path.isdir(path):
            paths += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith('.md'))
        else:
            paths.append(path)
    blocks = [b for path in paths for b in parse(path) if b.lang in LANGS]
    print('1..%d' % len(blocks))
    failed = 0
    for n, block in enumerate(blocks, 1):
        if block.mark is None:
            failed += 1
            print('not ok %d - %s: no <!-- runnable --> or <!-- fragment --> mark before the block'
                  % (n, block.name))
            continue
        if block.mark == 'fragment' or args.list:
            print('ok %d - %s # SKIP %s' % (n, block.name, 'listed' if args.list else 'a fragment'))
            continue
        why = run_block(block, args)
        if why is None:
            print('ok %d - %s' % (n, block.name))
        else:
            failed += 1
            print('not ok %d - %s' % (n, block.name))
            for line in why.rstrip('\n').split('\n'):
                print('# ' + line)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
