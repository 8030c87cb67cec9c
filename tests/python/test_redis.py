# test_redis.py: a limiter shared through Redis, from Python
#
# SPDX-License-Identifier: MIT
#
# Run by tests/redis-run, which starts a private redis-server and sets
# PFT_TEST_REDIS_URI.

import os
import unittest

from pfttest import GLib, Pft

URI = os.environ['PFT_TEST_REDIS_URI']


class RedisLimiterTest(unittest.TestCase):
    def test_new_redis(self):
        limiter = Pft.RateLimiter.new_redis(URI, 'py-new', 2, 10, 1.0)
        self.assertEqual(limiter.props.backend, 'redis')
        self.assertEqual(limiter.props.redis_key, 'py-new')
        self.assertEqual(limiter.props.redis_uri, URI)
        self.assertEqual(limiter.props.fallback, Pft.LimiterFallback.FAIL)
        limiter.props.fallback = Pft.LimiterFallback.LOCAL
        limiter.props.backend_timeout = 0.5
        self.assertEqual(limiter.get_fallback(), Pft.LimiterFallback.LOCAL)
        self.assertEqual(limiter.get_backend_timeout(), 0.5)

    def test_one_quota_two_limiters(self):
        # Another spelling of the server: another connection, as another
        # process would have.
        other_uri = URI[:-len('/0')]
        a = Pft.RateLimiter.new_redis(URI, 'py-shared', 2, 100, 1.0)
        b = Pft.RateLimiter.new_redis(other_uri, 'py-shared', 2, 100, 1.0)
        permits = [a.acquire(1, None), a.acquire(1, None)]
        stats = b.dup_shared_stats(None)
        self.assertEqual(stats['backend'], 'redis')
        self.assertEqual(stats['in_flight'], 2)
        self.assertEqual(stats['window_count'], 2)

        # b waits for a slot that a holds; a's release lets it through.
        loop = GLib.MainLoop()
        got = {}

        def done(limiter, result):
            got['permit'] = limiter.acquire_finish(result)
            loop.quit()

        b.acquire_async(1, None, done)
        GLib.timeout_add(100, lambda: permits.pop().release() and False)
        GLib.timeout_add(5000, loop.quit)
        loop.run()
        self.assertIn('permit', got)
        self.assertEqual(a.dup_shared_stats(None)['in_flight'], 2)

    def test_unreachable(self):
        with self.assertRaises(GLib.Error) as cm:
            Pft.RateLimiter.new_redis('redis://:hunter2@127.0.0.1:1/0', 'py-down', 1, 1, 1.0)
        self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.BACKEND_UNAVAILABLE))
        self.assertIn(':***@127.0.0.1', cm.exception.message)
        self.assertNotIn('hunter2', cm.exception.message)


if __name__ == '__main__':
    unittest.main()
