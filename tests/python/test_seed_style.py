# test_seed_style.py: a program written for pocketflow-throttled, as its
# README writes one, running on Pft
#
# SPDX-License-Identifier: MIT
#
# Everything below the import lines is written the original's way: its
# class names, method names and signatures (prep_async/exec_async/
# post_async, exec, exec_fallback), a plain dict as `shared`, knobs as
# class attributes and keyword arguments, Presets, LimiterRegistry,
# RateLimitHit, `await flow.run_async(shared)` in asyncio.run(). Limits are
# checked by the execs themselves (they count who is in flight), never by
# the limiter's bookkeeping, and nothing depends on wall-clock speed.

import asyncio
import threading
import unittest

# The only lines that differ from the original program:
#   from pocketflow import AsyncFlow, AsyncNode, Flow, Node
#   from pocketflow_throttled import (...)
from pocketflow_pft import AsyncFlow, AsyncNode, Flow, Node, AsyncParallelBatchNode
from pocketflow_pft import (ThrottledParallelBatchNode, AdaptiveThrottledNode,
                            ThrottledAsyncParallelBatchFlow, RateLimiter,
                            LimiterRegistry, Presets, RateLimitHit)


class InFlight(object):
    """Who is in flight, counted by the calls themselves."""

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


async def some_api_call(item, inflight):
    with inflight:
        await asyncio.sleep(0.002)
    return item * 10


# ---- Quick start: basic node throttling ----

class ProcessItemsNode(ThrottledParallelBatchNode):
    max_concurrent = 5          # Max 5 simultaneous operations
    max_per_minute = 60000      # Rate limit (the README's 60 would take minutes)

    async def prep_async(self, shared):
        return shared["items"]

    async def exec_async(self, item):
        return await some_api_call(item, shared_inflight)

    async def post_async(self, shared, prep_res, exec_res_list):
        shared["results"] = exec_res_list
        return "default"


shared_inflight = InFlight()


class TestQuickStart(unittest.TestCase):
    def test_async_flow_with_plain_dict(self):
        async def main():
            flow = AsyncFlow(start=ProcessItemsNode())
            shared = {"items": list(range(100))}
            await flow.run_async(shared)
            return shared

        shared = asyncio.run(main())
        self.assertEqual(shared["results"], [i * 10 for i in range(100)])
        self.assertEqual(shared_inflight.calls, 100)
        self.assertLessEqual(shared_inflight.max, 5)
        self.assertGreater(shared_inflight.max, 1)


# ---- Flow-level throttling, with params ----

users_inflight = InFlight()


async def fetch_user(user_id):
    with users_inflight:
        await asyncio.sleep(0.002)
    return {"id": user_id, "name": "user-%d" % user_id}


class FetchUserDataNode(AsyncNode):
    async def exec_async(self, _):
        user_id = self.params["user_id"]
        return await fetch_user(user_id)

    async def post_async(self, shared, prep_res, exec_res):
        shared["users"][exec_res["id"]] = exec_res["name"]


class ProcessUsersFlow(ThrottledAsyncParallelBatchFlow):
    max_concurrent_flows = 3    # Process 3 users concurrently
    max_flows_per_minute = 60000

    async def prep_async(self, shared):
        return [{"user_id": uid} for uid in shared["user_ids"]]


class TestFlowLevel(unittest.TestCase):
    def test_params_per_flow(self):
        async def main():
            flow = ProcessUsersFlow(start=FetchUserDataNode())
            shared = {"user_ids": range(30), "users": {}}
            await flow.run_async(shared)
            return shared

        shared = asyncio.run(main())
        self.assertEqual(shared["users"], {uid: "user-%d" % uid for uid in range(30)})
        self.assertLessEqual(users_inflight.max, 3)
        self.assertGreater(users_inflight.max, 1)

    def test_knobs_by_keyword(self):
        flow = ProcessUsersFlow(start=FetchUserDataNode(), max_concurrent_flows=7)
        self.assertEqual(flow.max_concurrent_flows, 7)
        self.assertEqual(flow.max_flows_per_minute, 60000)


# ---- Presets ----

class MyNode(ThrottledParallelBatchNode):
    max_concurrent = Presets.OPENAI_TIER1["max_concurrent"]
    max_per_minute = Presets.OPENAI_TIER1["max_per_minute"]


class TestPresets(unittest.TestCase):
    def test_presets(self):
        self.assertEqual(MyNode().max_concurrent, 5)
        self.assertEqual(MyNode().max_per_minute, 60)
        node = ThrottledParallelBatchNode(**Presets.ANTHROPIC_STANDARD)
        self.assertEqual(node.max_concurrent, 5)
        self.assertEqual(node.max_per_minute, 50)
        node = ThrottledParallelBatchNode(**Presets.OPENAI_TIER1)
        self.assertEqual((node.max_concurrent, node.max_per_minute), (5, 60))


# ---- Adaptive throttling against a hidden limit ----

class HiddenLimitAPI(object):
    def __init__(self, limit):
        self.limit = limit
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.rejected = 0

    async def call(self, item):
        with self.lock:
            if self.now >= self.limit:
                self.rejected += 1
                raise RateLimitHit("Rate limit exceeded", retry_after=0.01)
            self.now += 1
            self.max = max(self.max, self.now)
        try:
            await asyncio.sleep(0.002)
        finally:
            with self.lock:
                self.now -= 1
        return item + 1


hidden_api = HiddenLimitAPI(4)


class SmartNode(AdaptiveThrottledNode):
    initial_concurrent = 10  # Start optimistic
    min_concurrent = 2       # Never go below 2
    max_concurrent = 50      # Cap at 50
    backoff_factor = 0.5     # Halve on rate limit
    recovery_factor = 1.2    # +20% after sustained success

    async def prep_async(self, shared):
        return shared["items"]

    async def exec_async(self, item):
        return await hidden_api.call(item)

    async def post_async(self, shared, prep_res, exec_res_list):
        shared["out"] = exec_res_list


class TestAdaptive(unittest.TestCase):
    def test_backs_off_and_loses_nothing(self):
        node = SmartNode()
        levels = []
        node.connect("notify::current-concurrent",
                     lambda n, pspec: levels.append(n.current_concurrent))
        shared = {"items": list(range(200))}
        asyncio.run(AsyncFlow(start=node).run_async(shared))
        self.assertEqual(shared["out"], [i + 1 for i in range(200)])
        self.assertGreater(hidden_api.rejected, 0)
        self.assertGreater(node.total_rate_limits, 0)
        self.assertLess(min(levels), 10)           # backed off
        self.assertGreaterEqual(min(levels), 2)    # never below min_concurrent


# ---- Shared rate limiters ----

openai_inflight = InFlight()


async def call_openai(item):
    with openai_inflight:
        await asyncio.sleep(0.002)
    return "ok-%d" % item


class SharedLimitNode(AsyncParallelBatchNode):
    async def prep_async(self, shared):
        return shared["items"]

    async def exec_async(self, item):
        async with LimiterRegistry.get("openai"):
            return await call_openai(item)

    async def post_async(self, shared, prep_res, exec_res_list):
        shared["answers"] = exec_res_list


class TestSharedLimiters(unittest.TestCase):
    def tearDown(self):
        LimiterRegistry.reset()

    def test_registry(self):
        LimiterRegistry.register("openai", max_concurrent=2, max_per_window=6000)
        self.assertIn("openai", LimiterRegistry.list_all())
        shared = {"items": list(range(20))}
        asyncio.run(AsyncFlow(start=SharedLimitNode()).run_async(shared))
        self.assertEqual(shared["answers"], ["ok-%d" % i for i in range(20)])
        self.assertLessEqual(openai_inflight.max, 2)
        self.assertEqual(openai_inflight.calls, 20)

        limiter = LimiterRegistry.get_or_create("openai", max_concurrent=10)
        self.assertEqual(limiter.max_concurrent, 2)         # kept its own
        LimiterRegistry.reset()
        self.assertEqual(LimiterRegistry.list_all(), {})
        with self.assertRaises(KeyError):
            LimiterRegistry.get("openai")

    def test_rate_limiter(self):
        limiter = RateLimiter(
            max_concurrent=5,      # Semaphore limit
            max_per_window=60,     # Sliding window limit
            window_seconds=60      # Window duration
        )
        seen = InFlight()

        async def one(i):
            async with limiter:
                with seen:
                    await asyncio.sleep(0.002)

        async def main():
            await asyncio.gather(*(one(i) for i in range(20)))

        asyncio.run(main())
        self.assertEqual(seen.calls, 20)
        self.assertLessEqual(seen.max, 5)
        limiter.reset()


# ---- RateLimitHit ----

class TestRateLimitHit(unittest.TestCase):
    def test_raise_and_catch(self):
        try:
            raise RateLimitHit("Rate limit exceeded", retry_after=30.0)
        except RateLimitHit as e:
            self.assertEqual(e.retry_after, 30.0)
            self.assertIn("Rate limit exceeded", str(e))


# ---- PocketFlow's synchronous nodes: exec_fallback, chaining ----

class Flaky(Node):
    def prep(self, shared):
        return shared["x"]

    def exec(self, prep_res):
        raise ValueError("cannot handle %d" % prep_res)

    def exec_fallback(self, prep_res, exc):
        return "fallback for %d after %s" % (prep_res, type(exc).__name__)

    def post(self, shared, prep_res, exec_res):
        shared["y"] = exec_res
        return "next"


class Double(Node):
    def prep(self, shared):
        return shared["x"]

    def exec(self, prep_res):
        return prep_res * 2

    def post(self, shared, prep_res, exec_res):
        shared["doubled"] = exec_res


class TestSyncNodes(unittest.TestCase):
    def test_fallback_gets_the_exception(self):
        flaky = Flaky(max_retries=2)
        shared = {"x": 4}
        flaky.run(shared)
        self.assertEqual(shared["y"], "fallback for 4 after ValueError")

    def test_chaining(self):
        flaky, double = Flaky(), Double()
        flow = Flow()
        flow.start(flaky).next(double, "next")
        shared = {"x": 21}
        flow.run(shared)
        self.assertEqual(shared["doubled"], 42)

        flaky2, double2 = Flaky(), Double()
        flaky2 - "next" >> double2
        shared = {"x": 5}
        Flow(start=flaky2).run(shared)
        self.assertEqual(shared["doubled"], 10)


if __name__ == '__main__':
    unittest.main()
