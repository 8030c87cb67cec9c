# test_nodes.py: nodes, batch nodes, flows and batch flows written in Python
#
# SPDX-License-Identifier: MIT

import threading
import time
import unittest

from pfttest import GLib, Pft, run_in_loop
from gi.repository import Gio, GObject

MAIN_THREAD = threading.get_ident()


class InFlight(object):
    """Counts execs in flight, from inside exec, under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


# ------------------------------------------------------------------ #
# Nodes of a small flow: load -> summarize -> (short|long) -> report

class Load(Pft.Node):
    def do_prep(self, ctx):
        return ctx.params['path']

    def do_exec(self, ctx, path):
        self.exec_thread = threading.get_ident()
        return 'text of %s' % path

    def do_post(self, ctx, prep_result, exec_result):
        ctx.store['text'] = exec_result
        return None


class Words(Pft.BatchNode):
    def do_prep(self, ctx):
        return ctx.store['text'].split()

    def do_exec(self, ctx, word):
        return len(word)

    def do_post(self, ctx, prep_result, exec_result):
        ctx.store['lengths'] = exec_result
        return 'long' if sum(exec_result) > ctx.params['threshold'] else 'short'


class Report(Pft.Node):
    def __init__(self, label, **kwargs):
        super().__init__(**kwargs)
        self.label = label

    def do_exec(self, ctx, item):
        return self.label

    def do_post(self, ctx, prep_result, exec_result):
        ctx.store['report'] = exec_result
        return 'finished'


class CountingFlow(Pft.Flow):
    def do_prep(self, ctx):
        ctx.store['flow-prep'] = True
        return None

    def do_post(self, ctx, prep_result, exec_result):
        ctx.store['flow-last-action'] = exec_result
        return 'flow-done'


def build_flow(threshold):
    load, words = Load(), Words(max_concurrent=3)
    short, long_ = Report('short'), Report('long')
    load >> words
    words - 'short' >> short
    words - 'long' >> long_
    flow = CountingFlow(start=load)
    flow.set_params(GLib.Variant('a{sv}', {
        'path': GLib.Variant('s', 'a.txt'),
        'threshold': GLib.Variant('x', threshold),
    }))
    return flow, load


class TestFlow(unittest.TestCase):
    def test_flow_with_params_and_routing(self):
        flow, load = build_flow(threshold=100)
        store = Pft.Store()
        self.assertEqual(flow.run(store), 'flow-done')
        self.assertEqual(store['text'], 'text of a.txt')
        self.assertEqual(store['lengths'], [4, 2, 5])
        self.assertEqual(store['report'], 'short')
        self.assertEqual(store['flow-last-action'], 'finished')
        self.assertIs(store['flow-prep'], True)
        # Python exec runs in a worker thread.
        self.assertNotEqual(load.exec_thread, MAIN_THREAD)

        flow, _ = build_flow(threshold=3)
        store = Pft.Store()
        flow.run(store)
        self.assertEqual(store['report'], 'long')

    def test_node_params(self):
        node = Load()
        node.set_params(GLib.Variant('a{sv}', {'path': GLib.Variant('s', 'b.txt')}))
        store = Pft.Store()
        self.assertEqual(node.run(store), 'default')
        self.assertEqual(store['text'], 'text of b.txt')

    def test_outer_params_win(self):
        inner = Load()
        inner.set_params(GLib.Variant('a{sv}', {'path': GLib.Variant('s', 'inner')}))
        flow = Pft.Flow.new(inner)
        flow.set_params(GLib.Variant('a{sv}', {'path': GLib.Variant('s', 'outer')}))
        store = Pft.Store()
        flow.run(store)
        self.assertEqual(store['text'], 'text of outer')

    def test_run_async_in_main_loop(self):
        flow, _ = build_flow(threshold=100)
        store = Pft.Store()
        self.assertEqual(run_in_loop(flow, store), 'flow-done')
        self.assertEqual(store['report'], 'short')

    def test_run_without_store(self):
        self.assertEqual(Report('x').run(), 'finished')

    def test_signals_and_successors(self):
        # Successors have their own method, so GObject's connect() is
        # untouched (a C method named connect shadowed it in GJS).
        node = Report('x')
        seen = []
        node.connect('notify::name', lambda *args: seen.append(node.props.name))
        node.props.name = 'renamed'
        self.assertEqual(seen, ['renamed'])
        other = Report('y')
        self.assertIs(node.add_successor('go', other), other)
        self.assertIs(node.get_successor('go'), other)


# ------------------------------------------------------------------ #
# Errors

class Failing(Pft.Node):
    def __init__(self, exc, **kwargs):
        super().__init__(**kwargs)
        self.exc = exc
        self.calls = 0
        self.attempts = []

    def do_exec(self, ctx, item):
        self.calls += 1
        self.attempts.append(ctx.get_attempt())
        raise self.exc


class TestErrors(unittest.TestCase):
    def test_python_exception_reaches_caller_after_retries(self):
        node = Failing(ValueError('bad input'), max_retries=3)
        with self.assertRaises(GLib.Error) as cm:
            node.run(Pft.Store())
        self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.FAILED))
        self.assertIn('ValueError', cm.exception.message)
        self.assertIn('bad input', cm.exception.message)
        self.assertEqual(node.calls, 3)
        self.assertEqual(node.attempts, [1, 2, 3])

    def test_glib_error_passes_through(self):
        err = GLib.Error.new_literal(Gio.io_error_quark(), 'no such file', Gio.IOErrorEnum.NOT_FOUND)
        node = Failing(err, max_retries=2)
        with self.assertRaises(GLib.Error) as cm:
            node.run(Pft.Store())
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
        self.assertEqual(cm.exception.message, 'no such file')
        self.assertEqual(node.calls, 2)

    def test_error_in_flow_reaches_caller(self):
        ok = Report('ok')
        ok - 'finished' >> Failing(KeyError('k'))
        with self.assertRaises(GLib.Error) as cm:
            Pft.Flow(start=ok).run(Pft.Store())
        self.assertIn('KeyError', cm.exception.message)

    def test_error_in_prep_and_post(self):
        class BadPrep(Pft.Node):
            def do_prep(self, ctx):
                raise TypeError('prep')

            def do_exec(self, ctx, item):
                return None

        class BadPost(Pft.Node):
            def do_exec(self, ctx, item):
                return None

            def do_post(self, ctx, p, e):
                return 1 / 0

        with self.assertRaises(GLib.Error) as cm:
            BadPrep().run()
        self.assertIn('TypeError: prep', cm.exception.message)
        with self.assertRaises(GLib.Error) as cm:
            BadPost().run()
        self.assertIn('ZeroDivisionError', cm.exception.message)

    def test_exception_whose_text_a_gerror_cannot_hold(self):
        # Each used to escape the conversion: PyGObject printed a traceback
        # and C took the call for a success (or, for the NUL, the message
        # was cut and the exception lost).
        class BadStr(Exception):
            def __str__(self):
                raise RuntimeError('str fails')

        class BadRetryAfter(Exception):
            @property
            def retry_after(self):
                raise RuntimeError('no attribute today')

        cases = [
            (BadStr(), 'BadStr: (its str() failed)'),
            # A file name decoded with surrogateescape: a lone surrogate.
            (ValueError('cannot read caf\udce9.txt'), 'ValueError: cannot read caf\\udce9.txt'),
            (ValueError('a\x00b'), 'ValueError: a\\x00b'),
            (BadRetryAfter('429 Too Many Requests'), 'BadRetryAfter: 429 Too Many Requests'),
        ]
        for exc, text in cases:
            for where in ('prep', 'exec', 'post'):
                with self.subTest(exc=type(exc).__name__, where=where):
                    class Node(Pft.Node):
                        def do_prep(self, ctx):
                            if where == 'prep':
                                raise exc

                        def do_exec(self, ctx, item):
                            if where == 'exec':
                                raise exc

                        def do_post(self, ctx, p, e):
                            if where == 'post':
                                raise exc

                    with self.assertRaises(BaseException) as cm:
                        Node(max_retries=1).run(Pft.Store())
                    self.assertIs(cm.exception.__cause__, exc)
                    error = cm.exception if isinstance(cm.exception, GLib.Error) else None
                    self.assertIsNotNone(error)
                    self.assertIn(text, error.message)

    def test_run_async_error(self):
        with self.assertRaises(GLib.Error) as cm:
            run_in_loop(Failing(RuntimeError('async')), Pft.Store())
        self.assertIn('RuntimeError: async', cm.exception.message)

    def test_fallback(self):
        class WithFallback(Failing):
            def do_exec_fallback(self, ctx, item, reason):
                return 'fallback after: ' + reason.message

            def do_post(self, ctx, p, e):
                ctx.store['r'] = e

        node = WithFallback(ValueError('x'), max_retries=2)
        store = Pft.Store()
        node.run(store)
        self.assertEqual(store['r'], 'fallback after: ValueError: x')
        self.assertEqual(node.calls, 2)

    def test_rate_limited(self):
        class Limited(Pft.Node):
            def do_exec(self, ctx, item):
                raise Pft.error_new_rate_limited(2.0, 'api', None)

        with self.assertRaises(GLib.Error) as cm:
            Limited().run()
        self.assertTrue(Pft.error_is_rate_limit(cm.exception))
        self.assertEqual(Pft.error_get_retry_after(cm.exception), 2.0)

        class Limited2(Pft.Node):
            def do_exec(self, ctx, item):
                raise Pft.RateLimited(retry_after=0.5, source='api', message='slow down')

        with self.assertRaises(GLib.Error) as cm:
            Limited2().run()
        self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.RATE_LIMITED))
        self.assertIn('slow down', cm.exception.message)
        self.assertEqual(Pft.error_get_retry_after(cm.exception), 0.5)


# ------------------------------------------------------------------ #
# Batches

class Slow(Pft.BatchNode):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n
        self.inflight = InFlight()
        self.threads = set()

    def do_prep(self, ctx):
        return list(range(self.n))

    def do_exec(self, ctx, item):
        self.threads.add(threading.get_ident())
        with self.inflight:
            # Later items finish first: order must come from the engine.
            time.sleep(0.01 * (self.n - item))
        return item * 10

    def do_post(self, ctx, p, results):
        ctx.store['results'] = results.to_list()


class TestBatch(unittest.TestCase):
    def test_parallel_batch_overlaps_and_keeps_order(self):
        node = Slow(12, max_concurrent=4)
        store = Pft.Store()
        node.run(store)
        self.assertEqual(store['results'], [i * 10 for i in range(12)])
        self.assertGreater(node.inflight.max, 1)
        self.assertLessEqual(node.inflight.max, 4)
        self.assertNotIn(MAIN_THREAD, node.threads)

    def test_computing_python_execs_stay_on_one_worker(self):
        # Python execs run one at a time under the GIL: a second worker
        # would only wait for it, and every item would cost a GIL hand-off
        # between the two. The pool gives them one worker while they do
        # not block (the test above: blocking ones still overlap). A
        # little slack for a moment where a loaded machine makes them look
        # blocked.
        class Trivial(Pft.BatchNode):
            def do_prep(self, ctx):
                return list(range(5000))

            def do_exec(self, ctx, item):
                seen[threading.get_ident()] = seen.get(threading.get_ident(), 0) + 1
                return item

        seen = {}
        node = Trivial(max_concurrent=100, thread_policy=Pft.ThreadPolicy.THREAD)
        node.run(Pft.Store())
        self.assertNotIn(MAIN_THREAD, seen)
        self.assertEqual(sum(seen.values()), 5000)
        self.assertGreaterEqual(max(seen.values()), 4500, seen)

    def test_sequential_batch(self):
        node = Slow(5, max_concurrent=1)
        store = Pft.Store()
        node.run(store)
        self.assertEqual(store['results'], [0, 10, 20, 30, 40])
        self.assertEqual(node.inflight.max, 1)

    def test_batch_item_error(self):
        class Bad(Pft.BatchNode):
            def do_prep(self, ctx):
                return ['a', 'b', 'c']

            def do_exec(self, ctx, item):
                if item == 'b':
                    raise ValueError('item b')
                return item

        with self.assertRaises(GLib.Error) as cm:
            Bad(max_concurrent=2).run()
        self.assertIn('ValueError: item b', cm.exception.message)

    def test_batch_flow_with_dict_param_sets(self):
        seen = []
        lock = threading.Lock()

        class Greet(Pft.Node):
            def do_prep(self, ctx):
                return ctx.params

            def do_exec(self, ctx, params):
                return '%s-%d' % (params['name'], params['n'])

            def do_post(self, ctx, p, e):
                with lock:
                    seen.append(e)
                ctx.store['greet-%d' % p['n']] = e
                return 'greeted'

        class PerName(Pft.BatchFlow):
            def do_prep(self, ctx):
                return [{'name': name, 'n': i} for i, name in enumerate(['ann', 'bob', 'cy'])]

            def do_post(self, ctx, p, actions):
                ctx.store['actions'] = actions.to_list()
                return None

        flow = PerName(start=Greet(), max_concurrent=2)
        store = Pft.Store()
        self.assertEqual(flow.run(store), 'default')
        self.assertEqual(sorted(seen), ['ann-0', 'bob-1', 'cy-2'])
        self.assertEqual(store['greet-2'], 'cy-2')
        self.assertEqual(store['actions'], ['greeted'] * 3)

    def test_batch_flow_bad_param_set(self):
        class Bad(Pft.BatchFlow):
            def do_prep(self, ctx):
                return ['not a dict']

        with self.assertRaises(GLib.Error) as cm:
            Bad(start=Report('x')).run()
        self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.INVALID_ARGUMENT))


# ------------------------------------------------------------------ #
# The other exec shapes

class TestExecShapes(unittest.TestCase):
    def test_exec_async(self):
        class Later(Pft.Node):
            def do_exec_async(self, ctx, item, cancellable, callback, *user_data):
                task = Gio.Task.new(self, cancellable, callback)

                def fire(*args):
                    task.return_value(Pft.value_from_python(2 ** 40))
                    return GLib.SOURCE_REMOVE

                source = GLib.timeout_source_new(5)
                source.set_callback(fire)
                source.attach(ctx.get_main_context())

            def do_exec_finish(self, result):
                ok, value = result.propagate_value()
                return value + 1

            def do_post(self, ctx, p, e):
                ctx.store['r'] = e

        store = Pft.Store()
        Later().run(store)
        self.assertEqual(store['r'], 2 ** 40 + 1)

    def test_exec_async_exception(self):
        class Broken(Pft.Node):
            def do_exec_async(self, ctx, item, cancellable, callback, *user_data):
                raise KeyError('nope')

        with self.assertRaises(GLib.Error) as cm:
            Broken().run()
        self.assertIn('KeyError', cm.exception.message)

    def test_exec_task(self):
        class Tasked(Pft.BatchNode):
            def do_prep(self, ctx):
                return [1, 2, 3]

            def do_exec_task(self, ctx, item, task):
                self.thread = threading.get_ident()
                task.return_value(Pft.value_from_python(item * 100))

            def do_post(self, ctx, p, e):
                ctx.store['r'] = e

        store = Pft.Store()
        node = Tasked(max_concurrent=0)
        node.run(store)
        self.assertEqual(store['r'], [100, 200, 300])
        self.assertEqual(node.thread, MAIN_THREAD)

    def test_exec_async_returns_at_once(self):
        # ctx.return_value / ctx.return_error inside do_exec_async, no
        # callback: the attempt is over when the method returns; an error
        # goes to retries and the fallback like any other.
        class Now(Pft.BatchNode):
            def do_prep(self, ctx):
                return [1, 2, 3]

            def do_exec_async(self, ctx, item, cancellable, callback, *user_data):
                if item == 2:
                    ctx.return_error(GLib.Error.new_literal(Pft.error_quark(), 'two',
                                                            Pft.Error.FAILED))
                    return
                ctx.return_value(Pft.value_from_python(item * 10))

            def do_exec_fallback(self, ctx, item, reason):
                self.reason = reason.message
                return -1

            def do_post(self, ctx, p, e):
                ctx.store['r'] = e

        store = Pft.Store()
        node = Now(max_concurrent=0)
        node.run(store)
        self.assertEqual(store['r'], [10, -1, 30])
        self.assertEqual(node.reason, 'two')

    def test_exec_task_exception_fails_the_attempt(self):
        class Tasked(Pft.Node):
            calls = 0

            def do_exec_task(self, ctx, item, task):
                Tasked.calls += 1
                raise RuntimeError('task boom')

        with self.assertRaises(GLib.Error) as cm:
            Tasked(max_retries=2).run()
        self.assertIn('RuntimeError: task boom', cm.exception.message)
        self.assertEqual(Tasked.calls, 2)

    def test_task_rate_limited(self):
        class Tasked(Pft.Node):
            def do_exec_task(self, ctx, item, task):
                Pft.task_return_rate_limited(task, 1.5, 'src', None)

        with self.assertRaises(GLib.Error) as cm:
            Tasked().run()
        self.assertEqual(Pft.error_get_retry_after(cm.exception), 1.5)


# ------------------------------------------------------------------ #
# Values crossing into C and back

class Echo(Pft.Node):
    """exec returns what prep returned; post stores what exec returned."""

    def __init__(self, value, **kwargs):
        super().__init__(**kwargs)
        self.value = value

    def do_prep(self, ctx):
        return self.value

    def do_exec(self, ctx, item):
        self.item = item
        return item

    def do_post(self, ctx, p, e):
        self.post_args = (p, e)


class Opaque(object):
    pass


class TestValues(unittest.TestCase):
    def roundtrip(self, value):
        node = Echo(value)
        node.run()
        return node.post_args[1]

    def test_return_conversions(self):
        obj = Opaque()
        store = Pft.Store()
        for value in [True, 0, -5, 2 ** 40, 2 ** 70, 1.5, 'text', None, obj, store,
                      GLib.Variant('as', ['a']), {'k': [1, 2]}, b'bytes']:
            got = self.roundtrip(value)
            if isinstance(value, (Opaque, Pft.Store)):
                self.assertIs(got, value)
            else:
                self.assertEqual(got, value)
            self.assertEqual(type(got) is bool, type(value) is bool)

    def test_lists_become_values(self):
        got = self.roundtrip([1, 'a', [2.5]])
        self.assertIsInstance(got, Pft.Values)
        self.assertEqual(got, [1, 'a', [2.5]])
        self.assertEqual(self.roundtrip((1, 2)), [1, 2])

    def test_many_objects_survive(self):
        # Pointers in results must be owned by C, not by a dead wrapper.
        for _ in range(200):
            node = Echo('x' * 100)
            node.run()
            self.assertEqual(node.post_args[1], 'x' * 100)

    def test_values_is_list_like(self):
        v = Pft.Values.new_from_list([1, 'two', 3.0])
        self.assertEqual(len(v), 3)
        self.assertEqual(v[0], 1)
        self.assertEqual(v[-1], 3.0)
        self.assertEqual(v[1:], ['two', 3.0])
        with self.assertRaises(IndexError):
            v[3]
        with self.assertRaises(IndexError):
            v[-4]
        v.append(2 ** 40)
        v.append(None)
        self.assertEqual(list(v), [1, 'two', 3.0, 2 ** 40, None])
        self.assertEqual(v.to_list(), [1, 'two', 3.0, 2 ** 40, None])
        self.assertEqual(v.get_int(3), 2 ** 40)
        v[0] = 'one'
        self.assertEqual(v[0], 'one')
        # True when empty, like any GObject (Gio.Settings' override too).
        self.assertTrue(Pft.Values())
        self.assertEqual(len(Pft.Values()), 0)

    def test_store_is_dict_like(self):
        s = Pft.Store()
        s['i'] = 2 ** 40
        s['b'] = False
        s['l'] = [1, 2]
        s['d'] = {'x': 1}
        self.assertEqual(s.get_int('i', 0), 2 ** 40)
        self.assertEqual(s['i'], 2 ** 40)
        self.assertIs(s['b'], False)
        self.assertEqual(s['l'], [1, 2])
        self.assertEqual(s['d'], {'x': 1})
        self.assertIn('i', s)
        self.assertNotIn('nope', s)
        self.assertEqual(len(s), 4)
        self.assertEqual(sorted(s.keys()), ['b', 'd', 'i', 'l'])
        self.assertEqual(dict(s.items())['i'], 2 ** 40)
        self.assertEqual(s.get('nope'), None)
        self.assertEqual(s.get('nope', 7), 7)
        with self.assertRaises(KeyError):
            s['nope']
        del s['i']
        self.assertNotIn('i', s)
        with self.assertRaises(KeyError):
            del s['i']
        s.set_string('str', 'from C')
        self.assertEqual(s['str'], 'from C')

    def test_context(self):
        class Look(Pft.Node):
            def do_prep(self, ctx):
                self.params = ctx.params
                self.store_seen = ctx.store
                return None

            def do_exec(self, ctx, item):
                return None

        node = Look()
        node.set_params(GLib.Variant('a{sv}', {'a': GLib.Variant('i', 1), 's': GLib.Variant('s', 'x')}))
        store = Pft.Store()
        node.run(store)
        self.assertEqual(node.params, {'a': 1, 's': 'x'})
        self.assertIs(node.store_seen, store)

    def test_variant_from_python(self):
        v = Pft.variant_from_python({'a': 1, 'b': [1, 'x'], 'c': ['s'], 'd': True})
        self.assertEqual(v.get_type_string(), 'a{sv}')
        self.assertEqual(v.unpack(), {'a': 1, 'b': [1, 'x'], 'c': ['s'], 'd': True})
        with self.assertRaises(TypeError):
            Pft.variant_from_python(None)

    def test_gobject_value_results(self):
        self.assertEqual(self.roundtrip(GObject.Value(GObject.TYPE_STRING, 'held')), 'held')
        self.assertEqual(self.roundtrip(GObject.Value(GObject.TYPE_UINT, 7)), 7)


if __name__ == '__main__':
    unittest.main()
