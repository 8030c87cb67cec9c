# test_throttled.py: throttled and adaptive batch nodes and flows
# written in Python, the seed's way (knobs as class attributes)
#
# SPDX-License-Identifier: MIT
#
# No assertion depends on wall-clock time: concurrency is counted inside
# exec, and the fake API's limit is on concurrency, not on a window.

import threading
import time
import unittest

from pfttest import GLib, Pft, run_in_loop


class InFlight(object):
    """Counts calls in flight, from inside exec, under a lock."""

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


class FakeAPI(object):
    """An API with a hidden concurrency limit: a call beyond it is
    answered at once with a rate-limit error (HTTP 429)."""

    def __init__(self, limit, retry_after=0.01, delay=0.005):
        self.limit = limit
        self.retry_after = retry_after
        self.delay = delay
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.ok = 0
        self.rejected = 0

    def call(self, item):
        with self.lock:
            if self.now >= self.limit:
                self.rejected += 1
                raise Pft.RateLimited(retry_after=self.retry_after, source='fake-api',
                                      message='too many requests')
            self.now += 1
            self.max = max(self.max, self.now)
        try:
            time.sleep(self.delay)
        finally:
            with self.lock:
                self.now -= 1
                self.ok += 1
        return item * 2


def track_item_done(node):
    """Records (index, error) of every item-done emission."""
    seen = []
    node.connect('item-done', lambda n, index, error: seen.append((index, error)))
    return seen


def track_min(node, prop):
    """Records the smallest value *prop* took (through notify)."""
    box = {'min': node.get_property(prop), 'values': []}

    def changed(obj, pspec):
        value = obj.get_property(prop)
        box['values'].append(value)
        box['min'] = min(box['min'], value)
    node.connect('notify::' + prop, changed)
    return box


# ------------------------------------------------------------------ #
# The seed's way: knobs as class attributes

class TranslateNode(Pft.ThrottledBatchNode):
    max_concurrent = 3
    max_per_minute = 6000
    max_retries = 2
    wait = 0.01

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inflight = InFlight()

    def do_prep(self, ctx):
        return ctx.store['texts']

    def do_exec(self, ctx, text):
        with self.inflight:
            time.sleep(0.005)
        return text.upper()

    def do_post(self, ctx, prep_res, exec_res):
        ctx.store['translations'] = exec_res.to_list()
        return 'default'


class TestKnobs(unittest.TestCase):
    def test_class_attributes_set_properties(self):
        node = TranslateNode()
        self.assertEqual(node.props.max_concurrent, 3)
        self.assertEqual(node.props.max_per_minute, 6000)
        self.assertEqual(node.props.max_retries, 2)
        self.assertEqual(node.props.wait, 0.01)
        # The own limiter follows.
        self.assertEqual(node.props.limiter.props.max_concurrent, 3)

    def test_attribute_reads_live_property(self):
        node = TranslateNode()
        self.assertEqual(TranslateNode.max_concurrent, 3)
        self.assertEqual(node.max_concurrent, 3)
        node.props.max_concurrent = 4
        self.assertEqual(node.max_concurrent, 4)
        self.assertEqual(node.props.max_concurrent, 4)
        node.max_concurrent = 2
        self.assertEqual(node.props.max_concurrent, 2)
        # The class value and other instances are untouched.
        self.assertEqual(TranslateNode.max_concurrent, 3)
        self.assertEqual(TranslateNode().props.max_concurrent, 3)

    def test_subclass_wins_and_kwargs_win(self):
        class Faster(TranslateNode):
            max_concurrent = TranslateNode.max_concurrent + 2

        self.assertEqual(Faster().props.max_concurrent, 5)
        self.assertEqual(Faster().props.max_per_minute, 6000)   # inherited
        node = Faster(max_concurrent=1, max_per_minute=None)
        self.assertEqual(node.props.max_concurrent, 1)
        self.assertEqual(node.props.max_per_minute, 0)          # None: no limit

    def test_read_only_names_stay_plain_attributes(self):
        class Counting(Pft.ThrottledBatchNode):
            total = 'not a knob'
            completed = 0

        node = Counting()
        self.assertEqual(node.total, 'not a knob')
        self.assertEqual(node.props.total, 0)
        node.completed += 1
        self.assertEqual(node.props.completed, 0)

    def test_adaptive_knobs_in_any_order(self):
        class SmartNode(Pft.AdaptiveNode):
            initial_concurrent = 30      # above the default ceiling of 20
            min_concurrent = 2
            max_concurrent = 50
            backoff_factor = 0.25
            recovery_threshold = 4
            recovery_factor = 1.5
            propagate_rate_limit = True

        node = SmartNode()
        self.assertEqual(node.props.initial_concurrent, 30)
        self.assertEqual(node.props.current_concurrent, 30)
        self.assertEqual(node.props.min_concurrent, 2)
        self.assertEqual(node.props.max_concurrent, 50)
        self.assertEqual(node.props.backoff_factor, 0.25)
        self.assertEqual(node.props.recovery_threshold, 4)
        self.assertEqual(node.props.recovery_factor, 1.5)
        self.assertTrue(node.props.propagate_rate_limit)
        self.assertEqual(node.props.limiter.props.max_concurrent, 30)

    def test_flow_knobs(self):
        class Users(Pft.AdaptiveBatchFlow):
            max_concurrent_flows = 40
            initial_concurrent_flows = 25
            min_concurrent_flows = 3
            max_flows_per_minute = 600

        flow = Users()
        self.assertEqual(flow.props.max_concurrent_flows, 40)
        self.assertEqual(flow.props.current_concurrent_flows, 25)
        self.assertEqual(flow.props.min_concurrent_flows, 3)
        self.assertEqual(flow.props.max_flows_per_minute, 600)

    def test_preset_then_knobs(self):
        tier1 = Pft.presets_lookup('openai_tier1')

        class Tier1(Pft.ThrottledBatchNode):
            preset = 'OpenAI_Tier1'

        node = Tier1()
        self.assertEqual(node.props.max_concurrent, tier1.get_max_concurrent())
        self.assertEqual(node.props.max_per_minute, tier1.get_max_per_minute())

        class Tier1Slower(Tier1):
            max_concurrent = 1

        node = Tier1Slower()
        self.assertEqual(node.props.max_concurrent, 1)
        self.assertEqual(node.props.max_per_minute, tier1.get_max_per_minute())
        node = Tier1Slower(max_concurrent=2)
        self.assertEqual(node.props.max_concurrent, 2)
        node = Pft.ThrottledBatchNode(preset='openai_tier1')
        self.assertEqual(node.props.max_per_minute, tier1.get_max_per_minute())

        with self.assertRaises(GLib.Error) as cm:
            Pft.ThrottledBatchNode(preset='no-such-provider')
        self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.NOT_FOUND))
        with self.assertRaises(TypeError):
            Pft.Node(preset='openai_tier1')

    def test_stats(self):
        node = TranslateNode()
        self.assertEqual(node.stats, {'completed': 0, 'failed': 0, 'total': 0})
        stats = Pft.AdaptiveNode().stats
        self.assertEqual(stats['current_concurrent'], 5)
        self.assertEqual(stats['total_rate_limits'], 0)
        self.assertEqual(Pft.Node().stats, {})


# ------------------------------------------------------------------ #
# PftThrottledBatchNode

class TestThrottledBatchNode(unittest.TestCase):
    def test_concurrency_progress_and_counts(self):
        node = TranslateNode()
        done = track_item_done(node)
        store = Pft.Store()
        texts = ['t%d' % i for i in range(20)]
        store['texts'] = texts
        self.assertEqual(node.run(store), 'default')
        self.assertEqual(store['translations'], [t.upper() for t in texts])
        self.assertLessEqual(node.inflight.max, 3)
        self.assertEqual(node.inflight.calls, 20)
        self.assertEqual(sorted(i for i, e in done), list(range(20)))
        self.assertTrue(all(e is None for i, e in done))
        self.assertEqual((node.props.completed, node.props.failed, node.props.total), (20, 0, 20))
        self.assertEqual(node.stats, {'completed': 20, 'failed': 0, 'total': 20})
        # The counters add up over runs, until reset.
        node.run(store)
        self.assertEqual(node.props.total, 40)
        node.reset_stats()
        self.assertEqual(node.stats, {'completed': 0, 'failed': 0, 'total': 0})

    def test_continue_on_error_keeps_errors_in_results(self):
        class Picky(Pft.ThrottledBatchNode):
            max_concurrent = 2
            continue_on_error = True

            def do_prep(self, ctx):
                return list(range(10))

            def do_exec(self, ctx, item):
                if item % 3 == 0:
                    raise ValueError('no multiples of 3: %d' % item)
                return item

            def do_post(self, ctx, prep_res, exec_res):
                self.results = exec_res.to_list()

        node = Picky()
        done = track_item_done(node)
        node.run()
        # A failed item's result is a G_TYPE_ERROR value: a GLib.Error here.
        for i, r in enumerate(node.results):
            if i % 3 == 0:
                self.assertIsInstance(r, GLib.Error)
                self.assertTrue(r.matches(Pft.error_quark(), Pft.Error.FAILED))
                self.assertIn('ValueError: no multiples of 3: %d' % i, r.message)
            else:
                self.assertEqual(r, i)
        self.assertEqual((node.props.completed, node.props.failed, node.props.total), (6, 4, 10))
        self.assertEqual(len(done), 10)
        self.assertEqual(sorted(i for i, e in done if e is not None), [0, 3, 6, 9])
        for i, e in done:
            if e is not None:
                self.assertIn('ValueError', e.message)

        # Off: the first failure fails the node.
        node = Picky(continue_on_error=False)
        with self.assertRaises(GLib.Error) as cm:
            node.run()
        self.assertIn('ValueError: no multiples of 3', cm.exception.message)
        self.assertGreaterEqual(node.props.failed, 1)
        # A sibling still running in its worker thread when the batch
        # failed keeps its permit until it really returns; then none is
        # left.
        deadline = time.monotonic() + 5
        while node.props.limiter.get_in_flight() != 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertEqual(node.props.limiter.get_in_flight(), 0)


# ------------------------------------------------------------------ #
# PftAdaptiveNode against a fake API

class CallsFakeAPI(Pft.AdaptiveNode):
    initial_concurrent = 8
    min_concurrent = 1
    max_concurrent = 10
    recovery_threshold = 5

    def __init__(self, api, n, **kwargs):
        super().__init__(**kwargs)
        self.api = api
        self.n = n
        self.inflight = InFlight()

    def do_prep(self, ctx):
        return list(range(self.n))

    def do_exec(self, ctx, item):
        with self.inflight:
            return self.api.call(item)

    def do_post(self, ctx, prep_res, exec_res):
        self.results = exec_res.to_list()


class TestAdaptiveNode(unittest.TestCase):
    def test_backs_off_and_finishes_every_item(self):
        api = FakeAPI(limit=3)
        node = CallsFakeAPI(api, 60)
        current = track_min(node, 'current-concurrent')
        done = track_item_done(node)
        node.run()
        self.assertEqual(node.results, [i * 2 for i in range(60)])
        self.assertGreater(node.props.total_rate_limits, 0)
        self.assertEqual(node.props.total_rate_limits, api.rejected)
        self.assertEqual(node.props.total_successes, 60)
        self.assertLess(current['min'], 8)
        self.assertLessEqual(node.inflight.max, 10)
        self.assertLessEqual(api.max, 3)
        self.assertEqual(len(done), 60)
        self.assertTrue(all(e is None for i, e in done))
        self.assertEqual((node.props.completed, node.props.failed, node.props.total), (60, 0, 60))
        stats = node.stats
        self.assertEqual(stats['total_rate_limits'], api.rejected)
        node.reset()
        self.assertEqual(node.props.current_concurrent, 8)
        self.assertEqual(node.props.total_rate_limits, 0)

    def test_error_helper_is_a_rate_limit(self):
        class Tasked(Pft.AdaptiveNode):
            initial_concurrent = 4
            rate_limit_retries = 0
            continue_on_error = True

            def do_prep(self, ctx):
                return [0, 1]

            def do_exec_task(self, ctx, item, task):
                if item == 0:
                    Pft.task_return_rate_limited(task, 0.01, 'src', 'busy')
                else:
                    task.return_value(Pft.value_from_python(item))

            def do_post(self, ctx, prep_res, exec_res):
                self.results = exec_res.to_list()

        node = Tasked()
        node.run()
        self.assertEqual(node.props.total_rate_limits, 1)
        self.assertIsInstance(node.results[0], GLib.Error)
        self.assertTrue(Pft.error_is_rate_limit(node.results[0]))
        self.assertEqual(node.results[1], 1)
        self.assertLess(node.props.current_concurrent, 4)


# ------------------------------------------------------------------ #
# PftThrottledBatchFlow and PftAdaptiveBatchFlow over param sets

class FetchUser(Pft.Node):
    """The node of each walk: reads its param set from ctx.params."""

    def __init__(self, inflight, api=None, **kwargs):
        super().__init__(**kwargs)
        self.inflight = inflight
        self.api = api

    def do_prep(self, ctx):
        return ctx.params

    def do_exec(self, ctx, params):
        if params.get('fail'):
            raise KeyError('user %d' % params['user_id'])
        with self.inflight:
            if self.api is not None:
                return self.api.call(params['user_id'])
            time.sleep(0.005)
        return params['user_id'] * 2

    def do_post(self, ctx, prep_res, exec_res):
        ctx.store['user-%d' % prep_res['user_id']] = '%s:%d' % (prep_res['name'], exec_res)
        return 'fetched'


class ProcessUsersFlow(Pft.ThrottledBatchFlow):
    max_concurrent_flows = 2
    max_flows_per_minute = 6000

    def do_prep(self, ctx):
        return [{'user_id': uid, 'name': 'u%d' % uid, 'fail': uid in self.failing}
                for uid in ctx.store['user_ids']]

    def do_post(self, ctx, prep_res, exec_res):
        self.results = exec_res.to_list()
        return None

    failing = ()


class TestThrottledBatchFlow(unittest.TestCase):
    def test_walks_under_the_limit(self):
        inflight = InFlight()
        flow = ProcessUsersFlow(start=FetchUser(inflight))
        self.assertEqual(flow.props.max_concurrent_flows, 2)
        self.assertEqual(flow.props.max_flows_per_minute, 6000)
        done = track_item_done(flow)
        store = Pft.Store()
        store['user_ids'] = list(range(12))
        self.assertEqual(flow.run(store), 'default')
        self.assertLessEqual(inflight.max, 2)
        self.assertEqual(inflight.calls, 12)
        for uid in range(12):
            self.assertEqual(store['user-%d' % uid], 'u%d:%d' % (uid, uid * 2))
        self.assertEqual(flow.results, ['fetched'] * 12)
        self.assertEqual(sorted(i for i, e in done), list(range(12)))
        self.assertEqual((flow.props.completed, flow.props.failed, flow.props.total), (12, 0, 12))

    def test_continue_on_error(self):
        class Tolerant(ProcessUsersFlow):
            continue_on_error = True
            failing = (2, 5)

        inflight = InFlight()
        flow = Tolerant(start=FetchUser(inflight))
        done = track_item_done(flow)
        store = Pft.Store()
        store['user_ids'] = list(range(8))
        flow.run(store)
        for i, r in enumerate(flow.results):
            if i in (2, 5):
                self.assertIsInstance(r, GLib.Error)
                self.assertIn('KeyError', r.message)
            else:
                self.assertEqual(r, 'fetched')
        self.assertEqual((flow.props.completed, flow.props.failed, flow.props.total), (6, 2, 8))
        self.assertEqual(sorted(i for i, e in done if e is not None), [2, 5])
        self.assertNotIn('user-2', store)

        class Strict(ProcessUsersFlow):
            failing = (3,)

        flow = Strict(start=FetchUser(InFlight()))
        store = Pft.Store()
        store['user_ids'] = list(range(6))
        with self.assertRaises(GLib.Error) as cm:
            flow.run(store)
        self.assertIn('KeyError', cm.exception.message)
        self.assertGreaterEqual(flow.props.failed, 1)


class TestAdaptiveBatchFlow(unittest.TestCase):
    def test_backs_off_on_rate_limited_walks(self):
        class Users(Pft.AdaptiveBatchFlow):
            initial_concurrent_flows = 6
            max_concurrent_flows = 8
            recovery_threshold = 4

            def do_prep(self, ctx):
                return [{'user_id': uid, 'name': 'u%d' % uid} for uid in range(30)]

            def do_post(self, ctx, prep_res, exec_res):
                self.results = exec_res.to_list()

        api = FakeAPI(limit=2)
        inflight = InFlight()
        flow = Users(start=FetchUser(inflight, api))
        current = track_min(flow, 'current-concurrent-flows')
        done = track_item_done(flow)
        store = Pft.Store()
        flow.run(store)
        self.assertEqual(flow.results, ['fetched'] * 30)
        for uid in range(30):
            self.assertEqual(store['user-%d' % uid], 'u%d:%d' % (uid, uid * 2))
        self.assertGreater(flow.props.total_rate_limits, 0)
        self.assertLess(current['min'], 6)
        self.assertLessEqual(inflight.max, 8)
        self.assertLessEqual(api.max, 2)
        self.assertEqual(len(done), 30)
        self.assertEqual((flow.props.completed, flow.props.failed, flow.props.total), (30, 0, 30))
        self.assertEqual(flow.stats['total_successes'], 30)


# ------------------------------------------------------------------ #
# A shared limiter of the registry

class TestRegistryLimiter(unittest.TestCase):
    NAME = 'python-test-throttled'

    def setUp(self):
        self.registry = Pft.LimiterRegistry.get_default()
        self.registry.remove(self.NAME)
        self.limiter = self.registry.register_new(self.NAME, 2, 0, 60.0)

    def tearDown(self):
        self.registry.remove(self.NAME)

    def test_seed_style_nodes_share_a_registry_limiter(self):
        shared = InFlight()

        class SharedTranslate(TranslateNode):
            max_concurrent = 5           # the node's own; the shared limiter rules
            limiter = TestRegistryLimiter.NAME

            def do_exec(self, ctx, text):
                with shared:
                    time.sleep(0.005)
                return text.upper()

        a = SharedTranslate()
        self.assertIs(a.props.limiter, self.limiter)
        self.assertIs(a.limiter, self.limiter)
        self.assertEqual(a.props.max_concurrent, 5)

        class Other(TranslateNode):
            def do_exec(self, ctx, text):
                with shared:
                    time.sleep(0.005)
                return text.lower()

        c = Other()
        c.use_registry_limiter(self.NAME)
        self.assertIs(c.props.limiter, self.limiter)
        store_a, store_c = Pft.Store(), Pft.Store()
        store_a['texts'] = ['a%d' % i for i in range(10)]
        store_c['texts'] = ['C%d' % i for i in range(10)]

        # Both run at once from one main loop.
        loop = GLib.MainLoop()
        pending = [a, c]
        errors = []

        def finished(node, result, *args):
            try:
                node.run_finish(result)
            except GLib.Error as e:
                errors.append(e)
            pending.remove(node)
            if not pending:
                loop.quit()

        def too_late():
            errors.append('timeout')
            loop.quit()
            return GLib.SOURCE_REMOVE

        guard = GLib.timeout_add_seconds(20, too_late)
        a.run_async(store_a, None, finished)
        c.run_async(store_c, None, finished)
        loop.run()
        GLib.source_remove(guard)
        self.assertEqual(errors, [])
        self.assertEqual(store_a['translations'], ['A%d' % i for i in range(10)])
        self.assertEqual(store_c['translations'], ['c%d' % i for i in range(10)])
        self.assertLessEqual(shared.max, 2)
        self.assertEqual(shared.calls, 20)
        self.assertEqual(self.limiter.get_in_flight(), 0)
        self.assertEqual(a.props.completed + c.props.completed, 20)

    def test_run_async_with_registry_limiter(self):
        node = TranslateNode(limiter=self.NAME)
        self.assertIs(node.props.limiter, self.limiter)
        store = Pft.Store()
        store['texts'] = ['x', 'y', 'z']
        self.assertEqual(run_in_loop(node, store), 'default')
        self.assertEqual(store['translations'], ['X', 'Y', 'Z'])
        self.assertLessEqual(node.inflight.max, 2)
        with self.assertRaises(GLib.Error) as cm:
            TranslateNode(limiter='python-no-such-limiter')
        self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.NOT_FOUND))


if __name__ == '__main__':
    unittest.main()
