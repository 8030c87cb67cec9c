# test_begin_request.py: a Python exec that marks its request's start
# itself (Pft.NodeClass.set_begins_requests, Pft.Context.begin_request)
#
# SPDX-License-Identifier: MIT
#
# The exec stamps time.monotonic() (CLOCK_MONOTONIC, the limiter's clock)
# right before it marks its start, so the limiter's stamp is never earlier
# than ours: the gaps asserted are lower bounds that a loaded machine can
# only widen.

import threading
import time
import unittest

from pfttest import Pft

WINDOW = 0.5


class WaitThenSend(Pft.ThrottledBatchNode):
    """Item 0 waits 0.4 s before it sends (for tokens, say); the others
    send at once. One request per WINDOW."""

    max_concurrent = 3

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.sent = []
        limiter = self.get_limiter()
        limiter.set_max_per_window(1)
        limiter.set_window(WINDOW)

    def do_prep(self, ctx):
        return ctx.store['items']

    def do_exec(self, ctx, item):
        if item == 0:
            time.sleep(0.4)
        with self.lock:
            self.sent.append(time.monotonic())
        ctx.begin_request()
        ctx.begin_request()   # only the first call counts
        return item

    def do_post(self, ctx, prep_res, exec_res):
        return 'default'


WaitThenSend.set_begins_requests(True)


class TestBeginRequest(unittest.TestCase):
    def test_window_counts_from_the_send(self):
        node = WaitThenSend()
        store = Pft.Store()
        store['items'] = [0, 1, 2]
        self.assertEqual(node.run(store), 'default')
        self.assertEqual(len(node.sent), 3)
        # Counted from the exec's call, item 0's entry would expire at
        # 0.5 s and item 1 would send 0.1 s after item 0.
        sent = sorted(node.sent)
        for a, b in zip(sent, sent[1:]):
            self.assertGreaterEqual(b - a, WINDOW - 0.001)
        self.assertEqual(node.get_limiter().props.in_flight, 0)

    def test_outside_an_attempt_does_nothing(self):
        # prep's context: no deferred start, the call is a no-op.
        class Prep(Pft.Node):
            def do_prep(self, ctx):
                ctx.begin_request()
                return None

        self.assertEqual(Prep().run(Pft.Store()), 'default')


if __name__ == '__main__':
    unittest.main()
