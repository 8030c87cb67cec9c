# pfttest.py: shared set-up of the Python binding tests
#
# SPDX-License-Identifier: MIT
#
# Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH on the build dir
# and PYTHONPATH on pft/python (so that gi.overrides.Pft is the one in
# the source tree), with Debian's /usr/bin/python3.

import gi

gi.require_version('Pft', '1')

from gi.repository import GLib, Pft  # noqa: E402


def run_in_loop(node, store, timeout=20):
    """Runs *node* with run_async() from a GLib.MainLoop on the default
    main context; returns the action or raises the GLib.Error."""
    loop = GLib.MainLoop()
    out = {}

    def done(source, result, *args):
        try:
            out['action'] = source.run_finish(result)
        except GLib.Error as e:
            out['error'] = e
        loop.quit()

    def too_late():
        out['timeout'] = True
        loop.quit()
        return GLib.SOURCE_REMOVE

    guard = GLib.timeout_add_seconds(timeout, too_late)
    node.run_async(store, None, done)
    loop.run()
    if 'timeout' in out:
        raise AssertionError('run_async did not finish in %d s' % timeout)
    GLib.source_remove(guard)
    if 'error' in out:
        raise out['error']
    return out['action']


__all__ = ['GLib', 'Pft', 'run_in_loop']
