# test_context_recycle.py: a batch of a Python node reuses its item
# contexts once Python dropped them, and they die with the batch
#
# SPDX-License-Identifier: MIT

import ctypes
import threading
import unittest

from pfttest import Pft

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def gobject_address(obj):
    """The address of the GObject behind @obj (not of its wrapper)."""
    return _capsule_pointer(obj.__gpointer__, None)


class Watch(Pft.BatchNode):
    """Records every context its exec gets and when each one dies."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n
        self.lock = threading.Lock()
        self.seen = set()
        self.reused = 0
        self.finalized = 0
        self.finalized_during_batch = 0

    def _finalized(self):
        with self.lock:
            self.finalized += 1

    def do_prep(self, ctx):
        return list(range(self.n))

    def do_exec(self, ctx, item):
        address = gobject_address(ctx)
        with self.lock:
            # A context that did not die and was seen before is the same
            # object again: its address cannot have been reused meanwhile.
            self.finalized_during_batch = max(self.finalized_during_batch, self.finalized)
            if address in self.seen:
                self.reused += 1
            else:
                self.seen.add(address)
                ctx.weak_ref(self._finalized)
        return item

    def do_post(self, ctx, prep_res, exec_res):
        return 'default'


class TestContextRecycle(unittest.TestCase):
    def check(self, policy):
        node = Watch(40, max_concurrent=1, thread_policy=policy)
        node.run(Pft.Store.new())
        # The wrapper PyGObject made for each exec is gone when it
        # returns: one context serves every item...
        self.assertEqual(len(node.seen), 1)
        self.assertEqual(node.reused, 39)
        self.assertEqual(node.finalized_during_batch, 0)
        # ...and it does not outlive its batch.
        self.assertEqual(node.finalized, 1)

    def test_main_context(self):
        self.check(Pft.ThreadPolicy.MAIN_CONTEXT)

    def test_thread(self):
        self.check(Pft.ThreadPolicy.THREAD)

    def test_kept_context_not_reused(self):
        class Keep(Watch):
            kept = []

            def do_exec(self, ctx, item):
                # The wrapper, and so the context, stays alive in a list.
                Keep.kept.append(ctx)
                return Watch.do_exec(self, ctx, item)

        node = Keep(10, max_concurrent=1, thread_policy=Pft.ThreadPolicy.MAIN_CONTEXT)
        node.run(Pft.Store.new())
        self.assertEqual(len(node.seen), 10)
        self.assertEqual(node.reused, 0)
        self.assertEqual(node.finalized, 0)
        Keep.kept.clear()
        self.assertEqual(node.finalized, 10)


if __name__ == '__main__':
    unittest.main()
