# pocketflow_pft.py: PocketFlow's and pocketflow-throttled's names on Pft
#
# SPDX-License-Identifier: MIT

"""The names of PocketFlow and pocketflow-throttled, on Pft.

A program written for them runs on Pft with its import lines changed::

    from pocketflow import AsyncFlow, AsyncNode                # before
    from pocketflow_throttled import ThrottledParallelBatchNode, Presets

    from pocketflow_pft import AsyncFlow, AsyncNode            # after
    from pocketflow_pft import ThrottledParallelBatchNode, Presets

Every name is a Pft class (or the override's helper), so Pft's own API
works on them too; see docs/python.md for what maps to what. Subclasses
may use the original's method names (``prep``/``exec``/``post``, their
``_async`` forms, ``exec_fallback``), ``self.params``, knobs as class
attributes, a plain ``dict`` as ``shared`` and ``await
flow.run_async(shared)``; the Pft override provides all of it, this
module only adds the names.
"""

import gi

gi.require_version('Pft', '1')

from gi.repository import Pft  # noqa: E402

# PocketFlow. Pft has one node class for both shapes: an "async" node is
# one whose methods are coroutines (run to completion in the worker that
# runs them). Pft.BatchNode runs one item at a time unless max_concurrent
# says otherwise, as PocketFlow's BatchNode; the "parallel" ones run all
# at once (max_concurrent 0, no limit), as PocketFlow's gather() does.
BaseNode = Pft.Node
Node = Pft.Node
AsyncNode = Pft.Node
BatchNode = Pft.BatchNode
AsyncBatchNode = Pft.BatchNode
Flow = Pft.Flow
AsyncFlow = Pft.Flow
BatchFlow = Pft.BatchFlow
AsyncBatchFlow = Pft.BatchFlow


class AsyncParallelBatchNode(Pft.BatchNode):
    """PocketFlow's AsyncParallelBatchNode: every item at once."""
    max_concurrent = 0


class AsyncParallelBatchFlow(Pft.BatchFlow):
    """PocketFlow's AsyncParallelBatchFlow: every param set at once."""
    max_concurrent = 0


# pocketflow-throttled
ThrottledParallelBatchNode = Pft.ThrottledBatchNode
AdaptiveThrottledNode = Pft.AdaptiveNode
ThrottledAsyncParallelBatchFlow = Pft.ThrottledBatchFlow
AdaptiveThrottledBatchFlow = Pft.AdaptiveBatchFlow
RateLimiter = Pft.RateLimiter
LimiterRegistry = Pft.LimiterRegistry
Presets = Pft.Presets
FlowPresets = Pft.FlowPresets
RateLimitHit = Pft.RateLimitHit

__all__ = [
    'BaseNode', 'Node', 'AsyncNode', 'BatchNode', 'AsyncBatchNode',
    'AsyncParallelBatchNode', 'Flow', 'AsyncFlow', 'BatchFlow',
    'AsyncBatchFlow', 'AsyncParallelBatchFlow',
    'ThrottledParallelBatchNode', 'AdaptiveThrottledNode',
    'ThrottledAsyncParallelBatchFlow', 'AdaptiveThrottledBatchFlow',
    'RateLimiter', 'LimiterRegistry', 'Presets', 'FlowPresets', 'RateLimitHit',
]
