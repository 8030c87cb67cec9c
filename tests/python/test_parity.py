# test_parity.py: the Python API at parity with pocketflow-throttled, one
# test per promise of docs/python.md
#
# SPDX-License-Identifier: MIT
#
# Limits are checked by the code under the limiter counting itself;
# nothing asserts on wall-clock speed.

import asyncio
import ctypes
import errno
import gc
import threading
import time
import unittest

from pfttest import GLib, Pft
from gi.overrides import Pft as PftOverride


class InFlight(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.calls = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.calls += 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


class FakeResponse(object):
    def __init__(self, headers):
        self.headers = headers


class APIStatusError(Exception):
    """Like openai's and httpx's errors: the response rides along."""

    def __init__(self, message, headers):
        super().__init__(message)
        self.response = FakeResponse(headers)


class RateLimitError(Exception):
    pass


# ------------------------------------------------------------------ #
# Rate limits in exceptions

class TestRateLimitDetection(unittest.TestCase):
    def test_words_and_type_names(self):
        is_rl = Pft.is_rate_limit_exception
        self.assertTrue(is_rl(Exception('429 Too Many Requests')))
        self.assertTrue(is_rl(Exception('Rate limit reached for gpt-4')))
        self.assertTrue(is_rl(Exception('You exceeded your current quota')))
        self.assertTrue(is_rl(RateLimitError('slow down')))
        self.assertTrue(is_rl(Pft.RateLimitHit('x')))
        self.assertTrue(is_rl(Pft.error_new_rate_limited(1.0, None, None)))
        self.assertFalse(is_rl(ValueError('bad input')))
        self.assertFalse(is_rl(OSError(errno.EDQUOT, 'Disk quota exceeded')))
        # 429 inside a port or an id is no status.
        self.assertFalse(is_rl(ConnectionRefusedError('connect to 127.0.0.1:42913 refused')))
        self.assertFalse(is_rl(ValueError('row 14290 is bad')))
        self.assertTrue(is_rl(Exception('Error code: 429 - slow down')))
        # As in C: AWS-style throttling is a rate limit.
        class ThrottlingException(Exception):
            pass
        self.assertTrue(is_rl(ThrottlingException('Rate exceeded')))
        self.assertTrue(is_rl(Exception('Request was throttled')))

    def test_retry_after(self):
        ra = Pft.retry_after_of
        e = RateLimitError('slow down')
        e.retry_after = 3
        self.assertEqual(ra(e), 3.0)
        self.assertEqual(ra(APIStatusError('429', {'retry-after': '7'})), 7.0)
        self.assertEqual(ra(APIStatusError('429', {'Retry-After': '2.5'})), 2.5)
        when = time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(time.time() + 3600))
        self.assertGreater(ra(APIStatusError('429', {'retry-after': when})), 3000)
        self.assertIsNone(ra(APIStatusError('429', {})))
        self.assertIsNone(ra(Exception('429')))

    def test_a_429_exception_does_not_end_the_batch(self):
        # The first call of item 3 fails with a 429 carrying a retry-after
        # in its response headers: the item is tried again, the batch
        # completes, and the limiter paused.
        failed = []

        class Batch(Pft.ThrottledBatchNode):
            max_concurrent = 2

            def do_prep(self, ctx):
                return list(range(6))

            def do_exec(self, ctx, item):
                if item == 3 and not failed:
                    failed.append(item)
                    raise APIStatusError('Error code: 429 - Too Many Requests',
                                         {'retry-after': '0.05'})
                return item * 2

            def do_post(self, ctx, prep_res, exec_res):
                ctx.store['out'] = exec_res.to_list()

        node = Batch()
        store = Pft.Store()
        node.run(store)
        self.assertEqual(store['out'], [0, 2, 4, 6, 8, 10])
        self.assertEqual(failed, [3])
        self.assertEqual(node.limiter.total_pauses, 1)

    def test_rate_limited_is_an_exception_class(self):
        class Limited(Pft.Node):
            def do_exec(self, ctx, item):
                raise Pft.RateLimitHit('Rate limit exceeded', retry_after=30.0)

        with self.assertRaises(Pft.RateLimited) as cm:
            Limited().run()
        self.assertEqual(cm.exception.retry_after, 30.0)
        self.assertIsInstance(cm.exception, GLib.Error)
        self.assertIs(Pft.RateLimitHit, Pft.RateLimited)

        class Other(Pft.Node):
            def do_exec(self, ctx, item):
                raise Exception('upstream: 429 Too Many Requests')

        with self.assertRaises(Pft.RateLimited) as cm:
            Other().run()
        self.assertIsInstance(cm.exception.__cause__, Exception)
        self.assertIn('429', str(cm.exception.__cause__))

    def test_cause_of_a_failure(self):
        class Bad(Pft.Node):
            def do_exec(self, ctx, item):
                raise KeyError('missing')

        with self.assertRaises(GLib.Error) as cm:
            Bad().run()
        self.assertNotIsInstance(cm.exception, Pft.RateLimited)
        self.assertIsInstance(cm.exception.__cause__, KeyError)


# ------------------------------------------------------------------ #
# Limiters, permits, the registry

class TestLimiterContextManagers(unittest.TestCase):
    def test_with_limiter_in_threads(self):
        limiter = Pft.RateLimiter(max_concurrent=2)
        seen = InFlight()

        def worker():
            for _ in range(10):
                with limiter:
                    with seen:
                        time.sleep(0.001)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(seen.calls, 60)
        self.assertLessEqual(seen.max, 2)
        self.assertEqual(limiter.in_flight, 0)

    def test_nested_and_released_on_error(self):
        a = Pft.RateLimiter(max_concurrent=1)
        b = Pft.RateLimiter(max_concurrent=1)
        with self.assertRaises(ValueError):
            with a:
                with b:
                    self.assertEqual((a.in_flight, b.in_flight), (1, 1))
                    raise ValueError('inside')
        self.assertEqual((a.in_flight, b.in_flight), (0, 0))

    def test_rate_limit_leaving_the_block_pauses(self):
        limiter = Pft.RateLimiter(max_concurrent=3)
        with self.assertRaises(APIStatusError):
            with limiter:
                raise APIStatusError('429 Too Many Requests', {'retry-after': '30'})
        self.assertEqual(limiter.total_pauses, 1)
        self.assertGreater(limiter.paused_for, 20)
        limiter.reset()
        self.assertEqual(limiter.paused_for, 0)
        self.assertIsNotNone(limiter.try_acquire())

    def test_acquire_with_cost(self):
        limiter = Pft.RateLimiter(max_concurrent=5, max_cost_per_window=100, window=60.0)
        with limiter.acquire(cost=60) as permit:
            self.assertEqual(permit.cost, 60)
            self.assertIsNone(limiter.try_acquire(60))
            self.assertEqual(limiter.in_flight, 1)
        self.assertTrue(permit.released)
        self.assertEqual(limiter.in_flight, 0)

    def test_async_with(self):
        limiter = Pft.RateLimiter(max_concurrent=3, max_per_window=None, window_seconds=60)
        seen = InFlight()

        async def one():
            async with limiter:
                with seen:
                    await asyncio.sleep(0.002)

        async def main():
            await asyncio.gather(*(one() for _ in range(20)))

        asyncio.run(main())
        self.assertEqual(seen.calls, 20)
        self.assertLessEqual(seen.max, 3)
        self.assertEqual(limiter.in_flight, 0)

    def test_async_with_cancelled_while_waiting(self):
        limiter = Pft.RateLimiter(max_concurrent=1)

        async def main():
            async with limiter:
                waiter = asyncio.ensure_future(limiter.__aenter__())
                await asyncio.sleep(0.05)
                waiter.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await waiter
            # The cancelled waiter holds nothing: the next one goes.
            async with limiter:
                pass

        asyncio.run(main())
        deadline = time.monotonic() + 5
        while limiter.in_flight or limiter.waiting:
            gc.collect()
            time.sleep(0.01)
            self.assertLess(time.monotonic(), deadline)

    def test_reset_keeps_settings(self):
        limiter = Pft.RateLimiter(max_concurrent=4, max_per_window=2, window_seconds=60)
        p1, p2 = limiter.try_acquire(), limiter.try_acquire()
        self.assertIsNone(limiter.try_acquire())
        limiter.reset()
        p3 = limiter.try_acquire()
        self.assertIsNotNone(p3)
        self.assertEqual((limiter.max_per_window, limiter.window, limiter.in_flight), (2, 60.0, 3))
        for p in (p1, p2, p3):
            p.release()

    def test_node_reset_limiter(self):
        node = Pft.ThrottledBatchNode(max_concurrent=5, max_per_minute=2)
        limiter = node.limiter
        for _ in range(2):
            limiter.try_acquire().release()
        self.assertIsNone(limiter.try_acquire())
        node.reset_limiter()
        self.assertIsNotNone(limiter.try_acquire())
        flow = Pft.ThrottledBatchFlow(max_flows_per_minute=1)
        flow.limiter.try_acquire().release()
        self.assertIsNone(flow.limiter.try_acquire())
        flow.reset_limiter()
        self.assertIsNotNone(flow.limiter.try_acquire())


class TestRegistry(unittest.TestCase):
    def tearDown(self):
        Pft.LimiterRegistry.reset()

    def test_class_level_calls(self):
        R = Pft.LimiterRegistry
        limiter = R.register('openai', max_concurrent=10, max_per_window=60)
        self.assertIs(R.get('openai'), limiter)
        self.assertIs(Pft.LimiterRegistry.get_default().get('openai'), limiter)
        self.assertEqual((limiter.max_concurrent, limiter.max_per_window), (10, 60))
        self.assertIs(R.get_or_create('openai', max_concurrent=3), limiter)
        other = R.get_or_create('search', max_concurrent=3)
        self.assertEqual(other.max_concurrent, 3)
        stats = R.list_all()
        self.assertEqual(sorted(stats), ['openai', 'search'])
        self.assertEqual(stats['openai']['max_concurrent'], 10)
        with self.assertRaises(KeyError):
            R.get('nope')
        R.reset()
        self.assertEqual(R.list_all(), {})

    def test_model_up_to_date_when_register_returns(self):
        model = Pft.LimiterRegistry.get_default().get_model()
        n = model.get_n_items()
        Pft.LimiterRegistry.register('model-check', max_concurrent=1)
        self.assertEqual(model.get_n_items(), n + 1)

    def test_instance_mapping_and_with(self):
        registry = Pft.LimiterRegistry.new()
        limiter = registry.register('db', Pft.RateLimiter(max_concurrent=1))
        self.assertIn('db', registry)
        self.assertEqual(list(registry), ['db'])
        self.assertEqual(len(registry), 1)
        self.assertNotIn('db', Pft.LimiterRegistry.get_default())
        with registry['db']:
            self.assertEqual(limiter.in_flight, 1)
        self.assertEqual(limiter.in_flight, 0)
        registry.reset()
        self.assertEqual(len(registry), 0)
        self.assertTrue(registry)


# ------------------------------------------------------------------ #
# Presets

class TestPresets(unittest.TestCase):
    def test_mapping_of_presets(self):
        P = Pft.Presets
        self.assertEqual(sorted(P), sorted(Pft.presets_list()))
        self.assertIn('openai_tier1', P)
        tier1 = P['openai_tier1']
        self.assertEqual(tier1.description, 'OpenAI Tier 1')
        self.assertEqual(tier1.to_dict(), {'max_concurrent': 5, 'max_per_minute': 60})
        self.assertEqual(P.OPENAI_TIER1['max_concurrent'], 5)
        self.assertEqual(dict(**P.OPENAI_TIER1), {'max_concurrent': 5, 'max_per_minute': 60})
        self.assertEqual(P.UNLIMITED_CONCURRENT['max_per_minute'], None)
        self.assertEqual(P.describe()['moderate'],
                         {'description': 'Moderate - balanced', 'max_concurrent': 5,
                          'max_per_minute': 60})
        with self.assertRaises(AttributeError):
            P.NO_SUCH_PRESET
        with self.assertRaises(KeyError):
            P['no_such_preset']

    def test_presets_as_keyword_arguments(self):
        node = Pft.ThrottledBatchNode(**Pft.Presets.OPENAI_TIER2)
        self.assertEqual((node.max_concurrent, node.max_per_minute), (10, 500))
        unlimited = Pft.ThrottledBatchNode(**Pft.Presets.UNLIMITED_CONCURRENT)
        self.assertEqual(unlimited.max_per_minute, 0)
        flow = Pft.ThrottledBatchFlow(**Pft.FlowPresets.MODERATE)
        self.assertEqual((flow.max_concurrent_flows, flow.max_flows_per_minute), (10, 60))
        adaptive = Pft.AdaptiveBatchFlow(**Pft.FlowPresets.ADAPTIVE_MODERATE)
        self.assertEqual((adaptive.initial_concurrent_flows, adaptive.min_concurrent_flows,
                          adaptive.max_concurrent_flows), (10, 3, 30))
        self.assertEqual(adaptive.recovery_threshold, 15)


# ------------------------------------------------------------------ #
# Properties as attributes

class TestAttributes(unittest.TestCase):
    def test_every_property_is_an_attribute(self):
        flow = Pft.ThrottledBatchFlow(max_concurrent_flows=4)
        self.assertEqual(flow.max_concurrent_flows, 4)
        node = Pft.AdaptiveNode(initial_concurrent=7)
        self.assertEqual(node.current_concurrent, 7)
        self.assertEqual(Pft.ThrottledBatchNode(preset='openai_tier2').max_concurrent, 10)
        node.wait = 0.25
        self.assertEqual(node.props.wait, 0.25)
        node.limiter = Pft.RateLimiter(max_concurrent=3)
        self.assertEqual(node.limiter.max_concurrent, 3)
        with self.assertRaises(AttributeError):
            node.current_concurrent = 3
        with self.assertRaises(AttributeError):
            node.no_such_thing
        seen = {}

        class Peek(Pft.ThrottledBatchNode):
            max_retries = 2

            def do_prep(self, ctx):
                return [10, 20]

            def do_exec(self, ctx, item):
                seen[ctx.index] = (ctx.attempt, ctx.node is self, item)
                return item

        Peek(max_concurrent=1).run()
        self.assertEqual(seen, {0: (1, True, 10), 1: (1, True, 20)})
        limiter = Pft.RateLimiter(max_concurrent=2)
        limiter.max_concurrent = 6
        self.assertEqual(limiter.props.max_concurrent, 6)
        self.assertEqual(Pft.Presets['moderate'].max_per_minute, 60)

    def test_plain_attributes_still_work(self):
        class Mine(Pft.ThrottledBatchNode):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.calls = 0

        node = Mine()
        node.calls += 1
        self.assertEqual(node.calls, 1)


# ------------------------------------------------------------------ #
# Store, Values, chaining

class TestContainers(unittest.TestCase):
    def test_truth_hash_and_printing(self):
        self.assertTrue(Pft.Store())
        self.assertTrue(Pft.Values())
        v = Pft.Values.new_from_list([1, 2])
        self.assertEqual(v, [1, 2])
        with self.assertRaises(TypeError):
            hash(v)
        store = Pft.Store()
        store['l'] = [1, 'two']
        self.assertEqual(str(store['l']), "[1, 'two']")
        self.assertEqual(repr(store['l']), "[1, 'two']")

    def test_start_next_chaining(self):
        order = []

        class Step(Pft.Node):
            def __init__(self, tag, action=None):
                super().__init__()
                self.tag = tag
                self.action = action

            def do_post(self, ctx, prep_res, exec_res):
                order.append(self.tag)
                return self.action

        a, b, c = Step('a', 'go'), Step('b'), Step('c')
        flow = Pft.Flow()
        self.assertIs(flow.start(a).next(b, 'go').next(c), c)
        flow.run()
        self.assertEqual(order, ['a', 'b', 'c'])


# ------------------------------------------------------------------ #
# The original's method names, async methods, params

class TestOriginalMethods(unittest.TestCase):
    def test_async_exec_runs_on_the_workers_own_loop(self):
        loops = {}
        lock = threading.Lock()

        class Batch(Pft.ThrottledBatchNode):
            max_concurrent = 4

            def prep(self, shared):
                return shared['items']

            async def exec_async(self, item):
                await asyncio.sleep(0)
                with lock:
                    loops.setdefault(threading.get_ident(), set()).add(
                        id(asyncio.get_running_loop()))
                return item

            def post(self, shared, prep_res, exec_res):
                shared['n'] = len(exec_res)

        shared = {'items': list(range(200))}
        Batch().run(shared)
        self.assertEqual(shared['n'], 200)
        self.assertNotIn(threading.get_ident(), loops)
        # One loop a worker thread, reused for all its items.
        for ident, ids in loops.items():
            self.assertEqual(len(ids), 1)

    def test_params_of_the_running_invocation(self):
        seen = []
        lock = threading.Lock()

        class Leaf(Pft.Node):
            def exec(self, _):
                with lock:
                    seen.append(self.params['k'])

        class Many(Pft.ThrottledBatchFlow):
            max_concurrent_flows = 3

            def prep(self, shared):
                return [{'k': i} for i in range(10)]

        Many(start=Leaf()).run({})
        self.assertEqual(sorted(seen), list(range(10)))
        node = Pft.Node()
        node.params = {'a': 1}
        self.assertEqual(node.params, {'a': 1})

    def test_run_async_inside_asyncio_run(self):
        class Slow(Pft.Node):
            def exec(self, _):
                time.sleep(0.05)
                return 'done'

            def post(self, shared, prep_res, exec_res):
                shared['r'] = exec_res
                return 'end'

        async def main():
            shared = {}
            ticks = 0
            task = asyncio.ensure_future(Slow().run_async(shared))
            while not task.done():
                ticks += 1            # the loop keeps running meanwhile
                await asyncio.sleep(0.005)
            return await task, shared, ticks

        action, shared, ticks = asyncio.run(main())
        self.assertEqual((action, shared), ('end', {'r': 'done'}))
        self.assertGreater(ticks, 1)


# ------------------------------------------------------------------ #
# Worker thread states

def _count_thread_states():
    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
    api.PyThreadState_Next.restype = ctypes.c_void_p
    api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
    n = 0
    ts = api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
    while ts:
        n += 1
        ts = api.PyThreadState_Next(ts)
    return n


class TestWorkerThreadStates(unittest.TestCase):
    def test_kept_while_the_thread_lives_freed_when_it_exits(self):
        pin = PftOverride._pin
        if not pin.enabled:
            self.skipTest('thread state pinning unavailable here')
        GLib.ThreadPool.set_max_unused_threads(0)
        GLib.ThreadPool.stop_unused_threads()
        deadline = time.monotonic() + 10
        while pin.pinned:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        baseline = _count_thread_states()
        seen = set()
        lock = threading.Lock()

        class Blocking(Pft.ThrottledBatchNode):
            max_concurrent = 8

            def do_prep(self, ctx):
                return list(range(64))

            async def exec_async(self, item):
                # Blocks its worker: the pool grows to several threads.
                time.sleep(0.01)
                with lock:
                    seen.add(threading.get_ident())
                return item

        try:
            Blocking().run()
            self.assertGreater(len(seen), 1)
            self.assertGreater(pin.pinned, 0)
            # Released by the pthread key destructor as the threads exit.
            GLib.ThreadPool.stop_unused_threads()
            deadline = time.monotonic() + 20
            while pin.pinned or pin.loops or _count_thread_states() > baseline:
                self.assertLess(time.monotonic(), deadline,
                                '%d pinned, %d loops, %d thread states (baseline %d)'
                                % (pin.pinned, len(pin.loops), _count_thread_states(), baseline))
                GLib.ThreadPool.stop_unused_threads()
                time.sleep(0.05)
        finally:
            GLib.ThreadPool.set_max_unused_threads(2)


if __name__ == '__main__':
    unittest.main()
