# test_limiter.py: Python nodes sharing a limiter of the registry
#
# SPDX-License-Identifier: MIT

import threading
import time
import unittest

from pfttest import GLib, Pft


class Shared(object):
    """In-flight count across every node that uses one limiter."""

    def __init__(self, limiter):
        self.limiter = limiter
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.limiter_max = 0
        self.threads = set()


class Caller(Pft.BatchNode):
    """Each exec takes a permit from the shared limiter, blocking its
    worker thread, as a call to a rate-limited API would."""

    def __init__(self, shared, items, **kwargs):
        super().__init__(**kwargs)
        self.shared = shared
        self.items = items

    def do_prep(self, ctx):
        return self.items

    def do_exec(self, ctx, item):
        s = self.shared
        permit = s.limiter.acquire(1, ctx.get_cancellable())
        try:
            with s.lock:
                s.now += 1
                s.max = max(s.max, s.now)
                s.limiter_max = max(s.limiter_max, s.limiter.get_in_flight())
                s.threads.add(threading.get_ident())
            time.sleep(0.01)
            with s.lock:
                s.now -= 1
        finally:
            permit.release()
        return item.upper()

    def do_post(self, ctx, p, results):
        ctx.store[self.props.name] = results.to_list()


class TestSharedLimiter(unittest.TestCase):
    NAME = 'python-test-shared'

    def setUp(self):
        self.registry = Pft.LimiterRegistry.get_default()
        self.registry.remove(self.NAME)
        self.limiter = self.registry.register_new(self.NAME, 2, 0, 60.0)

    def tearDown(self):
        self.registry.remove(self.NAME)

    def test_two_nodes_share_one_limiter(self):
        limiter = self.registry.lookup(self.NAME)
        self.assertIs(limiter, self.limiter)
        shared = Shared(limiter)
        a = Caller(shared, ['a%d' % i for i in range(6)], name='a', max_concurrent=4)
        b = Caller(shared, ['b%d' % i for i in range(6)], name='b', max_concurrent=4)
        store = Pft.Store()

        # Both nodes run at once, from one main loop.
        loop = GLib.MainLoop()
        pending = [a, b]
        errors = []

        def done(node, result, *args):
            try:
                node.run_finish(result)
            except GLib.Error as e:
                errors.append(e)
            pending.remove(node)
            if not pending:
                loop.quit()

        a.run_async(store, None, done)
        b.run_async(store, None, done)
        guard = GLib.timeout_add_seconds(30, lambda: loop.quit() or GLib.SOURCE_REMOVE)
        loop.run()
        self.assertEqual(pending, [], 'runs did not finish')
        GLib.source_remove(guard)
        self.assertEqual(errors, [])

        self.assertEqual(store['a'], ['A%d' % i for i in range(6)])
        self.assertEqual(store['b'], ['B%d' % i for i in range(6)])
        self.assertGreaterEqual(shared.max, 1)
        self.assertLessEqual(shared.max, 2)
        self.assertLessEqual(shared.limiter_max, 2)
        self.assertEqual(limiter.get_total_admitted(), 12)
        self.assertEqual(limiter.get_in_flight(), 0)
        # The one-lock snapshot reaches Python as a dict, as the registry's.
        stats = limiter.dup_stats().unpack()
        self.assertEqual(stats['total_admitted'], 12)
        self.assertEqual(stats['in_flight'], 0)
        self.assertEqual(stats['max_concurrent'], 2)
        self.assertEqual(stats['mode'], 'sliding-window')
        self.assertEqual(stats, self.registry.get_stats(self.NAME).unpack())

    def test_rate_limit_error_pauses_the_limiter(self):
        limiter = self.limiter
        outcome = {}

        class Limited(Pft.Node):
            def do_exec(self, ctx, item):
                permit = limiter.acquire(1, ctx.get_cancellable())
                permit.release()
                raise Pft.RateLimited(retry_after=30.0, source='python-api')

            def do_exec_fallback(self, ctx, item, reason):
                outcome['retry_after'] = Pft.error_get_retry_after(reason)
                outcome['reported'] = limiter.report_error(reason)
                raise reason

        with self.assertRaises(GLib.Error) as cm:
            Limited().run()
        self.assertTrue(Pft.error_is_rate_limit(cm.exception))
        self.assertEqual(Pft.error_get_retry_after(cm.exception), 30.0)
        self.assertIn('python-api', cm.exception.message)
        self.assertEqual(outcome['retry_after'], 30.0)
        self.assertTrue(outcome['reported'])
        self.assertGreater(limiter.get_paused_for(), 0.0)
        self.assertIsNone(limiter.try_acquire(1))


if __name__ == '__main__':
    unittest.main()
